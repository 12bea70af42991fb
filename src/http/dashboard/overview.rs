//! `/`: the overview, the clean default page.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{EventRow, Nav, page};
use crate::db;
use crate::domain::money::AmountCents;
use crate::error::HtmlError;
use crate::http::auth::Browser;
use crate::state::AppState;

pub struct CheckoutRow {
    pub when: String,
    pub agent: String,
    pub amount: String,
    pub description: String,
}

pub struct SpendRow {
    pub pat_id: String,
    pub pat_name: String,
    pub agent: String,
    pub spent: String,
    pub cap: String,
    pub over_80: bool,
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    nav: Nav,
    events: Vec<EventRow>,
    checkouts: Vec<CheckoutRow>,
    spend: Vec<SpendRow>,
}

/// A logged-in person: checkouts, today's spend and recent activity of
/// their workspace.
pub async fn overview_page(state: web::Data<AppState>, browser: Browser) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let today = crate::domain::checkouts::utc_day(state.clock.now());
    let (events, checkouts, spend) = state
        .db
        .read(move |conn| {
            Ok((
                db::audit::list_for_workspace(conn, &ws, None, 20)?,
                db::checkouts::list(conn, &ws, None, 20)?,
                db::checkouts::spend_by_pat(conn, &ws, today)?,
            ))
        })
        .await?;
    let usd = |c: i64| AmountCents::from_cents(c).map(|a| a.to_string()).unwrap_or_default();
    page(&OverviewPage {
        nav: Nav::new(&browser, "overview"),
        events: events.into_iter().map(EventRow::from).collect(),
        checkouts: checkouts
            .into_iter()
            .map(|c| CheckoutRow {
                when: c.created_at.display(),
                agent: c.agent_name.unwrap_or(c.agent_id.0),
                amount: usd(c.amount_cents),
                description: c.description,
            })
            .collect(),
        spend: spend
            .into_iter()
            .map(|s| SpendRow {
                over_80: s.spent_cents * 5 >= s.cap_cents * 4,
                pat_id: s.pat_id,
                pat_name: s.pat_name,
                agent: s.agent_name,
                spent: usd(s.spent_cents),
                cap: usd(s.cap_cents),
            })
            .collect(),
    })
}
