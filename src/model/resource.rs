//! A guarded service (a resource) and its access rules, as stored.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::model::ids::{ResourceId, WorkspaceId};
use crate::model::{CredentialKind, Scope};

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: ResourceId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// Normalised absolute URL.
    pub identifier: String,
    /// Lower-case `host[:port]` of the identifier (no default port).
    pub authority: String,
    pub scopes: Vec<String>,
    pub rules: Vec<Rule>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Starts at 1; every update adds one.
    pub version: i64,
}

/// One rule, as stored and shown. `credential_kinds: None` means any kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    pub methods: Vec<String>,
    pub path_prefix: String,
    pub credential_kinds: Option<Vec<CredentialKind>>,
    pub scope_types: Vec<Scope>,
    pub scopes: Vec<String>,
    pub require_signature: bool,
}

impl Rule {
    /// What a resource without rules means: any method, any path, agent
    /// credentials, no signature required.
    pub fn default_rule() -> Rule {
        Rule {
            methods: vec!["*".into()],
            path_prefix: "/".into(),
            credential_kinds: None,
            scope_types: vec![Scope::Agent],
            scopes: vec![],
            require_signature: false,
        }
    }

    /// The credential kinds it admits, comma-separated; `None` for any.
    pub fn credential_kinds_text(&self, sep: &str) -> Option<String> {
        self.credential_kinds.as_ref().map(|k| words(k, sep))
    }

    /// The scope types it admits.
    pub fn scope_types_text(&self, sep: &str) -> String {
        words(&self.scope_types, sep)
    }

    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(method))
    }
}

/// A rule as a client sends it; omitted fields take their documented
/// defaults (`methods` `["*"]`, `path_prefix` `/`, any credential kind,
/// `scope_types` `["agent"]`, no scopes, no signature).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub methods: Option<Vec<String>>,
    pub path_prefix: Option<String>,
    pub credential_kinds: Option<Vec<String>>,
    pub scope_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub require_signature: Option<bool>,
}

fn words<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(sep)
}
