//! The `users` table: people with a dashboard login (or auto-provisioned).

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::{UserId, WorkspaceId};

#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub auto_provisioned: bool,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, email, name, password_hash, auto_provisioned, created_at";

fn from_row(row: &Row<'_>) -> crate::db::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        password_hash: row.get(3)?,
        auto_provisioned: row.get(4)?,
        created_at: Timestamp(row.get(5)?),
    })
}

pub fn insert(conn: &Connection, user: &User) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, auto_provisioned, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![user.id, user.email, user.name, user.password_hash, user.auto_provisioned, user.created_at.0],
    )
    .map_err(|e| match e {
        e if e.is_constraint_violation() => AppError::Conflict("A user with this email already exists.".into()),
        other => other.into(),
    })?;
    Ok(())
}

/// The identity `ws` provisioned for `email` through a delegated JWT.
pub fn find_scoped(conn: &Connection, ws: &WorkspaceId, email: &str) -> Result<Option<User>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE scope_workspace_id = ?1 AND email = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, email], from_row).optional()?)
}

/// An auto-provisioned user that belongs to `ws` alone.
pub fn insert_scoped(conn: &Connection, ws: &WorkspaceId, user: &User) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, auto_provisioned, created_at, updated_at, scope_workspace_id)
         VALUES (?1, ?2, ?3, NULL, 1, ?4, ?4, ?5)",
        params![user.id, user.email, user.name, user.created_at.0, ws],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, id: &UserId) -> Result<Option<User>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    Ok(super::cached(conn, &sql)?.query_row([id], from_row).optional()?)
}

/// `email` must already be normalised (see `domain::Email`).
/// The password account with this email (never a workspace's delegated
/// identity).
pub fn find_by_email(conn: &Connection, email: &str) -> Result<Option<User>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = ?1 AND scope_workspace_id IS NULL");
    Ok(super::cached(conn, &sql)?.query_row([email], from_row).optional()?)
}

pub fn count(conn: &Connection) -> Result<i64, AppError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn update_password(conn: &Connection, id: &UserId, hash: &str, now: Timestamp) -> Result<(), AppError> {
    let n =
        conn.execute("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1", params![id, hash, now.0])?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

pub fn update_name(conn: &Connection, id: &UserId, name: &str, now: Timestamp) -> Result<(), AppError> {
    conn.execute("UPDATE users SET name = ?2, updated_at = ?3 WHERE id = ?1", params![id, name, now.0])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_one_account_and_each_workspace_may_hold_its_own_delegated_identity() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            let user = |id: &str, email: &str| User {
                id: UserId(id.into()),
                email: email.into(),
                name: id.into(),
                password_hash: Some("$argon2id$x".into()),
                auto_provisioned: false,
                created_at: now,
            };
            let (ws, _) = db.write_blocking(|tx| crate::domain::setup::workspace_with_agent(tx, now)).unwrap();
            let other = WorkspaceId("other-ws".into());
            db.write_blocking(|tx| {
                crate::db::workspaces::insert(
                    tx,
                    &crate::db::workspaces::Workspace {
                        id: other.clone(),
                        name: "other".into(),
                        agent_security_mode: true,
                        created_at: now,
                    },
                )?;
                insert(tx, &user("u1", "ann@example.com"))?;
                insert_scoped(tx, &ws.id, &user("d1", "ann@example.com"))?;
                insert_scoped(tx, &other, &user("d2", "ann@example.com"))
            })
            .unwrap();
            let taken = db.write_blocking(|tx| insert(tx, &user("u2", "ann@example.com")));
            assert!(matches!(taken, Err(AppError::Conflict(_))), "one password account per email");
            db.write_blocking(|tx| {
                assert_eq!(
                    find_by_email(tx, "ann@example.com")?.map(|u| u.id.0),
                    Some("u1".into()),
                    "never a delegated one"
                );
                assert_eq!(find_scoped(tx, &ws.id, "ann@example.com")?.map(|u| u.id.0), Some("d1".into()));
                assert_eq!(find_scoped(tx, &other, "ann@example.com")?.map(|u| u.id.0), Some("d2".into()));
                let delegated = find(tx, &UserId("d1".into()))?.expect("stored");
                assert_eq!((delegated.auto_provisioned, delegated.password_hash), (true, None), "no password");
                assert!(find_scoped(tx, &ws.id, "bob@example.com")?.is_none());

                update_password(tx, &UserId("u1".into()), "$argon2id$y", now)?;
                assert_eq!(find(tx, &UserId("u1".into()))?.and_then(|u| u.password_hash), Some("$argon2id$y".into()));
                assert!(matches!(update_password(tx, &UserId("nobody".into()), "h", now), Err(AppError::NotFound)));
                update_name(tx, &UserId("d1".into()), "Ann", now)?;
                assert_eq!(find(tx, &UserId("d1".into()))?.map(|u| u.name), Some("Ann".into()));
                Ok(())
            })
            .unwrap();
        });
    }
}
