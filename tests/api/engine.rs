//! The authentication engine under concurrency and shutdown: a checkout
//! and the revoke of its PAT commit in some order and never the wrong one,
//! refusals queued for the audit trail survive a SIGTERM, and a full audit
//! queue is counted, not lost.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::signed::{signed_send, start_session};

fn mint_agent_pat(c: &mut Client, host: &str, name: &str) -> (String, String) {
    let res = c.api(
        "POST",
        "/v1/pats",
        Some(host),
        Some(json!({"name": name, "scope_type": "agent", "agent_name": name, "create_agent": true,
                    "daily_cap_usd": "1000.00"})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let body = res.json();
    (body["token"].as_str().unwrap().to_string(), body["id"].as_str().unwrap().to_string())
}

/// Audit events of `kind`, oldest first, as (position in commit order, target id).
fn audit_positions(c: &mut Client, host: &str) -> Vec<(String, String)> {
    let res = c.api("GET", "/v1/audit?limit=200", Some(host), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let mut items: Vec<(String, String)> = res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or("").to_string(), e["target"]["id"].as_str().unwrap_or("").to_string()))
        .collect();
    items.reverse();
    items
}

#[test]
fn a_checkout_racing_the_revoke_of_its_pat_never_lands_after_it() {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let mut landed_before = 0;
    let mut refused = 0;
    for round in 0..12 {
        let (pat, pat_id) = mint_agent_pat(&mut c, &host, &format!("racer-{round}"));
        let session = start_session(&mut c, &pat);
        let mut spender = app.client();
        let now = app.clock.now().0;
        let buyer = std::thread::spawn(move || {
            (0..4)
                .map(|i| {
                    let body = json!({"amount_usd": "1.00", "description": format!("race {i}")}).to_string();
                    let res =
                        signed_send(&mut spender, &session, "POST", "/api/agent/checkout/create", &body, now, &[]);
                    let id = (res.status == 201).then(|| res.json()["id"].as_str().unwrap().to_string());
                    (res.status, res.json()["error_code"].clone(), id)
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(std::time::Duration::from_millis(round % 4));
        let revoked = c.api("POST", &format!("/v1/pats/{pat_id}/revoke"), Some(&host), None);
        assert_eq!(revoked.status, 200, "{}", revoked.body);
        let outcomes = buyer.join().unwrap();

        let trail = audit_positions(&mut c, &host);
        let revoke_at = trail
            .iter()
            .position(|(kind, target)| kind == "pat.revoked" && target == &pat_id)
            .expect("the revoke is in the trail");
        for (status, code, id) in outcomes {
            match id {
                Some(id) => {
                    let created_at = trail
                        .iter()
                        .position(|(kind, target)| kind == "checkout.created" && target == &id)
                        .expect("the checkout is in the trail");
                    assert!(created_at < revoke_at, "round {round}: checkout {id} committed after the revoke");
                    landed_before += 1;
                }
                None => {
                    assert_eq!(status, 401, "round {round}");
                    assert_eq!(code, "AUTH_TOKEN_REVOKED", "round {round}");
                    refused += 1;
                }
            }
        }
        // After the revoke, nothing more lands.
        assert!(
            c.api("GET", "/v1/checkouts?limit=200", Some(&host), None).json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|co| co["pat_id"] == pat_id.as_str())
                .count()
                <= 4
        );
    }
    assert!(landed_before + refused == 48, "every checkout answered");
}

fn failures_recorded(data_dir: &std::path::Path, reason: &str) -> i64 {
    if on_postgres() {
        return postgres_client(data_dir)
            .query_one(
                "SELECT CAST(COALESCE(SUM(repeat_count), 0) AS BIGINT) FROM audit_events
                 WHERE kind = 'auth.bearer' AND reason = $1",
                &[&reason],
            )
            .unwrap()
            .get(0);
    }
    let db = rusqlite::Connection::open(data_dir.join("latchkey.db")).unwrap();
    db.query_row(
        "SELECT COALESCE(SUM(repeat_count), 0) FROM audit_events WHERE kind = 'auth.bearer' AND reason = ?1",
        [reason],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn refusals_queued_for_the_audit_trail_are_written_before_a_sigterm_exit() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data);
    let mut c = server.client();
    let unknown = "lk_pat_00000000000000000000000000000000000000";
    for _ in 0..40 {
        let res = c.api("GET", "/v1/auth/whoami", Some(unknown), None);
        assert_eq!(res.status, 401);
    }
    // At once: the last refusals are still waiting for their batch.
    assert_eq!(server.terminate(), 0, "a clean exit");
    assert_eq!(failures_recorded(&data, "bad token checksum"), 40);
}

#[test]
fn a_full_audit_queue_is_counted_in_metrics_and_loses_nothing() {
    let app = TestApp::spawn_with(|c| c.audit_queue_capacity = 1);
    let (_owner, host) = app.owner_with_host_pat();
    let revoked = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "gone", "--scope", "host"]);
    let mut c = app.client();
    let id =
        c.api("GET", "/v1/auth/whoami", Some(&revoked), None).json()["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(c.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None).status, 200);

    let metric = |c: &mut Client| -> i64 {
        let text = c.api("GET", "/metrics", Some(&host), None).body;
        text.lines()
            .find_map(|l| l.strip_prefix("latchkey_audit_queue_overflow_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the overflow counter is exported")
    };
    assert_eq!(metric(&mut c), 0);
    let mut sent = 0;
    while metric(&mut c) == 0 && sent < 4000 {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (mut c, token) = (app.client(), revoked.clone());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        c.api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(401, "AUTH_TOKEN_REVOKED");
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        sent += 200;
    }
    assert!(metric(&mut c) > 0, "8 clients at once overflow a queue of one");
    // Reading the trail waits for the queue; every refusal is there.
    let trail: Value = c.api("GET", "/v1/audit?kind=auth.bearer&limit=200", Some(&host), None).json();
    let counted: i64 = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "PAT revoked")
        .map(|e| e["repeat_count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, sent);
}

fn nonce_setup() -> (TestApp, Client, crate::signed::Session) {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (pat, _) = mint_agent_pat(&mut c, &host, "noncer");
    let s = start_session(&mut c, &pat);
    (app, c, s)
}

fn sign_lines(s: &crate::signed::Session, lines: &[&str]) -> String {
    use base64::Engine as _;
    use ed25519_dalek::Signer;
    base64::engine::general_purpose::STANDARD.encode(s.key.sign(lines.join("\n").as_bytes()).to_bytes())
}

#[test]
fn a_nonce_is_signed_as_a_fifth_line_and_must_use_the_documented_alphabet() {
    use sha2::Digest;
    let (app, mut c, s) = nonce_setup();
    let path = "/api/agent/checkout/create";
    let body = json!({"amount_usd": "1.00", "description": "with nonce"}).to_string();
    let digest = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let ts = app.clock.now().0.to_string();
    let auth = format!("Bearer {}", s.jwt);
    let send = |c: &mut Client, sig: &str, nonce: &str| {
        c.send(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("X-Agent-Timestamp", &ts),
                ("X-Agent-Signature", sig),
                ("X-Agent-Nonce", nonce),
                ("Content-Type", "application/json"),
            ],
            Some(body.clone()),
        )
    };
    let good = sign_lines(&s, &["POST", path, &ts, &digest, "n-1_A"]);
    assert_eq!(send(&mut c, &good, "n-1_A").status, 201);
    // The same request and second with another nonce is another signature.
    let again = sign_lines(&s, &["POST", path, &ts, &digest, "n-2"]);
    assert_eq!(send(&mut c, &again, "n-2").status, 201);
    // A nonce the signature does not cover.
    let four_lines = sign_lines(&s, &["POST", path, &ts, &digest]);
    send(&mut c, &four_lines, "n-3").assert_error(401, "SIGNATURE_INVALID");
    let bad = send(&mut c, &good, "not allowed!").assert_error(400, "VALIDATION_FAILED");
    assert!(bad["user_message"].as_str().unwrap().contains("X-Agent-Nonce"), "{bad}");
    send(&mut c, &good, &"a".repeat(65)).assert_error(400, "VALIDATION_FAILED");
}

#[test]
fn a_declared_content_digest_must_match_the_body_received() {
    use base64::Engine as _;
    use sha2::Digest;
    let (app, mut c, s) = nonce_setup();
    let body = json!({"amount_usd": "1.00", "description": "digest"}).to_string();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b));
    let right = format!("sha-256=:{}:", b64(body.as_bytes()));
    let wrong = format!("sha-256=:{}:", b64(b"something else"));
    let now = app.clock.now().0;
    let path = "/api/agent/checkout/create";
    let res = signed_send(&mut c, &s, "POST", path, &body, now, &[("Content-Digest", &wrong)]);
    let err = res.assert_error(400, "VALIDATION_FAILED");
    assert!(err["user_message"].as_str().unwrap().contains("Content-Digest"), "{err}");
    let res = signed_send(&mut c, &s, "POST", path, &body, now, &[("Content-Digest", &right)]);
    assert_eq!(res.status, 201, "{}", res.body);
    let res = signed_send(&mut c, &s, "POST", path, &body, now, &[("Content-Digest", "sha-256=:not base64!:")]);
    res.assert_error(400, "VALIDATION_FAILED");
}

#[test]
fn a_request_refused_after_its_signature_checked_out_cannot_be_sent_again() {
    let (app, mut c, s) = nonce_setup();
    let path = "/api/agent/checkout/create";
    let now = app.clock.now().0;
    let first = json!({"amount_usd": "1.00", "description": "once"}).to_string();
    let key = [("Idempotency-Key", "order-1")];
    assert_eq!(signed_send(&mut c, &s, "POST", path, &first, now, &key).status, 201);
    let other = json!({"amount_usd": "2.00", "description": "other"}).to_string();
    signed_send(&mut c, &s, "POST", path, &other, now, &key).assert_error(409, "IDEMPOTENCY_MISMATCH");
    // The identical request again: its signature was used.
    signed_send(&mut c, &s, "POST", path, &other, now, &key).assert_error(401, "SIGNATURE_REPLAYED");
}

#[test]
fn a_content_digest_only_matters_to_key_bound_sessions() {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let jwt =
        c.api("POST", "/v1/auth/exchange", Some(&host), None).json()["access_token"].as_str().unwrap().to_string();
    let auth = format!("Bearer {jwt}");
    let res =
        c.send("GET", "/v1/auth/whoami", &[("Authorization", &auth), ("Content-Digest", "sha-256=:bm9wZQ==:")], None);
    assert_eq!(res.status, 200, "{}", res.body);
}

#[test]
fn one_pat_holds_a_bounded_number_of_live_sessions_and_starts_them_at_a_bounded_rate() {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let (pat, _) = mint_agent_pat(&mut c, &host, "busy");
    let first = start_session(&mut c, &pat);
    for _ in 0..50 {
        start_session(&mut c, &pat);
    }
    // The 51st live session ended the oldest.
    let res = signed_send(&mut c, &first, "GET", "/v1/auth/whoami", "", app.clock.now().0, &[]);
    res.assert_error(401, "AUTH_TOKEN_REVOKED");
    // 51 starts so far; exchanges share the PAT's budget of 60 a minute.
    for i in 0..9 {
        let res = c.api("POST", "/v1/auth/exchange", Some(&pat), None);
        assert_eq!(res.status, 200, "exchange {i}: {}", res.body);
    }
    let res = c.api("POST", "/v1/auth/exchange", Some(&pat), None);
    let err = res.assert_error(429, "RATE_LIMITED");
    assert_eq!(err["recovery"]["kind"], "retry_later");
}

#[test]
fn every_acknowledged_write_survives_a_sigkill_and_no_cap_is_exceeded() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &[&str], stdin: Option<&str>| {
        let (code, out, err) = run_cli(&data, args, stdin);
        assert_eq!(code, 0, "{args:?}: {err}");
        out.trim().to_string()
    };
    cli(&["admin", "create-owner", "--email", OWNER_EMAIL, "--password-stdin"], Some(&format!("{OWNER_PASSWORD}\n")));
    cli(&["admin", "security-mode", "on"], None);
    let host = cli(&["admin", "mint-pat", "--email", OWNER_EMAIL, "--name", "h", "--scope", "host"], None);
    let agent_pat = cli(
        &[
            "admin",
            "mint-pat",
            "--email",
            OWNER_EMAIL,
            "--name",
            "a",
            "--scope",
            "agent",
            "--agent",
            "spender",
            "--cap",
            "5.00",
        ],
        None,
    );
    let mut acknowledged_agents: Vec<String> = Vec::new();
    let mut acknowledged_checkouts: Vec<String> = Vec::new();
    for round in 0..3 {
        let server = ServerProcess::start(&data);
        let address = server.address.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let creator = {
            let (address, host, stop) = (address.clone(), host.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = Client::for_address(&address);
                let mut ids = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let name = format!("r{round}-agent-{i}");
                    i += 1;
                    match c.try_api("POST", "/v1/agents", Some(&host), Some(json!({"name": name}))) {
                        Some(res) if res.status == 201 => ids.push(res.json()["id"].as_str().unwrap().to_string()),
                        Some(_) => {}
                        None => break,
                    }
                }
                ids
            })
        };
        let spender = {
            let (address, pat, stop) = (address.clone(), agent_pat.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = Client::for_address(&address);
                let session = start_session(&mut c, &pat);
                let mut ids = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"amount_usd": "0.25", "description": format!("r{round} {i}")}).to_string();
                    i += 1;
                    let now =
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
                    let sig = crate::signed::sign(&session.key, "POST", "/api/agent/checkout/create", now, &body);
                    let auth = format!("Bearer {}", session.jwt);
                    let ts = now.to_string();
                    let headers = [
                        ("Authorization", auth.as_str()),
                        ("X-Agent-Timestamp", ts.as_str()),
                        ("X-Agent-Signature", sig.as_str()),
                        ("Content-Type", "application/json"),
                    ];
                    match c.try_send("POST", "/api/agent/checkout/create", &headers, Some(body)) {
                        Some(res) if res.status == 201 => ids.push(res.json()["id"].as_str().unwrap().to_string()),
                        Some(_) => {}
                        None => break,
                    }
                }
                ids
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(400 + 150 * round));
        drop(server); // SIGKILL, mid-write.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        acknowledged_agents.extend(creator.join().unwrap());
        acknowledged_checkouts.extend(spender.join().unwrap());
    }
    assert!(!acknowledged_agents.is_empty() && !acknowledged_checkouts.is_empty(), "writes were made");

    let server = ServerProcess::start(&data);
    let mut c = server.client();
    for id in &acknowledged_agents {
        assert_eq!(c.api("GET", &format!("/v1/agents/{id}"), Some(&host), None).status, 200, "agent {id} was lost");
    }
    let listed = c.api("GET", "/v1/checkouts?limit=200", Some(&host), None).json();
    let items = listed["items"].as_array().unwrap();
    for id in &acknowledged_checkouts {
        assert!(items.iter().any(|co| co["id"] == id.as_str()), "checkout {id} was lost");
    }
    let cents: i64 = items
        .iter()
        .map(|co| (co["amount_usd"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64)
        .sum();
    assert!(cents <= 500, "the 5.00 cap held: {cents} cents spent");
}
