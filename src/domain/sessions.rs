//! Runtime sessions: a short-lived JWT bound to an ephemeral Ed25519 key,
//! started with an agent PAT (docs/API.md §1.2, §5.3).

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::crypto::signing::SessionKey;
use crate::db;
use crate::db::runtime_sessions::RuntimeSession;
use crate::domain::agents::By;
use crate::domain::audit::{self, Event};
use crate::domain::ids::{AgentId, PatId, SessionId, WorkspaceId};
use crate::error::AppError;

pub fn parse_label(raw: Option<&str>) -> Result<String, AppError> {
    let label = raw.unwrap_or("").trim();
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(AppError::Validation("label: at most 100 characters, no control characters.".into()));
    }
    Ok(label.to_string())
}

/// Live sessions one PAT may hold; starting another ends the oldest.
pub const MAX_LIVE_SESSIONS_PER_PAT: usize = 50;

/// Records a new session; it lives `ttl` seconds, never past its PAT.
#[allow(clippy::too_many_arguments)]
pub fn start(
    tx: &Connection,
    ws: &WorkspaceId,
    agent: &AgentId,
    pat: &PatId,
    pat_expires_at: Timestamp,
    key: &SessionKey,
    label: String,
    ttl: i64,
    by: &By<'_>,
) -> Result<RuntimeSession, AppError> {
    let session = RuntimeSession {
        id: SessionId::generate(),
        workspace_id: ws.clone(),
        agent_id: agent.clone(),
        pat_id: pat.clone(),
        public_key: key.key.to_bytes().to_vec(),
        key_thumbprint: key.thumbprint.clone(),
        label,
        created_at: by.now,
        expires_at: by.now.plus_seconds(ttl).min(pat_expires_at),
        ended_at: None,
    };
    db::runtime_sessions::insert(tx, &session)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "session.started", by.meta).target("session", session.id.clone()),
        by.now,
    )?;
    // A PAT holds a bounded number of live sessions: past it, the oldest end.
    let live = db::runtime_sessions::list_live_ids_for_pat(tx, pat, by.now)?;
    for oldest in live.iter().take(live.len().saturating_sub(MAX_LIVE_SESSIONS_PER_PAT)) {
        if db::runtime_sessions::update_ended(tx, ws, oldest, by.now)? {
            let mut event =
                Event::success(Some(ws), by.actor, "session.ended", by.meta).target("session", oldest.clone());
            event.reason = Some(format!("more than {MAX_LIVE_SESSIONS_PER_PAT} live sessions on one PAT"));
            audit::record(tx, event, by.now)?;
        }
    }
    Ok(session)
}

/// Ends a session at once: its JWT fails on the next request.
pub fn end(tx: &Connection, ws: &WorkspaceId, id: &SessionId, by: &By<'_>) -> Result<(), AppError> {
    if db::runtime_sessions::update_ended(tx, ws, id, by.now)? {
        audit::record(
            tx,
            Event::success(Some(ws), by.actor, "session.ended", by.meta).target("session", id.to_string()),
            by.now,
        )?;
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
