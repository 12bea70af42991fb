//! The `workspaces` table: tenants.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::WorkspaceId;

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub agent_security_mode: bool,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, name, agent_security_mode, created_at";

fn from_row(row: &Row<'_>) -> crate::db::Result<Workspace> {
    Ok(Workspace {
        id: row.get(0)?,
        name: row.get(1)?,
        agent_security_mode: row.get(2)?,
        created_at: Timestamp(row.get(3)?),
    })
}

pub fn insert(conn: &Connection, ws: &Workspace) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO workspaces (id, name, agent_security_mode, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![ws.id, ws.name, ws.agent_security_mode, ws.created_at.0],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, id: &WorkspaceId) -> Result<Option<Workspace>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM workspaces WHERE id = ?1");
    Ok(super::cached(conn, &sql)?.query_row([id], from_row).optional()?)
}

pub fn get(conn: &Connection, id: &WorkspaceId) -> Result<Workspace, AppError> {
    find(conn, id)?.ok_or(AppError::NotFound)
}

pub fn list_all(conn: &Connection) -> Result<Vec<Workspace>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM workspaces ORDER BY id");
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn update_security_mode(conn: &Connection, id: &WorkspaceId, on: bool) -> Result<(), AppError> {
    let n = conn.execute("UPDATE workspaces SET agent_security_mode = ?2 WHERE id = ?1", params![id, on])?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_security_mode_switches_per_workspace() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                for id in ["w2", "w1"] {
                    let ws = Workspace {
                        id: WorkspaceId(id.into()),
                        name: id.into(),
                        agent_security_mode: false,
                        created_at: now,
                    };
                    insert(tx, &ws)?;
                }
                let (w1, w2) = (WorkspaceId("w1".into()), WorkspaceId("w2".into()));
                update_security_mode(tx, &w1, true)?;
                assert!(get(tx, &w1)?.agent_security_mode);
                assert!(!get(tx, &w2)?.agent_security_mode, "the other workspace untouched");
                assert_eq!(list_all(tx)?.into_iter().map(|w| w.id).collect::<Vec<_>>(), [w1.clone(), w2]);
                update_security_mode(tx, &w1, false)?;
                assert!(!get(tx, &w1)?.agent_security_mode);
                let nowhere = WorkspaceId("nope".into());
                assert!(matches!(update_security_mode(tx, &nowhere, true), Err(AppError::NotFound)));
                assert!(matches!(get(tx, &nowhere), Err(AppError::NotFound)));
                Ok(())
            })
            .unwrap();
        });
    }
}
