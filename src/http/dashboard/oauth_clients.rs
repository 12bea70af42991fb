//! `/dashboard/oauth-clients` (Agent Security Mode on): the OAuth clients
//! hosts approved in this workspace, each with its agent, resource, scopes
//! and last use, revocable in one click; and clients registered by hand.

use crate::http::auth::OwnerConsole;
use crate::http::auth::SessionForm;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page_with_status, see_other};
use crate::db;
use crate::error::HtmlError;
use crate::http::auth::{AgentConsole, Browser};
use crate::state::AppState;

pub struct GrantRow {
    pub id: String,
    pub client_name: String,
    pub client_id: String,
    pub agent_id: String,
    pub resource: String,
    pub scope: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "dashboard/oauth_clients.html")]
struct ClientsPage {
    nav: Nav,
    grants: Vec<GrantRow>,
    form_name: String,
    form_redirects: String,
    error: Option<String>,
    registered: Option<(String, String)>,
    notice: Option<String>,
    /// `LATCHKEY_DCR=token`: registration needs the workspace's token.
    token_mode: bool,
    token_created: Option<String>,
    new_token: Option<String>,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

async fn render(
    state: &AppState,
    browser: &Browser,
    form: (String, String),
    error: Option<String>,
    registered: Option<(String, String)>,
    notice: Option<String>,
) -> Result<HttpResponse, HtmlError> {
    render_with(state, browser, form, error, registered, notice, None).await
}

async fn render_with(
    state: &AppState,
    browser: &Browser,
    form: (String, String),
    error: Option<String>,
    registered: Option<(String, String)>,
    notice: Option<String>,
    new_token: Option<String>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let (grants, resources, token_created) = state
        .db
        .read(move |conn| {
            Ok((
                db::oauth::list_grants(conn, &ws, None, 200)?,
                db::resources::list(conn, &ws, None, 200)?,
                db::oauth::registration_token_created(conn, &ws)?,
            ))
        })
        .await?;
    let name_of = |id: &crate::model::ids::ResourceId| {
        resources.iter().find(|r| &r.id == id).map_or_else(|| id.to_string(), |r| r.name.clone())
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page_with_status(
        status,
        &ClientsPage {
            nav: Nav::new(browser, "oauth-clients"),
            grants: grants
                .into_iter()
                .map(|g| GrantRow {
                    resource: name_of(&g.resource_id),
                    client_name: g.client_name,
                    client_id: g.client_id,
                    agent_id: g.agent_id.0,
                    scope: g.scope,
                    created: g.created_at.display(),
                    last_used: g.last_used_at.map_or_else(|| "never".into(), crate::clock::Timestamp::display),
                    revoked: g.revoked_at.is_some(),
                    id: g.id.0,
                })
                .collect(),
            form_name: form.0,
            form_redirects: form.1,
            error,
            registered,
            notice,
            token_mode: state.config.dcr == crate::config::DcrMode::Token,
            token_created: token_created.map(crate::clock::Timestamp::display),
            new_token,
        },
    )
}

/// An owner, mode on: a new registration token (shown once; replaces the
/// previous one).
pub async fn new_registration_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    form: SessionForm<CsrfForm>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    let token = crate::crypto::token::SecretToken::generate(crate::crypto::token::TokenKind::RegistrationToken);
    let (ws, user, hash) = (browser.workspace().id.clone(), browser.session.user_id.clone(), token.hash());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let now = origin.now;
    state
        .db
        .write(move |tx| {
            db::oauth::set_registration_token(tx, &ws, &hash, Some(&user), now)?;
            let event = crate::domain::audit::Event::success(
                Some(&ws),
                &origin.actor,
                "oauth.registration_token",
                &origin.meta,
            );
            crate::domain::audit::record(tx, event, now)
        })
        .await?;
    let shown = Some(token.into_inner());
    render_with(&state, &browser, (String::new(), String::new()), None, None, None, shown).await
}

/// A logged-in person, mode on.
pub async fn clients_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, HtmlError> {
    let notice = (query.done.as_deref() == Some("revoked"))
        .then(|| "The grant is revoked: the client's tokens stopped working.".to_string());
    render(&state, &browser, (String::new(), String::new()), None, None, notice).await
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
}

/// A person, mode on: registers a public client by hand (for an
/// application that does not register itself).
pub async fn register_client(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    form: SessionForm<RegisterForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let uris: Vec<&str> = form.redirect_uris.split_whitespace().collect();
    let body = serde_json::json!({"client_name": form.name.trim(), "redirect_uris": uris});
    let mut client = match crate::domain::oauth::register(&body, state.clock.now()) {
        Ok(c) => c,
        Err(e) => {
            let msg = e.user_message().into_owned();
            return render(&state, &browser, (form.name, form.redirect_uris), Some(msg), None, None).await;
        }
    };
    client.source = "dashboard".into();
    let shown = (client.client_name.clone(), client.id.clone());
    state.db.write(move |tx| db::oauth::insert_client(tx, &client)).await?;
    render(&state, &browser, (String::new(), String::new()), None, Some(shown), None).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A person, mode on: revokes a grant. Members revoke only grants of
/// agents they own.
pub async fn revoke_grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<String>,
    form: SessionForm<CsrfForm>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    let (ws, who) = (browser.workspace().id.clone(), browser.acting());
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let id = crate::model::ids::GrantId(id.into_inner());
    state.db.write(move |tx| crate::domain::oauth::revoke_as(tx, &ws, &id, &who, None, &origin.by())).await?;
    Ok(see_other("/dashboard/oauth-clients?done=revoked"))
}

crate::http::auth::csrf_forms!(CsrfForm, RegisterForm);
