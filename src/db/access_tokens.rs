//! The `access_tokens` table: opaque `lk_at_` tokens of enrolled agents,
//! keyed by their time-ordered selector (the token's first 12 characters,
//! its id), holding the SHA-256 of the whole token.

use crate::db::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::AgentStatus;
use crate::model::ids::{AgentId, WorkspaceId};

/// Stores a token under its selector `id`; false if that id is taken (two
/// tokens in the same millisecond with the same 29 random bits).
pub fn insert(
    conn: &Connection,
    hash: &[u8],
    id: &str,
    ws: &WorkspaceId,
    agent: &AgentId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<bool, AppError> {
    Ok(super::cached(
        conn,
        "INSERT INTO access_tokens (id, token_hash, workspace_id, agent_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![id, hash, ws, agent, now.0, expires_at.0])?
        == 1)
}

/// Deletes every access token of the agent (disabled, or its key replaced).
pub fn delete_for_agent(conn: &Connection, agent: &AgentId) -> Result<usize, AppError> {
    Ok(conn.execute("DELETE FROM access_tokens WHERE agent_id = ?1", [agent])?)
}

pub fn count_live_for_agent(conn: &Connection, agent: &AgentId, now: Timestamp) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM access_tokens WHERE agent_id = ?1 AND expires_at > ?2",
        params![agent, now.0],
        |r| r.get(0),
    )?)
}

/// Everything the bearer layer needs about an access token, in one lookup.
#[derive(Debug, Clone)]
pub struct AccessTokenAuth {
    pub id: String,
    pub expires_at: Timestamp,
    pub agent_id: AgentId,
    pub agent_name: String,
    pub agent_status: Option<AgentStatus>,
    pub workspace: Workspace,
}

/// The token whose selector is `id`, if its stored SHA-256 is `hash`
/// (compared in constant time).
pub fn find_auth(conn: &Connection, id: &str, hash: &[u8]) -> Result<Option<AccessTokenAuth>, AppError> {
    let found = super::cached(
        conn,
        "SELECT t.id, t.expires_at, a.id, a.name, a.status, w.id, w.name, w.agent_security_mode, w.created_at,
                t.token_hash
             FROM access_tokens t JOIN agents a ON a.id = t.agent_id JOIN workspaces w ON w.id = t.workspace_id
             WHERE t.id = +?1",
    )?
    .query_row([id], |r| {
        let stored: Vec<u8> = r.get(9)?;
        Ok(crate::crypto::constant_time_eq(&stored, hash).then_some(AccessTokenAuth {
            id: r.get(0)?,
            expires_at: Timestamp(r.get(1)?),
            agent_id: r.get(2)?,
            agent_name: r.get(3)?,
            agent_status: AgentStatus::parse(&r.get::<String>(4)?),
            workspace: Workspace {
                id: r.get(5)?,
                name: r.get(6)?,
                agent_security_mode: r.get(7)?,
                created_at: Timestamp(r.get(8)?),
            },
        }))
    })
    .optional()?;
    Ok(found.flatten())
}

pub fn delete(conn: &Connection, ws: &WorkspaceId, id: &str) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM access_tokens WHERE workspace_id = ?1 AND id = ?2", params![ws, id])? > 0)
}

/// Forgets access tokens that expired before `before` (a bounded batch).
pub fn delete_expired(conn: &Connection, before: Timestamp, batch: u32) -> Result<usize, AppError> {
    Ok(super::cached(
        conn,
        "DELETE FROM access_tokens WHERE id IN
         (SELECT id FROM access_tokens WHERE expires_at < ?1 LIMIT ?2)",
    )?
    .execute(params![before.0, batch])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_found_by_its_selector_only_with_its_own_hash() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let live = now.plus_seconds(60);
                assert!(insert(tx, &[1; 32], "sel000000001", &ws.id, &agent.id, now, live)?);
                assert!(!insert(tx, &[2; 32], "sel000000001", &ws.id, &agent.id, now, live)?, "a taken selector");
                assert!(insert(tx, &[3; 32], "sel000000002", &ws.id, &agent.id, now, now.plus_seconds(-1))?);
                let found = find_auth(tx, "sel000000001", &[1; 32])?.expect("its own hash");
                assert_eq!((found.id.as_str(), &found.agent_id, found.expires_at), ("sel000000001", &agent.id, live));
                assert!(find_auth(tx, "sel000000001", &[2; 32])?.is_none(), "the same selector with another secret");
                assert!(find_auth(tx, "unknown", &[1; 32])?.is_none());
                assert_eq!(count_live_for_agent(tx, &agent.id, now)?, 1);
                assert_eq!(delete_expired(tx, now, 10)?, 1, "only the expired one");
                assert!(delete(tx, &ws.id, "sel000000001")?);
                assert!(find_auth(tx, "sel000000001", &[1; 32])?.is_none());
                Ok(())
            })
            .unwrap();
        });
    }
}
