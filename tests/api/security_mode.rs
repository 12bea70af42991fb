use crate::helpers::*;

fn set_mode(browser: &mut Client, mode: &str, confirm: bool) -> Response {
    let csrf = browser.get("/settings").csrf();
    let mut fields = vec![("csrf", csrf.as_str()), ("mode", mode)];
    if confirm {
        fields.push(("confirm", "yes"));
    }
    browser.post_form("/settings/security-mode", &fields)
}

#[test]
fn with_the_mode_off_agent_pages_are_hidden_and_404() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let overview = owner.get("/");
    assert!(overview.body.contains("Agent Security Mode is <strong>off</strong>"));
    for agent_page in [
        "/dashboard/agents",
        "/dashboard/tokens",
        "/dashboard/certificates",
        "/dashboard/audit",
        "/dashboard/resources",
        "/dashboard/oauth-clients",
    ] {
        assert!(!overview.body.contains(agent_page), "the nav names no agent page: {agent_page}");
    }
    // Members are not an agent matter: owners manage them either way.
    assert!(overview.body.contains("/dashboard/members"));
    assert_eq!(owner.get("/dashboard/tokens").status, 404);
    assert_eq!(owner.get("/dashboard/audit").status, 404);
}

#[test]
fn turning_the_mode_on_shows_the_agent_pages() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let res = set_mode(&mut owner, "on", false);
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), Some("/settings?done=mode-on"));
    let overview = owner.get("/");
    assert!(overview.body.contains("href=\"/dashboard/audit\""));
    let audit = owner.get("/dashboard/audit");
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("security_mode.on"), "the switch is in the audit trail");
}

#[test]
fn turning_the_mode_off_asks_first_and_names_what_it_suspends() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    set_mode(&mut owner, "on", false);

    let ask = set_mode(&mut owner, "off", false);
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Turn Agent Security Mode off?"));
    assert!(ask.body.contains("suspends <strong>0</strong> live credentials"), "{}", ask.body);
    assert_eq!(owner.get("/dashboard/audit").status, 200, "nothing changed before confirming");

    let done = set_mode(&mut owner, "off", true);
    assert_eq!(done.status, 303);
    assert_eq!(owner.get("/dashboard/audit").status, 404);
    let overview = owner.get("/");
    assert!(overview.body.contains("security_mode.off"));
    assert!(overview.body.contains("0 credentials suspended"));
}

#[test]
fn the_mode_switch_refuses_unknown_values() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let res = set_mode(&mut owner, "sideways", false);
    assert_eq!(res.status, 400);
}

#[test]
fn every_page_says_whether_the_mode_is_on_and_has_an_icon() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    for page in ["/", "/settings"] {
        let body = owner.get(page).body;
        assert!(body.contains("class=\"mode off\""), "{page}");
        assert!(body.contains("href=\"#main\"") && body.contains("/static/favicon.svg"), "{page}");
    }
    set_mode(&mut owner, "on", false);
    for page in ["/", "/dashboard/agents", "/dashboard/tokens", "/dashboard/resources", "/dashboard/members"] {
        assert!(owner.get(page).body.contains("class=\"mode on\""), "{page}");
    }
    let icon = owner.get("/static/favicon.svg");
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
}

/// With the mode off, Settings lists the live tokens that turning it back
/// on would revive (the token pages are hidden then), and no revoked one.
#[test]
fn with_the_mode_off_settings_lists_what_turning_it_on_revives() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let mut api = app.client();
    for name in ["ops-bot", "gone-bot"] {
        let body = serde_json::json!({"name": format!("{name} token"), "scope_type": "agent",
            "agent_name": name, "create_agent": true, "audience": "both", "expires_in_days": 30});
        let res = api.api("POST", "/v1/pats", Some(&host), Some(body));
        assert_eq!(res.status, 201, "{}", res.body);
        if name == "gone-bot" {
            let id = res.json()["pat"]["id"].as_str().or(res.json()["id"].as_str()).unwrap().to_string();
            let revoked = api.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None);
            assert!(revoked.status < 300, "{}", revoked.body);
        }
    }
    assert!(!owner.get("/settings").body.contains("Turning it on revives"), "nothing to revive while on");
    assert_eq!(set_mode(&mut owner, "off", true).status, 303);
    let settings = owner.get("/settings").body;
    assert!(settings.contains("Turning it on revives these 2 tokens"), "{settings}");
    assert!(settings.contains("<td>ops-bot token</td>") && settings.contains("<td>ops-bot</td>"));
    assert!(!settings.contains("gone-bot token"), "a revoked token stays dead");
}
