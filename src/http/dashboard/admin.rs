//! `/admin/workspaces`: instance admins (`LATCHKEY_SUPERADMIN_DOMAIN`) see
//! every workspace and create new ones. Everyone else gets 404.

use crate::http::auth::InstanceAdmin;
use crate::http::auth::SessionForm;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, see_other};
use crate::db;
use crate::domain::audit::{self, Event};
use crate::domain::{parse_workspace_name, workspaces};
use crate::error::HtmlError;
use crate::state::AppState;

pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub mode: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dashboard/workspaces.html")]
struct WorkspacesPage {
    nav: Nav,
    workspaces: Vec<WorkspaceRow>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct WorkspacesQuery {
    created: Option<String>,
}

/// An instance admin: every workspace.
pub async fn workspaces_page(
    state: web::Data<AppState>,
    InstanceAdmin(browser): InstanceAdmin,
    query: web::Query<WorkspacesQuery>,
) -> Result<HttpResponse, HtmlError> {
    let all = state.db.read(db::workspaces::list_all).await?;
    page(&WorkspacesPage {
        nav: Nav::new(&browser, "workspaces"),
        workspaces: all
            .into_iter()
            .map(|w| WorkspaceRow {
                id: w.id.0,
                name: w.name,
                mode: w.agent_security_mode,
                created: w.created_at.display(),
            })
            .collect(),
        notice: query.into_inner().created.map(|n| format!("Workspace {n} created; you are its owner.")),
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// An instance admin: a new workspace they own.
pub async fn create_workspace(
    req: HttpRequest,
    state: web::Data<AppState>,
    InstanceAdmin(browser): InstanceAdmin,
    form: SessionForm<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let name = parse_workspace_name(&form.name).map_err(HtmlError::BadRequest)?;
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let now = origin.now;
    let owner = browser.session.user_id.clone();
    let ws = state
        .db
        .write(move |tx| {
            let ws = workspaces::create_with_owner(tx, &name, &owner, now)?;
            audit::record(tx, Event::success(Some(&ws.id), &origin.actor, "workspace.created", &origin.meta), now)?;
            Ok(ws)
        })
        .await?;
    Ok(see_other(&format!("/admin/workspaces?created={}", crate::http::dashboard::url_encode(&ws.name))))
}

crate::http::auth::csrf_forms!(CreateForm);
