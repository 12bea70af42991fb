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
