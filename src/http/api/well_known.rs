//! Public discovery documents.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Anyone: the public keys that verify Latchkey-issued JWTs.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.keys.jwks(state.clock.now()))
}

/// Anyone: RFC 8414 metadata, so OAuth client libraries configure themselves.
pub async fn oauth_metadata(state: web::Data<AppState>) -> HttpResponse {
    let c = &state.config;
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(serde_json::json!({
        "issuer": c.public_url,
        "token_endpoint": c.url(super::enrollment::TOKEN_PATH),
        "jwks_uri": c.url("/.well-known/jwks.json"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "grant_types_supported": ["client_credentials", "client_assertion"],
        "response_types_supported": [],
    }))
}
