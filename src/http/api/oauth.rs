//! The OAuth 2.1 endpoints (docs/API.md §5.8): RFC 7591 registration, the
//! token endpoint (authorization code with PKCE, rotating refresh tokens,
//! and §5.4's client assertion), RFC 7009 revocation for clients, and the
//! RFC 8414 metadata. The consent page is in `dashboard::oauth`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::config::DcrMode;
use crate::db;
use crate::domain::agents::By;
use crate::domain::audit::Actor;
use crate::domain::oauth::{self, CodeExchange};
use crate::error::AppError;
use crate::http::bearer::{self, HostCaller};
use crate::http::{client_ip, request_meta};
use crate::state::AppState;
use crate::wire::tokens::{BearerToken, OAuthRevokeRequest, OAuthTokenRequest};
use crate::wire::workspace as wire;

pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/oauth/token";
pub const REGISTER_PATH: &str = "/oauth/register";
pub const REVOKE_PATH: &str = "/oauth/revoke";

/// RFC 8414 metadata: everything a stock OAuth or MCP client needs.
pub fn metadata(state: &AppState, scopes: Vec<String>) -> Value {
    let c = &state.config;
    let mut doc = json!({
        "issuer": c.public_url,
        "authorization_endpoint": c.url(AUTHORIZE_PATH),
        "token_endpoint": c.url(TOKEN_PATH),
        "jwks_uri": c.url("/.well-known/jwks.json"),
        "introspection_endpoint": c.url("/v1/introspect"),
        "revocation_endpoint": c.url(REVOKE_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": scopes,
    });
    if c.dcr != DcrMode::Off {
        doc["registration_endpoint"] = json!(c.url(REGISTER_PATH));
    }
    doc
}

/// `POST /oauth/register` (RFC 7591), per `LATCHKEY_DCR`.
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    match state.config.dcr {
        DcrMode::Off => return Err(AppError::NotFound),
        DcrMode::Token => {
            // The initial access token minted on the OAuth clients page.
            let token = bearer::bearer_token(&req).ok_or(AppError::AuthRequired)?;
            let kind = crate::crypto::token::TokenKind::RegistrationToken;
            let known = match crate::crypto::token::parse(kind, &token) {
                Some(hash) => {
                    state.db.read_here(move |conn| db::oauth::registration_token_workspace(conn, &hash)).await?
                }
                None => None,
            };
            if known.is_none() {
                bearer::record_refusal(&req, &state, None, "oauth.register", "bad registration token").await;
                return Err(AppError::AuthUnknownToken);
            }
        }
        DcrMode::Open => {
            if let Err(retry_after_seconds) = state.register_limiter.check(client_ip(&req, &state.config)) {
                return Err(AppError::RateLimited { retry_after_seconds });
            }
        }
    }
    let body: Value = super::parse_json(&body)?;
    let client = oauth::register(&body, state.clock.now())?;
    let answer = client.metadata.clone();
    state.db.write(move |tx| db::oauth::insert_client(tx, &client)).await?;
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(answer))
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, AppError> {
    v.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| AppError::OAuthInvalidRequest(format!("{name} is required.")))
}

/// `POST /oauth/token`: `authorization_code`, `refresh_token`, and the
/// client assertion grant of §5.4.
pub async fn token(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let form: OAuthTokenRequest = if super::is_form(&req) {
        serde_urlencoded::from_bytes(&body)
            .map_err(|_| AppError::OAuthInvalidRequest("The form body could not be read.".into()))?
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| AppError::OAuthInvalidRequest("The body is not a form or JSON.".into()))?
    };
    let grant_type = required(&form.grant_type, "grant_type")?.to_string();
    if matches!(grant_type.as_str(), "client_credentials" | "client_assertion") {
        return super::enrollment::token(req, state, body).await;
    }
    if !matches!(grant_type.as_str(), "authorization_code" | "refresh_token") {
        return Err(AppError::UnsupportedGrantType);
    }
    if let Err(retry_after_seconds) = state.token_limiter.check(client_ip(&req, &state.config)) {
        return Err(AppError::RateLimited { retry_after_seconds });
    }
    let client_id = required(&form.client_id, "client_id")?.to_string();
    let client = {
        let id = client_id.clone();
        state.db.read_here(move |conn| db::oauth::find_client(conn, &id)).await?
    };
    match &client {
        Some(c) if c.token_endpoint_auth_method == "private_key_jwt" => {
            let assertion = form.client_assertion.as_deref().ok_or_else(|| {
                AppError::InvalidClient(
                    "This client authenticates with private_key_jwt: send client_assertion (ES256).".into(),
                )
            })?;
            if let Err(reason) = client_assertion(&state, c, assertion).await {
                bearer::record_refusal(&req, &state, None, "oauth.token", reason).await;
                return Err(AppError::InvalidClient("The client assertion was rejected.".into()));
            }
        }
        Some(_) => {}
        None if client_id.starts_with("https://") || client_id.starts_with("http://") => {}
        None => return Err(AppError::InvalidClient("Unknown client_id: register the client first.".into())),
    }
    let (keys, issuer) = (state.keys.clone(), state.config.public_url.clone());
    let ttl = state.config.oauth_access_token_ttl_seconds;
    let (meta, now) = (request_meta(&req, &state), state.clock.now());
    let outcome = if grant_type == "authorization_code" {
        let code = required(&form.code, "code")?.to_string();
        let verifier = required(&form.code_verifier, "code_verifier")?.to_string();
        let redirect_uri = required(&form.redirect_uri, "redirect_uri")?.to_string();
        let resource = form.resource.clone();
        state
            .db
            .write(move |tx| {
                let by = By { actor: &Actor::Anonymous, meta: &meta, now };
                let x = CodeExchange {
                    code: &code,
                    code_verifier: &verifier,
                    redirect_uri: &redirect_uri,
                    client_id: &client_id,
                    resource: resource.as_deref(),
                };
                oauth::exchange_code(tx, &keys, &issuer, ttl, &x, &by)
            })
            .await?
    } else {
        let refresh = required(&form.refresh_token, "refresh_token")?.to_string();
        let resource = form.resource.clone();
        state
            .db
            .write(move |tx| {
                let by = By { actor: &Actor::Anonymous, meta: &meta, now };
                oauth::refresh(tx, &keys, &issuer, ttl, &refresh, &client_id, resource.as_deref(), &by)
            })
            .await?
    };
    match outcome {
        Ok(set) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(bearer(set))),
        Err((error, ws, reason)) => {
            bearer::record_refusal(&req, &state, ws, "oauth.token", reason).await;
            Err(error)
        }
    }
}

/// `POST /oauth/revoke` (RFC 7009) for OAuth clients: a refresh or access
/// token of the client named by `client_id` ends its grant. Unknown tokens
/// answer 200, as the RFC asks.
pub async fn revoke(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let form: OAuthRevokeRequest = serde_urlencoded::from_bytes(&body)
        .map_err(|_| AppError::OAuthInvalidRequest("The form body could not be read.".into()))?;
    let token = required(&form.token, "token")?.to_string();
    let client_id = required(&form.client_id, "client_id")?.to_string();
    let done = || HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish();
    let now = state.clock.now();
    // The grant behind the token, whichever kind it is.
    let grant = if token.starts_with(crate::crypto::token::TokenKind::RefreshToken.prefix()) {
        let Some(hash) = crate::crypto::token::parse(crate::crypto::token::TokenKind::RefreshToken, &token) else {
            return Ok(done());
        };
        state.db.read_here(move |conn| db::oauth::find_refresh(conn, &hash)).await?.map(|r| r.grant_id)
    } else {
        bearer::introspect(&req, &state, &token).await.and_then(|p| p.credential.oauth.map(|o| o.grant_id))
    };
    let Some(grant_id) = grant else { return Ok(done()) };
    let meta = request_meta(&req, &state);
    state
        .db
        .write(move |tx| {
            let Some(auth) = db::oauth::find_grant_auth(tx, &grant_id)? else { return Ok(()) };
            if auth.grant.client_id != client_id {
                return Ok(());
            }
            let by = By { actor: &Actor::Anonymous, meta: &meta, now };
            oauth::revoke(tx, &auth.workspace.id, &grant_id, &by)
        })
        .await?;
    Ok(done())
}

/// A host credential: revokes one of the workspace's OAuth grants.
pub async fn revoke_grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<crate::model::ids::GrantId>,
) -> Result<HttpResponse, AppError> {
    let origin = crate::http::origin(super::actor_of(&p), &req, &state);
    let ws = p.workspace.id.clone();
    let id = id.into_inner();
    let grant = id.clone();
    state.db.write(move |tx| oauth::revoke(tx, &ws, &grant, &origin.by())).await?;
    Ok(HttpResponse::Ok().json(crate::wire::Revoked { id: id.0, revoked: true }))
}

/// A grant as the API shows it.
pub fn grant_view(g: &db::oauth::Grant) -> wire::Grant {
    wire::Grant {
        id: g.id.0.clone(),
        client_id: g.client_id.clone(),
        client_name: g.client_name.clone(),
        agent_id: g.agent_id.0.clone(),
        resource_id: g.resource_id.0.clone(),
        scope: g.scope.clone(),
        created_at: g.created_at.to_rfc3339(),
        last_used_at: g.last_used_at.map(|t| t.to_rfc3339()),
        revoked_at: g.revoked_at.map(|t| t.to_rfc3339()),
    }
}

/// The token endpoint's answer.
pub fn bearer(set: oauth::TokenSet) -> BearerToken<'static> {
    BearerToken {
        refresh_token: set.refresh_token.map(Into::into),
        scope: Some(set.scope.into()),
        ..BearerToken::new(set.access_token, set.expires_in)
    }
}

/// A host credential: the workspace's OAuth grants.
pub async fn list_grants(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    query: web::Query<super::ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit()?;
    let before = query.into_inner().before;
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::oauth::list_grants(conn, &ws, before.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(crate::wire::Items { items: items.iter().map(grant_view).collect() }))
}

/// RFC 7523 client authentication of a confidential client: an ES256
/// assertion with `iss` = `sub` = the client id, signed by the key it
/// registered, for this server, fresh, its `jti` used once.
async fn client_assertion(state: &AppState, client: &db::oauth::Client, assertion: &str) -> Result<(), &'static str> {
    let jwk =
        client.metadata.get("jwks").and_then(|j| j.get("keys")).and_then(|k| k.get(0)).ok_or("client without a key")?;
    let key = crate::crypto::es256::EcJwk::parse(jwk).map_err(|_| "client key is not an ES256 JWK")?;
    let claims = crate::crypto::es256::verify_assertion(assertion, &key)?;
    let now = state.clock.now();
    let c = &state.config;
    let audiences = [c.public_url.clone(), c.url(TOKEN_PATH)];
    let rules =
        crate::domain::enrollment::AssertionRules { agent_id: &client.id, audiences: &audiences, now, skew: 30 };
    crate::domain::enrollment::check_claims(&claims, &rules)?;
    let jti = claims.jti.unwrap_or_default();
    let expires = crate::clock::Timestamp(claims.exp.unwrap_or(now.0));
    let owner = crate::domain::ids::AgentId(client.id.clone());
    let fresh = state
        .db
        .write(move |tx| db::assertion_jtis::insert_new(tx, &owner, &jti, expires))
        .await
        .map_err(|_| "could not record the assertion")?;
    if fresh { Ok(()) } else { Err("client assertion replayed") }
}
