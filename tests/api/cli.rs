//! The server-side command line, run as the built binary.

use crate::helpers::*;

fn pw(p: &str) -> String {
    format!("{p}\n")
}

#[test]
fn create_owner_prints_the_workspace_and_refuses_a_second_owner() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = run_cli(
        &data,
        &["admin", "create-owner", "--email", OWNER_EMAIL, "--password-stdin"],
        Some(&pw(OWNER_PASSWORD)),
    );
    assert_eq!(code, 0, "{err}");
    let ws = out.trim();
    assert_eq!(ws.len(), 36, "a workspace id: {out}");

    let (code, out, err) = run_cli(
        &data,
        &["admin", "create-owner", "--email", "second@example.com", "--password-stdin"],
        Some(&pw(OWNER_PASSWORD)),
    );
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("An owner already exists"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // The headless owner can log in, and no setup link is offered.
    let app = TestApp::spawn_in(data, |_| {});
    assert!(app.setup_code.is_none());
    assert_eq!(app.login(OWNER_EMAIL, OWNER_PASSWORD).0.status, 303);
}

#[test]
fn create_owner_refuses_a_short_password() {
    let dir = tempfile::TempDir::new().unwrap();
    let (code, _, err) = run_cli(
        &dir.path().join("d"),
        &["admin", "create-owner", "--email", OWNER_EMAIL, "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("at least 12 characters"), "{err}");
}

#[test]
fn a_second_workspace_has_its_own_owner_who_sees_nothing_of_the_first() {
    let app = TestApp::spawn();
    let mut first = app.setup_owner();
    // Something private happens in the first workspace.
    let csrf = first.get("/settings").csrf();
    first.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "on")]);

    let (code, out, err) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example", "--password-stdin"],
        Some(&pw("globex owner password")),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().len(), 36);

    let (res, mut hank) = app.login("hank@globex.example", "globex owner password");
    assert_eq!(res.status, 303);
    let overview = hank.get("/");
    assert!(overview.body.contains("Globex"));
    assert!(!overview.body.contains("Acme"), "no trace of the other workspace");
    assert!(!overview.body.contains(OWNER_EMAIL));
    assert!(!overview.body.contains("security_mode.on"));
    assert!(!overview.body.contains("name=\"workspace_id\""), "no switcher: one workspace");
    // Its mode is its own: still off.
    assert_eq!(hank.get("/dashboard/audit").status, 404);
    // Switching into the other tenant's workspace is refused.
    let first_ws = run_cli(&app.data_dir, &["admin", "security-mode", "on"], None);
    assert_eq!(first_ws.0, 1, "two workspaces: --workspace is required");
    assert!(first_ws.2.contains("--workspace"), "{}", first_ws.2);
}

#[test]
fn an_existing_user_can_own_a_second_workspace_and_switch() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let (code, out, err) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Side project", "--owner-email", OWNER_EMAIL],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let second = out.trim().to_string();
    let overview = owner.get("/");
    assert!(overview.body.contains("Side project"), "the switcher lists it");
    let csrf = overview.csrf();
    let res = owner.post_form("/workspace/switch", &[("csrf", &csrf), ("workspace_id", &second)]);
    assert_eq!(res.status, 303);
    assert!(owner.get("/").body.contains("<h1>Side project</h1>"));
    let res = owner
        .post_form("/workspace/switch", &[("csrf", &csrf), ("workspace_id", "00000000-0000-0000-0000-000000000000")]);
    assert_eq!(res.status, 404);
}

#[test]
fn create_workspace_for_a_new_email_without_a_password_creates_an_owner_who_sets_one_later() {
    let app = TestApp::spawn();
    app.setup_owner();
    let (code, out, err) =
        run_cli(&app.data_dir, &["admin", "create-workspace", "--name", "X", "--owner-email", "new@example.com"], None);
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty(), "prints the workspace id");
    assert!(err.contains("reset-password"), "names the next command: {err}");
    let (res, _) = app.login("new@example.com", "anything at all");
    assert_eq!(res.status, 401, "no password, no login");
    let (code, _, err) = run_cli(
        &app.data_dir,
        &["admin", "reset-password", "--email", "new@example.com", "--password-stdin"],
        Some("a fresh password for new\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (res, _) = app.login("new@example.com", "a fresh password for new");
    assert_eq!(res.status, 303);
}

#[test]
fn create_workspace_refuses_a_password_for_an_existing_account() {
    let app = TestApp::spawn();
    app.setup_owner();
    let (code, out, err) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Y", "--owner-email", OWNER_EMAIL, "--password-stdin"],
        Some("a different password\n"),
    );
    assert_ne!(code, 0);
    assert!(out.trim().is_empty(), "{out}");
    assert!(err.contains("reset-password") && err.contains("without --password-stdin"), "{err}");
    let (res, _) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(res.status, 303, "the password is unchanged");
}

#[test]
fn security_mode_command_switches_without_asking_and_is_audited() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let (code, _, err) = run_cli(&app.data_dir, &["admin", "security-mode", "on"], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is on"), "{err}");
    let audit = owner.get("/dashboard/audit");
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("security_mode.on"));
    assert!(audit.body.contains("command line"));
    let (code, _, _) = run_cli(&app.data_dir, &["admin", "security-mode", "off"], None);
    assert_eq!(code, 0);
    assert_eq!(owner.get("/dashboard/audit").status, 404);
    let (code, _, err) = run_cli(&app.data_dir, &["admin", "security-mode", "on", "--workspace", "nope"], None);
    assert_eq!(code, 1);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn reset_password_replaces_it_and_ends_sessions() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let (code, _, err) = run_cli(
        &app.data_dir,
        &["admin", "reset-password", "--email", OWNER_EMAIL, "--password-stdin"],
        Some(&pw("the reset passphrase")),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(owner.get("/").status, 303);
    assert_eq!(app.login(OWNER_EMAIL, OWNER_PASSWORD).0.status, 401);
    assert_eq!(app.login(OWNER_EMAIL, "the reset passphrase").0.status, 303);
    let (code, _, err) = run_cli(
        &app.data_dir,
        &["admin", "reset-password", "--email", "ghost@example.com", "--password-stdin"],
        Some(&pw("the reset passphrase")),
    );
    assert_eq!(code, 1);
    assert!(err.contains("ghost@example.com"), "{err}");
}

#[test]
fn a_bad_or_unreachable_database_url_stops_startup_in_one_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = latchkey_bin()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("LATCHKEY_DATABASE_URL", "mysql://db/latchkey")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LATCHKEY_DATABASE_URL") && err.contains("postgres://"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Nothing listens on port 1: the line names the variable and the server, never the password.
    let out = latchkey_bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("LATCHKEY_DATABASE_URL", "postgres://latchkey:s3cret-pw@127.0.0.1:1/latchkey")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LATCHKEY_DATABASE_URL") && err.contains("127.0.0.1:1/latchkey"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_bad_bind_stops_startup_naming_the_variable() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = latchkey_bin()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("LATCHKEY_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LATCHKEY_BIND"), "{err}");
    assert!(err.contains("not-an-address"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = latchkey_bin()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("LATCHKEY_RATE_LOGIN_PER_MIN", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LATCHKEY_RATE_LOGIN_PER_MIN"));
}

#[test]
fn serve_survives_a_restart_and_shuts_down_cleanly_on_sigterm() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data);
    let code = server.setup_code.clone().expect("first run prints a setup link");
    let mut browser = server.client();
    let csrf = browser.get(&format!("/setup?code={code}")).csrf();
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
    assert_eq!(res.status, 303);
    let session = browser.cookies.get("lk_session").cloned().unwrap();
    let (code_exit, log_before) = server.terminate_with_log();
    assert_eq!(code_exit, 0, "SIGTERM drains and exits 0");

    // Nothing secret reached the log: not the password, not the session,
    // and the setup code only in the printed link, never in a request line.
    assert!(!log_before.contains(OWNER_PASSWORD));
    assert!(!log_before.contains(&session));
    assert_eq!(log_before.matches(&code).count(), 1, "{log_before}");
    assert!(log_before.contains("path=/setup"), "requests are logged: {log_before}");

    // Migrations are idempotent: migrate, then serve again on the same dir.
    let (c, _, err) = run_cli(&data, &["migrate"], None);
    assert_eq!(c, 0, "{err}");
    let server = ServerProcess::start(&data);
    assert!(server.setup_code.is_none());
    let mut browser = server.client();
    let csrf = browser.get("/login").csrf();
    let res = browser.post_form("/login", &[("csrf", &csrf), ("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)]);
    assert_eq!(res.status, 303, "the owner survived the restart");
    assert_eq!(server.terminate(), 0);
}

#[test]
fn backup_while_serving_yields_a_database_holding_the_owner() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let app = TestApp::spawn_in(data.clone(), |_| {});
    app.setup_owner();
    let dest = dir.path().join("backup.db");
    let (code, _, err) = run_cli(&data, &["backup", "--to", dest.to_str().unwrap()], None);
    if on_postgres() {
        // One line naming the tool that backs PostgreSQL up.
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("pg_dump") && err.trim().lines().count() == 1, "{err}");
        assert!(!dest.exists());
        return;
    }
    assert_eq!(code, 0, "{err}");
    // The server is still fine.
    assert_eq!(app.client().get("/readyz").status, 200);

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let email: String = conn.query_row("SELECT email FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(email, OWNER_EMAIL);
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn the_data_dir_is_private_and_the_audit_trail_append_only() {
    let app = TestApp::spawn();
    app.setup_owner();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&app.data_dir).unwrap().permissions().mode() & 0o777, 0o700);
    if on_postgres() {
        // The trigger keeps the trail append-only on PostgreSQL too.
        let mut pg = postgres_client(&app.data_dir);
        let n: i64 = pg.query_one("SELECT COUNT(*) FROM audit_events", &[]).unwrap().get(0);
        assert!(n >= 2);
        for sql in ["DELETE FROM audit_events", "UPDATE audit_events SET outcome = 'failure'", "TRUNCATE audit_events"]
        {
            let e = pg.batch_execute(sql).expect_err(sql);
            let message = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default();
            assert!(message.contains("append-only"), "{sql}: {e:?}");
        }
        let n2: i64 = pg.query_one("SELECT COUNT(*) FROM audit_events", &[]).unwrap().get(0);
        assert_eq!(n, n2);
        let hash: String = pg.query_one("SELECT password_hash FROM users", &[]).unwrap().get(0);
        assert!(hash.starts_with("$argon2id$"));
        return;
    }
    let db = app.data_dir.join("latchkey.db");
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM audit_events", [], |r| r.get(0)).unwrap();
    assert!(n >= 2);
    assert!(conn.execute("DELETE FROM audit_events", []).is_err());
    assert!(conn.execute("UPDATE audit_events SET outcome = 'failure'", []).is_err());
    let hash: String = conn.query_row("SELECT password_hash FROM users", [], |r| r.get(0)).unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

#[test]
fn no_token_reaches_the_server_log() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = run_cli(
        &data,
        &["admin", "create-owner", "--email", OWNER_EMAIL, "--password-stdin"],
        Some(&pw(OWNER_PASSWORD)),
    );
    assert_eq!(code, 0, "{err}");
    run_cli(&data, &["admin", "security-mode", "on"], None);
    let (_, host, _) =
        run_cli(&data, &["admin", "mint-pat", "--email", OWNER_EMAIL, "--name", "h", "--scope", "host"], None);
    let (_, agent, err) = run_cli(
        &data,
        &[
            "admin",
            "mint-pat",
            "--email",
            OWNER_EMAIL,
            "--name",
            "a",
            "--scope",
            "agent",
            "--agent",
            "bot",
            "--cap",
            "3.00",
        ],
        None,
    );
    let (host, agent) = (host.trim().to_string(), agent.trim().to_string());
    assert!(agent.starts_with("lk_pat_"), "{err}");

    let server = ServerProcess::start(&data);
    let mut c = server.client();
    let who = c.api("GET", "/v1/auth/whoami", Some(&agent), None);
    assert_eq!(who.status, 200);
    let agent_pat_id = who.json()["credential"]["id"].as_str().unwrap().to_string();
    let jwt =
        c.api("POST", "/v1/auth/exchange", None, Some(serde_json::json!({"token": agent}))).json()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&jwt), None).status, 200);
    let created =
        c.api("POST", "/v1/pats", Some(&host), Some(serde_json::json!({"name": "n", "scope_type": "host"}))).json();
    let minted = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap();
    c.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None);
    c.api("GET", "/v1/auth/whoami", Some(&minted), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    c.api("GET", "/v1/auth/whoami", Some("lk_pat_garbage"), None).assert_error(401, "AUTH_UNKNOWN_TOKEN");
    // A signed checkout refused over its cap still names its session.
    let session = crate::signed::start_session(&mut c, &agent);
    let body = serde_json::json!({"amount_usd": "5.00", "description": "x"}).to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    crate::signed::signed_send_nonce(&mut c, &session, "POST", "/api/agent/checkout/create", &body, now, "n1")
        .assert_error(429, "SPEND_CAP_EXCEEDED");
    let (code, log) = server.terminate_with_log();
    assert_eq!(code, 0);
    assert!(log.contains("path=/v1/auth/whoami"), "requests are logged: {log}");
    assert!(
        log.lines().any(|l| l.contains("path=/v1/auth/whoami") && l.contains(&format!("credential={agent_pat_id}"))),
        "a request's line names the credential it authenticated with: {log}"
    );
    assert!(
        log.lines().any(|l| l.contains("path=/api/agent/checkout/create")
            && l.contains("status=429")
            && l.contains(&format!("credential={}", session.id))),
        "a refused checkout's line names its session: {log}"
    );
    for secret in [&host, &agent, &minted, &jwt, &session.jwt] {
        assert!(!log.contains(secret.as_str()), "a token reached the log");
        // Past a JWT's header (alike in every token): its signature.
        let tail = secret.rsplit('.').next().unwrap_or(secret);
        assert!(!log.contains(&tail[tail.len() - 20..]), "part of a token reached the log");
    }
    assert!(!log.contains("lk_pat_garbage"));
}

#[test]
fn db_copy_refuses_what_it_cannot_do_in_one_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    // Not a PostgreSQL URL.
    let out = latchkey_bin().args(["db", "copy", "--to", "mysql://db/x", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--to") && err.contains("postgres://") && err.trim().lines().count() == 1, "{err}");
    // No SQLite database in the data dir: named, and nothing created.
    let out = latchkey_bin()
        .args(["db", "copy", "--to", "postgres://127.0.0.1:1/x", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Latchkey database") && err.contains("--data-dir"), "{err}");
    assert!(!data.join("latchkey.db").exists());
    // An instance already on PostgreSQL has nothing to copy.
    let out = latchkey_bin()
        .args(["db", "copy", "--to", "postgres://127.0.0.1:1/x", "--data-dir"])
        .arg(&data)
        .env("LATCHKEY_DATABASE_URL", "postgres://127.0.0.1:1/y")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already runs on PostgreSQL"), "{err}");
}

/// Client commands' help lists only what they take; the server's flags
/// (`--bind`, `--data-dir`, …) stay on the server's commands, before or
/// after the subcommand.
#[test]
fn client_help_shows_only_client_flags() {
    let dir = tempfile::TempDir::new().unwrap();
    for client in
        [&["token", "mint", "--help"][..], &["auth", "whoami", "--help"], &["login", "--help"], &["request", "--help"]]
    {
        let (code, out, err) = run_cli(dir.path(), client, None);
        assert_eq!(code, 0, "{client:?}: {err}");
        for server_flag in ["--bind", "--data-dir", "--public-url", "--database-url"] {
            assert!(!out.contains(server_flag), "{client:?} lists {server_flag}:\n{out}");
        }
    }
    for server in [&["serve", "--help"][..], &["admin", "create-owner", "--help"], &["--help"]] {
        let (code, out, _) = run_cli(dir.path(), server, None);
        assert_eq!(code, 0);
        assert!(out.contains("--data-dir") && out.contains("--database-url"), "{server:?}:\n{out}");
    }
}
