//! The `agents` table.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::AgentStatus;
use crate::model::ids::{AgentId, UserId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: AgentId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub status: AgentStatus,
    pub owner_user_id: Option<UserId>,
    pub enrolled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The agent's registered ES256 public key (a P-256 JWK), once enrolled.
    pub public_jwk: Option<String>,
    pub key_thumbprint: Option<String>,
    pub kind: crate::model::AgentKind,
}

const COLUMNS: &str = "id, workspace_id, name, description, status, owner_user_id, enrolled_at, created_at, updated_at,
                       public_jwk, key_thumbprint, kind";

fn from_row(r: &Row<'_>) -> crate::db::Result<Agent> {
    let status: String = r.get(4)?;
    Ok(Agent {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        status: AgentStatus::parse(&status).unwrap_or(AgentStatus::Disabled),
        owner_user_id: r.get(5)?,
        enrolled_at: r.get::<Option<i64>>(6)?.map(Timestamp),
        created_at: Timestamp(r.get(7)?),
        updated_at: Timestamp(r.get(8)?),
        public_jwk: r.get(9)?,
        key_thumbprint: r.get(10)?,
        kind: r.get(11)?,
    })
}

pub fn insert(conn: &Connection, a: &Agent) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO agents (id, workspace_id, name, description, status, owner_user_id, enrolled_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            a.id,
            a.workspace_id,
            a.name,
            a.description,
            a.status.as_str(),
            a.owner_user_id,
            a.enrolled_at.map(|t| t.0),
            a.created_at.0,
            a.updated_at.0
        ],
    )
    .map_err(|e| match e {
        e if e.is_constraint_violation() => {
            AppError::Conflict(format!("An agent named {:?} already exists in this workspace.", a.name))
        }
        other => other.into(),
    })?;
    Ok(())
}

/// Scoped by workspace: another workspace's agent is simply not found.
pub fn find(conn: &Connection, ws: &WorkspaceId, id: &AgentId) -> Result<Option<Agent>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE workspace_id = ?1 AND id = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], from_row).optional()?)
}

pub fn find_by_name(conn: &Connection, ws: &WorkspaceId, name: &str) -> Result<Option<Agent>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE workspace_id = ?1 AND name = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, name], from_row).optional()?)
}

/// Newest first; `owner` limits the list to one member's agents.
pub fn list(
    conn: &Connection,
    ws: &WorkspaceId,
    owner: Option<&UserId>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Agent>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agents
         WHERE workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR owner_user_id = ?2) AND (CAST(?3 AS TEXT) IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, owner, before, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn update_status(
    conn: &Connection,
    ws: &WorkspaceId,
    id: &AgentId,
    status: AgentStatus,
    now: Timestamp,
) -> Result<(), AppError> {
    let n = conn.execute(
        "UPDATE agents SET status = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND id = ?2",
        params![ws, id, status.as_str(), now.0],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// By id alone: the token endpoint learns the workspace from the agent.
pub fn find_any_workspace(conn: &Connection, id: &AgentId) -> Result<Option<Agent>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE id = ?1");
    Ok(super::cached(conn, &sql)?.query_row([id], from_row).optional()?)
}

/// The agent (any workspace) with its workspace, in one statement: what the
/// token endpoint reads before it verifies an assertion, and re-reads in
/// the transaction that issues the token.
pub fn find_with_workspace(conn: &Connection, id: &AgentId) -> Result<Option<(Agent, Workspace)>, AppError> {
    const SQL: &str = "SELECT a.id, a.workspace_id, a.name, a.description, a.status, a.owner_user_id, a.enrolled_at,
                a.created_at, a.updated_at, a.public_jwk, a.key_thumbprint, a.kind,
                w.name, w.agent_security_mode, w.created_at
         FROM agents a JOIN workspaces w ON w.id = a.workspace_id WHERE a.id = +?1";
    Ok(super::cached(conn, SQL)?
        .query_row([id], |r| {
            let agent = from_row(r)?;
            let workspace = Workspace {
                id: agent.workspace_id.clone(),
                name: r.get(12)?,
                agent_security_mode: r.get(13)?,
                created_at: Timestamp(r.get(14)?),
            };
            Ok((agent, workspace))
        })
        .optional()?)
}

/// Registers (or replaces) the agent's key and makes it active.
pub fn update_key(
    conn: &Connection,
    id: &AgentId,
    public_jwk: &str,
    thumbprint: &str,
    enrolled_at: Timestamp,
    now: Timestamp,
) -> Result<(), AppError> {
    conn.execute(
        "UPDATE agents SET public_jwk = ?2, key_thumbprint = ?3, status = 'active',
                enrolled_at = COALESCE(enrolled_at, ?4), updated_at = ?5
         WHERE id = ?1",
        params![id, public_jwk, thumbprint, enrolled_at.0, now.0],
    )?;
    Ok(())
}

/// Marks an agent as what it is (`oauth_client` for an approved client).
pub fn set_kind(conn: &Connection, id: &AgentId, kind: crate::model::AgentKind) -> Result<(), AppError> {
    conn.execute("UPDATE agents SET kind = ?2 WHERE id = ?1", params![id, kind])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_named_once_per_workspace_and_keeps_its_first_enrolment() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            let (ws, first) = db.write_blocking(|tx| crate::domain::setup::workspace_with_agent(tx, now)).unwrap();
            let agent = |id: &str, name: &str, owner: Option<UserId>| Agent {
                id: AgentId(id.into()),
                workspace_id: ws.id.clone(),
                name: name.into(),
                description: String::new(),
                status: AgentStatus::Created,
                owner_user_id: owner,
                enrolled_at: None,
                created_at: now,
                updated_at: now,
                public_jwk: None,
                key_thumbprint: None,
                kind: crate::model::AgentKind::Agent,
            };
            // The name is taken: refused as a conflict naming it, nothing written.
            let taken = db.write_blocking(|tx| insert(tx, &agent("zz-dup", "a", None)));
            assert!(matches!(&taken, Err(AppError::Conflict(m)) if m.contains("\"a\"")), "{taken:?}");
            db.write_blocking(|tx| {
                let owner = crate::db::memberships::list_for_workspace(tx, &ws.id)?.remove(0).user_id;
                insert(tx, &agent("zz-b", "b", Some(owner.clone())))?;
                insert(tx, &agent("zz-c", "c", None))?;
                let names = |v: Vec<Agent>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
                assert_eq!(names(list(tx, &ws.id, None, None, 10)?), ["c", "b", "a"], "newest first");
                assert_eq!(names(list(tx, &ws.id, None, Some("zz-c"), 10)?), ["b", "a"], "the page after c");
                assert_eq!(names(list(tx, &ws.id, Some(&owner), None, 10)?), ["b"], "one member's");
                assert!(find(tx, &ws.id, &AgentId("zz-dup".into()))?.is_none(), "the refused one");
                let b = AgentId("zz-b".into());
                assert_eq!(find_by_name(tx, &ws.id, "b")?.map(|a| a.id), Some(b.clone()));
                assert!(find(tx, &WorkspaceId("other".into()), &b)?.is_none(), "another workspace's");
                assert!(matches!(
                    update_status(tx, &WorkspaceId("other".into()), &b, AgentStatus::Disabled, now),
                    Err(AppError::NotFound)
                ));

                update_key(tx, &b, "{\"kty\":\"EC\"}", "jkt-1", now, now)?;
                let later = now.plus_seconds(60);
                update_key(tx, &b, "{\"kty\":\"EC\"}", "jkt-2", later, later)?;
                let (enrolled, in_ws) = find_with_workspace(tx, &b)?.expect("with its workspace");
                assert_eq!(
                    (enrolled.status, enrolled.enrolled_at, enrolled.key_thumbprint.as_deref(), in_ws.id),
                    (AgentStatus::Active, Some(now), Some("jkt-2"), ws.id.clone()),
                    "a new key, the first enrolment time"
                );
                update_status(tx, &ws.id, &b, AgentStatus::Disabled, later)?;
                set_kind(tx, &b, crate::model::AgentKind::OauthClient)?;
                let disabled = find_any_workspace(tx, &b)?.expect("by id alone");
                assert_eq!(
                    (disabled.status, disabled.kind),
                    (AgentStatus::Disabled, crate::model::AgentKind::OauthClient)
                );
                assert_eq!(find(tx, &ws.id, &first.id)?.map(|a| a.status), Some(AgentStatus::Created));
                Ok(())
            })
            .unwrap();
        });
    }
}
