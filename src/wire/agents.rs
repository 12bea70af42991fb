//! Agents and their enrollment (docs/API.md §5.4).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::AgentStatus;

/// `POST /v1/agents`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateAgent {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    #[schema(max_length = 500, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub description: Option<String>,
}

/// An agent as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    pub status: AgentStatus,
    pub enrolled_at: Option<String>,
    pub key_thumbprint: Option<String>,
    /// `agent`, or `oauth_client` for a client a host approved.
    pub kind: crate::model::AgentKind,
    pub created_at: String,
    pub updated_at: String,
}

/// A one-time bootstrap secret: `POST /v1/agents/{id}/bootstrap-secret`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BootstrapSecret {
    #[schema(pattern = "^lk_bs_")]
    pub bootstrap_secret: String,
    pub bootstrap_secret_expires_at: String,
}

/// `POST /v1/agents`: the agent and, this once, its bootstrap secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedAgent {
    #[serde(flatten)]
    pub agent: Agent,
    #[serde(flatten)]
    pub secret: BootstrapSecret,
}

/// A P-256 public key as a JWK.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EcJwk {
    #[schema(pattern = "^EC$")]
    pub kty: String,
    #[schema(pattern = "^P-256$")]
    pub crv: String,
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub x: String,
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub y: String,
}

/// `POST /v1/agents/bootstrap` (camelCase by contract). Both members are
/// required; a missing one is refused naming it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Bootstrap {
    #[serde(rename = "bootstrapSecret")]
    #[schema(value_type = String, required = true)]
    pub bootstrap_secret: Option<String>,
    /// Read as raw JSON so that a bad key gets `INVALID_PUBLIC_KEY`.
    #[serde(rename = "publicKey")]
    #[schema(value_type = EcJwk, required = true)]
    pub public_key: Option<serde_json::Value>,
}

/// The answer to `POST /v1/agents/bootstrap`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Enrolled {
    #[serde(rename = "agentId")]
    pub agent_id: String,
    pub name: String,
    pub status: AgentStatus,
    #[serde(rename = "workspaceId")]
    pub workspace_id: String,
    #[serde(rename = "keyThumbprint")]
    pub key_thumbprint: String,
}
