//! PRODUCT.md §4: every failure the framework itself produces has the shape.

use crate::helpers::*;

#[test]
fn unknown_routes_answer_not_found_in_the_error_shape() {
    let app = TestApp::spawn();
    let mut c = app.client();
    let res = c.get("/v1/no-such-thing");
    let json = res.assert_error(404, "NOT_FOUND");
    assert!(json["recovery"].is_null());
    assert!(res.header("content-type").unwrap().starts_with("application/json"));
    c.send("POST", "/api/agent/nothing", &[("Content-Type", "application/json")], Some("{}".into()))
        .assert_error(404, "NOT_FOUND");
}

#[test]
fn browsers_get_a_page_for_unknown_dashboard_routes() {
    let app = TestApp::spawn();
    let mut c = app.client();
    let res = c.send("GET", "/no-such-page", &[("Accept", "text/html")], None);
    assert_eq!(res.status, 404);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.body.contains("There is no page at this address."));
}

#[test]
fn a_wrong_method_answers_method_not_allowed() {
    let app = TestApp::spawn();
    let mut c = app.client();
    c.send("DELETE", "/readyz", &[], None).assert_error(405, "METHOD_NOT_ALLOWED");
    c.send("PUT", "/login", &[], Some(String::new())).assert_error(405, "METHOD_NOT_ALLOWED");
}

#[test]
fn an_oversized_body_answers_payload_too_large() {
    let app = TestApp::spawn();
    let mut c = app.client();
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    c.send("POST", "/v1/pats", &[("Content-Type", "application/json")], Some(big.clone()))
        .assert_error(413, "PAYLOAD_TOO_LARGE");
    c.send("POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], Some(big))
        .assert_error(413, "PAYLOAD_TOO_LARGE");
}
