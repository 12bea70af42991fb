//! Public discovery documents.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Anyone: the public keys that verify Latchkey-issued JWTs.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.keys.jwks(state.clock.now()))
}
