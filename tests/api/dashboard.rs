use crate::helpers::*;

#[test]
fn anonymous_visitors_are_sent_to_the_login() {
    let app = TestApp::spawn();
    let mut anon = app.client();
    for path in ["/", "/settings", "/dashboard/audit", "/dashboard/tokens"] {
        let res = anon.get(path);
        assert_eq!(res.status, 303, "{path}");
        assert_eq!(res.header("location"), Some("/login"), "{path}");
    }
}

#[test]
fn login_succeeds_with_the_right_password() {
    let app = TestApp::spawn();
    app.setup_owner();
    let (res, mut browser) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), Some("/"));
    let cookie = res.headers["set-cookie"].iter().find(|c| c.starts_with("lk_session=")).unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http public URL: no Secure flag");
    assert_eq!(browser.get("/").status, 200);
}

#[test]
fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn();
    app.setup_owner();
    let (wrong, _) = app.login(OWNER_EMAIL, "not the password at all");
    let (unknown, _) = app.login("nobody@example.com", OWNER_PASSWORD);
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    let message = "Email or password is incorrect.";
    assert!(wrong.body.contains(message));
    assert!(unknown.body.contains(message));
    assert!(!wrong.headers.get("set-cookie").into_iter().flatten().any(|c| c.starts_with("lk_session=")));

    // The failure is in the owner's audit trail; the unknown email is not.
    let (_, mut owner) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    let overview = owner.get("/");
    assert!(overview.body.contains("wrong password"), "{}", overview.body);
    assert!(!overview.body.contains("nobody@example.com"));
}

#[test]
fn the_eleventh_login_attempt_in_a_minute_is_rate_limited() {
    let app = TestApp::spawn();
    app.setup_owner();
    let mut browser = app.client();
    let csrf = browser.get("/login").csrf();
    for i in 0..10 {
        let res =
            browser.post_form("/login", &[("csrf", &csrf), ("email", OWNER_EMAIL), ("password", "wrong password!!")]);
        assert_eq!(res.status, 401, "attempt {}", i + 1);
    }
    // Even the right password is refused now.
    let res = browser.post_form("/login", &[("csrf", &csrf), ("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)]);
    assert_eq!(res.status, 429);
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
}

#[test]
fn repeated_failures_collapse_into_one_audit_row() {
    let app = TestApp::spawn();
    app.setup_owner();
    for _ in 0..3 {
        let (res, _) = app.login(OWNER_EMAIL, "wrong password!!");
        assert_eq!(res.status, 401);
    }
    let (_, mut owner) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    let body = owner.get("/").body;
    assert_eq!(body.matches("wrong password").count(), 1, "{body}");
    assert!(body.contains("×3"), "{body}");
}

#[test]
fn forms_without_the_right_csrf_token_are_refused() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();

    for csrf in ["", "forged-token"] {
        let res = owner.post_form("/settings/security-mode", &[("csrf", csrf), ("mode", "on")]);
        assert_eq!(res.status, 403, "csrf {csrf:?}");
        let res = owner.post_form("/logout", &[("csrf", csrf)]);
        assert_eq!(res.status, 403, "csrf {csrf:?}");
    }
    assert!(!owner.get("/settings").body.contains("is <strong class=\"on\">on"), "the mode did not change");
    assert_eq!(owner.get("/").status, 200, "still logged in");

    // The login form checks its double-submit token too.
    let mut anon = app.client();
    anon.get("/login");
    let res = anon.post_form("/login", &[("csrf", "forged"), ("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)]);
    assert_eq!(res.status, 403);
}

/// Every form a logged-in person posts, read from the route table, refuses
/// a forged CSRF token before it acts or looks anything up.
#[test]
fn every_dashboard_form_refuses_a_forged_csrf_token() {
    let app = TestApp::spawn();
    let (mut owner, _) = app.owner_with_host_pat();
    let routes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs")).unwrap();
    let mut checked = 0;
    for chunk in routes.split("resource(\"").skip(1) {
        let path = &chunk[..chunk.find('"').unwrap()];
        let posts = chunk.split(".service(").next().unwrap_or("").contains(".post(");
        // Pages shown before login check a double-submit cookie instead
        // (the login test above); the OAuth consent form is checked in oauth.rs.
        let before_login = ["/setup", "/login", "/invite/{token}", "/oauth/authorize"].contains(&path);
        if !posts || before_login || path.starts_with("/v1") || path.starts_with("/api") || path.starts_with("/oauth") {
            continue;
        }
        let path = path.replace("{session}", "s1").replace("{grant}", "g1").replace("{id}", "some-id");
        let res = owner.post_form(&path, &[("csrf", "forged-token"), ("confirm", "yes"), ("name", "x")]);
        // Instance-admin pages do not exist for anyone else.
        let expected = if path.starts_with("/admin") { 404 } else { 403 };
        assert_eq!(res.status, expected, "POST {path} with a forged CSRF token");
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn logout_ends_the_session_for_good() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let stolen = owner.cookies.clone();
    let csrf = owner.get("/").csrf();
    let res = owner.post_form("/logout", &[("csrf", &csrf)]);
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), Some("/login"));
    assert_eq!(owner.get("/").status, 303);

    // Replaying the old cookie does not bring the session back.
    let mut replay = app.client();
    replay.cookies = stolen;
    assert_eq!(replay.get("/").status, 303);
}

#[test]
fn sessions_expire() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    assert_eq!(owner.get("/").status, 200);
    app.clock.advance(12 * 3600 + 1);
    assert_eq!(owner.get("/").status, 303);
}

#[test]
fn changing_the_password_ends_other_sessions() {
    let app = TestApp::spawn();
    let mut here = app.setup_owner();
    let (_, mut elsewhere) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    let csrf = here.get("/settings").csrf();
    let new_password = "a much better passphrase";

    let wrong = here.post_form(
        "/settings/password",
        &[
            ("csrf", &csrf),
            ("current_password", "not it at all"),
            ("new_password", new_password),
            ("confirm_password", new_password),
        ],
    );
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("current password is not right"));

    let res = here.post_form(
        "/settings/password",
        &[
            ("csrf", &csrf),
            ("current_password", OWNER_PASSWORD),
            ("new_password", new_password),
            ("confirm_password", new_password),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(here.get("/").status, 200, "this session stays");
    assert_eq!(elsewhere.get("/").status, 303, "the other one ends");
    assert_eq!(app.login(OWNER_EMAIL, OWNER_PASSWORD).0.status, 401);
    assert_eq!(app.login(OWNER_EMAIL, new_password).0.status, 303);
}

#[test]
fn pages_carry_a_strict_content_security_policy() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let res = owner.get("/");
    let csp = res.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(!res.body.contains("<script>"), "no inline script");
    assert!(!res.body.contains("style=\""), "no inline style");
}

#[test]
fn static_assets_are_embedded_and_cached() {
    let app = TestApp::spawn();
    let mut anon = app.client();
    let css = anon.get("/static/css/app.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.header("cache-control").unwrap().contains("max-age"));
    let etag = css.header("etag").unwrap().to_string();
    let again = anon.send("GET", "/static/css/app.css", &[("If-None-Match", &etag)], None);
    assert_eq!(again.status, 304);
    assert_eq!(anon.get("/static/nope.css").status, 404);
    assert_eq!(anon.get("/static/../Cargo.toml").status, 404);
}

#[test]
fn instance_admins_see_every_workspace_and_create_new_ones() {
    let app = TestApp::spawn_with(|c| c.superadmin_domain = Some("example.com".into()));
    let mut admin = app.setup_owner();
    let (code, _, err) = run_cli(
        &app.data_dir,
        &["admin", "create-workspace", "--name", "Globex", "--owner-email", "hank@globex.example", "--password-stdin"],
        Some("globex owner password\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(admin.get("/").body.contains("href=\"/admin/workspaces\""));
    let page = admin.get("/admin/workspaces");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Acme") && page.body.contains("Globex"), "{}", page.body);
    let res = admin.post_form("/admin/workspaces", &[("csrf", &page.csrf()), ("name", "Initech")]);
    assert_eq!(res.status, 303);
    assert!(admin.get("/").body.contains("Initech"), "the admin owns it and can switch to it");

    // Hank is not an instance admin: no link, no page.
    let (_, mut hank) = app.login("hank@globex.example", "globex owner password");
    assert!(!hank.get("/").body.contains("/admin/workspaces"));
    assert_eq!(hank.get("/admin/workspaces").status, 404);
    let csrf = hank.get("/").csrf();
    assert_eq!(hank.post_form("/admin/workspaces", &[("csrf", &csrf), ("name", "Nope")]).status, 404);
}

#[test]
fn password_changes_are_limited_per_user() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let change = |owner: &mut Client| {
        let csrf = owner.get("/settings").csrf();
        owner.post_form(
            "/settings/password",
            &[
                ("csrf", &csrf),
                ("current_password", "not the password"),
                ("new_password", "a brand new password"),
                ("confirm_password", "a brand new password"),
            ],
        )
    };
    for i in 0..10 {
        assert_eq!(change(&mut owner).status, 400, "attempt {}", i + 1);
    }
    assert_eq!(change(&mut owner).status, 429);
}
