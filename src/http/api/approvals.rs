//! `/v1/approvals` (docs/API.md §5.9): hosts decide the checkouts that wait
//! for a person.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::actor_of;
use crate::db;
use crate::domain::audit::{self, Event};
use crate::domain::checkouts;
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::api::checkouts::approval_view;
use crate::http::bearer::HostCaller;
use crate::model::ApprovalStatus;
use crate::model::ids::ApprovalId;
use crate::state::AppState;
use crate::wire::Items;

#[derive(Deserialize)]
pub struct StatusQuery {
    status: Option<String>,
}

/// A host credential: the workspace's approvals, newest first.
pub async fn list_approvals(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, AppError> {
    let status = match query.into_inner().status {
        None => None,
        Some(s) => Some(
            ApprovalStatus::parse(&s)
                .ok_or_else(|| AppError::Validation("status: pending, approved, denied or expired.".into()))?,
        ),
    };
    let (ws, now) = (p.workspace.id.clone(), state.clock.now());
    let items = state.db.read(move |conn| db::approvals::list(conn, &ws, status, now, 200)).await?;
    Ok(HttpResponse::Ok().json(Items { items: items.iter().map(|a| approval_view(a, now)).collect() }))
}

/// Who decided, as the audit trail and the approval record it.
pub fn decider_of(p: &Principal) -> String {
    match &p.user {
        Some(u) => u.email.clone(),
        None => "a management credential".into(),
    }
}

/// Approves or denies in one transaction; the audit says who, and whether
/// the approval went past a cap on purpose.
pub async fn decide(
    state: &AppState,
    ws: crate::domain::ids::WorkspaceId,
    id: ApprovalId,
    approve: bool,
    who: crate::domain::principal::Acting,
    decider: String,
    origin: crate::domain::agents::Origin,
) -> Result<db::approvals::Approval, AppError> {
    let now = origin.now;
    let decided = state
        .db
        .write(move |tx| {
            let (a, past_cap) = checkouts::decide(tx, &ws, &id, approve, &who, &decider, now)?;
            let kind = if approve { "approval.approved" } else { "approval.denied" };
            let mut event =
                Event::success(Some(&ws), &origin.actor, kind, &origin.meta).target("approval", a.id.clone());
            if past_cap {
                event.reason = Some(format!("approved past the PAT's cap by {decider}"));
            }
            audit::record(tx, event, now)?;
            Ok(a)
        })
        .await?;
    state.webhooks.send("approval.decided", approval_view(&decided, now), now.0);
    Ok(decided)
}

async fn decide_api(
    req: HttpRequest,
    state: web::Data<AppState>,
    p: Principal,
    id: ApprovalId,
    approve: bool,
) -> Result<HttpResponse, AppError> {
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let a = decide(&state, p.workspace.id.clone(), id, approve, p.acting()?, decider_of(&p), origin).await?;
    Ok(HttpResponse::Ok().json(approval_view(&a, state.clock.now())))
}

/// A host credential: approves; the checkout is created now.
pub async fn approve(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<ApprovalId>,
) -> Result<HttpResponse, AppError> {
    decide_api(req, state, p, id.into_inner(), true).await
}

/// A host credential: denies.
pub async fn deny(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<ApprovalId>,
) -> Result<HttpResponse, AppError> {
    decide_api(req, state, p, id.into_inner(), false).await
}
