//! `/v1/auth/whoami` and `/v1/auth/exchange` (docs/API.md §5.1).

use actix_web::{HttpRequest, HttpResponse, web};

use crate::db;
use crate::domain::audit::{self, Event};
use crate::domain::pats::Scope;
use crate::domain::principal::{CredentialKind, Principal};
use crate::error::AppError;
use crate::http::bearer::{AnyCaller, ExchangeClaims, Use, authenticate, bearer_token};
use crate::http::request_meta;
use crate::state::AppState;
use crate::wire::tokens::{BearerToken, ExchangeRequest, WhoAgent, WhoAmI, WhoCredential, WhoUser, WhoWorkspace};

/// Lifetime of an exchanged JWT.
pub const EXCHANGE_TTL_SECONDS: i64 = 900;

/// Who the caller is, borrowed from the principal.
pub fn whoami_body(p: &Principal) -> WhoAmI<'_> {
    let agent =
        p.agent.as_ref().map(|a| WhoAgent { agent_id: a.id.as_str().into(), agent_name: a.name.as_str().into() });
    WhoAmI {
        user: p.user.as_ref().map(|u| WhoUser {
            id: u.id.as_str().into(),
            email: u.email.as_str().into(),
            name: u.name.as_str().into(),
            role: u.role,
            instance_admin: u.instance_admin,
        }),
        workspace: WhoWorkspace { id: p.workspace.id.as_str().into(), name: p.workspace.name.as_str().into() },
        credential: WhoCredential {
            kind: p.credential.kind.as_str().into(),
            id: p.credential.id.as_str().into(),
            scope_type: p.credential.scope,
            audience: p.credential.audience,
            expires_at: p.credential.expires_at.to_rfc3339(),
        },
        bound_agent: agent.clone(),
        resolved_agent: agent,
    }
}

/// Any valid credential: who it is, for which workspace, with what scope.
pub async fn whoami(AnyCaller(p): AnyCaller) -> HttpResponse {
    HttpResponse::Ok().json(whoami_body(&p))
}

/// Anyone holding a PAT whose audience allows exchange (in the body or as
/// the bearer): a short-lived EdDSA JWT that acts with the PAT's scope.
pub async fn exchange(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        super::parse_json::<ExchangeRequest>(&body)?.token
    };
    let token = from_body.or_else(|| bearer_token(&req)).ok_or(AppError::AuthRequired)?;
    let p = authenticate(&req, &state, &token, Use::Exchange).await?;

    let pat_id = p.credential.pat_id.clone().ok_or_else(|| AppError::internal("exchange without a PAT"))?;
    if let Err(retry_after_seconds) = state.pat_limiter.check(pat_id.as_str()) {
        return Err(AppError::RateLimited { retry_after_seconds });
    }
    let now = state.clock.now();
    let exp = now.plus_seconds(EXCHANGE_TTL_SECONDS).min(p.credential.expires_at);
    let sub = match (&p.agent, &p.user) {
        (Some(a), _) => a.id.0.clone(),
        (None, Some(u)) => u.id.0.clone(),
        (None, None) => pat_id.0.clone(),
    };
    let claims = ExchangeClaims {
        iss: state.config.public_url.clone(),
        sub,
        aud: state.config.public_url.clone(),
        iat: now.0,
        exp: exp.0,
        jti: db::new_id(),
        pat_id: pat_id.0.clone(),
        workspace_id: p.workspace.id.0.clone(),
        scope: p.credential.scope.as_str().into(),
        agent_id: p.agent.as_ref().map(|a| a.id.0.clone()),
        cnf: None,
        sid: None,
        session_key: None,
    };
    let jwt = state.keys.sign(&claims).map_err(AppError::internal)?;

    let meta = request_meta(&req, &state);
    let ws = p.workspace.id.clone();
    let actor = super::actor_of(&p);
    let pat_id = pat_id.0.clone();
    state
        .db
        .write(move |tx| {
            audit::record(tx, Event::success(Some(&ws), &actor, "auth.exchange", &meta).target("pat", pat_id), now)
        })
        .await?;

    debug_assert_eq!(p.credential.kind, CredentialKind::Pat);
    let kind = match p.credential.scope {
        Scope::Host => "user_admin",
        Scope::Agent => "agent",
        Scope::Service => "service",
    };
    Ok(HttpResponse::Ok().json(BearerToken { kind: Some(kind.into()), ..BearerToken::new(jwt, exp.0 - now.0) }))
}
