//! The `memberships` table: which user belongs to which workspace, as what.

use crate::db::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::Role;
use crate::model::ids::{UserId, WorkspaceId};

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
            r.get::<String>(4)?,
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

/// A member as the Members page and `/v1/members` show them.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// The workspace's members, owners first, then by joining time.
pub fn list_for_workspace(conn: &Connection, ws: &WorkspaceId) -> Result<Vec<Member>, AppError> {
    let mut stmt = super::cached(
        conn,
        "SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = ?1 ORDER BY m.role = 'owner' DESC, m.created_at",
    )?;
    let rows = stmt.query_map([ws], |r| {
        let role: String = r.get(3)?;
        Ok(Member {
            user_id: r.get(0)?,
            email: r.get(1)?,
            name: r.get(2)?,
            role: Role::parse(&role).unwrap_or(Role::Member),
            joined_at: Timestamp(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_role(conn: &Connection, ws: &WorkspaceId, user: &UserId, role: Role) -> Result<bool, AppError> {
    Ok(conn.execute(
        "UPDATE memberships SET role = ?3 WHERE workspace_id = ?1 AND user_id = ?2",
        params![ws, user, role.as_str()],
    )? > 0)
}

pub fn delete(conn: &Connection, ws: &WorkspaceId, user: &UserId) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM memberships WHERE workspace_id = ?1 AND user_id = ?2", params![ws, user])? > 0)
}

pub fn count_owners_in(conn: &Connection, ws: &WorkspaceId) -> Result<i64, AppError> {
    Ok(conn
        .query_row("SELECT COUNT(*) FROM memberships WHERE workspace_id = ?1 AND role = 'owner'", [ws], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    #[test]
    fn roles_are_per_workspace_and_owners_are_counted() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, _) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let email = Email::parse("second@example.com").expect("an email");
                let second = crate::domain::workspaces::create_user(tx, &email, "$argon2id$x", now)?;
                let owner = list_for_workspace(tx, &ws.id)?.remove(0);
                let other = crate::domain::workspaces::create_with_owner(tx, "other", &second.id, now)?;
                assert_eq!((count_owners(tx)?, count_owners_in(tx, &ws.id)?), (2, 1));

                insert(tx, &ws.id, &second.id, Role::Member, now.plus_seconds(1))?;
                assert_eq!(find_role(tx, &ws.id, &second.id)?, Some(Role::Member));
                assert_eq!(find_role(tx, &other.id, &second.id)?, Some(Role::Owner), "each workspace its own role");
                assert_eq!(find_role(tx, &other.id, &owner.user_id)?, None);
                let members: Vec<_> = list_for_workspace(tx, &ws.id)?.into_iter().map(|m| (m.email, m.role)).collect();
                assert_eq!(
                    members,
                    [("owner@example.com".to_string(), Role::Owner), ("second@example.com".into(), Role::Member)]
                );
                let mine: Vec<_> = list_for_user(tx, &second.id)?.into_iter().map(|(w, r)| (w.id, r)).collect();
                assert_eq!(mine, [(other.id.clone(), Role::Owner), (ws.id.clone(), Role::Member)], "owned first");

                assert!(set_role(tx, &ws.id, &second.id, Role::Owner)?);
                assert_eq!(count_owners_in(tx, &ws.id)?, 2);
                assert!(!set_role(tx, &ws.id, &UserId("nobody".into()), Role::Owner)?, "not a member");
                assert!(delete(tx, &ws.id, &second.id)?);
                assert!(!delete(tx, &ws.id, &second.id)?, "removed once");
                assert_eq!(find_role(tx, &ws.id, &second.id)?, None);
                assert_eq!(find_role(tx, &other.id, &second.id)?, Some(Role::Owner), "the other workspace untouched");
                Ok(())
            })
            .unwrap();
        });
    }
}
