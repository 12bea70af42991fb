//! For resource servers and operators (docs/API.md §5.6).

use serde_json::json;

use crate::helpers::*;

#[test]
fn the_audit_trail_is_readable_and_filterable_over_the_api() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let agent = c.api("POST", "/v1/agents", Some(&host), Some(json!({"name": "audited"}))).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.api("POST", &format!("/v1/agents/{agent}/disable"), Some(&host), None);
    c.api("POST", "/v1/agents", Some(&host), Some(json!({"name": "other"})));

    let all = c.api("GET", "/v1/audit", Some(&host), None);
    assert_eq!(all.status, 200);
    let items = all.json()["items"].as_array().unwrap().clone();
    assert!(items.len() >= 5);
    assert_eq!(items[0]["kind"], "agent.bootstrap_secret_issued", "newest first");
    assert!(items.iter().any(|e| e["kind"] == "setup.completed"));

    let created = c.api("GET", "/v1/audit?kind=agent.created", Some(&host), None).json();
    assert_eq!(created["items"].as_array().unwrap().len(), 2);
    assert!(created["items"].as_array().unwrap().iter().all(|e| e["kind"] == "agent.created"));

    let about = c.api("GET", &format!("/v1/audit?agent_id={agent}"), Some(&host), None).json();
    let kinds: Vec<&str> = about["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"agent.disabled") && kinds.contains(&"agent.created"), "{kinds:?}");
    assert!(!kinds.contains(&"setup.completed"));
    assert_eq!(about["items"][0]["target"]["id"], agent.as_str());

    let page = c.api("GET", "/v1/audit?limit=2", Some(&host), None).json();
    let last = page["items"][1]["id"].as_str().unwrap();
    let next = c.api("GET", &format!("/v1/audit?limit=2&before={last}"), Some(&host), None).json();
    assert_eq!(next["items"][0]["id"], items[2]["id"]);
    c.api("GET", "/v1/audit?limit=0", Some(&host), None).assert_error(400, "VALIDATION_FAILED");

    let agent_pat = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "other"]);
    c.api("GET", "/v1/audit", Some(&agent_pat), None).assert_error(403, "AUTH_SCOPE");
    c.api("GET", "/v1/audit", None, None).assert_error(401, "AUTH_REQUIRED");
}

#[test]
fn a_resource_server_introspects_tokens_of_its_workspace() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let service = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "rs", "--scope", "service"]);
    let agent_pat = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "worker"]);
    let mut c = app.client();

    let live = c.api("POST", "/v1/introspect", Some(&service), Some(json!({"token": agent_pat}))).json();
    assert_eq!(live["active"], true);
    assert_eq!(live["token_type"], "pat");
    assert_eq!(live["scope"], "agent");
    assert_eq!(live["sub"], live["agent_id"]);
    assert!(live["exp"].as_i64().unwrap() > app.clock.now().0);
    assert!(live["iat"].is_i64());
    assert!(live["cnf"].is_null());

    // A key-bound session reports its key binding, as a form body too.
    let s = crate::signed::start_session(&mut c, &agent_pat);
    let form = format!("token={}", s.jwt);
    let res = c.send(
        "POST",
        "/v1/introspect",
        &[("Authorization", &format!("Bearer {service}")), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(form),
    );
    let session = res.json();
    assert_eq!(session["active"], true, "{session}");
    assert_eq!(session["token_type"], "session");
    assert_eq!(session["cnf"]["jkt"].as_str().unwrap().len(), 43);

    // Garbage, revoked and other workspaces' tokens are simply inactive.
    for dead in ["lk_pat_nope", "eyJhbGciOiJub25lIn0.e30.", "hello"] {
        assert_eq!(
            c.api("POST", "/v1/introspect", Some(&service), Some(json!({"token": dead}))).json(),
            json!({"active": false})
        );
    }
    let id = c.api("GET", "/v1/auth/whoami", Some(&agent_pat), None).json()["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.api("POST", &format!("/v1/pats/{id}/revoke"), Some(&host), None);
    assert_eq!(
        c.api("POST", "/v1/introspect", Some(&service), Some(json!({"token": agent_pat}))).json(),
        json!({"active": false})
    );

    // Only service credentials introspect.
    c.api("POST", "/v1/introspect", Some(&host), Some(json!({"token": host}))).assert_error(403, "AUTH_SCOPE");
    c.api("POST", "/v1/introspect", Some(&service), Some(json!({}))).assert_error(400, "VALIDATION_FAILED");
}

#[test]
fn tokens_are_revoked_by_themselves_or_by_an_owner() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let mint =
        |agent: &str| app.mint_pat(&["--email", OWNER_EMAIL, "--name", agent, "--scope", "agent", "--agent", agent]);
    let (one, two) = (mint("one"), mint("two"));

    // Another agent's token: refused, and it keeps working.
    c.api("POST", "/v1/revoke", Some(&one), Some(json!({"token": two}))).assert_error(403, "AUTH_SCOPE");
    assert_eq!(c.api("GET", "/v1/auth/whoami", Some(&two), None).status, 200);
    // Itself, as a form.
    let res = c.send(
        "POST",
        "/v1/revoke",
        &[("Authorization", &format!("Bearer {one}")), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(format!("token={one}")),
    );
    assert_eq!(res.status, 200);
    c.api("GET", "/v1/auth/whoami", Some(&one), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    // The owner, anything of the workspace: a session, a PAT.
    let s = crate::signed::start_session(&mut c, &two);
    assert_eq!(c.api("POST", "/v1/revoke", Some(&host), Some(json!({"token": s.jwt}))).status, 200);
    let who = crate::signed::signed_send(&mut c, &s, "GET", "/v1/auth/whoami", "", app.clock.now().0, &[]);
    who.assert_error(401, "AUTH_TOKEN_REVOKED");
    assert_eq!(c.api("POST", "/v1/revoke", Some(&host), Some(json!({"token": two}))).status, 200);
    c.api("GET", "/v1/auth/whoami", Some(&two), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    // Unknown or dead tokens: 200, as RFC 7009 asks.
    assert_eq!(c.api("POST", "/v1/revoke", Some(&host), Some(json!({"token": "lk_pat_nothing"}))).status, 200);
    assert_eq!(c.api("POST", "/v1/revoke", Some(&host), Some(json!({"token": two}))).status, 200);
    // Exchanged JWTs are not revoked one by one.
    let jwt =
        c.api("POST", "/v1/auth/exchange", Some(&host), None).json()["access_token"].as_str().unwrap().to_string();
    c.api("POST", "/v1/revoke", Some(&host), Some(json!({"token": jwt}))).assert_error(400, "VALIDATION_FAILED");
    c.api("POST", "/v1/revoke", None, Some(json!({"token": two}))).assert_error(401, "AUTH_REQUIRED");
}

#[test]
fn metrics_are_for_hosts_and_services_unless_public() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let agent = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "a", "--scope", "agent", "--agent", "m"]);
    let mut c = app.client();
    let res = c.api("GET", "/metrics", Some(&host), None);
    assert_eq!(res.status, 200);
    assert!(res.header("content-type").unwrap().starts_with("text/plain"));
    assert!(res.body.contains("latchkey_http_requests_total{class=\"2xx\"}"), "{}", res.body);
    assert!(res.body.contains("latchkey_http_request_duration_seconds_count"));
    assert!(res.body.contains("latchkey_pats_live 2"), "{}", res.body);
    assert!(res.body.contains("latchkey_agents 1"));
    c.api("GET", "/metrics", Some(&agent), None).assert_error(403, "AUTH_SCOPE");
    c.api("GET", "/metrics", None, None).assert_error(401, "AUTH_REQUIRED");

    let open = TestApp::spawn_with(|c| c.metrics_public = true);
    assert_eq!(open.client().get("/metrics").status, 200);
}

/// Every operation of the API's route table is described in /openapi.json
/// and answered by the server (not 404 for a path without ids, never 405),
/// and the dashboard's route list in `http/mod.rs` registers no API path:
/// the table is the only place an API route is added.
#[test]
fn openapi_describes_every_api_route() {
    use latchkey::http::api::openapi::Verb;
    let app = TestApp::spawn();
    let mut c = app.client();
    let doc = c.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let operations = latchkey::http::api::routes::operations();
    assert!(operations.len() >= 55, "{}", operations.len());
    for op in &operations {
        let path = op.template();
        let verb = if op.verb == Verb::Any { "get" } else { op.verb.as_str() };
        assert!(doc["paths"][&path][verb].is_object(), "{verb} {path} missing from /openapi.json");
        let concrete = path.replace("{id}", "nope").replace("{kid}", "nope").replace("{path}", "nope");
        let res = c.api(&verb.to_uppercase(), &concrete, None, None);
        assert_ne!(res.status, 405, "{verb} {path} is not routed");
        if !path.contains('{') {
            assert_ne!(res.status, 404, "{verb} {path} is not routed");
        }
    }
    // Every other route is a browser's: a path http/mod.rs registers
    // outside these belongs in api/routes.rs, where the document sees it.
    let dashboard = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs")).unwrap();
    assert!(!dashboard.contains(".route(\""), "http/mod.rs registers a bare route: use resource(…) or api/routes.rs");
    let pages = ["/", "/oauth/authorize", "/setup", "/login", "/logout"];
    let trees = ["/dashboard", "/settings", "/workspace", "/invite", "/admin", "/static"];
    let paths: Vec<&str> = dashboard.split("resource(\"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert!(paths.len() >= 30, "read the dashboard's routes: {paths:?}");
    for path in paths {
        let known = pages.contains(&path)
            || trees.iter().any(|t| path == *t || path.strip_prefix(t).is_some_and(|r| r.starts_with('/')));
        assert!(known, "http/mod.rs registers {path}, not a dashboard page: add it to api/routes.rs");
    }
}
