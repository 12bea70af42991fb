//! `/dashboard/members` (owners) and `/invite/{token}`: who is in the
//! workspace, invitations shown once, roles, removal (docs/API.md §5.10).

use crate::http::auth::SessionForm;
use crate::http::auth::WorkspaceOwner;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page_with_status, see_other};
use crate::crypto::token::{self, TokenKind};
use crate::db;
use crate::domain::agents::By;
use crate::domain::ids::UserId;
use crate::domain::{Email, NewPassword, Role, members};
use crate::error::{AppError, HtmlError};
use crate::http::auth::{Browser, anonymous_form_token, session_cookie};
use crate::http::request_meta;
use crate::state::AppState;

pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: &'static str,
    pub joined: String,
    pub me: bool,
}

#[derive(Template)]
#[template(path = "dashboard/members.html")]
struct MembersPage {
    nav: Nav,
    members: Vec<MemberRow>,
    invitation: Option<(String, String, String)>,
    error: Option<String>,
    form_email: String,
    notice: Option<String>,
}

async fn render(
    state: &AppState,
    browser: &Browser,
    invitation: Option<(String, String, String)>,
    error: Option<String>,
    form_email: String,
    notice: Option<String>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let list = state.db.read(move |conn| db::memberships::list_for_workspace(conn, &ws)).await?;
    let me = browser.session.user_id.clone();
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page_with_status(
        status,
        &MembersPage {
            nav: Nav::new(browser, "members"),
            members: list
                .into_iter()
                .map(|m| MemberRow {
                    me: m.user_id == me,
                    user_id: m.user_id.0,
                    email: m.email,
                    role: m.role.as_str(),
                    joined: m.joined_at.display(),
                })
                .collect(),
            invitation,
            error,
            form_email,
            notice,
        },
    )
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// An owner.
pub async fn members_page(
    state: web::Data<AppState>,
    WorkspaceOwner(browser): WorkspaceOwner,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, HtmlError> {
    let notice = match query.done.as_deref() {
        Some("role") => Some("The role has been changed.".to_string()),
        Some("removed") => Some("The member has been removed; their tokens stopped working.".to_string()),
        _ => None,
    };
    render(&state, &browser, None, None, String::new(), notice).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// An owner: an invitation link, shown once.
pub async fn invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    WorkspaceOwner(browser): WorkspaceOwner,
    form: SessionForm<InviteForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let Some(email) = Email::parse(&form.email) else {
        let msg = "Enter an email address like ada@example.com.".to_string();
        return render(&state, &browser, None, Some(msg), form.email, None).await;
    };
    let role = if form.role.is_empty() { Some(Role::Member) } else { Role::parse(&form.role) };
    let Some(role) = role else {
        let msg = "Choose a role: member or owner.".to_string();
        return render(&state, &browser, None, Some(msg), form.email, None).await;
    };
    let (ws, inviter) = (browser.workspace().id.clone(), browser.session.user_id.clone());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let shown = email.as_str().to_string();
    let (token, expires) =
        state.db.write(move |tx| members::invite(tx, &ws, &email, role, Some(&inviter), &origin.by())).await?;
    let link = state.config.url(&format!("/invite/{}", token.expose()));
    render(&state, &browser, Some((shown, link, expires.display())), None, String::new(), None).await
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    action: String,
}

/// An owner: changes a role, or removes a member.
pub async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    WorkspaceOwner(browser): WorkspaceOwner,
    id: web::Path<String>,
    form: SessionForm<MemberForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let (ws, user) = (browser.workspace().id.clone(), UserId(id.into_inner()));
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let remove = form.action == "remove";
    let role = match Role::parse(&form.role) {
        Some(role) => role,
        None if remove => Role::Member,
        None => return Err(HtmlError::BadRequest("Choose a role: member or owner.".into())),
    };
    let done = state
        .db
        .write(move |tx| {
            let by = origin.by();
            if remove { members::remove(tx, &ws, &user, &by) } else { members::change_role(tx, &ws, &user, role, &by) }
        })
        .await;
    match done {
        Ok(()) => {
            Ok(see_other(if remove { "/dashboard/members?done=removed" } else { "/dashboard/members?done=role" }))
        }
        Err(e @ AppError::Conflict(_)) => {
            render(&state, &browser, None, Some(e.user_message().into_owned()), String::new(), None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    token: String,
    email: String,
    workspace: String,
    /// The account exists: accept after logging in as it.
    existing: bool,
    logged_in_as_invitee: bool,
    csrf: String,
    error: Option<String>,
}

struct Found {
    email: String,
    workspace: String,
    existing: Option<UserId>,
}

async fn find(state: &AppState, raw: &str) -> Result<([u8; 32], Found), HtmlError> {
    let gone = || {
        HtmlError::BadRequest("This invitation link is not valid, already used or expired: ask for a new one.".into())
    };
    let hash = token::parse(TokenKind::Invitation, raw).ok_or_else(gone)?;
    let now = state.clock.now();
    let found = state
        .db
        .read(move |conn| {
            let Some(inv) = db::invitations::find(conn, &hash)? else { return Ok(None) };
            if inv.used_at.is_some() || inv.expires_at <= now {
                return Ok(None);
            }
            let ws = db::workspaces::get(conn, &inv.workspace_id)?;
            let existing = db::users::find_by_email(conn, &inv.email)?.map(|u| u.id);
            Ok(Some(Found { email: inv.email, workspace: ws.name, existing }))
        })
        .await?;
    found.map(|f| (hash, f)).ok_or_else(gone)
}

/// Anyone with the link.
pub async fn invite_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let raw = raw.into_inner();
    let (_, f) = find(&state, &raw).await?;
    let browser = Browser::extract(&req).await.ok();
    let (csrf, cookie) = match &browser {
        Some(b) => (b.session.csrf_token.clone(), None),
        None => anonymous_form_token(&req, state.config.is_https()),
    };
    let mut res = page_with_status(
        StatusCode::OK,
        &InvitePage {
            logged_in_as_invitee: browser.as_ref().is_some_and(|b| Some(&b.session.user_id) == f.existing.as_ref()),
            existing: f.existing.is_some(),
            token: raw,
            email: f.email,
            workspace: f.workspace,
            csrf,
            error: None,
        },
    )?;
    if let Some(c) = cookie {
        res.add_cookie(&c).map_err(|e| HtmlError::Internal(e.to_string()))?;
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

/// Accepts: a new person sets a password (and is logged in); an existing
/// one must be logged in as the invited account.
pub async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Path<String>,
    form: SessionForm<AcceptForm>,
) -> Result<HttpResponse, HtmlError> {
    let raw = raw.into_inner();
    let (hash, f) = find(&state, &raw).await?;
    let (meta, now) = (request_meta(&req, &state), state.clock.now());
    if f.existing.is_some() {
        let browser = Browser::extract(&req)
            .await
            .map_err(|_| HtmlError::Forbidden(format!("Log in as {} first, then open the link again.", f.email)))?;
        form.check(&browser)?;
        let (me, actor) = (browser.session.user_id.clone(), browser.actor());
        state
            .db
            .write(move |tx| members::accept(tx, &hash, Some(&me), None, &By { actor: &actor, meta: &meta, now }))
            .await?;
        return Ok(see_other("/"));
    }
    let form = form.check_before_login(&req)?;
    let password = match NewPassword::parse(&form.password) {
        Ok(p) if form.password == form.confirm_password => p,
        Ok(_) => return Err(HtmlError::BadRequest("The two passwords do not match; go back and try again.".into())),
        Err(e) => return Err(HtmlError::BadRequest(e)),
    };
    let hashed = state
        .hasher
        .run(move |h| h.hash(password.expose()))
        .await
        .map_err(HtmlError::Internal)?
        .map_err(HtmlError::Internal)?;
    let ttl = state.config.dashboard_session_hours;
    let cookie = state
        .db
        .write(move |tx| {
            let by = By { actor: &crate::domain::audit::Actor::Anonymous, meta: &meta, now };
            let (_, user) = members::accept(tx, &hash, None, Some(&hashed), &by)?;
            let user = db::users::find(tx, &user)?.ok_or(AppError::NotFound)?;
            crate::domain::accounts::start_session(tx, &user, ttl, &meta, now)
        })
        .await?;
    let mut res = see_other("/");
    res.add_cookie(&session_cookie(cookie, state.config.is_https(), ttl))
        .map_err(|e| HtmlError::Internal(e.to_string()))?;
    Ok(res)
}

crate::http::auth::csrf_forms!(AcceptForm, InviteForm, MemberForm);
