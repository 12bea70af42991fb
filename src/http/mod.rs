//! The HTTP surface: the API's route table is `api::routes`; the
//! dashboard's is in [`configure`].

pub mod api;
pub mod assets;
pub mod auth;
pub mod bearer;
pub mod connections;
pub mod dashboard;
pub mod metrics;
pub mod middleware;
pub mod ops;

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::audit::RequestMeta;
use crate::error::{AppError, HtmlError};
use crate::state::AppState;

/// Request bodies on API routes are limited to 64 KiB (docs/API.md §4.1).
pub const API_BODY_LIMIT: usize = 64 * 1024;
/// Dashboard forms are small.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default().limit(API_BODY_LIMIT).error_handler(|err, _req| middleware::json_error(err).into()),
    )
    .app_data(web::PayloadConfig::new(API_BODY_LIMIT))
    .app_data(
        web::FormConfig::default()
            .limit(FORM_BODY_LIMIT)
            .error_handler(|err, _req| HtmlError::BadRequest(format!("The form could not be read: {err}")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _req| AppError::Validation(err.to_string()).into()))
    .app_data(web::PathConfig::default().error_handler(|_err, _req| AppError::NotFound.into()))
    .service(
        web::scope("")
            .wrap(actix_web::middleware::from_fn(middleware::harden))
            // The API, hot paths first (routes are matched in order).
            .configure(api::routes::register)
            .service(resource("/static/{path:.*}").get(assets::serve))
            .service(
                resource("/oauth/authorize")
                    .get(dashboard::oauth::authorize_page)
                    .post(dashboard::oauth::authorize_decision),
            )
            // Dashboard
            .service(resource("/setup").get(dashboard::setup::setup_page).post(dashboard::setup::complete_setup))
            .service(resource("/login").get(dashboard::login::login_page).post(dashboard::login::login))
            .service(resource("/logout").post(dashboard::login::logout))
            .service(resource("/").get(dashboard::overview::overview_page))
            .service(resource("/settings").get(dashboard::settings::settings_page))
            .service(resource("/settings/security-mode").post(dashboard::settings::set_security_mode))
            .service(resource("/settings/password").post(dashboard::settings::change_password))
            .service(resource("/workspace/switch").post(dashboard::settings::switch_workspace))
            .service(resource("/dashboard/audit").get(dashboard::audit::audit_page))
            .service(resource("/dashboard/audit.csv").get(dashboard::audit::audit_csv))
            .service(
                resource("/dashboard/members").get(dashboard::members::members_page).post(dashboard::members::invite),
            )
            .service(resource("/dashboard/members/{id}").post(dashboard::members::change))
            .service(resource("/invite/{token}").get(dashboard::members::invite_page).post(dashboard::members::accept))
            .service(resource("/dashboard/approvals/{id}").post(dashboard::overview::decide_approval))
            .service(
                resource("/admin/workspaces")
                    .get(dashboard::admin::workspaces_page)
                    .post(dashboard::admin::create_workspace),
            )
            .service(
                resource("/dashboard/certificates")
                    .get(dashboard::certificates::certificates_page)
                    .post(dashboard::certificates::create_certificate),
            )
            .service(resource("/dashboard/certificates/{id}/created").get(dashboard::certificates::certificate_created))
            .service(resource("/dashboard/certificates/{id}/revoke").post(dashboard::certificates::revoke_certificate))
            .service(resource("/dashboard/certificates/{id}/delete").post(dashboard::certificates::delete_certificate))
            .service(
                resource("/dashboard/agents").get(dashboard::agents::agents_page).post(dashboard::agents::create_agent),
            )
            .service(resource("/dashboard/agents/{id}").get(dashboard::agents::agent_page))
            .service(resource("/dashboard/agents/{id}/secret").get(dashboard::agents::agent_secret))
            .service(resource("/dashboard/agents/{id}/sessions/{session}/end").post(dashboard::agents::end_session))
            .service(resource("/dashboard/agents/{id}/grants/{grant}/revoke").post(dashboard::agents::revoke_grant))
            .service(resource("/dashboard/agents/{id}/bootstrap-secret").post(dashboard::agents::new_bootstrap_secret))
            .service(resource("/dashboard/agents/{id}/disable").post(dashboard::agents::disable_agent))
            .service(resource("/dashboard/agents/{id}/enable").post(dashboard::agents::enable_agent))
            .service(
                resource("/dashboard/oauth-clients")
                    .get(dashboard::oauth_clients::clients_page)
                    .post(dashboard::oauth_clients::register_client),
            )
            .service(
                resource("/dashboard/oauth-clients/grants/{id}/revoke").post(dashboard::oauth_clients::revoke_grant),
            )
            .service(
                resource("/dashboard/oauth-clients/registration-token")
                    .post(dashboard::oauth_clients::new_registration_token),
            )
            .service(
                resource("/dashboard/resources")
                    .get(dashboard::resources::resources_page)
                    .post(dashboard::resources::create_resource),
            )
            .service(
                resource("/dashboard/resources/{id}")
                    .get(dashboard::resources::resource_detail)
                    .post(dashboard::resources::update_resource),
            )
            .service(resource("/dashboard/resources/{id}/delete").post(dashboard::resources::delete_resource))
            .service(
                resource("/dashboard/tokens").get(dashboard::tokens::tokens_page).post(dashboard::tokens::create_token),
            )
            .service(resource("/dashboard/tokens/{id}").get(dashboard::tokens::token_page))
            .service(resource("/dashboard/tokens/{id}/created").get(dashboard::tokens::token_created))
            .service(resource("/dashboard/tokens/{id}/cap").post(dashboard::tokens::change_cap))
            .service(resource("/dashboard/tokens/{id}/limits").post(dashboard::tokens::change_limits))
            .service(resource("/dashboard/tokens/{id}/revoke").post(dashboard::tokens::revoke_token))
            .service(resource("/dashboard/{rest:.*}").to(dashboard::unknown_page))
            .default_service(web::to(not_found)),
    );
}

/// A route whose other methods answer 405 in the §4 shape (without this
/// they would fall through to the scope's 404).
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// 405 in the §4 shape, with the `Allow` header RFC 9110 requires (for
/// the routes `/openapi.json` describes).
async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let mut res = AppError::MethodNotAllowed.error_response();
    let allowed = req.match_pattern().map(|p| api::openapi::allowed_methods(&p)).unwrap_or_default();
    if !allowed.is_empty()
        && let Ok(value) = header::HeaderValue::from_str(&allowed.join(", "))
    {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// Unknown routes: a page for browsers on dashboard paths, §4 JSON otherwise.
async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    if wants_html(&req) { HtmlError::NotFound.error_response() } else { AppError::NotFound.error_response() }
}

/// Whether this request is a browser asking for a dashboard page.
pub fn wants_html(req: &HttpRequest) -> bool {
    let path = req.path();
    let api = [
        "/v1/",
        "/api/",
        "/.well-known/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/oauth/token",
        "/oauth/register",
        "/oauth/revoke",
    ]
    .iter()
    .any(|p| path.starts_with(p));
    !api && req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// The client's address: the TCP peer, or with `LATCHKEY_TRUST_PROXY` and
/// a peer among `LATCHKEY_TRUSTED_PROXIES`, the right-most address of all
/// `X-Forwarded-For` lines that is not itself a trusted proxy. Proxies
/// append, so everything left of the last untrusted hop is the client's to
/// forge and is never believed.
pub fn client_ip(req: &HttpRequest, config: &crate::config::Config) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    if !config.trust_proxy || !peer.is_some_and(|p| config.is_trusted_proxy(p)) {
        return peer;
    }
    let hops: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        // A hop that is not an address: trust none of the chain.
        .unwrap_or_default();
    hops.iter().rev().find(|ip| !config.is_trusted_proxy(**ip)).copied().or(peer)
}

/// What an audited write of this request needs: `actor`, its address and
/// user agent, and the time.
pub fn origin(
    actor: crate::domain::audit::Actor,
    req: &HttpRequest,
    state: &AppState,
) -> crate::domain::agents::Origin {
    crate::domain::agents::Origin { actor, meta: request_meta(req, state), now: state.clock.now() }
}

/// Client address and user agent for the audit trail.
pub fn request_meta(req: &HttpRequest, state: &AppState) -> RequestMeta {
    RequestMeta {
        client_ip: client_ip(req, &state.config).map(|ip| ip.to_string()),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}
