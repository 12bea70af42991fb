//! The `bootstrap_secrets` table: one-time secrets that let an agent
//! register its key.

use crate::db::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::{AgentId, WorkspaceId};

pub fn insert(
    conn: &Connection,
    hash: &[u8],
    agent: &AgentId,
    ws: &WorkspaceId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO bootstrap_secrets (secret_hash, agent_id, workspace_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash, agent, ws, now.0, expires_at.0],
    )?;
    Ok(())
}

/// Voids the agent's unused secrets (a new one is being issued).
pub fn delete_unused_for_agent(conn: &Connection, agent: &AgentId) -> Result<usize, AppError> {
    Ok(conn.execute("DELETE FROM bootstrap_secrets WHERE agent_id = ?1 AND used_at IS NULL", [agent])?)
}

/// Marks the secret used if it is unused and unexpired, in one statement:
/// of two racing calls exactly one gets the agent back.
pub fn consume(conn: &Connection, hash: &[u8], now: Timestamp) -> Result<Option<(AgentId, WorkspaceId)>, AppError> {
    Ok(super::cached(
        conn,
        "UPDATE bootstrap_secrets SET used_at = ?2
             WHERE secret_hash = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING agent_id, workspace_id",
    )?
    .query_row(params![hash, now.0], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?)
}

/// Forgets secrets that expired before `before`, used or not (a bounded
/// batch): a used one is refused as unknown just the same.
pub fn delete_expired(conn: &Connection, before: Timestamp, batch: u32) -> Result<usize, AppError> {
    Ok(super::cached(
        conn,
        "DELETE FROM bootstrap_secrets WHERE secret_hash IN
         (SELECT secret_hash FROM bootstrap_secrets WHERE expires_at < ?1 LIMIT ?2)",
    )?
    .execute(crate::params![before.0, batch])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_consumed_once_and_never_after_it_expires() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                insert(tx, &[1; 32], &agent.id, &ws.id, now, now.plus_seconds(3600))?;
                insert(tx, &[2; 32], &agent.id, &ws.id, now, now.plus_seconds(10))?;
                assert_eq!(consume(tx, &[1; 32], now)?, Some((agent.id.clone(), ws.id.clone())));
                assert_eq!(consume(tx, &[1; 32], now)?, None, "used");
                assert_eq!(consume(tx, &[2; 32], now.plus_seconds(10))?, None, "expired");
                assert_eq!(consume(tx, &[3; 32], now)?, None, "unknown");
                assert_eq!(delete_unused_for_agent(tx, &agent.id)?, 1, "the unused one");
                Ok(())
            })
            .unwrap();
        });
    }
}
