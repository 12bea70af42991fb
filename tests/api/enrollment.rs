//! Agent enrollment: bootstrap secrets, ES256 keys, RFC 7523 assertions,
//! access tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

use crate::helpers::*;
use latchkey::model::AgentStatus;
use latchkey::wire::agents::{CreateAgent, CreatedAgent, Enrolled};
use latchkey::wire::tokens::BearerToken;

pub struct AgentKey {
    secret: p256::SecretKey,
}

impl AgentKey {
    pub fn new() -> AgentKey {
        AgentKey { secret: p256::SecretKey::random(&mut rand::rngs::OsRng) }
    }

    pub fn jwk(&self) -> Value {
        let point = self.secret.public_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())})
    }

    /// An ES256 assertion with these claims.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(Header::new(Algorithm::ES256), claims)
    }

    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        let der = self.secret.to_pkcs8_der().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes())).unwrap()
    }
}

pub fn jti() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Good claims for `agent` at `now`.
fn claims(app: &TestApp, agent: &str) -> Value {
    let now = app.clock.now().0;
    json!({"iss": agent, "sub": agent, "aud": app.address, "iat": now, "exp": now + 30, "jti": jti()})
}

pub fn token_request(c: &mut Client, assertion: &str) -> Response {
    c.api(
        "POST",
        "/v1/agents/token",
        None,
        Some(json!({
            "grant_type": "client_assertion",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        })),
    )
}

/// A host PAT and a new agent with its bootstrap secret.
pub fn new_agent(app: &TestApp, c: &mut Client, host: &str, name: &str) -> (String, String) {
    let body = CreateAgent { name: name.into(), description: None };
    let res = c.api("POST", "/v1/agents", Some(host), Some(json!(body)));
    assert_eq!(res.status, 201, "{}", res.body);
    let created: CreatedAgent = res.wire();
    let secret = created.secret.bootstrap_secret;
    assert!(secret.starts_with("lk_bs_") && secret.len() == 44);
    assert!(!created.secret.bootstrap_secret_expires_at.is_empty());
    assert_eq!(created.agent.status, AgentStatus::Created);
    assert!(!app.address.is_empty());
    (created.agent.id, secret)
}

pub fn bootstrap(c: &mut Client, secret: &str, key: &AgentKey) -> Response {
    c.api("POST", "/v1/agents/bootstrap", None, Some(json!({"bootstrapSecret": secret, "publicKey": key.jwk()})))
}

fn enrolled(app: &TestApp) -> (Client, String, String, AgentKey) {
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (agent, secret) = new_agent(app, &mut c, &host, "enrolled-bot");
    let key = AgentKey::new();
    assert_eq!(bootstrap(&mut c, &secret, &key).status, 200);
    (c, host, agent, key)
}

#[test]
fn an_agent_enrolls_with_its_own_key_and_gets_access_tokens() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (agent, secret) = new_agent(&app, &mut c, &host, "payments-bot");
    let key = AgentKey::new();

    let res = bootstrap(&mut c, &secret, &key);
    assert_eq!(res.status, 200, "{}", res.body);
    let body: Enrolled = res.wire();
    assert_eq!(body.agent_id, agent);
    assert_eq!(body.name, "payments-bot");
    assert_eq!(body.status, AgentStatus::Active);
    assert!(!body.workspace_id.is_empty());

    let res = token_request(&mut c, &key.sign(&claims(&app, &agent)));
    assert_eq!(res.status, 200, "{}", res.body);
    let tok: BearerToken = res.wire();
    assert_eq!(tok.token_type, "Bearer");
    assert_eq!(tok.expires_in, 7200);
    let access = tok.access_token.to_string();
    assert!(access.starts_with("lk_at_") && access.len() == 44);

    let who = c.api("GET", "/v1/auth/whoami", Some(&access), None).json();
    assert_eq!(who["credential"]["kind"], "access_token");
    assert_eq!(who["credential"]["scope_type"], "agent");
    assert_eq!(who["bound_agent"]["agent_id"], agent.as_str());
    assert!(who["user"].is_null());
    // Its first 12 characters are its id (a time-ordered selector); the
    // rest is the secret, so the same selector with another secret is unknown.
    assert_eq!(who["credential"]["id"], &access[6..18]);
    let other_secret = format!("{}{}", &access[6..18], "Z".repeat(20));
    let forged = format!("lk_at_{other_secret}{}", latchkey::crypto::token::checksum(&other_secret));
    c.api("GET", "/v1/auth/whoami", Some(&forged), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");

    let seen = c.api("GET", &format!("/v1/agents/{agent}"), Some(&host), None).json();
    assert_eq!(seen["status"], "active");
    assert!(seen["enrolled_at"].is_string());
    assert_eq!(seen["key_thumbprint"].as_str().unwrap().len(), 43);

    // The same exchange as a form, with the standard grant type.
    let assertion = key.sign(&claims(&app, &agent));
    let form = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let res = c.send("POST", "/v1/agents/token", &[("Content-Type", "application/x-www-form-urlencoded")], Some(form));
    assert_eq!(res.status, 200, "{}", res.body);

    // An access token is not a payment credential and cannot be exchanged.
    c.api("POST", "/api/agent/checkout/create", Some(&access), Some(json!({"amount_usd": "1.00", "description": "x"})))
        .assert_error(403, "SESSION_REQUIRED");
    c.api("POST", "/v1/auth/exchange", Some(&access), None).assert_error(400, "VALIDATION_FAILED");
}

fn assert_invalid_client(res: &Response) {
    let json = res.assert_error(401, "ASSERTION_INVALID");
    assert_eq!(json["error"], "invalid_client");
    assert!(json["error_description"].is_string());
}

#[test]
fn every_bad_assertion_is_refused_as_invalid_client() {
    let app = TestApp::spawn();
    let (mut c, host, agent, key) = enrolled(&app);
    let now = app.clock.now().0;
    let good = claims(&app, &agent);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c["jti"] = json!(jti());
        c
    };
    let unsigned = |alg: &str, claims: &Value, sig: &str| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            sig
        )
    };
    // alg none; HS256 keyed with the public key; RS256.
    assert_invalid_client(&token_request(&mut c, &unsigned("none", &with("jti", json!(jti())), "")));
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &with("jti", json!(jti())),
        &EncodingKey::from_secret(key.jwk().to_string().as_bytes()),
    )
    .unwrap();
    assert_invalid_client(&token_request(&mut c, &hs));
    assert_invalid_client(&token_request(&mut c, &unsigned("RS256", &with("jti", json!(jti())), "c2lnbmF0dXJl")));
    // Lifetime over 60 s, expired, wrong audience, iss != sub, no jti.
    assert_invalid_client(&token_request(&mut c, &key.sign(&with("exp", json!(now + 61)))));
    let mut expired = with("iat", json!(now - 40));
    expired["exp"] = json!(now - 10);
    assert_invalid_client(&token_request(&mut c, &key.sign(&expired)));
    assert_invalid_client(&token_request(&mut c, &key.sign(&with("aud", json!("https://elsewhere.example")))));
    assert_invalid_client(&token_request(&mut c, &key.sign(&with("iss", json!("someone-else")))));
    let mut no_jti = good.clone();
    no_jti.as_object_mut().unwrap().remove("jti");
    assert_invalid_client(&token_request(&mut c, &key.sign(&no_jti)));
    // Another key; an unknown agent.
    assert_invalid_client(&token_request(&mut c, &AgentKey::new().sign(&with("jti", json!(jti())))));
    let ghost = "00000000-0000-7000-8000-000000000000";
    let ghost_claims =
        json!({"iss": ghost, "sub": ghost, "aud": app.address, "iat": now, "exp": now + 30, "jti": jti()});
    assert_invalid_client(&token_request(&mut c, &key.sign(&ghost_claims)));
    // The token endpoint URL is an accepted audience too, trailing slash ignored.
    let ok = token_request(&mut c, &key.sign(&with("aud", json!(format!("{}/v1/agents/token/", app.address)))));
    assert_eq!(ok.status, 200, "{}", ok.body);
    // A jti is good once.
    let once = key.sign(&with("jti", json!("fixed-jti")));
    assert_eq!(token_request(&mut c, &once).status, 200);
    assert_invalid_client(&token_request(&mut c, &once));

    // An agent created but never bootstrapped, and a disabled one.
    let (fresh, _) = new_agent(&app, &mut c, &host, "never-enrolled");
    let fresh_claims =
        json!({"iss": fresh, "sub": fresh, "aud": app.address, "iat": now, "exp": now + 30, "jti": jti()});
    assert_invalid_client(&token_request(&mut c, &key.sign(&fresh_claims)));
    c.api("POST", &format!("/v1/agents/{agent}/disable"), Some(&host), None);
    assert_invalid_client(&token_request(&mut c, &key.sign(&with("jti", json!(jti())))));

    // The reasons are in the audit trail, not in the answers.
    let (_, mut owner) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    let audit = owner.get("/dashboard/audit").body;
    for reason in [
        "assertion algorithm is not ES256",
        "wrong audience",
        "replayed jti",
        "assertion lives longer than 60 s",
        "agent not active",
    ] {
        assert!(audit.contains(reason), "{reason} missing from the audit trail");
    }
    let refused = c.api("GET", "/v1/audit?kind=agent.token", Some(&host), None).json();
    let items = refused["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|e| e["outcome"] == "failure"), "{refused}");
}

#[test]
fn malformed_token_requests_get_oauth_errors() {
    let app = TestApp::spawn();
    let mut c = app.client();
    let json = c.api("POST", "/v1/agents/token", None, Some(json!({}))).assert_error(400, "INVALID_REQUEST");
    assert_eq!(json["error"], "invalid_request");
    let json = c
        .api("POST", "/v1/agents/token", None, Some(json!({"grant_type": "password"})))
        .assert_error(400, "UNSUPPORTED_GRANT_TYPE");
    assert_eq!(json["error"], "unsupported_grant_type");
    c.api("POST", "/v1/agents/token", None, Some(json!({"grant_type": "client_credentials"})))
        .assert_error(400, "INVALID_REQUEST");
    c.send("POST", "/v1/agents/token", &[("Content-Type", "application/json")], Some("{nope".into()))
        .assert_error(400, "INVALID_REQUEST");
}

#[test]
fn bootstrap_secrets_are_one_time_and_keys_are_checked() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (agent, secret) = new_agent(&app, &mut c, &host, "checked");

    // Bad keys: nothing is consumed.
    let mut jwk = AgentKey::new().jwk();
    jwk["crv"] = json!("P-384");
    let mut no_y = AgentKey::new().jwk();
    no_y.as_object_mut().unwrap().remove("y");
    let mut off_curve = AgentKey::new().jwk();
    off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    for bad in [jwk, no_y, off_curve, json!("a string")] {
        c.api("POST", "/v1/agents/bootstrap", None, Some(json!({"bootstrapSecret": secret, "publicKey": bad})))
            .assert_error(400, "INVALID_PUBLIC_KEY");
    }
    c.api("POST", "/v1/agents/bootstrap", None, Some(json!({"publicKey": AgentKey::new().jwk()})))
        .assert_error(400, "VALIDATION_FAILED");
    bootstrap(&mut c, "lk_bs_notasecret", &AgentKey::new()).assert_error(401, "BOOTSTRAP_SECRET_INVALID");

    assert_eq!(bootstrap(&mut c, &secret, &AgentKey::new()).status, 200);
    let json = bootstrap(&mut c, &secret, &AgentKey::new()).assert_error(401, "BOOTSTRAP_SECRET_INVALID");
    assert!(json["recovery"].is_null());

    // A new secret expires after BOOTSTRAP_SECRET_TTL_HOURS.
    let res = c.api("POST", &format!("/v1/agents/{agent}/bootstrap-secret"), Some(&host), None);
    assert_eq!(res.status, 201);
    let late = res.json()["bootstrap_secret"].as_str().unwrap().to_string();
    app.clock.advance(3601);
    bootstrap(&mut c, &late, &AgentKey::new()).assert_error(401, "BOOTSTRAP_SECRET_INVALID");
}

#[test]
fn a_disabled_agent_cannot_bootstrap() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (agent, secret) = new_agent(&app, &mut c, &host, "off");
    c.api("POST", &format!("/v1/agents/{agent}/disable"), Some(&host), None);
    bootstrap(&mut c, &secret, &AgentKey::new()).assert_error(409, "AGENT_DISABLED");
    c.api("POST", &format!("/v1/agents/{agent}/bootstrap-secret"), Some(&host), None)
        .assert_error(409, "AGENT_DISABLED");
    // Re-enabled, the same secret still works: the refusal consumed nothing.
    c.api("POST", &format!("/v1/agents/{agent}/enable"), Some(&host), None);
    assert_eq!(bootstrap(&mut c, &secret, &AgentKey::new()).status, 200);
}

#[test]
fn two_racing_bootstraps_with_one_secret_succeed_exactly_once() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (_, secret) = new_agent(&app, &mut c, &host, "racer");
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (mut client, secret) = (app.client(), secret.clone());
            std::thread::spawn(move || bootstrap(&mut client, &secret, &AgentKey::new()).status)
        })
        .collect();
    let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 401]);
}

#[test]
fn replacing_the_key_voids_old_access_tokens() {
    let app = TestApp::spawn();
    let (mut c, host, agent, old_key) = enrolled(&app);
    let old_token = token_request(&mut c, &old_key.sign(&claims(&app, &agent))).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&old_token), None).status, 200);

    let secret =
        c.api("POST", &format!("/v1/agents/{agent}/bootstrap-secret"), Some(&host), None).json()["bootstrap_secret"]
            .as_str()
            .unwrap()
            .to_string();
    let new_key = AgentKey::new();
    let res = bootstrap(&mut c, &secret, &new_key);
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "active");

    c.api("GET", "/v1/auth/whoami", Some(&old_token), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    assert_invalid_client(&token_request(&mut c, &old_key.sign(&claims(&app, &agent))));
    let fresh = token_request(&mut c, &new_key.sign(&claims(&app, &agent)));
    assert_eq!(fresh.status, 200);

    // Disabling deletes access tokens at once, too.
    let token = fresh.json()["access_token"].as_str().unwrap().to_string();
    c.api("POST", &format!("/v1/agents/{agent}/disable"), Some(&host), None);
    c.api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
}

#[test]
fn access_tokens_expire_and_stop_with_the_mode() {
    let app = TestApp::spawn();
    let (mut c, _, agent, key) = enrolled(&app);
    let token =
        token_request(&mut c, &key.sign(&claims(&app, &agent))).json()["access_token"].as_str().unwrap().to_string();
    run_cli(&app.data_dir, &["admin", "security-mode", "off"], None);
    c.api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(403, "AGENT_SECURITY_MODE_OFF");
    token_request(&mut c, &key.sign(&claims(&app, &agent))).assert_error(403, "AGENT_SECURITY_MODE_OFF");
    // Without the key, nothing about the workspace is revealed.
    assert_invalid_client(&token_request(&mut c, &AgentKey::new().sign(&claims(&app, &agent))));
    bootstrap(&mut c, "lk_bs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3i8aJj", &key)
        .assert_error(401, "BOOTSTRAP_SECRET_INVALID");
    run_cli(&app.data_dir, &["admin", "security-mode", "on"], None);
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&token), None).status, 200);
    app.clock.advance(7201);
    c.api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(401, "AUTH_TOKEN_EXPIRED");
}

#[test]
fn the_sixth_bootstrap_in_a_minute_is_rate_limited() {
    let app = TestApp::spawn_with(|c| c.rate_bootstrap_per_min = 5);
    let mut c = app.client();
    for _ in 0..5 {
        bootstrap(&mut c, "lk_bs_nope", &AgentKey::new()).assert_error(401, "BOOTSTRAP_SECRET_INVALID");
    }
    let res = bootstrap(&mut c, "lk_bs_nope", &AgentKey::new());
    let json = res.assert_error(429, "RATE_LIMITED");
    assert_eq!(json["recovery"]["kind"], "retry_later");
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(json["recovery"]["retry_after_seconds"].as_u64(), Some(retry));
}

#[test]
fn oauth_clients_discover_the_token_endpoint() {
    let app = TestApp::spawn();
    let meta = app.client().get("/.well-known/oauth-authorization-server").json();
    assert_eq!(meta["issuer"], app.address.as_str());
    // The OAuth token endpoint, which also takes the client assertion grant.
    assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", app.address).as_str());
    assert_eq!(meta["jwks_uri"], format!("{}/.well-known/jwks.json", app.address).as_str());
    assert_eq!(meta["token_endpoint_auth_methods_supported"], json!(["none", "private_key_jwt"]));
    assert_eq!(meta["token_endpoint_auth_signing_alg_values_supported"], json!(["ES256"]));
    assert!(meta["grant_types_supported"].as_array().unwrap().contains(&json!("client_credentials")));
}

/// The enrollment flow driven by `jose`, a standard JOSE library, from
/// Node (tests/js/enroll.mjs). CI installs it (`npm ci` in .ci/run); a
/// developer machine without it skips with a note.
#[test]
fn a_standard_jose_client_enrolls_and_calls_the_api() {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/jose").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tests/js (npm ci)");
        eprintln!("skipped: run `npm ci` in tests/js to exercise the jose interop test");
        return;
    }
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (agent, secret) = new_agent(&app, &mut c, &host, "jose-bot");
    let out = std::process::Command::new("node")
        .arg("enroll.mjs")
        .current_dir(&js)
        .env("LATCHKEY_URL", &app.address)
        .env("BOOTSTRAP_SECRET", &secret)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let who: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(who["credential"]["kind"], "access_token");
    assert_eq!(who["bound_agent"]["agent_id"], agent.as_str());
}

#[test]
fn an_assertion_kid_must_be_the_registered_keys_thumbprint() {
    let app = TestApp::spawn();
    let (mut c, host, agent, key) = enrolled(&app);
    let thumbprint = c.api("GET", &format!("/v1/agents/{agent}"), Some(&host), None).json()["key_thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(thumbprint);
    assert_eq!(token_request(&mut c, &key.sign_with(header, &claims(&app, &agent))).status, 200);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("some-other-key".into());
    assert_invalid_client(&token_request(&mut c, &key.sign_with(header, &claims(&app, &agent))));
}

/// `client_credentials` at the OAuth token endpoint with `resource`: an
/// access JWT for that resource, which forward-auth accepts there only.
#[test]
fn an_enrolled_agent_gets_an_access_jwt_for_a_resource() {
    let app = TestApp::spawn();
    let (mut c, host, agent, key) = enrolled(&app);
    let res = c.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "Files", "identifier": "https://files.example.com/", "scopes": ["files:read"]})),
    );
    let resource = res.json()["id"].as_str().unwrap().to_string();
    let form = |assertion: &str, resource: &str| {
        format!(
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&resource={}",
            encode(resource)
        )
    };
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let mut at_token = claims(&app, &agent);
    at_token["aud"] = json!(format!("{}/oauth/token", app.address));
    let res = c.send("POST", "/oauth/token", &headers, Some(form(&key.sign(&at_token), "https://files.example.com")));
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["scope"], "files:read");
    let jwt = body["access_token"].as_str().unwrap().to_string();
    assert!(jwt.starts_with("eyJ"));
    let check = |c: &mut Client, id: &str| {
        c.send(
            "GET",
            &format!("/v1/forward-auth?resource={id}"),
            &[("X-Forwarded-Uri", "/x"), ("Authorization", &format!("Bearer {jwt}"))],
            None,
        )
    };
    let res = check(&mut c, &resource);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("x-latchkey-credential-kind"), Some("oauth_access_token"));
    assert_eq!(res.header("x-latchkey-agent-name"), Some("enrolled-bot"));
    // Unknown resource: invalid_target.
    let res =
        c.send("POST", "/oauth/token", &headers, Some(form(&key.sign(&claims(&app, &agent)), "https://nope.example/")));
    assert_eq!(res.assert_error(400, "INVALID_TARGET")["error"], "invalid_target");
    // Disabling the agent ends it.
    assert_eq!(c.api("POST", &format!("/v1/agents/{agent}/disable"), Some(&host), None).status, 200);
    check(&mut c, &resource).assert_error(403, "AGENT_DISABLED");
}
