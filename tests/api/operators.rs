//! For resource servers and operators (PRODUCT.md §5.6).

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
