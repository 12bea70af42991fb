//! docs/API.md §4: every failure the framework itself produces has the shape.

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

/// Sends `head` and `body` over a raw connection and returns what came back.
fn raw_exchange(address: &str, head: &str, body: &[u8], wait: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let addr = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_body_that_stops_arriving_is_answered_408_and_the_connection_closed() {
    let app = TestApp::spawn_with(|c| c.body_deadline = std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let answer = raw_exchange(
        &app.address,
        "POST /v1/agents/bootstrap HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
        br#"{"a":"#,
        std::time::Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error_code":"REQUEST_TIMEOUT""#), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "held {:?}", started.elapsed());
    // The server is still there for everyone else.
    assert_eq!(app.client().get("/readyz").status, 200);
}

/// One address may hold `LATCHKEY_MAX_CONNECTIONS_PER_CLIENT` connections:
/// the next is answered 429 `RATE_LIMITED` on its first request, before its
/// body is read, and closed; a closed connection frees its place; trusted
/// proxies (loopback by default) are not counted.
#[test]
fn connections_past_the_per_address_cap_are_refused_and_closed() {
    use std::io::{Read, Write};
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec![];
        c.max_connections_per_client = 3;
    });
    let addr = app.address.trim_start_matches("http://").to_string();
    let open = || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 2048];
        let n = s.read(&mut buf).unwrap_or(0);
        (s, String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let mut held: Vec<_> = (0..3)
        .map(|_| {
            let (s, answer) = open();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            s
        })
        .collect();
    // The fourth: refused at once, even with a body still to come.
    let started = std::time::Instant::now();
    let answer = raw_exchange(
        &app.address,
        "POST /v1/agents/bootstrap HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
        br#"{"a":"#,
        std::time::Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains(r#""error_code":"RATE_LIMITED""#), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 5"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "answered without waiting for the body");
    // Closing one frees a place (the server notices the close first).
    drop(held.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (s, answer) = open();
        if answer.starts_with("HTTP/1.1 200") {
            held.push(s);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the place was never freed: {answer}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Loopback is a trusted proxy by default: not counted.
    let proxied = TestApp::spawn_with(|c| c.max_connections_per_client = 1);
    let keep = raw_keepalive(&proxied.address);
    assert_eq!(proxied.client().get("/healthz").status, 200);
    drop(keep);
}

/// A connection that stays open after one request.
fn raw_keepalive(address: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 1024];
    let _ = s.read(&mut buf);
    s
}

#[test]
fn an_oversized_chunked_body_gets_413_in_the_error_shape() {
    let app = TestApp::spawn();
    let chunk = format!("{:x}\r\n{}\r\n", 65_536, "a".repeat(65_536));
    let body: String = std::iter::repeat_n(chunk.as_str(), 16).collect::<String>() + "0\r\n\r\n";
    let answer = raw_exchange(
        &app.address,
        "POST /v1/agents/bootstrap HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        body.as_bytes(),
        std::time::Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(300)]);
    assert!(answer.contains(r#""error_code":"PAYLOAD_TOO_LARGE""#), "{}", &answer[..answer.len().min(300)]);
}

#[test]
fn money_in_a_pat_is_a_decimal_string_never_a_json_number() {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    for cap in [serde_json::json!(5.5), serde_json::json!(1e2), serde_json::json!(10)] {
        let res = c.api(
            "POST",
            "/v1/pats",
            Some(&host),
            Some(serde_json::json!({"name": "n", "scope_type": "agent", "agent_name": "a", "create_agent": true,
                                    "daily_cap_usd": cap})),
        );
        let err = res.assert_error(400, "VALIDATION_FAILED");
        assert!(err["user_message"].as_str().unwrap().contains("daily_cap_usd"), "{err}");
    }
}

#[test]
fn a_bearer_that_is_not_text_is_an_unknown_token() {
    let app = TestApp::spawn();
    let answer = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
        s.write_all(b"GET /v1/auth/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer lk_pat_\xff\xfe\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains(r#""error_code":"AUTH_UNKNOWN_TOKEN""#), "{answer}");
}

#[test]
fn head_answers_like_get_without_a_body() {
    let app = TestApp::spawn();
    for path in ["/healthz", "/readyz", "/.well-known/jwks.json"] {
        let answer = {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
            s.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        };
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        assert!(body.is_empty(), "{path}: a HEAD answer has no body: {body}");
    }
}

fn token_call_from(address: &str, forwarded: &[&str]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    let mut head = String::from("POST /v1/agents/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for line in forwarded {
        head.push_str(&format!("X-Forwarded-For: {line}\r\n"));
    }
    head.push_str("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn behind_a_trusted_proxy_the_client_is_the_last_untrusted_hop_of_every_line() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = true;
        c.rate_token_per_min = 3;
    });
    // The client forges a first line; the proxy (loopback, trusted) appends
    // the address it saw as a line of its own, HAProxy style.
    for i in 0..3 {
        let forged = format!("203.0.113.{i}");
        assert_eq!(token_call_from(&app.address, &[&forged, "198.51.100.7"]), 400);
    }
    assert_eq!(token_call_from(&app.address, &["203.0.113.99", "198.51.100.7"]), 429, "forging cannot buy budget");
    // Another real client has its own budget; a trusted hop after it is skipped.
    assert_eq!(token_call_from(&app.address, &["198.51.100.8, 127.0.0.1"]), 400);
}

#[test]
fn a_method_a_route_does_not_answer_is_405_with_allow() {
    let app = TestApp::spawn();
    let mut c = app.client();
    let res = c.send("TRACE", "/v1/auth/whoami", &[], None);
    res.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
    let res = c.send("DELETE", "/v1/pats/some-id", &[], None);
    res.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(res.header("allow"), Some("GET, HEAD, PATCH"));
    // A route whose last segment is a pattern (`{path:.*}`).
    let res = c.send("TRACE", "/.well-known/oauth-authorization-server/tenant/a", &[], None);
    res.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
}
