//! `/`: the overview, the clean default page.

use crate::http::auth::SessionForm;
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

/// A checkout waiting for a person.
pub struct ApprovalRow {
    pub id: String,
    pub agent: String,
    pub amount: String,
    pub description: String,
    pub spent_today: String,
    pub cap: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    nav: Nav,
    approvals: Vec<ApprovalRow>,
    events: Vec<EventRow>,
    checkouts: Vec<CheckoutRow>,
    spend: Vec<SpendRow>,
}

/// A logged-in person: checkouts, today's spend and recent activity of
/// their workspace.
pub async fn overview_page(state: web::Data<AppState>, browser: Browser) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let now = state.clock.now();
    let today = crate::domain::checkouts::utc_day(now);
    let (events, checkouts, spend, approvals) = state
        .db
        .read(move |conn| {
            let pending = db::approvals::list(conn, &ws, Some(crate::model::ApprovalStatus::Pending), now, 50)?;
            let mut approvals = Vec::with_capacity(pending.len());
            for a in pending {
                let standing = crate::domain::checkouts::standing(conn, &a.pat_id, now)?;
                let agent = db::agents::find(conn, &ws, &a.agent_id)?.map(|x| x.name).unwrap_or_default();
                approvals.push((a, standing, agent));
            }
            Ok((
                db::audit::list_for_workspace(conn, &ws, None, 20)?,
                db::checkouts::list(conn, &ws, None, 20)?,
                db::checkouts::spend_by_pat(conn, &ws, today)?,
                approvals,
            ))
        })
        .await?;
    let usd = |c: i64| AmountCents::from_cents(c).map(|a| a.to_string()).unwrap_or_default();
    page(&OverviewPage {
        nav: Nav::new(&browser, "overview"),
        approvals: approvals
            .into_iter()
            .map(|(a, s, agent)| ApprovalRow {
                agent,
                amount: usd(a.amount_cents),
                description: a.description,
                spent_today: usd(s.day.spent),
                cap: s.day.cap.map(usd).unwrap_or_default(),
                expires: a.expires_at.display(),
                id: a.id.0,
            })
            .collect(),
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

#[derive(serde::Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// A person, mode on: approves or denies a waiting checkout (members only
/// for agents they own). Audited with who decided.
pub async fn decide_approval(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    crate::http::auth::AgentConsole(browser): crate::http::auth::AgentConsole,
    id: web::Path<crate::model::ids::ApprovalId>,
    form: SessionForm<DecisionForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(HtmlError::BadRequest("Choose Approve or Deny.".into())),
    };
    let (ws, who, id) = (browser.workspace().id.clone(), browser.acting(), id.into_inner());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let decider = browser.session.email.clone();
    crate::http::api::approvals::decide(&state, ws, id, approve, who, decider, origin).await?;
    Ok(super::see_other("/"))
}

crate::http::auth::csrf_forms!(DecisionForm);
