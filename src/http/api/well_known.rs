//! Public discovery documents.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Anyone: the public keys that verify Latchkey-issued JWTs.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.keys.jwks(state.clock.now()))
}

/// Anyone: RFC 8414 metadata, so OAuth and MCP client libraries configure
/// themselves.
pub async fn oauth_metadata(state: web::Data<AppState>) -> Result<HttpResponse, crate::error::AppError> {
    let scopes = state.db.read_here(crate::db::resources::all_scopes)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(super::oauth::metadata(&state, scopes)))
}
