//! Agent enrollment (docs/API.md §5.4): `/v1/agents/bootstrap`,
//! `/v1/agents/token` (RFC 7523 private_key_jwt) and new bootstrap secrets.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{actor_of, parse_json};
use crate::crypto::es256::{self, EcJwk};
use crate::crypto::token::{self, TokenKind};
use crate::db;
use crate::domain::agents::{AgentStatus, By};
use crate::domain::audit::Actor;
use crate::domain::enrollment::{self, AssertionRules};
use crate::domain::ids::AgentId;
use crate::domain::security_mode;
use crate::error::AppError;
use crate::http::bearer::{HostCaller, record_refusal};
use crate::http::{client_ip, request_meta};
use crate::state::AppState;
use crate::wire;
use crate::wire::tokens::BearerToken;

pub const TOKEN_PATH: &str = "/v1/agents/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far in the future an assertion's `iat` may be.
const ASSERTION_SKEW_SECONDS: i64 = 30;

/// Anyone holding a one-time bootstrap secret (5 a minute per address):
/// registers the agent's P-256 public key.
pub async fn bootstrap(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if let Err(retry_after_seconds) = state.bootstrap_limiter.check(client_ip(&req, &state.config)) {
        return Err(AppError::RateLimited { retry_after_seconds });
    }
    let body: wire::agents::Bootstrap = parse_json(&body)?;
    let secret = body.bootstrap_secret.ok_or_else(|| AppError::Validation("bootstrapSecret: required.".into()))?;
    let jwk = body.public_key.ok_or_else(|| AppError::Validation("publicKey: required.".into()))?;
    let key = EcJwk::parse(&jwk).map_err(AppError::InvalidPublicKey)?;
    let meta = request_meta(&req, &state);
    let now = state.clock.now();
    let Some(hash) = token::parse(TokenKind::BootstrapSecret, secret.trim()) else {
        record_refusal(&req, &state, None, "agent.bootstrap", "malformed bootstrap secret").await;
        return Err(AppError::BootstrapSecretInvalid);
    };
    let settings_url = state.config.url("/settings");
    let (meta2, thumbprint) = (meta.clone(), key.thumbprint());
    let result = state
        .db
        .write(move |tx| {
            enrollment::bootstrap(tx, &hash, &key, &settings_url, &By { actor: &Actor::Anonymous, meta: &meta2, now })
        })
        .await;
    match result {
        Ok(agent) => Ok(HttpResponse::Ok().json(wire::agents::Enrolled {
            agent_id: agent.id.0,
            name: agent.name,
            status: agent.status,
            workspace_id: agent.workspace_id.0,
            key_thumbprint: thumbprint,
        })),
        Err(e) => {
            if !matches!(e, AppError::Internal(_)) {
                record_refusal(&req, &state, None, "agent.bootstrap", e.code()).await;
            }
            Err(e)
        }
    }
}

/// What a token request asks for: the client assertion and, optionally,
/// one RFC 8707 `resource`.
pub struct TokenRequest {
    pub assertion: String,
    pub resource: Option<String>,
}

/// Anyone with an enrolled agent's key (30 a minute per address): trades a
/// fresh ES256 client assertion for an opaque access token.
pub async fn token(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    if let Err(retry_after_seconds) = state.token_limiter.check(client_ip(&req, &state.config)) {
        return Err(AppError::RateLimited { retry_after_seconds });
    }
    let TokenRequest { assertion, resource } = parse_token_request(super::is_form(&req), &body)?;

    let meta = request_meta(&req, &state);
    match issue(&state, &assertion, resource, meta).await {
        Ok(Ok(body)) => Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body)),
        Ok(Err((ws, reason))) => {
            record_refusal(&req, &state, ws, "agent.token", reason).await;
            Err(AppError::AssertionInvalid)
        }
        Err(e) => Err(e),
    }
}

/// The token endpoint's body (form or JSON), down to the client assertion;
/// every other shape is the documented OAuth error. Public for the fuzzer.
pub fn parse_token_request(is_form: bool, body: &[u8]) -> Result<TokenRequest, AppError> {
    let body: wire::tokens::AgentTokenRequest = if is_form {
        serde_urlencoded::from_bytes(body)
            .map_err(|_| AppError::OAuthInvalidRequest("The form body could not be read.".into()))?
    } else {
        serde_json::from_slice(body)
            .map_err(|_| AppError::OAuthInvalidRequest("The body is not a JSON object.".into()))?
    };
    match body.grant_type.as_deref() {
        Some("client_assertion" | "client_credentials") => {}
        Some(_) => return Err(AppError::UnsupportedGrantType),
        None => return Err(AppError::OAuthInvalidRequest("grant_type is required.".into())),
    }
    if body.client_assertion_type.as_deref() != Some(JWT_BEARER) {
        return Err(AppError::OAuthInvalidRequest(format!("client_assertion_type must be {JWT_BEARER}.")));
    }
    let assertion = body
        .client_assertion
        .filter(|a| !a.is_empty())
        .ok_or_else(|| AppError::OAuthInvalidRequest("client_assertion is required.".into()))?;
    Ok(TokenRequest { assertion, resource: body.resource.filter(|r| !r.is_empty()) })
}

type Refused = (Option<crate::domain::ids::WorkspaceId>, &'static str);

/// Read the agent and its workspace (one read on this worker's
/// connection), verify the assertion with no lock held, then one write
/// transaction: re-check the agent and the mode, record the jti, store the
/// token, audit.
async fn issue(
    state: &AppState,
    assertion: &str,
    resource: Option<String>,
    meta: crate::domain::audit::RequestMeta,
) -> Result<Result<BearerToken<'static>, Refused>, AppError> {
    let now = state.clock.now();
    let Some(assertion) = es256::Assertion::parse(assertion) else { return Ok(Err((None, "malformed assertion"))) };
    let Some(sub) = assertion.claims.sub.clone() else { return Ok(Err((None, "assertion without a readable sub"))) };
    let id = AgentId(sub);
    let found = state.db.read_here(move |conn| db::agents::find_with_workspace(conn, &id)).await?;
    let Some((agent, workspace)) = found else { return Ok(Err((None, "unknown agent"))) };
    let ws = Some(agent.workspace_id.clone());
    if agent.status != AgentStatus::Active {
        return Ok(Err((ws, "agent not active")));
    }
    let Some(key) = agent.public_jwk.as_deref().and_then(EcJwk::from_stored) else {
        return Ok(Err((ws, "agent has no registered key")));
    };
    if let Err(reason) = assertion.verify(&key) {
        return Ok(Err((ws, reason)));
    }
    let claims = assertion.claims;
    let audience = state.config.agent_token_audience.clone().unwrap_or_else(|| state.config.public_url.clone());
    // The issuer, or either token endpoint it may have been posted to.
    let audiences = [audience, state.config.url(TOKEN_PATH), state.config.url(super::oauth::TOKEN_PATH)];
    let rules = AssertionRules { agent_id: &agent.id.0, audiences: &audiences, now, skew: ASSERTION_SKEW_SECONDS };
    if let Err(reason) = enrollment::check_claims(&claims, &rules) {
        return Ok(Err((ws, reason)));
    }
    // Only a caller who proved the key learns about the workspace's mode.
    let settings_url = state.authn.settings_url.clone();
    security_mode::require_on(&workspace, &settings_url)?;
    let jti = claims.jti.unwrap_or_default();
    let jti_expires = crate::clock::Timestamp(claims.exp.unwrap_or(now.0));
    let actor = Actor::Agent { id: agent.id.clone(), name: agent.name.clone() };
    if let Some(wanted) = resource {
        // An access JWT for one resource of the agent's own workspace.
        let normalized = crate::domain::resources::parse_identifier(&wanted).map(|(i, _)| i).unwrap_or(wanted);
        let found = state.db.read_here(move |conn| db::resources::find_by_identifier(conn, &normalized)).await?;
        let Some(resource) = found.filter(|r| r.workspace_id == agent.workspace_id) else {
            return Err(AppError::InvalidTarget("resource is not a resource of this agent's workspace.".into()));
        };
        let (keys, issuer) = (state.keys.clone(), state.config.public_url.clone());
        let ttl = state.config.oauth_access_token_ttl_seconds;
        let issued = state
            .db
            .write_rerunnable(move |tx| {
                let by = By { actor: &actor, meta: &meta, now };
                enrollment::issue_resource_token(
                    tx,
                    &agent,
                    &jti,
                    jti_expires,
                    &resource,
                    &keys,
                    &issuer,
                    ttl,
                    &settings_url,
                    &by,
                )
            })
            .await?;
        return Ok(issued.map(super::oauth::bearer).map_err(|reason| (ws, reason)));
    }
    let ttl = state.config.agent_token_ttl_seconds;
    let issued = state
        .db
        .write_rerunnable(move |tx| {
            let by = By { actor: &actor, meta: &meta, now };
            enrollment::issue_access_token(tx, &agent, &jti, jti_expires, ttl, &settings_url, &by)
        })
        .await?;
    Ok(match issued {
        Ok(token) => Ok(BearerToken::new(token.into_inner(), ttl)),
        Err(reason) => Err((ws, reason)),
    })
}

/// A host credential that may manage the agent: a new one-time bootstrap
/// secret (the old one stops working), for re-enrollment or key rotation.
pub async fn new_bootstrap_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (ws, who, id) = (p.workspace.id.clone(), p.acting()?, AgentId(id.into_inner()));
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let ttl = state.config.bootstrap_secret_ttl_hours;
    let (_, secret, expires) =
        state.db.write(move |tx| enrollment::reissue_bootstrap_secret(tx, &ws, &id, &who, ttl, &origin.by())).await?;
    Ok(HttpResponse::Created().json(wire::agents::BootstrapSecret {
        bootstrap_secret: secret.into_inner(),
        bootstrap_secret_expires_at: expires.to_rfc3339(),
    }))
}
