//! The `resources` table: services a workspace guards.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::{ResourceId, WorkspaceId};
use crate::model::resource::{Resource, Rule};

const COLUMNS: &str = "id, workspace_id, name, identifier, authority, scopes, rules, created_at, updated_at, version";

fn from_row(r: &Row<'_>) -> crate::db::Result<Resource> {
    let json = |i: usize| -> crate::db::Result<String> { r.get(i) };
    let bad = |i, e: serde_json::Error| crate::db::Error::conversion(i, e);
    let scopes: Vec<String> = serde_json::from_str(&json(5)?).map_err(|e| bad(5, e))?;
    let rules: Vec<Rule> = serde_json::from_str(&json(6)?).map_err(|e| bad(6, e))?;
    Ok(Resource {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        name: r.get(2)?,
        identifier: r.get(3)?,
        authority: r.get(4)?,
        scopes,
        rules,
        created_at: Timestamp(r.get(7)?),
        updated_at: Timestamp(r.get(8)?),
        version: r.get(9)?,
    })
}

fn conflict(e: crate::db::Error, identifier: &str) -> AppError {
    match e {
        e if e.is_constraint_violation() => {
            AppError::Conflict(format!("identifier: {identifier} is already registered as a resource on this server."))
        }
        other => other.into(),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(AppError::internal)
}

pub fn insert(conn: &Connection, r: &Resource) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO resources (id, workspace_id, name, identifier, authority, scopes, rules, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            r.id,
            r.workspace_id,
            r.name,
            r.identifier,
            r.authority,
            to_json(&r.scopes)?,
            to_json(&r.rules)?,
            r.created_at.0,
            r.updated_at.0
        ],
    )
    .map_err(|e| conflict(e, &r.identifier))?;
    Ok(())
}

pub fn update(conn: &Connection, r: &Resource) -> Result<(), AppError> {
    conn.execute(
        "UPDATE resources SET name = ?3, identifier = ?4, authority = ?5, scopes = ?6, rules = ?7, updated_at = ?8,
                version = version + 1
         WHERE workspace_id = ?1 AND id = ?2",
        params![
            r.workspace_id,
            r.id,
            r.name,
            r.identifier,
            r.authority,
            to_json(&r.scopes)?,
            to_json(&r.rules)?,
            r.updated_at.0
        ],
    )
    .map_err(|e| conflict(e, &r.identifier))?;
    Ok(())
}

pub fn delete(conn: &Connection, ws: &WorkspaceId, id: &ResourceId) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM resources WHERE workspace_id = ?1 AND id = ?2", params![ws, id])? > 0)
}

/// Scoped by workspace.
pub fn find(conn: &Connection, ws: &WorkspaceId, id: &ResourceId) -> Result<Option<Resource>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM resources WHERE workspace_id = ?1 AND id = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], from_row).optional()?)
}

/// By id across workspaces: forward-auth and the public metadata document,
/// which name a resource before any credential is known.
pub fn find_any(conn: &Connection, id: &ResourceId) -> Result<Option<Resource>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM resources WHERE id = ?1");
    Ok(super::cached(conn, &sql)?.query_row([id], from_row).optional()?)
}

/// The resource's version (it changes with every update), across
/// workspaces: enough to tell whether a cached copy is current.
pub fn version_of(conn: &Connection, id: &ResourceId) -> Result<Option<i64>, AppError> {
    Ok(super::cached(conn, "SELECT version FROM resources WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?)
}

/// By identifier across workspaces (the OAuth `resource` parameter).
pub fn find_by_identifier(conn: &Connection, identifier: &str) -> Result<Option<Resource>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM resources WHERE identifier = ?1");
    Ok(super::cached(conn, &sql)?.query_row([identifier], from_row).optional()?)
}

/// Every scope any resource declares, sorted (the OAuth metadata).
pub fn all_scopes(conn: &Connection) -> Result<Vec<String>, AppError> {
    let mut stmt = super::cached(conn, "SELECT scopes FROM resources")?;
    let rows = stmt.query_map([], |r| r.get::<String>(0))?;
    let mut all = std::collections::BTreeSet::new();
    for raw in rows {
        for s in serde_json::from_str::<Vec<String>>(&raw?).unwrap_or_default() {
            all.insert(s);
        }
    }
    Ok(all.into_iter().collect())
}

/// Every resource served at `authority` (host[:port]), across workspaces.
pub fn find_by_authority(conn: &Connection, authority: &str) -> Result<Vec<Resource>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM resources WHERE authority = ?1");
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map([authority], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Newest first.
pub fn list(conn: &Connection, ws: &WorkspaceId, before: Option<&str>, limit: u32) -> Result<Vec<Resource>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM resources WHERE workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, before, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_identifier_is_registered_once_and_every_update_is_a_version() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            let (ws, _) = db.write_blocking(|tx| crate::domain::setup::workspace_with_agent(tx, now)).unwrap();
            let resource = |id: &str, identifier: &str, scopes: &[&str]| Resource {
                id: ResourceId(id.into()),
                workspace_id: ws.id.clone(),
                name: id.into(),
                identifier: identifier.into(),
                authority: "api.example.com".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                rules: Vec::new(),
                created_at: now,
                updated_at: now,
                version: 1,
            };
            db.write_blocking(|tx| {
                insert(tx, &resource("r1", "https://api.example.com/a", &["read", "write"]))?;
                insert(tx, &resource("r2", "https://api.example.com/b", &["admin", "read"]))
            })
            .unwrap();
            let taken = db.write_blocking(|tx| insert(tx, &resource("r3", "https://api.example.com/a", &[])));
            assert!(
                matches!(&taken, Err(AppError::Conflict(m)) if m.contains("https://api.example.com/a")),
                "{taken:?}"
            );
            db.write_blocking(|tx| {
                let r1 = ResourceId("r1".into());
                let found = find(tx, &ws.id, &r1)?.expect("stored");
                assert_eq!(
                    (found.scopes.as_slice(), found.version),
                    (["read".to_string(), "write".into()].as_slice(), 1)
                );
                assert!(find(tx, &WorkspaceId("other".into()), &r1)?.is_none(), "another workspace's");
                assert_eq!(find_any(tx, &r1)?.map(|r| r.workspace_id), Some(ws.id.clone()));
                assert_eq!(find_by_identifier(tx, "https://api.example.com/b")?.map(|r| r.id.0), Some("r2".into()));
                assert_eq!(find_by_authority(tx, "api.example.com")?.len(), 2);
                assert_eq!(all_scopes(tx)?, ["admin", "read", "write"], "sorted, once each");
                let ids = |v: Vec<Resource>| v.into_iter().map(|r| r.id.0).collect::<Vec<_>>();
                assert_eq!(ids(list(tx, &ws.id, None, 10)?), ["r2", "r1"]);
                assert_eq!(ids(list(tx, &ws.id, Some("r2"), 10)?), ["r1"]);

                let changed = Resource { name: "renamed".into(), ..found };
                update(tx, &changed)?;
                update(tx, &changed)?;
                assert_eq!(version_of(tx, &r1)?, Some(3));
                assert_eq!(find(tx, &ws.id, &r1)?.map(|r| r.name), Some("renamed".into()));
                assert!(!delete(tx, &WorkspaceId("other".into()), &r1)?);
                assert!(delete(tx, &ws.id, &r1)?);
                assert_eq!(version_of(tx, &r1)?, None);
                Ok(())
            })
            .unwrap();
        });
    }
}
