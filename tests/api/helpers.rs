//! The test harness: the real server on an ephemeral port against a
//! temporary data dir, and typed helpers for the common flows.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use latchkey::app::App;
use latchkey::clock::Clock;
use latchkey::config::Config;
use tempfile::TempDir;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

/// A server running in this process on its own actix system and thread.
pub struct TestApp {
    pub address: String,
    pub keys: std::sync::Arc<latchkey::crypto::keys::SigningKeys>,
    pub clock: Clock,
    pub setup_code: Option<String>,
    pub data_dir: PathBuf,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<TempDir>,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {})
    }

    pub fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = TempDir::new().expect("temp dir");
        let mut app = TestApp::spawn_in(dir.path().join("data"), tweak);
        app._dir = Some(dir);
        app
    }

    /// A server on an existing data dir (for restarts); the caller keeps the dir.
    pub fn spawn_in(data_dir: PathBuf, tweak: impl FnOnce(&mut Config)) -> TestApp {
        std::mem::forget(latchkey::telemetry::init());
        let mut config = Config::for_tests(data_dir.clone());
        config.database_url = database_url_for(&data_dir).map(latchkey::config::DatabaseUrl);
        tweak(&mut config);
        let clock = Clock::system();
        let server_clock = clock.clone();
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let app = match App::build(config, server_clock) {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok((app.port(), app.setup_code().map(str::to_string), app.state().keys.clone())));
                let handle = app.handle();
                let server = actix_web::rt::spawn(app.run());
                let _ = actix_web::rt::task::spawn_blocking(move || stop_rx.recv()).await;
                handle.stop(false).await;
                let _ = server.await;
            });
        });
        let (port, setup_code, keys) =
            rx.recv_timeout(Duration::from_secs(30)).expect("server start").expect("server build");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            keys,
            clock,
            setup_code,
            data_dir,
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: None,
        }
    }

    /// The server's database, opened beside it (as the CLI does).
    pub fn open_db(&self) -> latchkey::db::Db {
        latchkey::db::Db::open_url(&self.data_dir, database_url_for(&self.data_dir).as_deref()).expect("open db")
    }

    /// A client without cookies.
    pub fn client(&self) -> Client {
        Client { base: self.address.clone(), cookies: BTreeMap::new(), agent: agent() }
    }

    /// Runs /setup with the printed code and returns the owner's logged-in browser.
    pub fn setup_owner(&self) -> Client {
        let code = self.setup_code.clone().expect("a fresh server prints a setup code");
        let mut browser = self.client();
        let page = browser.get(&format!("/setup?code={code}"));
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        let res = browser.post_form(
            "/setup",
            &[
                ("csrf", &csrf),
                ("code", &code),
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
                ("password_confirm", OWNER_PASSWORD),
                ("workspace_name", "Acme"),
            ],
        );
        assert_eq!(res.status, 303, "{}", res.body);
        browser
    }

    /// Logs in through the form; returns the answer and the browser.
    pub fn login(&self, email: &str, password: &str) -> (Response, Client) {
        let mut browser = self.client();
        let page = browser.get("/login");
        let csrf = page.csrf();
        let res = browser.post_form("/login", &[("csrf", &csrf), ("email", email), ("password", password)]);
        (res, browser)
    }

    /// Setup, Agent Security Mode on, and a host PAT for the owner.
    pub fn owner_with_host_pat(&self) -> (Client, String) {
        let mut owner = self.setup_owner();
        let csrf = owner.get("/settings").csrf();
        let res = owner.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "on")]);
        assert_eq!(res.status, 303);
        let pat = self.mint_pat(&["--email", OWNER_EMAIL, "--name", "admin", "--scope", "host"]);
        (owner, pat)
    }

    /// `latchkey admin mint-pat ARGS` on this server's data dir.
    pub fn mint_pat(&self, args: &[&str]) -> String {
        let mut all = vec!["admin", "mint-pat"];
        all.extend_from_slice(args);
        let (code, out, err) = run_cli(&self.data_dir, &all, None);
        assert_eq!(code, 0, "mint-pat failed: {err}");
        let token = out.trim().to_string();
        assert!(token.starts_with("lk_pat_"), "{out}");
        token
    }

    /// Stops the server (and waits for its thread).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
        // The data dir goes with the test, and so does its database.
        if self._dir.is_some() {
            drop_database_for(&self.data_dir);
        }
    }
}

/// The PostgreSQL server the `api_postgres` suite runs against
/// (`LATCHKEY_TEST_POSTGRES_URL`, a URL of a database the test user can
/// create databases from); `None` in the SQLite suite.
pub fn postgres_base() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    if !name.starts_with("api_postgres") {
        return None;
    }
    match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LATCHKEY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("LATCHKEY_REQUIRE_POSTGRES=1 but LATCHKEY_TEST_POSTGRES_URL is not set")
        }
        _ => {
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                eprintln!(
                    "note: LATCHKEY_TEST_POSTGRES_URL is not set, so the PostgreSQL suite runs on SQLite \
                     and its PostgreSQL-only tests (replicas, schema) are skipped"
                )
            });
            None
        }
    }
}

/// Whether this suite runs on PostgreSQL (tests that read the SQLite file
/// itself skip there).
pub fn on_postgres() -> bool {
    postgres_base().is_some()
}

/// One database per data dir (a restarted server finds its data again).
fn database_name(data_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.to_string_lossy().as_bytes());
    format!("lk_test_{}", hex::encode(&digest[..8]))
}

/// Data dirs that keep the embedded SQLite file even in the PostgreSQL
/// suite (an instance about to be moved with `db copy`).
static SQLITE_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Keeps `data_dir` on SQLite: servers and commands started on it get no
/// database URL.
pub fn keep_on_sqlite(data_dir: &Path) {
    SQLITE_DIRS.lock().unwrap().push(data_dir.to_path_buf());
}

/// The URL of this data dir's database, created on first use.
pub fn database_url_for(data_dir: &Path) -> Option<String> {
    let base = postgres_base()?;
    if SQLITE_DIRS.lock().unwrap().iter().any(|d| d == data_dir) {
        return None;
    }
    let name = database_name(data_dir);
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect to LATCHKEY_TEST_POSTGRES_URL");
    if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
        let duplicate = e.code().is_some_and(|c| c.code() == "42P04");
        assert!(duplicate, "create test database: {e}");
    }
    let mut url = url::Url::parse(&base).expect("LATCHKEY_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// A direct connection to this data dir's PostgreSQL database.
pub fn postgres_client(data_dir: &Path) -> postgres::Client {
    let url = database_url_for(data_dir).expect("on PostgreSQL");
    postgres::Client::connect(&url, postgres::NoTls).expect("connect")
}

/// One text value from this data dir's PostgreSQL database.
pub fn postgres_query_text(data_dir: &Path, sql: &str) -> String {
    postgres_client(data_dir).query_one(sql, &[]).expect("query").get::<_, Option<String>>(0).unwrap_or_default()
}

/// Drops this data dir's PostgreSQL database (a test that used one without
/// a [`TestApp`]).
pub fn drop_test_database(data_dir: &Path) {
    drop_database_for(data_dir);
}

fn drop_database_for(data_dir: &Path) {
    let Some(base) = postgres_base() else { return };
    if let Ok(mut admin) = postgres::Client::connect(&base, postgres::NoTls) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", database_name(data_dir)));
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(30)).build()
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The body as its `latchkey::wire` type: fails when the server's answer
    /// and the type the CLI client reads have drifted apart.
    pub fn wire<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not a {} ({e}): {}", std::any::type_name::<T>(), self.body))
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no csrf field in: {}", self.body)) + marker.len();
        let end = self.body[start..].find('"').expect("csrf end") + start;
        self.body[start..end].to_string()
    }

    /// Asserts docs/API.md §4's error shape and returns the body.
    pub fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.body);
        let json = self.json();
        let error: latchkey::wire::ErrorBody = self.wire();
        assert_eq!(error.error_code, code, "{json}");
        assert!(!error.user_message.is_empty(), "{json}");
        assert!(json.get("recovery").is_some(), "recovery must be present (null or object): {json}");
        json
    }
}

/// An HTTP client that keeps cookies like a browser would.
pub struct Client {
    base: String,
    pub cookies: BTreeMap<String, String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client without cookies for the server at `base`.
    pub fn at(base: &str) -> Client {
        Client { base: base.to_string(), cookies: BTreeMap::new(), agent: agent() }
    }
}

impl Client {
    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, &[], None)
    }

    /// A JSON API call with an optional bearer token.
    pub fn api(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.send(method, path, &headers, body.map(|b| b.to_string()))
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        self.send("POST", path, &[("Content-Type", "application/x-www-form-urlencoded")], Some(body))
    }

    /// A client of a server at `address` (one this test started itself).
    pub fn for_address(address: &str) -> Client {
        Client { base: address.to_string(), cookies: BTreeMap::new(), agent: agent() }
    }

    /// [`Client::api`], but `None` when the server is gone (for crash tests).
    pub fn try_api(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Option<Response> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.try_send(method, path, &headers, body.map(|b| b.to_string()))
    }

    /// [`Client::send`], but `None` when the server is gone.
    pub fn try_send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Option<Response> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.send(method, path, headers, body))).ok()
    }

    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<String>) -> Response {
        let mut req = self.agent.request(method, &format!("{}{}", self.base, path));
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.set("Cookie", &cookie);
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.send_string(&b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in resp.headers_names() {
            let values = resp.all(&name).into_iter().map(str::to_string).collect();
            headers.insert(name.to_ascii_lowercase(), values);
        }
        for set in headers.get("set-cookie").cloned().unwrap_or_default() {
            let pair = set.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let removal = v.is_empty() || set.to_ascii_lowercase().contains("max-age=0");
                if removal {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies.insert(k.trim().to_string(), v.to_string());
                }
            }
        }
        let body = resp.into_string().unwrap_or_default();
        Response { status, headers, body }
    }
}

pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The built `latchkey` binary.
pub fn latchkey_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    // A clean environment: nothing from the developer's shell leaks in.
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") || k.starts_with("AGENT_TOKEN") || k == "BOOTSTRAP_SECRET_TTL_HOURS" {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

/// Runs `latchkey ARGS` with `stdin`, returning (exit code, stdout, stderr).
pub fn run_cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = latchkey_bin();
    cmd.arg("--data-dir").arg(data_dir).args(args);
    // On PostgreSQL the data dir's database is a server's: name it.
    if let Some(url) = database_url_for(data_dir) {
        cmd.env("LATCHKEY_DATABASE_URL", url);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn latchkey");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait latchkey");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `latchkey serve` as a separate process.
pub struct ServerProcess {
    child: Child,
    pub address: String,
    pub setup_code: Option<String>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServerProcess {
    pub fn start(data_dir: &Path) -> ServerProcess {
        let mut cmd = latchkey_bin();
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        if let Some(url) = database_url_for(data_dir) {
            cmd.env("LATCHKEY_DATABASE_URL", url);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn latchkey serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut address = None;
            let mut setup_code = None;
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    let rest = &line[i + "listening on ".len()..];
                    address = rest.split_whitespace().next().map(str::to_string);
                }
                if let Some(i) = line.find("setup?code=") {
                    setup_code = Some(line[i + "setup?code=".len()..].trim().to_string());
                }
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
                // The setup link (if any) is printed before the listening line.
                if !sent && address.is_some() {
                    let _ = tx.send((address.clone(), setup_code.clone()));
                    sent = true;
                }
            }
            if !sent {
                let _ = tx.send((address, setup_code));
            }
        });
        let (address, setup_code) = rx.recv_timeout(Duration::from_secs(30)).expect("server output");
        let address = address.unwrap_or_else(|| panic!("server did not start:\n{}", log.lock().unwrap()));
        let server = ServerProcess { child, address, setup_code, log };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let agent = agent();
        for _ in 0..100 {
            if agent.get(&format!("{}/readyz", self.address)).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server never became ready");
    }

    pub fn client(&self) -> Client {
        Client { base: self.address.clone(), cookies: BTreeMap::new(), agent: agent() }
    }

    /// SIGTERM; the exit code and everything the server logged.
    pub fn terminate_with_log(self) -> (i32, String) {
        let log = self.log.clone();
        let code = self.terminate();
        let text = log.lock().unwrap().clone();
        (code, text)
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self) -> i32 {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().expect("wait serve");
        // Let the log reader drain.
        std::thread::sleep(Duration::from_millis(100));
        status.code().unwrap_or(-1)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/api_postgres.rs` runs exactly the modules of `tests/api/main.rs`.
#[test]
fn the_postgres_suite_lists_every_module() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let main = std::fs::read_to_string(format!("{root}/api/main.rs")).unwrap();
    let pg = std::fs::read_to_string(format!("{root}/api_postgres.rs")).unwrap();
    let mods = |s: &str| -> std::collections::BTreeSet<String> {
        s.lines().filter_map(|l| l.strip_prefix("mod ").and_then(|m| m.strip_suffix(';'))).map(str::to_string).collect()
    };
    assert!(mods(&main).len() > 20);
    assert_eq!(mods(&main), mods(&pg));
}
