//! What the JSON API sends and takes: one serde type per body, used by the
//! handlers (`http::api`), the CLI client and the integration tests, and
//! the source of `/openapi.json`'s schemas (utoipa). It imports only
//! `model`; handlers turn their rows into these types.
//!
//! Times are RFC 3339 strings and money is a decimal string of US dollars
//! ("10.00"), as docs/API.md §4.1 says.

pub mod agents;
pub mod checkouts;
pub mod pats;
pub mod tokens;
pub mod workspace;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A page of a list (docs/API.md §4.1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// docs/API.md §4's error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error_code: String,
    pub user_message: String,
    /// What to do next: `kind` is one of reauthenticate, raise_pat_cap
    /// (with window, spent_in_window_usd, resets_at),
    /// enable_agent_security_mode, enroll_agent, use_agent_pat,
    /// start_session, retry_later, sign_request, await_approval.
    #[schema(value_type = Option<Object>)]
    pub recovery: Option<serde_json::Value>,
}

impl ErrorBody {
    /// A field of `recovery`, as text.
    pub fn recovery_field(&self, name: &str) -> Option<&str> {
        self.recovery.as_ref()?.get(name)?.as_str()
    }
}

/// `{"status": …}` from `/healthz` and `/readyz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health<'a> {
    pub status: &'a str,
}

/// An id and whether it is now revoked (`/v1/oauth/grants/{id}/revoke`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    pub id: String,
    pub revoked: bool,
}
