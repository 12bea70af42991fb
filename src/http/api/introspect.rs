//! `POST /v1/introspect` (RFC 7662, PRODUCT.md §5.6): a resource server
//! asks whether a token it was shown is live, and whose it is.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::AppError;
use crate::http::bearer::{ServiceCaller, introspect};
use crate::state::AppState;

/// A service credential: `{active, token_type, sub, agent_id, workspace_id,
/// scope, exp, iat, cnf}` for a live token of its own workspace,
/// `{"active": false}` for anything else.
pub async fn introspect_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    ServiceCaller(caller): ServiceCaller,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let token = super::token_param(&req, &body)?;
    let inactive =
        || HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({"active": false}));
    let Some(p) = introspect(&req, &state, &token).await else { return Ok(inactive()) };
    // Another workspace's token is none of this resource server's business.
    if p.workspace.id != caller.workspace.id {
        return Ok(inactive());
    }
    let sub = match (&p.agent, &p.user) {
        (Some(a), _) => Some(a.id.0.clone()),
        (None, Some(u)) => Some(u.id.0.clone()),
        (None, None) => None,
    };
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({
        "active": true,
        "token_type": p.credential.kind.as_str(),
        "sub": sub,
        "agent_id": p.agent.as_ref().map(|a| a.id.0.clone()),
        "workspace_id": p.workspace.id,
        "scope": p.credential.scope.as_str(),
        "exp": p.credential.expires_at.0,
        "iat": p.credential.issued_at.map(|t| t.0),
        "cnf": p.credential.key_thumbprint.as_ref().map(|jkt| json!({"jkt": jkt})),
    })))
}
