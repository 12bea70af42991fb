use crate::helpers::*;

#[test]
fn healthz_and_readyz_answer() {
    let app = TestApp::spawn();
    let mut c = app.client();
    let h = c.get("/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    let r = c.get("/readyz");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ready");
    assert!(r.header("x-request-id").is_some_and(|id| id.len() == 16));
}
