//! `/dashboard/certificates` (Agent Security Mode on).

use crate::http::auth::OwnerConsole;
use crate::http::auth::SessionForm;
use crate::model::CertificateStatus;
use crate::model::ids::CertificateId;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Nav, page, see_other};
use crate::db;
use crate::domain::Role;
use crate::domain::certificates;
use crate::error::HtmlError;
use crate::http::auth::{AgentConsole, Browser};
use crate::state::AppState;

pub struct CertRow {
    pub id: String,
    pub kid: String,
    pub name: String,
    pub status: CertificateStatus,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dashboard/certificates.html")]
struct CertificatesPage {
    nav: Nav,
    certs: Vec<CertRow>,
    is_owner: bool,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/certificate_created.html")]
struct CertificateCreatedPage {
    nav: Nav,
    kid: String,
    name: String,
    private_key: String,
}

#[derive(Template)]
#[template(path = "dashboard/confirm_delete_certificate.html")]
struct ConfirmDeletePage {
    nav: Nav,
    id: String,
    kid: String,
}

#[derive(Deserialize)]
pub struct CertQuery {
    done: Option<String>,
}

/// A logged-in person, mode on.
pub async fn certificates_page(
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    query: web::Query<CertQuery>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let certs = state.db.read(move |conn| db::certificates::list(conn, &ws, false, 200)).await?;
    page(&CertificatesPage {
        nav: Nav::new(&browser, "certificates"),
        certs: certs
            .into_iter()
            .map(|c| CertRow {
                id: c.id.0,
                kid: c.kid,
                name: c.name,
                status: c.status,
                created: c.created_at.display(),
            })
            .collect(),
        is_owner: browser.session.role == Role::Owner,
        notice: match query.done.as_deref() {
            Some("revoked") => Some("The certificate is revoked; its JWTs no longer work.".into()),
            Some("deleted") => Some("The certificate is deleted.".into()),
            Some("shown") => Some(
                "The private key was shown once; Latchkey never stored it. If it was not saved, \
                 revoke that certificate and create another."
                    .into(),
            ),
            _ => None,
        },
    })
}

#[derive(Deserialize)]
pub struct CertForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    name: String,
}

/// An owner, mode on: a new certificate; the private key is shown once.
pub async fn create_certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    form: SessionForm<CertForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let name = certificates::parse_name(Some(&form.name))?;
    let generated = crate::http::api::certificates::generate_key(&state, &browser.workspace().id).await?;
    let private_key = generated.private_key_pem.clone();
    let origin = crate::http::origin(browser.actor(), &req, &state);
    let ws = browser.workspace().id.clone();
    let cert = state.db.write(move |tx| certificates::create(tx, &ws, &name, &generated, &origin.by())).await?;
    // Shown once on the page this redirects to: a reload makes no second key.
    let location = format!("/dashboard/certificates/{}/created", cert.id);
    super::reveal::redirect(&state, &browser, &location, &format!("certificate:{}", cert.id), &private_key)
}

/// An owner, mode on: the new certificate's private key, once.
pub async fn certificate_created(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentConsole(browser): AgentConsole,
    id: web::Path<CertificateId>,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let id = id.into_inner();
    let cert = state.db.read(move |conn| db::certificates::find(conn, &ws, &id)).await?.ok_or(HtmlError::NotFound)?;
    let Some(private_key) = super::reveal::take(&req, &state, &browser, &format!("certificate:{}", cert.id)) else {
        return Ok(see_other("/dashboard/certificates?done=shown"));
    };
    let res = page(&CertificateCreatedPage {
        nav: Nav::new(&browser, "certificates"),
        kid: cert.kid,
        name: cert.name,
        private_key,
    });
    super::reveal::shown(&state, res)
}

async fn retire(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: Browser,
    id: CertificateId,
    status: CertificateStatus,
) -> Result<HttpResponse, HtmlError> {
    let ws = browser.workspace().id.clone();
    let cert = state.db.read(move |conn| db::certificates::find(conn, &ws, &id)).await?.ok_or(HtmlError::NotFound)?;
    let origin = crate::http::origin(browser.actor(), &req, &state);
    state.db.write(move |tx| certificates::retire(tx, &cert, status, &origin.by())).await?;
    Ok(see_other(&format!("/dashboard/certificates?done={}", status.as_str())))
}

/// An owner, mode on.
pub async fn revoke_certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    id: web::Path<CertificateId>,
    form: SessionForm<CertForm>,
) -> Result<HttpResponse, HtmlError> {
    form.check(&browser)?;
    retire(req, state, browser, id.into_inner(), CertificateStatus::Revoked).await
}

/// An owner, mode on: asks first (it is irreversible), then deletes.
pub async fn delete_certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerConsole(browser): OwnerConsole,
    id: web::Path<CertificateId>,
    form: SessionForm<CertForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.check(&browser)?;
    let id = id.into_inner();
    if form.confirm != "yes" {
        let (ws, probe) = (browser.workspace().id.clone(), id.clone());
        let cert =
            state.db.read(move |conn| db::certificates::find(conn, &ws, &probe)).await?.ok_or(HtmlError::NotFound)?;
        return page(&ConfirmDeletePage { nav: Nav::new(&browser, "certificates"), id: cert.id.0, kid: cert.kid });
    }
    retire(req, state, browser, id, CertificateStatus::Deleted).await
}

crate::http::auth::csrf_forms!(CertForm);
