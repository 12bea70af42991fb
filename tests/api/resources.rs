//! Resources and forward-auth (docs/API.md §5.7), called the way a proxy
//! calls it. The same flows through real nginx and Caddy are in `proxies`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;
use crate::signed::{Session, sign, start_session};

pub struct Guarded {
    pub app: TestApp,
    pub c: Client,
    pub host: String,
    pub agent_pat: String,
    pub resource: Value,
}

/// A workspace with a resource at `identifier`: GET /api/ for any agent
/// credential, POST /api/pay/ for signed sessions only.
pub fn guarded(identifier: &str) -> Guarded {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let agent_pat = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "fetcher"]);
    let mut c = app.client();
    let res = c.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({
            "name": "Files",
            "identifier": identifier,
            "scopes": ["files:read"],
            "rules": [
                {"methods": ["GET", "HEAD"], "path_prefix": "/api/"},
                {"methods": ["*"], "path_prefix": "/api/pay/", "require_signature": true},
            ],
        })),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let resource = res.json();
    Guarded { app, c, host, agent_pat, resource }
}

impl Guarded {
    pub fn id(&self) -> String {
        self.resource["id"].as_str().unwrap().to_string()
    }

    /// What a proxy sends for `METHOD uri` with `headers` of the client.
    pub fn check(&mut self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Response {
        let path = format!("/v1/forward-auth?resource={}", self.id());
        let mut all = vec![("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)];
        all.extend_from_slice(headers);
        self.c.send("GET", &path, &all, None)
    }
}

fn digest_of(body: &str) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sha2::Sha256::digest(body.as_bytes())))
}

/// Headers of a request signed by `s` (with a Content-Digest for a body).
pub fn signed_headers(s: &Session, method: &str, uri: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    let mut h = vec![
        ("Authorization".to_string(), format!("Bearer {}", s.jwt)),
        ("X-Agent-Timestamp".to_string(), ts.to_string()),
        ("X-Agent-Signature".to_string(), sign(&s.key, method, uri, ts, body)),
    ];
    if !body.is_empty() {
        h.push(("Content-Digest".to_string(), digest_of(body)));
    }
    h
}

pub fn as_refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn resources_are_managed_by_host_credentials_and_identifiers_are_unique() {
    let mut g = guarded("HTTPS://Files.Example.COM:443/#top");
    assert_eq!(g.resource["identifier"], "https://files.example.com/");
    assert_eq!(g.resource["scopes"], json!(["files:read"]));
    let rules = g.resource["rules"].as_array().unwrap().clone();
    assert_eq!(rules[0]["scope_types"], json!(["agent"]), "documented default");
    assert_eq!(rules[1]["require_signature"], true);
    let id = g.id();
    let host = g.host.clone();

    let res = g.c.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "x", "identifier": "https://files.example.com"})),
    );
    res.assert_error(409, "CONFLICT");
    let res = g.c.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "x", "identifier": "http://files.example.com/"})),
    );
    assert!(res.assert_error(400, "VALIDATION_FAILED")["user_message"].as_str().unwrap().contains("identifier"));
    let bad_rule = json!({"name": "x", "identifier": "https://b.example/", "rules": [{"path_prefix": "/a/../b"}]});
    let res = g.c.api("POST", "/v1/resources", Some(&host), Some(bad_rule));
    assert!(
        res.assert_error(400, "VALIDATION_FAILED")["user_message"].as_str().unwrap().contains("rules[0].path_prefix")
    );
    let typo = json!({"name": "x", "identifier": "https://b.example/", "rules": [{"require_signatur": true}]});
    g.c.api("POST", "/v1/resources", Some(&host), Some(typo)).assert_error(400, "VALIDATION_FAILED");
    let agent_pat = g.agent_pat.clone();
    g.c.api("GET", "/v1/resources", Some(&agent_pat), None).assert_error(403, "AUTH_SCOPE");

    let list = g.c.api("GET", "/v1/resources", Some(&host), None);
    assert_eq!(list.json()["items"].as_array().unwrap().len(), 1);
    let res =
        g.c.api("PATCH", &format!("/v1/resources/{id}"), Some(&host), Some(json!({"name": "Files v2", "rules": []})));
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["name"], "Files v2");
    assert_eq!(res.json()["identifier"], "https://files.example.com/");

    // Another workspace sees none of it and cannot take the identifier.
    let (_, out, _) = run_cli(
        &g.app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example"],
        None,
    );
    let ws_b = out.trim().to_string();
    run_cli(&g.app.data_dir, &["admin", "security-mode", "on", "--workspace", &ws_b], None);
    let host_b =
        g.app.mint_pat(&["--email", "hank@globex.example", "--name", "b", "--scope", "host", "--workspace", &ws_b]);
    g.c.api("GET", &format!("/v1/resources/{id}"), Some(&host_b), None).assert_error(404, "NOT_FOUND");
    g.c.api("DELETE", &format!("/v1/resources/{id}"), Some(&host_b), None).assert_error(404, "NOT_FOUND");
    let res = g.c.api(
        "POST",
        "/v1/resources",
        Some(&host_b),
        Some(json!({"name": "x", "identifier": "https://files.example.com/"})),
    );
    res.assert_error(409, "CONFLICT");

    let res = g.c.api("DELETE", &format!("/v1/resources/{id}"), Some(&host), None);
    assert_eq!(res.status, 204);
    g.c.api("GET", &format!("/v1/resources/{id}"), Some(&host), None).assert_error(404, "NOT_FOUND");
    let audit = g.c.api("GET", "/v1/audit?kind=resource.deleted", Some(&host), None);
    assert_eq!(audit.json()["items"].as_array().unwrap().len(), 1, "{}", audit.body);
}

#[test]
fn the_metadata_document_is_public_rfc_9728() {
    let mut g = guarded("https://files.example.com/");
    let res = g.c.get(&format!("/v1/resources/{}/metadata", g.id()));
    assert_eq!(res.status, 200);
    let doc = res.json();
    assert_eq!(doc["resource"], "https://files.example.com/");
    assert_eq!(doc["authorization_servers"], json!([g.app.address.clone()]));
    assert_eq!(doc["scopes_supported"], json!(["files:read"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    g.c.get("/v1/resources/nope/metadata").assert_error(404, "NOT_FOUND");
}

#[test]
fn forward_auth_passes_agent_credentials_with_identity_headers() {
    let mut g = guarded("https://files.example.com/");
    let auth = format!("Bearer {}", g.agent_pat);
    let res = g.check("GET", "/api/list?x=1", &[("Authorization", &auth)]);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("x-latchkey-agent-name"), Some("fetcher"));
    assert_eq!(res.header("x-latchkey-credential-kind"), Some("pat"));
    assert_eq!(res.header("x-latchkey-scope-type"), Some("agent"));
    assert!(res.header("x-latchkey-agent-id").is_some_and(|v| v.len() == 36));
    assert!(res.header("x-latchkey-workspace-id").is_some());
    // Every identity header is present, empty where it does not apply.
    assert_eq!(res.header("x-latchkey-content-digest"), Some(""), "nothing signed, nothing verified");
    assert_eq!(res.header("x-latchkey-user-email"), Some(""));

    // A change of the rules applies from the very next request.
    let (id, host) = (g.id(), g.host.clone());
    let tighter = json!({"rules": [{"methods": ["GET"], "path_prefix": "/api/list"}]});
    assert_eq!(g.c.api("PATCH", &format!("/v1/resources/{id}"), Some(&host), Some(tighter)).status, 200);
    assert_eq!(g.check("GET", "/api/list?x=1", &[("Authorization", &auth)]).status, 200);
    g.check("GET", "/api/x", &[("Authorization", &auth)]).assert_error(403, "AUTH_SCOPE");
    let looser = json!({"rules": [{"methods": ["GET"], "path_prefix": "/api/"}]});
    assert_eq!(g.c.api("PATCH", &format!("/v1/resources/{id}"), Some(&host), Some(looser)).status, 200);
    assert_eq!(g.check("GET", "/api/x", &[("Authorization", &auth)]).status, 200);

    // Found by host as well as by id.
    let res = g.c.send(
        "GET",
        "/v1/forward-auth",
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/api/x"),
            ("X-Forwarded-Host", "Files.Example.com:443"),
            ("X-Forwarded-Proto", "https"),
            ("Authorization", &auth),
        ],
        None,
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let res = g.c.send(
        "GET",
        "/v1/forward-auth",
        &[("X-Forwarded-Uri", "/api/x"), ("X-Forwarded-Host", "other.example"), ("Authorization", &auth)],
        None,
    );
    res.assert_error(404, "NOT_FOUND");
}

#[test]
fn forward_auth_refusals_carry_the_documented_codes_and_challenges() {
    let mut g = guarded("https://files.example.com/");
    let metadata = "resource_metadata=\"https://files.example.com/.well-known/oauth-protected-resource\"";

    let res = g.check("GET", "/api/x", &[]);
    let body = res.assert_error(401, "AUTH_REQUIRED");
    let challenge = res.header("www-authenticate").unwrap().to_string();
    assert!(challenge.starts_with("Bearer ") && challenge.contains(metadata), "{challenge}");
    assert!(challenge.contains("scope=\"files:read\"") && !challenge.contains("error="), "{challenge}");
    // The body again, as ASCII JSON in a header, for nginx.
    let copied: Value = serde_json::from_str(res.header("x-latchkey-error").unwrap()).unwrap();
    assert_eq!(copied, body);

    let res = g.check("GET", "/api/x", &[("Authorization", "Bearer lk_pat_nope")]);
    res.assert_error(401, "AUTH_UNKNOWN_TOKEN");
    assert!(res.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));

    // A host PAT is not an agent credential: a plain 403, no challenge.
    let host = format!("Bearer {}", g.host);
    let res = g.check("GET", "/api/x", &[("Authorization", &host)]);
    res.assert_error(403, "AUTH_SCOPE");
    assert_eq!(res.header("www-authenticate"), None);
    // No rule for this method and path.
    let auth = format!("Bearer {}", g.agent_pat);
    g.check("DELETE", "/api/x", &[("Authorization", &auth)]).assert_error(403, "AUTH_SCOPE");
    g.check("GET", "/elsewhere", &[("Authorization", &auth)]).assert_error(403, "AUTH_SCOPE");
    // A PAT where the rule wants a signed session; dot segments do not
    // dodge the rule.
    let body = g.check("POST", "/api/pay/1", &[("Authorization", &auth)]).assert_error(403, "SESSION_REQUIRED");
    assert_eq!(body["recovery"]["kind"], "start_session");
    g.check("POST", "/api/x/%2e%2e/pay/1", &[("Authorization", &auth)]).assert_error(403, "SESSION_REQUIRED");
    g.check("POST", "//api//pay/1", &[("Authorization", &auth)]).assert_error(403, "SESSION_REQUIRED");

    // What the proxy must send.
    let res = g.c.send("GET", &format!("/v1/forward-auth?resource={}", g.id()), &[("Authorization", &auth)], None);
    assert!(res.assert_error(400, "VALIDATION_FAILED")["user_message"].as_str().unwrap().contains("X-Forwarded-Uri"));
    g.check("GET", "/api/%zz", &[("Authorization", &auth)]).assert_error(400, "VALIDATION_FAILED");
    let res =
        g.c.send("GET", "/v1/forward-auth?resource=nope", &[("X-Forwarded-Uri", "/"), ("Authorization", &auth)], None);
    res.assert_error(404, "NOT_FOUND");
}

#[test]
fn signed_sessions_pass_through_forward_auth_with_the_declared_digest() {
    let mut g = guarded("https://files.example.com/");
    let pat = g.agent_pat.clone();
    let s = start_session(&mut g.c, &pat);
    let now = g.app.clock.now().0;

    let get = signed_headers(&s, "GET", "/api/pay/status?id=7", now, "");
    let res = g.check("GET", "/api/pay/status?id=7", &as_refs(&get));
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("x-latchkey-credential-kind"), Some("session"));
    // Nothing declared: the signature covers the empty body, and says so.
    assert_eq!(res.header("x-latchkey-content-digest"), Some(digest_of("").as_str()));
    // The same signature again.
    let body = g.check("GET", "/api/pay/status?id=7", &as_refs(&get)).assert_error(401, "SIGNATURE_REPLAYED");
    assert_eq!(body["recovery"]["kind"], "sign_request");

    let payload = r#"{"amount":"5.00"}"#;
    let post = signed_headers(&s, "POST", "/api/pay/", now, payload);
    let res = g.check("POST", "/api/pay/", &as_refs(&post));
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("x-latchkey-content-digest"), Some(digest_of(payload).as_str()));

    // The digest is what was signed: another one fails the signature.
    let mut forged = signed_headers(&s, "POST", "/api/pay/", now + 1, payload);
    forged[3].1 = digest_of("{\"amount\":\"500.00\"}");
    g.check("POST", "/api/pay/", &as_refs(&forged)).assert_error(401, "SIGNATURE_INVALID");
    // Signed for another path.
    let other = signed_headers(&s, "POST", "/api/pay/other", now + 2, "");
    g.check("POST", "/api/pay/", &as_refs(&other)).assert_error(401, "SIGNATURE_INVALID");
    let stale = signed_headers(&s, "GET", "/api/pay/x", now - 3600, "");
    g.check("GET", "/api/pay/x", &as_refs(&stale)).assert_error(401, "SIGNATURE_TIMESTAMP_SKEW");
    let jwt = format!("Bearer {}", s.jwt);
    g.check("GET", "/api/pay/x", &[("Authorization", &jwt)]).assert_error(401, "SIGNATURE_REQUIRED");
}

#[test]
fn revocation_mode_and_workspaces_apply_to_forward_auth_at_once() {
    let mut g = guarded("https://files.example.com/");
    let auth = format!("Bearer {}", g.agent_pat);
    assert_eq!(g.check("GET", "/api/x", &[("Authorization", &auth)]).status, 200);
    let pat_id = g.c.api("GET", "/v1/auth/whoami", Some(&g.agent_pat.clone()), None).json()["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Another workspace's agent credential is not a credential here.
    let (_, out, _) = run_cli(
        &g.app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example"],
        None,
    );
    let ws_b = out.trim().to_string();
    run_cli(&g.app.data_dir, &["admin", "security-mode", "on", "--workspace", &ws_b], None);
    let pat_b = g.app.mint_pat(&[
        "--email",
        "hank@globex.example",
        "--name",
        "b",
        "--scope",
        "agent",
        "--agent",
        "intruder",
        "--workspace",
        &ws_b,
    ]);
    let res = g.check("GET", "/api/x", &[("Authorization", &format!("Bearer {pat_b}"))]);
    res.assert_error(401, "AUTH_UNKNOWN_TOKEN");
    assert!(res.header("www-authenticate").unwrap().contains("invalid_token"));

    let host = g.host.clone();
    let res = g.c.api("POST", &format!("/v1/pats/{pat_id}/revoke"), Some(&host), None);
    assert_eq!(res.status, 200, "{}", res.body);
    g.check("GET", "/api/x", &[("Authorization", &auth)]).assert_error(401, "AUTH_TOKEN_REVOKED");

    let ws_a = g.resource["workspace_id"].as_str().unwrap().to_string();
    let fresh = g.app.mint_pat(&[
        "--email",
        OWNER_EMAIL,
        "--name",
        "b",
        "--scope",
        "agent",
        "--agent",
        "fetcher",
        "--workspace",
        &ws_a,
    ]);
    let (code, _, err) = run_cli(&g.app.data_dir, &["admin", "security-mode", "off", "--workspace", &ws_a], None);
    assert_eq!(code, 0, "{err}");
    let res = g.check("GET", "/api/x", &[("Authorization", &format!("Bearer {fresh}"))]);
    res.assert_error(403, "AGENT_SECURITY_MODE_OFF");
}

#[test]
fn the_dashboard_registers_a_resource_and_shows_its_snippets() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let page = owner.get("/dashboard/resources");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("aria-current=\"page\">Resources"), "in the navigation");
    let csrf = page.csrf();

    // A mistake keeps what was typed and says which line is wrong.
    let typed = [
        ("csrf", csrf.as_str()),
        ("name", "Files"),
        ("identifier", "https://files.example.com/"),
        ("scopes", "files:read"),
        ("rules", "GET,HEAD /api/\n* /api/pay/ sigend"),
    ];
    let res = owner.post_form("/dashboard/resources", &typed);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("rules, line 2"), "{}", res.body);
    assert!(res.body.contains("value=\"https://files.example.com/\"") && res.body.contains("sigend</textarea>"));

    let mut fixed = typed;
    fixed[4].1 = "GET,HEAD /api/\n* /api/pay/ signed";
    let res = owner.post_form("/dashboard/resources", &fixed);
    assert_eq!(res.status, 303, "{}", res.body);
    let location = res.header("location").unwrap().to_string();
    let page = owner.get(&location);
    assert_eq!(page.status, 200);
    let id = location.trim_start_matches("/dashboard/resources/").split('?').next().unwrap().to_string();
    assert!(page.body.contains(&format!("/v1/forward-auth?resource={id}")), "the snippets name it");
    assert!(page.body.contains("auth_request /_latchkey_auth;") && page.body.contains("forward_auth"));
    assert!(page.body.contains("forwardAuth:"));
    let api = app.client().api("GET", &format!("/v1/resources/{id}"), Some(&host), None).json();
    assert_eq!(api["rules"][1]["require_signature"], true);

    // The same identifier twice: the form comes back with the reason.
    let csrf = owner.get("/dashboard/resources").csrf();
    let mut again = fixed;
    again[0].1 = &csrf;
    let res = owner.post_form("/dashboard/resources", &again);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("already registered"), "{}", res.body);

    // Delete asks first.
    let res = owner.post_form(&format!("/dashboard/resources/{id}/delete"), &[("csrf", &csrf)]);
    assert!(res.status == 200 && res.body.contains("Yes, delete it"));
    let res = owner.post_form(&format!("/dashboard/resources/{id}/delete"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(res.status, 303);
    assert_eq!(owner.get(&format!("/dashboard/resources/{id}")).status, 404);
}

#[test]
fn with_the_mode_off_the_resources_page_is_hidden() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    assert_eq!(owner.get("/dashboard/resources").status, 404);
    assert!(!owner.get("/").body.contains("/dashboard/resources"));
}
