//! `/dashboard/tokens` (Agent Security Mode on): create (shown once), list,
//! change a cap, revoke with confirmation.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, see_other};
use crate::clock::Timestamp;
use crate::db;
use crate::db::pats::Pat;
use crate::domain::Role;
use crate::domain::agents::By;
use crate::domain::ids::PatId;
use crate::domain::money::AmountCents;
use crate::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
use crate::error::{AppError, HtmlError};
use crate::http::auth::{AgentConsole, Browser};
use crate::http::request_meta;
use crate::state::AppState;

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub scope: &'static str,
    pub agent: Option<String>,
    pub cap: Option<String>,
    pub last_used: String,
    pub expires: String,
    pub status: &'static str,
}

impl TokenRow {
    fn new(p: &Pat, now: Timestamp) -> TokenRow {
        TokenRow {
            id: p.id.0.clone(),
            name: p.name.clone(),
            hint: p.token_hint.clone(),
            scope: p.scope.as_str(),
            agent: p.agent_name.clone(),
            cap: p.daily_cap.map(|c| c.to_string()),
            last_used: p.last_used_at.map(Timestamp::display).unwrap_or_else(|| "never".into()),
            expires: p.expires_at.display(),
            status: pats::status(p, now),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/tokens.html")]
struct TokensPage {
    nav: Nav,
    tokens: Vec<TokenRow>,
    agent_names: Vec<String>,
    default_cap: String,
    is_owner: bool,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/token_created.html")]
struct TokenCreatedPage {
    nav: Nav,
    id: String,
    name: String,
    token: String,
}

#[derive(Template)]
#[template(path = "dashboard/token.html")]
struct TokenPage {
    nav: Nav,
    t: TokenRow,
    audience: &'static str,
    created: String,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/confirm_revoke.html")]
struct ConfirmRevokePage {
    nav: Nav,
    id: String,
    name: String,
    hint: String,
}

/// A logged-in person, mode on: their tokens (all of them for owners).
pub async fn tokens_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let who = browser.acting();
    let (list, agents) = state
        .db
        .read(move |conn| {
            Ok((
                db::pats::list(conn, &ws, who.only_own(), None, 200)?,
                db::agents::list(conn, &ws, who.only_own(), None, 200)?,
            ))
        })
        .await?;
    let now = state.clock.now();
    page(&TokensPage {
        nav: Nav::new(&browser, "tokens"),
        tokens: list.iter().map(|p| TokenRow::new(p, now)).collect(),
        agent_names: agents.into_iter().map(|a| a.name).collect(),
        default_cap: state.config.default_daily_cap.to_string(),
        is_owner: browser.session.role == Role::Owner,
        notice: None,
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope_type: String,
    #[serde(default)]
    agent_name: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    expires_in_days: String,
    #[serde(default)]
    daily_cap_usd: String,
}

fn mint_request(form: &CreateForm) -> Result<MintRequest, AppError> {
    let scope = Scope::parse(&form.scope_type).ok_or_else(|| AppError::Validation("Choose a scope.".into()))?;
    let audience = Audience::parse(&form.audience).ok_or_else(|| AppError::Validation("Choose an audience.".into()))?;
    let days = form
        .expires_in_days
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::Validation("expires_in_days: a whole number of days from 1 to 365.".into()))?;
    let is_agent = scope == Scope::Agent;
    let agent_name = form.agent_name.trim();
    let cap = form.daily_cap_usd.trim();
    Ok(MintRequest {
        name: pats::parse_name(&form.name)?,
        scope,
        audience,
        expires_in_days: pats::parse_expiry_days(Some(days))?,
        agent: (is_agent && !agent_name.is_empty())
            .then(|| AgentRef::Name { name: agent_name.to_string(), create: true }),
        daily_cap: if is_agent && !cap.is_empty() {
            Some(AmountCents::parse(cap).ok_or_else(|| {
                AppError::Validation("daily_cap_usd: an amount like 10.00, from 0.00 to 1000000.00.".into())
            })?)
        } else {
            None
        },
        delegated: false,
    })
}

/// A logged-in person, mode on: mints a PAT they own and shows it once.
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    browser.check_csrf(&form.csrf)?;
    let mint = mint_request(&form)?;
    let (actor, meta, now) = (browser.actor(), request_meta(&req, &state), state.clock.now());
    let ws = browser.workspace().id.clone();
    let minter = browser.acting();
    let default_cap = state.config.default_daily_cap;
    let (token, pat) = state
        .db
        .write(move |tx| pats::mint(tx, &ws, &minter, mint, default_cap, &By { actor: &actor, meta: &meta, now }))
        .await
        .map_err(|e| match e {
            AppError::NotFound => HtmlError::BadRequest("No such agent.".into()),
            other => other.into(),
        })?;
    page(&TokenCreatedPage {
        nav: Nav::new(&browser, "tokens"),
        id: pat.id.0,
        name: pat.name,
        token: token.into_inner(),
    })
}

async fn load(state: &AppState, browser: &Browser, id: String) -> Result<Pat, HtmlError> {
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    Ok(state.db.read(move |conn| pats::get_manageable(conn, &ws, &PatId(id), &who)).await?)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    done: Option<String>,
}

/// A logged-in person who may manage the PAT, mode on.
pub async fn token_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, HtmlError> {
    let pat = load(&state, &browser, id.into_inner()).await?;
    let notice = match query.done.as_deref() {
        Some("cap") => Some("The daily cap has been changed.".to_string()),
        Some("revoked") => Some("The token has been revoked.".to_string()),
        _ => None,
    };
    page(&TokenPage {
        nav: Nav::new(&browser, "tokens"),
        t: TokenRow::new(&pat, state.clock.now()),
        audience: pat.audience.as_str(),
        created: pat.created_at.display(),
        notice,
    })
}

#[derive(Deserialize)]
pub struct CapForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    daily_cap_usd: String,
}

/// A logged-in person who may manage the PAT, mode on: a new daily cap.
pub async fn change_cap(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: web::Form<CapForm>,
) -> Result<HttpResponse, HtmlError> {
    browser.check_csrf(&form.csrf)?;
    let cap = AmountCents::parse(form.daily_cap_usd.trim())
        .ok_or_else(|| HtmlError::BadRequest("The cap is an amount like 10.00, from 0.00 to 1000000.00.".into()))?;
    let pat = load(&state, &browser, id.into_inner()).await?;
    let id = pat.id.0.clone();
    let (actor, meta, now) = (browser.actor(), request_meta(&req, &state), state.clock.now());
    state.db.write(move |tx| pats::update(tx, &pat, None, Some(cap), &By { actor: &actor, meta: &meta, now })).await?;
    Ok(see_other(&format!("/dashboard/tokens/{id}?done=cap")))
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// A logged-in person who may manage the PAT, mode on: asks, then revokes.
pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, HtmlError> {
    browser.check_csrf(&form.csrf)?;
    let pat = load(&state, &browser, id.into_inner()).await?;
    if form.confirm != "yes" {
        return page(&ConfirmRevokePage {
            nav: Nav::new(&browser, "tokens"),
            id: pat.id.0.clone(),
            name: pat.name.clone(),
            hint: pat.token_hint.clone(),
        });
    }
    let id = pat.id.0.clone();
    let (actor, meta, now) = (browser.actor(), request_meta(&req, &state), state.clock.now());
    state.db.write(move |tx| pats::revoke(tx, &pat, &By { actor: &actor, meta: &meta, now })).await?;
    Ok(see_other(&format!("/dashboard/tokens/{id}?done=revoked")))
}
