//! `/v1/certificates` (docs/API.md §5.5; camelCase fields by contract).

use crate::model::CertificateStatus;
use crate::model::ids::CertificateId;
use actix_web::{HttpRequest, HttpResponse, web};

use super::actor_of;
use crate::crypto::rsa_cert;
use crate::db;
use crate::db::certificates::Certificate;
use crate::domain::certificates;
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::bearer::{HostCaller, OwnerCaller};
use crate::state::AppState;
use crate::wire::workspace as wire;

/// A certificate as the API shows it (never its private key).
pub fn view(c: &Certificate) -> wire::Certificate {
    wire::Certificate {
        id: c.id.0.clone(),
        kid: c.kid.clone(),
        name: c.name.clone(),
        algorithm: "RS256".into(),
        public_key: c.public_key_pem.clone(),
        status: c.status,
        created_at: c.created_at.to_rfc3339(),
        private_key: None,
        jwk: None,
    }
}

/// A host credential of an owner, or a management JWT: a new RSA-2048
/// certificate. The private key is in this answer and nowhere else.
/// An RSA-2048 key pair for `ws`: ten a minute per workspace, and at most
/// two generations at once in the process (each is tens of milliseconds of
/// CPU; a burst must queue, not fill the blocking pool).
pub async fn generate_key(
    state: &AppState,
    ws: &crate::domain::ids::WorkspaceId,
) -> Result<rsa_cert::Generated, AppError> {
    if let Err(retry_after_seconds) = state.certificate_limiter.check(ws.as_str()) {
        return Err(AppError::RateLimited { retry_after_seconds });
    }
    let _slot = state.rsa_jobs.acquire().await.map_err(AppError::internal)?;
    web::block(rsa_cert::generate).await.map_err(AppError::internal)?.map_err(AppError::internal)
}

pub async fn create_certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    // The body is optional (`{"name": …}`); it is checked before any key
    // is generated.
    let name = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        let parsed: wire::CreateCertificate = serde_json::from_slice(&body).map_err(|_| {
            AppError::InvalidJson("expected an object like {\"name\": \"billing backend\"}, or no body".into())
        })?;
        certificates::parse_name(parsed.name.as_deref())?
    };
    let generated = generate_key(&state, &p.workspace.id).await?;
    let private_key = generated.private_key_pem.clone();
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let ws = p.workspace.id.clone();
    let cert = state.db.write(move |tx| certificates::create(tx, &ws, &name, &generated, &origin.by())).await?;
    Ok(HttpResponse::Created().json(wire::Certificate { private_key: Some(private_key), ..view(&cert) }))
}

/// A host or management credential: the workspace's certificates.
pub async fn list_certificates(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
) -> Result<HttpResponse, AppError> {
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::certificates::list(conn, &ws, false, 200)).await?;
    Ok(HttpResponse::Ok().json(crate::wire::Items { items: items.iter().map(view).collect() }))
}

/// A host or management credential: the newest active certificate.
pub async fn active_certificate(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
) -> Result<HttpResponse, AppError> {
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::certificates::list(conn, &ws, true, 1)).await?;
    let cert = items.first().ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(cert)))
}

/// Anyone: a certificate's public key as PEM and JWK.
pub async fn public_certificate(state: web::Data<AppState>, kid: web::Path<String>) -> Result<HttpResponse, AppError> {
    let kid = kid.into_inner();
    let (cert, _) =
        state.db.read(move |conn| db::certificates::find_by_kid(conn, &kid)).await?.ok_or(AppError::NotFound)?;
    if cert.status == CertificateStatus::Deleted {
        return Err(AppError::NotFound);
    }
    let jwk = wire::RsaJwk {
        kty: "RSA".into(),
        n: cert.n.clone(),
        e: cert.e.clone(),
        kid: cert.kid.clone(),
        alg: "RS256".into(),
        use_: "sig".into(),
    };
    Ok(HttpResponse::Ok().json(wire::Certificate { jwk: Some(jwk), ..view(&cert) }))
}

async fn load(state: &AppState, p: &Principal, id: CertificateId) -> Result<Certificate, AppError> {
    let ws = p.workspace.id.clone();
    state.db.read(move |conn| db::certificates::find(conn, &ws, &id)).await?.ok_or(AppError::NotFound)
}

async fn retire(
    req: HttpRequest,
    state: web::Data<AppState>,
    p: Principal,
    id: CertificateId,
    status: CertificateStatus,
) -> Result<Certificate, AppError> {
    let cert = load(&state, &p, id).await?;
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let c = cert.clone();
    state.db.write(move |tx| certificates::retire(tx, &c, status, &origin.by())).await?;
    let ws = p.workspace.id.clone();
    let id = cert.id.clone();
    Ok(state.db.read(move |conn| db::certificates::find(conn, &ws, &id)).await?.unwrap_or(cert))
}

/// An owner or management credential: its JWTs fail at once.
pub async fn revoke_certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    id: web::Path<CertificateId>,
) -> Result<HttpResponse, AppError> {
    let cert = retire(req, state, p, id.into_inner(), CertificateStatus::Revoked).await?;
    Ok(HttpResponse::Ok().json(view(&cert)))
}

/// An owner or management credential: gone for good, its JWTs fail at once.
pub async fn delete_certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    id: web::Path<CertificateId>,
) -> Result<HttpResponse, AppError> {
    retire(req, state, p, id.into_inner(), CertificateStatus::Deleted).await?;
    Ok(HttpResponse::NoContent().finish())
}
