//! `/login` and `/logout`.

use crate::http::auth::SessionForm;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{page_with_status, see_other};
use crate::db;
use crate::domain;
use crate::domain::accounts::LOGIN_FAILED;
use crate::error::HtmlError;
use crate::http::auth::{Browser, anonymous_form_token, expired_session_cookie, session_cookie};
use crate::http::{client_ip, request_meta};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
    setup_complete: bool,
    /// Where to go after logging in (a path on this server).
    next: String,
}

/// A path on this server to return to: `/…` but never `//…` (another host).
pub fn safe_next(raw: Option<&str>) -> String {
    match raw {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains(['\\', '\r', '\n']) && n.len() <= 4096 => {
            n.to_string()
        }
        _ => "/".into(),
    }
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: String,
    error: Option<String>,
    next: String,
) -> Result<HttpResponse, HtmlError> {
    let setup_complete = state.db.read(domain::setup::is_complete).await?;
    let (csrf, cookie) = anonymous_form_token(req, state.config.is_https());
    let mut res = page_with_status(status, &LoginPage { csrf, email, error, setup_complete, next })?;
    if let Some(c) = cookie {
        res.add_cookie(&c).map_err(|e| HtmlError::Internal(e.to_string()))?;
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Anyone.
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, HtmlError> {
    render(&req, &state, StatusCode::OK, String::new(), None, safe_next(query.next.as_deref())).await
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Anyone, at most `LATCHKEY_RATE_LOGIN_PER_MIN` attempts a minute per address.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SessionForm<LoginForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check_before_login(&req)?;
    if let Err(retry_after_seconds) = state.login_limiter.check(client_ip(&req, &state.config)) {
        return Err(HtmlError::RateLimited { retry_after_seconds });
    }

    let email = form.email.clone();
    let user = state
        .db
        .read(move |conn| match domain::Email::parse(&email) {
            Some(e) => db::users::find_by_email(conn, e.as_str()),
            None => Ok(None),
        })
        .await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = form.password;
    let ok = state
        .hasher
        .run(move |hasher| hasher.verify(stored.as_deref(), &password))
        .await
        .map_err(HtmlError::Internal)?;

    let meta = request_meta(&req, &state);
    let now = state.clock.now();
    let user = match user {
        Some(user) if ok => user,
        user => {
            state.db.write(move |tx| domain::accounts::record_login_failure(tx, user.as_ref(), &meta, now)).await?;
            let next = safe_next(form.next.as_deref());
            return render(&req, &state, StatusCode::UNAUTHORIZED, form.email, Some(LOGIN_FAILED.into()), next).await;
        }
    };

    let ttl = state.config.dashboard_session_hours;
    let next = safe_next(form.next.as_deref());
    let cookie = state.db.write(move |tx| domain::accounts::start_session(tx, &user, ttl, &meta, now)).await?;
    let mut res = see_other(&next);
    res.add_cookie(&session_cookie(cookie, state.config.is_https(), ttl))
        .map_err(|e| HtmlError::Internal(e.to_string()))?;
    Ok(res)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// A logged-in person: ends this session.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: Browser,
    form: SessionForm<CsrfForm>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    let meta = request_meta(&req, &state);
    let now = state.clock.now();
    let hash = browser.session.token_hash.clone();
    let actor = browser.actor();
    let ws = browser.workspace().id.clone();
    state.db.write(move |tx| domain::accounts::end_session(tx, &hash, &actor, &ws, &meta, now)).await?;
    let mut res = see_other("/login");
    res.add_cookie(&expired_session_cookie(state.config.is_https())).map_err(|e| HtmlError::Internal(e.to_string()))?;
    Ok(res)
}

crate::http::auth::csrf_forms!(LoginForm, CsrfForm);
