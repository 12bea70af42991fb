//! The `memberships` table: which user belongs to which workspace, as what.

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::domain::Role;
use crate::domain::ids::{UserId, WorkspaceId};
use crate::error::AppError;

pub fn insert(conn: &Connection, ws: &WorkspaceId, user: &UserId, role: Role, now: Timestamp) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![ws, user, role.as_str(), now.0],
    )?;
    Ok(())
}

pub fn find_role(conn: &Connection, ws: &WorkspaceId, user: &UserId) -> Result<Option<Role>, AppError> {
    let role: Option<String> =
        super::cached(conn, "SELECT role FROM memberships WHERE workspace_id = ?1 AND user_id = ?2")?
            .query_row(params![ws, user], |r| r.get(0))
            .optional()?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// The user's workspaces with their role, owners' first, then oldest first.
pub fn list_for_user(conn: &Connection, user: &UserId) -> Result<Vec<(Workspace, Role)>, AppError> {
    let mut stmt = super::cached(
        conn,
        "SELECT w.id, w.name, w.agent_security_mode, w.created_at, m.role
         FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = ?1
         ORDER BY m.role = 'owner' DESC, w.id",
    )?;
    let rows = stmt.query_map([user], |r| {
        Ok((
            Workspace {
                id: r.get(0)?,
                name: r.get(1)?,
                agent_security_mode: r.get(2)?,
                created_at: Timestamp(r.get(3)?),
            },
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ws, role) = row?;
        if let Some(role) = Role::parse(&role) {
            out.push((ws, role));
        }
    }
    Ok(out)
}

pub fn count_owners(conn: &Connection) -> Result<i64, AppError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM memberships WHERE role = 'owner'", [], |r| r.get(0))?)
}
