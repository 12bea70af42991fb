//! The `access_tokens` table: opaque `lk_at_` tokens of enrolled agents,
//! keyed by SHA-256.

use crate::db::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::domain::agents::AgentStatus;
use crate::domain::ids::{AgentId, WorkspaceId};
use crate::error::AppError;

pub fn insert(
    conn: &Connection,
    hash: &[u8],
    id: &str,
    ws: &WorkspaceId,
    agent: &AgentId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), AppError> {
    super::cached(
        conn,
        "INSERT INTO access_tokens (token_hash, id, workspace_id, agent_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![hash, id, ws, agent, now.0, expires_at.0])?;
    Ok(())
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

pub fn find_auth_by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<AccessTokenAuth>, AppError> {
    Ok(super::cached(
        conn,
        "SELECT t.id, t.expires_at, a.id, a.name, a.status, w.id, w.name, w.agent_security_mode, w.created_at
             FROM access_tokens t JOIN agents a ON a.id = t.agent_id JOIN workspaces w ON w.id = t.workspace_id
             WHERE t.token_hash = +?1",
    )?
    .query_row([hash], |r| {
        Ok(AccessTokenAuth {
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
        })
    })
    .optional()?)
}

pub fn delete(conn: &Connection, ws: &WorkspaceId, id: &str) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM access_tokens WHERE workspace_id = ?1 AND id = ?2", params![ws, id])? > 0)
}

/// Forgets access tokens that expired before `before` (a bounded batch).
pub fn delete_expired(conn: &Connection, before: Timestamp, batch: u32) -> Result<usize, AppError> {
    Ok(super::cached(
        conn,
        "DELETE FROM access_tokens WHERE token_hash IN
         (SELECT token_hash FROM access_tokens WHERE expires_at < ?1 LIMIT ?2)",
    )?
    .execute(params![before.0, batch])?)
}
