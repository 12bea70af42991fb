//! Agents: named non-human principals of a workspace.

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::db;
use crate::db::agents::Agent;
use crate::domain::audit::{self, Actor, Event, RequestMeta};
use crate::domain::ids::{AgentId, UserId, WorkspaceId};
use crate::domain::principal::Acting;
use crate::error::AppError;

pub use crate::model::AgentStatus;

/// An agent name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or
/// digit, so it is safe in a shell, a file name and a URL.
pub fn parse_name(raw: &str) -> Result<String, AppError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw.as_bytes()[0].is_ascii_alphanumeric()
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(AppError::Validation(
            "name: 1 to 64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit.".into(),
        ))
    }
}

pub fn parse_description(raw: Option<&str>) -> Result<String, AppError> {
    let d = raw.unwrap_or("").trim();
    if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::Validation("description: at most 500 characters, no control characters.".into()));
    }
    Ok(d.to_string())
}

/// Who did something, for the audit trail.
pub struct By<'a> {
    pub actor: &'a Actor,
    pub meta: &'a RequestMeta,
    pub now: Timestamp,
}

/// Who acts, from where, and when: what an audited write needs, owned so
/// that it can move into the writer's closure, where [`Origin::by`] lends
/// it to the domain function.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: Actor,
    pub meta: RequestMeta,
    pub now: Timestamp,
}

impl Origin {
    pub fn by(&self) -> By<'_> {
        By { actor: &self.actor, meta: &self.meta, now: self.now }
    }
}

pub fn create(
    tx: &Connection,
    ws: &WorkspaceId,
    name: &str,
    description: &str,
    owner: Option<&UserId>,
    by: &By<'_>,
) -> Result<Agent, AppError> {
    let agent = Agent {
        id: AgentId::generate(),
        workspace_id: ws.clone(),
        name: name.to_string(),
        description: description.to_string(),
        status: AgentStatus::Created,
        owner_user_id: owner.cloned(),
        enrolled_at: None,
        created_at: by.now,
        updated_at: by.now,
        public_jwk: None,
        key_thumbprint: None,
        kind: crate::model::AgentKind::Agent,
    };
    db::agents::insert(tx, &agent)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "agent.created", by.meta).target("agent", agent.id.0.clone()),
        by.now,
    )?;
    Ok(agent)
}

/// The agent if `who` may manage it; not found otherwise (a member cannot
/// even learn that another member's agent exists).
pub fn get_manageable(conn: &Connection, ws: &WorkspaceId, id: &AgentId, who: &Acting) -> Result<Agent, AppError> {
    db::agents::find(conn, ws, id)?.filter(|a| who.may_manage(a.owner_user_id.as_ref())).ok_or(AppError::NotFound)
}

/// Disables or re-enables an agent. Disabling makes every credential bound
/// to it fail on its next use (the bearer layer reads the status).
pub fn set_enabled(tx: &Connection, agent: &Agent, enabled: bool, by: &By<'_>) -> Result<Agent, AppError> {
    let status = match (enabled, agent.enrolled_at) {
        (false, _) => AgentStatus::Disabled,
        (true, Some(_)) => AgentStatus::Active,
        (true, None) => AgentStatus::Created,
    };
    if status != agent.status {
        db::agents::update_status(tx, &agent.workspace_id, &agent.id, status, by.now)?;
        if !enabled {
            db::runtime_sessions::end_all_for_agent(tx, &agent.workspace_id, &agent.id, by.now)?;
            db::access_tokens::delete_for_agent(tx, &agent.id)?;
            db::oauth::revoke_grants_of_agent(tx, &agent.id, by.now)?;
        }
        let kind = if enabled { "agent.enabled" } else { "agent.disabled" };
        audit::record(
            tx,
            Event::success(Some(&agent.workspace_id), by.actor, kind, by.meta).target("agent", agent.id.0.clone()),
            by.now,
        )?;
    }
    db::agents::find(tx, &agent.workspace_id, &agent.id)?.ok_or(AppError::NotFound)
}
