//! The agent pages of the dashboard: agents and tokens.

use crate::helpers::*;

fn mode_on(browser: &mut Client) {
    let csrf = browser.get("/settings").csrf();
    let res = browser.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "on")]);
    assert_eq!(res.status, 303);
}

/// The value of the read-only input that shows a new token.
fn shown_token(body: &str) -> String {
    let marker = "id=\"new-token\" readonly value=\"";
    let start = body.find(marker).unwrap_or_else(|| panic!("no token shown: {body}")) + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

/// Posts the create form and follows its redirect to the show-once page.
fn create_token(browser: &mut Client, fields: &[(&str, &str)]) -> Response {
    let csrf = browser.get("/dashboard/tokens").csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let res = browser.post_form("/dashboard/tokens", &all);
    if res.status != 303 {
        return res;
    }
    let location = res.header("location").expect("a redirect").to_string();
    assert!(location.ends_with("/created"), "{location}");
    browser.get(&location)
}

const AGENT_TOKEN: &[(&str, &str)] = &[
    ("name", "billing bot token"),
    ("scope_type", "agent"),
    ("agent_name", "billing-bot"),
    ("audience", "both"),
    ("expires_in_days", "30"),
    ("daily_cap_usd", "7.50"),
];

#[test]
fn a_host_mints_in_the_dashboard_the_agent_uses_it_and_a_revoke_stops_it() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let nav = owner.get("/").body;
    assert!(nav.contains("href=\"/dashboard/agents\"") && nav.contains("href=\"/dashboard/tokens\""));

    let created = create_token(&mut owner, AGENT_TOKEN);
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("only time Latchkey shows it"));
    assert!(created.body.contains("data-copy=\"new-token\""));
    let token = shown_token(&created.body);
    assert!(token.starts_with("lk_pat_"));
    assert!(created.body.contains("curl -H"), "the next step for an agent token");

    let mut agent = app.client();
    let who = agent.api("GET", "/v1/auth/whoami", Some(&token), None);
    assert_eq!(who.status, 200);
    assert_eq!(who.json()["bound_agent"]["agent_name"], "billing-bot");

    let list = owner.get("/dashboard/tokens");
    assert!(!list.body.contains(&token), "the list shows only the hint");
    assert!(list.body.contains(&token[..11]));
    assert!(list.body.contains("$7.50"));
    assert!(owner.get("/dashboard/agents").body.contains("billing-bot"), "the agent was created on the way");

    // Revoke: first a confirmation, then the real thing.
    let id_marker = "href=\"/dashboard/tokens/";
    let start = list.body.find(id_marker).unwrap() + id_marker.len();
    let id = &list.body[start..start + 36];
    let csrf = owner.get(&format!("/dashboard/tokens/{id}")).csrf();
    let ask = owner.post_form(&format!("/dashboard/tokens/{id}/revoke"), &[("csrf", &csrf)]);
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("cannot be undone"));
    assert_eq!(agent.api("GET", "/v1/auth/whoami", Some(&token), None).status, 200, "not before confirming");
    let done = owner.post_form(&format!("/dashboard/tokens/{id}/revoke"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(done.status, 303);
    agent.api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    assert!(owner.get(&format!("/dashboard/tokens/{id}")).body.contains("revoked"));
}

#[test]
fn the_cap_is_raised_from_the_token_page() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let created = create_token(&mut owner, AGENT_TOKEN);
    let token = shown_token(&created.body);
    let marker = "href=\"/dashboard/tokens/";
    let start = created.body.find(marker).unwrap() + marker.len();
    let id = created.body[start..start + 36].to_string();
    let csrf = owner.get(&format!("/dashboard/tokens/{id}")).csrf();
    let res = owner.post_form(&format!("/dashboard/tokens/{id}/cap"), &[("csrf", &csrf), ("daily_cap_usd", "25.00")]);
    assert_eq!(res.status, 303);
    assert!(owner.get(&format!("/dashboard/tokens/{id}")).body.contains("$25.00"));
    let bad = owner.post_form(&format!("/dashboard/tokens/{id}/cap"), &[("csrf", &csrf), ("daily_cap_usd", "lots")]);
    assert_eq!(bad.status, 400);
    // The API agrees.
    let host = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "h", "--scope", "host"]);
    let me = app.client().api("GET", &format!("/v1/pats/{id}"), Some(&host), None).json();
    assert_eq!(me["daily_cap_usd"], "25.00");
    assert!(!token.is_empty());
}

#[test]
fn disabling_an_agent_in_the_dashboard_stops_its_tokens() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let token = shown_token(&create_token(&mut owner, AGENT_TOKEN).body);
    let page = owner.get("/dashboard/agents");
    let marker = "action=\"/dashboard/agents/";
    let start = page.body.find(marker).unwrap() + marker.len();
    let id = page.body[start..start + 36].to_string();
    let csrf = page.csrf();
    // First the question, naming what stops; nothing is disabled yet.
    let ask = owner.post_form(&format!("/dashboard/agents/{id}/disable"), &[("csrf", &csrf)]);
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Yes, disable it") && ask.body.contains("1 live"), "{}", ask.body);
    assert_eq!(app.client().api("GET", "/v1/auth/whoami", Some(&token), None).status, 200);
    let forged = owner.post_form(&format!("/dashboard/agents/{id}/disable"), &[("csrf", "nope"), ("confirm", "yes")]);
    assert_eq!(forged.status, 403);
    let res = owner.post_form(&format!("/dashboard/agents/{id}/disable"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(res.status, 303);
    app.client().api("GET", "/v1/auth/whoami", Some(&token), None).assert_error(403, "AGENT_DISABLED");
    assert_eq!(owner.post_form(&format!("/dashboard/agents/{id}/enable"), &[("csrf", &csrf)]).status, 303);
    assert_eq!(app.client().api("GET", "/v1/auth/whoami", Some(&token), None).status, 200);
}

#[test]
fn agents_are_created_from_the_dashboard_with_their_rules() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let csrf = owner.get("/dashboard/agents").csrf();
    let res =
        owner.post_form("/dashboard/agents", &[("csrf", &csrf), ("name", "scraper"), ("description", "reads prices")]);
    assert_eq!(res.status, 303);
    let res = owner.get(res.header("location").unwrap());
    assert!(res.body.contains("only time Latchkey shows it"));
    let page = owner.get("/dashboard/agents").body;
    assert!(page.contains("scraper") && page.contains("reads prices"));
    let dup = owner.post_form("/dashboard/agents", &[("csrf", &csrf), ("name", "scraper")]);
    assert_eq!(dup.status, 400);
    assert!(dup.body.contains("already exists"));
    let forged = owner.post_form("/dashboard/agents", &[("csrf", "nope"), ("name", "evil")]);
    assert_eq!(forged.status, 403);
    let forged = create_token(&mut owner, &[]);
    assert_eq!(forged.status, 400, "an empty form is refused");
    let no_csrf = owner.post_form("/dashboard/tokens", AGENT_TOKEN);
    assert_eq!(no_csrf.status, 403);
}

#[test]
fn with_the_mode_off_the_agent_pages_do_not_exist() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    for path in ["/dashboard/agents", "/dashboard/tokens", "/dashboard/tokens/00000000-0000-0000-0000-000000000000"] {
        assert_eq!(owner.get(path).status, 404, "{path}");
    }
    let nav = owner.get("/").body;
    assert!(!nav.contains("/dashboard/tokens") && !nav.contains("/dashboard/agents"));
    let csrf = owner.get("/settings").csrf();
    let res = owner.post_form("/dashboard/tokens", &[("csrf", &csrf), ("name", "x"), ("scope_type", "host")]);
    assert_eq!(res.status, 404);
}

/// The value of the read-only input with this id.
fn shown(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" readonly value=\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no {id}: {body}")) + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

#[test]
fn creating_an_agent_shows_its_bootstrap_secret_once_with_a_snippet() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let csrf = owner.get("/dashboard/agents").csrf();
    let created = owner.post_form("/dashboard/agents", &[("csrf", &csrf), ("name", "enrollee")]);
    assert_eq!(created.status, 303, "{}", created.body);
    let location = created.header("location").unwrap().to_string();
    assert!(location.ends_with("/secret") && !location.contains("lk_bs_"), "{location}");
    let res = owner.get(&location);
    assert_eq!(res.status, 200);
    let secret = shown(&res.body, "new-secret");
    assert!(secret.starts_with("lk_bs_"));
    assert!(res.body.contains("data-copy=\"new-secret\""));
    assert!(res.body.contains("/v1/agents/bootstrap") && res.body.contains("/v1/agents/token"), "the snippet");
    assert!(!owner.get("/dashboard/agents").body.contains(&secret), "never shown again");
    // A reload of the secret page issues and shows nothing.
    let reload = owner.get(&location);
    assert_eq!(reload.status, 303);
    let agent_page = owner.get(reload.header("location").unwrap()).body;
    assert!(agent_page.contains("shown once") && !agent_page.contains(&secret));

    // The agent page: not enrolled yet, then enrolled with its key.
    let marker = "href=\"/dashboard/agents/";
    let start = res.body.find(marker).unwrap() + marker.len();
    let id = res.body[start..start + 36].to_string();
    let page = owner.get(&format!("/dashboard/agents/{id}")).body;
    assert!(page.contains("not enrolled") && !page.contains("Key thumbprint"), "{page}");
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let point = key.public_key().to_encoded_point(false);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64.encode(point.x().unwrap()), "y": b64.encode(point.y().unwrap())});
    let res = app.client().api(
        "POST",
        "/v1/agents/bootstrap",
        None,
        Some(serde_json::json!({"bootstrapSecret": secret, "publicKey": jwk})),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let page = owner.get(&format!("/dashboard/agents/{id}"));
    assert!(page.body.contains(res.json()["keyThumbprint"].as_str().unwrap()));
    assert!(page.body.contains("Access tokens outstanding</th><td>0"));

    // A new secret from the agent page.
    let again = owner.post_form(&format!("/dashboard/agents/{id}/bootstrap-secret"), &[("csrf", &page.csrf())]);
    assert_eq!(again.status, 303);
    let again = owner.get(again.header("location").unwrap());
    assert_ne!(shown(&again.body, "new-secret"), secret);
}

/// A create answers with a redirect; the page it leads to shows the token
/// once. Reloading it creates nothing and shows nothing, and another
/// browser session cannot open the stash.
#[test]
fn reloading_the_created_page_neither_creates_nor_shows_the_token_again() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let csrf = owner.get("/dashboard/tokens").csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "laptop"),
        ("scope_type", "host"),
        ("audience", "both"),
        ("expires_in_days", "30"),
    ];
    let res = owner.post_form("/dashboard/tokens", &fields);
    assert_eq!(res.status, 303, "{}", res.body);
    let location = res.header("location").unwrap().to_string();
    assert!(!location.contains("lk_pat_"), "no secret in the URL");

    // Another session of the same person, holding a copy of the stash cookie.
    let (_, mut other) = app.login(OWNER_EMAIL, OWNER_PASSWORD);
    let stash = owner.cookies.get("latchkey_reveal").expect("the stash cookie").clone();
    other.cookies.insert("latchkey_reveal".into(), stash);
    let theirs = other.get(&location);
    assert_eq!(theirs.status, 303, "{}", theirs.body);

    let shown = owner.get(&location);
    assert_eq!(shown.status, 200);
    assert_eq!(shown.header("cache-control"), Some("no-store"));
    let token = shown_token(&shown.body);
    assert!(shown.body.contains("keep it like a password") && shown.body.contains("latchkey login --url"));
    assert!(!owner.cookies.contains_key("latchkey_reveal"), "the stash is cleared");

    let again = owner.get(&location);
    assert_eq!(again.status, 303, "the reload does not show it again");
    let details = owner.get(again.header("location").unwrap());
    assert!(details.body.contains("shown once") && !details.body.contains(&token));
    let list = owner.get("/dashboard/tokens").body;
    assert_eq!(list.matches("laptop").count(), 1, "one token, not two");
}

/// A form with a mistake comes back (400) with everything typed still in
/// it and the message beside the field it is about, in the dashboard's
/// words; nothing is created.
#[test]
fn forms_with_a_mistake_come_back_filled_in_with_the_error_beside_the_field() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let before = owner.get("/dashboard/tokens").body.matches("/dashboard/tokens/").count();

    let cases: &[(&str, &str, &str)] = &[
        ("expires_in_days", "400", "A whole number of days from 1 to 365."),
        ("daily_cap_usd", "a lot", "An amount like 10.00"),
        ("agent_name", "", "An agent token needs the agent&#39;s name"),
    ];
    for (field, bad, message) in cases {
        let mut fields: Vec<(&str, &str)> = AGENT_TOKEN.iter().filter(|(k, _)| k != field).copied().collect();
        fields.push((field, bad));
        let res = create_token(&mut owner, &fields);
        assert_eq!(res.status, 400, "{field}: {}", res.body);
        let body = &res.body;
        assert!(body.contains(&format!("id=\"{field}-error\">{message}")), "{field}: {body}");
        assert!(body.contains(&format!("aria-describedby=\"{field}-error\"")), "{field}");
        assert!(body.contains("value=\"billing bot token\""), "{field}: the name was kept");
        assert!(body.contains("<option value=\"both\" selected>"), "{field}: the audience was kept");
        assert!(body.contains("<nav>"), "{field}: the page keeps its navigation");
    }
    let after = owner.get("/dashboard/tokens").body.matches("/dashboard/tokens/").count();
    assert_eq!(after, before, "nothing was created");

    // The new-agent form: a bad name and a taken one.
    let csrf = owner.get("/dashboard/agents").csrf();
    let form = |name: &'static str| [("name", name), ("description", "kept")];
    let mut bad = vec![("csrf", csrf.as_str())];
    bad.extend_from_slice(&form("no spaces"));
    let res = owner.post_form("/dashboard/agents", &bad);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("id=\"name-error\">1 to 64 characters"), "{}", res.body);
    assert!(res.body.contains("value=\"no spaces\"") && res.body.contains("value=\"kept\""));
    let mut ok = vec![("csrf", csrf.as_str())];
    ok.extend_from_slice(&form("taken"));
    assert_eq!(owner.post_form("/dashboard/agents", &ok).status, 303);
    let res = owner.post_form("/dashboard/agents", &ok);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("id=\"name-error\">"), "{}", res.body);
    assert!(res.body.contains("aria-invalid=\"true\""));
}

/// The audit page says what happened in words, links what it happened to,
/// filters by kind and by agent (the paging link keeps the filter), and
/// downloads the same selection as CSV.
#[test]
fn the_audit_page_filters_by_kind_and_agent_and_downloads_csv() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let csrf = owner.get("/dashboard/agents").csrf();
    for name in ["alpha", "beta"] {
        let res = owner.post_form("/dashboard/agents", &[("csrf", &csrf), ("name", name)]);
        assert_eq!(res.status, 303);
    }
    let agents = owner.get("/dashboard/agents").body;
    let id_of = |name: &str| {
        let at = agents.find(&format!("><strong>{name}</strong>")).unwrap();
        let start = agents[..at].rfind("/dashboard/agents/").unwrap() + "/dashboard/agents/".len();
        agents[start..start + 36].to_string()
    };
    let (alpha, beta) = (id_of("alpha"), id_of("beta"));
    let found = owner.get("/dashboard/agents?q=ALP").body;
    assert!(found.contains("><strong>alpha</strong>") && !found.contains("><strong>beta</strong>"));
    assert!(owner.get("/dashboard/agents?q=zzz").body.contains("No agent matches “zzz”"));

    let all = owner.get("/dashboard/audit").body;
    assert!(all.contains(">Agent created</span>") && all.contains(">Agent Security Mode turned on</span>"), "{all}");
    assert!(all.contains(&format!("href=\"/dashboard/agents/{alpha}\"")), "targets link to their page");

    let created = owner.get("/dashboard/audit?kind=agent.created");
    assert_eq!(created.status, 200);
    assert_eq!(created.body.matches(">Agent created</span>").count(), 2, "{}", created.body);
    assert!(!created.body.contains(">Agent Security Mode turned on</span>"));
    assert!(created.body.contains("<option value=\"agent.created\" selected>"), "the filter shows what it is");

    let only_alpha = owner.get(&format!("/dashboard/audit?agent_id={alpha}")).body;
    assert!(only_alpha.contains(&format!("/dashboard/agents/{alpha}\"")));
    assert!(!only_alpha.contains(&format!("/dashboard/agents/{beta}\"")), "{only_alpha}");

    let none = owner.get("/dashboard/audit?kind=oauth.code_reused").body;
    assert!(none.contains("No events match this filter"), "{none}");

    // By outcome and by time range.
    let succeeded = owner.get("/dashboard/audit?outcome=success").body;
    assert!(succeeded.contains(">Agent created</span>") && succeeded.contains("<option value=\"success\" selected>"));
    let refused = owner.get("/dashboard/audit?outcome=failure").body;
    assert!(refused.contains("No events match this filter"), "{refused}");
    assert!(owner.get("/dashboard/audit?period=1h").body.contains(">Agent created</span>"));
    app.clock.advance(2 * 3600);
    let last_hour = owner.get("/dashboard/audit?period=1h&kind=agent.created").body;
    assert!(last_hour.contains("No events match this filter"), "two hours later: {last_hour}");
    assert!(last_hour.contains("<option value=\"1h\" selected>"));
    let day = owner.get("/dashboard/audit?period=24h&kind=agent.created").body;
    assert_eq!(day.matches(">Agent created</span>").count(), 2);
    let older = owner.get("/dashboard/audit.csv?kind=agent.created&period=1h");
    assert_eq!(older.body.lines().count(), 1, "the CSV follows the same filter: {}", older.body);

    let csv = owner.get("/dashboard/audit.csv?kind=agent.created");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.header("content-disposition").is_some_and(|d| d.contains("latchkey-audit.csv")));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(lines[0].starts_with("time,actor_kind,actor_id,actor,event,kind,"), "{}", lines[0]);
    assert_eq!(lines.len(), 3, "a header and the two creations: {}", csv.body);
    assert!(lines[1].contains(",Agent created,agent.created,agent,"), "{}", lines[1]);

    // Only for signed-in people.
    let anonymous = app.client().get("/dashboard/audit.csv");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/login"));
}

/// The token list shows live tokens; revoked and expired ones are one
/// click away, and a search narrows by name, agent or token start.
#[test]
fn the_token_list_hides_revoked_tokens_until_asked_and_searches() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    let keep = create_token(&mut owner, AGENT_TOKEN);
    assert_eq!(keep.status, 200);
    let mut other: Vec<(&str, &str)> = AGENT_TOKEN.to_vec();
    other[0] = ("name", "deploy bot token");
    other[2] = ("agent_name", "deploy-bot");
    let gone = create_token(&mut owner, &other);
    let gone_token = shown_token(&gone.body);
    let host = format!("Bearer {gone_token}");
    let mut api = app.client();
    let me = api.api("GET", "/v1/auth/whoami", Some(&host), None).json();
    let id = me["pat_id"].as_str().or(me["token"]["id"].as_str()).map(str::to_string);
    let list = owner.get("/dashboard/tokens").body;
    let row = |name: &str| format!(">{name}</a>");
    assert!(list.contains(&row("deploy bot token")) && list.contains(&row("billing bot token")));
    let id = id.unwrap_or_else(|| {
        let at = list.find(&row("deploy bot token")).unwrap();
        let start = list[..at].rfind("/dashboard/tokens/").unwrap() + "/dashboard/tokens/".len();
        list[start..start + 36].to_string()
    });
    let csrf = owner.get(&format!("/dashboard/tokens/{id}")).csrf();
    let res = owner.post_form(&format!("/dashboard/tokens/{id}/revoke"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(res.status, 303, "{}", res.body);

    let list = owner.get("/dashboard/tokens").body;
    assert!(!list.contains(&row("deploy bot token")), "revoked tokens are hidden");
    assert!(list.contains("1 revoked or expired token is hidden"), "{list}");
    let all = owner.get("/dashboard/tokens?show=all").body;
    assert!(all.contains(&row("deploy bot token")) && all.contains("class=\"revoked\""));
    assert!(all.contains("Hide revoked and expired"));

    let found = owner.get("/dashboard/tokens?q=BILLING").body;
    assert!(found.contains(&row("billing bot token")) && !found.contains(&row("admin")));
    let by_agent = owner.get("/dashboard/tokens?q=deploy-bot&show=all").body;
    assert!(by_agent.contains(&row("deploy bot token")) && !by_agent.contains(&row("billing bot token")));
    let nothing = owner.get("/dashboard/tokens?q=%3Cscript%3E").body;
    assert!(nothing.contains("No token matches “&#60;script&#62;”"), "{nothing}");
}

/// The agent page is the agent's hub: its tokens with today's spend and
/// cap, and its latest activity with a link to all of it.
#[test]
fn the_agent_page_shows_its_tokens_spend_and_activity() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    mode_on(&mut owner);
    assert_eq!(create_token(&mut owner, AGENT_TOKEN).status, 200);
    let agents = owner.get("/dashboard/agents").body;
    let at = agents.find("><strong>billing-bot</strong>").unwrap();
    let start = agents[..at].rfind("/dashboard/agents/").unwrap() + "/dashboard/agents/".len();
    let id = &agents[start..start + 36];
    let page = owner.get(&format!("/dashboard/agents/{id}"));
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains(">billing bot token</a>"), "{body}");
    assert!(body.contains("<td>$0.00</td>") && body.contains("<td>$7.50</td>"), "spent today and the cap");
    assert!(body.contains("none: it works with its tokens"), "a PAT agent needs no key");
    assert!(body.contains("Recent activity") && body.contains(">Agent created</span>"), "{body}");
    assert!(body.contains(&format!("href=\"/dashboard/audit?agent_id={id}\"")));
    assert!(body.contains("Recent checkouts") && body.contains("No checkout yet"));
    // Disable from the agent page asks first.
    assert!(body.contains(&format!("action=\"/dashboard/agents/{id}/disable\"")));
    let ask = owner.post_form(&format!("/dashboard/agents/{id}/disable"), &[("csrf", &page.csrf())]);
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("name=\"confirm\""), "a confirmation, not a disable: {}", ask.body);
    assert!(owner.get(&format!("/dashboard/agents/{id}")).body.contains("Disable this agent"), "still enabled");
}
