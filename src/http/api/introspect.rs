//! `POST /v1/introspect` (RFC 7662, docs/API.md §5.6): a resource server
//! asks whether a token it was shown is live, and whose it is.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::authn::{self, Use};
use crate::domain::pats::Scope;
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::bearer::{authenticate_then, prepare_introspection};
use crate::state::AppState;
use crate::wire::tokens::{Confirmation, Inactive, Introspection, Live};

fn live(p: &Principal) -> Live<'_> {
    let sub = match (&p.agent, &p.user) {
        (Some(a), _) => Some(a.id.as_str().into()),
        (None, Some(u)) => Some(u.id.as_str().into()),
        (None, None) => None,
    };
    Live {
        active: true,
        token_type: p.credential.kind.as_str().into(),
        sub,
        agent_id: p.agent.as_ref().map(|a| a.id.as_str().into()),
        workspace_id: p.workspace.id.as_str().into(),
        scope: match &p.credential.oauth {
            Some(o) => o.scopes.join(" ").into(),
            None => p.credential.scope.as_str().into(),
        },
        client_id: p.credential.oauth.as_ref().map(|o| o.client_id.as_str().into()),
        aud: p.credential.oauth.as_ref().map(|o| o.resource.as_str().into()),
        exp: p.credential.expires_at.0,
        iat: p.credential.issued_at.map(|t| t.0),
        cnf: p.credential.key_thumbprint.as_deref().map(|jkt| Confirmation { jkt: jkt.into() }),
    }
}

/// A service credential: `{active, token_type, sub, agent_id, workspace_id,
/// scope, exp, iat, cnf}` for a live token of its own workspace,
/// `{"active": false}` for anything else. The caller's credential and the
/// token asked about are resolved in one database visit.
pub async fn introspect_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let token = super::token_param(&req, &body);
    let target = token.as_ref().ok().and_then(|t| prepare_introspection(&req, &state, t));
    let now = state.clock.now();
    let settings = state.authn.clone();
    let (caller, found) =
        authenticate_then(&req, &state, &[Scope::Service], "introspect tokens; use a service PAT", move |conn, _| {
            target.and_then(|t| authn::resolve(conn, &t, Use::Introspect, &settings, now).ok())
        })
        .await?;
    token?;
    // Another workspace's token is none of this resource server's business.
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(match found.filter(|p| p.workspace.id == caller.workspace.id) {
        Some(p) => res.json(Introspection::Live(live(&p))),
        None => res.json(Introspection::Inactive(Inactive { active: false })),
    })
}
