//! Throughput and latency on loopback of `GET /v1/auth/whoami` (with a PAT
//! and with an exchanged JWT) and of signed checkouts over a key-bound
//! session. Bounded: a fixed number of requests per run and a time limit;
//! the server is stopped at the end.
//!
//!     cargo bench --bench api
//!
//! Environment: BENCH_REQUESTS (default 20000), BENCH_CLIENTS (default 4).

use std::sync::mpsc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer;
use sha2::Digest;
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

/// Returns an agent PAT and a bootstrap secret for the same agent, and a
/// workspace certificate.
fn mint(data: &std::path::Path) -> (String, String, latchkey::crypto::rsa_cert::Generated) {
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
        let minter = Acting { user_id: Some(user.id.clone()), role: Role::Owner };
        let request = MintRequest {
            name: "bench".into(),
            scope: Scope::Agent,
            audience: Audience::Both,
            expires_in_days: 1,
            agent: Some(AgentRef::Name { name: "bench-agent".into(), create: true }),
            daily_cap: Some(latchkey::domain::money::AmountCents::parse("1000000.00").expect("cap")),
            delegated: false,
        };
        let (agent_pat, _) = pats::mint(tx, &ws.id, &minter, request, latchkey::domain::money::AmountCents::ZERO, &by)?;
        let agent = latchkey::db::agents::find_by_name(tx, &ws.id, "bench-agent")?.expect("agent");
        let (secret, _) = domain::enrollment::issue_bootstrap_secret(tx, &agent, 1, &by)?;
        let generated = latchkey::crypto::rsa_cert::generate().expect("rsa");
        domain::certificates::create(tx, &ws.id, &generated, &by)?;
        Ok((agent_pat.into_inner(), secret.into_inner(), generated))
    })
    .expect("mint")
}

/// Sends `requests` requests from `clients` threads; `send(client, i)`
/// makes request number `i` and returns its status.
fn run<F>(label: &str, requests: usize, clients: usize, send: F)
where
    F: Fn(&ureq::Agent, usize) -> u16 + Send + Sync + 'static,
{
    let send = std::sync::Arc::new(send);
    let warm = ureq::AgentBuilder::new().build();
    for i in 0..200 {
        send(&warm, usize::MAX - i);
    }
    let started = Instant::now();
    let per_client = requests / clients;
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let send = send.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let mut lat = Vec::with_capacity(per_client);
                let begin = Instant::now();
                for i in 0..per_client {
                    if begin.elapsed() > TIME_LIMIT {
                        break;
                    }
                    let t = Instant::now();
                    let status = send(&agent, c * per_client + i);
                    assert!(status < 300, "status {status}");
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
        all.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
    );
}

fn get_status(agent: &ureq::Agent, url: &str, auth: &str) -> u16 {
    match agent.get(url).set("Authorization", auth).call() {
        Ok(r) => {
            let s = r.status();
            let _ = r.into_string();
            s
        }
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let requests = env_usize("BENCH_REQUESTS", 20_000);
    let clients = env_usize("BENCH_CLIENTS", 4).max(1);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let data = dir.path().join("data");
    let (pat, bootstrap_secret, cert) = mint(&data);

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
    let auth = format!("Bearer {pat}");
    let u = url.clone();
    run("whoami, agent PAT", requests, clients, move |a, _| get_status(a, &u, &auth));
    let auth = format!("Bearer {jwt}");
    let u = url.clone();
    run("whoami, exchanged JWT", requests, clients, move |a, _| get_status(a, &u, &auth));

    // A management JWT signed with a workspace certificate (RS256), reused
    // for its lifetime as a backend would.
    let cert_jwt = {
        let der = pem_rfc7468::decode_vec(cert.private_key_pem.as_bytes()).expect("pem").1;
        let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).expect("pkcs8");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
        let header = URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": "RS256", "kid": cert.kid}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(serde_json::json!({"iat": now, "exp": now + 3000}).to_string());
        let input = format!("{header}.{claims}");
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let auth = format!("Bearer {cert_jwt}");
    let u = url.clone();
    run("whoami, certificate JWT", requests, clients, move |a, _| get_status(a, &u, &auth));

    // Signed checkouts of 0.01 over one key-bound session (cap 1,000,000.00).
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pubkey = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let session: serde_json::Value = ureq::post(&format!("{base}/api/agent/auth/pat"))
        .send_json(serde_json::json!({"token": pat, "session_pubkey": pubkey}))
        .expect("session")
        .into_json()
        .expect("json");
    let auth = format!("Bearer {}", session["jwt"].as_str().expect("jwt"));
    let checkout_url = format!("{base}/api/agent/checkout/create");
    run("signed checkout", requests, clients, move |a, i| {
        let body = format!(r#"{{"amount_usd":"0.01","description":"bench {i}"}}"#);
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
        let canonical =
            format!("POST\n/api/agent/checkout/create\n{ts}\n{}", hex::encode(sha2::Sha256::digest(body.as_bytes())));
        let sig = STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes());
        match a
            .post(&checkout_url)
            .set("Authorization", &auth)
            .set("X-Agent-Timestamp", &ts.to_string())
            .set("X-Agent-Signature", &sig)
            .set("Content-Type", "application/json")
            .send_string(&body)
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, r)) => panic!("{s}: {}", r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    });

    // Token endpoint: a fresh ES256 client assertion per request.
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        key.public_key().to_encoded_point(false)
    };
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")), "y": URL_SAFE_NO_PAD.encode(point.y().expect("y"))});
    let enrolled: serde_json::Value = ureq::post(&format!("{base}/v1/agents/bootstrap"))
        .send_json(serde_json::json!({"bootstrapSecret": bootstrap_secret, "publicKey": jwk}))
        .expect("bootstrap")
        .into_json()
        .expect("json");
    let agent_id = enrolled["agentId"].as_str().expect("agent id").to_string();
    let der = {
        use p256::pkcs8::EncodePrivateKey;
        key.to_pkcs8_der().expect("der")
    };
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
    let token_url = format!("{base}/v1/agents/token");
    let audience = base.clone();
    run("token endpoint (ES256)", requests, clients, move |a, i| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
        let claims = serde_json::json!({"iss": agent_id, "sub": agent_id, "aud": audience, "iat": now, "exp": now + 60, "jti": format!("bench-{i}")});
        let assertion =
            jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &encoding)
                .expect("sign");
        let res = a.post(&token_url).send_form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ]);
        match res {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, r)) => panic!("{s}: {}", r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    });

    let _ = stop_tx.send(());
    let _ = server.join();
}
