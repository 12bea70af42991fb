//! Schemathesis (from PyPI, `tests/schemathesis/requirements.txt`) against
//! `/openapi.json` on a real server with a host PAT: every operation, with
//! generated valid and invalid requests, every check but the two
//! `tests/schemathesis/schemathesis.toml` turns off and explains. Fails on a
//! server error or an answer the document does not allow. `.ci/run` builds
//! the environment and sets `LATCHKEY_SCHEMATHESIS`; without it the test is
//! skipped with a note (never under CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

fn schemathesis() -> Option<PathBuf> {
    let found = std::env::var_os("LATCHKEY_SCHEMATHESIS").map(PathBuf::from).filter(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("LATCHKEY_REQUIRE_SCHEMATHESIS").is_none(),
            "LATCHKEY_REQUIRE_SCHEMATHESIS is set but LATCHKEY_SCHEMATHESIS names no schemathesis"
        );
        eprintln!("skipped: set LATCHKEY_SCHEMATHESIS to a schemathesis binary (see tests/schemathesis)");
    }
    found
}

#[test]
fn the_api_keeps_to_its_openapi_document_under_schemathesis() {
    if on_postgres() {
        // The document and the handlers are the same on either backend.
        return;
    }
    let Some(st) = schemathesis() else { return };
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let service = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "st-service", "--scope", "service"]);
    let agent = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "st-agent", "--scope", "agent", "--agent", "st-bot"]);
    let mut c = app.client();
    let spare_pat = c
        .api("POST", "/v1/pats", Some(&host), Some(serde_json::json!({"name": "st-spare", "scope_type": "service"})))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let spare_agent =
        c.api("POST", "/v1/agents", Some(&host), Some(serde_json::json!({"name": "st-spare"}))).json()["id"]
            .as_str()
            .unwrap()
            .to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    // Its working directory (Hypothesis keeps examples there) is a temp dir.
    let work = tempfile::TempDir::new().unwrap();
    let mut child = Command::new(st)
        .current_dir(work.path())
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .args(["run", &format!("{}/openapi.json", app.address)])
        .args(["--max-examples", "30", "--workers", "2", "--seed", "1"])
        .args(["--phases", "examples,coverage,fuzzing", "--no-color"])
        .env("LATCHKEY_ST_HOST_PAT", &host)
        .env("LATCHKEY_ST_SERVICE_PAT", &service)
        .env("LATCHKEY_ST_AGENT_PAT", &agent)
        .env("LATCHKEY_ST_SPARE_PAT_ID", &spare_pat)
        .env("LATCHKEY_ST_SPARE_AGENT_ID", &spare_agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("schemathesis ran for more than 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // It tested every operation the document lists.
    let count = |label: &str| {
        stdout
            .split(label)
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).nth(1)?.parse::<u32>().ok())
    };
    // The PATs held to the end (nothing revoked them half-way).
    for token in [&host, &service, &agent] {
        assert_eq!(c.api("GET", "/v1/auth/whoami", Some(token), None).status, 200, "{stdout}");
    }
    // The counts, for `cargo test openapi_fuzz -- --nocapture`.
    eprintln!("{}", stdout.split("Test cases:").nth(1).unwrap_or("").trim());
    let selected = count("Selected:");
    assert!(selected.is_some_and(|n| n > 50) && count("Tested:") == selected, "{stdout}");
}
