//! Agent Security Mode (docs/API.md §1.1): per workspace, off by default.
//! While it is off no non-browser credential of the workspace works.

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::db;
use crate::db::workspaces::Workspace;
use crate::domain::audit::{self, Actor, Event, RequestMeta};
use crate::domain::ids::WorkspaceId;
use crate::error::AppError;

/// The one check every non-browser credential goes through.
pub fn require_on(ws: &Workspace, settings_url: &str) -> Result<(), AppError> {
    if ws.agent_security_mode {
        Ok(())
    } else {
        Err(AppError::AgentSecurityModeOff { settings_url: settings_url.to_string() })
    }
}

/// How many live credentials turning the mode off would suspend (and
/// turning it back on restores): unrevoked, unexpired PATs.
pub fn credentials_suspended_when_off(conn: &Connection, ws: &WorkspaceId, now: Timestamp) -> Result<i64, AppError> {
    db::pats::count_live(conn, ws, now)
}

/// Switches the mode and records who did it. Switching to the state it is
/// already in changes nothing and records nothing.
pub fn set(
    conn: &Connection,
    ws: &WorkspaceId,
    on: bool,
    actor: &Actor,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<bool, AppError> {
    let current = db::workspaces::get(conn, ws)?;
    if current.agent_security_mode == on {
        return Ok(false);
    }
    let suspended = if on { 0 } else { credentials_suspended_when_off(conn, ws, now)? };
    db::workspaces::update_security_mode(conn, ws, on)?;
    let kind = if on { "security_mode.on" } else { "security_mode.off" };
    let mut event = Event::success(Some(ws), actor, kind, meta).target("workspace", ws.0.clone());
    if !on {
        event.reason = Some(format!("{suspended} credentials suspended"));
    }
    audit::record(conn, event, now)?;
    Ok(true)
}
