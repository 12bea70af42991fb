//! `/dashboard/agents` (Agent Security Mode on).

use crate::http::auth::SessionForm;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, Refilled, page, page_with_status, see_other};
use crate::db;
use crate::domain::agents;
use crate::domain::enrollment;
use crate::domain::ids::AgentId;
use crate::error::HtmlError;
use crate::http::auth::AgentConsole;
use crate::model::ids::{GrantId, SessionId};
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
    form: Refilled,
    /// The search box's text; only matching agents are listed.
    search: String,
}

#[derive(Deserialize)]
pub struct AgentsQuery {
    created: Option<String>,
    q: Option<String>,
}

/// A logged-in person, mode on: their agents (all of them for owners).
pub async fn agents_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<AgentsQuery>,
) -> Result<HttpResponse, HtmlError> {
    let query = query.into_inner();
    let notice = query.created.map(|n| format!("Agent {n} created."));
    let search = query.q.unwrap_or_default().trim().to_string();
    render(&state, &browser, notice, Refilled::default(), search).await
}

/// The list and the new-agent form: 200, or 400 with the form sent back.
async fn render(
    state: &AppState,
    browser: &crate::http::auth::Browser,
    notice: Option<String>,
    form: Refilled,
    search: String,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let who = browser.acting();
    let list = state.db.read(move |conn| db::agents::list(conn, &ws, who.only_own(), None, 200)).await?;
    let status = form.status();
    page_with_status(
        status,
        &AgentsPage {
            nav: Nav::new(browser, "agents"),
            agents: list
                .into_iter()
                .filter(|a| {
                    let needle = search.to_lowercase();
                    needle.is_empty()
                        || a.name.to_lowercase().contains(&needle)
                        || a.description.to_lowercase().contains(&needle)
                })
                .map(|a| AgentRow {
                    id: a.id.0,
                    name: a.name,
                    description: a.description,
                    status: a.status.as_str(),
                    created: a.created_at.display(),
                })
                .collect(),
            notice,
            form,
            search,
        },
    )
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
    form: SessionForm<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let send_back = |e: &crate::error::AppError| {
        Refilled::new(e, &[("name", "name"), ("description", "description")], Some("name"))
            .with("name", &form.name)
            .with("description", &form.description)
    };
    let parsed = agents::parse_name(form.name.trim())
        .and_then(|name| Ok((name, agents::parse_description(Some(&form.description))?)));
    let (name, description) = match parsed {
        Ok(p) => p,
        Err(e) => return render(&state, &browser, None, send_back(&e), String::new()).await,
    };
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let ws = browser.workspace().id.clone();
    let owner = browser.session.user_id.clone();
    let ttl = state.config.bootstrap_secret_ttl_hours;
    let created = state
        .db
        .write(move |tx| {
            let by = origin.by();
            enrollment::create_agent_with_secret(tx, &ws, &name, &description, Some(&owner), ttl, &by)
        })
        .await;
    let (agent, secret, expires) = match created {
        Ok(c) => c,
        Err(e @ crate::error::AppError::Conflict(_)) => {
            return render(&state, &browser, None, send_back(&e), String::new()).await;
        }
        Err(e) => return Err(e.into()),
    };
    stash_secret(&state, &browser, &agent.id.0, &secret.into_inner(), expires)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "dashboard/confirm_disable_agent.html")]
struct ConfirmDisablePage {
    nav: Nav,
    id: String,
    name: String,
    live_pats: i64,
    access_tokens: i64,
}

async fn set_enabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: crate::http::auth::Browser,
    id: String,
    enabled: bool,
) -> Result<HttpResponse, HtmlError> {
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let agent = state.db.read(move |conn| agents::get_manageable(conn, &ws, &AgentId(id), &who)).await?;
    let origin = crate::http::origin(browser.actor(), &req, &state);
    state.db.write(move |tx| agents::set_enabled(tx, &agent, enabled, &origin.by())).await?;
    Ok(see_other("/dashboard/agents"))
}

/// A logged-in person who may manage the agent, mode on: first a page that
/// says what stops, then (with `confirm=yes`) the disabling.
pub async fn disable_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: SessionForm<DisableForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    if form.confirm != "yes" {
        let (ws, who, now) = (browser.workspace().id.clone(), browser.acting(), state.clock.now());
        let id = AgentId(id.into_inner());
        let (agent, live_pats, access_tokens) = state
            .db
            .read(move |conn| {
                let agent = agents::get_manageable(conn, &ws, &id, &who)?;
                let pats = db::pats::count_live_for_agent(conn, &agent.id, now)?;
                let tokens = db::access_tokens::count_live_for_agent(conn, &agent.id, now)?;
                Ok((agent, pats, tokens))
            })
            .await?;
        return page(&ConfirmDisablePage {
            nav: Nav::new(&browser, "agents"),
            id: agent.id.0,
            name: agent.name,
            live_pats,
            access_tokens,
        });
    }
    set_enabled(req, state, browser, id.into_inner(), false).await
}

/// A logged-in person who may manage the agent, mode on.
pub async fn enable_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: SessionForm<CsrfOnly>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    set_enabled(req, state, browser, id.into_inner(), true).await
}

#[derive(Template)]
#[template(path = "dashboard/agent_secret.html")]
struct AgentSecretPage {
    nav: Nav,
    id: String,
    name: String,
    secret: String,
    expires: String,
    base: String,
}

/// Redirects to the page that shows a new bootstrap secret once (the secret
/// rides in the sealed reveal cookie), so a reload cannot issue another.
fn stash_secret(
    state: &AppState,
    browser: &crate::http::auth::Browser,
    id: &str,
    secret: &str,
    expires: crate::clock::Timestamp,
) -> Result<HttpResponse, HtmlError> {
    let location = format!("/dashboard/agents/{id}/secret");
    super::reveal::redirect(state, browser, &location, &format!("bootstrap:{id}"), &format!("{}\n{secret}", expires.0))
}

/// The page after creating an agent or a new bootstrap secret: the secret,
/// once. Opened again it sends the person to the agent's page.
pub async fn agent_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let id = AgentId(id.into_inner());
    let agent = state.db.read(move |conn| agents::get_manageable(conn, &ws, &id, &who)).await?;
    let stashed = super::reveal::take(&req, &state, &browser, &format!("bootstrap:{}", agent.id.0));
    let Some((expires, secret)) = stashed.as_deref().and_then(|s| s.split_once('\n')) else {
        return Ok(see_other(&format!("/dashboard/agents/{}?done=shown", agent.id.0)));
    };
    let expires = crate::clock::Timestamp(expires.parse().unwrap_or(0));
    let res = page(&AgentSecretPage {
        nav: Nav::new(&browser, "agents"),
        id: agent.id.0.clone(),
        name: agent.name.clone(),
        secret: secret.to_string(),
        expires: expires.display(),
        base: state.config.public_url.clone(),
    });
    super::reveal::shown(&state, res)
}

/// A logged-in person who may manage the agent, mode on: a new one-time
/// bootstrap secret (the old one stops working), shown once.
pub async fn new_bootstrap_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: SessionForm<CsrfOnly>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let ttl = state.config.bootstrap_secret_ttl_hours;
    let id = AgentId(id.into_inner());
    let (agent, secret, expires) =
        state.db.write(move |tx| enrollment::reissue_bootstrap_secret(tx, &ws, &id, &who, ttl, &origin.by())).await?;
    stash_secret(&state, &browser, &agent.id.0, &secret.into_inner(), expires)
}

pub struct SessionRow {
    pub id: String,
    pub label: String,
    pub thumbprint: String,
    pub started: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "dashboard/agent.html")]
struct AgentPage {
    nav: Nav,
    id: String,
    name: String,
    description: String,
    status: crate::model::AgentStatus,
    created: String,
    enrolled: Option<String>,
    thumbprint: Option<String>,
    access_tokens: i64,
    sessions: Vec<SessionRow>,
    /// An OAuth client a host approved, not an agent made here.
    oauth_client: bool,
    grants: Vec<GrantRow>,
    notice: Option<String>,
    /// The agent's PATs (live ones first) with today's spend.
    tokens: Vec<AgentTokenRow>,
    /// Its latest events, newest first.
    events: Vec<super::EventRow>,
    /// Its latest checkouts, newest first.
    checkouts: Vec<AgentCheckoutRow>,
}

pub struct AgentCheckoutRow {
    pub when: String,
    pub when_iso: String,
    pub amount: String,
    pub description: String,
    pub status: String,
}

pub struct AgentTokenRow {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub status: crate::model::PatStatus,
    pub spent_today: String,
    pub cap: String,
    pub last_used: String,
}

/// How many events the agent page shows (the audit page has the rest).
const AGENT_EVENTS: u32 = 10;

/// An OAuth grant as a row of the agent page.
pub struct GrantRow {
    pub id: String,
    pub client: String,
    pub scope: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Deserialize)]
pub struct AgentQuery {
    done: Option<String>,
}

/// A logged-in person who may manage the agent, mode on: its live sessions.
pub async fn agent_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    query: web::Query<AgentQuery>,
) -> Result<HttpResponse, HtmlError> {
    let (ws, who, now) = (browser.workspace().id.clone(), browser.acting(), state.clock.now());
    let id = AgentId(id.into_inner());
    let today = crate::domain::checkouts::utc_day(now);
    let (agent, sessions, access_tokens, grants, pats, spend, events, checkouts) = state
        .db
        .read(move |conn| {
            let agent = agents::get_manageable(conn, &ws, &id, &who)?;
            let sessions = db::runtime_sessions::list_live_for_agent(conn, &ws, &agent.id, now)?;
            let tokens = db::access_tokens::count_live_for_agent(conn, &agent.id, now)?;
            let grants = db::oauth::grants_of_agent(conn, &ws, &agent.id)?;
            let pats = db::pats::list_for_agent(conn, &ws, &agent.id, who.only_own(), 200)?;
            let spend = db::checkouts::spend_by_pat(conn, &ws, today)?;
            let filter = db::audit::AuditFilter { agent_id: Some(agent.id.0.clone()), ..Default::default() };
            let events = db::audit::list_filtered(conn, &ws, &filter, AGENT_EVENTS)?;
            let checkouts = db::checkouts::list_for_agent(conn, &ws, &agent.id, AGENT_EVENTS)?;
            Ok((agent, sessions, tokens, grants, pats, spend, events, checkouts))
        })
        .await?;
    let mut tokens: Vec<AgentTokenRow> = pats
        .iter()
        .map(|p| {
            let spent = spend.iter().find(|s| s.pat_id == p.id.0).map_or(0, |s| s.spent_cents);
            let usd =
                |c: i64| crate::domain::money::AmountCents::from_cents(c).map(|a| a.to_string()).unwrap_or_default();
            AgentTokenRow {
                id: p.id.0.clone(),
                name: p.name.clone(),
                hint: p.token_hint.clone(),
                status: crate::domain::pats::status(p, now),
                spent_today: usd(spent),
                cap: p.daily_cap.map(|c| c.to_string()).unwrap_or_default(),
                last_used: p.last_used_at.map_or_else(|| "never".to_string(), crate::clock::Timestamp::display),
            }
        })
        .collect();
    tokens.sort_by_key(|t| t.status != crate::model::PatStatus::Active);
    page(&AgentPage {
        nav: Nav::new(&browser, "agents"),
        id: agent.id.0,
        name: agent.name,
        description: agent.description,
        status: agent.status,
        created: agent.created_at.display(),
        enrolled: agent.enrolled_at.map(crate::clock::Timestamp::display),
        thumbprint: agent.key_thumbprint,
        access_tokens,
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                id: s.id.0,
                label: s.label,
                thumbprint: s.key_thumbprint,
                started: s.created_at.display(),
                expires: s.expires_at.display(),
            })
            .collect(),
        oauth_client: agent.kind == crate::model::AgentKind::OauthClient,
        grants: grants
            .into_iter()
            .map(|g| GrantRow {
                client: format!("{} ({})", g.client_name, g.client_id),
                scope: g.scope,
                created: g.created_at.display(),
                last_used: g.last_used_at.map_or_else(|| "never".to_string(), crate::clock::Timestamp::display),
                revoked: g.revoked_at.is_some(),
                id: g.id.0,
            })
            .collect(),
        notice: match query.done.as_deref() {
            Some("ended") => Some("The session has ended.".to_string()),
            Some("shown") => Some(
                "The bootstrap secret was shown once; Latchkey keeps only its hash. \
                 If it was not copied, issue a new one below (the old one stops working)."
                    .to_string(),
            ),
            Some("grant-revoked") => {
                Some("The grant is revoked: its access and refresh tokens stopped working.".into())
            }
            _ => None,
        },
        tokens,
        events: events.into_iter().map(super::EventRow::from).collect(),
        checkouts: checkouts
            .into_iter()
            .map(|c| AgentCheckoutRow {
                when: c.created_at.display(),
                when_iso: c.created_at.to_rfc3339(),
                amount: crate::domain::money::AmountCents::from_cents(c.amount_cents)
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                description: c.description,
                status: c.status.to_string(),
            })
            .collect(),
    })
}

/// A person who may manage the agent: revokes one of its OAuth grants.
pub async fn revoke_grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    path: web::Path<(String, String)>,
    form: SessionForm<CsrfOnly>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    let (agent_id, grant_id) = path.into_inner();
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let agent = AgentId(agent_id.clone());
    state
        .db
        .write(move |tx| {
            let by = origin.by();
            crate::domain::oauth::revoke_as(tx, &ws, &GrantId(grant_id), &who, Some(&agent), &by)
        })
        .await?;
    Ok(see_other(&format!("/dashboard/agents/{agent_id}?done=grant-revoked")))
}

/// A logged-in person who may manage the agent, mode on: ends one of its
/// sessions; its JWT fails on the next request.
pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    path: web::Path<(AgentId, SessionId)>,
    form: SessionForm<CsrfOnly>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    let (agent, session_id) = path.into_inner();
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let back = format!("/dashboard/agents/{}?done=ended", agent.0);
    state
        .db
        .write(move |tx| {
            let agent = agents::get_manageable(tx, &ws, &agent, &who)?;
            let session = db::runtime_sessions::find(tx, &session_id)?
                .filter(|s| s.agent_id == agent.id && s.workspace_id == ws)
                .ok_or(crate::error::AppError::NotFound)?;
            crate::domain::sessions::end(tx, &ws, &session.id, &origin.by())
        })
        .await?;
    Ok(see_other(&back))
}

crate::http::auth::csrf_forms!(CreateForm, CsrfOnly, DisableForm);
