//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};

use crate::error::AppError;
use crate::state::AppState;
use crate::wire::Health;

/// Anyone: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Anyone: the database answers a query.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    // This worker's own connection: a probe costs no thread hop.
    state.db.read_here(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<i64>(0))?)).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}
