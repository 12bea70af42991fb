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
    let scopes = state.db.read_here(crate::db::resources::all_scopes).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(super::oauth::metadata(&state, scopes)))
}

/// Anyone: the same document path-inserted (RFC 8414 §3.1) for an issuer
/// with a path, e.g. `/.well-known/oauth-authorization-server/auth` for
/// `https://example.com/auth`; 404 for any other path.
pub async fn oauth_metadata_for_path(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, crate::error::AppError> {
    let issuer_path = url::Url::parse(&state.config.public_url).map(|u| u.path().to_string()).unwrap_or_default();
    if issuer_path.trim_matches('/').is_empty() || issuer_path.trim_matches('/') != path.trim_matches('/') {
        return Err(crate::error::AppError::NotFound);
    }
    oauth_metadata(state).await
}
