//! The `runtime_sessions` table: key-bound sessions started with an agent PAT.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::{AgentId, PatId, SessionId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct RuntimeSession {
    pub id: SessionId,
    pub workspace_id: WorkspaceId,
    pub agent_id: AgentId,
    pub pat_id: PatId,
    pub public_key: Vec<u8>,
    pub key_thumbprint: String,
    pub label: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

const COLUMNS: &str =
    "id, workspace_id, agent_id, pat_id, public_key, key_thumbprint, label, created_at, expires_at, ended_at";

fn from_row(r: &Row<'_>) -> crate::db::Result<RuntimeSession> {
    Ok(RuntimeSession {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        agent_id: r.get(2)?,
        pat_id: r.get(3)?,
        public_key: r.get(4)?,
        key_thumbprint: r.get(5)?,
        label: r.get(6)?,
        created_at: Timestamp(r.get(7)?),
        expires_at: Timestamp(r.get(8)?),
        ended_at: r.get::<Option<i64>>(9)?.map(Timestamp),
    })
}

pub fn insert(conn: &Connection, s: &RuntimeSession) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO runtime_sessions (id, workspace_id, agent_id, pat_id, public_key, key_thumbprint, label, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            s.id,
            s.workspace_id,
            s.agent_id,
            s.pat_id,
            s.public_key,
            s.key_thumbprint,
            s.label,
            s.created_at.0,
            s.expires_at.0
        ],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, id: &SessionId) -> Result<Option<RuntimeSession>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM runtime_sessions WHERE id = ?1");
    Ok(super::cached(conn, &sql)?.query_row([id], from_row).optional()?)
}

/// Sessions of an agent that have neither ended nor expired, newest first.
pub fn list_live_for_agent(
    conn: &Connection,
    ws: &WorkspaceId,
    agent: &AgentId,
    now: Timestamp,
) -> Result<Vec<RuntimeSession>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runtime_sessions
         WHERE workspace_id = ?1 AND agent_id = ?2 AND ended_at IS NULL AND expires_at > ?3
         ORDER BY id DESC LIMIT 200"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, agent, now.0], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn update_ended(conn: &Connection, ws: &WorkspaceId, id: &SessionId, now: Timestamp) -> Result<bool, AppError> {
    Ok(conn.execute(
        "UPDATE runtime_sessions SET ended_at = ?3 WHERE workspace_id = ?1 AND id = ?2 AND ended_at IS NULL",
        params![ws, id, now.0],
    )? > 0)
}

/// Ends every live session of an agent (it was disabled).
pub fn end_all_for_agent(
    conn: &Connection,
    ws: &WorkspaceId,
    agent: &AgentId,
    now: Timestamp,
) -> Result<usize, AppError> {
    Ok(conn.execute(
        "UPDATE runtime_sessions SET ended_at = ?3 WHERE workspace_id = ?1 AND agent_id = ?2 AND ended_at IS NULL",
        params![ws, agent, now.0],
    )?)
}

/// Ends every live session started with a PAT (it was revoked).
pub fn end_all_for_pat(conn: &Connection, ws: &WorkspaceId, pat: &PatId, now: Timestamp) -> Result<usize, AppError> {
    Ok(conn.execute(
        "UPDATE runtime_sessions SET ended_at = ?3 WHERE workspace_id = ?1 AND pat_id = ?2 AND ended_at IS NULL",
        params![ws, pat, now.0],
    )?)
}

/// Live sessions of a PAT, oldest first (ids are time-ordered).
pub fn list_live_ids_for_pat(conn: &Connection, pat: &PatId, now: Timestamp) -> Result<Vec<SessionId>, AppError> {
    let mut stmt = super::cached(
        conn,
        "SELECT id FROM runtime_sessions WHERE pat_id = ?1 AND ended_at IS NULL AND expires_at > ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![pat, now.0], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forgets sessions that expired before `before` (a bounded batch).
pub fn delete_expired(conn: &Connection, before: Timestamp, batch: u32) -> Result<usize, AppError> {
    Ok(super::cached(
        conn,
        "DELETE FROM runtime_sessions WHERE id IN
         (SELECT id FROM runtime_sessions WHERE expires_at < ?1 LIMIT ?2)",
    )?
    .execute(params![before.0, batch])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_once_in_its_workspace_and_expired_ones_are_forgotten() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let pat = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                let session = |id: &str, expires_at: Timestamp| RuntimeSession {
                    id: SessionId(id.into()),
                    workspace_id: ws.id.clone(),
                    agent_id: agent.id.clone(),
                    pat_id: pat.id.clone(),
                    public_key: vec![1; 32],
                    key_thumbprint: format!("jkt-{id}"),
                    label: id.into(),
                    created_at: now,
                    expires_at,
                    ended_at: None,
                };
                insert(tx, &session("s1", now.plus_seconds(900)))?;
                insert(tx, &session("s2", now.plus_seconds(900)))?;
                insert(tx, &session("s3", now.plus_seconds(-10)))?;
                let ids = |v: Vec<SessionId>| v.into_iter().map(|s| s.0).collect::<Vec<_>>();
                let live = list_live_for_agent(tx, &ws.id, &agent.id, now)?;
                assert_eq!(ids(live.into_iter().map(|s| s.id).collect()), ["s2", "s1"], "newest first, not expired");
                assert_eq!(ids(list_live_ids_for_pat(tx, &pat.id, now)?), ["s1", "s2"], "oldest first");
                let found = find(tx, &SessionId("s1".into()))?.expect("stored");
                assert_eq!((found.key_thumbprint.as_str(), found.public_key.len()), ("jkt-s1", 32));

                let s1 = SessionId("s1".into());
                assert!(!update_ended(tx, &WorkspaceId("other".into()), &s1, now)?, "another workspace's");
                assert!(update_ended(tx, &ws.id, &s1, now)?);
                assert!(!update_ended(tx, &ws.id, &s1, now.plus_seconds(1))?, "ended once");
                assert_eq!(find(tx, &s1)?.unwrap().ended_at, Some(now));
                assert_eq!(ids(list_live_ids_for_pat(tx, &pat.id, now)?), ["s2"]);
                assert_eq!(end_all_for_pat(tx, &WorkspaceId("other".into()), &pat.id, now)?, 0);
                assert_eq!(end_all_for_pat(tx, &ws.id, &pat.id, now)?, 2, "s2 and the expired s3");
                assert!(list_live_for_agent(tx, &ws.id, &agent.id, now)?.is_empty());

                assert_eq!(delete_expired(tx, now, 10)?, 1);
                assert!(find(tx, &SessionId("s3".into()))?.is_none());
                assert!(find(tx, &s1)?.is_some(), "ended but not expired: kept");
                Ok(())
            })
            .unwrap();
        });
    }
}
