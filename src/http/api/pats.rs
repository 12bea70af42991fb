//! `/v1/pats` (PRODUCT.md §5.2).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ListQuery, actor_of};
use crate::clock::Timestamp;
use crate::db;
use crate::db::pats::Pat;
use crate::domain::agents::By;
use crate::domain::ids::{AgentId, PatId};
use crate::domain::money::AmountCents;
use crate::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::bearer::HostCaller;
use crate::http::request_meta;
use crate::state::AppState;

pub fn pat_json(p: &Pat, now: Timestamp) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "workspace_id": p.workspace_id,
        "user_id": p.user_id,
        "scope_type": p.scope.as_str(),
        "audience": p.audience.as_str(),
        "agent_id": p.agent_id,
        "agent_name": p.agent_name,
        "token_hint": p.token_hint,
        "daily_cap_usd": p.daily_cap.map(|c| c.to_string()),
        "status": pats::status(p, now),
        "created_at": p.created_at.to_rfc3339(),
        "expires_at": p.expires_at.to_rfc3339(),
        "last_used_at": p.last_used_at.map(|t| t.to_rfc3339()),
        "revoked_at": p.revoked_at.map(|t| t.to_rfc3339()),
    })
}

/// A money field sent as a decimal string (or, leniently, a JSON number).
fn parse_cap(v: Option<&Value>) -> Result<Option<AmountCents>, AppError> {
    let bad = || AppError::Validation("daily_cap_usd: a decimal string like \"10.00\" from 0.00 to 1000000.00.".into());
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => AmountCents::parse(s).map(Some).ok_or_else(bad),
        // Money is a decimal string (PRODUCT.md §4.1), as `amount_usd`: a
        // JSON number (`5.5`, `1e2`) is refused, never rounded.
        Some(_) => Err(bad()),
    }
}

#[derive(Deserialize)]
pub struct CreatePat {
    name: String,
    scope_type: String,
    audience: Option<String>,
    expires_in_days: Option<i64>,
    agent_id: Option<String>,
    agent_name: Option<String>,
    #[serde(default)]
    create_agent: bool,
    daily_cap_usd: Option<Value>,
}

fn mint_request(body: CreatePat) -> Result<MintRequest, AppError> {
    let scope = Scope::parse(&body.scope_type)
        .ok_or_else(|| AppError::Validation("scope_type: one of host, agent, service.".into()))?;
    let audience = match body.audience.as_deref() {
        None => Audience::Both,
        Some(a) => {
            Audience::parse(a).ok_or_else(|| AppError::Validation("audience: one of api, exchange, both.".into()))?
        }
    };
    let agent = match (body.agent_id, body.agent_name) {
        (Some(_), Some(_)) => {
            return Err(AppError::Validation("agent_id: give agent_id or agent_name, not both.".into()));
        }
        (Some(id), None) => Some(AgentRef::Id(AgentId(id))),
        (None, Some(name)) => Some(AgentRef::Name { name, create: body.create_agent }),
        (None, None) => None,
    };
    Ok(MintRequest {
        name: pats::parse_name(&body.name)?,
        scope,
        audience,
        expires_in_days: pats::parse_expiry_days(body.expires_in_days)?,
        agent,
        daily_cap: parse_cap(body.daily_cap_usd.as_ref())?,
        delegated: false,
    })
}

/// A host credential acting as a user: mints a PAT owned by that user. The
/// token is in this response and nowhere else, ever.
pub async fn create_pat(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    body: web::Json<CreatePat>,
) -> Result<HttpResponse, AppError> {
    let mut mint = mint_request(body.into_inner())?;
    mint.delegated = p.credential.kind == crate::domain::principal::CredentialKind::CertificateJwt;
    let minter = p.acting()?;
    let (actor, meta, now) = (actor_of(&p), request_meta(&req, &state), state.clock.now());
    let ws = p.workspace.id.clone();
    let default_cap = state.config.default_daily_cap;
    let (token, pat) = state
        .db
        .write(move |tx| pats::mint(tx, &ws, &minter, mint, default_cap, &By { actor: &actor, meta: &meta, now }))
        .await?;
    let mut body = pat_json(&pat, now);
    body["token"] = Value::String(token.into_inner());
    Ok(HttpResponse::Created().json(body))
}

/// A host credential: the workspace's PATs (a member's own only); never a secret.
pub async fn list_pats(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit()?;
    let before = query.into_inner().before;
    let who = p.acting()?;
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::pats::list(conn, &ws, who.only_own(), before.as_deref(), limit)).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(json!({"items": items.iter().map(|p| pat_json(p, now)).collect::<Vec<_>>()})))
}

async fn load(state: &AppState, p: &Principal, id: String) -> Result<Pat, AppError> {
    let (ws, who) = (p.workspace.id.clone(), p.acting()?);
    state.db.read(move |conn| pats::get_manageable(conn, &ws, &PatId(id), &who)).await
}

/// A host credential that may manage the PAT.
pub async fn get_pat(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let pat = load(&state, &p, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(pat_json(&pat, state.clock.now())))
}

#[derive(Deserialize)]
pub struct UpdatePat {
    name: Option<String>,
    daily_cap_usd: Option<Value>,
}

/// A host credential that may manage the PAT: rename, or change the cap.
pub async fn update_pat(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
    body: web::Json<UpdatePat>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let name = body.name.as_deref().map(pats::parse_name).transpose()?;
    let cap = parse_cap(body.daily_cap_usd.as_ref())?;
    let pat = load(&state, &p, id.into_inner()).await?;
    let (actor, meta, now) = (actor_of(&p), request_meta(&req, &state), state.clock.now());
    let pat =
        state.db.write(move |tx| pats::update(tx, &pat, name, cap, &By { actor: &actor, meta: &meta, now })).await?;
    Ok(HttpResponse::Ok().json(pat_json(&pat, now)))
}

/// A host credential that may manage the PAT: it and every JWT exchanged
/// from it stop working on their next request.
pub async fn revoke_pat(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let pat = load(&state, &p, id.into_inner()).await?;
    let (actor, meta, now) = (actor_of(&p), request_meta(&req, &state), state.clock.now());
    let pat = state.db.write(move |tx| pats::revoke(tx, &pat, &By { actor: &actor, meta: &meta, now })).await?;
    Ok(HttpResponse::Ok().json(pat_json(&pat, now)))
}
