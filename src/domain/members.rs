//! Members (docs/API.md §5.10): owners invite by email, change roles and
//! remove people; the last owner stays. A removed member's PATs stop at
//! once (the engine checks membership on every request).

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::crypto::token::{SecretToken, TokenKind};
use crate::db;
use crate::domain::agents::By;
use crate::domain::audit::{self, Event};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::{Email, Role};
use crate::error::AppError;

/// An invitation link lives a week.
pub const INVITATION_TTL_SECONDS: i64 = 7 * 86_400;

/// A new invitation: the token (the link's last part, shown once) and
/// when it expires. The same answer whether or not the email has an
/// account, so an owner learns nothing about who exists elsewhere.
pub fn invite(
    tx: &Connection,
    ws: &WorkspaceId,
    email: &Email,
    role: Role,
    inviter: Option<&UserId>,
    by: &By<'_>,
) -> Result<(SecretToken, Timestamp), AppError> {
    let token = SecretToken::generate(TokenKind::Invitation);
    let expires = Timestamp(by.now.0 + INVITATION_TTL_SECONDS);
    db::invitations::insert(tx, &token.hash(), ws, email.as_str(), role, inviter, by.now, expires)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "member.invited", by.meta).target("email", email.as_str().to_string()),
        by.now,
    )?;
    Ok((token, expires))
}

/// Accepts an invitation once: the user joins with the invited role. For a
/// new person `password_hash` creates the account; an existing account must
/// be the one logged in (`existing`).
pub fn accept(
    tx: &Connection,
    hash: &[u8; 32],
    existing: Option<&UserId>,
    new_password_hash: Option<&str>,
    by: &By<'_>,
) -> Result<(WorkspaceId, UserId), AppError> {
    let inv = db::invitations::find(tx, hash)?.ok_or(AppError::NotFound)?;
    if !db::invitations::consume(tx, hash, by.now)? {
        return Err(AppError::Conflict("This invitation was already used or has expired; ask for a new one.".into()));
    }
    let user = match (db::users::find_by_email(tx, &inv.email)?, existing, new_password_hash) {
        (Some(u), Some(me), _) if &u.id == me => u.id,
        (Some(_), _, _) => {
            return Err(AppError::Conflict(format!(
                "This invitation is for {}: log in as that account to accept it.",
                inv.email
            )));
        }
        (None, _, Some(hash)) => {
            let user = db::users::User {
                id: UserId::generate(),
                email: inv.email.clone(),
                name: String::new(),
                password_hash: Some(hash.to_string()),
                auto_provisioned: false,
                created_at: by.now,
            };
            db::users::insert(tx, &user)?;
            user.id
        }
        (None, _, None) => return Err(AppError::Validation("password: choose one to create the account.".into())),
    };
    if db::memberships::find_role(tx, &inv.workspace_id, &user)?.is_none() {
        db::memberships::insert(tx, &inv.workspace_id, &user, inv.role, by.now)?;
    }
    audit::record(
        tx,
        Event::success(Some(&inv.workspace_id), by.actor, "member.joined", by.meta).target("user", user.0.clone()),
        by.now,
    )?;
    Ok((inv.workspace_id, user))
}

/// Changes a member's role; the last owner cannot be demoted.
pub fn change_role(tx: &Connection, ws: &WorkspaceId, user: &UserId, role: Role, by: &By<'_>) -> Result<(), AppError> {
    let current = db::memberships::find_role(tx, ws, user)?.ok_or(AppError::NotFound)?;
    if current == Role::Owner && role != Role::Owner && db::memberships::count_owners_in(tx, ws)? <= 1 {
        return Err(AppError::Conflict("The last owner cannot be demoted: make someone else an owner first.".into()));
    }
    db::memberships::set_role(tx, ws, user, role)?;
    let mut event = Event::success(Some(ws), by.actor, "member.role_changed", by.meta).target("user", user.0.clone());
    event.reason = Some(format!("{current} -> {role}"));
    audit::record(tx, event, by.now)
}

/// Removes a member; the last owner stays. Their PATs stop at once.
pub fn remove(tx: &Connection, ws: &WorkspaceId, user: &UserId, by: &By<'_>) -> Result<(), AppError> {
    let current = db::memberships::find_role(tx, ws, user)?.ok_or(AppError::NotFound)?;
    if current == Role::Owner && db::memberships::count_owners_in(tx, ws)? <= 1 {
        return Err(AppError::Conflict("The last owner cannot be removed.".into()));
    }
    db::memberships::delete(tx, ws, user)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "member.removed", by.meta).target("user", user.0.clone()),
        by.now,
    )
}
