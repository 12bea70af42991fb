//! Workspaces (tenants) and their owners.

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::db;
use crate::db::users::User;
use crate::db::workspaces::Workspace;
use crate::domain::audit::{self, Actor, Event, RequestMeta};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::{Email, Role};
use crate::error::AppError;

/// Creates a workspace with `owner` as its owner; Agent Security Mode starts off.
pub fn create_with_owner(conn: &Connection, name: &str, owner: &UserId, now: Timestamp) -> Result<Workspace, AppError> {
    let ws =
        Workspace { id: WorkspaceId::generate(), name: name.to_string(), agent_security_mode: false, created_at: now };
    db::workspaces::insert(conn, &ws)?;
    db::memberships::insert(conn, &ws.id, owner, Role::Owner, now)?;
    Ok(ws)
}

/// Creates a password user.
pub fn create_user(conn: &Connection, email: &Email, password_hash: &str, now: Timestamp) -> Result<User, AppError> {
    create_user_with(conn, email, Some(password_hash), now)
}

/// A password user, or one who cannot log in until a password is set
/// (`latchkey admin reset-password`).
fn create_user_with(
    conn: &Connection,
    email: &Email,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Result<User, AppError> {
    let user = User {
        id: UserId::generate(),
        email: email.as_str().to_string(),
        name: String::new(),
        password_hash: password_hash.map(str::to_string),
        auto_provisioned: false,
        created_at: now,
    };
    db::users::insert(conn, &user)?;
    Ok(user)
}

/// `latchkey admin create-workspace`: a further tenant, owned by the user
/// with `email`, who is created when new (without a password when none is
/// given). A password for an existing account is refused rather than
/// silently ignored.
pub fn create_for_owner_email(
    conn: &Connection,
    name: &str,
    email: &Email,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Result<Workspace, AppError> {
    let owner = match db::users::find_by_email(conn, email.as_str())? {
        Some(_) if password_hash.is_some() => {
            return Err(AppError::Validation(format!(
                "{} already has an account and keeps its password: run this again without --password-stdin \
                 (change a password with `latchkey admin reset-password`).",
                email.as_str()
            )));
        }
        Some(user) => user,
        None => create_user_with(conn, email, password_hash, now)?,
    };
    let ws = create_with_owner(conn, name, &owner.id, now)?;
    audit::record(
        conn,
        Event::success(Some(&ws.id), &Actor::Cli, "workspace.created", &RequestMeta::default())
            .target("user", owner.id.0),
        now,
    )?;
    Ok(ws)
}

/// Resolves `--workspace`: the named one, or the only one there is.
pub fn resolve(conn: &Connection, id: Option<&str>) -> Result<Workspace, AppError> {
    if let Some(id) = id {
        return db::workspaces::find(conn, &WorkspaceId(id.to_string()))?
            .ok_or_else(|| AppError::Validation(format!("No workspace has the id {id}.")));
    }
    let mut all = db::workspaces::list_all(conn)?;
    match all.len() {
        0 => Err(AppError::Validation(
            "There is no workspace yet: run `latchkey admin create-owner` or finish /setup first.".into(),
        )),
        1 => Ok(all.remove(0)),
        n => Err(AppError::Validation(format!("There are {n} workspaces: name one with --workspace ID."))),
    }
}
