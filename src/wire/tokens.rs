//! Credentials on the wire: token requests and answers, sessions, whoami
//! and introspection (docs/API.md §5.1, §5.3, §5.4, §5.6, §5.10).
//!
//! The hot answers borrow (`Cow`) so that serving them copies nothing;
//! a client reading them gets owned strings.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Audience, Role, Scope};

/// A bearer token answer (RFC 6749 §5.1): `/v1/agents/token`,
/// `/v1/auth/exchange` (with `kind`) and `/oauth/token` (with
/// `refresh_token` and `scope`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BearerToken<'a> {
    #[schema(value_type = String)]
    pub access_token: Cow<'a, str>,
    #[schema(value_type = String, pattern = "^Bearer$")]
    pub token_type: Cow<'a, str>,
    pub expires_in: i64,
    /// `/v1/auth/exchange`: user_admin, agent or service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Cow<'a, str>>,
}

impl<'a> BearerToken<'a> {
    pub fn new(access_token: impl Into<Cow<'a, str>>, expires_in: i64) -> BearerToken<'a> {
        BearerToken {
            access_token: access_token.into(),
            token_type: Cow::Borrowed("Bearer"),
            expires_in,
            kind: None,
            refresh_token: None,
            scope: None,
        }
    }
}

/// `POST /v1/agents/token` (form or JSON): RFC 7523 private_key_jwt.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct AgentTokenRequest {
    /// client_assertion (client_credentials is accepted as a synonym).
    #[schema(value_type = String, required = true, pattern = "^(client_assertion|client_credentials)$")]
    pub grant_type: Option<String>,
    #[schema(value_type = String, required = true, pattern = "^urn:ietf:params:oauth:client-assertion-type:jwt-bearer$")]
    pub client_assertion_type: Option<String>,
    /// An ES256 JWT signed with the agent's key, used once.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub client_assertion: Option<String>,
    /// RFC 8707: the resource the token is for.
    pub resource: Option<String>,
}

/// `POST /oauth/token` (form): authorization_code with PKCE,
/// refresh_token, or a client assertion as on `/v1/agents/token`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct OAuthTokenRequest {
    #[schema(value_type = String, required = true,
             pattern = "^(authorization_code|refresh_token|client_credentials|client_assertion)$")]
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub resource: Option<String>,
    pub refresh_token: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// `POST /oauth/revoke` (form, RFC 7009).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthRevokeRequest {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub token: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    pub client_id: Option<String>,
}

/// `POST /v1/introspect` and `POST /v1/revoke` (form or JSON).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenParam {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub token: Option<String>,
}

/// `POST /v1/auth/exchange`: the PAT in the body, or none (or null) with
/// the PAT as the bearer.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ExchangeRequest {
    pub token: Option<String>,
}

/// `POST /api/agent/auth/pat`: a key-bound session for an agent PAT (in
/// the body or as the bearer).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StartSession {
    pub token: Option<String>,
    /// The session's Ed25519 public key: base64url, or an OKP JWK.
    #[schema(value_type = Object, required = true)]
    pub session_pubkey: Option<serde_json::Value>,
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f]*$")]
    pub label: Option<String>,
}

/// The answer to `POST /api/agent/auth/pat`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub jwt: String,
    #[schema(pattern = "^Bearer$")]
    pub token_type: String,
    pub expires_in: i64,
    pub session_id: String,
    pub agent_id: String,
    pub key_thumbprint: String,
}

/// `GET /v1/auth/whoami`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI<'a> {
    pub user: Option<WhoUser<'a>>,
    pub workspace: WhoWorkspace<'a>,
    pub credential: WhoCredential<'a>,
    pub bound_agent: Option<WhoAgent<'a>>,
    pub resolved_agent: Option<WhoAgent<'a>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoUser<'a> {
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub email: Cow<'a, str>,
    #[schema(value_type = String)]
    pub name: Cow<'a, str>,
    pub role: Role,
    pub instance_admin: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoWorkspace<'a> {
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub name: Cow<'a, str>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoCredential<'a> {
    /// pat, jwt, session, access_token, certificate_jwt,
    /// oauth_access_token or browser.
    #[schema(value_type = String)]
    pub kind: Cow<'a, str>,
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    pub scope_type: Scope,
    pub audience: Audience,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAgent<'a> {
    #[schema(value_type = String)]
    pub agent_id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub agent_name: Cow<'a, str>,
}

/// `POST /v1/introspect` (RFC 7662).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
// Built, serialized and dropped in one place: boxing the big variant would
// only add an allocation to a hot path.
#[allow(clippy::large_enum_variant)]
pub enum Introspection<'a> {
    Live(Live<'a>),
    /// `{"active": false}` and nothing else, for a token that is not live.
    Inactive(Inactive),
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inactive {
    pub active: bool,
}

/// What introspection says of a live token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Live<'a> {
    pub active: bool,
    #[schema(value_type = String)]
    pub token_type: Cow<'a, str>,
    #[schema(value_type = Option<String>)]
    pub sub: Option<Cow<'a, str>>,
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<Cow<'a, str>>,
    #[schema(value_type = String)]
    pub workspace_id: Cow<'a, str>,
    /// The scope type; for an OAuth access token its OAuth scopes.
    #[schema(value_type = String)]
    pub scope: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub aud: Option<Cow<'a, str>>,
    pub exp: i64,
    pub iat: Option<i64>,
    pub cnf: Option<Confirmation<'a>>,
}

/// RFC 7800 confirmation: the thumbprint of the key a token is bound to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Confirmation<'a> {
    #[schema(value_type = String)]
    pub jkt: Cow<'a, str>,
}
