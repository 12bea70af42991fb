//! `GET /v1/audit` (docs/API.md §5.6).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db;
use crate::db::audit::{AuditEvent, AuditFilter};
use crate::error::AppError;
use crate::http::bearer::HostCaller;
use crate::state::AppState;
use crate::wire::workspace as wire;

/// An audit event as the API shows it.
pub fn view(e: &AuditEvent) -> wire::AuditEvent {
    wire::AuditEvent {
        id: e.id.clone(),
        created_at: e.created_at.to_rfc3339(),
        last_at: e.last_at.to_rfc3339(),
        repeat_count: e.repeat_count,
        kind: e.kind.clone(),
        outcome: e.outcome,
        reason: e.reason.clone(),
        actor: wire::AuditActor { kind: e.actor_kind.clone(), id: e.actor_id.clone(), label: e.actor_label.clone() },
        target: e.target_kind.as_ref().map(|k| wire::AuditTarget { kind: k.clone(), id: e.target_id.clone() }),
        client_ip: e.client_ip.clone(),
        user_agent: e.user_agent.clone(),
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    kind: Option<String>,
    agent_id: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

/// A host or management credential: the workspace's audit trail, newest first.
pub async fn list_audit(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let limit = super::ListQuery { limit: q.limit, before: None }.limit()?;
    let filter = AuditFilter {
        kind: q.kind.filter(|k| !k.is_empty()),
        agent_id: q.agent_id.filter(|a| !a.is_empty()),
        before: q.before.filter(|b| !b.is_empty()),
        ..Default::default()
    };
    let ws = p.workspace.id.clone();
    // Refusals still on their way are part of the trail asked for.
    state.audit.flush().await?;
    let items = state.db.read(move |conn| db::audit::list_filtered(conn, &ws, &filter, limit)).await?;
    Ok(HttpResponse::Ok().json(crate::wire::Items { items: items.iter().map(view).collect() }))
}
