//! The OAuth 2.1 authorization server (docs/API.md §5.8) driven the way an
//! MCP client drives it: register, send the person to the consent page,
//! exchange the code with PKCE, call the resource through forward-auth,
//! refresh, revoke.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;

pub const REDIRECT: &str = "http://127.0.0.1:4567/callback";

pub struct OAuth {
    pub app: TestApp,
    pub owner: Client,
    pub host: String,
    pub resource: Value,
    pub client_id: String,
}

pub fn pkce() -> (String, String) {
    let verifier = format!("v{}", "x".repeat(20) + &rand_suffix());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_suffix() -> String {
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn setup() -> OAuth {
    let app = TestApp::spawn();
    let (owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let res = c.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "Tools", "identifier": "http://127.0.0.1:9/mcp", "scopes": ["tools:read", "tools:call"]})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let resource = res.json();
    let res =
        c.api("POST", "/oauth/register", None, Some(json!({"redirect_uris": [REDIRECT], "client_name": "Test MCP"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let client_id = res.json()["client_id"].as_str().unwrap().to_string();
    OAuth { app, owner, host, resource, client_id }
}

impl OAuth {
    pub fn authorize_url(&self, challenge: &str, extra: &str) -> String {
        format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=xyz&resource={}{extra}",
            encode(&self.client_id),
            encode(REDIRECT),
            encode("http://127.0.0.1:9/mcp"),
        )
    }

    /// The consent page, approved; returns the redirect's query.
    pub fn approve(&mut self, challenge: &str) -> Vec<(String, String)> {
        let page = self.owner.get(&self.authorize_url(challenge, ""));
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        let res = self.owner.post_form(
            "/oauth/authorize",
            &[
                ("csrf", &csrf),
                ("client_id", &self.client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge),
                ("state", "xyz"),
                ("scope", "tools:read tools:call"),
                ("resource", "http://127.0.0.1:9/mcp"),
                ("agent", "new"),
                ("decision", "approve"),
            ],
        );
        assert_eq!(res.status, 303, "{}", res.body);
        let location = res.header("location").unwrap().to_string();
        assert!(location.starts_with(REDIRECT), "{location}");
        query_of(&location)
    }

    pub fn token(&mut self, fields: &[(&str, &str)]) -> Response {
        let mut c = self.app.client();
        c.post_form("/oauth/token", fields)
    }

    /// Register, approve, exchange: (access token, refresh token).
    pub fn tokens(&mut self) -> (String, String) {
        let (verifier, challenge) = pkce();
        let q = self.approve(&challenge);
        let code = param(&q, "code");
        let client_id = self.client_id.clone();
        let res = self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("resource", "http://127.0.0.1:9/mcp"),
        ]);
        assert_eq!(res.status, 200, "{}", res.body);
        let body = res.json();
        (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
    }

    pub fn forward(&mut self, token: &str) -> Response {
        let id = self.resource["id"].as_str().unwrap().to_string();
        let auth = format!("Bearer {token}");
        self.app.client().send(
            "GET",
            &format!("/v1/forward-auth?resource={id}"),
            &[("X-Forwarded-Method", "POST"), ("X-Forwarded-Uri", "/mcp"), ("Authorization", &auth)],
            None,
        )
    }
}

pub fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn param(q: &[(String, String)], name: &str) -> String {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no {name} in {q:?}"))
}

fn claims_of(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (header, claims)
}

#[test]
fn metadata_describes_the_authorization_server() {
    let o = setup();
    let doc = o.app.client().get("/.well-known/oauth-authorization-server").json();
    let issuer = o.app.address.clone();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/oauth/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(doc["registration_endpoint"], format!("{issuer}/oauth/register"));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["client_id_metadata_document_supported"], true);
    assert_eq!(doc["scopes_supported"], json!(["tools:call", "tools:read"]));
    // Not an OpenID Provider.
    assert_eq!(o.app.client().get("/.well-known/openid-configuration").status, 404);
    // The resource's RFC 9728 document names this server, byte for byte.
    let id = o.resource["id"].as_str().unwrap();
    let rs = o.app.client().get(&format!("/v1/resources/{id}/metadata")).json();
    assert_eq!(rs["authorization_servers"], json!([issuer]));
}

#[test]
fn registration_echoes_fields_and_refuses_bad_redirects() {
    let o = setup();
    let mut c = o.app.client();
    let res = c.api(
        "POST",
        "/oauth/register",
        None,
        Some(json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "X",
                    "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["authorization_code", "refresh_token"]})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let body = res.json();
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["redirect_uris"], json!(["https://app.example.com/cb"]));
    assert!(body["client_id_issued_at"].is_i64());
    let res = c.api("POST", "/oauth/register", None, Some(json!({"redirect_uris": ["http://app.example.com/cb"]})));
    res.assert_error(400, "VALIDATION_FAILED");
    // A member of the wrong type is refused, not echoed.
    let mistyped = json!({"redirect_uris": ["https://app.example.com/cb"], "scope": {"a": 1}});
    let body = c.api("POST", "/oauth/register", None, Some(mistyped)).assert_error(400, "VALIDATION_FAILED");
    assert!(body["user_message"].as_str().unwrap().starts_with("scope"), "{body}");
}

#[test]
fn an_approved_client_gets_audience_bound_tokens_that_work_through_forward_auth() {
    let mut o = setup();
    let (verifier, challenge) = pkce();
    let q = o.approve(&challenge);
    assert_eq!(param(&q, "state"), "xyz");
    assert_eq!(param(&q, "iss"), o.app.address);
    let code = param(&q, "code");
    let client_id = o.client_id.clone();
    let exchange = |o: &mut OAuth, verifier: &str, resource: Option<&str>| {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id.as_str()),
        ];
        if let Some(r) = resource {
            f.push(("resource", r));
        }
        o.token(&f)
    };
    // A wrong verifier fails…
    let body = exchange(&mut o, &"w".repeat(43), Some("http://127.0.0.1:9/mcp")).assert_error(400, "INVALID_GRANT");
    assert_eq!(body["error"], "invalid_grant");
    let res = exchange(&mut o, &verifier, Some("http://127.0.0.1:9/mcp"));
    // …and used the code up: a second try is a reuse, which revokes the grant.
    let body = res.assert_error(400, "INVALID_GRANT");
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");

    // Afresh: a missing resource is invalid_target.
    let (verifier, challenge) = pkce();
    let code = param(&o.approve(&challenge), "code");
    let client_id = o.client_id.clone();
    let res = o.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", &verifier),
        ("redirect_uri", REDIRECT),
        ("client_id", &client_id),
    ]);
    assert_eq!(res.assert_error(400, "INVALID_TARGET")["error"], "invalid_target");
}

#[test]
fn the_token_flow_end_to_end() {
    let mut o = setup();
    let (access, refresh) = o.tokens();
    let (header, claims) = claims_of(&access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["aud"], "http://127.0.0.1:9/mcp");
    assert_eq!(claims["iss"], o.app.address);
    assert_eq!(claims["client_id"], o.client_id);
    assert_eq!(claims["scope"], "tools:read tools:call");

    // Through forward-auth, as the agent the consent created.
    let res = o.forward(&access);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("x-latchkey-credential-kind"), Some("oauth_access_token"));
    assert_eq!(res.header("x-latchkey-agent-name"), Some("Test-MCP"));
    // Not a credential for Latchkey's own API (its audience is the resource).
    o.app.client().api("GET", "/v1/auth/whoami", Some(&access), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    let agents = o.app.client().api("GET", "/v1/agents", Some(&o.host.clone()), None).json();
    assert!(agents["items"].as_array().unwrap().iter().any(|a| a["kind"] == "oauth_client"), "{agents}");

    // Refresh: rotated; a parallel retry within 10 s gets the same successor.
    let client_id = o.client_id.clone();
    let refresh_with = |o: &mut OAuth, token: &str| {
        o.token(&[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", &client_id)])
    };
    let first = refresh_with(&mut o, &refresh);
    assert_eq!(first.status, 200, "{}", first.body);
    let next = first.json()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(next, refresh);
    let again = refresh_with(&mut o, &refresh);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["refresh_token"], next.as_str());

    // Later, the rotated one again: reuse revokes the whole grant.
    o.app.clock.freeze();
    o.app.clock.advance(11);
    let body = refresh_with(&mut o, &refresh).assert_error(400, "INVALID_GRANT");
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    refresh_with(&mut o, &next).assert_error(400, "INVALID_GRANT");
    o.forward(&access).assert_error(401, "AUTH_TOKEN_REVOKED");
}

#[test]
fn revoking_the_grant_or_disabling_the_agent_stops_the_client_at_once() {
    let mut o = setup();
    let (access, _refresh) = o.tokens();
    assert_eq!(o.forward(&access).status, 200);
    let host = o.host.clone();
    let agents = o.app.client().api("GET", "/v1/agents", Some(&host), None).json();
    let agent_id = agents["items"][0]["id"].as_str().unwrap().to_string();
    let res = o.app.client().api("POST", &format!("/v1/agents/{agent_id}/disable"), Some(&host), None);
    assert_eq!(res.status, 200);
    o.forward(&access).assert_error(403, "AGENT_DISABLED");

    // A fresh grant, revoked through RFC 7009 by the client itself.
    let mut o = setup();
    let (access, refresh) = o.tokens();
    let client_id = o.client_id.clone();
    let res = o.app.client().post_form("/oauth/revoke", &[("token", &refresh), ("client_id", &client_id)]);
    assert_eq!(res.status, 200);
    o.forward(&access).assert_error(401, "AUTH_TOKEN_REVOKED");
}

#[test]
fn a_token_for_one_resource_does_not_open_another() {
    let mut o = setup();
    let (access, _) = o.tokens();
    let host = o.host.clone();
    let other = o
        .app
        .client()
        .api(
            "POST",
            "/v1/resources",
            Some(&host),
            Some(json!({"name": "Other", "identifier": "http://127.0.0.1:9/other"})),
        )
        .json();
    let id = other["id"].as_str().unwrap();
    let res = o.app.client().send(
        "GET",
        &format!("/v1/forward-auth?resource={id}"),
        &[("X-Forwarded-Uri", "/other"), ("Authorization", &format!("Bearer {access}"))],
        None,
    );
    res.assert_error(401, "AUTH_UNKNOWN_TOKEN");
    assert!(res.header("www-authenticate").unwrap().contains("invalid_token"));
}

#[test]
fn a_rule_needing_more_scopes_answers_insufficient_scope() {
    let mut o = setup();
    let (access, _) = o.tokens();
    let id = o.resource["id"].as_str().unwrap().to_string();
    let host = o.host.clone();
    let rules = json!({"rules": [{"methods": ["*"], "path_prefix": "/", "scopes": ["tools:admin"]}], "scopes": ["tools:read", "tools:call", "tools:admin"]});
    assert_eq!(o.app.client().api("PATCH", &format!("/v1/resources/{id}"), Some(&host), Some(rules)).status, 200);
    let res = o.forward(&access);
    res.assert_error(403, "AUTH_SCOPE");
    let challenge = res.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"tools:admin\""),
        "{challenge}"
    );
}

#[test]
fn authorization_errors_never_redirect_to_an_unverified_uri() {
    let mut o = setup();
    let (_, challenge) = pkce();
    // Unregistered redirect URI: an error page, no redirect.
    let url = o.authorize_url(&challenge, "").replace(&encode(REDIRECT), &encode("http://127.0.0.1:4567/evil"));
    let res = o.owner.get(&url);
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none());
    // Unknown client.
    let res = o.owner.get(&o.authorize_url(&challenge, "").replace(&o.client_id, "nope"));
    assert_eq!(res.status, 400);
    // plain PKCE: back to the client with invalid_request, state and iss.
    let url = o.authorize_url(&challenge, "").replace("code_challenge_method=S256", "code_challenge_method=plain");
    let res = o.owner.get(&url);
    assert_eq!(res.status, 303);
    let q = query_of(res.header("location").unwrap());
    assert_eq!(param(&q, "error"), "invalid_request");
    assert_eq!(param(&q, "state"), "xyz");
    assert_eq!(param(&q, "iss"), o.app.address);
    // Missing and unknown resource: invalid_target.
    let url = o.authorize_url(&challenge, "").replace(&format!("&resource={}", encode("http://127.0.0.1:9/mcp")), "");
    assert_eq!(param(&query_of(o.owner.get(&url).header("location").unwrap()), "error"), "invalid_target");
    let url =
        o.authorize_url(&challenge, "").replace(&encode("http://127.0.0.1:9/mcp"), &encode("http://127.0.0.1:9/nope"));
    assert_eq!(param(&query_of(o.owner.get(&url).header("location").unwrap()), "error"), "invalid_target");
    // Anonymous: to the login, and back here afterwards.
    let res = o.app.client().get(&o.authorize_url(&challenge, ""));
    assert_eq!(res.status, 303);
    assert!(res.header("location").unwrap().starts_with("/login?next=%2Foauth%2Fauthorize"));
    // Deny: access_denied.
    let page = o.owner.get(&o.authorize_url(&challenge, ""));
    let csrf = page.csrf();
    let client_id = o.client_id.clone();
    let res = o.owner.post_form(
        "/oauth/authorize",
        &[
            ("csrf", &csrf),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("state", "xyz"),
            ("resource", "http://127.0.0.1:9/mcp"),
            ("decision", "deny"),
        ],
    );
    assert_eq!(param(&query_of(res.header("location").unwrap()), "error"), "access_denied");
}

#[test]
fn the_agents_page_shows_the_client_and_revokes_its_grant() {
    let mut o = setup();
    let (access, _) = o.tokens();
    let host = o.host.clone();
    let grants = o.app.client().api("GET", "/v1/oauth/grants", Some(&host), None).json();
    let grant = &grants["items"][0];
    assert_eq!(grant["client_name"], "Test MCP");
    assert_eq!(grant["scope"], "tools:read tools:call");
    let agent_id = grant["agent_id"].as_str().unwrap().to_string();
    let grant_id = grant["id"].as_str().unwrap().to_string();
    let page = o.owner.get(&format!("/dashboard/agents/{agent_id}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("OAuth client") && page.body.contains("Test MCP"), "{}", page.body);
    let csrf = page.csrf();
    let res = o.owner.post_form(&format!("/dashboard/agents/{agent_id}/grants/{grant_id}/revoke"), &[("csrf", &csrf)]);
    assert_eq!(res.status, 303);
    o.forward(&access).assert_error(401, "AUTH_TOKEN_REVOKED");
    let audit = o.app.client().api("GET", "/v1/audit?kind=oauth.grant_revoked", Some(&host), None).json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    // Introspection sees it too.
    let service = o.app.mint_pat(&["--email", OWNER_EMAIL, "--name", "svc", "--scope", "service"]);
    let res = o.app.client().send(
        "POST",
        "/v1/introspect",
        &[("Authorization", &format!("Bearer {service}")), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(format!("token={access}")),
    );
    assert_eq!(res.json()["active"], false);
}

#[test]
fn introspection_reports_oauth_scopes_client_and_audience() {
    let mut o = setup();
    let (access, _) = o.tokens();
    let service = o.app.mint_pat(&["--email", OWNER_EMAIL, "--name", "svc", "--scope", "service"]);
    let res = o.app.client().send(
        "POST",
        "/v1/introspect",
        &[("Authorization", &format!("Bearer {service}")), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(format!("token={access}")),
    );
    let body = res.json();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "oauth_access_token");
    assert_eq!(body["scope"], "tools:read tools:call");
    assert_eq!(body["client_id"], o.client_id);
    assert_eq!(body["aud"], "http://127.0.0.1:9/mcp");
}

/// Serves `body` as JSON to every request on a loopback port.
fn serve_document(body: impl Fn(u16) -> String + Send + 'static) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = body(port);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn consent_for(o: &mut OAuth, client_id: &str) -> Response {
    let (_, challenge) = pkce();
    let url = o.authorize_url(&challenge, "").replace(&encode(&o.client_id.clone()), &encode(client_id));
    o.owner.get(&url)
}

#[test]
fn client_metadata_documents_name_themselves_and_private_addresses_need_the_flag() {
    let good = serve_document(|port| {
        json!({"client_id": format!("http://127.0.0.1:{port}/client.json"), "client_name": "Doc Client",
               "redirect_uris": [REDIRECT]})
        .to_string()
    });
    let liar = serve_document(|_| {
        json!({"client_id": "http://127.0.0.1:1/other.json", "client_name": "Liar", "redirect_uris": [REDIRECT]})
            .to_string()
    });
    let good_id = format!("http://127.0.0.1:{good}/client.json");

    // Without LATCHKEY_CIMD_ALLOW_PRIVATE a loopback document is never fetched.
    let mut o = setup();
    let res = consent_for(&mut o, &good_id);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("special-use") || res.body.contains("https://"), "{}", res.body);

    // With it (development and tests), the document's client is shown…
    let app = TestApp::spawn_with(|c| c.cimd_allow_private = true);
    let (owner, host) = app.owner_with_host_pat();
    let res = app.client().api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "Tools", "identifier": "http://127.0.0.1:9/mcp"})),
    );
    assert_eq!(res.status, 201);
    let mut o = OAuth { app, owner, host, resource: res.json(), client_id: "unused".into() };
    let page = consent_for(&mut o, &good_id);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Doc Client"));
    // …and one whose client_id is not its own URL is refused.
    let res = consent_for(&mut o, &format!("http://127.0.0.1:{liar}/client.json"));
    assert_eq!(res.status, 400);
    assert!(res.body.contains("not the URL it was fetched from"), "{}", res.body);
}

#[test]
fn gated_registration_needs_the_workspace_registration_token() {
    let app = TestApp::spawn_with(|c| c.dcr = latchkey::config::DcrMode::Token);
    let (mut owner, host) = app.owner_with_host_pat();
    let body = json!({"redirect_uris": [REDIRECT], "client_name": "Gated"});
    let mut c = app.client();
    c.api("POST", "/oauth/register", None, Some(body.clone())).assert_error(401, "AUTH_REQUIRED");
    // A host PAT is not the registration token.
    c.api("POST", "/oauth/register", Some(&host), Some(body.clone())).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    // Minted on the OAuth clients page, shown once.
    let csrf = owner.get("/dashboard/oauth-clients").csrf();
    let page = owner.post_form("/dashboard/oauth-clients/registration-token", &[("csrf", &csrf)]);
    assert_eq!(page.status, 200);
    let start = page.body.find("lk_rg_").expect("the token is shown once");
    let token = page.body[start..start + 44].to_string();
    assert_eq!(c.api("POST", "/oauth/register", Some(&token), Some(body.clone())).status, 201);
    assert!(!owner.get("/dashboard/oauth-clients").body.contains(&token), "never shown again");
    // A new one replaces it.
    owner.post_form("/dashboard/oauth-clients/registration-token", &[("csrf", &csrf)]);
    c.api("POST", "/oauth/register", Some(&token), Some(body.clone())).assert_error(401, "AUTH_UNKNOWN_TOKEN");

    let off = TestApp::spawn_with(|c| c.dcr = latchkey::config::DcrMode::Off);
    off.client().api("POST", "/oauth/register", None, Some(body)).assert_error(404, "NOT_FOUND");
    assert!(off.client().get("/.well-known/oauth-authorization-server").json().get("registration_endpoint").is_none());
}

#[test]
fn confidential_clients_authenticate_with_an_es256_assertion() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;
    let mut o = setup();
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = key.public_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
                     "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())});
    let mut c = o.app.client();
    let res = c.api(
        "POST",
        "/oauth/register",
        None,
        Some(json!({"redirect_uris": [REDIRECT], "client_name": "Backend", "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [jwk]}})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json()["token_endpoint_auth_method"], "private_key_jwt");
    o.client_id = res.json()["client_id"].as_str().unwrap().to_string();
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes());
    let now = o.app.clock.now().0;
    let assertion = |jti: &str| {
        let claims = json!({"iss": o.client_id, "sub": o.client_id, "aud": format!("{}/oauth/token", o.app.address),
                            "iat": now, "exp": now + 60, "jti": jti});
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &encoding).unwrap()
    };
    let (a1, a2) = (assertion("one"), assertion("two"));
    let exchange = |o: &mut OAuth, assertion: Option<&str>| {
        let (verifier, challenge) = pkce();
        let code = param(&o.approve(&challenge), "code");
        let client_id = o.client_id.clone();
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id.as_str()),
            ("resource", "http://127.0.0.1:9/mcp"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ];
        if let Some(a) = assertion {
            f.push(("client_assertion", a));
        }
        let fields: Vec<(String, String)> = f.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        o.token(&refs)
    };
    exchange(&mut o, None).assert_error(401, "INVALID_CLIENT");
    assert_eq!(exchange(&mut o, Some(&a1)).status, 200);
    // The same assertion twice is a replay.
    exchange(&mut o, Some(&a1)).assert_error(401, "INVALID_CLIENT");
    assert_eq!(exchange(&mut o, Some(&a2)).status, 200);
}

#[test]
fn the_oauth_clients_page_lists_grants_registers_by_hand_and_revokes() {
    let mut o = setup();
    let (access, _) = o.tokens();
    let page = o.owner.get("/dashboard/oauth-clients");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Test MCP") && page.body.contains("aria-current=\"page\">OAuth clients"));
    let csrf = page.csrf();
    // By hand: a bad redirect keeps what was typed; a good one shows the id.
    let res = o.owner.post_form(
        "/dashboard/oauth-clients",
        &[("csrf", &csrf), ("name", "Desk"), ("redirect_uris", "http://desk.example/cb")],
    );
    assert_eq!(res.status, 400);
    assert!(res.body.contains("http://desk.example/cb</textarea>"), "{}", res.body);
    let res = o.owner.post_form(
        "/dashboard/oauth-clients",
        &[("csrf", &csrf), ("name", "Desk"), ("redirect_uris", "http://127.0.0.1:7/cb")],
    );
    assert_eq!(res.status, 200);
    assert!(res.body.contains("Desk is registered") && res.body.contains("lkc_"), "{}", res.body);
    // Revoke from the list.
    let grants = o.app.client().api("GET", "/v1/oauth/grants", Some(&o.host.clone()), None).json();
    let id = grants["items"][0]["id"].as_str().unwrap().to_string();
    let res = o.owner.post_form(&format!("/dashboard/oauth-clients/grants/{id}/revoke"), &[("csrf", &csrf)]);
    assert_eq!(res.status, 303);
    o.forward(&access).assert_error(401, "AUTH_TOKEN_REVOKED");
}

#[test]
fn an_issuer_with_a_path_serves_its_metadata_path_inserted() {
    let app = TestApp::spawn_with(|c| {
        c.public_url = "https://auth.example.com/latchkey".into();
        c.public_url_is_default = false;
    });
    let doc = app.client().get("/.well-known/oauth-authorization-server/latchkey");
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert_eq!(doc.json()["issuer"], "https://auth.example.com/latchkey");
    assert_eq!(doc.json()["token_endpoint"], "https://auth.example.com/latchkey/oauth/token");
    app.client().get("/.well-known/oauth-authorization-server/other").assert_error(404, "NOT_FOUND");
}
