//! Budgets beside the daily cap (docs/API.md §5.9): a per-checkout maximum,
//! weekly and monthly caps, the window that refused in the recovery, a
//! preview that changes nothing, and the agent's own budget view.

use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;
use crate::signed::{Session, signed_send_nonce, start_session};

struct Setup {
    app: TestApp,
    c: Client,
    host: String,
    pat: String,
    pat_id: String,
    s: Session,
}

fn setup(budget: Value) -> Setup {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let mut body = json!({"name": "buyer", "scope_type": "agent", "agent_name": "buyer", "create_agent": true,
                          "daily_cap_usd": "100.00"});
    for (k, v) in budget.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = c.api("POST", "/v1/pats", Some(&host), Some(body));
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    let pat = created["token"].as_str().unwrap().to_string();
    let pat_id = created["id"].as_str().unwrap().to_string();
    let s = start_session(&mut c, &pat);
    Setup { app, c, host, pat, pat_id, s }
}

fn buy(x: &mut Setup, amount: &str, path: &str) -> Response {
    let body = json!({"amount_usd": amount, "description": "x"}).to_string();
    let ts = x.app.clock.now().0;
    let nonce = format!("n{}", rand::random::<u64>());
    signed_send_nonce(&mut x.c, &x.s, "POST", path, &body, ts, &nonce)
}

#[test]
fn limits_are_shown_and_changed_on_the_pat() {
    let mut x = setup(json!({"weekly_cap_usd": "10.00", "max_checkout_usd": "5.00"}));
    let host = x.host.clone();
    let pat = x.c.api("GET", &format!("/v1/pats/{}", x.pat_id), Some(&host), None).json();
    assert_eq!(pat["weekly_cap_usd"], "10.00");
    assert_eq!(pat["max_checkout_usd"], "5.00");
    assert_eq!(pat["monthly_cap_usd"], Value::Null);
    assert_eq!(pat["over_limit"], "refuse");
    let res = x.c.api(
        "PATCH",
        &format!("/v1/pats/{}", x.pat_id),
        Some(&host),
        Some(json!({"weekly_cap_usd": null, "monthly_cap_usd": "50.00"})),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["weekly_cap_usd"], Value::Null);
    assert_eq!(res.json()["monthly_cap_usd"], "50.00");
    // Bad values name the field; approvals are not offered yet.
    let res = x.c.api("PATCH", &format!("/v1/pats/{}", x.pat_id), Some(&host), Some(json!({"weekly_cap_usd": 5})));
    assert!(res.assert_error(400, "VALIDATION_FAILED")["user_message"].as_str().unwrap().contains("weekly_cap_usd"));
    x.c.api("PATCH", &format!("/v1/pats/{}", x.pat_id), Some(&host), Some(json!({"over_limit": "maybe"})))
        .assert_error(400, "VALIDATION_FAILED");
    let host_pat = x.c.api(
        "POST",
        "/v1/pats",
        Some(&host),
        Some(json!({"name": "h", "scope_type": "host", "weekly_cap_usd": "1.00"})),
    );
    host_pat.assert_error(400, "VALIDATION_FAILED");
    // Revoking answers the PAT with its real limits, not the defaults.
    let revoked = x.c.api("POST", &format!("/v1/pats/{}/revoke", x.pat_id), Some(&host), None);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let revoked = revoked.json();
    assert_eq!(
        (&revoked["status"], &revoked["monthly_cap_usd"], &revoked["max_checkout_usd"], &revoked["weekly_cap_usd"]),
        (&json!("revoked"), &json!("50.00"), &json!("5.00"), &Value::Null),
        "{revoked}"
    );
}

#[test]
fn a_checkout_over_the_maximum_is_refused_without_touching_the_totals() {
    let mut x = setup(json!({"max_checkout_usd": "5.00"}));
    let body = buy(&mut x, "6.00", "/api/agent/checkout/create").assert_error(400, "AMOUNT_OVER_LIMIT");
    assert!(body["user_message"].as_str().unwrap().contains("$5.00"), "{body}");
    assert_eq!(buy(&mut x, "5.00", "/api/agent/checkout/create").status, 201);
    let pat = x.pat.clone();
    let budget = x.c.api("GET", "/api/agent/budget", Some(&pat), None).json();
    assert_eq!(budget["spent_usd"]["day"], "5.00", "{budget}");
    assert_eq!(budget["limits"]["max_checkout_usd"], "5.00");
}

#[test]
fn the_week_refuses_with_its_window_and_resets_on_monday() {
    let mut x = setup(json!({"weekly_cap_usd": "10.00"}));
    x.app.clock.freeze();
    assert_eq!(buy(&mut x, "6.00", "/api/agent/checkout/create").status, 201);
    let body = buy(&mut x, "5.00", "/api/agent/checkout/create").assert_error(429, "SPEND_CAP_EXCEEDED");
    let r = &body["recovery"];
    assert_eq!(r["kind"], "raise_pat_cap");
    assert_eq!(r["window"], "week");
    assert_eq!(r["current_cap_usd"], "10.00");
    assert_eq!(r["spent_in_window_usd"], "6.00");
    assert_eq!(r["spent_today_usd"], "6.00");
    let resets = r["resets_at"].as_str().unwrap().to_string();
    let monday = time::OffsetDateTime::parse(&resets, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(monday.weekday(), time::Weekday::Monday);
    assert_eq!((monday.hour(), monday.minute(), monday.second()), (0, 0, 0));
    // The agent can see it coming.
    let pat = x.pat.clone();
    let budget = x.c.api("GET", "/api/agent/budget", Some(&pat), None).json();
    assert_eq!(budget["remaining_usd"]["week"], "4.00");
    assert_eq!(budget["remaining_usd"]["month"], Value::Null, "no monthly cap");
    assert_eq!(budget["resets_at"]["week"], resets.as_str());
    // Monday: a new week.
    let until = monday.unix_timestamp() - x.app.clock.now().0;
    x.app.clock.advance(until);
    x.s = start_session(&mut x.c, &pat);
    assert_eq!(buy(&mut x, "5.00", "/api/agent/checkout/create").status, 201);
}

#[test]
fn the_month_refuses_too() {
    let mut x = setup(json!({"monthly_cap_usd": "3.00"}));
    assert_eq!(buy(&mut x, "2.00", "/api/agent/checkout/create").status, 201);
    let body = buy(&mut x, "2.00", "/api/agent/checkout/create").assert_error(429, "SPEND_CAP_EXCEEDED");
    assert_eq!(body["recovery"]["window"], "month");
    assert!(body["user_message"].as_str().unwrap().contains("this month"), "{body}");
}

#[test]
fn a_preview_changes_nothing() {
    let mut x = setup(json!({"weekly_cap_usd": "10.00", "max_checkout_usd": "8.00"}));
    assert_eq!(buy(&mut x, "6.00", "/api/agent/checkout/create").status, 201);
    let host = x.host.clone();
    let audit_before = x.c.api("GET", "/v1/audit", Some(&host), None).json()["items"].as_array().unwrap().len();
    let res = buy(&mut x, "5.00", "/api/agent/checkout/preview");
    assert_eq!(res.status, 200, "{}", res.body);
    let p = res.json();
    assert_eq!(p["allowed"], false);
    assert_eq!(p["refused_by"], "week");
    assert_eq!(p["remaining_usd"]["week"], "4.00");
    assert_eq!(p["needs_approval"], false);
    let p = buy(&mut x, "9.00", "/api/agent/checkout/preview").json();
    assert_eq!(p["refused_by"], "max_checkout");
    let p = buy(&mut x, "3.00", "/api/agent/checkout/preview").json();
    assert_eq!(p["allowed"], true);
    assert_eq!(p["refused_by"], Value::Null);
    let pat = x.pat.clone();
    assert_eq!(x.c.api("GET", "/api/agent/budget", Some(&pat), None).json()["spent_usd"]["week"], "6.00");
    let audit_after = x.c.api("GET", "/v1/audit", Some(&host), None).json()["items"].as_array().unwrap().len();
    assert_eq!(audit_before, audit_after, "a preview writes nothing to the trail");
    // A host PAT has no budget.
    x.c.api("GET", "/api/agent/budget", Some(&host), None).assert_error(403, "AUTH_SCOPE");
}

#[test]
fn concurrent_checkouts_never_exceed_the_weekly_cap() {
    let x = setup(json!({"weekly_cap_usd": "10.00"}));
    let address = x.app.address.clone();
    let now = x.app.clock.now().0;
    let jwt = x.s.jwt.clone();
    let key = x.s.key.clone();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (address, jwt, key) = (address.clone(), jwt.clone(), key.clone());
            std::thread::spawn(move || {
                let mut c = Client::for_address(&address);
                let s = Session { jwt, id: String::new(), key };
                let body = json!({"amount_usd": "1.00", "description": format!("c{i}")}).to_string();
                let nonce = format!("c{i}");
                signed_send_nonce(&mut c, &s, "POST", "/api/agent/checkout/create", &body, now, &nonce).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10, "{statuses:?}");
}

fn poll(x: &mut Setup, id: &str, wait: u64) -> Response {
    let path = format!("/api/agent/approvals/{id}?wait={wait}");
    let ts = x.app.clock.now().0;
    let nonce = format!("p{}", rand::random::<u64>());
    signed_send_nonce(&mut x.c, &x.s, "GET", &path, "", ts, &nonce)
}

#[test]
fn over_the_cap_with_ask_a_person_approves_and_the_poll_gets_the_checkout() {
    let mut x = setup(json!({"daily_cap_usd": "5.00", "over_limit": "ask"}));
    assert_eq!(buy(&mut x, "4.00", "/api/agent/checkout/create").status, 201);
    let res = buy(&mut x, "3.00", "/api/agent/checkout/create");
    assert_eq!(res.status, 202, "{}", res.body);
    let pending = res.json();
    assert_eq!(pending["status"], "pending_approval");
    assert_eq!(pending["amount_usd"], "3.00");
    assert_eq!(pending["recovery"]["kind"], "await_approval");
    let id = pending["approval_id"].as_str().unwrap().to_string();
    assert!(pending["poll_url"].as_str().unwrap().ends_with(&format!("/api/agent/approvals/{id}")));
    assert_eq!(poll(&mut x, &id, 0).status, 202);

    // The host sees it on the overview and approves there.
    let mut owner = x.app.login(OWNER_EMAIL, OWNER_PASSWORD).1;
    let page = owner.get("/");
    assert!(page.body.contains("Waiting for you") && page.body.contains("$3.00"), "{}", page.body);
    let csrf = page.csrf();
    let res = owner.post_form(&format!("/dashboard/approvals/{id}"), &[("csrf", &csrf), ("decision", "approve")]);
    assert_eq!(res.status, 303);
    let res = poll(&mut x, &id, 0);
    assert_eq!(res.status, 201, "{}", res.body);
    // The checkout as its create answer shows it, with today's spend and cap.
    let checkout = res.json();
    assert_eq!(
        (&checkout["amount_usd"], &checkout["status"], &checkout["spent_today_usd"], &checkout["daily_cap_usd"]),
        (&json!("3.00"), &json!("authorized"), &json!("7.00"), &json!("5.00")),
        "{checkout}"
    );
    // Counted in every window, past the cap on purpose; the audit says who.
    let pat = x.pat.clone();
    assert_eq!(x.c.api("GET", "/api/agent/budget", Some(&pat), None).json()["spent_usd"]["day"], "7.00");
    let host = x.host.clone();
    let audit = x.c.api("GET", "/v1/audit?kind=approval.approved", Some(&host), None).json();
    assert!(audit["items"][0]["reason"].as_str().unwrap_or_default().contains(OWNER_EMAIL), "{audit}");
    // Deciding again is a conflict.
    x.c.api("POST", &format!("/v1/approvals/{id}/deny"), Some(&host), None).assert_error(409, "CONFLICT");
}

#[test]
fn denied_expired_and_idempotent_approvals() {
    let mut x = setup(json!({"approval_above_usd": "2.00"}));
    let host = x.host.clone();
    // Above the threshold: always asks, even under the cap.
    let id = buy(&mut x, "3.00", "/api/agent/checkout/create").json()["approval_id"].as_str().unwrap().to_string();
    let listed = x.c.api("GET", "/v1/approvals?status=pending", Some(&host), None).json();
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let res = x.c.api("POST", &format!("/v1/approvals/{id}/deny"), Some(&host), None);
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "denied");
    poll(&mut x, &id, 0).assert_error(403, "APPROVAL_DENIED");
    // Another PAT's session never sees it.
    let other =
        x.c.api(
            "POST",
            "/v1/pats",
            Some(&host),
            Some(json!({"name": "o", "scope_type": "agent",
        "agent_name": "other", "create_agent": true})),
        )
        .json()["token"]
            .as_str()
            .unwrap()
            .to_string();
    let mine = std::mem::replace(&mut x.s, start_session(&mut x.c, &other));
    poll(&mut x, &id, 0).assert_error(404, "NOT_FOUND");
    x.s = mine;
    assert_eq!(buy(&mut x, "1.00", "/api/agent/checkout/create").status, 201, "under the threshold");

    // The same Idempotency-Key twice: one approval.
    let body = json!({"amount_usd": "4.00", "description": "x"}).to_string();
    let send = |x: &mut Setup| {
        let ts = x.app.clock.now().0;
        let nonce = format!("i{}", rand::random::<u64>());
        let canonical = format!(
            "POST\n/api/agent/checkout/create\n{ts}\n{}\n{nonce}",
            hex::encode(sha2::Sha256::digest(body.as_bytes()))
        );
        use base64::Engine as _;
        use ed25519_dalek::Signer;
        let sig = base64::engine::general_purpose::STANDARD.encode(x.s.key.sign(canonical.as_bytes()).to_bytes());
        let (auth, ts) = (format!("Bearer {}", x.s.jwt), ts.to_string());
        x.c.send(
            "POST",
            "/api/agent/checkout/create",
            &[
                ("Authorization", &auth),
                ("X-Agent-Timestamp", &ts),
                ("X-Agent-Signature", &sig),
                ("X-Agent-Nonce", &nonce),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", "order-7"),
            ],
            Some(body.clone()),
        )
    };
    let first = send(&mut x).json()["approval_id"].clone();
    let second = send(&mut x).json()["approval_id"].clone();
    assert_eq!(first, second);
    // Nobody decides in time: 410.
    x.app.clock.freeze();
    x.app.clock.advance(901);
    x.s = start_session(&mut x.c, &x.pat.clone());
    let id = first.as_str().unwrap().to_string();
    poll(&mut x, &id, 0).assert_error(410, "APPROVAL_EXPIRED");
    x.c.api("POST", &format!("/v1/approvals/{id}/approve"), Some(&host), None).assert_error(409, "CONFLICT");
}

#[test]
fn approve_and_deny_racing_on_one_approval_exactly_one_wins() {
    let mut x = setup(json!({"approval_above_usd": "1.00"}));
    let id = buy(&mut x, "2.00", "/api/agent/checkout/create").json()["approval_id"].as_str().unwrap().to_string();
    let handles: Vec<_> = ["approve", "deny", "approve", "deny"]
        .into_iter()
        .map(|d| {
            let (address, host, id) = (x.app.address.clone(), x.host.clone(), id.clone());
            std::thread::spawn(move || {
                Client::for_address(&address).api("POST", &format!("/v1/approvals/{id}/{d}"), Some(&host), None).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 3, "{statuses:?}");
}

/// A received webhook: its headers (lower-case names) and body.
type Received = (std::collections::BTreeMap<String, String>, String);

/// A receiver on loopback that hands over each request.
fn receiver() -> (String, std::sync::mpsc::Receiver<Received>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10).flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = std::collections::BTreeMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            let _ = tx.send((headers, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (url, rx)
}

#[test]
fn webhooks_are_signed_and_a_receiver_that_is_down_delays_nothing() {
    use base64::Engine as _;
    use hmac::Mac;
    let key = b"0123456789abcdef0123456789abcdef".to_vec();
    let (url, rx) = receiver();
    let app = TestApp::spawn_with(|c| {
        c.webhook_url = Some(url.clone());
        c.webhook_key = Some(key.clone());
    });
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let created = c
        .api(
            "POST",
            "/v1/pats",
            Some(&host),
            Some(json!({"name": "b", "scope_type": "agent", "agent_name": "b",
            "create_agent": true, "daily_cap_usd": "1.00", "over_limit": "ask"})),
        )
        .json();
    let pat = created["token"].as_str().unwrap().to_string();
    let s = start_session(&mut c, &pat);
    let mut x = Setup { pat_id: created["id"].as_str().unwrap().into(), app, c, host, pat, s };
    assert_eq!(buy(&mut x, "2.00", "/api/agent/checkout/create").status, 202);
    let (headers, body) = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the webhook arrived");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "approval.requested");
    assert_eq!(event["data"]["amount_usd"], "2.00");
    let (id, ts) = (&headers["webhook-id"], &headers["webhook-timestamp"]);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(headers["webhook-signature"], expected);

    // Nobody listening: the checkout answers as fast as ever.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = TestApp::spawn_with(|c| {
        c.webhook_url = Some(format!("http://{closed}/hooks"));
        c.webhook_key = Some(key.clone());
    });
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let created = c
        .api(
            "POST",
            "/v1/pats",
            Some(&host),
            Some(json!({"name": "b", "scope_type": "agent", "agent_name": "b",
            "create_agent": true, "daily_cap_usd": "1.00"})),
        )
        .json();
    let pat = created["token"].as_str().unwrap().to_string();
    let s = start_session(&mut c, &pat);
    let mut x = Setup { pat_id: created["id"].as_str().unwrap().into(), app, c, host, pat, s };
    let started = std::time::Instant::now();
    buy(&mut x, "2.00", "/api/agent/checkout/create").assert_error(429, "SPEND_CAP_EXCEEDED");
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn the_token_page_edits_every_limit_and_charts_the_spend() {
    let mut x = setup(json!({}));
    assert_eq!(buy(&mut x, "3.00", "/api/agent/checkout/create").status, 201);
    let mut owner = x.app.login(OWNER_EMAIL, OWNER_PASSWORD).1;
    let page = owner.get(&format!("/dashboard/tokens/{}", x.pat_id));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg") && page.body.contains("$3.00</title>"), "the chart shows today's spend");
    let csrf = page.csrf();
    let res = owner.post_form(
        &format!("/dashboard/tokens/{}/limits", x.pat_id),
        &[
            ("csrf", &csrf),
            ("max_checkout_usd", "20.00"),
            ("weekly_cap_usd", "50.00"),
            ("monthly_cap_usd", ""),
            ("over_limit", "ask"),
            ("approval_above_usd", ""),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let host = x.host.clone();
    let pat = x.c.api("GET", &format!("/v1/pats/{}", x.pat_id), Some(&host), None).json();
    assert_eq!(pat["max_checkout_usd"], "20.00");
    assert_eq!(pat["weekly_cap_usd"], "50.00");
    assert_eq!(pat["monthly_cap_usd"], Value::Null);
    assert_eq!(pat["over_limit"], "ask");
    let res = owner
        .post_form(&format!("/dashboard/tokens/{}/limits", x.pat_id), &[("csrf", &csrf), ("weekly_cap_usd", "lots")]);
    assert_eq!(res.status, 400);
    // An over-limit choice the form never offers is refused, not read as refuse.
    let res =
        owner.post_form(&format!("/dashboard/tokens/{}/limits", x.pat_id), &[("csrf", &csrf), ("over_limit", "maybe")]);
    assert_eq!(res.status, 400, "{}", res.body);
    let pat = x.c.api("GET", &format!("/v1/pats/{}", x.pat_id), Some(&host), None).json();
    assert_eq!((&pat["over_limit"], &pat["weekly_cap_usd"]), (&json!("ask"), &json!("50.00")), "nothing changed");
}

/// A member decides approvals only for the agents they manage: another's
/// is not found (404), through the API and the dashboard alike, and stays
/// pending; the owner decides any.
#[test]
fn a_member_decides_only_for_their_own_agents() {
    let mut x = setup(json!({"daily_cap_usd": "1.00", "over_limit": "ask"}));
    let res = buy(&mut x, "3.00", "/api/agent/checkout/create");
    assert_eq!(res.status, 202, "{}", res.body);
    let id = res.json()["approval_id"].as_str().unwrap().to_string();

    let host = x.host.clone();
    let invited =
        x.c.api("POST", "/v1/members", Some(&host), Some(json!({"email": "mel@example.com", "role": "member"})));
    let path = invited.json()["invitation_url"].as_str().unwrap().trim_start_matches(&x.app.address).to_string();
    let mut mel = x.app.client();
    let csrf = mel.get(&path).csrf();
    let pw = "a member's long password";
    assert_eq!(mel.post_form(&path, &[("csrf", &csrf), ("password", pw), ("confirm_password", pw)]).status, 303);
    let member = x.app.mint_pat(&["--email", "mel@example.com", "--name", "m", "--scope", "host"]);

    x.c.api("POST", &format!("/v1/approvals/{id}/approve"), Some(&member), None).assert_error(404, "NOT_FOUND");
    let csrf = mel.get("/").csrf();
    let res = mel.post_form(&format!("/dashboard/approvals/{id}"), &[("csrf", &csrf), ("decision", "deny")]);
    assert_eq!(res.status, 404, "{}", res.body);
    let listed = x.c.api("GET", "/v1/approvals?status=pending", Some(&host), None).json();
    assert_eq!(listed["items"][0]["id"], id.as_str(), "still pending: {listed}");
    let res = x.c.api("POST", &format!("/v1/approvals/{id}/deny"), Some(&host), None);
    assert_eq!((res.status, res.json()["status"].as_str()), (200, Some("denied")), "{}", res.body);
}
