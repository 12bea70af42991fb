//! Forward-auth through the real proxies from Debian's packages (nginx with
//! `auth_request`, Caddy with `forward_auth`), configured with exactly the
//! snippets the dashboard shows, in front of an upstream that echoes what
//! it receives and checks `X-Latchkey-Content-Digest` against the body the
//! way the README shows. `.ci/run` installs both and sets
//! `LATCHKEY_REQUIRE_PROXIES=1`, so there a missing proxy fails the test;
//! elsewhere it is skipped with a note.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey::domain::resources::snippets::{self, Subject, Targets};
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;
use crate::resources::{as_refs, signed_headers};
use crate::signed::start_session;

/// The upstream's whole check of a signed body (what the README shows).
fn body_matches(declared: &str, body: &[u8]) -> bool {
    declared == format!("sha-256=:{}:", STANDARD.encode(sha2::Sha256::digest(body)))
}

/// A service that answers with the method, path and headers it received;
/// 400 when a signed body is not the one the signature covers.
struct Upstream {
    port: u16,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = actix_web::HttpServer::new(|| {
                    actix_web::App::new().default_service(actix_web::web::to(
                        |req: actix_web::HttpRequest, body: actix_web::web::Bytes| async move {
                            if let Some(declared) = req
                                .headers()
                                .get("x-latchkey-content-digest")
                                .and_then(|v| v.to_str().ok())
                                .filter(|v| !v.is_empty())
                                && !body_matches(declared, &body)
                            {
                                return actix_web::HttpResponse::BadRequest()
                                    .json(json!({"error": "body differs from the signed digest", "declared": declared, "body": String::from_utf8_lossy(&body)}));
                            }
                            let mut headers = serde_json::Map::new();
                            for (name, value) in req.headers() {
                                headers.insert(name.as_str().to_string(), json!(value.to_str().unwrap_or("")));
                            }
                            actix_web::HttpResponse::Ok().json(json!({
                                "method": req.method().as_str(),
                                "path": req.uri().to_string(),
                                "headers": headers,
                                "body": String::from_utf8_lossy(&body),
                            }))
                        },
                    ))
                })
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = rx.recv_timeout(Duration::from_secs(10)).expect("upstream start");
        Upstream { port, handle, thread: Some(thread) }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A proxy process, stopped by its PID when dropped.
struct Proxy {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, proxy: &mut Proxy, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = proxy.child.try_wait() {
            panic!("the proxy exited ({status}): {}", proxy.log(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the proxy did not listen on {port}: {}", proxy.log(log));
}

/// The program, or `None` (skip) where the proxies are not required.
fn program(candidates: &[&str]) -> Option<PathBuf> {
    let found = candidates.iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| {
        let out = Command::new("sh").arg("-c").arg(format!("command -v {}", candidates[0])).output().ok()?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!path.is_empty()).then(|| PathBuf::from(path))
    });
    if found.is_none() {
        assert!(
            std::env::var_os("LATCHKEY_REQUIRE_PROXIES").is_none(),
            "{} is required (LATCHKEY_REQUIRE_PROXIES is set); .ci/run installs it",
            candidates[0]
        );
        eprintln!("skipped: {} is not installed (apt-get install nginx-light caddy)", candidates[0]);
    }
    found
}

fn start_nginx(bin: &Path, port: u16, snippet: &str) -> Proxy {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\nevents {{}}\nhttp {{\n    access_log off;\n    \
         client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
         uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    server {{\n        listen 127.0.0.1:{port};\n{snippet}    }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let mut proxy = Proxy { child, dir };
    wait_for_port(port, &mut proxy, "error.log");
    proxy
}

fn start_caddy(bin: &Path, port: u16, snippet: &str) -> Proxy {
    let dir = tempfile::TempDir::new().unwrap();
    let conf = format!("{{\n    admin off\n    auto_https off\n}}\nhttp://127.0.0.1:{port} {{\n{snippet}}}\n");
    std::fs::write(dir.path().join("Caddyfile"), conf).unwrap();
    let log = std::fs::File::create(dir.path().join("caddy.log")).unwrap();
    let child = Command::new(bin)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.path().join("Caddyfile"))
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start caddy");
    let mut proxy = Proxy { child, dir };
    wait_for_port(port, &mut proxy, "caddy.log");
    proxy
}

/// Every flow of the forward-auth issue through one proxy.
fn exercise(start: impl FnOnce(u16, &Subject<'_>, &Targets<'_>) -> Proxy) {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let agent_pat = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "fetcher"]);
    let upstream = Upstream::start();
    let port = free_port();
    let mut api = app.client();
    let res = api.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({
            "name": "Files",
            "identifier": format!("http://127.0.0.1:{port}/"),
            "scopes": ["files:read"],
            "rules": [
                {"methods": ["GET", "HEAD"], "path_prefix": "/api/"},
                {"methods": ["*"], "path_prefix": "/api/pay/", "require_signature": true},
            ],
        })),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let resource = res.json();
    let (id, identifier) = (resource["id"].as_str().unwrap(), resource["identifier"].as_str().unwrap());
    let subject = Subject { id, name: "Files", identifier };
    let upstream_url = format!("http://127.0.0.1:{}", upstream.port);
    let targets = Targets { latchkey: &app.address, upstream: &upstream_url };
    let proxy = start(port, &subject, &targets);
    let mut c = Client::for_address(&format!("http://127.0.0.1:{port}"));
    let echoed = |res: &Response| -> Value {
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()
    };

    // A PAT passes; the upstream sees who it is, never what the client forged.
    let auth = format!("Bearer {agent_pat}");
    let res = c.send(
        "GET",
        "/api/hello?x=1",
        &[("Authorization", &auth), ("X-Latchkey-Agent-Id", "forged"), ("X-Latchkey-User-Email", "boss@example.com")],
        None,
    );
    let seen = echoed(&res);
    assert_eq!(seen["path"], "/api/hello?x=1");
    let h = &seen["headers"];
    assert_eq!(h["x-latchkey-agent-name"], "fetcher", "{seen}");
    assert_eq!(h["x-latchkey-credential-kind"], "pat");
    assert_eq!(h["x-latchkey-scope-type"], "agent");
    assert!(h["x-latchkey-agent-id"].as_str().is_some_and(|v| v.len() == 36), "{seen}");
    // Absent (nginx sends no empty header) or empty (Caddy), never forged.
    assert!(h.get("x-latchkey-user-email").is_none_or(|v| v == ""), "a forged header reached the upstream: {seen}");

    // No credential: 401, the challenge, the §4 body.
    let res = c.get("/api/hello");
    res.assert_error(401, "AUTH_REQUIRED");
    let challenge = res.header("www-authenticate").unwrap_or_default().to_string();
    let metadata_url = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource");
    assert!(challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")), "{challenge}");
    // The challenge's URL answers, through the proxy, with the document.
    let doc = c.get("/.well-known/oauth-protected-resource");
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert_eq!(doc.json()["resource"], identifier);

    // Wrong scope type; a PAT where a signed session is required.
    c.send("GET", "/api/hello", &[("Authorization", &format!("Bearer {host}"))], None).assert_error(403, "AUTH_SCOPE");
    let body = c
        .send("POST", "/api/pay/1", &[("Authorization", &auth)], Some("{}".into()))
        .assert_error(403, "SESSION_REQUIRED");
    assert_eq!(body["recovery"]["kind"], "start_session");

    // A body larger than the API's limit is the upstream's business: the
    // check never reads it.
    let big = "x".repeat(100 * 1024);
    c.send("POST", "/api/pay/big", &[("Authorization", &auth)], Some(big)).assert_error(403, "SESSION_REQUIRED");

    // A signed GET passes, and the same signature again is a replay.
    let s = start_session(&mut api, &agent_pat);
    let now = app.clock.now().0;
    let get = signed_headers(&s, "GET", "/api/pay/status", now, "");
    let seen = echoed(&c.send("GET", "/api/pay/status", &as_refs(&get), None));
    assert_eq!(seen["headers"]["x-latchkey-credential-kind"], "session");
    c.send("GET", "/api/pay/status", &as_refs(&get), None).assert_error(401, "SIGNATURE_REPLAYED");

    // A signed POST: the upstream receives the body the digest names; a
    // body swapped on the way is refused by the upstream's check.
    let payload = r#"{"amount_usd":"5.00"}"#;
    let mut post = signed_headers(&s, "POST", "/api/pay/", now, payload);
    post.push(("Content-Type".into(), "application/json".into()));
    let seen = echoed(&c.send("POST", "/api/pay/", &as_refs(&post), Some(payload.into())));
    assert_eq!(seen["body"], payload);
    let mut swapped = signed_headers(&s, "POST", "/api/pay/", now + 1, payload);
    swapped.push(("Content-Type".into(), "application/json".into()));
    let res = c.send("POST", "/api/pay/", &as_refs(&swapped), Some(r#"{"amount_usd":"500.00"}"#.into()));
    assert_eq!(res.status, 400, "the upstream must refuse a body the agent did not sign: {}", res.body);

    // Another workspace's agent credential never passes here.
    let (_, out, _) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example"],
        None,
    );
    let ws_b = out.trim().to_string();
    run_cli(&app.data_dir, &["admin", "security-mode", "on", "--workspace", &ws_b], None);
    let pat_b = app.mint_pat(&[
        "--email",
        "hank@globex.example",
        "--name",
        "b",
        "--scope",
        "agent",
        "--agent",
        "x",
        "--workspace",
        &ws_b,
    ]);
    c.send("GET", "/api/hello", &[("Authorization", &format!("Bearer {pat_b}"))], None)
        .assert_error(401, "AUTH_UNKNOWN_TOKEN");

    // Revoked: refused on the very next request.
    let pat_id = api.api("GET", "/v1/auth/whoami", Some(&agent_pat), None).json()["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api.api("POST", &format!("/v1/pats/{pat_id}/revoke"), Some(&host), None).status, 200);
    c.send("GET", "/api/hello", &[("Authorization", &auth)], None).assert_error(401, "AUTH_TOKEN_REVOKED");

    // Agent Security Mode off: 403.
    let ws_a = resource["workspace_id"].as_str().unwrap();
    let fresh = app.mint_pat(&[
        "--email",
        OWNER_EMAIL,
        "--name",
        "c",
        "--scope",
        "agent",
        "--agent",
        "fetcher",
        "--workspace",
        ws_a,
    ]);
    let (code, _, err) = run_cli(&app.data_dir, &["admin", "security-mode", "off", "--workspace", ws_a], None);
    assert_eq!(code, 0, "{err}");
    c.send("GET", "/api/hello", &[("Authorization", &format!("Bearer {fresh}"))], None)
        .assert_error(403, "AGENT_SECURITY_MODE_OFF");
    drop(proxy);
}

#[test]
fn nginx_auth_request_guards_a_service_with_the_dashboard_snippet() {
    let Some(bin) = program(&["nginx", "/usr/sbin/nginx"]) else { return };
    exercise(|port, subject, targets| start_nginx(&bin, port, &snippets::nginx(subject, targets)));
}

#[test]
fn caddy_forward_auth_guards_a_service_with_the_dashboard_snippet() {
    let Some(bin) = program(&["caddy", "/usr/bin/caddy"]) else { return };
    exercise(|port, subject, targets| start_caddy(&bin, port, &snippets::caddy(subject, targets)));
}

/// The README shows the snippets for an example resource exactly as the
/// dashboard renders them (`LATCHKEY_BLESS_README=1` rewrites them).
#[test]
fn the_readme_documents_the_snippets_the_dashboard_shows() {
    let subject = Subject { id: "RESOURCE_ID", name: "Files", identifier: "https://files.example.com/" };
    let targets = Targets { latchkey: "http://127.0.0.1:8080", upstream: "http://127.0.0.1:3000" };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let mut readme = std::fs::read_to_string(&path).unwrap();
    for (name, lang, text) in [
        ("nginx", "nginx", snippets::nginx(&subject, &targets)),
        ("caddy", "caddyfile", snippets::caddy(&subject, &targets)),
    ] {
        let (open, close) = (format!("<!-- snippet:{name} -->\n"), format!("<!-- /snippet:{name} -->"));
        let start = readme.find(&open).unwrap_or_else(|| panic!("README lacks {open}")) + open.len();
        let end = readme[start..].find(&close).unwrap() + start;
        let expected = format!("```{lang}\n{text}```\n");
        if std::env::var_os("LATCHKEY_BLESS_README").is_some() {
            readme.replace_range(start..end, &expected);
        } else {
            assert_eq!(
                &readme[start..end],
                expected,
                "README's {name} snippet is stale: LATCHKEY_BLESS_README=1 cargo test readme"
            );
        }
    }
    if std::env::var_os("LATCHKEY_BLESS_README").is_some() {
        std::fs::write(&path, readme).unwrap();
    }
}
