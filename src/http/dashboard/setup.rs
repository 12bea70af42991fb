//! `/setup`: first run. Guarded by the one-time code `serve` prints.

use crate::http::auth::SessionForm;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{page_with_status, see_other};
use crate::domain::audit::RequestMeta;
use crate::domain::setup::DEFAULT_WORKSPACE_NAME;
use crate::domain::{self, Email, NewPassword, parse_workspace_name};
use crate::error::{AppError, HtmlError};
use crate::http::auth::{anonymous_form_token, session_cookie};
use crate::http::{client_ip, request_meta};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    csrf: String,
    code: String,
    email: String,
    workspace_name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    code: Option<String>,
}

fn invalid_link() -> HtmlError {
    HtmlError::Forbidden(
        "This setup link is invalid or has already been used. Restart `latchkey serve` for a fresh link, or log in."
            .into(),
    )
}

/// Anyone holding the setup code, while no user exists.
pub async fn setup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, HtmlError> {
    let code = query.into_inner().code.unwrap_or_default();
    let probe = code.clone();
    let (complete, valid) = state
        .db
        .read(move |conn| Ok((domain::setup::is_complete(conn)?, domain::setup::code_is_valid(conn, &probe)?)))
        .await?;
    if complete {
        return Ok(see_other("/login"));
    }
    if !valid {
        return Err(invalid_link());
    }
    render(&req, &state, StatusCode::OK, code, String::new(), DEFAULT_WORKSPACE_NAME.into(), None)
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    code: String,
    email: String,
    workspace_name: String,
    error: Option<String>,
) -> Result<HttpResponse, HtmlError> {
    let (csrf, cookie) = anonymous_form_token(req, state.config.is_https());
    let mut res = page_with_status(status, &SetupPage { csrf, code, email, workspace_name, error })?;
    if let Some(c) = cookie {
        res.add_cookie(&c).map_err(|e| HtmlError::Internal(e.to_string()))?;
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    workspace_name: String,
}

/// Anyone holding the setup code: creates the owner and the default
/// workspace, logs them in.
pub async fn complete_setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SessionForm<SetupForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check_before_login(&req)?;
    // The cheap checks before any password hashing: argon2 is paid only by
    // someone holding the one-time code, at the login limiter's pace.
    if let Err(retry_after_seconds) = state.setup_limiter.check(client_ip(&req, &state.config)) {
        return Err(HtmlError::RateLimited { retry_after_seconds });
    }
    let probe = form.code.clone();
    let (complete, valid) = state
        .db
        .read_here(move |conn| Ok((domain::setup::is_complete(conn)?, domain::setup::code_is_valid(conn, &probe)?)))
        .await?;
    if complete {
        return Err(HtmlError::NotFound);
    }
    if !valid {
        return Err(invalid_link());
    }
    let again = |error: String| {
        render(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            form.code.clone(),
            form.email.clone(),
            form.workspace_name.clone(),
            Some(error),
        )
    };
    let Some(email) = Email::parse(&form.email) else {
        return again("Enter a valid email address.".into());
    };
    let password = match NewPassword::parse(&form.password) {
        Ok(p) => p,
        Err(e) => return again(e),
    };
    if form.password != form.password_confirm {
        return again("The two passwords do not match.".into());
    }
    let workspace_name = match parse_workspace_name(&form.workspace_name) {
        Ok(n) => n,
        Err(e) => return again(e),
    };

    let hash = state
        .hasher
        .run(move |hasher| hasher.hash(password.expose()))
        .await
        .map_err(HtmlError::Internal)?
        .map_err(HtmlError::Internal)?;

    let meta: RequestMeta = request_meta(&req, &state);
    let now = state.clock.now();
    let ttl = state.config.dashboard_session_hours;
    let code = form.code.clone();
    let result = state
        .db
        .write(move |tx| {
            let (user, _) = domain::setup::complete(tx, &code, &email, &hash, &workspace_name, &meta, now)?;
            domain::accounts::start_session(tx, &user, ttl, &meta, now)
        })
        .await;
    let cookie = match result {
        Ok(c) => c,
        Err(AppError::Conflict(_)) => return Err(invalid_link()),
        Err(e) => return Err(e.into()),
    };
    let mut res = see_other("/");
    res.add_cookie(&session_cookie(cookie, state.config.is_https(), ttl))
        .map_err(|e| HtmlError::Internal(e.to_string()))?;
    Ok(res)
}

crate::http::auth::csrf_forms!(SetupForm);
