//! `/dashboard/audit`: the workspace's audit trail (Agent Security Mode on),
//! filtered by what happened and by agent, and as CSV.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{EVENT_KINDS, EventRow, Nav, page};
use crate::db;
use crate::db::audit::{AuditEvent, AuditFilter};
use crate::error::HtmlError;
use crate::http::auth::{AgentConsole, Browser};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

/// The most rows one CSV download carries (newest first).
const CSV_ROWS: u32 = 10_000;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    nav: Nav,
    events: Vec<EventRow>,
    paged: bool,
    filtered: bool,
    kinds: Vec<Choice>,
    agents: Vec<Choice>,
    /// `success`, `failure` or empty.
    outcome: String,
    periods: Vec<Choice>,
    /// The filter as a query string (`kind=…&agent_id=…`), for the paging
    /// and CSV links.
    query: String,
    next_before: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<String>,
    kind: Option<String>,
    agent_id: Option<String>,
    outcome: Option<String>,
    /// `1h`, `24h` or `7d`: only that recent past.
    period: Option<String>,
}

/// The time ranges the filter offers, in seconds back from now.
const PERIODS: &[(&str, &str, i64)] =
    &[("1h", "Last hour", 3_600), ("24h", "Last 24 hours", 86_400), ("7d", "Last 7 days", 7 * 86_400)];

impl AuditQuery {
    /// The filter, and the period it was asked for (one of `PERIODS`).
    fn filter(self, now: crate::clock::Timestamp) -> (AuditFilter, Option<&'static str>) {
        let set = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let outcome = set(self.outcome).and_then(|o| crate::model::Outcome::parse(&o));
        let period = set(self.period).and_then(|p| PERIODS.iter().find(|(key, _, _)| *key == p));
        let since = period.map(|(_, _, back)| crate::clock::Timestamp(now.0 - back));
        let filter = AuditFilter {
            kind: set(self.kind),
            agent_id: set(self.agent_id),
            before: set(self.before),
            outcome,
            since,
        };
        (filter, period.map(|(key, _, _)| *key))
    }
}

fn query_string(f: &AuditFilter, period: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(o) = &f.outcome {
        q.append_pair("outcome", o.as_str());
    }
    if let Some(p) = period {
        q.append_pair("period", p);
    }
    if let Some(k) = &f.kind {
        q.append_pair("kind", k);
    }
    if let Some(a) = &f.agent_id {
        q.append_pair("agent_id", a);
    }
    q.finish()
}

/// A logged-in person, with the mode on: every event, newest first.
pub async fn audit_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, HtmlError> {
    let (filter, period) = query.into_inner().filter(state.clock.now());
    let paged = filter.before.is_some();
    let (events, agents) = list(&state, &browser, filter.clone(), PAGE_SIZE).await?;
    let next_before = (events.len() == PAGE_SIZE as usize).then(|| events.last().map(|e| e.id.clone())).flatten();
    let kinds = EVENT_KINDS
        .iter()
        .map(|(k, label)| Choice {
            value: (*k).to_string(),
            label: (*label).to_string(),
            selected: filter.kind.as_deref() == Some(*k),
        })
        .collect();
    let agents = agents
        .into_iter()
        .map(|a| Choice { selected: filter.agent_id.as_deref() == Some(a.id.0.as_str()), value: a.id.0, label: a.name })
        .collect();
    page(&AuditPage {
        nav: Nav::new(&browser, "audit"),
        events: events.into_iter().map(EventRow::from).collect(),
        paged,
        filtered: filter.kind.is_some()
            || filter.agent_id.is_some()
            || filter.outcome.is_some()
            || filter.since.is_some(),
        kinds,
        agents,
        outcome: filter.outcome.map(|o| o.as_str().to_string()).unwrap_or_default(),
        periods: PERIODS
            .iter()
            .map(|(key, label, _)| Choice {
                value: (*key).to_string(),
                label: (*label).to_string(),
                selected: period == Some(*key),
            })
            .collect(),
        query: query_string(&filter, period),
        next_before,
    })
}

/// The same events as CSV (at most `CSV_ROWS`, newest first), for a
/// spreadsheet or an auditor.
pub async fn audit_csv(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, HtmlError> {
    let (filter, _) = query.into_inner().filter(state.clock.now());
    let (events, _) = list(&state, &browser, filter, CSV_ROWS).await?;
    let mut out = String::from(
        "time,actor_kind,actor_id,actor,event,kind,target_kind,target_id,outcome,reason,repeats,client_ip,user_agent\r\n",
    );
    for e in &events {
        let fields = [
            e.created_at.to_rfc3339(),
            e.actor_kind.clone(),
            e.actor_id.clone().unwrap_or_default(),
            e.actor_label.clone().unwrap_or_default(),
            super::event_label(&e.kind),
            e.kind.clone(),
            e.target_kind.clone().unwrap_or_default(),
            e.target_id.clone().unwrap_or_default(),
            e.outcome.to_string(),
            e.reason.clone().unwrap_or_default(),
            e.repeat_count.to_string(),
            e.client_ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"latchkey-audit.csv\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

/// One CSV field (RFC 4180 quoting). A field a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first: a user agent is the caller's to
/// choose) is prefixed with `'`.
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{f}") } else { f.to_string() };
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
}

async fn list(
    state: &AppState,
    browser: &Browser,
    filter: AuditFilter,
    limit: u32,
) -> Result<(Vec<AuditEvent>, Vec<db::agents::Agent>), HtmlError> {
    let ws = browser.workspace().id.clone();
    let who = browser.acting();
    // Refusals still on their way are part of the trail asked for.
    state.audit.flush().await?;
    Ok(state
        .db
        .read(move |conn| {
            Ok((
                db::audit::list_filtered(conn, &ws, &filter, limit)?,
                db::agents::list(conn, &ws, who.only_own(), None, 200)?,
            ))
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_never_run_as_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1+2"), "'-1+2");
    }
}
