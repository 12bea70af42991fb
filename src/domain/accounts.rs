//! People: password login, dashboard sessions, password changes.

use crate::db::Connection;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::Timestamp;
use crate::crypto;
use crate::crypto::password::PasswordHasher;
use crate::db;
use crate::db::browser_sessions::NewSession;
use crate::db::users::User;
use crate::domain::Email;
use crate::domain::audit::{self, Actor, Event, RequestMeta};
use crate::domain::ids::WorkspaceId;
use crate::error::AppError;

/// The generic answer to every failed login: it never says whether the
/// email exists.
pub const LOGIN_FAILED: &str = "Email or password is incorrect.";

/// Checks an email and password (argon2: call it on a blocking thread).
/// An unknown email costs the same time as a wrong password.
pub fn verify_password(
    conn: &Connection,
    hasher: &PasswordHasher,
    email: &str,
    password: &str,
) -> Result<(Option<User>, bool), AppError> {
    let user = match Email::parse(email) {
        Some(e) => db::users::find_by_email(conn, e.as_str())?,
        None => None,
    };
    let ok = hasher.verify(user.as_ref().and_then(|u| u.password_hash.as_deref()), password);
    Ok((user, ok))
}

/// The workspace a fresh login lands in: the user's first (owned first).
pub fn home_workspace(conn: &Connection, user: &User) -> Result<Option<WorkspaceId>, AppError> {
    Ok(db::memberships::list_for_user(conn, &user.id)?.into_iter().next().map(|(ws, _)| ws.id))
}

/// A new dashboard session: returns the cookie value (shown to the browser
/// only; the database keeps its SHA-256).
pub fn start_session(
    tx: &Connection,
    user: &User,
    ttl_hours: i64,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<String, AppError> {
    let ws = home_workspace(tx, user)?
        .ok_or_else(|| AppError::Validation("This account belongs to no workspace.".into()))?;
    let cookie = URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>());
    let csrf = URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>());
    let hash = crypto::sha256(cookie.as_bytes());
    db::browser_sessions::insert(
        tx,
        &NewSession {
            token_hash: &hash,
            user_id: &user.id,
            workspace_id: &ws,
            csrf_token: &csrf,
            created_at: now,
            expires_at: now.plus_seconds(ttl_hours * 3600),
        },
    )?;
    // Old expired rows go whenever somebody logs in; no background job needed.
    db::browser_sessions::delete_expired(tx, now)?;
    let actor = Actor::User { id: user.id.clone(), email: user.email.clone() };
    audit::record(tx, Event::success(Some(&ws), &actor, "login", meta), now)?;
    Ok(cookie)
}

/// Records a failed login against the account's workspace when the email
/// is known, and instance-wide otherwise.
pub fn record_login_failure(
    tx: &Connection,
    user: Option<&User>,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<(), AppError> {
    match user {
        Some(user) => {
            let ws = home_workspace(tx, user)?;
            let actor = Actor::User { id: user.id.clone(), email: user.email.clone() };
            audit::record(tx, Event::failure(ws.as_ref(), &actor, "login", "wrong password", meta), now)
        }
        None => audit::record(tx, Event::failure(None, &Actor::Anonymous, "login", "unknown email", meta), now),
    }
}

/// Ends the session whose cookie hashes to `token_hash`.
pub fn end_session(
    tx: &Connection,
    token_hash: &[u8],
    actor: &Actor,
    ws: &WorkspaceId,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<(), AppError> {
    db::browser_sessions::delete(tx, token_hash)?;
    audit::record(tx, Event::success(Some(ws), actor, "logout", meta), now)
}

/// Stores a new password hash and ends every other session of the user
/// (all of them when `keep_session` is `None`).
pub fn change_password(
    tx: &Connection,
    user: &User,
    new_hash: &str,
    keep_session: Option<&[u8]>,
    actor: &Actor,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<(), AppError> {
    db::users::update_password(tx, &user.id, new_hash, now)?;
    db::browser_sessions::delete_for_user(tx, &user.id, keep_session)?;
    let ws = home_workspace(tx, user)?;
    let event = Event::success(ws.as_ref(), actor, "password.changed", meta).target("user", user.id.0.clone());
    audit::record(tx, event, now)
}

/// `latchkey admin reset-password`.
pub fn reset_password_headless(tx: &Connection, email: &Email, new_hash: &str, now: Timestamp) -> Result<(), AppError> {
    let user = db::users::find_by_email(tx, email.as_str())?
        .ok_or_else(|| AppError::Validation(format!("No user has the email {}.", email.as_str())))?;
    change_password(tx, &user, new_hash, None, &Actor::Cli, &RequestMeta::default(), now)
}
