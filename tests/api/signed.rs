//! The hardened agent path: key-bound sessions, signed requests, checkouts
//! under daily caps.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;

pub struct Session {
    pub jwt: String,
    pub id: String,
    pub key: SigningKey,
}

pub fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

pub fn start_session(c: &mut Client, pat: &str) -> Session {
    let key = new_key();
    let pubkey = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let res = c.api(
        "POST",
        "/api/agent/auth/pat",
        None,
        Some(json!({"token": pat, "session_pubkey": pubkey, "label": "test"})),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    Session { jwt: body["jwt"].as_str().unwrap().into(), id: body["session_id"].as_str().unwrap().into(), key }
}

fn sha_hex(body: &str) -> String {
    hex::encode(sha2::Sha256::digest(body.as_bytes()))
}

/// Signs `METHOD\nPATH\nTS\nSHA256(body)` with `key`.
pub fn sign(key: &SigningKey, method: &str, path: &str, ts: i64, body: &str) -> String {
    let canonical = format!("{method}\n{path}\n{ts}\n{}", sha_hex(body));
    STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes())
}

pub fn signed_send(
    c: &mut Client,
    s: &Session,
    method: &str,
    path: &str,
    body: &str,
    ts: i64,
    extra: &[(&str, &str)],
) -> Response {
    let sig = sign(&s.key, method, path, ts, body);
    let auth = format!("Bearer {}", s.jwt);
    let ts = ts.to_string();
    let mut headers =
        vec![("Authorization", auth.as_str()), ("X-Agent-Timestamp", ts.as_str()), ("X-Agent-Signature", sig.as_str())];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    headers.extend_from_slice(extra);
    c.send(method, path, &headers, (!body.is_empty()).then(|| body.to_string()))
}

fn checkout(app: &TestApp, c: &mut Client, s: &Session, amount: &str, description: &str) -> Response {
    let body = json!({"amount_usd": amount, "description": description}).to_string();
    signed_send(c, s, "POST", "/api/agent/checkout/create", &body, app.clock.now().0, &[])
}

fn setup(cap: &str) -> (TestApp, Client, String, String) {
    let app = TestApp::spawn();
    let (owner, host) = app.owner_with_host_pat();
    let pat =
        app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "buyer", "--cap", cap]);
    drop(owner);
    let c = app.client();
    (app, c, host, pat)
}

#[test]
fn an_agent_goes_from_a_pat_to_a_signed_checkout() {
    let (app, mut c, host, pat) = setup("10.00");
    let s = start_session(&mut c, &pat);
    let res = checkout(&app, &mut c, &s, "5.50", "coffee");
    assert_eq!(res.status, 201, "{}", res.body);
    let co = res.json();
    assert_eq!(co["status"], "authorized");
    assert_eq!(co["amount_usd"], "5.50");
    assert_eq!(co["description"], "coffee");
    assert_eq!(co["agent_name"], "buyer");
    assert_eq!(co["spent_today_usd"], "5.50");
    assert_eq!(co["daily_cap_usd"], "10.00");
    assert!(co["reference"].is_null());
    for f in ["id", "agent_id", "pat_id", "created_at"] {
        assert!(co[f].is_string(), "{f}: {co}");
    }

    // Signed whoami shows the session.
    let who = signed_send(&mut c, &s, "GET", "/v1/auth/whoami?x=1&y=%20z", "", app.clock.now().0, &[]);
    assert_eq!(who.status, 200, "{}", who.body);
    let who = who.json();
    assert_eq!(who["credential"]["kind"], "session");
    assert_eq!(who["credential"]["id"], s.id.as_str());
    assert_eq!(who["bound_agent"]["agent_name"], "buyer");

    // Hosts and services see it.
    let list = c.api("GET", "/v1/checkouts", Some(&host), None).json();
    assert_eq!(list["items"][0]["id"], co["id"]);
    assert_eq!(list["items"][0]["agent_name"], "buyer");
    let service = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "rs", "--scope", "service"]);
    assert_eq!(c.api("GET", "/v1/checkouts", Some(&service), None).json()["items"].as_array().unwrap().len(), 1);
    c.api("GET", "/v1/checkouts", Some(&pat), None).assert_error(403, "AUTH_SCOPE");
}

#[test]
fn the_session_jwt_is_bound_to_the_key_by_thumbprint() {
    let (_app, mut c, _, pat) = setup("10.00");
    let key = new_key();
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let res = c.api(
        "POST",
        "/api/agent/auth/pat",
        None,
        Some(json!({"token": pat, "session_pubkey": {"kty": "OKP", "crv": "Ed25519", "x": x}})),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let jkt = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(body["key_thumbprint"], jkt.as_str());
    let jwt = body["jwt"].as_str().unwrap();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["cnf"]["jkt"], jkt.as_str());
    assert_eq!(claims["sub"], body["agent_id"]);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
}

#[test]
fn only_agent_pats_start_sessions_and_keys_are_checked() {
    let (_app, mut c, host, pat) = setup("10.00");
    let pubkey = URL_SAFE_NO_PAD.encode(new_key().verifying_key().to_bytes());
    let json = c
        .api("POST", "/api/agent/auth/pat", None, Some(json!({"token": host, "session_pubkey": pubkey})))
        .assert_error(403, "USE_AGENT_PAT");
    assert_eq!(json["recovery"]["kind"], "use_agent_pat");
    for bad in [
        json!("not-a-key"),
        json!(42),
        json!({"kty": "EC", "crv": "P-256", "x": pubkey}),
        json!(URL_SAFE_NO_PAD.encode([7u8; 31])),
    ] {
        c.api("POST", "/api/agent/auth/pat", None, Some(json!({"token": pat, "session_pubkey": bad})))
            .assert_error(400, "INVALID_PUBLIC_KEY");
    }
    c.api("POST", "/api/agent/auth/pat", None, Some(json!({"token": pat}))).assert_error(400, "VALIDATION_FAILED");
    c.api("POST", "/api/agent/auth/pat", None, Some(json!({"token": "lk_pat_nope", "session_pubkey": pubkey})))
        .assert_error(401, "AUTH_UNKNOWN_TOKEN");
}

#[test]
fn pats_and_unbound_jwts_cannot_check_out() {
    let (app, mut c, _, pat) = setup("10.00");
    let body = json!({"amount_usd": "1.00", "description": "x"});
    let json = c
        .api("POST", "/api/agent/checkout/create", Some(&pat), Some(body.clone()))
        .assert_error(403, "SESSION_REQUIRED");
    assert_eq!(json["recovery"]["kind"], "start_session");
    assert_eq!(json["recovery"]["session_endpoint"], "/api/agent/auth/pat");
    let jwt = c.api("POST", "/v1/auth/exchange", Some(&pat), None).json()["access_token"].as_str().unwrap().to_string();
    c.api("POST", "/api/agent/checkout/create", Some(&jwt), Some(body)).assert_error(403, "SESSION_REQUIRED");
    assert!(!app.address.is_empty());
}

fn assert_sign_request(res: &Response, code: &str, sent_body: &str, app: &TestApp) {
    let json = res.assert_error(401, code);
    let r = &json["recovery"];
    assert_eq!(r["kind"], "sign_request", "{json}");
    assert_eq!(r["canonical_format"], "METHOD\nPATH\nTIMESTAMP\nSHA256_HEX_OF_RAW_BODY");
    assert_eq!(r["server_body_sha256"], sha_hex(sent_body).as_str());
    assert!((r["server_time"].as_i64().unwrap() - app.clock.now().0).abs() <= 2);
}

#[test]
fn every_signature_mistake_is_refused_with_a_way_to_debug_it() {
    let (app, mut c, _, pat) = setup("100.00");
    // Exactly 301 s off must not become 300 s when a second ticks.
    app.clock.freeze();
    let s = start_session(&mut c, &pat);
    let path = "/api/agent/checkout/create";
    let body = json!({"amount_usd": "1.00", "description": "x"}).to_string();
    let now = app.clock.now().0;
    let auth = format!("Bearer {}", s.jwt);

    // No signature at all.
    let res =
        c.send("POST", path, &[("Authorization", &auth), ("Content-Type", "application/json")], Some(body.clone()));
    assert_sign_request(&res, "SIGNATURE_REQUIRED", &body, &app);

    let send = |c: &mut Client, method: &str, sent_path: &str, sent_body: &str, ts: i64, sig: &str| {
        let ts = ts.to_string();
        c.send(
            method,
            sent_path,
            &[
                ("Authorization", &auth),
                ("X-Agent-Timestamp", &ts),
                ("X-Agent-Signature", sig),
                ("Content-Type", "application/json"),
            ],
            Some(sent_body.to_string()),
        )
    };
    // Signed by another key.
    let other = sign(&new_key(), "POST", path, now, &body);
    assert_sign_request(&send(&mut c, "POST", path, &body, now, &other), "SIGNATURE_INVALID", &body, &app);
    // Body tampered after signing.
    let good = sign(&s.key, "POST", path, now, &body);
    let tampered = body.replace("1.00", "9.00");
    assert_sign_request(&send(&mut c, "POST", path, &tampered, now, &good), "SIGNATURE_INVALID", &tampered, &app);
    // Signed for another path (the query string counts).
    let wrong_path = sign(&s.key, "POST", "/api/agent/checkout/create?x=1", now, &body);
    assert_sign_request(&send(&mut c, "POST", path, &body, now, &wrong_path), "SIGNATURE_INVALID", &body, &app);
    // Signed for another method.
    let wrong_method = sign(&s.key, "PUT", path, now, &body);
    assert_sign_request(&send(&mut c, "POST", path, &body, now, &wrong_method), "SIGNATURE_INVALID", &body, &app);
    // Garbage.
    assert_sign_request(&send(&mut c, "POST", path, &body, now, "!!!"), "SIGNATURE_INVALID", &body, &app);
    // 301 seconds old, and 301 ahead.
    for ts in [now - 301, now + 301] {
        let sig = sign(&s.key, "POST", path, ts, &body);
        assert_sign_request(&send(&mut c, "POST", path, &body, ts, &sig), "SIGNATURE_TIMESTAMP_SKEW", &body, &app);
    }
    // A timestamp at the edge of i64 is skew, not an overflow.
    let sig = sign(&s.key, "POST", path, i64::MIN, &body);
    assert_sign_request(&send(&mut c, "POST", path, &body, i64::MIN, &sig), "SIGNATURE_TIMESTAMP_SKEW", &body, &app);
    // The real thing passes once, then is a replay.
    let ok = send(&mut c, "POST", path, &body, now, &good);
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_sign_request(&send(&mut c, "POST", path, &body, now, &good), "SIGNATURE_REPLAYED", &body, &app);
    // URL-safe unpadded signatures are accepted.
    let ts = now + 1;
    let url_safe =
        sign(&s.key, "POST", path, ts, &body).replace('+', "-").replace('/', "_").trim_end_matches('=').to_string();
    assert_eq!(send(&mut c, "POST", path, &body, ts, &url_safe).status, 201);
    // Only one real checkout per valid signature: two in all.
    let host = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "h2", "--scope", "host"]);
    assert_eq!(c.api("GET", "/v1/checkouts", Some(&host), None).json()["items"].as_array().unwrap().len(), 2);
}

#[test]
fn fifty_concurrent_checkouts_never_beat_the_cap() {
    let (app, mut c, host, pat) = setup("5.00");
    let s = std::sync::Arc::new(start_session(&mut c, &pat));
    let now = app.clock.now().0;
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            let mut client = app.client();
            std::thread::spawn(move || {
                let body = json!({"amount_usd": "1.00", "description": format!("race {i}")}).to_string();
                signed_send(&mut client, &s, "POST", "/api/agent/checkout/create", &body, now, &[])
            })
        })
        .collect();
    let results: Vec<Response> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(ok, 5, "exactly the cap's worth succeeds");
    for r in results.iter().filter(|r| r.status != 201) {
        r.assert_error(429, "SPEND_CAP_EXCEEDED");
    }
    let list = c.api("GET", "/v1/checkouts?limit=200", Some(&host), None).json();
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
}

#[test]
fn over_the_cap_the_answer_says_how_to_raise_it() {
    let (app, mut c, host, pat) = setup("5.00");
    let s = start_session(&mut c, &pat);
    assert_eq!(checkout(&app, &mut c, &s, "4.00", "first").status, 201);
    let res = checkout(&app, &mut c, &s, "5.50", "second");
    let json = res.assert_error(429, "SPEND_CAP_EXCEEDED");
    let r = &json["recovery"];
    assert_eq!(r["kind"], "raise_pat_cap");
    assert_eq!(r["current_cap_usd"], "5.00");
    assert_eq!(r["attempted_amount_usd"], "5.50");
    assert_eq!(r["spent_today_usd"], "4.00");
    let pat_id =
        c.api("GET", "/v1/auth/whoami", Some(&pat), None).json()["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(r["settings_url"], format!("{}/dashboard/tokens/{pat_id}", app.address).as_str());
    let resets = r["resets_at"].as_str().unwrap();
    assert!(resets.ends_with("T00:00:00Z"), "{resets}");

    // Raising the cap lets it through; a new session does not reset the spend.
    c.api("PATCH", &format!("/v1/pats/{pat_id}"), Some(&host), Some(json!({"daily_cap_usd": "9.50"})));
    let s2 = start_session(&mut c, &pat);
    let ok = checkout(&app, &mut c, &s2, "5.50", "second");
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.json()["spent_today_usd"], "9.50");
    checkout(&app, &mut c, &s2, "0.01", "third").assert_error(429, "SPEND_CAP_EXCEEDED");
}

#[test]
fn the_cap_resets_at_utc_midnight() {
    let (app, mut c, _, pat) = setup("2.00");
    app.clock.freeze();
    let s = start_session(&mut c, &pat);
    assert_eq!(checkout(&app, &mut c, &s, "2.00", "all of it").status, 201);
    checkout(&app, &mut c, &s, "1.00", "more").assert_error(429, "SPEND_CAP_EXCEEDED");
    let now = app.clock.now().0;
    app.clock.advance(86_400 - now.rem_euclid(86_400));
    // The old session has expired meanwhile; a new one spends again.
    checkout(&app, &mut c, &s, "1.00", "stale").assert_error(401, "AUTH_TOKEN_EXPIRED");
    let s = start_session(&mut c, &pat);
    let res = checkout(&app, &mut c, &s, "1.00", "new day");
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json()["spent_today_usd"], "1.00");
}

#[test]
fn an_idempotency_key_never_charges_twice() {
    let (app, mut c, _, pat) = setup("10.00");
    let s = start_session(&mut c, &pat);
    let path = "/api/agent/checkout/create";
    let body = json!({"amount_usd": "3.00", "description": "once"}).to_string();
    let key = [("Idempotency-Key", "order-42")];
    let now = app.clock.now().0;
    let first = signed_send(&mut c, &s, "POST", path, &body, now, &key);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = signed_send(&mut c, &s, "POST", path, &body, now + 1, &key);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.json()["spent_today_usd"], "3.00", "not charged twice");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = json!({"amount_usd": "4.00", "description": "once"}).to_string();
    signed_send(&mut c, &s, "POST", path, &other, now + 2, &key).assert_error(409, "IDEMPOTENCY_MISMATCH");
    let next = signed_send(&mut c, &s, "POST", path, &other, now + 3, &[("Idempotency-Key", "order-43")]);
    assert_eq!(next.json()["spent_today_usd"], "7.00");
}

#[test]
fn bad_amounts_are_refused() {
    let (app, mut c, _, pat) = setup("10.00");
    let s = start_session(&mut c, &pat);
    let now = app.clock.now().0;
    for (i, amount) in [
        json!("0"),
        json!("0.00"),
        json!("5.555"),
        json!(5.5),
        json!("-1"),
        json!("1000000.01"),
        json!("abc"),
        Value::Null,
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"amount_usd": amount, "description": "x"}).to_string();
        signed_send(&mut c, &s, "POST", "/api/agent/checkout/create", &body, now + i as i64, &[])
            .assert_error(400, "INVALID_AMOUNT");
    }
    let body = json!({"amount_usd": "1.00"}).to_string();
    signed_send(&mut c, &s, "POST", "/api/agent/checkout/create", &body, now + 20, &[])
        .assert_error(400, "VALIDATION_FAILED");
    signed_send(&mut c, &s, "POST", "/api/agent/checkout/create", "{oops", now + 21, &[])
        .assert_error(400, "INVALID_JSON");
}

#[test]
fn revoking_disabling_ending_and_mode_off_each_stop_the_next_signed_request() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let mint =
        |agent: &str| app.mint_pat(&["--email", OWNER_EMAIL, "--name", agent, "--scope", "agent", "--agent", agent]);
    let whoami = |c: &mut Client, s: &Session, ts: i64| signed_send(c, s, "GET", "/v1/auth/whoami", "", ts, &[]);

    // Revoke the PAT.
    let pat = mint("one");
    let s = start_session(&mut c, &pat);
    assert_eq!(whoami(&mut c, &s, app.clock.now().0).status, 200);
    let id = c.api("GET", "/v1/auth/whoami", Some(&pat), None).json()["credential"]["id"].as_str().unwrap().to_string();
    c.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None);
    whoami(&mut c, &s, app.clock.now().0 + 1).assert_error(401, "AUTH_TOKEN_REVOKED");

    // Disable the agent.
    let pat = mint("two");
    let s = start_session(&mut c, &pat);
    let agent = c.api("GET", "/v1/auth/whoami", Some(&pat), None).json()["bound_agent"]["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    c.api("POST", &format!("/v1/agents/{agent}/disable"), Some(&host), None);
    whoami(&mut c, &s, app.clock.now().0).assert_error(403, "AGENT_DISABLED");
    c.api("POST", &format!("/v1/agents/{agent}/enable"), Some(&host), None);
    whoami(&mut c, &s, app.clock.now().0 + 1).assert_error(401, "AUTH_TOKEN_REVOKED");
    assert!(!owner.get(&format!("/dashboard/agents/{agent}")).body.contains(&s.id), "disabling ended the session");

    // End the session from the agent's dashboard page.
    let pat = mint("three");
    let s = start_session(&mut c, &pat);
    let agent = c.api("GET", "/v1/auth/whoami", Some(&pat), None).json()["bound_agent"]["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = owner.get(&format!("/dashboard/agents/{agent}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&s.id), "the live session is listed");
    let res = owner.post_form(&format!("/dashboard/agents/{agent}/sessions/{}/end", s.id), &[("csrf", &page.csrf())]);
    assert_eq!(res.status, 303);
    assert!(!owner.get(&format!("/dashboard/agents/{agent}")).body.contains(&s.id));
    whoami(&mut c, &s, app.clock.now().0).assert_error(401, "AUTH_TOKEN_REVOKED");

    // Agent Security Mode off.
    let pat = mint("four");
    let s = start_session(&mut c, &pat);
    run_cli(&app.data_dir, &["admin", "security-mode", "off"], None);
    whoami(&mut c, &s, app.clock.now().0).assert_error(403, "AGENT_SECURITY_MODE_OFF");
    run_cli(&app.data_dir, &["admin", "security-mode", "on"], None);
    assert_eq!(whoami(&mut c, &s, app.clock.now().0 + 1).status, 200, "and back");

    // Expiry.
    app.clock.advance(901);
    whoami(&mut c, &s, app.clock.now().0).assert_error(401, "AUTH_TOKEN_EXPIRED");
}

#[test]
fn the_overview_lists_checkouts_and_todays_spend_against_the_cap() {
    let app = TestApp::spawn();
    let (mut owner, _) = app.owner_with_host_pat();
    assert!(owner.get("/").body.contains("No checkout yet"));
    let pat = app.mint_pat(&[
        "--email",
        OWNER_EMAIL,
        "--name",
        "shopper token",
        "--scope",
        "agent",
        "--agent",
        "shopper",
        "--cap",
        "8.00",
    ]);
    let mut c = app.client();
    let s = start_session(&mut c, &pat);
    assert_eq!(checkout(&app, &mut c, &s, "2.25", "printer paper").status, 201);
    let body = owner.get("/").body;
    assert!(body.contains("printer paper") && body.contains("$2.25") && body.contains("shopper"), "{body}");
    assert!(body.contains("shopper token") && body.contains("$8.00"), "spend against the cap: {body}");
}

/// The README's "Signing a request by hand" commands, run as they are.
#[test]
fn the_readme_signing_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- sign-by-hand -->").expect("marker");
    let end = readme.find("<!-- /sign-by-hand -->").expect("end marker");
    let block = &readme[start..end];
    let script = block.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("sh block");

    let app = TestApp::spawn();
    app.owner_with_host_pat();
    let pat = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "readme", "--scope", "agent", "--agent", "readme-bot"]);
    let dir = tempfile::TempDir::new().unwrap();
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir.path())
        .env("LATCHKEY_URL", &app.address)
        .env("LATCHKEY_TOKEN", &pat)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    let checkout: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(checkout["status"], "authorized");
    assert_eq!(checkout["amount_usd"], "5.50");
    assert_eq!(checkout["description"], "coffee");
}

/// [`signed_send`] with an `X-Agent-Nonce`, signed as the fifth line.
pub fn signed_send_nonce(
    c: &mut Client,
    s: &Session,
    method: &str,
    path: &str,
    body: &str,
    ts: i64,
    nonce: &str,
) -> Response {
    let canonical = format!("{method}\n{path}\n{ts}\n{}\n{nonce}", sha_hex(body));
    let sig = STANDARD.encode(s.key.sign(canonical.as_bytes()).to_bytes());
    let auth = format!("Bearer {}", s.jwt);
    let ts = ts.to_string();
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("X-Agent-Timestamp", ts.as_str()),
        ("X-Agent-Signature", sig.as_str()),
        ("X-Agent-Nonce", nonce),
    ];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    c.send(method, path, &headers, (!body.is_empty()).then(|| body.to_string()))
}
