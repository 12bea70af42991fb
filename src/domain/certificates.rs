//! Certificates and delegated identity (docs/API.md §5.5).

use crate::db::Connection;
use crate::model::CertificateStatus;

use crate::crypto::rsa_cert::Generated;
use crate::db;
use crate::db::certificates::Certificate;
use crate::db::users::User;
use crate::domain::agents::By;
use crate::domain::audit::{self, Event};
use crate::domain::ids::{CertificateId, UserId, WorkspaceId};
use crate::domain::{Email, Role};
use crate::error::AppError;

/// Records a generated certificate's public half (the private key is not
/// passed in and cannot be stored).
/// A certificate's name: what it is for, at most 100 characters, no
/// control characters; empty is allowed.
pub fn parse_name(raw: Option<&str>) -> Result<String, AppError> {
    let name = raw.unwrap_or("").trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Validation("name: at most 100 characters, no control characters.".into()));
    }
    Ok(name.to_string())
}

pub fn create(
    tx: &Connection,
    ws: &WorkspaceId,
    name: &str,
    g: &Generated,
    by: &By<'_>,
) -> Result<Certificate, AppError> {
    let cert = Certificate {
        id: CertificateId::generate(),
        workspace_id: ws.clone(),
        kid: g.kid.clone(),
        public_key_pem: g.public_key_pem.clone(),
        n: g.n.clone(),
        e: g.e.clone(),
        status: CertificateStatus::Active,
        created_at: by.now,
        revoked_at: None,
        name: name.to_string(),
    };
    db::certificates::insert(tx, &cert)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "certificate.created", by.meta).target("certificate", cert.kid.clone()),
        by.now,
    )?;
    Ok(cert)
}

/// `revoked` or `deleted`: either way its JWTs fail at once.
pub fn retire(tx: &Connection, cert: &Certificate, status: CertificateStatus, by: &By<'_>) -> Result<(), AppError> {
    db::certificates::update_status(tx, &cert.workspace_id, &cert.id, status, by.now)?;
    let kind = match status {
        CertificateStatus::Deleted => "certificate.deleted",
        CertificateStatus::Revoked | CertificateStatus::Active => "certificate.revoked",
    };
    audit::record(
        tx,
        Event::success(Some(&cert.workspace_id), by.actor, kind, by.meta).target("certificate", cert.kid.clone()),
        by.now,
    )
}

fn clean_name(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 100 && !n.chars().any(char::is_control))
        .map(str::to_string)
}

/// The user a delegated JWT acts as, in `ws`: a password member of `ws`
/// with that email, or else the identity `ws` provisioned for it (created on
/// first use: no password, a member of `ws` alone). Nothing outside `ws` is
/// looked at, so the answer is the same whatever exists elsewhere, and a
/// name set here is shown nowhere else. (`Option` for the caller's sake: it
/// is always `Some`.)
pub fn delegated_user(
    tx: &Connection,
    ws: &WorkspaceId,
    email: &Email,
    first: Option<&str>,
    last: Option<&str>,
    by: &By<'_>,
) -> Result<Option<(User, Role)>, AppError> {
    let name = match (clean_name(first), clean_name(last)) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n),
        (None, None) => None,
    };
    if let Some(u) = db::users::find_by_email(tx, email.as_str())?
        && let Some(role) = db::memberships::find_role(tx, ws, &u.id)?
    {
        // A person of this workspace: acted for, never renamed.
        return Ok(Some((u, role)));
    }
    let (user, role) = match db::users::find_scoped(tx, ws, email.as_str())? {
        Some(u) => match db::memberships::find_role(tx, ws, &u.id)? {
            Some(role) => (u, role),
            None => {
                db::memberships::insert(tx, ws, &u.id, Role::Member, by.now)?;
                (u, Role::Member)
            }
        },
        None => {
            let user = User {
                id: UserId::generate(),
                email: email.as_str().to_string(),
                name: name.clone().unwrap_or_default(),
                password_hash: None,
                auto_provisioned: true,
                created_at: by.now,
            };
            db::users::insert_scoped(tx, ws, &user)?;
            db::memberships::insert(tx, ws, &user.id, Role::Member, by.now)?;
            audit::record(
                tx,
                Event::success(Some(ws), by.actor, "user.provisioned", by.meta).target("user", user.id.0.clone()),
                by.now,
            )?;
            (user, Role::Member)
        }
    };
    if let Some(name) = name
        && name != user.name
    {
        db::users::update_name(tx, &user.id, &name, by.now)?;
    }
    let user = db::users::find(tx, &user.id)?.ok_or(AppError::NotFound)?;
    Ok(Some((user, role)))
}
