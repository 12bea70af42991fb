//! PostgreSQL only: several servers on one database, and an SQLite
//! instance moved there with `latchkey db copy`.

use serde_json::json;

use crate::helpers::*;
use crate::signed::{signed_send, start_session};

/// Replicas behind one load balancer share one public URL (the issuer of
/// their JWTs).
fn behind_the_balancer(config: &mut latchkey::config::Config) {
    config.public_url = "https://latchkey.test".into();
    config.public_url_is_default = false;
}

/// Two replicas on one database and one data dir (keys), the second
/// started once the first has set the instance up; and a host PAT.
struct Replicas {
    a: TestApp,
    b: TestApp,
    host: String,
    data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn two_replicas() -> Replicas {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let a = TestApp::spawn_in(data.clone(), behind_the_balancer);
    let (_, host) = a.owner_with_host_pat();
    let b = TestApp::spawn_in(data.clone(), behind_the_balancer);
    Replicas { a, b, host, data, _dir: dir }
}

fn checkout(app: &TestApp, c: &mut Client, s: &crate::signed::Session, amount: &str) -> Response {
    let body = json!({"amount_usd": amount, "description": "replica test"}).to_string();
    signed_send(c, s, "POST", "/api/agent/checkout/create", &body, app.clock.now().0, &[])
}

/// Two replicas share the database and the data dir's keys: a token,
/// a session and a cap minted on one hold on the other, a revoke on one is
/// seen by the next request on the other, and one-time things stay
/// one-time across them.
#[test]
fn two_replicas_share_every_credential_revocation_and_cap() {
    if !on_postgres() {
        return;
    }
    let Replicas { a, b, host, .. } = two_replicas();
    let pat =
        a.mint_pat(&["--email", OWNER_EMAIL, "--name", "bot", "--scope", "agent", "--agent", "bot", "--cap", "5.00"]);
    let (mut ca, mut cb) = (a.client(), b.client());
    assert_eq!(cb.api("GET", "/v1/auth/whoami", Some(&pat), None).status, 200, "a PAT minted through A works on B");

    // A session started on A signs checkouts on B; its signature is one-time on both.
    let s = start_session(&mut ca, &pat);
    let body = json!({"amount_usd": "3.00", "description": "first"}).to_string();
    let now = a.clock.now().0;
    assert_eq!(signed_send(&mut cb, &s, "POST", "/api/agent/checkout/create", &body, now, &[]).status, 201);
    signed_send(&mut ca, &s, "POST", "/api/agent/checkout/create", &body, now, &[])
        .assert_error(401, "SIGNATURE_REPLAYED");
    // The cap counts what B spent when A checks.
    checkout(&a, &mut ca, &s, "2.50").assert_error(429, "SPEND_CAP_EXCEEDED");
    assert_eq!(checkout(&a, &mut ca, &s, "2.00").status, 201);

    // Revoked on B, refused on A at the next request.
    let id =
        cb.api("GET", "/v1/auth/whoami", Some(&pat), None).json()["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(cb.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None).status, 200);
    ca.api("GET", "/v1/auth/whoami", Some(&pat), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    checkout(&a, &mut ca, &s, "0.01").assert_error(401, "AUTH_TOKEN_REVOKED");
}

/// Forty concurrent checkouts of 1.00 against a 5.00 cap, split across two
/// replicas, succeed exactly five times.
#[test]
fn concurrent_checkouts_through_two_replicas_never_beat_the_cap() {
    if !on_postgres() {
        return;
    }
    let Replicas { a, b, .. } = two_replicas();
    let pat =
        a.mint_pat(&["--email", OWNER_EMAIL, "--name", "bot", "--scope", "agent", "--agent", "bot", "--cap", "5.00"]);
    let s = std::sync::Arc::new(start_session(&mut a.client(), &pat));
    let now = a.clock.now().0;
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let (address, s) = (if i % 2 == 0 { a.address.clone() } else { b.address.clone() }, s.clone());
            std::thread::spawn(move || {
                let mut c = Client::at(&address);
                let body = json!({"amount_usd": "1.00", "description": format!("n{i}")}).to_string();
                signed_send(&mut c, &s, "POST", "/api/agent/checkout/create", &body, now + i, &[]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 35, "{statuses:?}");
}

/// `db copy` moves an SQLite instance: the owner logs in, the agent's PAT,
/// session and spent cap carry over, and a second copy into the now
/// non-empty database is refused.
#[test]
fn db_copy_moves_an_sqlite_instance_and_refuses_a_non_empty_target() {
    if !on_postgres() {
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    keep_on_sqlite(&data);
    let old = TestApp::spawn_in(data.clone(), behind_the_balancer);
    old.owner_with_host_pat();
    let pat =
        old.mint_pat(&["--email", OWNER_EMAIL, "--name", "bot", "--scope", "agent", "--agent", "bot", "--cap", "5.00"]);
    let mut c = old.client();
    let s = start_session(&mut c, &pat);
    assert_eq!(checkout(&old, &mut c, &s, "3.00").status, 201);
    old.stop();
    assert!(data.join("latchkey.db").exists(), "the instance was on SQLite");

    // The target: a fresh database of its own.
    let target_dir = dir.path().join("target");
    let url = database_url_for(&target_dir).unwrap();
    let (code, out, err) = run_cli(&data, &["db", "copy", "--to", &url], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "checkouts\t1"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("audit_events\t")), "{out}");
    assert!(err.contains("counts verified"), "{err}");

    let (code, _, err) = run_cli(&data, &["db", "copy", "--to", &url], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty"), "{err}");

    // The same data dir (keys) on the PostgreSQL copy.
    let moved = TestApp::spawn_in(data.clone(), |config| {
        behind_the_balancer(config);
        config.database_url = Some(latchkey::config::DatabaseUrl(url.clone()));
    });
    assert!(moved.setup_code.is_none(), "setup is done");
    let (res, _) = moved.login(OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(res.status, 303, "the owner's password moved");
    let mut c = moved.client();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&pat), None).status, 200);
    // The session's JWT and the $3.00 already spent moved too.
    checkout(&moved, &mut c, &s, "2.50").assert_error(429, "SPEND_CAP_EXCEEDED");
    assert_eq!(checkout(&moved, &mut c, &s, "2.00").status, 201);
    drop(moved);
    drop_test_database(&target_dir);
}

/// While the database refuses connections `/readyz` and the API answer 503
/// with a `Retry-After`; when it is back they recover by themselves.
#[test]
fn an_unreachable_database_answers_503_and_recovers() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    assert_eq!(c.get("/readyz").status, 200);
    let name = database_url_for(&app.data_dir).unwrap().rsplit('/').next().unwrap().to_string();
    let mut admin = postgres::Client::connect(&postgres_base().unwrap(), postgres::NoTls).unwrap();
    admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).unwrap();
    admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", &[&name]).unwrap();

    let ready = c.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.header("retry-after"), Some("5"));
    let err = ready.assert_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(err["recovery"]["kind"], "retry_later");
    c.api("GET", "/v1/pats", Some(&host), None).assert_error(503, "SERVICE_UNAVAILABLE");

    admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while c.get("/readyz").status != 200 {
        assert!(std::time::Instant::now() < deadline, "readyz did not recover");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(c.api("GET", "/v1/pats", Some(&host), None).status, 200, "reads are back");
    // The writer reconnects too.
    let res = c.api("POST", "/v1/pats", Some(&host), Some(json!({"name": "after", "scope_type": "service"})));
    assert_eq!(res.status, 201, "{}", res.body);
}

/// One bootstrap secret raced at both replicas enrols once; one client
/// assertion sent to both at once issues one token; a key rotated and
/// picked up by one replica verifies on the other before it reloads.
#[test]
fn one_time_secrets_assertions_and_key_rotation_hold_across_replicas() {
    use crate::enrollment::{AgentKey, bootstrap, jti, new_agent, token_request};
    if !on_postgres() {
        return;
    }
    let Replicas { a, b, host, data, _dir } = two_replicas();
    let mut c = a.client();

    let (agent, secret) = new_agent(&a, &mut c, &host, "racer");
    let key = std::sync::Arc::new(AgentKey::new());
    let race = |paths: [String; 2], f: std::sync::Arc<dyn Fn(&mut Client) -> u16 + Send + Sync>| {
        let handles: Vec<_> = paths
            .into_iter()
            .map(|address| {
                let f = f.clone();
                std::thread::spawn(move || f(&mut Client::at(&address)))
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort();
        statuses
    };
    let both = || [a.address.clone(), b.address.clone()];
    let (k, s) = (key.clone(), secret.clone());
    assert_eq!(race(both(), std::sync::Arc::new(move |c| bootstrap(c, &s, &k).status)), [200, 401]);

    let now = a.clock.now().0;
    let claims =
        json!({"iss": agent, "sub": agent, "aud": "https://latchkey.test", "iat": now, "exp": now + 30, "jti": jti()});
    let assertion = key.sign(&claims);
    assert_eq!(race(both(), std::sync::Arc::new(move |c| token_request(c, &assertion).status)), [200, 401]);

    // Rotation: A reloads first and signs with the promoted key; B has
    // not reloaded and still verifies it, then both agree.
    let (code, out, err) = run_cli(&data, &["keys", "rotate"], None);
    assert_eq!(code, 0, "{err}");
    let promoted = out.trim().to_string();
    a.keys.reload().unwrap();
    let jwt =
        c.api("POST", "/v1/auth/exchange", Some(&host), None).json()["access_token"].as_str().unwrap().to_string();
    let header = jwt.split('.').next().unwrap();
    assert!(
        String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap())
            .unwrap()
            .contains(&promoted)
    );
    assert_eq!(b.client().api("GET", "/v1/auth/whoami", Some(&jwt), None).status, 200, "B verifies before reloading");
    b.keys.reload().unwrap();
    let from_b = b.client().api("POST", "/v1/auth/exchange", Some(&host), None).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&from_b), None).status, 200);
}
