//! The one middleware every route passes through: request id, early body
//! size check, security headers, the §4 shape for errors the framework
//! produces itself (404/405/413/415), and one log line per request.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use crate::error::AppError;
use crate::http::API_BODY_LIMIT;
use crate::http::bearer::{BodyDigest, SIGNATURE_HEADER};
use crate::state::AppState;
use crate::telemetry::RequestLog;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Marks a HEAD request routed as GET.
#[derive(Debug, Clone, Copy)]
pub struct SentAsHead;

/// How long a request body may take to arrive when nothing configured it.
const DEFAULT_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn harden(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Not a secret: a thread-local generator, no system call per request.
    let request_id = format!("{:016x}", rand::random::<u64>());
    // Lines logged while this request runs name its id (the one the client
    // sees in X-Request-Id and in an internal error's message). A task-local
    // rather than a tracing span: a span per request cost 2-4 µs of CPU in
    // the benchmark, 10-20 % of a whoami.
    crate::telemetry::REQUEST.scope(RequestLog::new(request_id.clone()), serve(req, next, request_id)).await
}

async fn serve(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    request_id: String,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    // The path only: a query string can carry a one-time code.
    let path = req.path().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let https = state.as_ref().is_some_and(|s| s.config.is_https());

    let declared_len =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let has_body = declared_len.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let body_deadline = state.as_ref().map_or(DEFAULT_BODY_DEADLINE, |s| s.config.body_deadline);
    let mut req = req;
    // HEAD is GET without the body (RFC 9110 §9.3.2): route it as GET; the
    // connection's codec, which saw the HEAD, leaves the body out. Load
    // balancers that probe /healthz with HEAD then see it up.
    if method == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
        // A signature covers the method as sent.
        req.extensions_mut().insert(SentAsHead);
    }
    // Forward-auth judges the headers of another request: a body some
    // proxy passes along is not read, limited or hashed.
    let over_cap = req.conn_data::<crate::http::connections::OverConnectionCap>().is_some();
    let mut res = if over_cap {
        // Too many connections from this address: answered before any body
        // is read, and closed.
        let mut res = AppError::RateLimited { retry_after_seconds: 5 }.error_response();
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        req.into_response(res)
    } else if path == "/v1/forward-auth" {
        next.call(req).await?.map_into_boxed_body()
    } else if declared_len.is_some_and(|n| n > API_BODY_LIMIT as u64) {
        req.into_response(AppError::PayloadTooLarge.error_response())
    } else if has_body || may_need_body_digest(&req) {
        // The whole body, within a deadline (a client that sends headers and
        // then trickles or stops holds nothing for long) and the size limit;
        // hashed for signed requests before anyone parses it; then handed on.
        match actix_web::rt::time::timeout(body_deadline, req.extract::<web::Bytes>()).await {
            Ok(Ok(bytes)) => {
                if may_need_body_digest(&req) {
                    req.extensions_mut().insert(BodyDigest(crate::crypto::sha256_hex(&bytes)));
                }
                req.set_payload(Payload::from(bytes));
                next.call(req).await?.map_into_boxed_body()
            }
            Ok(Err(_)) => req.into_response(AppError::PayloadTooLarge.error_response()),
            Err(_) => {
                let mut res = AppError::RequestTimeout.error_response();
                res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                req.into_response(res)
            }
        }
    } else {
        next.call(req).await?.map_into_boxed_body()
    };

    // Framework-made errors (unknown method, unreadable body …) come without
    // a body; give them the documented shape.
    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && !res.headers().contains_key(header::CONTENT_TYPE) {
        let replacement = match status {
            StatusCode::NOT_FOUND => Some(AppError::NotFound),
            StatusCode::METHOD_NOT_ALLOWED => Some(AppError::MethodNotAllowed),
            StatusCode::PAYLOAD_TOO_LARGE => Some(AppError::PayloadTooLarge),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Some(AppError::UnsupportedMediaType),
            StatusCode::BAD_REQUEST => Some(AppError::Validation("The request could not be read.".into())),
            _ => None,
        };
        if let Some(err) = replacement {
            let (http_req, _) = res.into_parts();
            res = ServiceResponse::new(http_req, err.error_response());
        }
    }

    let headers = res.headers_mut();
    let set = |headers: &mut actix_web::http::header::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(headers, HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    if https {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    if !path.starts_with("/static/") {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), v);
    }

    if let Some(state) = &state {
        state.metrics.observe(res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    tracing::info!(
        request_id = %request_id,
        credential = %crate::telemetry::credential_id(),
        method = %method,
        path = %path,
        status = res.status().as_u16(),
        latency_ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    Ok(res)
}

/// Signed requests, and any request with a JWT bearer (a key-bound one
/// without a signature still gets told the hash of the body we received).
fn may_need_body_digest(req: &ServiceRequest) -> bool {
    req.headers().contains_key(SIGNATURE_HEADER)
        || req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.get(..10).is_some_and(|p| p.eq_ignore_ascii_case("bearer eyj")))
}

/// Maps the JSON extractor's failures onto §4's codes.
pub fn json_error(err: JsonPayloadError) -> AppError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => AppError::PayloadTooLarge,
        JsonPayloadError::Payload(PayloadError::Overflow) => AppError::PayloadTooLarge,
        JsonPayloadError::ContentType => AppError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) if e.is_data() => AppError::Validation(format!("Bad field: {e}")),
        JsonPayloadError::Deserialize(e) => AppError::InvalidJson(e.to_string()),
        other => AppError::InvalidJson(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
    }

    fn deserialize(raw: &str) -> JsonPayloadError {
        JsonPayloadError::Deserialize(serde_json::from_str::<Body>(raw).unwrap_err())
    }

    /// Log lines into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn an_internal_errors_log_line_carries_the_request_id_the_client_sees() {
        use actix_web::{App, HttpResponse, middleware::from_fn, test};
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(from_fn(harden))
                .route("/boom", web::get().to(|| async { Err::<HttpResponse, _>(AppError::internal("disk on fire")) }))
                .route(
                    "/authenticated-boom",
                    web::get().to(|| async {
                        crate::telemetry::note_credential("pat-0123");
                        Err::<HttpResponse, _>(AppError::internal("pipe burst"))
                    }),
                ),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = logged.lines().find(|l| l.contains("disk on fire")).expect("the cause is logged");
        assert!(line.contains(&format!("request_id={id}")), "{line}");
        let access = logged.lines().find(|l| l.contains("status=500")).expect("the access line");
        assert!(access.contains(&format!("request_id={id}")), "{access}");
        assert!(access.contains("credential=-"), "no credential yet: {access}");

        // Once authentication knows the credential, every later line names it.
        let res = test::call_service(&app, test::TestRequest::get().uri("/authenticated-boom").to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = logged.lines().find(|l| l.contains("pipe burst")).expect("the cause is logged");
        assert!(line.contains("credential=pat-0123"), "{line}");
        let access = logged.lines().find(|l| l.contains("/authenticated-boom")).expect("the access line");
        assert!(access.contains("credential=pat-0123"), "{access}");
    }

    #[test]
    fn json_failures_map_onto_the_documented_codes() {
        assert_eq!(json_error(deserialize("{not json")).code(), "INVALID_JSON");
        let missing = json_error(deserialize("{}"));
        assert_eq!(missing.code(), "VALIDATION_FAILED");
        assert!(missing.user_message().contains("name"), "names the field");
        assert_eq!(json_error(deserialize(r#"{"name": 5}"#)).code(), "VALIDATION_FAILED");
        assert_eq!(json_error(JsonPayloadError::ContentType).code(), "UNSUPPORTED_MEDIA_TYPE");
        let overflow = JsonPayloadError::OverflowKnownLength { length: 70_000, limit: 65_536 };
        assert_eq!(json_error(overflow).status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
