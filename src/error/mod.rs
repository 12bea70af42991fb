//! One error type for the API (docs/API.md §4's JSON body) and one for
//! dashboard pages (a friendly HTML page). Internal causes are logged and
//! never reach a response body.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

mod html;
pub use html::HtmlError;

pub use crate::wire::Recovery;

/// The fields of `raise_pat_cap` (decimal strings, RFC 3339 time).
#[derive(Debug, Clone, PartialEq)]
pub struct CapDetails {
    pub settings_url: String,
    pub current_cap_usd: String,
    pub attempted_amount_usd: String,
    pub spent_today_usd: String,
    pub resets_at: String,
    /// The window that refused.
    pub window: crate::model::Window,
    pub spent_in_window_usd: String,
}

/// What the server saw of a request, so an agent can find its own
/// canonicalisation or clock mistake (nothing secret in it).
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureContext {
    pub server_body_sha256: String,
    pub server_time: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFailure {
    Required,
    Invalid,
    TimestampSkew,
    Replayed,
}

/// Every failure an API route can answer with.
#[derive(Debug, Clone)]
pub enum AppError {
    /// 400 INVALID_JSON: the body is not JSON (or not the JSON we can read).
    InvalidJson(String),
    /// 400 VALIDATION_FAILED: a field is missing or bad; the message names it.
    Validation(String),
    AuthRequired,
    /// 401: not a token we issued (bad shape, bad checksum, unknown).
    AuthUnknownToken,
    AuthTokenExpired,
    AuthTokenRevoked,
    /// 403: the credential's agent is disabled.
    AgentDisabled,
    /// 409: an action that needs an agent that is not disabled.
    AgentDisabledConflict,
    /// 403 AUTH_SCOPE: the credential's scope type (or the user's role) does
    /// not allow this.
    Scope(String),
    /// 403 AUTH_AUDIENCE: the PAT's audience does not allow this use.
    Audience(String),
    NotFound,
    MethodNotAllowed,
    Conflict(String),
    PayloadTooLarge,
    /// 408: the body did not arrive within the body deadline.
    RequestTimeout,
    UnsupportedMediaType,
    RateLimited {
        retry_after_seconds: u64,
    },
    AgentSecurityModeOff {
        settings_url: String,
    },
    /// 400 INVALID_AMOUNT.
    InvalidAmount(String),
    /// 400 INVALID_PUBLIC_KEY.
    InvalidPublicKey(String),
    /// 403: a host or service PAT where an agent PAT is required.
    UseAgentPat,
    /// 403: a PAT or unbound token on a signed route.
    SessionRequired,
    /// 401 SIGNATURE_*.
    Signature(SignatureFailure, SignatureContext),
    /// 401: a JWT of a revoked or deleted certificate.
    CertificateRevoked,
    /// 403: a management credential where a user is required.
    DelegationRequired,
    /// 401: invalid, expired or used bootstrap secret.
    BootstrapSecretInvalid,
    /// 401 ASSERTION_INVALID (`invalid_client`); the reason goes to the audit trail only.
    AssertionInvalid,
    /// 400 INVALID_REQUEST (`invalid_request`) at the token endpoint.
    OAuthInvalidRequest(String),
    /// 400 UNSUPPORTED_GRANT_TYPE at the token endpoint.
    UnsupportedGrantType,
    /// 400 INVALID_GRANT (`invalid_grant`): a bad, expired or reused code or
    /// refresh token, or a wrong `code_verifier`.
    InvalidGrant(String),
    /// 400 INVALID_TARGET (`invalid_target`): a missing or unknown `resource`.
    InvalidTarget(String),
    /// 401 INVALID_CLIENT (`invalid_client`): unknown client or failed
    /// client authentication.
    InvalidClient(String),
    /// 409: the same Idempotency-Key with another body.
    IdempotencyMismatch,
    /// 429 with `raise_pat_cap`.
    SpendCapExceeded(Box<CapDetails>),
    /// 403: a person denied the checkout.
    ApprovalDenied,
    /// 410: nobody decided in time.
    ApprovalExpired,
    /// 400 AMOUNT_OVER_LIMIT: above the PAT's per-checkout maximum.
    AmountOverLimit {
        limit_usd: String,
    },
    /// Something broke on our side; the cause is logged, not shown.
    Internal(String),
    /// The database cannot be reached (PostgreSQL down or restarting); the
    /// cause is logged.
    Unavailable(String),
}

/// What a client waits before trying again while the database is away.
const UNAVAILABLE_RETRY_SECONDS: u64 = 5;

impl AppError {
    pub fn internal(cause: impl fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidJson(_)
            | AppError::Validation(_)
            | AppError::InvalidAmount(_)
            | AppError::InvalidPublicKey(_)
            | AppError::AmountOverLimit { .. } => StatusCode::BAD_REQUEST,
            AppError::Signature(..) | AppError::BootstrapSecretInvalid | AppError::AssertionInvalid => {
                StatusCode::UNAUTHORIZED
            }
            AppError::OAuthInvalidRequest(_)
            | AppError::UnsupportedGrantType
            | AppError::InvalidGrant(_)
            | AppError::InvalidTarget(_) => StatusCode::BAD_REQUEST,
            AppError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            AppError::UseAgentPat | AppError::SessionRequired => StatusCode::FORBIDDEN,
            AppError::IdempotencyMismatch => StatusCode::CONFLICT,
            AppError::SpendCapExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::AuthRequired
            | AppError::AuthUnknownToken
            | AppError::AuthTokenExpired
            | AppError::AuthTokenRevoked
            | AppError::CertificateRevoked => StatusCode::UNAUTHORIZED,
            AppError::DelegationRequired => StatusCode::FORBIDDEN,
            AppError::AgentSecurityModeOff { .. }
            | AppError::AgentDisabled
            | AppError::Scope(_)
            | AppError::Audience(_) => StatusCode::FORBIDDEN,
            AppError::AgentDisabledConflict => StatusCode::CONFLICT,
            AppError::ApprovalDenied => StatusCode::FORBIDDEN,
            AppError::ApprovalExpired => StatusCode::GONE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidJson(_) => "INVALID_JSON",
            AppError::Validation(_) => "VALIDATION_FAILED",
            AppError::AuthRequired => "AUTH_REQUIRED",
            AppError::InvalidAmount(_) => "INVALID_AMOUNT",
            AppError::InvalidPublicKey(_) => "INVALID_PUBLIC_KEY",
            AppError::UseAgentPat => "USE_AGENT_PAT",
            AppError::SessionRequired => "SESSION_REQUIRED",
            AppError::Signature(SignatureFailure::Required, _) => "SIGNATURE_REQUIRED",
            AppError::Signature(SignatureFailure::Invalid, _) => "SIGNATURE_INVALID",
            AppError::Signature(SignatureFailure::TimestampSkew, _) => "SIGNATURE_TIMESTAMP_SKEW",
            AppError::Signature(SignatureFailure::Replayed, _) => "SIGNATURE_REPLAYED",
            AppError::IdempotencyMismatch => "IDEMPOTENCY_MISMATCH",
            AppError::BootstrapSecretInvalid => "BOOTSTRAP_SECRET_INVALID",
            AppError::CertificateRevoked => "CERTIFICATE_REVOKED",
            AppError::DelegationRequired => "DELEGATION_REQUIRED",
            AppError::AssertionInvalid => "ASSERTION_INVALID",
            AppError::OAuthInvalidRequest(_) => "INVALID_REQUEST",
            AppError::UnsupportedGrantType => "UNSUPPORTED_GRANT_TYPE",
            AppError::InvalidGrant(_) => "INVALID_GRANT",
            AppError::InvalidTarget(_) => "INVALID_TARGET",
            AppError::InvalidClient(_) => "INVALID_CLIENT",
            AppError::SpendCapExceeded(_) => "SPEND_CAP_EXCEEDED",
            AppError::AmountOverLimit { .. } => "AMOUNT_OVER_LIMIT",
            AppError::ApprovalDenied => "APPROVAL_DENIED",
            AppError::ApprovalExpired => "APPROVAL_EXPIRED",
            AppError::AuthUnknownToken => "AUTH_UNKNOWN_TOKEN",
            AppError::AuthTokenExpired => "AUTH_TOKEN_EXPIRED",
            AppError::AuthTokenRevoked => "AUTH_TOKEN_REVOKED",
            AppError::AgentDisabled | AppError::AgentDisabledConflict => "AGENT_DISABLED",
            AppError::Scope(_) => "AUTH_SCOPE",
            AppError::Audience(_) => "AUTH_AUDIENCE",
            AppError::AgentSecurityModeOff { .. } => "AGENT_SECURITY_MODE_OFF",
            AppError::NotFound => "NOT_FOUND",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::Conflict(_) => "CONFLICT",
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::RequestTimeout => "REQUEST_TIMEOUT",
            AppError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Internal(_) => "INTERNAL_ERROR",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
        }
    }

    /// A message safe to show to the caller: it never carries a secret or an
    /// internal cause.
    pub fn user_message(&self) -> Cow<'static, str> {
        match self {
            AppError::InvalidJson(m) => format!("The request body is not valid JSON: {m}").into(),
            AppError::Validation(m) | AppError::Conflict(m) | AppError::Scope(m) | AppError::Audience(m) => {
                m.clone().into()
            }
            AppError::AuthUnknownToken => "This token is not one Latchkey issued (or it was mistyped).".into(),
            AppError::InvalidAmount(m) | AppError::InvalidPublicKey(m) => m.clone().into(),
            AppError::UseAgentPat => "This needs an agent PAT; a host or service PAT cannot start agent sessions.".into(),
            AppError::SessionRequired => {
                "This route moves money: start a key-bound session at /api/agent/auth/pat and sign each request.".into()
            }
            AppError::Signature(SignatureFailure::Required, _) => {
                "A session token needs X-Agent-Timestamp and X-Agent-Signature on every request.".into()
            }
            AppError::Signature(SignatureFailure::Invalid, _) => {
                "The request signature does not verify with the session's key.".into()
            }
            AppError::Signature(SignatureFailure::TimestampSkew, _) => {
                "X-Agent-Timestamp is too far from the server's clock.".into()
            }
            AppError::Signature(SignatureFailure::Replayed, _) => {
                "This exact signed request was already used; sign each request afresh.".into()
            }
            AppError::BootstrapSecretInvalid => {
                "This bootstrap secret is invalid, expired or already used; ask the host for a new one.".into()
            }
            AppError::AssertionInvalid => "The client assertion was rejected.".into(),
            AppError::CertificateRevoked => "The certificate that signed this token has been revoked or deleted.".into(),
            AppError::DelegationRequired => {
                "This needs a user: sign a delegated JWT with the user's email instead of a management JWT.".into()
            }
            AppError::OAuthInvalidRequest(m)
            | AppError::InvalidGrant(m)
            | AppError::InvalidTarget(m)
            | AppError::InvalidClient(m) => m.clone().into(),
            AppError::UnsupportedGrantType => {
                "grant_type must be authorization_code, refresh_token, client_credentials or client_assertion.".into()
            }
            AppError::IdempotencyMismatch => {
                "This Idempotency-Key was already used with a different request body.".into()
            }
            AppError::SpendCapExceeded(d) => {
                let (window, spent) = match d.window {
                    crate::model::Window::Day => ("today's", "today"),
                    crate::model::Window::Week => ("this week's", "this week"),
                    crate::model::Window::Month => ("this month's", "this month"),
                };
                format!(
                    "This checkout (${}) would take {window} spend past this token's cap: ${} of ${} spent {spent}.",
                    d.attempted_amount_usd, d.spent_in_window_usd, d.current_cap_usd
                )
                .into()
            }
            AppError::ApprovalDenied => "A person denied this checkout.".into(),
            AppError::ApprovalExpired => {
                "Nobody decided on this checkout in time; ask again with a new request if it is still needed.".into()
            }
            AppError::AmountOverLimit { limit_usd } => {
                format!("This checkout is above this token's per-checkout maximum (${limit_usd}).").into()
            }
            AppError::AuthTokenExpired => "This token has expired; get a new one.".into(),
            AppError::AuthTokenRevoked => "This token has been revoked; get a new one.".into(),
            AppError::AgentDisabled => "The agent this credential belongs to is disabled.".into(),
            AppError::AgentDisabledConflict => "This agent is disabled; enable it first.".into(),
            AppError::AuthRequired => "This route needs a credential: send `Authorization: Bearer <token>`.".into(),
            AppError::AgentSecurityModeOff { .. } => {
                "Agent Security Mode is off for this workspace, so no agent credential works. A host can turn it on in Settings.".into()
            }
            AppError::NotFound => "Nothing here: the route or resource does not exist.".into(),
            AppError::MethodNotAllowed => "This route does not accept that HTTP method.".into(),
            AppError::PayloadTooLarge => "The request body is larger than this route accepts.".into(),
            AppError::RequestTimeout => "The request body did not arrive in time; send it again.".into(),
            AppError::UnsupportedMediaType => "Send the body as `Content-Type: application/json`.".into(),
            AppError::RateLimited { retry_after_seconds } => {
                format!("Too many requests; try again in {retry_after_seconds} seconds.").into()
            }
            AppError::Internal(_) => {
                "Something went wrong on the server. The server log has the details under this response's X-Request-Id.".into()
            }
            AppError::Unavailable(_) => {
                format!("The database cannot be reached right now; try again in {UNAVAILABLE_RETRY_SECONDS} seconds.").into()
            }
        }
    }

    pub fn recovery(&self) -> Option<Recovery> {
        match self {
            AppError::AuthRequired
            | AppError::AuthUnknownToken
            | AppError::AuthTokenExpired
            | AppError::AuthTokenRevoked
            | AppError::CertificateRevoked => Some(Recovery::Reauthenticate {
                cli_command: "latchkey auth whoami".into(),
                login_command: "latchkey login --url <LATCHKEY_URL>".into(),
            }),
            AppError::AgentSecurityModeOff { settings_url } => {
                Some(Recovery::EnableAgentSecurityMode { settings_url: settings_url.clone() })
            }
            AppError::UseAgentPat => Some(Recovery::UseAgentPat {}),
            AppError::SessionRequired => {
                Some(Recovery::StartSession { session_endpoint: "/api/agent/auth/pat".into() })
            }
            AppError::Signature(_, ctx) => Some(Recovery::SignRequest {
                canonical_format: "METHOD\nPATH\nTIMESTAMP\nSHA256_HEX_OF_RAW_BODY".into(),
                server_body_sha256: ctx.server_body_sha256.clone(),
                server_time: ctx.server_time,
            }),
            AppError::SpendCapExceeded(d) => Some(Recovery::RaisePatCap {
                settings_url: d.settings_url.clone(),
                current_cap_usd: d.current_cap_usd.clone(),
                attempted_amount_usd: d.attempted_amount_usd.clone(),
                spent_today_usd: d.spent_today_usd.clone(),
                resets_at: d.resets_at.clone(),
                window: d.window,
                spent_in_window_usd: d.spent_in_window_usd.clone(),
            }),
            AppError::RateLimited { retry_after_seconds } => {
                Some(Recovery::RetryLater { retry_after_seconds: *retry_after_seconds })
            }
            AppError::Unavailable(_) => Some(Recovery::RetryLater { retry_after_seconds: UNAVAILABLE_RETRY_SECONDS }),
            // Listed, not a wildcard: a new variant must be thought about.
            AppError::InvalidJson(_)
            | AppError::Validation(_)
            | AppError::AgentDisabled
            | AppError::AgentDisabledConflict
            | AppError::Scope(_)
            | AppError::Audience(_)
            | AppError::NotFound
            | AppError::MethodNotAllowed
            | AppError::Conflict(_)
            | AppError::PayloadTooLarge
            | AppError::RequestTimeout
            | AppError::UnsupportedMediaType
            | AppError::InvalidAmount(_)
            | AppError::InvalidPublicKey(_)
            | AppError::DelegationRequired
            | AppError::BootstrapSecretInvalid
            | AppError::AssertionInvalid
            | AppError::OAuthInvalidRequest(_)
            | AppError::UnsupportedGrantType
            | AppError::InvalidGrant(_)
            | AppError::InvalidTarget(_)
            | AppError::InvalidClient(_)
            | AppError::IdempotencyMismatch
            | AppError::ApprovalDenied
            | AppError::ApprovalExpired
            | AppError::AmountOverLimit { .. }
            | AppError::Internal(_) => None,
        }
    }

    /// The §4 JSON body (plus RFC 6749 `error` on the token endpoint).
    pub fn body(&self) -> ErrorBody {
        let oauth = match self {
            AppError::AssertionInvalid => Some("invalid_client"),
            AppError::OAuthInvalidRequest(_) => Some("invalid_request"),
            AppError::UnsupportedGrantType => Some("unsupported_grant_type"),
            AppError::InvalidGrant(_) => Some("invalid_grant"),
            AppError::InvalidTarget(_) => Some("invalid_target"),
            AppError::InvalidClient(_) => Some("invalid_client"),
            // Listed, not a wildcard: a new OAuth refusal needs its RFC 6749 code.
            AppError::InvalidJson(_)
            | AppError::Validation(_)
            | AppError::AuthRequired
            | AppError::AuthUnknownToken
            | AppError::AuthTokenExpired
            | AppError::AuthTokenRevoked
            | AppError::AgentDisabled
            | AppError::AgentDisabledConflict
            | AppError::Scope(_)
            | AppError::Audience(_)
            | AppError::NotFound
            | AppError::MethodNotAllowed
            | AppError::Conflict(_)
            | AppError::PayloadTooLarge
            | AppError::RequestTimeout
            | AppError::UnsupportedMediaType
            | AppError::RateLimited { .. }
            | AppError::AgentSecurityModeOff { .. }
            | AppError::InvalidAmount(_)
            | AppError::InvalidPublicKey(_)
            | AppError::UseAgentPat
            | AppError::SessionRequired
            | AppError::Signature(..)
            | AppError::CertificateRevoked
            | AppError::DelegationRequired
            | AppError::BootstrapSecretInvalid
            | AppError::IdempotencyMismatch
            | AppError::SpendCapExceeded(_)
            | AppError::ApprovalDenied
            | AppError::ApprovalExpired
            | AppError::AmountOverLimit { .. }
            | AppError::Internal(_)
            | AppError::Unavailable(_) => None,
        };
        ErrorBody {
            error_code: self.code(),
            user_message: self.user_message(),
            recovery: self.recovery(),
            error: oauth,
            error_description: oauth.map(|_| self.user_message()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error_code: &'static str,
    pub user_message: Cow<'static, str>,
    pub recovery: Option<Recovery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<Cow<'static, str>>,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Internal(cause) => write!(f, "internal error: {cause}"),
            other => write!(f, "{}: {}", other.code(), other.user_message()),
        }
    }
}

impl std::error::Error for AppError {}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(cause) => {
                tracing::error!(
                    request_id = %crate::telemetry::request_id(),
                    credential = %crate::telemetry::credential_id(),
                    %cause,
                    "request failed"
                )
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(
                    request_id = %crate::telemetry::request_id(),
                    credential = %crate::telemetry::credential_id(),
                    %cause,
                    "database unavailable"
                )
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status());
        match self {
            AppError::RateLimited { retry_after_seconds } => {
                res.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            AppError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_SECONDS.to_string()));
            }
            _ => {}
        }
        res.json(self.body())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_serialises_with_its_kind_tag() {
        let body = AppError::RateLimited { retry_after_seconds: 7 }.body();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["error_code"], "RATE_LIMITED");
        assert_eq!(json["recovery"]["kind"], "retry_later");
        assert_eq!(json["recovery"]["retry_after_seconds"], 7);
    }

    #[test]
    fn internal_causes_never_reach_the_body() {
        let body = AppError::internal("disk I/O error at /secret/path").body();
        let json = serde_json::to_string(&body).unwrap();
        assert!(!json.contains("/secret/path"));
        assert!(json.contains("INTERNAL_ERROR"));
        assert!(json.contains("\"recovery\":null"));
    }
}
