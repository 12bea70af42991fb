//! The `invitations` table (docs/API.md §5.10).

use crate::db::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::Role;
use crate::model::ids::{UserId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct Invitation {
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub role: Role,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &Connection,
    hash: &[u8; 32],
    ws: &WorkspaceId,
    email: &str,
    role: Role,
    by: Option<&UserId>,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO invitations (token_hash, workspace_id, email, role, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![hash.as_slice(), ws, email, role.as_str(), by, now.0, expires_at.0],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, hash: &[u8; 32]) -> Result<Option<Invitation>, AppError> {
    Ok(conn
        .query_row(
            "SELECT workspace_id, email, role, expires_at, used_at FROM invitations WHERE token_hash = ?1",
            [hash.as_slice()],
            |r| {
                let role: String = r.get(2)?;
                Ok(Invitation {
                    workspace_id: r.get(0)?,
                    email: r.get(1)?,
                    role: Role::parse(&role).unwrap_or(Role::Member),
                    expires_at: Timestamp(r.get(3)?),
                    used_at: r.get::<Option<i64>>(4)?.map(Timestamp),
                })
            },
        )
        .optional()?)
}

/// Uses the invitation once; `false` when it was used or expired meanwhile.
pub fn consume(conn: &Connection, hash: &[u8; 32], now: Timestamp) -> Result<bool, AppError> {
    Ok(conn.execute(
        "UPDATE invitations SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![hash.as_slice(), now.0],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_is_consumed_once_and_never_after_it_expires() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, _) = crate::domain::setup::workspace_with_agent(tx, now)?;
                insert(tx, &[1; 32], &ws.id, "a@example.com", Role::Owner, None, now, now.plus_seconds(60))?;
                insert(tx, &[2; 32], &ws.id, "b@example.com", Role::Member, None, now, now.plus_seconds(60))?;
                let found = find(tx, &[1; 32])?.expect("stored");
                assert_eq!((found.email.as_str(), found.role, found.used_at), ("a@example.com", Role::Owner, None));
                assert!(consume(tx, &[1; 32], now)?);
                assert!(!consume(tx, &[1; 32], now)?, "used once");
                assert_eq!(find(tx, &[1; 32])?.and_then(|i| i.used_at), Some(now));
                assert!(!consume(tx, &[2; 32], now.plus_seconds(60))?, "expired");
                assert!(!consume(tx, &[9; 32], now)?, "unknown");
                Ok(())
            })
            .unwrap();
        });
    }
}
