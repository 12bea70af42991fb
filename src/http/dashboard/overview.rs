//! `/`: the overview, the clean default page.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{EventRow, Nav, page};
use crate::db;
use crate::error::HtmlError;
use crate::http::auth::Browser;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    nav: Nav,
    events: Vec<EventRow>,
}

/// A logged-in person: recent activity of their workspace.
pub async fn overview_page(state: web::Data<AppState>, browser: Browser) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let events = state.db.read(move |conn| db::audit::list_for_workspace(conn, &ws, None, 20)).await?;
    page(&OverviewPage {
        nav: Nav::new(&browser, "overview"),
        events: events.into_iter().map(EventRow::from).collect(),
    })
}
