//! `/v1/members` (docs/API.md §5.10): owners manage who is in the workspace.

use actix_web::{HttpRequest, HttpResponse, web};

use super::actor_of;
use crate::db;
use crate::domain::ids::UserId;
use crate::domain::{Email, Role, members};
use crate::error::AppError;
use crate::http::bearer::OwnerCaller;
use crate::state::AppState;
use crate::wire::workspace as wire;

fn parse_role(raw: Option<&str>) -> Result<Role, AppError> {
    raw.and_then(Role::parse).ok_or_else(|| AppError::Validation("role: owner or member.".into()))
}

/// A member as the API shows it.
pub fn view(m: &db::memberships::Member) -> wire::Member {
    wire::Member {
        user_id: m.user_id.0.clone(),
        email: m.email.clone(),
        name: m.name.clone(),
        role: m.role,
        joined_at: m.joined_at.to_rfc3339(),
    }
}

/// An owner: the workspace's members.
pub async fn list_members(state: web::Data<AppState>, OwnerCaller(p): OwnerCaller) -> Result<HttpResponse, AppError> {
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::memberships::list_for_workspace(conn, &ws)).await?;
    Ok(HttpResponse::Ok().json(crate::wire::Items { items: items.iter().map(view).collect() }))
}

/// An owner: a one-time invitation link for `email` (7 days), the same
/// answer whether or not the email has an account.
pub async fn invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    body: web::Json<wire::Invite>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let email = Email::parse(&body.email).ok_or_else(|| AppError::Validation("email: an email address.".into()))?;
    let role = parse_role(Some(body.role.as_deref().unwrap_or("member")))?;
    let inviter = p.user.as_ref().map(|u| u.id.clone());
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let ws = p.workspace.id.clone();
    let shown = email.as_str().to_string();
    let (token, expires) =
        state.db.write(move |tx| members::invite(tx, &ws, &email, role, inviter.as_ref(), &origin.by())).await?;
    Ok(HttpResponse::Created().json(wire::Invitation {
        email: shown,
        role,
        invitation_url: state.config.url(&format!("/invite/{}", token.expose())),
        expires_at: expires.to_rfc3339(),
    }))
}

/// An owner: changes a member's role (the last owner stays one).
pub async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    id: web::Path<String>,
    body: web::Json<wire::ChangeRole>,
) -> Result<HttpResponse, AppError> {
    let role = parse_role(body.role.as_deref())?;
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let (ws, user) = (p.workspace.id.clone(), UserId(id.into_inner()));
    let member = state
        .db
        .write(move |tx| {
            members::change_role(tx, &ws, &user, role, &origin.by())?;
            db::memberships::list_for_workspace(tx, &ws)?
                .into_iter()
                .find(|m| m.user_id == user)
                .ok_or(AppError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&member)))
}

/// An owner: removes a member; their PATs stop at once.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let (ws, user) = (p.workspace.id.clone(), UserId(id.into_inner()));
    state.db.write(move |tx| members::remove(tx, &ws, &user, &origin.by())).await?;
    Ok(HttpResponse::NoContent().finish())
}
