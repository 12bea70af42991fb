use crate::helpers::*;

#[test]
fn setup_page_needs_the_printed_code() {
    let app = TestApp::spawn();
    let mut browser = app.client();
    assert_eq!(browser.get("/setup").status, 403);
    assert_eq!(browser.get("/setup?code=not-the-code").status, 403);
    let code = app.setup_code.clone().unwrap();
    assert_eq!(code.len(), 32);
    assert_eq!(browser.get(&format!("/setup?code={code}")).status, 200);
}

#[test]
fn setup_post_with_a_wrong_code_creates_nobody() {
    let app = TestApp::spawn();
    let code = app.setup_code.clone().unwrap();
    let mut browser = app.client();
    let csrf = browser.get(&format!("/setup?code={code}")).csrf();
    let res = browser.post_form(
        "/setup",
        &[
            ("csrf", &csrf),
            ("code", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("email", OWNER_EMAIL),
            ("password", OWNER_PASSWORD),
            ("password_confirm", OWNER_PASSWORD),
            ("workspace_name", "Acme"),
        ],
    );
    assert_eq!(res.status, 403);
    let (res, _) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(res.status, 401, "nobody was created");
}

#[test]
fn setup_code_works_exactly_once() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let overview = owner.get("/");
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("Acme"));
    assert!(overview.body.contains("setup.completed"));

    // The same code again: setup is over, the page sends people to the login.
    let code = app.setup_code.clone().unwrap();
    let mut other = app.client();
    let again = other.get(&format!("/setup?code={code}"));
    assert_eq!(again.status, 303);
    assert_eq!(again.header("location"), Some("/login"));
    let csrf = other.get("/login").csrf();
    let res = other.post_form(
        "/setup",
        &[
            ("csrf", &csrf),
            ("code", &code),
            ("email", "intruder@example.com"),
            ("password", OWNER_PASSWORD),
            ("password_confirm", OWNER_PASSWORD),
            ("workspace_name", "Evil"),
        ],
    );
    // Setup is over: the form's target no longer exists (and hashes nothing).
    assert_eq!(res.status, 404);
    let (res, _) = app.login("intruder@example.com", OWNER_PASSWORD);
    assert_eq!(res.status, 401);
}

#[test]
fn setup_refuses_a_short_password_and_keeps_what_was_typed() {
    let app = TestApp::spawn();
    let code = app.setup_code.clone().unwrap();
    let mut browser = app.client();
    let csrf = browser.get(&format!("/setup?code={code}")).csrf();
    let res = browser.post_form(
        "/setup",
        &[
            ("csrf", &csrf),
            ("code", &code),
            ("email", OWNER_EMAIL),
            ("password", "short"),
            ("password_confirm", "short"),
            ("workspace_name", "Acme"),
        ],
    );
    assert_eq!(res.status, 400);
    assert!(res.body.contains("at least 12 characters"));
    assert!(res.body.contains(OWNER_EMAIL), "the email is kept");
    // The code still works after a refused attempt.
    assert_eq!(browser.get(&format!("/setup?code={code}")).status, 200);
}

#[test]
fn a_restarted_server_on_a_finished_setup_prints_no_code() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let first = TestApp::spawn_in(data.clone(), |_| {});
    assert!(first.setup_code.is_some());
    first.setup_owner();
    first.stop();
    let second = TestApp::spawn_in(data, |_| {});
    assert!(second.setup_code.is_none());
    let (res, _) = second.login(OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(res.status, 303);
}

#[test]
fn setup_posts_are_limited_like_logins_and_checked_before_any_hashing() {
    let app = TestApp::spawn();
    let code = app.setup_code.clone().unwrap();
    let mut browser = app.client();
    let csrf = browser.get(&format!("/setup?code={code}")).csrf();
    let wrong = |browser: &mut Client| {
        browser.post_form(
            "/setup",
            &[
                ("csrf", &csrf),
                ("code", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("email", OWNER_EMAIL),
                // Would be refused as too short if it were ever looked at.
                ("password", "x"),
                ("password_confirm", "y"),
                ("workspace_name", "Acme"),
            ],
        )
    };
    // A wrong code is refused before the form's fields are even judged.
    for _ in 0..10 {
        assert_eq!(wrong(&mut browser).status, 403);
    }
    let limited = wrong(&mut browser);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
}
