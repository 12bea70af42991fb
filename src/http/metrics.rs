//! `GET /metrics`: Prometheus text. Request counters are kept in memory by
//! the middleware (per process, like the rate limits); the rest is read
//! from the database when scraped.

use actix_web::{HttpRequest, HttpResponse, web};
use std::fmt::Write as _;

use crate::error::AppError;
use crate::http::bearer::{Use, authenticate, bearer_token};
use crate::state::AppState;

/// A host or service credential, or anyone with `LATCHKEY_METRICS_PUBLIC`.
/// Request counters are per process; the gauges count the caller's own
/// workspace only (and are left out when the endpoint is public).
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let caller_ws = match bearer_token(&req) {
        Some(token) => {
            let p = authenticate(&req, &state, &token, Use::Direct).await?;
            if p.credential.scope == crate::domain::pats::Scope::Agent {
                return Err(AppError::Scope("Metrics are for host and service credentials.".into()));
            }
            Some(p.workspace.id)
        }
        None if state.config.metrics_public => None,
        None => return Err(AppError::AuthRequired),
    };
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
