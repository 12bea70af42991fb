//! Errors on dashboard pages: the friendly page each [`AppError`] becomes,
//! or a redirect to the login.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::AppError;

/// Errors on dashboard pages: a friendly page, or a redirect to the login.
#[derive(Debug)]
pub enum HtmlError {
    LoginRequired,
    NotFound,
    /// The form's CSRF token was missing or wrong.
    Forbidden(String),
    BadRequest(String),
    RateLimited {
        retry_after_seconds: u64,
    },
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl HtmlError {
    fn status(&self) -> StatusCode {
        match self {
            HtmlError::LoginRequired => StatusCode::SEE_OTHER,
            HtmlError::NotFound => StatusCode::NOT_FOUND,
            HtmlError::Forbidden(_) => StatusCode::FORBIDDEN,
            HtmlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HtmlError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            HtmlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for HtmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for HtmlError {}

impl ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message): (&str, Cow<str>) = match self {
            HtmlError::LoginRequired => {
                return HttpResponse::SeeOther().insert_header((header::LOCATION, "/login")).finish();
            }
            HtmlError::NotFound => ("Not found", "There is no page at this address.".into()),
            HtmlError::Forbidden(m) => ("Not allowed", m.as_str().into()),
            HtmlError::BadRequest(m) => ("That did not work", m.as_str().into()),
            HtmlError::RateLimited { retry_after_seconds } => (
                "Slow down",
                format!("Too many attempts from your address. Try again in {retry_after_seconds} seconds.").into(),
            ),
            HtmlError::Internal(cause) => {
                tracing::error!(request_id = %crate::telemetry::request_id(), %cause, "page failed");
                (
                    "Something went wrong",
                    "The server could not finish this page. The server log has the details under this response's X-Request-Id."
                        .into(),
                )
            }
        };
        let html = ErrorPage { title, message: &message }
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_string());
        let mut res = HttpResponse::build(self.status());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")));
        if let HtmlError::RateLimited { retry_after_seconds } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
        }
        res.body(html)
    }
}

impl From<AppError> for HtmlError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => HtmlError::NotFound,
            AppError::Validation(m) | AppError::Conflict(m) | AppError::InvalidJson(m) => HtmlError::BadRequest(m),
            AppError::RateLimited { retry_after_seconds } => HtmlError::RateLimited { retry_after_seconds },
            AppError::AuthRequired => HtmlError::LoginRequired,
            AppError::Scope(m) | AppError::Audience(m) => HtmlError::Forbidden(m),
            AppError::Internal(cause) | AppError::Unavailable(cause) => HtmlError::Internal(cause),
            // The rest read as a mistake to correct, in the error's own words.
            // Listed, not a wildcard: a new variant must be thought about.
            other @ (AppError::AuthUnknownToken
            | AppError::AuthTokenExpired
            | AppError::AuthTokenRevoked
            | AppError::AgentDisabled
            | AppError::AgentDisabledConflict
            | AppError::MethodNotAllowed
            | AppError::PayloadTooLarge
            | AppError::RequestTimeout
            | AppError::UnsupportedMediaType
            | AppError::AgentSecurityModeOff { .. }
            | AppError::InvalidAmount(_)
            | AppError::InvalidPublicKey(_)
            | AppError::UseAgentPat
            | AppError::SessionRequired
            | AppError::Signature(..)
            | AppError::CertificateRevoked
            | AppError::DelegationRequired
            | AppError::BootstrapSecretInvalid
            | AppError::AssertionInvalid
            | AppError::OAuthInvalidRequest(_)
            | AppError::UnsupportedGrantType
            | AppError::InvalidGrant(_)
            | AppError::InvalidTarget(_)
            | AppError::InvalidClient(_)
            | AppError::IdempotencyMismatch
            | AppError::SpendCapExceeded(_)
            | AppError::ApprovalDenied
            | AppError::ApprovalExpired
            | AppError::AmountOverLimit { .. }) => HtmlError::BadRequest(other.user_message().into_owned()),
        }
    }
}

impl From<askama::Error> for HtmlError {
    fn from(e: askama::Error) -> Self {
        HtmlError::Internal(format!("template: {e}"))
    }
}
