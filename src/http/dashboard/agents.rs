//! `/dashboard/agents` (Agent Security Mode on).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, see_other};
use crate::db;
use crate::domain::agents::{self, By};
use crate::domain::ids::AgentId;
use crate::error::HtmlError;
use crate::http::auth::AgentConsole;
use crate::http::request_meta;
use crate::state::AppState;

pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: &'static str,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dashboard/agents.html")]
struct AgentsPage {
    nav: Nav,
    agents: Vec<AgentRow>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct AgentsQuery {
    created: Option<String>,
}

/// A logged-in person, mode on: their agents (all of them for owners).
pub async fn agents_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<AgentsQuery>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let who = browser.acting();
    let list = state.db.read(move |conn| db::agents::list(conn, &ws, who.only_own(), None, 200)).await?;
    page(&AgentsPage {
        nav: Nav::new(&browser, "agents"),
        agents: list
            .into_iter()
            .map(|a| AgentRow {
                id: a.id.0,
                name: a.name,
                description: a.description,
                status: a.status.as_str(),
                created: a.created_at.display(),
            })
            .collect(),
        notice: query.into_inner().created.map(|n| format!("Agent {n} created.")),
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// A logged-in person, mode on: a new agent they own.
pub async fn create_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.into_inner();
    browser.check_csrf(&form.csrf)?;
    let name = agents::parse_name(form.name.trim())?;
    let description = agents::parse_description(Some(&form.description))?;
    let (actor, meta, now) = (browser.actor(), request_meta(&req, &state), state.clock.now());
    let ws = browser.workspace().id.clone();
    let owner = browser.session.user_id.clone();
    let agent = state
        .db
        .write(move |tx| {
            agents::create(tx, &ws, &name, &description, Some(&owner), &By { actor: &actor, meta: &meta, now })
        })
        .await?;
    Ok(see_other(&format!("/dashboard/agents?created={}", agent.name)))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn set_enabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: crate::http::auth::Browser,
    id: String,
    csrf: &str,
    enabled: bool,
) -> Result<HttpResponse, HtmlError> {
    browser.check_csrf(csrf)?;
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let agent = state.db.read(move |conn| agents::get_manageable(conn, &ws, &AgentId(id), &who)).await?;
    let (actor, meta, now) = (browser.actor(), request_meta(&req, &state), state.clock.now());
    state.db.write(move |tx| agents::set_enabled(tx, &agent, enabled, &By { actor: &actor, meta: &meta, now })).await?;
    Ok(see_other("/dashboard/agents"))
}

/// A logged-in person who may manage the agent, mode on.
pub async fn disable_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, HtmlError> {
    set_enabled(req, state, browser, id.into_inner(), &form.csrf, false).await
}

/// A logged-in person who may manage the agent, mode on.
pub async fn enable_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, HtmlError> {
    set_enabled(req, state, browser, id.into_inner(), &form.csrf, true).await
}
