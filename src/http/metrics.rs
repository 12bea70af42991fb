//! `GET /metrics`: Prometheus text. Request counters are kept in memory by
//! the middleware (per process, like the rate limits); the rest is read
//! from the database when scraped.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use std::fmt::Write as _;

use crate::error::AppError;
use crate::http::bearer::{HostOrService, bearer_token};
use crate::state::AppState;

/// Who may scrape: a host or service credential (its workspace's gauges
/// included), or, with `LATCHKEY_METRICS_PUBLIC`, anyone without one.
pub struct MetricsReader(Option<crate::model::ids::WorkspaceId>);

impl FromRequest for MetricsReader {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let public = req.app_data::<web::Data<AppState>>().is_some_and(|s| s.config.metrics_public);
        if bearer_token(req).is_none() {
            return Box::pin(async move { if public { Ok(MetricsReader(None)) } else { Err(AppError::AuthRequired) } });
        }
        let caller = HostOrService::from_request(req, payload);
        Box::pin(async move { caller.await.map(|HostOrService(p)| MetricsReader(Some(p.workspace.id))) })
    }
}

/// Request counters are per process; the gauges count the caller's own
/// workspace only (and are left out when the endpoint is public).
pub async fn metrics(
    MetricsReader(caller_ws): MetricsReader,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut out = String::new();
    state.metrics.render(&mut out);
    let _ = writeln!(
        out,
        "# HELP latchkey_audit_queue_overflow_total Refusals that found the audit queue full and were written by their request.\n\
         # TYPE latchkey_audit_queue_overflow_total counter\nlatchkey_audit_queue_overflow_total {}",
        state.audit.overflowed()
    );
    let stats = state.db.write_stats();
    let _ = writeln!(
        out,
        "# HELP latchkey_db_writes_total Database writes of requests.\n# TYPE latchkey_db_writes_total counter\n\
         latchkey_db_writes_total {}\n\
         # HELP latchkey_db_commits_total Transactions that carried them (group commit).\n\
         # TYPE latchkey_db_commits_total counter\nlatchkey_db_commits_total {}",
        stats.writes.load(std::sync::atomic::Ordering::Relaxed),
        stats.commits.load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Some(ws) = caller_ws {
        let now = state.clock.now();
        let counts = state
            .db
            .read(move |conn| {
                let one = |sql: &str| -> Result<i64, AppError> {
                    Ok(conn.query_row(sql, crate::params![ws, now.0], |r| r.get(0))?)
                };
                Ok([
                    (
                        "latchkey_agents",
                        "Agents of this workspace, any status.",
                        one("SELECT COUNT(*) FROM agents WHERE workspace_id = ?1 AND CAST(?2 AS BIGINT) IS NOT NULL")?,
                    ),
                    (
                        "latchkey_pats_live",
                        "PATs of this workspace neither revoked nor expired.",
                        one("SELECT COUNT(*) FROM pats WHERE workspace_id = ?1 AND revoked_at IS NULL AND expires_at > ?2")?,
                    ),
                    (
                        "latchkey_runtime_sessions_live",
                        "Key-bound sessions of this workspace neither ended nor expired.",
                        one("SELECT COUNT(*) FROM runtime_sessions WHERE workspace_id = ?1 AND ended_at IS NULL AND expires_at > ?2")?,
                    ),
                    (
                        "latchkey_checkouts_today",
                        "Checkouts of this workspace since UTC midnight.",
                        one("SELECT COUNT(*) FROM checkouts WHERE workspace_id = ?1 AND utc_day = CAST(?2 AS BIGINT) / 86400")?,
                    ),
                ])
            })
            .await?;
        for (name, help, value) in counts {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out))
}
