//! `/dashboard/resources` (Agent Security Mode on): the services this
//! workspace guards, their rules, and ready-to-paste proxy snippets.

use crate::http::auth::OwnerConsole;
use crate::http::auth::SessionForm;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, page_with_status, see_other};
use crate::db;
use crate::domain::Role;
use crate::domain::resources::snippets::{self, Targets};
use crate::domain::resources::{self, Fields, Resource};
use crate::error::{AppError, HtmlError};
use crate::http::auth::{AgentConsole, Browser};
use crate::state::AppState;

/// Where the snippets send allowed requests until the host edits them.
const UPSTREAM_PLACEHOLDER: &str = "http://127.0.0.1:3000";

pub struct ResourceRow {
    pub id: String,
    pub name: String,
    pub identifier: String,
    pub rules: usize,
}

/// The create and edit form, as typed (kept when something is wrong).
#[derive(Deserialize, Default)]
pub struct ResourceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub identifier: String,
    #[serde(default)]
    pub scopes: String,
    #[serde(default)]
    pub rules: String,
}

#[derive(Template)]
#[template(path = "dashboard/resources.html")]
struct ResourcesPage {
    nav: Nav,
    resources: Vec<ResourceRow>,
    is_owner: bool,
    form: ResourceForm,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/resource.html")]
struct ResourcePage {
    nav: Nav,
    id: String,
    name: String,
    identifier: String,
    metadata_url: String,
    scopes: String,
    rules: Vec<resources::Rule>,
    nginx: String,
    caddy: String,
    traefik: String,
    is_owner: bool,
    form: ResourceForm,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/confirm_delete_resource.html")]
struct ConfirmDeletePage {
    nav: Nav,
    id: String,
    name: String,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn rows(list: Vec<Resource>) -> Vec<ResourceRow> {
    list.into_iter()
        .map(|r| ResourceRow { rules: r.rules.len(), id: r.id.0, name: r.name, identifier: r.identifier })
        .collect()
}

async fn list_page(
    state: &AppState,
    browser: &Browser,
    form: ResourceForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let list = state.db.read(move |conn| db::resources::list(conn, &ws, None, 200)).await?;
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page_with_status(
        status,
        &ResourcesPage {
            nav: Nav::new(browser, "resources"),
            resources: rows(list),
            is_owner: browser.session.role == Role::Owner,
            form,
            error,
            notice,
        },
    )
}

/// A logged-in person, mode on.
pub async fn resources_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, HtmlError> {
    let notice = (query.done.as_deref() == Some("deleted")).then(|| "The resource is deleted.".to_string());
    let form = ResourceForm { rules: "GET,HEAD /\n".into(), ..ResourceForm::default() };
    list_page(&state, &browser, form, None, notice).await
}

/// The form's fields, checked like the API checks them.
fn fields(form: &ResourceForm) -> Result<Fields, AppError> {
    let (identifier, authority) = resources::parse_identifier(&form.identifier)?;
    let scopes: Vec<String> =
        form.scopes.split([' ', ',', '\n']).filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_string()).collect();
    Ok(Fields {
        name: resources::parse_name(&form.name)?,
        identifier,
        authority,
        scopes: resources::parse_scopes("scopes", &scopes)?,
        rules: resources::parse_rule_lines(&form.rules)?,
    })
}

/// An owner: a new resource; its page shows the snippets.
pub async fn create_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    form: SessionForm<ResourceForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let fields = match fields(&form) {
        Ok(f) => f,
        Err(e) => return list_page(&state, &browser, form, Some(e.user_message().into_owned()), None).await,
    };
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let ws = browser.workspace().id.clone();
    let created = state.db.write(move |tx| resources::create(tx, &ws, fields, &origin.by())).await;
    match created {
        Ok(r) => Ok(see_other(&format!("/dashboard/resources/{}?done=created", r.id))),
        Err(e @ AppError::Conflict(_)) => {
            list_page(&state, &browser, form, Some(e.user_message().into_owned()), None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn load(state: &AppState, browser: &Browser, id: String) -> Result<Resource, HtmlError> {
    let (ws, id) = (browser.workspace().id.clone(), crate::model::ids::ResourceId(id));
    state.db.read(move |conn| db::resources::find(conn, &ws, &id)).await?.ok_or(HtmlError::NotFound)
}

fn resource_page(
    state: &AppState,
    browser: &Browser,
    r: Resource,
    form: Option<ResourceForm>,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, HtmlError> {
    let targets = Targets { latchkey: &state.config.public_url, upstream: UPSTREAM_PLACEHOLDER };
    let subject = (&r).into();
    let form = form.unwrap_or_else(|| ResourceForm {
        csrf: String::new(),
        name: r.name.clone(),
        identifier: r.identifier.clone(),
        scopes: r.scopes.join(" "),
        rules: resources::rule_lines(&r.rules),
    });
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page_with_status(
        status,
        &ResourcePage {
            nav: Nav::new(browser, "resources"),
            nginx: snippets::nginx(&subject, &targets),
            caddy: snippets::caddy(&subject, &targets),
            traefik: snippets::traefik(&subject, &targets),
            metadata_url: resources::metadata_url(&r.identifier),
            scopes: r.scopes.join(" "),
            rules: if r.rules.is_empty() { vec![resources::Rule::default_rule()] } else { r.rules.clone() },
            id: r.id.0,
            name: r.name,
            identifier: r.identifier,
            is_owner: browser.session.role == Role::Owner,
            form,
            error,
            notice,
        },
    )
}

/// A logged-in person, mode on.
pub async fn resource_detail(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, HtmlError> {
    let r = load(&state, &browser, id.into_inner()).await?;
    let notice = match query.done.as_deref() {
        Some("created") => {
            Some("The resource is registered. Paste a snippet below into your proxy's configuration.".into())
        }
        Some("updated") => Some("Saved. The rules apply from the next request.".into()),
        _ => None,
    };
    resource_page(&state, &browser, r, None, None, notice)
}

/// An owner: changes the resource.
pub async fn update_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    id: web::Path<String>,
    form: SessionForm<ResourceForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let current = load(&state, &browser, id.into_inner()).await?;
    let fields = match fields(&form) {
        Ok(f) => f,
        Err(e) => {
            return resource_page(&state, &browser, current, Some(form), Some(e.user_message().into_owned()), None);
        }
    };
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let id = current.id.clone();
    let kept = current.clone();
    let updated = state.db.write(move |tx| resources::update(tx, current, fields, &origin.by())).await;
    match updated {
        Ok(_) => Ok(see_other(&format!("/dashboard/resources/{id}?done=updated"))),
        Err(e @ AppError::Conflict(_)) => {
            resource_page(&state, &browser, kept, Some(form), Some(e.user_message().into_owned()), None)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// An owner: asks first, then deletes.
pub async fn delete_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    id: web::Path<String>,
    form: SessionForm<DeleteForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let r = load(&state, &browser, id.into_inner()).await?;
    if form.confirm != "yes" {
        return page(&ConfirmDeletePage { nav: Nav::new(&browser, "resources"), id: r.id.0, name: r.name });
    }
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let ws = browser.workspace().id.clone();
    state.db.write(move |tx| resources::delete(tx, &ws, &r.id, &origin.by())).await?;
    Ok(see_other("/dashboard/resources?done=deleted"))
}

crate::http::auth::csrf_forms!(DeleteForm, ResourceForm);
