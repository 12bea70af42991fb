//! JSON API routes, one file per resource.

pub mod agents;
pub mod approvals;
pub mod audit;
pub mod certificates;
pub mod checkouts;
pub mod enrollment;
pub mod forward_auth;
pub mod identity;
pub mod introspect;
pub mod members;
pub mod oauth;
pub mod openapi;
pub mod pats;
pub mod resources;
pub mod revoke;
pub mod routes;
pub mod sessions;
pub mod well_known;

use serde::Deserialize;

use crate::domain::audit::Actor;
use crate::domain::principal::Principal;
use crate::error::AppError;

/// `?limit=&before=` (docs/API.md §4.1).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub before: Option<String>,
}

impl ListQuery {
    /// Default 50, at most 200; nothing is clamped silently.
    pub fn limit(&self) -> Result<u32, AppError> {
        match self.limit {
            None => Ok(50),
            Some(n @ 1..=200) => Ok(n),
            Some(_) => Err(AppError::Validation("limit: a whole number from 1 to 200.".into())),
        }
    }
}

/// The audit actor for an API caller.
pub fn actor_of(p: &Principal) -> Actor {
    match (&p.agent, &p.user) {
        (Some(a), _) => Actor::Agent { id: a.id.clone(), name: a.name.clone() },
        (None, Some(u)) => Actor::User { id: u.id.clone(), email: u.email.clone() },
        (None, None) => Actor::Anonymous,
    }
}

/// Parses a JSON body with §4's codes (for handlers that read raw bytes).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() { AppError::Validation(format!("Bad field: {e}")) } else { AppError::InvalidJson(e.to_string()) }
    })
}

/// Whether the body is `application/x-www-form-urlencoded` (the OAuth
/// endpoints take forms as well as JSON).
pub fn is_form(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// The `token` parameter of RFC 7662/7009 requests, from a form or JSON.
pub fn token_param(req: &actix_web::HttpRequest, body: &[u8]) -> Result<String, AppError> {
    let required = || AppError::Validation("token: required.".into());
    let parsed: TokenParam =
        if is_form(req) { serde_urlencoded::from_bytes(body).map_err(|_| required())? } else { parse_json(body)? };
    parsed.token.filter(|t| !t.is_empty()).ok_or_else(required)
}
