//! `/dashboard/audit`: the workspace's audit trail (Agent Security Mode on).

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{EventRow, Nav, page};
use crate::db;
use crate::error::HtmlError;
use crate::http::auth::AgentConsole;
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    nav: Nav,
    events: Vec<EventRow>,
    paged: bool,
    next_before: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<String>,
}

/// A logged-in person, with the mode on: every event, newest first.
pub async fn audit_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let before = query.into_inner().before.filter(|b| !b.is_empty());
    let paged = before.is_some();
    state.audit.flush().await?;
    let events =
        state.db.read(move |conn| db::audit::list_for_workspace(conn, &ws, before.as_deref(), PAGE_SIZE)).await?;
    let next_before = (events.len() == PAGE_SIZE as usize).then(|| events.last().map(|e| e.id.clone())).flatten();
    page(&AuditPage {
        nav: Nav::new(&browser, "audit"),
        events: events.into_iter().map(EventRow::from).collect(),
        paged,
        next_before,
    })
}
