//! Personal access tokens and their budgets (docs/API.md §5.2, §5.9).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Audience, OverLimit, PatStatus, Scope};

/// A money limit in a request: a decimal string, or null to remove it.
/// Read as raw JSON so that a number (`5.5`) is refused by name rather
/// than rounded.
pub type UsdField = Option<serde_json::Value>;

/// A member that was sent, even as null (which plain `Option` would read
/// as left out).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The limits an agent PAT may carry (docs/API.md §5.9), each optional.
/// Absent leaves a limit as it is; null removes it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct BudgetFields {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub max_checkout_usd: UsdField,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub weekly_cap_usd: UsdField,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub monthly_cap_usd: UsdField,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub approval_above_usd: UsdField,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<OverLimit>)]
    pub over_limit: Option<serde_json::Value>,
}

impl BudgetFields {
    pub fn is_empty(&self) -> bool {
        self.max_checkout_usd.is_none()
            && self.weekly_cap_usd.is_none()
            && self.monthly_cap_usd.is_none()
            && self.approval_above_usd.is_none()
            && self.over_limit.is_none()
    }
}

/// `POST /v1/pats`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MintPat {
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub name: String,
    #[schema(value_type = Scope)]
    pub scope_type: String,
    /// both when left out.
    #[schema(value_type = Option<Audience>)]
    pub audience: Option<String>,
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// With agent_name: create the agent if the workspace has none of that name.
    #[serde(default)]
    pub create_agent: bool,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub daily_cap_usd: UsdField,
    #[serde(flatten)]
    pub budget: BudgetFields,
}

/// `PATCH /v1/pats/{id}`: what is present changes.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdatePat {
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub name: Option<String>,
    /// An agent PAT always has a daily cap: null leaves it as it is.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,7}(\\.[0-9]{1,2})?$")]
    pub daily_cap_usd: UsdField,
    #[serde(flatten)]
    pub budget: BudgetFields,
}

/// A PAT as the API shows it: never its secret, except once in [`MintedPat`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Pat {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    pub user_id: Option<String>,
    pub scope_type: Scope,
    pub audience: Audience,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// The token's last four characters.
    pub token_hint: String,
    pub daily_cap_usd: Option<String>,
    pub status: PatStatus,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Agent PATs only.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Budget)]
    pub budget: Option<Budget>,
}

/// An agent PAT's limits beyond the daily cap (docs/API.md §5.9); a
/// host or service PAT shows none of them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Budget {
    pub max_checkout_usd: Option<String>,
    pub weekly_cap_usd: Option<String>,
    pub monthly_cap_usd: Option<String>,
    #[schema(required = false)]
    pub over_limit: OverLimit,
    pub approval_above_usd: Option<String>,
}

/// `POST /v1/pats`: the PAT and, this once, its token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MintedPat {
    #[serde(flatten)]
    pub pat: Pat,
    #[schema(pattern = "^lk_pat_")]
    pub token: String,
}
