//! The authentication engine's cost, measured from outside: the release
//! binary serves on loopback pinned to CPU 0, this program drives it from
//! CPU 1 over keep-alive connections, and the server's CPU time per request
//! is read from `/proc/PID/stat`. Every assertion and request signature is
//! fresh (made before its workload starts, never reused).
//!
//!     cargo bench --bench api                 # three rounds and their median (a few minutes)
//!     cargo bench --bench api -- --smoke      # each workload briefly (CI)
//!     cargo bench --bench api -- --rows 1000000   # the same on a big database
//!     cargo bench --bench api -- --only W3 --rounds 5   # one workload
//!
//! Workloads:
//! - W1  `POST /v1/agents/token`, a fresh ES256 client assertion
//! - W2  `POST /v1/introspect`, service PAT introspecting an agent PAT
//! - W3  `GET /v1/auth/whoami`, agent PAT
//! - W4  signed checkout: session JWT + Ed25519 signature + cap
//! - W5b signed checkout with a bad signature (401 SIGNATURE_INVALID)
//! - W5c signed checkout with a stale timestamp (401 SIGNATURE_TIMESTAMP_SKEW)
//! - W6  `/v1/forward-auth` as nginx calls it, agent PAT
//! - W6b `/v1/forward-auth`, signed session GET (fresh signature and nonce)
//! - W7  `/v1/forward-auth` with an OAuth access token (RFC 9068 JWT)
//! - floor: `GET /healthz`, `GET /readyz`
//!
//! Environment: BENCH_REQUESTS (per workload, default 20000),
//! BENCH_CONNECTIONS (default 16), BENCH_POSTGRES_URL (run the server on
//! PostgreSQL: a URL of a database the user may create databases from; a
//! fresh `latchkey_bench_<pid>` is made and dropped. The CPU column is the
//! Latchkey process's alone, not PostgreSQL's).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer;
use sha2::Digest;

use latchkey::clock::Clock;
use latchkey::db::Db;
use latchkey::domain::audit::{Actor, RequestMeta};
use latchkey::domain::money::AmountCents;
use latchkey::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
use latchkey::domain::principal::Acting;
use latchkey::domain::{self, Email, Role};

/// No workload runs longer than this, whatever BENCH_REQUESTS says.
const TIME_LIMIT: Duration = Duration::from_secs(30);

struct Options {
    requests: usize,
    connections: usize,
    rows: usize,
    smoke: bool,
    /// Every workload this many times; the summary shows the median.
    rounds: usize,
    /// `--only W3` or `--only W2,W6`: the workloads whose label starts with one of these.
    only: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let rows = args.iter().position(|a| a == "--rows").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok());
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    Options {
        requests: if smoke { 300 } else { env("BENCH_REQUESTS", 20_000) },
        connections: if smoke { 4 } else { env("BENCH_CONNECTIONS", 16).max(1) },
        rows: rows.unwrap_or(0),
        smoke,
        rounds: args
            .iter()
            .position(|a| a == "--rounds")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(if smoke { 1 } else { 3 })
            .max(1),
        only: args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

struct Seeded {
    resource_id: String,
    /// An approved OAuth client's code, its verifier and client id.
    oauth: (String, String, String),
    agent_pat: String,
    service_pat: String,
    bootstrap_secret: String,
}

/// The owner, Agent Security Mode on, an agent PAT (cap 1,000,000.00), a
/// service PAT and a bootstrap secret for the same agent; `rows` filler
/// PATs, assertion jtis and audit events.
fn seed(data: &Path, rows: usize, database_url: Option<&str>) -> Seeded {
    let db = Db::open_url(data, database_url).expect("db");
    let now = Clock::system().now();
    let email = Email::parse("bench@example.com").expect("email");
    db.write_blocking(|tx| {
        let ws = domain::setup::create_owner_headless(
            tx,
            &email,
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            now,
        )?;
        domain::security_mode::set(tx, &ws.id, true, &Actor::Cli, &RequestMeta::default(), now)?;
        let user = latchkey::db::users::find_by_email(tx, email.as_str())?.expect("owner");
        let by = domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
        let minter = Acting { user_id: Some(user.id.clone()), role: Role::Owner };
        let mint = |name: &str, scope, agent: Option<AgentRef>| MintRequest {
            name: name.into(),
            scope,
            audience: Audience::Both,
            expires_in_days: 1,
            agent,
            daily_cap: (scope == Scope::Agent).then(|| AmountCents::parse("1000000.00").expect("cap")),
            delegated: false,
        };
        let agent = Some(AgentRef::Name { name: "bench-agent".into(), create: true });
        let (agent_pat, _) =
            pats::mint(tx, &ws.id, &minter, mint("bench", Scope::Agent, agent), AmountCents::ZERO, &by)?;
        let (service_pat, _) =
            pats::mint(tx, &ws.id, &minter, mint("bench-service", Scope::Service, None), AmountCents::ZERO, &by)?;
        let agent = latchkey::db::agents::find_by_name(tx, &ws.id, "bench-agent")?.expect("agent");
        let (secret, _) = domain::enrollment::issue_bootstrap_secret(tx, &agent, 1, &by)?;
        let (identifier, authority) = domain::resources::parse_identifier("https://files.example.com/")?;
        let rules = domain::resources::parse_rule_lines("GET,HEAD /api/\n* /api/pay/ signed")?;
        let fields = domain::resources::Fields { name: "Files".into(), identifier, authority, scopes: vec![], rules };
        let resource = domain::resources::create(tx, &ws.id, fields, &by)?;
        let client = domain::oauth::register(
            &serde_json::json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": "bench"}),
            now,
        )?;
        latchkey::db::oauth::insert_client(tx, &client)?;
        let verifier = "bench-verifier-0123456789-0123456789-0123456789".to_string();
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let approval = domain::oauth::Approval {
            client_id: &client.id,
            client_name: "bench",
            redirect_uri: "http://127.0.0.1:1/cb",
            code_challenge: &challenge,
            resource: &resource,
            scopes: &[],
            agent: None,
            user: &user.id,
        };
        let code = domain::oauth::approve(tx, &ws.id, &approval, &by)?;
        if rows > 0 {
            fill(tx, ws.id.as_str(), user.id.as_str(), agent.id.as_str(), rows, now.0)?;
        }
        Ok(Seeded {
            oauth: (code.into_inner(), verifier, client.id.clone()),
            resource_id: resource.id.0,
            agent_pat: agent_pat.into_inner(),
            service_pat: service_pat.into_inner(),
            bootstrap_secret: secret.into_inner(),
        })
    })
    .expect("seed")
}

/// Filler rows, so costs can be compared on a database that has lived.
fn fill(
    tx: &latchkey::db::Connection,
    ws: &str,
    user: &str,
    agent: &str,
    rows: usize,
    now: i64,
) -> Result<(), latchkey::error::AppError> {
    let mut pat = tx.prepare_cached(
        "INSERT INTO pats (token_hash, id, workspace_id, user_id, agent_id, name, scope_type, audience, token_hint,
                           daily_cap_cents, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'filler', 'agent', 'both', 'lk_pat_x…', 1000, ?6, ?7)",
    )?;
    let mut jti = tx.prepare_cached("INSERT INTO assertion_jtis (agent_id, jti, expires_at) VALUES (?1, ?2, ?3)")?;
    let mut audit = tx.prepare_cached(
        "INSERT INTO audit_events (id, created_at, workspace_id, actor_kind, kind, outcome, repeat_count, last_at)
         VALUES (?1, ?2, ?3, 'cli', 'filler.event', 'success', 1, ?2)",
    )?;
    for i in 0..rows {
        let hash = sha2::Sha256::digest(format!("filler-{i}").as_bytes()).to_vec();
        let id = uuid::Uuid::now_v7().to_string();
        pat.execute(latchkey::params![hash, id, ws, user, agent, now, now + 86_400])?;
        // Unexpired, so the cleanup of old jtis has nothing to take.
        jti.execute(latchkey::params![agent, format!("filler-{i}"), now + 3600])?;
        audit.execute(latchkey::params![uuid::Uuid::now_v7().to_string(), now - 1, ws])?;
    }
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn has_taskset() -> bool {
    Command::new("taskset").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data: &Path, pin: bool, database_url: Option<&str>) -> Server {
        let port = free_port();
        // BENCH_SERVER_BIN: another build of the server (an unstripped one, to profile).
        let exe = std::env::var("BENCH_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_latchkey").to_string());
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", &exe]);
            c
        } else {
            Command::new(&exe)
        };
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data)
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .env("LATCHKEY_RATE_TOKEN_PER_MIN", "0")
            .env("LATCHKEY_RATE_BOOTSTRAP_PER_MIN", "0")
            .env_remove("LATCHKEY_PUBLIC_URL")
            .env("LATCHKEY_DATABASE_URL", database_url.unwrap_or(""))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data.with_file_name("server.log")).map(Stdio::from).unwrap_or(Stdio::null()));
        let child = cmd.spawn().expect("start the server");
        let server = Server { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// utime + stime of every thread, in microseconds (USER_HZ is 100).
    fn cpu_micros(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // Fields 14 and 15 of stat(5); index 0 here is field 3.
        (ticks(11) + ticks(12)) * 10_000
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, then wait: the server drains and exits on its own.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one HTTP/1.1 response off a keep-alive connection; its status.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end]).unwrap_or("");
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

fn raw_request(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

struct Outcome {
    label: &'static str,
    done: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request: f64,
    wrong: usize,
}

/// Sends every request once over `connections` keep-alive connections and
/// measures; each response must have status `expect`.
fn drive(server: &Server, label: &'static str, requests: Vec<Vec<u8>>, expect: u16, connections: usize) -> Outcome {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = server.cpu_micros();
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next, port) = (requests.clone(), next.clone(), server.port);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let (mut latencies, mut wrong, mut buf) = (Vec::new(), 0usize, Vec::with_capacity(16 * 1024));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests.len() || started.elapsed() > TIME_LIMIT {
                        break;
                    }
                    let t = Instant::now();
                    stream.write_all(&requests[i]).expect("send");
                    let status = read_response(&mut stream, &mut buf).expect("response");
                    latencies.push(t.elapsed());
                    if status != expect {
                        if wrong == 0 {
                            let body = String::from_utf8_lossy(&buf);
                            eprintln!("{label}: status {status}, expected {expect}: {body}");
                        }
                        wrong += 1;
                    }
                }
                (latencies, wrong)
            })
        })
        .collect();
    let (mut all, mut wrong) = (Vec::new(), 0);
    for t in threads {
        let (l, w) = t.join().expect("load thread");
        all.extend(l);
        wrong += w;
    }
    let seconds = started.elapsed().as_secs_f64();
    // Let the server finish what it queued (audit batches, log lines).
    std::thread::sleep(Duration::from_millis(50));
    let cpu = server.cpu_micros().saturating_sub(cpu_before);
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied();
    Outcome {
        label,
        done: all.len(),
        seconds,
        p50: pct(0.50).unwrap_or_default(),
        p99: pct(0.99).unwrap_or_default(),
        cpu_per_request: cpu as f64 / all.len().max(1) as f64,
        wrong,
    }
}

/// Writes per commit so far, from `/metrics`.
fn writes_and_commits(base: &str, service_pat: &str) -> (f64, f64) {
    let text = ureq::get(&format!("{base}/metrics"))
        .set("Authorization", &format!("Bearer {service_pat}"))
        .call()
        .ok()
        .and_then(|r| r.into_string().ok())
        .unwrap_or_default();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (value("latchkey_db_writes_total"), value("latchkey_db_commits_total"))
}

fn print(o: &Outcome) {
    println!(
        "{:<44} {:>7} {:>9.0} {:>9.3} {:>9.3} {:>10.1}",
        o.label,
        o.done,
        o.done as f64 / o.seconds,
        o.p50.as_secs_f64() * 1e3,
        o.p99.as_secs_f64() * 1e3,
        o.cpu_per_request
    );
}

fn checkout_request(auth: &str, key: &ed25519_dalek::SigningKey, i: usize, ts: u64, mode: Mode) -> Vec<u8> {
    let path = "/api/agent/checkout/create";
    let body = format!(r#"{{"amount_usd":"0.01","description":"bench {i}"}}"#);
    let digest = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let ts = if mode == Mode::Stale { ts - 3600 } else { ts };
    let signed_body = if mode == Mode::BadSignature { format!("{digest}0") } else { digest };
    let canonical = format!("POST\n{path}\n{ts}\n{signed_body}");
    let signature = STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes());
    raw_request(
        "POST",
        path,
        &[
            ("Authorization", auth.to_string()),
            ("X-Agent-Timestamp", ts.to_string()),
            ("X-Agent-Signature", signature),
            ("Content-Type", "application/json".into()),
        ],
        body.as_bytes(),
    )
}

/// What nginx's `auth_request` sends for a signed GET of the agent's.
fn forward_auth_signed(auth: &str, resource: &str, key: &ed25519_dalek::SigningKey, i: usize, ts: u64) -> Vec<u8> {
    let uri = format!("/api/pay/status?n={i}");
    let nonce = format!("n{i}");
    let empty = hex::encode(sha2::Sha256::digest(b""));
    let canonical = format!("GET\n{uri}\n{ts}\n{empty}\n{nonce}");
    let signature = STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes());
    raw_request(
        "GET",
        &format!("/v1/forward-auth?resource={resource}"),
        &[
            ("Authorization", auth.to_string()),
            ("X-Agent-Timestamp", ts.to_string()),
            ("X-Agent-Signature", signature),
            ("X-Agent-Nonce", nonce),
            ("X-Original-Method", "GET".into()),
            ("X-Original-URI", uri),
            ("X-Forwarded-Host", "files.example.com".into()),
            ("X-Forwarded-Proto", "https".into()),
        ],
        b"",
    )
}

#[derive(PartialEq, Clone, Copy)]
enum Mode {
    Good,
    BadSignature,
    Stale,
}

fn main() {
    let opts = options();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let pin = cores >= 2 && has_taskset();
    if pin {
        // This process (and the threads it starts) on CPU 1; the server on CPU 0.
        let _ = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
    let dir = tempfile::TempDir::new().expect("temp dir");
    let data = dir.path().join("data");
    let seeded_at = Instant::now();
    // BENCH_POSTGRES_URL: a fresh database on that server for this run.
    let postgres = std::env::var("BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty()).map(|admin| {
        let name = format!("latchkey_bench_{}", std::process::id());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("BENCH_POSTGRES_URL");
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create the bench database");
        let mut url = url::Url::parse(&admin).expect("BENCH_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        println!("on PostgreSQL: {}", url.as_str().split('@').next_back().unwrap_or(""));
        (admin, name, url.to_string())
    });
    let database_url = postgres.as_ref().map(|(_, _, url)| url.as_str());
    let seeded = seed(&data, opts.rows, database_url);
    if opts.rows > 0 {
        println!(
            "seeded {} filler rows each in pats, assertion_jtis, audit_events in {:.1?}",
            opts.rows,
            seeded_at.elapsed()
        );
    }

    let server = Server::start(&data, pin, database_url);
    let base = server.base();
    let idle_rss = {
        std::thread::sleep(Duration::from_millis(300));
        server.status_kib("VmRSS:")
    };

    // Enrol the agent's ES256 key, and start a key-bound session.
    let es_key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        es_key.public_key().to_encoded_point(false)
    };
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")), "y": URL_SAFE_NO_PAD.encode(point.y().expect("y"))});
    let enrolled: serde_json::Value = ureq::post(&format!("{base}/v1/agents/bootstrap"))
        .send_json(serde_json::json!({"bootstrapSecret": seeded.bootstrap_secret, "publicKey": jwk}))
        .expect("bootstrap")
        .into_json()
        .expect("json");
    let agent_id = enrolled["agentId"].as_str().expect("agent id").to_string();
    let ed_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let session: serde_json::Value = ureq::post(&format!("{base}/api/agent/auth/pat"))
        .send_json(serde_json::json!({"token": seeded.agent_pat,
            "session_pubkey": URL_SAFE_NO_PAD.encode(ed_key.verifying_key().to_bytes())}))
        .expect("session")
        .into_json()
        .expect("json");
    let session_auth = format!("Bearer {}", session["jwt"].as_str().expect("jwt"));

    println!(
        "Latchkey {} on loopback; server {}, load {}; {} connections; {} requests per workload{}",
        env!("CARGO_PKG_VERSION"),
        if pin { "pinned to CPU 0" } else { "unpinned" },
        if pin { "on CPU 1" } else { "unpinned" },
        opts.connections,
        opts.requests,
        if opts.smoke { " (smoke)" } else { "" },
    );
    println!(
        "{:<44} {:>7} {:>9} {:>9} {:>9} {:>10}",
        "workload", "requests", "req/s", "p50 ms", "p99 ms", "CPU µs/req"
    );
    let n = opts.requests;
    let get = |path: &str, auth: Option<&str>| {
        let headers: Vec<(&str, String)> = auth.map(|a| ("Authorization", a.to_string())).into_iter().collect();
        raw_request("GET", path, &headers, b"")
    };

    // W1: every assertion fresh, its own jti.
    let encoding = {
        use p256::pkcs8::EncodePrivateKey;
        jsonwebtoken::EncodingKey::from_ec_der(es_key.to_pkcs8_der().expect("der").as_bytes())
    };
    let w1 = || {
        let now = unix_now();
        (0..n)
        .map(|i| {
            let claims = serde_json::json!({"iss": agent_id, "sub": agent_id, "aud": base,
                "iat": now, "exp": now + 60, "jti": format!("bench-{now}-{i}")});
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            let assertion = jsonwebtoken::encode(&header, &claims, &encoding).expect("sign");
            let body = format!(
                "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
            );
            raw_request(
                "POST",
                "/v1/agents/token",
                &[("Content-Type", "application/x-www-form-urlencoded".into())],
                body.as_bytes(),
            )
        })
        .collect::<Vec<_>>()
    };

    let introspect = raw_request(
        "POST",
        "/v1/introspect",
        &[
            ("Authorization", format!("Bearer {}", seeded.service_pat)),
            ("Content-Type", "application/x-www-form-urlencoded".into()),
        ],
        format!("token={}", seeded.agent_pat).as_bytes(),
    );
    let agent_bearer = format!("Bearer {}", seeded.agent_pat);

    let checkouts = |mode| {
        let ts = unix_now();
        (0..n).map(|i| checkout_request(&session_auth, &ed_key, i, ts, mode)).collect::<Vec<_>>()
    };

    let forward_pat = raw_request(
        "GET",
        &format!("/v1/forward-auth?resource={}", seeded.resource_id),
        &[
            ("Authorization", agent_bearer.clone()),
            ("X-Original-Method", "GET".into()),
            ("X-Original-URI", "/api/files/report.pdf".into()),
            ("X-Forwarded-Host", "files.example.com".into()),
            ("X-Forwarded-Proto", "https".into()),
        ],
        b"",
    );
    // An OAuth access token, exchanged for the seeded code.
    let oauth_token: serde_json::Value = {
        let (code, verifier, client_id) = &seeded.oauth;
        ureq::post(&format!("{base}/oauth/token"))
            .send_form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", "http://127.0.0.1:1/cb"),
                ("client_id", client_id),
                ("resource", "https://files.example.com/"),
            ])
            .expect("oauth token")
            .into_json()
            .expect("json")
    };
    let forward_oauth = raw_request(
        "GET",
        &format!("/v1/forward-auth?resource={}", seeded.resource_id),
        &[
            ("Authorization", format!("Bearer {}", oauth_token["access_token"].as_str().expect("access token"))),
            ("X-Original-Method", "GET".into()),
            ("X-Original-URI", "/api/files/report.pdf".into()),
        ],
        b"",
    );
    let forward_signed = || {
        let ts = unix_now();
        (0..n).map(|i| forward_auth_signed(&session_auth, &seeded.resource_id, &ed_key, i, ts)).collect::<Vec<_>>()
    };

    type Make<'a> = Box<dyn Fn() -> Vec<Vec<u8>> + 'a>;
    let workloads: Vec<(&'static str, Make, u16)> = vec![
        ("floor: GET /healthz", Box::new(|| vec![get("/healthz", None); n]), 200),
        ("floor: GET /readyz", Box::new(|| vec![get("/readyz", None); n]), 200),
        ("W1 POST /v1/agents/token (fresh ES256)", Box::new(w1), 200),
        ("W2 POST /v1/introspect (service PAT)", Box::new(|| vec![introspect.clone(); n]), 200),
        ("W3 GET /v1/auth/whoami (agent PAT)", Box::new(|| vec![get("/v1/auth/whoami", Some(&agent_bearer)); n]), 200),
        ("W4 signed checkout", Box::new(|| checkouts(Mode::Good)), 201),
        ("W5b signed checkout, bad signature", Box::new(|| checkouts(Mode::BadSignature)), 401),
        ("W5c signed checkout, stale timestamp", Box::new(|| checkouts(Mode::Stale)), 401),
        ("W6 GET /v1/forward-auth (agent PAT)", Box::new(|| vec![forward_pat.clone(); n]), 200),
        ("W6b GET /v1/forward-auth (signed session)", Box::new(forward_signed), 200),
        ("W7 GET /v1/forward-auth (OAuth access JWT)", Box::new(|| vec![forward_oauth.clone(); n]), 200),
    ];

    let mut failed = 0;
    let mut results: Vec<(&'static str, Vec<Outcome>)> = Vec::new();
    for round in 1..=opts.rounds {
        if opts.rounds > 1 {
            println!("round {round} of {}", opts.rounds);
        }
        for (label, make, expect) in &workloads {
            if opts.only.as_deref().is_some_and(|o| !o.split(',').any(|p| label.starts_with(p))) {
                continue;
            }
            let before = writes_and_commits(&base, &seeded.service_pat);
            let o = drive(&server, label, make(), *expect, opts.connections);
            let after = writes_and_commits(&base, &seeded.service_pat);
            print(&o);
            if after.1 > before.1 {
                println!("{:<44} {:.1} writes per commit", "", (after.0 - before.0) / (after.1 - before.1));
            }
            failed += o.wrong;
            match results.iter_mut().find(|(l, _)| l == label) {
                Some((_, all)) => all.push(o),
                None => results.push((label, vec![o])),
            }
        }
    }
    if opts.rounds > 1 {
        println!("\nmedian of {} rounds", opts.rounds);
        println!(
            "{:<44} {:>7} {:>9} {:>9} {:>9} {:>10}",
            "workload", "requests", "req/s", "p50 ms", "p99 ms", "CPU µs/req"
        );
        for (_, mut all) in results {
            all.sort_by(|a, b| a.cpu_per_request.total_cmp(&b.cpu_per_request));
            print(&all[all.len() / 2]);
        }
    }

    println!(
        "server RSS: idle {:.1} MB, peak {:.1} MB",
        idle_rss as f64 / 1024.0,
        server.status_kib("VmHWM:") as f64 / 1024.0
    );
    drop(server);
    if let Some((admin, name, _)) = &postgres
        && let Ok(mut client) = postgres::Client::connect(admin, postgres::NoTls)
    {
        let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    if failed > 0 {
        let log = std::fs::read_to_string(data.with_file_name("server.log")).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")).take(10).collect();
        eprintln!("server log (errors):\n{}", errors.join("\n"));
    }
    assert_eq!(failed, 0, "{failed} responses had an unexpected status");
}
