//! The `browser_sessions` table: dashboard logins, keyed by the SHA-256 of
//! the cookie value.

use crate::db::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::Role;
use crate::model::ids::{UserId, WorkspaceId};

/// A live session with everything a dashboard page needs, from one query.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub auto_provisioned: bool,
    pub workspace: Workspace,
    pub role: Role,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: &'a UserId,
    pub workspace_id: &'a WorkspaceId,
    pub csrf_token: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn insert(conn: &Connection, s: &NewSession<'_>) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO browser_sessions (token_hash, user_id, workspace_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![s.token_hash, s.user_id, s.workspace_id, s.csrf_token, s.created_at.0, s.expires_at.0],
    )?;
    Ok(())
}

/// The session for this hash if it has not expired and its user is still a
/// member of its workspace.
pub fn find_live(conn: &Connection, token_hash: &[u8], now: Timestamp) -> Result<Option<LiveSession>, AppError> {
    let mut stmt = super::cached(
        conn,
        "SELECT s.token_hash, u.id, u.email, u.name, u.auto_provisioned,
                w.id, w.name, w.agent_security_mode, w.created_at,
                m.role, s.csrf_token, s.expires_at
         FROM browser_sessions s
         JOIN users u ON u.id = s.user_id
         JOIN workspaces w ON w.id = s.workspace_id
         JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
    )?;
    let row = stmt
        .query_row(params![token_hash, now.0], |r| {
            Ok((
                LiveSession {
                    token_hash: r.get(0)?,
                    user_id: r.get(1)?,
                    email: r.get(2)?,
                    name: r.get(3)?,
                    auto_provisioned: r.get(4)?,
                    workspace: Workspace {
                        id: r.get(5)?,
                        name: r.get(6)?,
                        agent_security_mode: r.get(7)?,
                        created_at: Timestamp(r.get(8)?),
                    },
                    role: Role::Member,
                    csrf_token: r.get(10)?,
                    expires_at: Timestamp(r.get(11)?),
                },
                r.get::<String>(9)?,
            ))
        })
        .optional()?;
    Ok(row.and_then(|(mut s, role)| {
        s.role = Role::parse(&role)?;
        Some(s)
    }))
}

pub fn delete(conn: &Connection, token_hash: &[u8]) -> Result<(), AppError> {
    conn.execute("DELETE FROM browser_sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

/// Ends every session of the user except `keep` (the one changing the password).
pub fn delete_for_user(conn: &Connection, user: &UserId, keep: Option<&[u8]>) -> Result<usize, AppError> {
    Ok(conn.execute(
        "DELETE FROM browser_sessions WHERE user_id = ?1 AND (token_hash <> ?2 OR ?2 IS NULL)",
        params![user, keep],
    )?)
}

pub fn update_workspace(conn: &Connection, token_hash: &[u8], ws: &WorkspaceId) -> Result<(), AppError> {
    conn.execute("UPDATE browser_sessions SET workspace_id = ?2 WHERE token_hash = ?1", params![token_hash, ws])?;
    Ok(())
}

pub fn delete_expired(conn: &Connection, now: Timestamp) -> Result<usize, AppError> {
    Ok(conn.execute("DELETE FROM browser_sessions WHERE expires_at <= ?1", [now.0])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_session_lives_until_it_expires_or_its_membership_ends() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, _) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let owner = crate::db::memberships::list_for_workspace(tx, &ws.id)?.remove(0);
                let session = |hash: &'static [u8], expires_at| NewSession {
                    token_hash: hash,
                    user_id: &owner.user_id,
                    workspace_id: &ws.id,
                    csrf_token: "csrf",
                    created_at: now,
                    expires_at,
                };
                let end = now.plus_seconds(3600);
                insert(tx, &session(b"h1", end))?;
                insert(tx, &session(b"h2", end))?;
                insert(tx, &session(b"h3", now.plus_seconds(10)))?;
                let live = find_live(tx, b"h1", now)?.expect("live");
                assert_eq!((live.role, live.csrf_token.as_str(), &live.workspace.id), (Role::Owner, "csrf", &ws.id));
                assert_eq!(live.email, "owner@example.com");
                assert!(find_live(tx, b"h1", end)?.is_none(), "expired at its end");
                assert!(find_live(tx, b"nope", now)?.is_none());

                assert_eq!(delete_for_user(tx, &owner.user_id, Some(b"h1"))?, 2, "every other session");
                assert!(find_live(tx, b"h1", now)?.is_some(), "the one kept");
                assert!(find_live(tx, b"h2", now)?.is_none());
                insert(tx, &session(b"h4", now.plus_seconds(10)))?;
                assert_eq!(delete_expired(tx, now.plus_seconds(10))?, 1);

                crate::db::memberships::delete(tx, &ws.id, &owner.user_id)?;
                assert!(find_live(tx, b"h1", now)?.is_none(), "no longer a member");
                delete(tx, b"h1")?;
                assert_eq!(delete_for_user(tx, &owner.user_id, None)?, 0);
                Ok(())
            })
            .unwrap();
        });
    }
}
