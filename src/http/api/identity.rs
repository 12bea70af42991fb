//! `/v1/auth/whoami` and `/v1/auth/exchange` (docs/API.md §5.1).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db;
use crate::domain::audit::{self, Event};
use crate::domain::pats::Scope;
use crate::domain::principal::{CredentialKind, Principal};
use crate::error::AppError;
use crate::http::bearer::{AnyCaller, ExchangeClaims, Use, authenticate, bearer_token};
use crate::http::request_meta;
use crate::state::AppState;

/// Lifetime of an exchanged JWT.
pub const EXCHANGE_TTL_SECONDS: i64 = 900;

#[derive(Serialize)]
pub struct WhoAmI<'a> {
    user: Option<WhoUser<'a>>,
    workspace: WhoWorkspace<'a>,
    credential: WhoCredential<'a>,
    bound_agent: Option<WhoAgent<'a>>,
    resolved_agent: Option<WhoAgent<'a>>,
}

#[derive(Serialize)]
struct WhoUser<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
    role: &'static str,
    instance_admin: bool,
}

#[derive(Serialize)]
struct WhoWorkspace<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct WhoCredential<'a> {
    kind: &'static str,
    id: &'a str,
    scope_type: &'static str,
    audience: &'static str,
    expires_at: String,
}

#[derive(Serialize, Clone, Copy)]
struct WhoAgent<'a> {
    agent_id: &'a str,
    agent_name: &'a str,
}

pub fn whoami_body(p: &Principal) -> WhoAmI<'_> {
    let agent = p.agent.as_ref().map(|a| WhoAgent { agent_id: a.id.as_str(), agent_name: &a.name });
    WhoAmI {
        user: p.user.as_ref().map(|u| WhoUser {
            id: u.id.as_str(),
            email: &u.email,
            name: &u.name,
            role: u.role.as_str(),
            instance_admin: u.instance_admin,
        }),
        workspace: WhoWorkspace { id: p.workspace.id.as_str(), name: &p.workspace.name },
        credential: WhoCredential {
            kind: p.credential.kind.as_str(),
            id: &p.credential.id,
            scope_type: p.credential.scope.as_str(),
            audience: p.credential.audience.as_str(),
            expires_at: p.credential.expires_at.to_rfc3339(),
        },
        bound_agent: agent,
        resolved_agent: agent,
    }
}

/// Any valid credential: who it is, for which workspace, with what scope.
pub async fn whoami(AnyCaller(p): AnyCaller) -> HttpResponse {
    HttpResponse::Ok().json(whoami_body(&p))
}

#[derive(Deserialize)]
struct ExchangeBody {
    token: Option<String>,
}

/// Anyone holding a PAT whose audience allows exchange (in the body or as
/// the bearer): a short-lived EdDSA JWT that acts with the PAT's scope.
pub async fn exchange(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let from_body =
        if body.iter().all(u8::is_ascii_whitespace) { None } else { super::parse_json::<ExchangeBody>(&body)?.token };
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
    Ok(HttpResponse::Ok().json(json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": exp.0 - now.0,
        "kind": kind,
    })))
}
