//! The client commands of the binary against a real server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::*;

/// Runs `latchkey ARGS` as a client with its own config dir.
fn cli(config: &Path, args: &[&str], stdin: Option<&str>, envs: &[(&str, &str)]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = latchkey_bin();
    cmd.env("LATCHKEY_CONFIG_DIR", config).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What `eval "$(latchkey profile env NAME)"` would set.
fn profile_env(config: &Path, name: &str) -> Vec<(String, String)> {
    let (_, exports, _) = cli(config, &["profile", "env", name], None, &[]);
    exports
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn logged_in(app: &TestApp) -> (tempfile::TempDir, String) {
    let (_, host) = app.owner_with_host_pat();
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("cfg");
    let (code, out, err) = cli(&config, &["login", "--url", &app.address], Some(&format!("{host}\n")), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(&host) && !err.contains(&host), "the PAT is never echoed");
    (dir, host)
}

#[test]
fn login_from_stdin_then_whoami_plain_and_json() {
    let app = TestApp::spawn();
    let (dir, _) = logged_in(&app);
    let config = dir.path().join("cfg");
    assert_eq!(mode(&config), 0o700);
    assert_eq!(mode(&config.join("login.json")), 0o600);

    let (code, out, err) = cli(&config, &["auth", "whoami"], None, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a user session") && out.contains(OWNER_EMAIL), "{out}");
    let (code, out, _) = cli(&config, &["auth", "whoami", "--json"], None, &[]);
    assert_eq!(code, 0);
    let who: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(who["user"]["email"], OWNER_EMAIL);
    assert!(who["bound_agent"].is_null());

    // A bad token is refused at login, and nothing is stored.
    let other = dir.path().join("other");
    let (code, _, err) = cli(&other, &["login", "--url", &app.address], Some("lk_pat_wrong\n"), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("AUTH_UNKNOWN_TOKEN") && err.trim().lines().count() == 1, "{err}");
    assert!(!other.join("login.json").exists());
}

#[test]
fn client_errors_are_one_line_with_documented_exit_codes() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("cfg");
    let (code, _, err) = cli(&config, &["auth", "whoami"], None, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("latchkey login") && err.trim().lines().count() == 1, "{err}");

    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("login.json"), "{not json").unwrap();
    let (code, _, err) = cli(&config, &["auth", "whoami"], None, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("login.json") && err.contains("corrupt"), "{err}");

    std::fs::write(
        config.join("login.json"),
        r#"{"url": "http://127.0.0.1:9", "workspace_id": null, "token": "lk_pat_x"}"#,
    )
    .unwrap();
    let (code, _, err) = cli(&config, &["auth", "whoami"], None, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    assert!(!err.contains("panicked"));

    // A corrupt profile is named, not a crash, and env still fails closed.
    std::fs::create_dir_all(config.join("profiles")).unwrap();
    std::fs::write(config.join("profiles/broken.json"), "[]").unwrap();
    let (code, out, err) = cli(&config, &["profile", "env", "broken"], None, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("broken.json") && !err.contains("panicked"), "{err}");
    assert!(out.starts_with("unset "));
}

#[test]
fn a_minted_profile_verifies_and_fails_closed_when_anything_is_off() {
    let app = TestApp::spawn();
    let (dir, host) = logged_in(&app);
    let config = dir.path().join("cfg");
    let save = dir.path().join("bot-token");
    let (code, out, err) = cli(
        &config,
        &[
            "token",
            "mint",
            "bot",
            "--create",
            "--cap",
            "5.00",
            "--save-to",
            save.to_str().unwrap(),
            "--profile",
            "bot",
            "--no-print-token",
        ],
        None,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("lk_pat_") && !err.contains("lk_pat_"), "no token on stdout or stderr: {out} {err}");
    let token_file = save.join("token");
    assert_eq!(mode(&token_file), 0o600);
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(token.starts_with("lk_pat_"));

    let (code, out, err) = cli(&config, &["profile", "verify", "bot"], None, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("good"));
    let (code, out, _) = cli(&config, &["profile", "env", "bot"], None, &[]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("export LATCHKEY_URL='{}'", app.address)), "{out}");
    assert!(
        out.contains("export LATCHKEY_TOKEN_FILE=")
            && out.contains("export LATCHKEY_AGENT_ID=")
            && out.contains("export LATCHKEY_WORKSPACE_ID=")
    );
    let (code, out, _) = cli(&config, &["profile", "list"], None, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("bot\tagent bot"));

    let fails_closed = |why: &str| {
        let (code, _, err) = cli(&config, &["profile", "verify", "bot"], None, &[]);
        assert_ne!(code, 0, "{why}");
        assert!(err.to_lowercase().contains(why), "{why}: {err}");
        let (code, out, _) = cli(&config, &["profile", "env", "bot"], None, &[]);
        assert_ne!(code, 0);
        assert_eq!(out.trim(), "unset LATCHKEY_URL LATCHKEY_TOKEN_FILE LATCHKEY_AGENT_ID LATCHKEY_WORKSPACE_ID");
    };
    // Mode changed.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails_closed("mode 644");
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // File edited.
    std::fs::write(&token_file, format!("{}x", token.trim())).unwrap();
    fails_closed("fingerprint");
    std::fs::write(&token_file, &token).unwrap();
    assert_eq!(cli(&config, &["profile", "verify", "bot"], None, &[]).0, 0);
    // PAT revoked.
    let mut c = app.client();
    let id = c.api("GET", "/v1/auth/whoami", Some(token.trim()), None).json()["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None);
    fails_closed("revoked");
}

#[test]
fn an_agent_enrolls_and_gets_access_tokens_from_the_cli() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let secret =
        c.api("POST", "/v1/agents", Some(&host), Some(json!({"name": "cli-enrolled"}))).json()["bootstrap_secret"]
            .as_str()
            .unwrap()
            .to_string();
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("agent-cfg");
    let url = [("LATCHKEY_URL", app.address.as_str())];
    let (code, out, err) = cli(&config, &["agent", "enroll", "--bootstrap-secret", &secret], None, &url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().len(), 36, "prints the agent id");
    assert_eq!(mode(&config.join("agent/enrollment.json")), 0o600);
    let (code, out, err) = cli(&config, &["agent", "token"], None, &[]);
    assert_eq!(code, 0, "{err}");
    let access = out.trim();
    assert!(access.starts_with("lk_at_"));
    let who = c.api("GET", "/v1/auth/whoami", Some(access), None).json();
    assert_eq!(who["bound_agent"]["agent_name"], "cli-enrolled");
    // The secret was one-time (here with --url instead of LATCHKEY_URL).
    let (code, _, err) = cli(
        &dir.path().join("again"),
        &["agent", "enroll", "--bootstrap-secret", &secret, "--url", &app.address],
        None,
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("BOOTSTRAP_SECRET_INVALID"), "{err}");
}

#[test]
fn signed_requests_from_the_cli_and_a_cap_overrun_explains_itself() {
    let app = TestApp::spawn();
    let (dir, _) = logged_in(&app);
    let config = dir.path().join("cfg");
    let (code, _, err) = cli(
        &config,
        &["token", "mint", "shopper", "--create", "--cap", "5.00", "--profile", "shopper", "--no-print-token"],
        None,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let vars = profile_env(&config, "shopper");
    let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let agent_cfg = dir.path().join("agent-cfg");

    let (code, out, err) = cli(&agent_cfg, &["agent", "session"], None, &envs);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().len(), 36);
    let session_file = || {
        let mut files: Vec<_> =
            std::fs::read_dir(agent_cfg.join("agent/sessions")).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(files.len(), 1, "one session per credential: {files:?}");
        files.remove(0)
    };
    assert_eq!(mode(&session_file()), 0o600);

    let (code, out, err) = cli(
        &agent_cfg,
        &["request", "POST", "/api/agent/checkout/create", "--data", r#"{"amount_usd":"4.00","description":"paper"}"#],
        None,
        &envs,
    );
    assert_eq!(code, 0, "{err}");
    let checkout: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(checkout["status"], "authorized");
    assert_eq!(checkout["spent_today_usd"], "4.00");

    let body = dir.path().join("body.json");
    std::fs::write(&body, r#"{"amount_usd":"2.00","description":"more paper"}"#).unwrap();
    let (code, out, err) = cli(
        &agent_cfg,
        &["request", "POST", "/api/agent/checkout/create", "--data", &format!("@{}", body.display())],
        None,
        &envs,
    );
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("SPEND_CAP_EXCEEDED"), "{err}");
    assert!(err.contains("raise the cap") && err.contains("/dashboard/tokens/"), "the recovery hint: {err}");
    assert_eq!(err.trim().lines().count(), 1);

    // A signed GET works too; and a session that has gone is refreshed.
    std::fs::remove_file(session_file()).unwrap();
    let (code, out, err) = cli(&agent_cfg, &["request", "GET", "/v1/auth/whoami"], None, &envs);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"kind\":\"session\""), "{out}");

    // Identical requests in the same second: each carries its own nonce, so
    // none is taken for a replay.
    for _ in 0..3 {
        let (code, _, err) = cli(&agent_cfg, &["request", "GET", "/v1/auth/whoami"], None, &envs);
        assert_eq!(code, 0, "{err}");
    }

    // Another profile signs as its own agent, not the last one's session.
    let (code, _, err) = cli(
        &config,
        &["token", "mint", "archivist", "--create", "--profile", "archivist", "--no-print-token"],
        None,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let vars = profile_env(&config, "archivist");
    let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (code, out, err) = cli(&agent_cfg, &["request", "GET", "/v1/auth/whoami"], None, &envs);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"agent_name\":\"archivist\""), "{out}");
}

/// The README's production bootstrap, run as written (only the URL differs).
#[test]
fn the_readme_bootstrap_story_works_in_a_shell() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- cli-bootstrap -->").expect("marker");
    let end = readme.find("<!-- /cli-bootstrap -->").expect("end marker");
    let script = readme[start..end].split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("sh block");

    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let dir = tempfile::TempDir::new().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_latchkey")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let script = script.replace("https://latchkey.example.com", &app.address);
    let mut child = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("LATCHKEY_CONFIG_DIR", dir.path().join("cfg"))
        .env_remove("LATCHKEY_URL")
        .env_remove("LATCHKEY_TOKEN_FILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{host}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("This is a user session"), "{stdout}");
    assert!(stdout.contains("\"status\":\"authorized\"") && stdout.contains("\"amount_usd\":\"5.50\""), "{stdout}");
    assert!(!stdout.contains(&host) && !stderr.contains(&host));
}

/// Each of these used to leave the user guessing; now the message names
/// the next command.
#[test]
fn cli_failures_name_the_next_command() {
    let app = TestApp::spawn();
    let (dir, host) = logged_in(&app);
    let config = dir.path().join("cfg");
    // A missing agent without --create.
    let (code, _, err) = cli(&config, &["token", "mint", "ops-bot"], None, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--create") && err.contains("latchkey token mint ops-bot --create"), "{err}");
    // `login` with an agent token explains which token it needs.
    let agent = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "x"]);
    let other = dir.path().join("other");
    let (code, _, err) = cli(&other, &["login", "--url", &app.address], Some(&format!("{agent}\n")), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs a host token") && err.contains("Tokens page"), "{err}");
    assert!(!other.join("login.json").exists(), "nothing was stored");
    drop(host);

    // Admin commands on the wrong directory: named, and nothing created
    // (on PostgreSQL the database is named by URL, not found in a directory).
    if on_postgres() {
        return;
    }
    let wrong = dir.path().join("not-the-data-dir");
    let (code, _, err) = run_cli(&wrong, &["admin", "security-mode", "on"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no Latchkey database") && err.contains("--data-dir"), "{err}");
    assert!(!wrong.join("latchkey.db").exists());
}

#[test]
fn an_ended_session_is_replaced_and_an_overrun_says_what_happened() {
    let app = TestApp::spawn();
    let (dir, host) = logged_in(&app);
    let config = dir.path().join("cfg");
    let (code, _, err) = cli(
        &config,
        &["token", "mint", "shopper", "--create", "--cap", "5.00", "--profile", "shopper", "--no-print-token"],
        None,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let vars = profile_env(&config, "shopper");
    let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let agent_cfg = dir.path().join("agent-cfg");
    let (code, session, err) = cli(&agent_cfg, &["agent", "session"], None, &envs);
    assert_eq!(code, 0, "{err}");
    // The host ends the session; the next request starts another by itself.
    let agent_id = vars.iter().find(|(k, _)| k == "LATCHKEY_AGENT_ID").unwrap().1.clone();
    let mut owner = app.login(OWNER_EMAIL, OWNER_PASSWORD).1;
    let csrf = owner.get(&format!("/dashboard/agents/{agent_id}")).csrf();
    let res =
        owner.post_form(&format!("/dashboard/agents/{agent_id}/sessions/{}/end", session.trim()), &[("csrf", &csrf)]);
    assert_eq!(res.status, 303);
    let buy = |amount: &str| {
        cli(
            &agent_cfg,
            &[
                "request",
                "POST",
                "/api/agent/checkout/create",
                "--data",
                &format!(r#"{{"amount_usd":"{amount}","description":"x"}}"#),
            ],
            None,
            &envs,
        )
    };
    let (code, _, err) = buy("4.50");
    assert_eq!(code, 0, "a fresh session was started: {err}");
    let (code, _, err) = buy("1.00");
    assert_eq!(code, 1);
    assert!(
        err.contains("This checkout ($1.00) would take today's spend past") && err.contains("$4.50 of $5.00"),
        "{err}"
    );
    drop(host);
}

/// `over_limit: ask` from the command line: the request says it waits for
/// a person, and with --wait prints the checkout once the host approves.
#[test]
fn a_checkout_waiting_for_a_person_is_printed_and_waited_for() {
    let app = TestApp::spawn();
    let (dir, host) = logged_in(&app);
    let config = dir.path().join("cfg");
    let (code, _, err) = cli(
        &config,
        &["token", "mint", "shopper", "--create", "--cap", "5.00", "--profile", "shopper", "--no-print-token"],
        None,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let vars = profile_env(&config, "shopper");
    let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut c = app.client();
    let pats = c.api("GET", "/v1/pats", Some(&host), None).json();
    let pat_id = pats["items"].as_array().unwrap().iter().find(|p| p["name"] == "shopper").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        c.api("PATCH", &format!("/v1/pats/{pat_id}"), Some(&host), Some(json!({"over_limit": "ask"}))).status,
        200
    );
    let agent_cfg = dir.path().join("agent-cfg");
    let body = r#"{"amount_usd":"9.00","description":"big"}"#;
    let (code, out, err) =
        cli(&agent_cfg, &["request", "POST", "/api/agent/checkout/create", "--data", body], None, &envs);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Waiting for a person") && err.contains("--wait"), "{err}");
    assert!(out.contains("pending_approval"), "{out}");

    // With --wait: the host approves while the command waits.
    let (address, host2) = (app.address.clone(), host.clone());
    let approver = std::thread::spawn(move || {
        let mut c = Client::for_address(&address);
        for _ in 0..100 {
            let pending = c.api("GET", "/v1/approvals?status=pending", Some(&host2), None).json();
            if let Some(a) = pending["items"].as_array().and_then(|i| i.iter().find(|a| a["description"] == "bigger")) {
                let id = a["id"].as_str().unwrap().to_string();
                return c.api("POST", &format!("/v1/approvals/{id}/approve"), Some(&host2), None).status;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        0
    });
    let body = r#"{"amount_usd":"9.50","description":"bigger"}"#;
    let (code, out, err) =
        cli(&agent_cfg, &["request", "POST", "/api/agent/checkout/create", "--data", body, "--wait"], None, &envs);
    assert_eq!(approver.join().unwrap(), 200);
    assert_eq!(code, 0, "{err}");
    let checkout: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(checkout["status"], "authorized");
    assert_eq!(checkout["amount_usd"], "9.50");
}
