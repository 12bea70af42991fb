//! `/oauth/authorize` (docs/API.md §5.8): the consent page. A host approves
//! or denies an OAuth client's request for one resource; approval makes
//! the client an agent of the workspace (new, or one the host picks) and
//! sends a one-time code back to the client's registered redirect URI.
//! Nothing is ever sent to a redirect URI that was not verified.

use crate::http::auth::SessionForm;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page_with_status, see_other, url_encode};
use crate::db;
use crate::db::oauth::Client;
use crate::db::workspaces::Workspace;
use crate::domain::Role;
use crate::domain::agents::AgentStatus;
use crate::domain::ids::AgentId;
use crate::domain::oauth::{self, Approval};
use crate::domain::principal::Acting;
use crate::domain::resources::Resource;
use crate::error::HtmlError;
use crate::http::auth::Browser;
use crate::state::AppState;

/// The authorization request, from the query (GET) or the consent form
/// (POST, which adds the decision).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    // The consent form's own fields.
    #[serde(default)]
    csrf: String,
    decision: Option<String>,
    agent: Option<String>,
}

pub struct AgentOption {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "dashboard/consent.html")]
struct ConsentPage {
    nav: Nav,
    client_name: String,
    client_id: String,
    client_host: String,
    redirect_host: String,
    first_time: bool,
    localhost_only: bool,
    resource_name: String,
    resource_identifier: String,
    workspace_name: String,
    scopes: Vec<String>,
    agents: Vec<AgentOption>,
    mode_off: bool,
    p: Hidden,
}

/// The request's fields, carried through the consent form.
pub struct Hidden {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub state: String,
    pub scope: String,
    pub resource: String,
}

#[derive(Template)]
#[template(path = "dashboard/oauth_error.html")]
struct OAuthErrorPage {
    message: String,
}

fn error_page(message: impl Into<String>) -> Result<HttpResponse, HtmlError> {
    page_with_status(actix_web::http::StatusCode::BAD_REQUEST, &OAuthErrorPage { message: message.into() })
}

/// An RFC 6749 §4.1.2.1 error sent back to a verified redirect URI, with
/// `state` and `iss` (RFC 9207).
fn redirect_error(
    redirect_uri: &str,
    issuer: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> HttpResponse {
    let mut url = format!("{redirect_uri}{}error={error}", if redirect_uri.contains('?') { '&' } else { '?' });
    url.push_str(&format!("&error_description={}", url_encode(description)));
    if let Some(s) = state {
        url.push_str(&format!("&state={}", url_encode(s)));
    }
    url.push_str(&format!("&iss={}", url_encode(issuer)));
    see_other(&url)
}

/// Everything checked before anything is shown or granted.
struct Checked {
    client: Client,
    redirect_uri: String,
    code_challenge: String,
    resource: Resource,
    workspace: Workspace,
    role: Role,
    scopes: Vec<String>,
}

/// `Err` is the answer to give: an error page, a redirect with an error,
/// or the login.
async fn check(req: &HttpRequest, state: &AppState, p: &AuthorizeParams) -> Result<(Checked, Browser), HttpResponse> {
    let page = |m: &str| error_page(m).unwrap_or_else(|e| actix_web::ResponseError::error_response(&e));
    let Some(client_id) = p.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Err(page("This link is missing its client_id: go back to the application and start again."));
    };
    let client = if crate::cimd::is_document_url(client_id) {
        // A Client ID Metadata Document: fetched (guarded), never stored.
        let (cache, url, now) = (state.cimd.clone(), client_id.to_string(), state.clock.now());
        let (private, hosts) = (state.config.cimd_allow_private, state.config.cimd_allowed_hosts.clone());
        match web::block(move || crate::cimd::fetch(&cache, &url, private, &hosts, now)).await {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => return Err(page(&why)),
            Err(e) => return Err(actix_web::ResponseError::error_response(&crate::error::AppError::internal(e))),
        }
    } else {
        let id = client_id.to_string();
        match state.db.read(move |conn| db::oauth::find_client(conn, &id)).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(page("This application is not registered with this server.")),
            Err(e) => return Err(actix_web::ResponseError::error_response(&e)),
        }
    };
    // Only a registered redirect URI, exactly, ever receives anything.
    let Some(redirect_uri) = p.redirect_uri.as_deref().filter(|r| client.redirect_uris.iter().any(|u| u == r)) else {
        return Err(page("The redirect_uri is not one this application registered, so nothing is sent back to it."));
    };
    let issuer = &state.config.public_url;
    let back =
        |error: &str, description: &str| redirect_error(redirect_uri, issuer, p.state.as_deref(), error, description);
    if p.response_type.as_deref() != Some("code") {
        return Err(back("unsupported_response_type", "response_type must be code."));
    }
    let challenge = p.code_challenge.as_deref().unwrap_or("");
    if p.code_challenge_method.as_deref() != Some("S256") || !oauth::valid_challenge(challenge) {
        return Err(back("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256."));
    }
    let Some(resource_id) = p.resource.as_deref().filter(|r| !r.is_empty()) else {
        return Err(back("invalid_target", "resource is required: the URL of the protected resource."));
    };
    let normalized = crate::domain::resources::parse_identifier(resource_id).map(|(i, _)| i).unwrap_or_default();
    let resource = {
        let (raw, normalized) = (resource_id.to_string(), normalized);
        state
            .db
            .read(move |conn| {
                Ok(match db::resources::find_by_identifier(conn, &raw)? {
                    Some(r) => Some(r),
                    None => db::resources::find_by_identifier(conn, &normalized)?,
                })
            })
            .await
    };
    let resource = match resource {
        Ok(Some(r)) => r,
        Ok(None) => return Err(back("invalid_target", "resource is not a resource registered on this server.")),
        Err(e) => return Err(actix_web::ResponseError::error_response(&e)),
    };
    let scopes = match oauth::requested_scopes(p.scope.as_deref(), &resource) {
        Ok(s) => s,
        Err(m) => return Err(back("invalid_scope", &m)),
    };
    // The person: log in first, then come back here.
    let browser = match Browser::extract(req).await {
        Ok(b) => b,
        Err(_) => {
            let here = req.uri().path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_default();
            let target = if req.method() == actix_web::http::Method::GET { here } else { "/".into() };
            return Err(see_other(&format!("/login?next={}", url_encode(&target))));
        }
    };
    let Some((workspace, role)) = browser.workspaces.iter().find(|(w, _)| w.id == resource.workspace_id).cloned()
    else {
        return Err(page(
            "This resource belongs to a workspace you are not a member of. Log in as one of its members.",
        ));
    };
    Ok((
        Checked {
            client,
            redirect_uri: redirect_uri.to_string(),
            code_challenge: challenge.to_string(),
            resource,
            workspace,
            role,
            scopes,
        },
        browser,
    ))
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default()
}

/// `GET /oauth/authorize`: the consent page.
pub async fn authorize_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<AuthorizeParams>,
) -> Result<HttpResponse, HtmlError> {
    let params = params.into_inner();
    let (c, browser) = match check(&req, &state, &params).await {
        Ok(ok) => ok,
        Err(answer) => return Ok(answer),
    };
    let (ws, client_id) = (c.workspace.id.clone(), c.client.id.clone());
    let who = Acting { user_id: Some(browser.session.user_id.clone()), role: c.role };
    let (first_time, agents) = state
        .db
        .read(move |conn| {
            let known = db::oauth::client_known_in(conn, &ws, &client_id)?;
            let agents = db::agents::list(conn, &ws, who.only_own(), None, 200)?;
            Ok((!known, agents))
        })
        .await?;
    let localhost_only =
        c.client.redirect_uris.iter().all(|u| url::Url::parse(u).is_ok_and(|u| oauth::is_loopback(&u)));
    page_with_status(
        actix_web::http::StatusCode::OK,
        &ConsentPage {
            nav: Nav::new(&browser, "overview"),
            client_name: c.client.client_name.clone(),
            client_id: c.client.id.clone(),
            client_host: host_of(&c.client.id),
            redirect_host: host_of(&c.redirect_uri),
            first_time,
            localhost_only,
            resource_name: c.resource.name.clone(),
            resource_identifier: c.resource.identifier.clone(),
            workspace_name: c.workspace.name.clone(),
            scopes: c.scopes.clone(),
            agents: agents
                .into_iter()
                .filter(|a| a.status != AgentStatus::Disabled)
                .map(|a| AgentOption { id: a.id.0, name: a.name })
                .collect(),
            mode_off: !c.workspace.agent_security_mode,
            p: Hidden {
                client_id: c.client.id,
                redirect_uri: c.redirect_uri,
                code_challenge: c.code_challenge,
                state: params.state.unwrap_or_default(),
                scope: c.scopes.join(" "),
                resource: c.resource.identifier,
            },
        },
    )
}

/// `POST /oauth/authorize`: the host's decision (CSRF-checked).
pub async fn authorize_decision(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SessionForm<AuthorizeParams>,
) -> Result<HttpResponse, HtmlError> {
    // The form carries the request as the page showed it.
    let as_shown = |p: &AuthorizeParams| AuthorizeParams {
        response_type: Some("code".into()),
        code_challenge_method: Some("S256".into()),
        ..p.clone()
    };
    let (c, browser) = match check(&req, &state, &as_shown(form.fields_before_check())).await {
        Ok(ok) => ok,
        Err(answer) => return Ok(answer),
    };
    let params = as_shown(&form.check(&browser)?);
    let issuer = state.config.public_url.clone();
    let st = params.state.as_deref().filter(|s| !s.is_empty());
    if params.decision.as_deref() != Some("approve") {
        let origin = crate::http::origin(browser.actor(), &req, &state);
        let now = origin.now;
        let (ws, client_id) = (c.workspace.id.clone(), c.client.id.clone());
        state
            .db
            .write(move |tx| {
                let event = crate::domain::audit::Event::failure(
                    Some(&ws),
                    &origin.actor,
                    "oauth.denied",
                    "the host denied",
                    &origin.meta,
                )
                .target("client", client_id);
                crate::domain::audit::record(tx, event, now)
            })
            .await?;
        return Ok(redirect_error(&c.redirect_uri, &issuer, st, "access_denied", "The host denied the request."));
    }
    if !c.workspace.agent_security_mode {
        return Ok(redirect_error(
            &c.redirect_uri,
            &issuer,
            st,
            "access_denied",
            "Agent Security Mode is off in this workspace; nothing was granted.",
        ));
    }
    let agent = match params.agent.as_deref() {
        None | Some("" | "new") => None,
        Some(id) => Some(AgentId(id.to_string())),
    };
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let user = browser.session.user_id.clone();
    let who = Acting { user_id: Some(user.clone()), role: c.role };
    let ws = c.workspace.id.clone();
    let (client_id, client_name) = (c.client.id.clone(), c.client.client_name.clone());
    let (redirect_uri, challenge, scopes, resource) = (c.redirect_uri.clone(), c.code_challenge, c.scopes, c.resource);
    let code = state
        .db
        .write(move |tx| {
            if let Some(id) = &agent {
                crate::domain::agents::get_manageable(tx, &ws, id, &who)?;
            }
            let approval = Approval {
                client_id: &client_id,
                client_name: &client_name,
                redirect_uri: &redirect_uri,
                code_challenge: &challenge,
                resource: &resource,
                scopes: &scopes,
                agent,
                user: &user,
            };
            oauth::approve(tx, &ws, &approval, &origin.by())
        })
        .await?;
    let sep = if c.redirect_uri.contains('?') { '&' } else { '?' };
    let mut url = format!("{}{sep}code={}", c.redirect_uri, url_encode(code.expose()));
    if let Some(s) = st {
        url.push_str(&format!("&state={}", url_encode(s)));
    }
    url.push_str(&format!("&iss={}", url_encode(&issuer)));
    Ok(see_other(&url))
}

crate::http::auth::csrf_forms!(AuthorizeParams);
