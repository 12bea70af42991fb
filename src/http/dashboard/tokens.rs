//! `/dashboard/tokens` (Agent Security Mode on): create (shown once), list,
//! change a cap, revoke with confirmation.

use crate::http::auth::SessionForm;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, see_other};
use crate::clock::Timestamp;
use crate::db;
use crate::db::pats::Pat;
use crate::domain::Role;
use crate::domain::ids::PatId;
use crate::domain::money::AmountCents;
use crate::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
use crate::error::{AppError, HtmlError};
use crate::http::auth::{AgentConsole, Browser};
use crate::model::OverLimit;
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
    pub status: crate::model::PatStatus,
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
    form: super::Refilled,
    /// Revoked and expired tokens are listed only when asked for.
    show_all: bool,
    hidden: usize,
    search: String,
}

#[derive(Deserialize, Default)]
pub struct TokensQuery {
    show: Option<String>,
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/token_created.html")]
struct TokenCreatedPage {
    nav: Nav,
    id: String,
    name: String,
    token: String,
    /// `host`, `agent` or `service`: the next step differs.
    scope: &'static str,
    agent_name: String,
    public_url: String,
}

#[derive(Template)]
#[template(path = "dashboard/token.html")]
struct TokenPage {
    nav: Nav,
    t: TokenRow,
    audience: &'static str,
    created: String,
    notice: Option<String>,
    limits: Option<Limits>,
    /// The last 30 days' spend as an SVG bar chart (agent PATs).
    chart: Option<String>,
}

/// An agent PAT's limits, as the form shows them ("" for none).
pub struct Limits {
    pub max_checkout: String,
    pub weekly: String,
    pub monthly: String,
    pub ask: bool,
    pub approval_above: String,
}

/// Thirty days of spend as bars, the daily cap as a line: plain SVG, no
/// script.
fn spend_chart(per_day: &[(i64, i64)], today: i64, cap: i64) -> String {
    let (w, h, bar) = (600.0_f64, 120.0_f64, 20.0_f64);
    let max = per_day.iter().map(|(_, c)| *c).max().unwrap_or(0).max(cap).max(1) as f64;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="Spend per day, last 30 days">"#
    );
    for (i, day) in (today - 29..=today).enumerate() {
        let cents = per_day.iter().find(|(d, _)| *d == day).map_or(0, |(_, c)| *c);
        let bh = (cents as f64 / max * (h - 10.0)).round();
        let usd = crate::domain::money::AmountCents::from_cents(cents).map(|a| a.to_string()).unwrap_or_default();
        let date = crate::clock::Timestamp(day * 86_400).to_rfc3339();
        out.push_str(&format!(
            r##"<rect x="{x}" y="{y}" width="{bw}" height="{bh}" fill="#4a6fa5"><title>{d}: ${usd}</title></rect>"##,
            x = i as f64 * bar,
            y = h - bh,
            bw = bar - 4.0,
            d = &date[..10],
        ));
    }
    let y = h - (cap as f64 / max * (h - 10.0)).round();
    out.push_str(&format!(
        r##"<line x1="0" y1="{y}" x2="{w}" y2="{y}" stroke="#b3261e" stroke-dasharray="4 3"><title>daily cap</title></line></svg>"##
    ));
    out
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
    query: web::Query<TokensQuery>,
) -> Result<HttpResponse, HtmlError> {
    render(&state, &browser, super::Refilled::default(), query.into_inner()).await
}

/// The list and the new-token form: 200, or 400 with the form sent back.
async fn render(
    state: &AppState,
    browser: &Browser,
    form: super::Refilled,
    query: TokensQuery,
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
    let status = form.status();
    let show_all = query.show.as_deref() == Some("all");
    let search = query.q.unwrap_or_default().trim().to_string();
    let needle = search.to_lowercase();
    let matching: Vec<TokenRow> = list
        .iter()
        .map(|p| TokenRow::new(p, now))
        .filter(|t| {
            needle.is_empty()
                || t.name.to_lowercase().contains(&needle)
                || t.agent.as_deref().is_some_and(|a| a.to_lowercase().contains(&needle))
                || t.hint.to_lowercase().contains(&needle)
        })
        .collect();
    let (shown, rest): (Vec<TokenRow>, Vec<TokenRow>) =
        matching.into_iter().partition(|t| show_all || t.status == crate::model::PatStatus::Active);
    let hidden = rest.len();
    super::page_with_status(
        status,
        &TokensPage {
            nav: Nav::new(browser, "tokens"),
            tokens: shown,
            agent_names: agents.into_iter().map(|a| a.name).collect(),
            default_cap: state.config.default_daily_cap.to_string(),
            is_owner: browser.session.role == Role::Owner,
            notice: None,
            form,
            show_all,
            hidden,
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

/// A logged-in person, mode on: mints a PAT they own, then redirects to the
/// page that shows it once (a reload of that page creates nothing).
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    form: SessionForm<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    // A mistake sends the form back with what was typed, the message beside
    // its field (the domain names some fields as the API does).
    let send_back = |e: &AppError| {
        let fields = [
            ("name", "name"),
            ("agent_name", "agent_name"),
            ("agent_id", "agent_name"),
            ("expires_in_days", "expires_in_days"),
            ("daily_cap_usd", "daily_cap_usd"),
            ("daily_cap", "daily_cap_usd"),
        ];
        super::Refilled::new(e, &fields, None)
            .with("name", &form.name)
            .with("scope_type", &form.scope_type)
            .with("agent_name", &form.agent_name)
            .with("audience", &form.audience)
            .with("expires_in_days", &form.expires_in_days)
            .with("daily_cap_usd", &form.daily_cap_usd)
    };
    if Scope::parse(&form.scope_type) == Some(Scope::Agent) && form.agent_name.trim().is_empty() {
        let e =
            AppError::Validation("agent_name: an agent token needs the agent's name (a new name creates it).".into());
        return render(&state, &browser, send_back(&e), TokensQuery::default()).await;
    }
    let mint = match mint_request(&form) {
        Ok(m) => m,
        Err(e) => return render(&state, &browser, send_back(&e), TokensQuery::default()).await,
    };
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let ws = browser.workspace().id.clone();
    let minter = browser.acting();
    let default_cap = state.config.default_daily_cap;
    let minted = state.db.write(move |tx| pats::mint(tx, &ws, &minter, mint, default_cap, &origin.by())).await;
    let (token, pat) = match minted {
        Ok(m) => m,
        Err(AppError::NotFound) => {
            let e = AppError::Validation("agent_name: no agent by that name that you may mint for.".into());
            return render(&state, &browser, send_back(&e), TokensQuery::default()).await;
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            return render(&state, &browser, send_back(&e), TokensQuery::default()).await;
        }
        Err(e) => return Err(e.into()),
    };
    let location = format!("/dashboard/tokens/{}/created", pat.id.0);
    super::reveal::redirect(&state, &browser, &location, &format!("token:{}", pat.id.0), &token.into_inner())
}

/// The page after a create: the new token, once. Opened again (a reload,
/// the back button) it sends the person to the token's details instead.
pub async fn token_created(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let pat = load(&state, &browser, id.into_inner()).await?;
    let Some(token) = super::reveal::take(&req, &state, &browser, &format!("token:{}", pat.id.0)) else {
        return Ok(see_other(&format!("/dashboard/tokens/{}?done=shown", pat.id.0)));
    };
    let res = page(&TokenCreatedPage {
        nav: Nav::new(&browser, "tokens"),
        id: pat.id.0.clone(),
        name: pat.name.clone(),
        token,
        scope: pat.scope.as_str(),
        agent_name: pat.agent_name.clone().unwrap_or_default(),
        public_url: state.config.public_url.clone(),
    });
    super::reveal::shown(&state, res)
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
        Some("limits") => Some("The limits have been changed; they apply from the next checkout.".to_string()),
        Some("revoked") => Some("The token has been revoked.".to_string()),
        Some("shown") => Some(
            "This token was shown once, when it was created; Latchkey keeps only its hash. \
             If it was not copied, revoke it and create another."
                .to_string(),
        ),
        _ => None,
    };
    let now = state.clock.now();
    let today = crate::domain::checkouts::utc_day(now);
    let (limits, chart) = if pat.scope == crate::domain::pats::Scope::Agent {
        let id = pat.id.clone();
        let (budget, per_day) = state
            .db
            .read(move |conn| Ok((db::budgets::find(conn, &id)?, db::checkouts::spend_per_day(conn, &id, today - 29)?)))
            .await?;
        let usd = |c: Option<i64>| c.and_then(AmountCents::from_cents).map(|a| a.to_string()).unwrap_or_default();
        let cap = pat.daily_cap.map_or(0, AmountCents::cents);
        (
            Some(Limits {
                max_checkout: usd(budget.max_checkout_cents),
                weekly: usd(budget.weekly_cap_cents),
                monthly: usd(budget.monthly_cap_cents),
                ask: budget.over_limit == OverLimit::Ask,
                approval_above: usd(budget.approval_above_cents),
            }),
            Some(spend_chart(&per_day, today, cap)),
        )
    } else {
        (None, None)
    };
    page(&TokenPage {
        nav: Nav::new(&browser, "tokens"),
        t: TokenRow::new(&pat, now),
        audience: pat.audience.as_str(),
        created: pat.created_at.display(),
        notice,
        limits,
        chart,
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
    form: SessionForm<CapForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let cap = AmountCents::parse(form.daily_cap_usd.trim())
        .ok_or_else(|| HtmlError::BadRequest("The cap is an amount like 10.00, from 0.00 to 1000000.00.".into()))?;
    let pat = load(&state, &browser, id.into_inner()).await?;
    let id = pat.id.0.clone();
    let origin = crate::http::origin(browser.actor(), &req, &state);
    state.db.write(move |tx| pats::update(tx, &pat, None, Some(cap), &origin.by())).await?;
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
    form: SessionForm<RevokeForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
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
    let origin = crate::http::origin(browser.actor(), &req, &state);
    state.db.write(move |tx| pats::revoke(tx, &pat, &origin.by())).await?;
    Ok(see_other(&format!("/dashboard/tokens/{id}?done=revoked")))
}

#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    max_checkout_usd: String,
    #[serde(default)]
    weekly_cap_usd: String,
    #[serde(default)]
    monthly_cap_usd: String,
    #[serde(default)]
    over_limit: String,
    #[serde(default)]
    approval_above_usd: String,
}

/// A person who may manage the agent PAT, mode on: its budget (an empty
/// field removes that limit).
pub async fn change_limits(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: SessionForm<LimitsForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let pat = load(&state, &browser, id.into_inner()).await?;
    if pat.scope != crate::domain::pats::Scope::Agent {
        return Err(HtmlError::BadRequest("Only agent tokens have limits.".into()));
    }
    let money = |name: &str, raw: &str| -> Result<Option<i64>, HtmlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        AmountCents::parse(raw).filter(|a| a.cents() > 0).map(|a| Some(a.cents())).ok_or_else(|| {
            HtmlError::BadRequest(format!("{name}: an amount like 50.00 (more than 0), or empty for no limit."))
        })
    };
    let budget = db::budgets::Budget {
        max_checkout_cents: money("Per-checkout maximum", &form.max_checkout_usd)?,
        weekly_cap_cents: money("Weekly cap", &form.weekly_cap_usd)?,
        monthly_cap_cents: money("Monthly cap", &form.monthly_cap_usd)?,
        over_limit: match OverLimit::parse(&form.over_limit) {
            Some(o) => o,
            None if form.over_limit.is_empty() => OverLimit::Refuse,
            None => return Err(HtmlError::BadRequest("Over a limit: refuse or ask.".into())),
        },
        approval_above_cents: money("Ask above", &form.approval_above_usd)?,
    };
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let now = origin.now;
    let (ws, pid) = (pat.workspace_id.clone(), pat.id.clone());
    state
        .db
        .write(move |tx| {
            db::budgets::set(tx, &pid, &budget)?;
            let event =
                crate::domain::audit::Event::success(Some(&ws), &origin.actor, "pat.budget_changed", &origin.meta)
                    .target("pat", pid.0.clone());
            crate::domain::audit::record(tx, event, now)
        })
        .await?;
    Ok(super::see_other(&format!("/dashboard/tokens/{}?done=limits", pat.id)))
}

crate::http::auth::csrf_forms!(CapForm, CreateForm, LimitsForm, RevokeForm);
