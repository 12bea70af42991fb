//! Workspace certificates and certificate-signed (management and delegated) JWTs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// An RS256 JWT signed by `openssl` with the certificate's private key: a
/// signer independent of the server's JWT library.
fn rs256(private_pem: &str, kid: &str, claims: &Value) -> String {
    let input = format!("{}.{}", b64(&json!({"alg": "RS256", "typ": "JWT", "kid": kid})), b64(claims));
    let dir = tempfile::TempDir::new().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, private_pem).unwrap();
    let data = dir.path().join("input");
    std::fs::write(&data, &input).unwrap();
    let out =
        std::process::Command::new("openssl").args(["dgst", "-sha256", "-sign"]).arg(&key).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(out.stdout))
}

struct Cert {
    id: String,
    kid: String,
    private_pem: String,
}

fn create_cert(c: &mut Client, host: &str) -> Cert {
    let res = c.api("POST", "/v1/certificates", Some(host), None);
    assert_eq!(res.status, 201, "{}", res.body);
    let body = res.json();
    assert_eq!(body["algorithm"], "RS256");
    assert_eq!(body["status"], "active");
    assert!(body["publicKey"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(body["createdAt"].is_string());
    let private_pem = body["privateKey"].as_str().unwrap().to_string();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    Cert { id: body["id"].as_str().unwrap().into(), kid: body["kid"].as_str().unwrap().into(), private_pem }
}

fn claims(app: &TestApp, extra: Value) -> Value {
    let now = app.clock.now().0;
    let mut c = json!({"iat": now, "exp": now + 300, "jti": hex::encode(rand::random::<[u8; 8]>())});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn a_backend_with_only_the_private_key_manages_agents_and_mints_for_its_users() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let cert = create_cert(&mut c, &host);

    // The private key is shown once: never in a list, never in the database.
    let list = c.api("GET", "/v1/certificates", Some(&host), None);
    assert!(!list.body.contains("PRIVATE KEY"));
    assert_eq!(list.json()["items"][0]["kid"], cert.kid.as_str());
    assert_eq!(c.api("GET", "/v1/certificates/active", Some(&host), None).json()["id"], cert.id.as_str());
    let key_body: String = cert.private_pem.lines().nth(1).unwrap().to_string();
    if on_postgres() {
        let stored: String =
            postgres_query_text(&app.data_dir, "SELECT string_agg(certificates::text, ' ') FROM certificates");
        assert!(stored.contains(&cert.kid) && !stored.contains(&key_body));
    } else {
        let db = std::fs::read(app.data_dir.join("latchkey.db")).unwrap();
        assert!(!String::from_utf8_lossy(&db).contains(&key_body));
    }

    // The public half, without authentication, as PEM and JWK; kid = RFC 7638.
    let public = c.get(&format!("/v1/certificates/public/{}", cert.kid)).json();
    let (n, e) = (public["jwk"]["n"].as_str().unwrap(), public["jwk"]["e"].as_str().unwrap());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    assert_eq!(cert.kid, URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes())));
    assert!(public["publicKey"].as_str().unwrap().contains("PUBLIC KEY"));

    // Management: workspace-level, no user.
    let mgmt = rs256(&cert.private_pem, &cert.kid, &claims(&app, json!({})));
    let who = c.api("GET", "/v1/auth/whoami", Some(&mgmt), None).json();
    assert_eq!(who["credential"]["kind"], "certificate_jwt");
    assert!(who["user"].is_null());
    let agent = c.api("POST", "/v1/agents", Some(&mgmt), Some(json!({"name": "backend-made"})));
    assert_eq!(agent.status, 201, "{}", agent.body);
    assert_eq!(c.api("GET", "/v1/agents", Some(&mgmt), None).json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(c.api("GET", "/v1/pats", Some(&mgmt), None).status, 200, "every PAT's metadata");
    c.api("POST", "/v1/pats", Some(&mgmt), Some(json!({"name": "x", "scope_type": "host"})))
        .assert_error(403, "DELEGATION_REQUIRED");

    // Delegated: acts as the end user, who is created on first use.
    let delegated = rs256(
        &cert.private_pem,
        &cert.kid,
        &claims(&app, json!({"email": "Ada@Customer.example", "firstName": "Ada", "lastName": "Lovelace"})),
    );
    let who = c.api("GET", "/v1/auth/whoami", Some(&delegated), None).json();
    assert_eq!(who["user"]["email"], "ada@customer.example");
    assert_eq!(who["user"]["name"], "Ada Lovelace");
    assert_eq!(who["user"]["role"], "member");
    assert_eq!(who["user"]["instance_admin"], false);
    let pat = c.api(
        "POST",
        "/v1/pats",
        Some(&delegated),
        Some(json!({"name": "ada's bot", "scope_type": "agent", "agent_name": "ada-bot", "create_agent": true})),
    );
    assert_eq!(pat.status, 201, "{}", pat.body);
    let token = pat.json()["token"].as_str().unwrap().to_string();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&token), None).json()["user"]["email"], "ada@customer.example");
    // Names follow the latest token.
    let renamed = rs256(
        &cert.private_pem,
        &cert.kid,
        &claims(&app, json!({"email": "ada@customer.example", "firstName": "Augusta", "lastName": "King"})),
    );
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&renamed), None).json()["user"]["name"], "Augusta King");
    // A member's delegated JWT cannot manage certificates.
    c.api("POST", "/v1/certificates", Some(&delegated), None).assert_error(403, "AUTH_SCOPE");
}

#[test]
fn certificate_jwts_are_refused_when_anything_is_off() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let cert = create_cert(&mut c, &host);
    let now = app.clock.now().0;

    let too_long = rs256(&cert.private_pem, &cert.kid, &json!({"iat": now, "exp": now + 3601}));
    c.api("GET", "/v1/auth/whoami", Some(&too_long), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    let expired = rs256(&cert.private_pem, &cert.kid, &json!({"iat": now - 600, "exp": now - 300}));
    c.api("GET", "/v1/auth/whoami", Some(&expired), None).assert_error(401, "AUTH_TOKEN_EXPIRED");
    let no_exp = rs256(&cert.private_pem, &cert.kid, &json!({"iat": now}));
    c.api("GET", "/v1/auth/whoami", Some(&no_exp), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    let unknown_kid = rs256(&cert.private_pem, "not-a-kid", &claims(&app, json!({})));
    c.api("GET", "/v1/auth/whoami", Some(&unknown_kid), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");

    // The classic algorithm confusion: HS256 keyed with the PEM public key.
    let public_pem =
        c.get(&format!("/v1/certificates/public/{}", cert.kid)).json()["publicKey"].as_str().unwrap().to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(cert.kid.clone());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(&app, json!({})),
        &jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    c.api("GET", "/v1/auth/whoami", Some(&confused), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": cert.kid})), b64(&claims(&app, json!({}))));
    c.api("GET", "/v1/auth/whoami", Some(&none), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");

    // Revoked, then deleted: refused at once.
    let good = rs256(&cert.private_pem, &cert.kid, &claims(&app, json!({})));
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&good), None).status, 200);
    assert_eq!(
        c.api("POST", &format!("/v1/certificates/{}/revoke", cert.id), Some(&host), None).json()["status"],
        "revoked"
    );
    let json = c.api("GET", "/v1/auth/whoami", Some(&good), None).assert_error(401, "CERTIFICATE_REVOKED");
    assert_eq!(json["recovery"]["kind"], "reauthenticate");
    let second = create_cert(&mut c, &host);
    let good = rs256(&second.private_pem, &second.kid, &claims(&app, json!({})));
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&good), None).status, 200);
    assert_eq!(c.api("DELETE", &format!("/v1/certificates/{}", second.id), Some(&host), None).status, 204);
    c.api("GET", "/v1/auth/whoami", Some(&good), None).assert_error(401, "CERTIFICATE_REVOKED");
    c.get(&format!("/v1/certificates/public/{}", second.kid)).assert_error(404, "NOT_FOUND");
}

#[test]
fn another_workspaces_certificate_cannot_reach_this_workspace() {
    let app = TestApp::spawn();
    let (_, host_a) = app.owner_with_host_pat();
    let mut c = app.client();
    let agent_a = c.api("POST", "/v1/agents", Some(&host_a), Some(json!({"name": "alpha"}))).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, out, _) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example", "--password-stdin"],
        Some("globex owner password\n"),
    );
    let ws_b = out.trim().to_string();
    run_cli(&app.data_dir, &["admin", "security-mode", "on", "--workspace", &ws_b], None);
    let host_b =
        app.mint_pat(&["--email", "hank@globex.example", "--name", "b", "--scope", "host", "--workspace", &ws_b]);
    let cert_b = create_cert(&mut c, &host_b);
    let mgmt_b = rs256(&cert_b.private_pem, &cert_b.kid, &claims(&app, json!({})));
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&mgmt_b), None).json()["workspace"]["id"], ws_b.as_str());
    c.api("GET", &format!("/v1/agents/{agent_a}"), Some(&mgmt_b), None).assert_error(404, "NOT_FOUND");
    c.api("POST", &format!("/v1/agents/{agent_a}/disable"), Some(&mgmt_b), None).assert_error(404, "NOT_FOUND");
    // Workspace B cannot speak for workspace A's owner: naming that email
    // gets B its own identity (the same answer as for an unknown email, so
    // B learns nothing), and A's owner is neither renamed nor made a member.
    let as_owner_a = rs256(
        &cert_b.private_pem,
        &cert_b.kid,
        &claims(&app, json!({"email": OWNER_EMAIL, "firstName": "Mallory", "lastName": "M"})),
    );
    let in_b = c.api("GET", "/v1/auth/whoami", Some(&as_owner_a), None);
    assert_eq!(in_b.status, 200, "{}", in_b.body);
    let in_b = in_b.json();
    assert_eq!(in_b["workspace"]["id"], ws_b.as_str());
    assert_eq!(in_b["user"]["role"], "member");
    let me = c.api("GET", "/v1/auth/whoami", Some(&host_a), None).json();
    assert_ne!(me["user"]["name"], "Mallory M");
    assert_ne!(me["user"]["id"], in_b["user"]["id"], "a different user");
    let (_, mut owner) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    assert!(!owner.get("/").body.contains("Globex"), "not a member of workspace B");
    // Lifetimes that overflow are refused, not wrapped.
    let wrapped = rs256(&cert_b.private_pem, &cert_b.kid, &json!({"iat": -10, "exp": i64::MAX - 10}));
    c.api("GET", "/v1/auth/whoami", Some(&wrapped), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
}

#[test]
fn delegated_credentials_never_make_instance_admins() {
    let app = TestApp::spawn_with(|c| c.superadmin_domain = Some("example.com".into()));
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&host), None).json()["user"]["instance_admin"], true);
    let cert = create_cert(&mut c, &host);
    // An auto-provisioned user of the super-admin domain is not an instance admin…
    let new_user = rs256(&cert.private_pem, &cert.kid, &claims(&app, json!({"email": "intern@example.com"})));
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&new_user), None).json()["user"]["instance_admin"], false);
    // …and a delegated JWT naming the real instance admin carries no such right.
    let as_admin = rs256(&cert.private_pem, &cert.kid, &claims(&app, json!({"email": OWNER_EMAIL})));
    let who = c.api("GET", "/v1/auth/whoami", Some(&as_admin), None).json();
    assert_eq!(who["user"]["email"], OWNER_EMAIL);
    assert_eq!(who["user"]["instance_admin"], false);
    // Nor does a PAT the delegated credential mints for that admin.
    let minted = c.api("POST", "/v1/pats", Some(&as_admin), Some(json!({"name": "via backend", "scope_type": "host"})));
    assert_eq!(minted.status, 201, "{}", minted.body);
    let token = minted.json()["token"].as_str().unwrap().to_string();
    let who = c.api("GET", "/v1/auth/whoami", Some(&token), None).json();
    assert_eq!(who["user"]["email"], OWNER_EMAIL);
    assert_eq!(who["user"]["instance_admin"], false);
    // The auto-provisioned user has no password: it cannot log in.
    assert_eq!(app.login("intern@example.com", "").0.status, 401);
}

#[test]
fn the_dashboard_creates_revokes_and_deletes_certificates() {
    let app = TestApp::spawn();
    let (mut owner, _) = app.owner_with_host_pat();
    let page = owner.get("/dashboard/certificates");
    assert_eq!(page.status, 200);
    assert!(owner.get("/").body.contains("href=\"/dashboard/certificates\""));
    let created = owner.post_form("/dashboard/certificates", &[("csrf", &page.csrf())]);
    assert_eq!(created.status, 303, "{}", created.body);
    let location = created.header("location").unwrap().to_string();
    let created = owner.get(&location);
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("-----BEGIN PRIVATE KEY-----"));
    assert!(
        created.body.contains("data-download=\"private-key\"") && created.body.contains("only time Latchkey shows it")
    );
    // A reload shows the key no more and makes no second one.
    let reload = owner.get(&location);
    assert_eq!(reload.status, 303);
    let shown = owner.get(reload.header("location").unwrap());
    assert!(shown.body.contains("shown once") && !shown.body.contains("PRIVATE KEY"));
    assert_eq!(shown.body.matches("action=\"/dashboard/certificates/").count() / 2, 1, "{}", shown.body);
    let list = owner.get("/dashboard/certificates");
    assert!(!list.body.contains("PRIVATE KEY"));
    let marker = "action=\"/dashboard/certificates/";
    let start = list.body.find(marker).unwrap() + marker.len();
    let id = list.body[start..start + 36].to_string();
    let csrf = list.csrf();

    assert_eq!(owner.post_form(&format!("/dashboard/certificates/{id}/revoke"), &[("csrf", &csrf)]).status, 303);
    assert!(owner.get("/dashboard/certificates").body.contains("revoked"));
    let ask = owner.post_form(&format!("/dashboard/certificates/{id}/delete"), &[("csrf", &csrf)]);
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("irreversible"));
    let done = owner.post_form(&format!("/dashboard/certificates/{id}/delete"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(done.status, 303);
    assert!(owner.get("/dashboard/certificates").body.contains("No certificate yet"));

    run_cli(&app.data_dir, &["admin", "security-mode", "off"], None);
    assert_eq!(owner.get("/dashboard/certificates").status, 404);
    assert!(!owner.get("/").body.contains("/dashboard/certificates"));
}

#[test]
fn key_generation_is_limited_per_workspace() {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    for _ in 0..10 {
        assert_eq!(c.api("POST", "/v1/certificates", Some(&host), None).status, 201);
    }
    let res = c.api("POST", "/v1/certificates", Some(&host), None);
    let err = res.assert_error(429, "RATE_LIMITED");
    assert_eq!(err["recovery"]["kind"], "retry_later");
    assert!(res.header("retry-after").is_some());
}

#[test]
fn a_delegated_identity_belongs_to_its_workspace_alone() {
    let app = TestApp::spawn();
    let (_, host_a) = app.owner_with_host_pat();
    let mut c = app.client();
    let (_, out, _) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example", "--password-stdin"],
        Some("globex owner password\n"),
    );
    let ws_b = out.trim().to_string();
    run_cli(&app.data_dir, &["admin", "security-mode", "on", "--workspace", &ws_b], None);
    let host_b =
        app.mint_pat(&["--email", "hank@globex.example", "--name", "b", "--scope", "host", "--workspace", &ws_b]);
    let (cert_a, cert_b) = (create_cert(&mut c, &host_a), create_cert(&mut c, &host_b));
    let as_ = |cert: &Cert, body: Value| rs256(&cert.private_pem, &cert.kid, &claims(&app, body));

    // A provisions pat@shared.example with a name only A should ever show.
    let who_a = c
        .api(
            "GET",
            "/v1/auth/whoami",
            Some(&as_(&cert_a, json!({"email": "pat@shared.example", "firstName": "Secret", "lastName": "Project"}))),
            None,
        )
        .json();
    assert_eq!(who_a["user"]["name"], "Secret Project");
    // B naming the same email gets its own user, without A's name…
    let who_b = c.api("GET", "/v1/auth/whoami", Some(&as_(&cert_b, json!({"email": "pat@shared.example"}))), None);
    assert_eq!(who_b.status, 200, "{}", who_b.body);
    let who_b = who_b.json();
    assert_ne!(who_b["user"]["id"], who_a["user"]["id"]);
    assert_ne!(who_b["user"]["name"], "Secret Project");
    // …and renaming it in B leaves A's untouched.
    c.api(
        "GET",
        "/v1/auth/whoami",
        Some(&as_(&cert_b, json!({"email": "pat@shared.example", "firstName": "Other"}))),
        None,
    );
    let again_a =
        c.api("GET", "/v1/auth/whoami", Some(&as_(&cert_a, json!({"email": "pat@shared.example"}))), None).json();
    assert_eq!(again_a["user"]["id"], who_a["user"]["id"]);
    assert_eq!(again_a["user"]["name"], "Secret Project");
    // A password account elsewhere and an unknown email answer alike.
    let hank = c.api("GET", "/v1/auth/whoami", Some(&as_(&cert_a, json!({"email": "hank@globex.example"}))), None);
    let nobody = c.api("GET", "/v1/auth/whoami", Some(&as_(&cert_a, json!({"email": "nobody@nowhere.example"}))), None);
    assert_eq!((hank.status, nobody.status), (200, 200));
    // And hank's own login is untouched, still owner of B only.
    let (res, _) = app.login("hank@globex.example", "globex owner password");
    assert_eq!(res.status, 303);
}

/// A certificate may carry a name (which backend holds its key), given at
/// creation in the API or the dashboard and shown wherever it is listed;
/// a bad name or body is refused before any key is generated.
#[test]
fn certificates_carry_a_name() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let named = c.api("POST", "/v1/certificates", Some(&host), Some(json!({"name": "  billing backend "})));
    assert_eq!(named.status, 201, "{}", named.body);
    assert_eq!(named.json()["name"], "billing backend");
    let unnamed = c.api("POST", "/v1/certificates", Some(&host), None);
    assert_eq!(unnamed.status, 201);
    assert_eq!(unnamed.json()["name"], "");
    let listed = c.api("GET", "/v1/certificates", Some(&host), None).json();
    assert!(listed["items"].as_array().unwrap().iter().any(|i| i["name"] == "billing backend"));

    c.api("POST", "/v1/certificates", Some(&host), Some(json!({"name": "a\u{7}b"})))
        .assert_error(400, "VALIDATION_FAILED");
    c.api("POST", "/v1/certificates", Some(&host), Some(json!({"name": "x".repeat(101)})))
        .assert_error(400, "VALIDATION_FAILED");
    c.api("POST", "/v1/certificates", Some(&host), Some(json!(["not", "an", "object"])))
        .assert_error(400, "INVALID_JSON");
    let count = c.api("GET", "/v1/certificates", Some(&host), None).json()["items"].as_array().unwrap().len();
    assert_eq!(count, 2, "nothing was created by the refused requests");

    let csrf = owner.get("/dashboard/certificates").csrf();
    let res = owner.post_form("/dashboard/certificates", &[("csrf", &csrf), ("name", "deploy runner")]);
    assert_eq!(res.status, 303);
    let shown = owner.get(res.header("location").unwrap());
    assert!(shown.body.contains("deploy runner · Kid:"), "{}", shown.body);
    let list = owner.get("/dashboard/certificates").body;
    assert!(list.contains("<td>deploy runner</td>") && list.contains("<td>billing backend</td>"));
    assert!(list.contains("unnamed"));
}
