//! `POST /v1/revoke` (RFC 7009, docs/API.md §5.6): a credential revokes
//! itself, or an owner's (or management) credential revokes any token of its
//! workspace.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::actor_of;
use crate::db;
use crate::domain::audit::{self, Event};
use crate::domain::pats;
use crate::domain::principal::CredentialKind;
use crate::domain::sessions;
use crate::error::AppError;
use crate::http::bearer::{AnyCaller, introspect};
use crate::model::ids::SessionId;
use crate::state::AppState;

/// Any credential, for itself; an owner's or management credential, for any
/// token of its workspace. As RFC 7009 asks, an unknown or already dead
/// token answers 200 too (and another workspace's token is unknown here).
pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    AnyCaller(caller): AnyCaller,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let token = super::token_param(&req, &body)?;
    let done = || HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({}));
    let Some(target) = introspect(&req, &state, &token).await else { return Ok(done()) };
    if target.workspace.id != caller.workspace.id {
        return Ok(done());
    }
    if !caller.may_revoke(&target) {
        return Err(AppError::Scope("Only the token itself or an owner of the workspace can revoke it.".into()));
    }

    let origin = crate::http::origin(actor_of(&caller), &req, &state);
    let now = origin.now;
    let ws = target.workspace.id.clone();
    let cred = target.credential.clone();
    state
        .db
        .write(move |tx| {
            let by = origin.by();
            match cred.kind {
                CredentialKind::Pat => {
                    let id = cred.pat_id.clone().ok_or(AppError::NotFound)?;
                    let pat = db::pats::find(tx, &ws, &id)?.ok_or(AppError::NotFound)?;
                    pats::revoke(tx, &pat, &by).map(|_| ())
                }
                CredentialKind::Session => sessions::end(tx, &ws, &SessionId(cred.id.clone()), &by),
                CredentialKind::AccessToken => {
                    db::access_tokens::delete(tx, &ws, &cred.id)?;
                    let event = Event::success(Some(&ws), by.actor, "access_token.revoked", by.meta)
                        .target("access_token", cred.id.clone());
                    audit::record(tx, event, now)
                }
                CredentialKind::OauthAccessToken => match cred.oauth.as_ref().map(|o| o.grant_id.clone()) {
                    Some(grant) if !grant.0.is_empty() => crate::domain::oauth::revoke(tx, &ws, &grant, &by),
                    _ => Err(AppError::Validation(
                        "token: an enrolled agent's access JWT lives 10 minutes and is not revoked alone; disable the agent."
                            .into(),
                    )),
                },
                CredentialKind::Jwt | CredentialKind::CertificateJwt => Err(AppError::Validation(
                    "token: short-lived JWTs are not revoked one by one; revoke the PAT or certificate they come from."
                        .into(),
                )),
            }
        })
        .await?;
    Ok(done())
}
