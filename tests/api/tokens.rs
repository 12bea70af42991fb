//! Agents, PATs, the bearer layer, exchange, whoami and the JWKS.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::*;

fn agent_pat(app: &TestApp, agent: &str, extra: &[&str]) -> String {
    let mut args = vec!["--email", OWNER_EMAIL, "--name", "agent token", "--scope", "agent", "--agent", agent];
    args.extend_from_slice(extra);
    app.mint_pat(&args)
}

#[test]
fn an_agent_pat_shows_its_bound_agent_in_whoami() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let token = agent_pat(&app, "billing-bot", &[]);
    let mut c = app.client();
    let who = c.api("GET", "/v1/auth/whoami", Some(&token), None);
    assert_eq!(who.status, 200, "{}", who.body);
    let who = who.json();
    assert_eq!(who["bound_agent"]["agent_name"], "billing-bot");
    assert_eq!(who["resolved_agent"], who["bound_agent"]);
    assert_eq!(who["credential"]["kind"], "pat");
    assert_eq!(who["credential"]["scope_type"], "agent");
    assert_eq!(who["credential"]["audience"], "both");
    assert_eq!(who["user"]["email"], OWNER_EMAIL, "the person who minted it");
    assert_eq!(who["workspace"]["name"], "Acme");

    let me = c.api("GET", "/v1/auth/whoami", Some(&host), None).json();
    assert!(me["bound_agent"].is_null());
    assert!(me["resolved_agent"].is_null());
    assert_eq!(me["user"]["role"], "owner");
    assert_eq!(me["user"]["instance_admin"], false);
    assert_eq!(me["credential"]["scope_type"], "host");
}

#[test]
fn missing_garbled_and_unknown_tokens_are_refused() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let json = c.api("GET", "/v1/auth/whoami", None, None).assert_error(401, "AUTH_REQUIRED");
    assert_eq!(json["recovery"]["kind"], "reauthenticate");

    // One changed character breaks the checksum: refused before any lookup.
    let mut tampered = host.clone().into_bytes();
    tampered[12] = if tampered[12] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let json = c.api("GET", "/v1/auth/whoami", Some(&tampered), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    assert_eq!(json["recovery"]["kind"], "reauthenticate");
    assert!(json["recovery"]["login_command"].is_string());

    // Well-formed but never issued.
    let random = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    c.api("GET", "/v1/auth/whoami", Some(&format!("lk_pat_{random}1ggZdL")), None)
        .assert_error(401, "AUTH_UNKNOWN_TOKEN");
    for garbage in
        ["hello", "lk_xx_abc", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "lk_at_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp448bfc"]
    {
        c.api("GET", "/v1/auth/whoami", Some(garbage), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    }
}

#[test]
fn expired_and_revoked_pats_are_refused() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let short = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "short", "--scope", "host", "--expires", "1"]);
    let mut c = app.client();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&short), None).status, 200);

    let listed = c.api("GET", "/v1/pats", Some(&host), None).json();
    let short_id = listed["items"].as_array().unwrap().iter().find(|p| p["name"] == "short").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = c.api("POST", &format!("/v1/pats/{short_id}/revoke"), Some(&host), None);
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.json()["status"], "revoked");
    let json = c.api("GET", "/v1/auth/whoami", Some(&short), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    assert_eq!(json["recovery"]["kind"], "reauthenticate");

    app.clock.advance(90 * 86_400 + 1);
    c.api("GET", "/v1/auth/whoami", Some(&host), None).assert_error(401, "AUTH_TOKEN_EXPIRED");
}

#[test]
fn disabling_an_agent_stops_its_credentials_at_once() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let token = agent_pat(&app, "worker", &[]);
    let mut c = app.client();
    let who = c.api("GET", "/v1/auth/whoami", Some(&token), None).json();
    let agent_id = who["bound_agent"]["agent_id"].as_str().unwrap().to_string();

    let res = c.api("POST", &format!("/v1/agents/{agent_id}/disable"), Some(&host), None);
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "disabled");
    c.api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(403, "AGENT_DISABLED");

    let res = c.api("POST", &format!("/v1/agents/{agent_id}/enable"), Some(&host), None);
    assert_eq!(res.json()["status"], "created");
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&token), None).status, 200);
}

#[test]
fn with_the_mode_off_every_pat_is_suspended_and_comes_back() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let token = agent_pat(&app, "worker", &[]);
    let mut c = app.client();

    // The confirmation counts the live PATs.
    let csrf = owner.get("/settings").csrf();
    let ask = owner.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "off")]);
    assert!(ask.body.contains("suspends <strong>2</strong> live credentials"), "{}", ask.body);
    let res = owner.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "off"), ("confirm", "yes")]);
    assert_eq!(res.status, 303);

    for t in [&host, &token] {
        let json = c.api("GET", "/v1/auth/whoami", Some(t), None).assert_error(403, "AGENT_SECURITY_MODE_OFF");
        assert_eq!(json["recovery"]["kind"], "enable_agent_security_mode");
        assert!(json["recovery"]["settings_url"].as_str().unwrap().ends_with("/settings"));
    }
    let res = owner.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "on")]);
    assert_eq!(res.status, 303);
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&host), None).status, 200);
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&token), None).status, 200);
}

#[test]
fn scope_types_do_not_overlap() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let agent = agent_pat(&app, "worker", &[]);
    let service = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "rs", "--scope", "service"]);
    let mut c = app.client();
    let mint = json!({"name": "x", "scope_type": "host"});

    // An agent PAT manages nothing.
    c.api("POST", "/v1/pats", Some(&agent), Some(mint.clone())).assert_error(403, "AUTH_SCOPE");
    c.api("GET", "/v1/agents", Some(&agent), None).assert_error(403, "AUTH_SCOPE");
    // A service PAT is not an agent and manages nothing.
    c.api("POST", "/v1/pats", Some(&service), Some(mint)).assert_error(403, "AUTH_SCOPE");
    c.api("POST", "/v1/agents", Some(&service), Some(json!({"name": "sneaky"}))).assert_error(403, "AUTH_SCOPE");
    let who = c.api("GET", "/v1/auth/whoami", Some(&service), None).json();
    assert!(who["bound_agent"].is_null());
    assert_eq!(who["credential"]["scope_type"], "service");
    // A host PAT cannot be bound to an agent.
    let json = c
        .api("POST", "/v1/pats", Some(&host), Some(json!({"name": "x", "scope_type": "host", "agent_name": "worker"})))
        .assert_error(400, "VALIDATION_FAILED");
    assert!(json["user_message"].as_str().unwrap().contains("agent_id"));
}

#[test]
fn an_exchange_only_pat_cannot_be_used_directly_and_an_api_only_one_cannot_be_exchanged() {
    let app = TestApp::spawn();
    app.owner_with_host_pat();
    let exchange_only = agent_pat(&app, "worker", &["--audience", "exchange"]);
    let api_only = agent_pat(&app, "worker", &["--audience", "api"]);
    let mut c = app.client();
    c.api("GET", "/v1/auth/whoami", Some(&exchange_only), None).assert_error(403, "AUTH_AUDIENCE");
    let jwt = c.api("POST", "/v1/auth/exchange", None, Some(json!({"token": exchange_only})));
    assert_eq!(jwt.status, 200, "{}", jwt.body);
    let jwt = jwt.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&jwt), None).status, 200, "the exchanged JWT works directly");

    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&api_only), None).status, 200);
    c.api("POST", "/v1/auth/exchange", Some(&api_only), None).assert_error(403, "AUTH_AUDIENCE");
}

/// Verifies an EdDSA JWT against a JWKS with ed25519-dalek directly: an
/// implementation independent of the server's JWT library.
fn verify_with_jwks(jwt: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let kid = header["kid"].as_str().unwrap();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("kid in JWKS");
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    let x: [u8; 32] = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap();
    let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(parts[2]).unwrap().try_into().unwrap();
    key.verify_strict(format!("{}.{}", parts[0], parts[1]).as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
        .expect("signature verifies");
    // The kid is the key's RFC 7638 thumbprint.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, jwk["x"].as_str().unwrap());
    use sha2::Digest;
    assert_eq!(kid, URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes())));
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[test]
fn an_exchanged_jwt_verifies_against_the_jwks_and_dies_with_its_pat() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let token = agent_pat(&app, "worker", &[]);
    let mut c = app.client();
    let res = c.api("POST", "/v1/auth/exchange", Some(&token), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["kind"], "agent");
    let jwt = body["access_token"].as_str().unwrap().to_string();

    let jwks = c.get("/.well-known/jwks.json").json();
    let claims = verify_with_jwks(&jwt, &jwks);
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["aud"], app.address.as_str());
    assert_eq!(claims["scope"], "agent");
    assert!(claims["jti"].is_string());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);

    let who = c.api("GET", "/v1/auth/whoami", Some(&jwt), None).json();
    assert_eq!(who["credential"]["kind"], "jwt");
    assert_eq!(who["credential"]["id"], claims["jti"]);
    assert_eq!(who["bound_agent"]["agent_name"], "worker");
    assert_eq!(claims["sub"], who["bound_agent"]["agent_id"]);

    // Revoking the PAT kills the JWT on its next use.
    let pat_id = claims["pat_id"].as_str().unwrap();
    assert_eq!(c.api("POST", &format!("/v1/pats/{pat_id}/revoke"), Some(&host), None).status, 200);
    c.api("GET", "/v1/auth/whoami", Some(&jwt), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    c.api("POST", "/v1/auth/exchange", Some(&token), None).assert_error(401, "AUTH_TOKEN_REVOKED");
}

#[test]
fn exchanged_jwts_expire_and_forged_ones_are_unknown() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let body = c.api("POST", "/v1/auth/exchange", None, Some(json!({"token": host}))).json();
    assert_eq!(body["kind"], "user_admin");
    let jwt = body["access_token"].as_str().unwrap().to_string();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["scope"], "host");

    // Same header and signature, a payload claiming more: refused.
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(forged_claims.to_string()), parts[2]);
    c.api("GET", "/v1/auth/whoami", Some(&forged), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    // A JWT cannot be exchanged again.
    c.api("POST", "/v1/auth/exchange", Some(&jwt), None).assert_error(400, "VALIDATION_FAILED");

    assert_eq!(c.api("GET", "/v1/pats", Some(&jwt), None).status, 200, "acts with the PAT's scope");
    app.clock.advance(901);
    c.api("GET", "/v1/auth/whoami", Some(&jwt), None).assert_error(401, "AUTH_TOKEN_EXPIRED");
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&host), None).status, 200);
}

#[test]
fn key_rotation_keeps_old_jwts_valid_until_they_expire() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let old =
        c.api("POST", "/v1/auth/exchange", Some(&host), None).json()["access_token"].as_str().unwrap().to_string();
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
    };
    let before = kids(&c.get("/.well-known/jwks.json").json());
    assert_eq!(before.len(), 2, "the signing key and the next one");

    let (code, out, err) = run_cli(&app.data_dir, &["keys", "rotate"], None);
    assert_eq!(code, 0, "{err}");
    let new_kid = out.trim().to_string();
    assert!(before.contains(&new_kid), "the key that now signs was published before it signed");
    app.keys.reload().unwrap(); // what SIGHUP (or the minute's check) does in `latchkey serve`

    let jwks = c.get("/.well-known/jwks.json").json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3, "old, signing, next");
    verify_with_jwks(&old, &jwks);
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&old), None).status, 200, "old JWT still valid");

    let new =
        c.api("POST", "/v1/auth/exchange", Some(&host), None).json()["access_token"].as_str().unwrap().to_string();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(new.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], new_kid.as_str(), "the new key signs");

    app.clock.advance(901);
    let jwks = c.get("/.well-known/jwks.json").json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "the old key is gone once its tokens expired");
    assert_eq!(jwks["keys"][0]["kid"], new_kid.as_str());
    assert!(!kids(&jwks).contains(&before[0]));
}

#[test]
fn workspaces_cannot_see_each_others_agents_or_pats() {
    let app = TestApp::spawn();
    let (_, host_a) = app.owner_with_host_pat();
    let mut c = app.client();
    let agent_a = c.api("POST", "/v1/agents", Some(&host_a), Some(json!({"name": "alpha"}))).json();
    let pats_a = c.api("GET", "/v1/pats", Some(&host_a), None).json();
    let pat_a = pats_a["items"][0]["id"].as_str().unwrap().to_string();

    let (code, out, err) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example", "--password-stdin"],
        Some("globex owner password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let ws_b = out.trim().to_string();
    run_cli(&app.data_dir, &["admin", "security-mode", "on", "--workspace", &ws_b], None);
    let host_b =
        app.mint_pat(&["--email", "hank@globex.example", "--name", "b", "--scope", "host", "--workspace", &ws_b]);

    let agent_id = agent_a["id"].as_str().unwrap();
    c.api("GET", &format!("/v1/agents/{agent_id}"), Some(&host_b), None).assert_error(404, "NOT_FOUND");
    c.api("POST", &format!("/v1/agents/{agent_id}/disable"), Some(&host_b), None).assert_error(404, "NOT_FOUND");
    c.api("GET", &format!("/v1/pats/{pat_a}"), Some(&host_b), None).assert_error(404, "NOT_FOUND");
    c.api("POST", &format!("/v1/pats/{pat_a}/revoke"), Some(&host_b), None).assert_error(404, "NOT_FOUND");
    c.api("PATCH", &format!("/v1/pats/{pat_a}"), Some(&host_b), Some(json!({"name": "pwned"})))
        .assert_error(404, "NOT_FOUND");
    c.api("POST", "/v1/pats", Some(&host_b), Some(json!({"name": "x", "scope_type": "agent", "agent_id": agent_id})))
        .assert_error(404, "NOT_FOUND");
    assert!(c.api("GET", "/v1/agents", Some(&host_b), None).json()["items"].as_array().unwrap().is_empty());
    let b_pats = c.api("GET", "/v1/pats", Some(&host_b), None).json();
    assert_eq!(b_pats["items"].as_array().unwrap().len(), 1);
    // Workspace A is untouched.
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&host_a), None).status, 200);
    assert_eq!(c.api("GET", &format!("/v1/agents/{agent_id}"), Some(&host_a), None).json()["status"], "created");
}

#[test]
fn minting_through_the_api_shows_the_token_once_and_never_again() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let res = c.api(
        "POST",
        "/v1/pats",
        Some(&host),
        Some(json!({"name": "ci bot", "scope_type": "agent", "agent_name": "ci", "create_agent": true, "daily_cap_usd": "5.00", "expires_in_days": 30})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("lk_pat_") && token.len() == 45);
    assert_eq!(created["daily_cap_usd"], "5.00");
    assert_eq!(created["agent_name"], "ci");
    assert_eq!(created["audience"], "both");
    assert_eq!(created["token_hint"], format!("{}…", &token[..11]));
    let id = created["id"].as_str().unwrap().to_string();

    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&token), None).status, 200);
    let list = c.api("GET", "/v1/pats", Some(&host), None);
    let one = c.api("GET", &format!("/v1/pats/{id}"), Some(&host), None);
    for body in [&list.body, &one.body] {
        assert!(!body.contains(&token), "the secret never comes back");
        assert!(!body.contains(&token[11..]), "not even its random part");
        assert!(!body.contains("\"token\""));
    }
    // The last use is written after the answer (off the request's path).
    let mut one = one.json();
    for _ in 0..100 {
        if one["last_used_at"].is_string() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        one = c.api("GET", &format!("/v1/pats/{id}"), Some(&host), None).json();
    }
    assert!(one["last_used_at"].is_string(), "use was recorded: {one}");
    assert_eq!(one["status"], "active");

    // Without create_agent, an unknown agent name is not found.
    c.api("POST", "/v1/pats", Some(&host), Some(json!({"name": "x", "scope_type": "agent", "agent_name": "ghost"})))
        .assert_error(404, "NOT_FOUND");
    // Defaults: the configured daily cap.
    let d = c
        .api("POST", "/v1/pats", Some(&host), Some(json!({"name": "d", "scope_type": "agent", "agent_name": "ci"})))
        .json();
    assert_eq!(d["daily_cap_usd"], "10.00");
    let exp = d["expires_at"].as_str().unwrap();
    assert!(!exp.is_empty());

    // Raising the cap.
    let raised = c.api("PATCH", &format!("/v1/pats/{id}"), Some(&host), Some(json!({"daily_cap_usd": "25.50"})));
    assert_eq!(raised.json()["daily_cap_usd"], "25.50");
    let host_id =
        c.api("GET", "/v1/auth/whoami", Some(&host), None).json()["credential"]["id"].as_str().unwrap().to_string();
    c.api("PATCH", &format!("/v1/pats/{host_id}"), Some(&host), Some(json!({"daily_cap_usd": "1.00"})))
        .assert_error(400, "VALIDATION_FAILED");
}

#[test]
fn bad_pat_requests_name_the_field() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let auth = format!("Bearer {host}");
    let send = |c: &mut Client, ct: &str, body: &str| {
        c.send("POST", "/v1/pats", &[("Authorization", &auth), ("Content-Type", ct)], Some(body.to_string()))
    };
    send(&mut c, "application/json", "{\"name\": ").assert_error(400, "INVALID_JSON");
    send(&mut c, "text/plain", "{}").assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    let j = send(&mut c, "application/json", "{\"name\": \"x\"}").assert_error(400, "VALIDATION_FAILED");
    assert!(j["user_message"].as_str().unwrap().contains("scope_type"), "{j}");
    for (body, field) in [
        (json!({"name": "x", "scope_type": "root"}), "scope_type"),
        (json!({"name": "x", "scope_type": "host", "expires_in_days": 400}), "expires_in_days"),
        (json!({"name": "x", "scope_type": "host", "expires_in_days": 0}), "expires_in_days"),
        (json!({"name": "x", "scope_type": "host", "audience": "everyone"}), "audience"),
        (
            json!({"name": "x", "scope_type": "agent", "agent_name": "a", "create_agent": true, "daily_cap_usd": "1000000.01"}),
            "daily_cap_usd",
        ),
        (
            json!({"name": "x", "scope_type": "agent", "agent_name": "a", "create_agent": true, "daily_cap_usd": "5.555"}),
            "daily_cap_usd",
        ),
        (json!({"name": "x", "scope_type": "host", "daily_cap_usd": "5.00"}), "daily_cap_usd"),
        (json!({"name": "", "scope_type": "host"}), "name"),
    ] {
        let j = c.api("POST", "/v1/pats", Some(&host), Some(body.clone())).assert_error(400, "VALIDATION_FAILED");
        assert!(j["user_message"].as_str().unwrap().contains(field), "{body} -> {j}");
    }
    c.api("GET", "/v1/pats?limit=500", Some(&host), None).assert_error(400, "VALIDATION_FAILED");
    let big = json!({"name": "x".repeat(70 * 1024), "scope_type": "host"});
    c.api("POST", "/v1/pats", Some(&host), Some(big)).assert_error(413, "PAYLOAD_TOO_LARGE");
}

#[test]
fn agents_have_unique_names_and_page_newest_first() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    for name in ["a1", "a2", "a3"] {
        let res = c.api("POST", "/v1/agents", Some(&host), Some(json!({"name": name, "description": "test"})));
        assert_eq!(res.status, 201);
        assert_eq!(res.json()["status"], "created");
    }
    c.api("POST", "/v1/agents", Some(&host), Some(json!({"name": "a1"}))).assert_error(409, "CONFLICT");
    c.api("POST", "/v1/agents", Some(&host), Some(json!({"name": "bad name!"}))).assert_error(400, "VALIDATION_FAILED");
    let page = c.api("GET", "/v1/agents?limit=2", Some(&host), None).json();
    let names: Vec<_> =
        page["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["a3", "a2"]);
    let last = page["items"][1]["id"].as_str().unwrap();
    let next = c.api("GET", &format!("/v1/agents?limit=2&before={last}"), Some(&host), None).json();
    assert_eq!(next["items"].as_array().unwrap().len(), 1);
    assert_eq!(next["items"][0]["name"], "a1");
}

#[test]
fn bearer_failures_are_audited_once_per_flood() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let id =
        c.api("GET", "/v1/auth/whoami", Some(&host), None).json()["credential"]["id"].as_str().unwrap().to_string();
    c.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None);
    for _ in 0..5 {
        c.api("GET", "/v1/auth/whoami", Some(&host), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    }
    let audit = owner.get("/dashboard/audit").body;
    assert_eq!(audit.matches("PAT revoked").count(), 1, "{audit}");
    assert!(audit.contains("×5"), "{audit}");
    assert!(audit.contains("pat.revoked"));
}

/// Adds a member (not an owner) to the only workspace, straight in the
/// database: the product has no invitation flow yet.
fn add_member(app: &TestApp, email: &str) {
    let db = app.open_db();
    let email = latchkey::domain::Email::parse(email).unwrap();
    db.write_blocking(|tx| {
        let now = app.clock.now();
        let ws = latchkey::domain::workspaces::resolve(tx, None)?;
        let user = latchkey::domain::workspaces::create_user(
            tx,
            &email,
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            now,
        )?;
        latchkey::db::memberships::insert(tx, &ws.id, &user.id, latchkey::domain::Role::Member, now)
    })
    .unwrap();
}

#[test]
fn members_manage_only_what_they_own() {
    let app = TestApp::spawn();
    let (_, owner) = app.owner_with_host_pat();
    add_member(&app, "mia@example.com");
    let member = app.mint_pat(&["--email", "mia@example.com", "--name", "mia", "--scope", "host"]);
    let mut c = app.client();
    let owners_agent = c.api("POST", "/v1/agents", Some(&owner), Some(json!({"name": "owners"}))).json();
    let owners_agent = owners_agent["id"].as_str().unwrap();
    let owner_pat =
        c.api("GET", "/v1/auth/whoami", Some(&owner), None).json()["credential"]["id"].as_str().unwrap().to_string();

    let me = c.api("GET", "/v1/auth/whoami", Some(&member), None).json();
    assert_eq!(me["user"]["role"], "member");
    // Their own agent and its PAT: fine.
    assert_eq!(c.api("POST", "/v1/agents", Some(&member), Some(json!({"name": "mine"}))).status, 201);
    let res = c.api(
        "POST",
        "/v1/pats",
        Some(&member),
        Some(json!({"name": "m", "scope_type": "agent", "agent_name": "mine"})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    // The owner's things do not exist for them.
    let agents = c.api("GET", "/v1/agents", Some(&member), None).json();
    assert_eq!(agents["items"].as_array().unwrap().len(), 1);
    c.api("GET", &format!("/v1/agents/{owners_agent}"), Some(&member), None).assert_error(404, "NOT_FOUND");
    c.api("POST", &format!("/v1/agents/{owners_agent}/disable"), Some(&member), None).assert_error(404, "NOT_FOUND");
    c.api("POST", &format!("/v1/pats/{owner_pat}/revoke"), Some(&member), None).assert_error(404, "NOT_FOUND");
    c.api(
        "POST",
        "/v1/pats",
        Some(&member),
        Some(json!({"name": "x", "scope_type": "agent", "agent_id": owners_agent})),
    )
    .assert_error(404, "NOT_FOUND");
    let pats = c.api("GET", "/v1/pats", Some(&member), None).json();
    assert!(pats["items"].as_array().unwrap().iter().all(|p| p["user_id"] == me["user"]["id"]));
    // Only owners mint service PATs.
    c.api("POST", "/v1/pats", Some(&member), Some(json!({"name": "s", "scope_type": "service"})))
        .assert_error(403, "AUTH_SCOPE");
    // The owner sees everything.
    assert_eq!(c.api("GET", "/v1/agents", Some(&owner), None).json()["items"].as_array().unwrap().len(), 2);
    assert_eq!(c.api("GET", &format!("/v1/pats/{owner_pat}"), Some(&owner), None).status, 200);
}

#[test]
fn the_superadmin_domain_makes_password_users_instance_admins() {
    let app = TestApp::spawn_with(|c| c.superadmin_domain = Some("example.com".into()));
    let (_, host) = app.owner_with_host_pat();
    let who = app.client().api("GET", "/v1/auth/whoami", Some(&host), None).json();
    assert_eq!(who["user"]["instance_admin"], true);
    add_member(&app, "someone@elsewhere.org");
    let other = app.mint_pat(&["--email", "someone@elsewhere.org", "--name", "o", "--scope", "host"]);
    let who = app.client().api("GET", "/v1/auth/whoami", Some(&other), None).json();
    assert_eq!(who["user"]["instance_admin"], false);
}
