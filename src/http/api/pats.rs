//! `/v1/pats` (docs/API.md §5.2).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{ListQuery, actor_of};
use crate::clock::Timestamp;
use crate::db;
use crate::db::pats::Pat;
use crate::domain::ids::{AgentId, PatId};
use crate::domain::money::AmountCents;
use crate::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::bearer::HostCaller;
use crate::model::OverLimit;
use crate::state::AppState;
use crate::wire::Items;
use crate::wire::pats as wire;

/// A PAT as the API shows it, with its budget if it is an agent's
/// (docs/API.md §5.9); `None` only for one just minted without limits.
pub fn view(p: &Pat, now: Timestamp, budget: Option<&db::budgets::Budget>) -> wire::Pat {
    let usd = |c: Option<i64>| c.and_then(AmountCents::from_cents).map(|a| a.to_string());
    let budget = (p.scope == Scope::Agent).then(|| {
        let b = budget.cloned().unwrap_or_default();
        wire::Budget {
            max_checkout_usd: usd(b.max_checkout_cents),
            weekly_cap_usd: usd(b.weekly_cap_cents),
            monthly_cap_usd: usd(b.monthly_cap_cents),
            over_limit: b.over_limit,
            approval_above_usd: usd(b.approval_above_cents),
        }
    });
    wire::Pat {
        id: p.id.0.clone(),
        name: p.name.clone(),
        workspace_id: p.workspace_id.0.clone(),
        user_id: p.user_id.as_ref().map(|u| u.0.clone()),
        scope_type: p.scope,
        audience: p.audience,
        agent_id: p.agent_id.as_ref().map(|a| a.0.clone()),
        agent_name: p.agent_name.clone(),
        token_hint: p.token_hint.clone(),
        daily_cap_usd: p.daily_cap.map(|c| c.to_string()),
        status: pats::status(p, now),
        created_at: p.created_at.to_rfc3339(),
        expires_at: p.expires_at.to_rfc3339(),
        last_used_at: p.last_used_at.map(|t| t.to_rfc3339()),
        revoked_at: p.revoked_at.map(|t| t.to_rfc3339()),
        budget,
    }
}

/// Budget fields present in a create or update body: `Some(None)` clears.
fn budget_changes(
    fields: &wire::BudgetFields,
    mut budget: db::budgets::Budget,
) -> Result<Option<db::budgets::Budget>, AppError> {
    let mut changed = false;
    let money = |name: &str, field: &Option<Value>| -> Result<Option<Option<i64>>, AppError> {
        match field {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => {
                AmountCents::parse(s).filter(|a| a.cents() > 0).map(|a| Some(Some(a.cents()))).ok_or_else(|| {
                    AppError::Validation(format!("{name}: a decimal string like \"50.00\", more than 0.00."))
                })
            }
            Some(_) => {
                Err(AppError::Validation(format!("{name}: a decimal string like \"50.00\", or null to remove it.")))
            }
        }
    };
    for (name, field, slot) in [
        ("max_checkout_usd", &fields.max_checkout_usd, &mut budget.max_checkout_cents),
        ("weekly_cap_usd", &fields.weekly_cap_usd, &mut budget.weekly_cap_cents),
        ("monthly_cap_usd", &fields.monthly_cap_usd, &mut budget.monthly_cap_cents),
    ] {
        if let Some(v) = money(name, field)? {
            *slot = v;
            changed = true;
        }
    }
    match fields.over_limit.as_ref().map(|v| v.as_str().and_then(OverLimit::parse)) {
        None => {}
        Some(Some(mode)) => {
            budget.over_limit = mode;
            changed = true;
        }
        Some(None) => return Err(AppError::Validation("over_limit: refuse or ask.".into())),
    }
    if let Some(v) = money("approval_above_usd", &fields.approval_above_usd)? {
        budget.approval_above_cents = v;
        changed = true;
    }
    Ok(changed.then_some(budget))
}

/// A money field sent as a decimal string (or, leniently, a JSON number).
fn parse_cap(v: Option<&Value>) -> Result<Option<AmountCents>, AppError> {
    let bad = || AppError::Validation("daily_cap_usd: a decimal string like \"10.00\" from 0.00 to 1000000.00.".into());
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => AmountCents::parse(s).map(Some).ok_or_else(bad),
        // Money is a decimal string (docs/API.md §4.1), as `amount_usd`: a
        // JSON number (`5.5`, `1e2`) is refused, never rounded.
        Some(_) => Err(bad()),
    }
}

fn mint_request(body: wire::MintPat) -> Result<(MintRequest, Option<db::budgets::Budget>), AppError> {
    let budget = budget_changes(&body.budget, db::budgets::Budget::default())?;
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
    if budget.is_some() && scope != Scope::Agent {
        return Err(AppError::Validation("max_checkout_usd: only agent PATs have budgets.".into()));
    }
    Ok((
        MintRequest {
            name: pats::parse_name(&body.name)?,
            scope,
            audience,
            expires_in_days: pats::parse_expiry_days(body.expires_in_days)?,
            agent,
            daily_cap: parse_cap(body.daily_cap_usd.as_ref())?,
            delegated: false,
        },
        budget,
    ))
}

/// A host credential acting as a user: mints a PAT owned by that user. The
/// token is in this response and nowhere else, ever.
pub async fn create_pat(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    body: web::Json<wire::MintPat>,
) -> Result<HttpResponse, AppError> {
    let (mut mint, budget) = mint_request(body.into_inner())?;
    mint.delegated = p.credential.kind == crate::domain::principal::CredentialKind::CertificateJwt;
    let minter = p.acting()?;
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let now = origin.now;
    let ws = p.workspace.id.clone();
    let default_cap = state.config.default_daily_cap;
    let (token, pat, budget) = state
        .db
        .write(move |tx| {
            let by = origin.by();
            let (token, pat) = pats::mint(tx, &ws, &minter, mint, default_cap, &by)?;
            if let Some(b) = &budget {
                db::budgets::set(tx, &pat.id, b)?;
            }
            Ok((token, pat, budget))
        })
        .await?;
    Ok(HttpResponse::Created()
        .json(wire::MintedPat { pat: view(&pat, now, budget.as_ref()), token: token.into_inner() }))
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
    let items = state
        .db
        .read(move |conn| {
            let pats = db::pats::list(conn, &ws, who.only_own(), before.as_deref(), limit)?;
            pats.into_iter().map(|p| Ok((db::budgets::find(conn, &p.id)?, p))).collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(Items { items: items.iter().map(|(b, p)| view(p, now, Some(b))).collect() }))
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
    let pid = pat.id.clone();
    let budget = state.db.read(move |conn| db::budgets::find(conn, &pid)).await?;
    Ok(HttpResponse::Ok().json(view(&pat, state.clock.now(), Some(&budget))))
}

/// A host credential that may manage the PAT: rename, or change the cap.
pub async fn update_pat(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
    body: web::Json<wire::UpdatePat>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let name = body.name.as_deref().map(pats::parse_name).transpose()?;
    let cap = parse_cap(body.daily_cap_usd.as_ref())?;
    let pat = load(&state, &p, id.into_inner()).await?;
    let fields = body.budget;
    if !fields.is_empty() && pat.scope != Scope::Agent {
        return Err(AppError::Validation("max_checkout_usd: only agent PATs have budgets.".into()));
    }
    // Refuse a bad field before anything changes.
    budget_changes(&fields, db::budgets::Budget::default())?;
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let now = origin.now;
    let (pat, budget) = state
        .db
        .write(move |tx| {
            let by = origin.by();
            let pat = pats::update(tx, &pat, name, cap, &by)?;
            let current = db::budgets::find(tx, &pat.id)?;
            let budget = match budget_changes(&fields, current.clone())? {
                Some(b) => {
                    db::budgets::set(tx, &pat.id, &b)?;
                    let event = crate::domain::audit::Event::success(
                        Some(&pat.workspace_id),
                        by.actor,
                        "pat.budget_changed",
                        by.meta,
                    )
                    .target("pat", pat.id.0.clone());
                    crate::domain::audit::record(tx, event, now)?;
                    b
                }
                None => current,
            };
            Ok((pat, budget))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&pat, now, Some(&budget))))
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
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let now = origin.now;
    let (pat, budget) = state
        .db
        .write(move |tx| {
            let pat = pats::revoke(tx, &pat, &origin.by())?;
            let budget = db::budgets::find(tx, &pat.id)?;
            Ok((pat, budget))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&pat, now, Some(&budget))))
}
