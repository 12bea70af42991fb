//! The bearer layer: every authenticated API route resolves its caller
//! here. It dispatches on the token's shape (PAT or Latchkey-issued JWT),
//! then checks expiry, revocation, Agent Security Mode, agent status and
//! audience; the extractors check the scope type. Every refusal is recorded
//! in the audit trail with its reason (identical ones collapse).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::crypto::token::{self, TokenKind};
use crate::db;
use crate::db::pats::PatAuth;
use crate::domain::agents::AgentStatus;
use crate::domain::audit::{self, Actor, Event};
use crate::domain::ids::WorkspaceId;
use crate::domain::pats::Scope;
use crate::domain::principal::{BoundAgent, Credential, CredentialKind, Principal, PrincipalUser};
use crate::domain::security_mode;
use crate::error::AppError;
use crate::http::request_meta;
use crate::state::AppState;

/// Claims of a JWT minted by `/v1/auth/exchange`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub pat_id: String,
    pub workspace_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// What the credential is being used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// As a bearer on an API route.
    Direct,
    /// Traded in at an exchange endpoint.
    Exchange,
}

/// The `Authorization: Bearer …` value, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A refusal plus what the audit trail should say about it.
struct Refusal {
    error: AppError,
    reason: &'static str,
    workspace: Option<WorkspaceId>,
}

impl Refusal {
    fn new(error: AppError, reason: &'static str, workspace: Option<&WorkspaceId>) -> Refusal {
        Refusal {
            error,
            reason,
            workspace: workspace.cloned(),
        }
    }
}

/// Resolves `token` for `usage`, recording any refusal.
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    usage: Use,
) -> Result<Principal, AppError> {
    match resolve(state, token, usage).await {
        Ok(p) => {
            touch(state, &p);
            Ok(p)
        }
        Err(refusal) => {
            if !matches!(refusal.error, AppError::Internal(_)) {
                let meta = request_meta(req, state);
                let now = state.clock.now();
                let reason = refusal.reason;
                let ws = refusal.workspace;
                state
                    .db
                    .write(move |tx| {
                        let event = Event::failure(
                            ws.as_ref(),
                            &Actor::Anonymous,
                            "auth.bearer",
                            reason,
                            &meta,
                        );
                        audit::record(tx, event, now)
                    })
                    .await?;
            }
            Err(refusal.error)
        }
    }
}

/// `last_used_at` (of the PAT, also when a JWT made from it is used), at
/// most once a minute per token and off the request path: the hot path
/// stays one indexed read.
fn touch(state: &AppState, p: &Principal) {
    let now = state.clock.now();
    if p.credential
        .pat_last_used_at
        .is_some_and(|t| t.0 >= now.0 - 60)
    {
        return;
    }
    let db = state.db.clone();
    let id = p.credential.pat_id.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = db
            .write(move |tx| db::pats::touch_last_used(tx, &id, now))
            .await
        {
            tracing::warn!(error = %e, "could not record last use of a PAT");
        }
    });
}

async fn resolve(state: &AppState, token: &str, usage: Use) -> Result<Principal, Refusal> {
    let now = state.clock.now();
    let unknown = |reason| Refusal::new(AppError::AuthUnknownToken, reason, None);
    if token.starts_with(TokenKind::Pat.prefix()) {
        let hash =
            token::parse(TokenKind::Pat, token).ok_or_else(|| unknown("bad token checksum"))?;
        let auth = state
            .db
            .read(move |conn| db::pats::find_auth_by_hash(conn, &hash))
            .await
            .map_err(|e| Refusal::new(e, "", None))?
            .ok_or_else(|| unknown("unknown token"))?;
        let credential_id = auth.pat.id.0.clone();
        let expires_at = auth.pat.expires_at;
        check(
            state,
            auth,
            CredentialKind::Pat,
            credential_id,
            expires_at,
            usage,
            now,
        )
    } else if token.starts_with("eyJ") {
        if usage == Use::Exchange {
            return Err(Refusal::new(
                AppError::Validation("token: only a PAT can be exchanged.".into()),
                "JWT presented for exchange",
                None,
            ));
        }
        let claims: ExchangeClaims = state
            .keys
            .verify(
                token,
                &state.config.public_url,
                &state.config.public_url,
                now,
            )
            .map_err(|_| unknown("JWT not signed by this server"))?;
        let pat_id = crate::domain::ids::PatId(claims.pat_id.clone());
        let auth = state
            .db
            .read(move |conn| db::pats::find_auth_by_id(conn, &pat_id))
            .await
            .map_err(|e| Refusal::new(e, "", None))?
            .ok_or_else(|| unknown("JWT of a deleted PAT"))?;
        if auth.workspace.id.0 != claims.workspace_id {
            return Err(unknown("JWT workspace mismatch"));
        }
        if claims.exp <= now.0 {
            return Err(Refusal::new(
                AppError::AuthTokenExpired,
                "JWT expired",
                Some(&auth.workspace.id),
            ));
        }
        check(
            state,
            auth,
            CredentialKind::Jwt,
            claims.jti,
            Timestamp(claims.exp),
            usage,
            now,
        )
    } else {
        Err(unknown("unrecognised token format"))
    }
}

/// The checks every credential passes, in order: alive, mode on, agent
/// enabled, audience.
fn check(
    state: &AppState,
    auth: PatAuth,
    kind: CredentialKind,
    credential_id: String,
    expires_at: Timestamp,
    usage: Use,
    now: Timestamp,
) -> Result<Principal, Refusal> {
    let ws = auth.workspace.id.clone();
    let refuse = |error, reason| Refusal::new(error, reason, Some(&ws));
    let pat = auth.pat;
    if pat.expires_at <= now {
        return Err(refuse(AppError::AuthTokenExpired, "PAT expired"));
    }
    if pat.revoked_at.is_some() {
        return Err(refuse(AppError::AuthTokenRevoked, "PAT revoked"));
    }
    // A PAT outlives neither its owner's membership nor its agent.
    let user = match auth.user {
        Some(u) => match u.role {
            Some(role) => Some(PrincipalUser {
                instance_admin: is_instance_admin(state, &u.email, u.auto_provisioned),
                id: u.id,
                email: u.email,
                name: u.name,
                role,
            }),
            None => {
                return Err(refuse(
                    AppError::AuthTokenRevoked,
                    "PAT owner left the workspace",
                ));
            }
        },
        None => return Err(refuse(AppError::AuthTokenRevoked, "PAT owner deleted")),
    };
    security_mode::require_on(&auth.workspace, &state.config.url("/settings"))
        .map_err(|e| refuse(e, "agent security mode off"))?;
    let agent = match (&pat.agent_id, &pat.agent_name, auth.agent_status) {
        (Some(_), _, Some(AgentStatus::Disabled)) => {
            return Err(refuse(AppError::AgentDisabled, "agent disabled"));
        }
        (Some(id), Some(name), Some(_)) => Some(BoundAgent {
            id: id.clone(),
            name: name.clone(),
        }),
        (Some(_), _, _) => return Err(refuse(AppError::AuthTokenRevoked, "agent deleted")),
        _ => None,
    };
    if kind == CredentialKind::Pat {
        match usage {
            Use::Direct if !pat.audience.allows_direct_use() => {
                return Err(refuse(
                    AppError::Audience(
                        "This PAT is exchange-only: trade it in at /v1/auth/exchange first.".into(),
                    ),
                    "exchange-only PAT used directly",
                ));
            }
            Use::Exchange if !pat.audience.allows_exchange() => {
                return Err(refuse(
                    AppError::Audience("This PAT is api-only and cannot be exchanged.".into()),
                    "api-only PAT presented for exchange",
                ));
            }
            _ => {}
        }
    }
    Ok(Principal {
        workspace: auth.workspace,
        user,
        credential: Credential {
            kind,
            id: credential_id,
            pat_id: pat.id,
            scope: pat.scope,
            audience: pat.audience,
            expires_at,
            pat_last_used_at: pat.last_used_at,
        },
        agent,
    })
}

/// `LATCHKEY_SUPERADMIN_DOMAIN`: password users of that domain only.
pub fn is_instance_admin(state: &AppState, email: &str, auto_provisioned: bool) -> bool {
    match &state.config.superadmin_domain {
        Some(domain) if !auto_provisioned => email
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)),
        _ => false,
    }
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

fn extract(req: &HttpRequest, allowed: &'static [Scope], what: &'static str) -> Fut<Principal> {
    let req = req.clone();
    Box::pin(async move {
        let state = state_of(&req)?;
        let token = bearer_token(&req).ok_or(AppError::AuthRequired)?;
        let principal = authenticate(&req, &state, &token, Use::Direct).await?;
        if !allowed.contains(&principal.credential.scope) {
            let scope = principal.credential.scope.as_str();
            let ws = principal.workspace.id.clone();
            let meta = request_meta(&req, &state);
            let now = state.clock.now();
            state
                .db
                .write(move |tx| {
                    let event = Event::failure(
                        Some(&ws),
                        &Actor::Anonymous,
                        "auth.bearer",
                        "wrong scope type",
                        &meta,
                    );
                    audit::record(tx, event, now)
                })
                .await?;
            return Err(AppError::Scope(format!(
                "A {scope} credential cannot {what}."
            )));
        }
        Ok(principal)
    })
}

/// Any valid credential of any scope type.
pub struct AnyCaller(pub Principal);

/// A host credential: manages the workspace on behalf of its user.
pub struct HostCaller(pub Principal);

impl FromRequest for AnyCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host, Scope::Agent, Scope::Service], "do this");
        Box::pin(async move { fut.await.map(AnyCaller) })
    }
}

impl FromRequest for HostCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host], "manage this workspace; use a host PAT");
        Box::pin(async move { fut.await.map(HostCaller) })
    }
}
