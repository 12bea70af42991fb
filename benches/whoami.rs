//! Throughput and latency of `GET /v1/auth/whoami` on loopback, with a PAT
//! and with an exchanged JWT. Bounded: a fixed number of requests per run
//! and a time limit; the server is stopped at the end.
//!
//!     cargo bench --bench whoami
//!
//! Environment: BENCH_REQUESTS (default 20000), BENCH_CLIENTS (default 4).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use latchkey::app::App;
use latchkey::clock::Clock;
use latchkey::config::Config;
use latchkey::db::Db;
use latchkey::domain::audit::{Actor, RequestMeta};
use latchkey::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
use latchkey::domain::principal::Acting;
use latchkey::domain::{self, Email, Role};

const TIME_LIMIT: Duration = Duration::from_secs(60);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn mint(data: &std::path::Path) -> (String, String) {
    let db = Db::open(data).expect("db");
    let now = Clock::system().now();
    let email = Email::parse("bench@example.com").unwrap();
    db.write_blocking(|tx| {
        let ws = domain::setup::create_owner_headless(
            tx,
            &email,
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            now,
        )?;
        domain::security_mode::set(tx, &ws.id, true, &Actor::Cli, &RequestMeta::default(), now)?;
        let user = latchkey::db::users::find_by_email(tx, email.as_str())?.unwrap();
        let by = domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
        let minter = Acting { user_id: user.id.clone(), role: Role::Owner };
        let request = MintRequest {
            name: "bench".into(),
            scope: Scope::Agent,
            audience: Audience::Both,
            expires_in_days: 1,
            agent: Some(AgentRef::Name { name: "bench-agent".into(), create: true }),
            daily_cap: None,
        };
        let (agent_pat, _) = pats::mint(tx, &ws.id, &minter, request, latchkey::domain::money::AmountCents::ZERO, &by)?;
        Ok((agent_pat.into_inner(), ws.id.0))
    })
    .expect("mint")
}

fn run(label: &str, url: &str, token: &str, requests: usize, clients: usize) {
    let auth = format!("Bearer {token}");
    // Warm-up: connections, statement caches.
    let agent = ureq::AgentBuilder::new().build();
    for _ in 0..200 {
        agent.get(url).set("Authorization", &auth).call().expect("warm-up");
    }
    let started = Instant::now();
    let per_client = requests / clients;
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (url, auth) = (url.to_string(), auth.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let mut lat = Vec::with_capacity(per_client);
                let begin = Instant::now();
                for _ in 0..per_client {
                    if begin.elapsed() > TIME_LIMIT {
                        break;
                    }
                    let t = Instant::now();
                    let res = agent.get(&url).set("Authorization", &auth).call().expect("request");
                    assert_eq!(res.status(), 200);
                    let _ = res.into_string();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().expect("client")).collect();
    let wall = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "{label:<28} {:>6} req in {:>6.2} s = {:>8.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        all.len(),
        wall.as_secs_f64(),
        all.len() as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let requests = env_usize("BENCH_REQUESTS", 20_000);
    let clients = env_usize("BENCH_CLIENTS", 4).max(1);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let data = dir.path().join("data");
    let (pat, _ws) = mint(&data);

    let mut config = Config::for_tests(data.clone());
    config.workers = None;
    config.rate_login_per_min = 0;
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = App::build(config, Clock::system()).expect("build");
            tx.send(app.port()).expect("port");
            let handle = app.handle();
            let running = actix_web::rt::spawn(app.run());
            let _ = actix_web::rt::task::spawn_blocking(move || stop_rx.recv()).await;
            handle.stop(true).await;
            let _ = running.await;
        })
    });
    let port = rx.recv_timeout(Duration::from_secs(30)).expect("server start");
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/v1/auth/whoami");

    let jwt: serde_json::Value = ureq::post(&format!("{base}/v1/auth/exchange"))
        .set("Authorization", &format!("Bearer {pat}"))
        .call()
        .expect("exchange")
        .into_json()
        .expect("json");
    let jwt = jwt["access_token"].as_str().expect("jwt").to_string();

    println!(
        "GET /v1/auth/whoami on loopback: {} server workers, {clients} keep-alive client threads, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    run("agent PAT", &url, &pat, requests, clients);
    run("exchanged JWT (EdDSA)", &url, &jwt, requests, clients);

    let _ = stop_tx.send(());
    let _ = server.join();
}
