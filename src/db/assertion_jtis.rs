//! The `assertion_jtis` table: every accepted client-assertion `jti`, until
//! its assertion expires.

use rusqlite::{Connection, params};

use crate::clock::Timestamp;
use crate::domain::ids::AgentId;
use crate::error::AppError;

/// `false` when this agent already used the jti: the insert is the check.
pub fn insert_new(conn: &Connection, agent: &AgentId, jti: &str, expires_at: Timestamp) -> Result<bool, AppError> {
    Ok(super::cached(
        conn,
        "INSERT INTO assertion_jtis (agent_id, jti, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?
    .execute(params![agent, jti, expires_at.0])?
        == 1)
}

/// Forgets jtis whose assertions have expired (a bounded batch).
pub fn delete_expired(conn: &Connection, now: Timestamp) -> Result<usize, AppError> {
    Ok(super::cached(
        conn,
        "DELETE FROM assertion_jtis WHERE (agent_id, jti) IN
             (SELECT agent_id, jti FROM assertion_jtis WHERE expires_at < ?1 LIMIT 100)",
    )?
    .execute([now.0])?)
}
