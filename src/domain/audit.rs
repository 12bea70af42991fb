//! Recording security-relevant events. One function, called inside the
//! same transaction as the change it describes, so an event exists exactly
//! when its change does.

use crate::db::Connection;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::db;
use crate::db::audit::AuditEvent;
use crate::domain::ids::{AgentId, UserId, WorkspaceId};
use crate::error::AppError;

/// Who did it.
#[derive(Debug, Clone)]
pub enum Actor {
    User {
        id: UserId,
        email: String,
    },
    Agent {
        id: AgentId,
        name: String,
    },
    /// Someone we could not identify (a failed login for an unknown email).
    Anonymous,
    /// The operator at the command line (`latchkey admin …`).
    Cli,
}

/// Where the request came from; never carries a secret.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

pub use crate::model::Outcome;

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub workspace_id: Option<&'a WorkspaceId>,
    pub actor: &'a Actor,
    pub kind: &'static str,
    pub target: Option<(&'static str, String)>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub meta: &'a RequestMeta,
}

impl<'a> Event<'a> {
    pub fn success(
        workspace_id: Option<&'a WorkspaceId>,
        actor: &'a Actor,
        kind: &'static str,
        meta: &'a RequestMeta,
    ) -> Self {
        Event { workspace_id, actor, kind, target: None, outcome: Outcome::Success, reason: None, meta }
    }

    pub fn failure(
        workspace_id: Option<&'a WorkspaceId>,
        actor: &'a Actor,
        kind: &'static str,
        reason: impl Into<String>,
        meta: &'a RequestMeta,
    ) -> Self {
        Event { workspace_id, actor, kind, target: None, outcome: Outcome::Failure, reason: Some(reason.into()), meta }
    }

    pub fn target(mut self, kind: &'static str, id: impl Into<String>) -> Self {
        self.target = Some((kind, id.into()));
        self
    }
}

/// Identical failures (same workspace, kind, actor, reason and client) within
/// this window collapse into one row with a count, so a flood of bad
/// attempts cannot flood the table.
const DEDUP_WINDOW_SECONDS: i64 = 60;

const MAX_USER_AGENT: usize = 256;

/// Records `event` at `now`.
pub fn record(conn: &Connection, event: Event<'_>, now: Timestamp) -> Result<(), AppError> {
    record_repeated(conn, event, now, 1)
}

/// What makes two failures the same one in the trail (they collapse into a
/// row with a count); `None` for successes, which never collapse.
pub fn dedup_key(event: &Event<'_>) -> Option<String> {
    if event.outcome != Outcome::Failure {
        return None;
    }
    let actor_id = match event.actor {
        Actor::User { id, .. } => id.as_str(),
        Actor::Agent { id, .. } => id.as_str(),
        Actor::Anonymous | Actor::Cli => "",
    };
    let mut h = Sha256::new();
    for part in [
        event.workspace_id.map(|w| w.as_str()).unwrap_or(""),
        event.kind,
        actor_id,
        event.reason.as_deref().unwrap_or(""),
        event.meta.client_ip.as_deref().unwrap_or(""),
        event.target.as_ref().map(|t| t.1.as_str()).unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    Some(hex::encode(h.finalize()))
}

/// Records `count` identical occurrences of `event` (the audit queue
/// coalesces a flood of one refusal before writing it).
pub fn record_repeated(conn: &Connection, event: Event<'_>, now: Timestamp, count: i64) -> Result<(), AppError> {
    let (actor_kind, actor_id, actor_label) = match event.actor {
        Actor::User { id, email } => ("user", Some(id.0.clone()), Some(email.clone())),
        Actor::Agent { id, name } => ("agent", Some(id.0.clone()), Some(format!("agent {name}"))),
        Actor::Anonymous => ("anonymous", None, None),
        Actor::Cli => ("cli", None, Some("command line".to_string())),
    };
    let user_agent = event.meta.user_agent.as_ref().map(|ua| truncate(ua, MAX_USER_AGENT));

    let dedup_key = dedup_key(&event);
    if let Some(key) = &dedup_key
        && db::audit::bump_recent(conn, key, now.plus_seconds(-DEDUP_WINDOW_SECONDS), now, count)?
    {
        return Ok(());
    }

    let row = AuditEvent {
        id: db::new_id(),
        created_at: now,
        workspace_id: event.workspace_id.cloned(),
        actor_kind: actor_kind.into(),
        actor_id,
        actor_label,
        kind: event.kind.into(),
        target_kind: event.target.as_ref().map(|t| t.0.to_string()),
        target_id: event.target.map(|t| t.1),
        outcome: event.outcome,
        reason: event.reason,
        client_ip: event.meta.client_ip.clone(),
        user_agent,
        repeat_count: count.max(1),
        last_at: now,
    };
    db::audit::insert(conn, &row, dedup_key.as_deref())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
