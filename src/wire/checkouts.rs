//! Checkouts, budgets and approvals (docs/API.md §5.3, §5.9).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{ApprovalStatus, CheckoutStatus, OverLimit};

/// `POST /api/agent/checkout/create` and `/preview` (signed). Read as raw
/// JSON by the handler: the signature covers the exact bytes, and each
/// field is refused by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    #[schema(pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub amount_usd: String,
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub description: String,
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub reference: Option<String>,
}

/// A checkout as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Checkout<'a> {
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    pub status: CheckoutStatus,
    pub amount_usd: Option<String>,
    #[schema(value_type = String)]
    pub description: Cow<'a, str>,
    #[schema(value_type = Option<String>)]
    pub reference: Option<Cow<'a, str>>,
    #[schema(value_type = String)]
    pub agent_id: Cow<'a, str>,
    #[schema(value_type = Option<String>)]
    pub agent_name: Option<Cow<'a, str>>,
    #[schema(value_type = String)]
    pub pat_id: Cow<'a, str>,
    #[schema(value_type = Option<String>)]
    pub session_id: Option<Cow<'a, str>>,
    pub created_at: String,
    /// On the create answer: what the PAT has spent today, this included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_today_usd: Option<String>,
    /// On the create answer: the PAT's daily cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cap_usd: Option<String>,
}

/// A checkout that waits for a person, as hosts see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Approval {
    pub id: String,
    pub status: ApprovalStatus,
    pub amount_usd: Option<String>,
    pub description: String,
    pub reference: Option<String>,
    pub agent_id: String,
    pub pat_id: String,
    pub requested_at: String,
    pub expires_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    /// Once approved: the checkout it created.
    pub checkout_id: Option<String>,
}

/// 202 from a checkout that waits for a person (docs/API.md §5.9).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingApproval {
    /// Always `pending_approval`.
    pub status: String,
    pub approval_id: String,
    pub amount_usd: Option<String>,
    pub expires_at: String,
    pub poll_url: String,
    /// `{"kind": "await_approval", approval_id, poll_url, expires_at}`.
    #[schema(value_type = Object)]
    pub recovery: serde_json::Value,
}

/// One value per budget window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Windows<T> {
    pub day: T,
    pub week: T,
    pub month: T,
}

/// The answer to `POST /api/agent/checkout/preview`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preview {
    pub allowed: bool,
    pub needs_approval: bool,
    /// The limit that would refuse it: max_checkout, day, week or month.
    pub refused_by: Option<String>,
    pub remaining_usd: Windows<Option<String>>,
    pub resets_at: Windows<String>,
}

/// `GET /api/agent/budget`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Standing {
    pub pat_id: String,
    pub limits: Limits,
    pub spent_usd: Windows<Option<String>>,
    /// Null where the window has no cap.
    pub remaining_usd: Windows<Option<String>>,
    pub resets_at: Windows<String>,
}

/// Every limit an agent PAT carries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    pub daily_cap_usd: Option<String>,
    pub weekly_cap_usd: Option<String>,
    pub monthly_cap_usd: Option<String>,
    pub max_checkout_usd: Option<String>,
    pub over_limit: OverLimit,
    pub approval_above_usd: Option<String>,
}
