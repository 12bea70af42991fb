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
    pub recovery: Option<Recovery>,
}

/// The machine-readable way out of an error (docs/API.md §4), as the
/// server sends it and a client reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recovery {
    Reauthenticate {
        cli_command: String,
        login_command: String,
    },
    EnableAgentSecurityMode {
        settings_url: String,
    },
    RetryLater {
        retry_after_seconds: u64,
    },
    RaisePatCap {
        settings_url: String,
        current_cap_usd: String,
        attempted_amount_usd: String,
        spent_today_usd: String,
        resets_at: String,
        window: crate::model::Window,
        spent_in_window_usd: String,
    },
    UseAgentPat {},
    StartSession {
        session_endpoint: String,
    },
    AwaitApproval {
        approval_id: String,
        poll_url: String,
        expires_at: String,
    },
    SignRequest {
        canonical_format: String,
        server_body_sha256: String,
        server_time: i64,
    },
    /// The agent is not active (documented; no refusal sends it today).
    EnrollAgent {
        agent_id: String,
    },
    /// A kind this version does not know: clients treat it as no recovery.
    #[serde(other)]
    Unknown,
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
