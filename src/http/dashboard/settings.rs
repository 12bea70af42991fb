//! `/settings`: Agent Security Mode and password; the workspace switcher.

use crate::http::auth::SessionForm;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, page_with_status, see_other};
use crate::db;
use crate::domain::ids::WorkspaceId;
use crate::domain::{self, NewPassword, Role};
use crate::error::HtmlError;
use crate::http::auth::{Browser, OwnerAction};
use crate::http::request_meta;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct SettingsPage {
    nav: Nav,
    is_owner: bool,
    notice: Option<String>,
    error: Option<String>,
    /// Webhook deliveries, when `LATCHKEY_WEBHOOK_URL` is set.
    webhooks: Option<Vec<crate::webhooks::Delivery>>,
    /// With the mode off: the live tokens turning it on brings back.
    revives: Vec<ReviveRow>,
}

/// A suspended token that works again once the mode is on.
pub struct ReviveRow {
    pub name: String,
    pub scope: &'static str,
    pub agent: String,
    pub hint: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "dashboard/confirm_mode_off.html")]
struct ConfirmModeOffPage {
    nav: Nav,
    suspended: i64,
}

#[derive(Deserialize)]
pub struct SettingsQuery {
    done: Option<String>,
}

fn settings(browser: &Browser, notice: Option<String>, error: Option<String>) -> SettingsPage {
    SettingsPage {
        nav: Nav::new(browser, "settings"),
        is_owner: browser.session.role == Role::Owner,
        notice,
        error,
        webhooks: None,
        revives: Vec::new(),
    }
}

/// A logged-in person.
pub async fn settings_page(
    state: web::Data<AppState>,
    browser: Browser,
    query: web::Query<SettingsQuery>,
) -> Result<HttpResponse, HtmlError> {
    let notice = match query.done.as_deref() {
        Some("mode-on") => Some("Agent Security Mode is on.".to_string()),
        Some("mode-off") => Some("Agent Security Mode is off; agent credentials are suspended.".to_string()),
        Some("password") => Some("Your password has been changed.".to_string()),
        _ => None,
    };
    let mut shown = settings(&browser, notice, None);
    if state.webhooks.enabled() && browser.session.role == Role::Owner {
        shown.webhooks = Some(state.webhooks.recent());
    }
    if !shown.nav.agent_mode {
        // What the switch would bring back, reviewed before pressing it.
        let (ws, who, now) = (browser.workspace().id.clone(), browser.acting(), state.clock.now());
        let pats = state.db.read(move |conn| db::pats::list(conn, &ws, who.only_own(), None, 200)).await?;
        shown.revives = pats
            .iter()
            .filter(|p| domain::pats::status(p, now) == crate::model::PatStatus::Active)
            .map(|p| ReviveRow {
                name: p.name.clone(),
                scope: p.scope.as_str(),
                agent: p.agent_name.clone().unwrap_or_default(),
                hint: p.token_hint.clone(),
                expires: p.expires_at.display(),
            })
            .collect();
    }
    page(&shown)
}

#[derive(Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    confirm: String,
}

/// An owner of the workspace. Turning the mode off first shows how many
/// credentials it suspends and asks again.
pub async fn set_security_mode(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerAction(browser): OwnerAction,
    form: SessionForm<ModeForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let on = match form.mode.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(HtmlError::BadRequest("Choose on or off.".into())),
    };
    let ws = browser.workspace().id.clone();
    if !on && form.confirm != "yes" {
        let now = state.clock.now();
        let suspended =
            state.db.read(move |conn| domain::security_mode::credentials_suspended_when_off(conn, &ws, now)).await?;
        return page(&ConfirmModeOffPage { nav: Nav::new(&browser, "settings"), suspended });
    }
    let meta = request_meta(&req, &state);
    let now = state.clock.now();
    let actor = browser.actor();
    state.db.write(move |tx| domain::security_mode::set(tx, &ws, on, &actor, &meta, now)).await?;
    Ok(see_other(if on { "/settings?done=mode-on" } else { "/settings?done=mode-off" }))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// A logged-in person with a password: changes it and ends their other sessions.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: Browser,
    form: SessionForm<PasswordForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    // Each attempt verifies the current password: a stolen cookie gets no
    // unlimited guessing loop.
    if let Err(retry_after_seconds) = state.password_limiter.check(browser.session.user_id.as_str()) {
        return Err(HtmlError::RateLimited { retry_after_seconds });
    }
    let refuse = |msg: &str| page_with_status(StatusCode::BAD_REQUEST, &settings(&browser, None, Some(msg.into())));
    let new = match NewPassword::parse(&form.new_password) {
        Ok(p) => p,
        Err(e) => return refuse(&e),
    };
    if form.new_password != form.confirm_password {
        return refuse("The two new passwords do not match.");
    }

    let user_id = browser.session.user_id.clone();
    let user = state.db.read(move |conn| db::users::find(conn, &user_id)).await?.ok_or(HtmlError::LoginRequired)?;
    let stored = user.password_hash.clone();
    let current = form.current_password;
    let (ok, new_hash) = state
        .hasher
        .run(move |hasher| {
            let ok = hasher.verify(stored.as_deref(), &current);
            let hash = if ok { Some(hasher.hash(new.expose())) } else { None };
            (ok, hash)
        })
        .await
        .map_err(HtmlError::Internal)?;
    let new_hash = match (ok, new_hash) {
        (true, Some(Ok(h))) => h,
        (true, Some(Err(e))) => return Err(HtmlError::Internal(e)),
        _ => return refuse("The current password is not right."),
    };

    let meta = request_meta(&req, &state);
    let now = state.clock.now();
    let keep = browser.session.token_hash.clone();
    let actor = browser.actor();
    state
        .db
        .write(move |tx| domain::accounts::change_password(tx, &user, &new_hash, Some(&keep), &actor, &meta, now))
        .await?;
    Ok(see_other("/settings?done=password"))
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    workspace_id: String,
}

/// A logged-in person: moves this session to another of their workspaces.
pub async fn switch_workspace(
    state: web::Data<AppState>,
    browser: Browser,
    form: SessionForm<SwitchForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let target = WorkspaceId(form.workspace_id.clone());
    if !browser.workspaces.iter().any(|(w, _)| w.id == target) {
        return Err(HtmlError::NotFound);
    }
    let hash = browser.session.token_hash.clone();
    state.db.write(move |tx| db::browser_sessions::update_workspace(tx, &hash, &target)).await?;
    Ok(see_other("/"))
}

crate::http::auth::csrf_forms!(ModeForm, PasswordForm, SwitchForm);
