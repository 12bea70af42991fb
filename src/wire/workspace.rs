//! The rest of a workspace on the wire: members, certificates, resources,
//! OAuth grants and clients, the audit trail (docs/API.md §5.5–§5.8).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::resource::{Rule, RuleInput};
use crate::model::{CertificateStatus, Role};

/// A member of the workspace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: String,
}

/// `POST /v1/members`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Invite {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// member when left out.
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
}

/// The answer to `POST /v1/members`: the one-time link, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub email: String,
    pub role: Role,
    pub invitation_url: String,
    pub expires_at: String,
}

/// `PATCH /v1/members/{id}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeRole {
    #[schema(value_type = Role, required = true)]
    pub role: Option<String>,
}

/// `POST /v1/certificates`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateCertificate {
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub name: Option<String>,
}

/// A workspace certificate (camelCase by contract, docs/API.md §5.5).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Certificate {
    pub id: String,
    pub kid: String,
    pub name: String,
    /// Always RS256.
    #[schema(pattern = "^RS256$")]
    pub algorithm: String,
    #[serde(rename = "publicKey")]
    pub public_key: String,
    pub status: CertificateStatus,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// `POST /v1/certificates` only, once: the PKCS#8 PEM private key.
    #[serde(rename = "privateKey", default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// `GET /v1/certificates/public/{kid}` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk: Option<RsaJwk>,
}

/// An RS256 public key as a JWK.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RsaJwk {
    pub kty: String,
    pub n: String,
    pub e: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// `POST /v1/resources`. Unknown members are refused.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResource {
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub name: String,
    /// The service's absolute http(s) URL.
    #[schema(format = "uri", pattern = "^https?://[^/?#\\s]+")]
    pub identifier: String,
    pub scopes: Option<Vec<String>>,
    pub rules: Option<Vec<RuleInput>>,
}

/// `PATCH /v1/resources/{id}`: what is present changes. Unknown members
/// are refused.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateResource {
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub name: Option<String>,
    #[schema(format = "uri", pattern = "^https?://[^/?#\\s]+")]
    pub identifier: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub rules: Option<Vec<RuleInput>>,
}

/// A guarded service (docs/API.md §5.7).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Resource {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub identifier: String,
    pub scopes: Vec<String>,
    pub rules: Vec<Rule>,
    pub metadata_url: String,
    pub created_at: String,
    pub updated_at: String,
}

/// RFC 9728 protected-resource metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub bearer_methods_supported: Vec<String>,
    pub resource_name: String,
}

/// A grant a host approved for an OAuth client.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub agent_id: String,
    pub resource_id: String,
    pub scope: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// `POST /oauth/register` (RFC 7591). The handler reads the body as JSON
/// so that it can name a mistyped member and echo the ones it keeps; this
/// type is its documented shape. A member sent as null is left out.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientRegistration {
    #[schema(min_items = 1, max_items = 10)]
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    /// private_key_jwt (with jwks); anything else registers a public
    /// client (none) with PKCE.
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
}

/// The answer to `POST /oauth/register`: at least `client_id`, with the
/// registered metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisteredClient {
    pub client_id: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// One audit event (docs/API.md §5.6).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub created_at: String,
    pub last_at: String,
    pub repeat_count: i64,
    pub kind: String,
    pub outcome: crate::model::Outcome,
    pub reason: Option<String>,
    pub actor: AuditActor,
    pub target: Option<AuditTarget>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditActor {
    /// user, agent, anonymous or system.
    pub kind: String,
    pub id: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditTarget {
    pub kind: String,
    pub id: Option<String>,
}
