//! A real MCP client and server (the official Python SDK, tests/mcp/)
//! against Latchkey's OAuth 2.1 server: the SDK discovers, registers,
//! runs PKCE and exchanges the code by itself; the test plays the host who
//! approves the consent page. A tool call works; after the host revokes the
//! grant the next one fails. `.ci/run` builds the Python environment and sets
//! `LATCHKEY_MCP_PYTHON`; without one the test is skipped with a note
//! (never under CI).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("LATCHKEY_MCP_PYTHON").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/.venv/bin/python")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("LATCHKEY_REQUIRE_PROXIES").is_none(),
            "CI must provide the MCP SDK (LATCHKEY_MCP_PYTHON)"
        );
        eprintln!("skipped: no Python with the MCP SDK (see tests/mcp/README.md)");
    }
    found
}

/// Latchkey with a resource, and `tests/mcp/server.py` guarding it; runs
/// `client` (a command line given the server URL) and checks both phases.
fn run_client(python: &Path, client: impl FnOnce(&str, &TestApp, &str) -> Command) {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let service = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "mcp-server", "--scope", "service"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let res = app.client().api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "Echo", "identifier": resource, "scopes": ["tools:call"]})),
    );
    assert_eq!(res.status, 201, "{}", res.body);

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp");
    let mut server = Command::new(python)
        .arg(dir.join("server.py"))
        .args(["--port", &port.to_string(), "--latchkey", &app.address, "--resource", &resource])
        .args(["--introspect-with", &service])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start server.py");
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim() == "ready" {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = server.kill();
        panic!("server.py did not become ready");
    }
    let out = client(&resource, &app, &host).output().expect("run the client");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("first") && stdout.contains("\"ok\""), "{stdout}");
    assert!(stdout.contains("after_revoke") && stdout.contains("refused"), "{stdout}");

    // The host sees the client as an agent, with its grant revoked.
    let grants = app.client().api("GET", "/v1/oauth/grants", Some(&host), None).json();
    assert!(grants["items"][0]["revoked_at"].is_string(), "{grants}");
    let audit = app.client().api("GET", "/v1/audit?kind=oauth.consent", Some(&host), None).json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[test]
fn the_python_mcp_sdk_connects_through_consent_and_stops_after_revocation() {
    let Some(python) = python() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp");
    let py = python.clone();
    run_client(&python, move |resource, app, host| {
        let mut c = Command::new(&py);
        c.arg(dir.join("client.py"))
            .args(["--server", resource, "--latchkey", &app.address, "--email", OWNER_EMAIL])
            .args(["--password", OWNER_PASSWORD, "--host-pat", host, "--timeout", "120"]);
        c
    });
}

/// The same with the TypeScript SDK (`tests/mcp-ts`, `npm ci` by `.ci/run`).
#[test]
fn the_typescript_mcp_sdk_connects_through_consent_and_stops_after_revocation() {
    let Some(python) = python() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp-ts");
    if !dir.join("node_modules/@modelcontextprotocol/sdk").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tests/mcp-ts (npm ci)");
        eprintln!("skipped: run `npm ci` in tests/mcp-ts");
        return;
    }
    run_client(&python, move |resource, app, host| {
        let mut c = Command::new("node");
        c.current_dir(&dir)
            .arg("client.mjs")
            .args(["--server", resource, "--latchkey", &app.address, "--email", OWNER_EMAIL])
            .args(["--password", OWNER_PASSWORD, "--host-pat", host, "--timeout", "120"]);
        c
    });
}
