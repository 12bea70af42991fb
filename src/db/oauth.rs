//! The OAuth tables: clients, grants, authorization codes, refresh tokens.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::AgentStatus;
use crate::model::ids::{AgentId, GrantId, ResourceId, UserId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub source: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// Every registered field, as echoed by registration.
    pub metadata: serde_json::Value,
    pub created_at: Timestamp,
    pub approved_at: Option<Timestamp>,
}

fn client_from_row(r: &Row<'_>) -> crate::db::Result<Client> {
    let bad = |i, e: serde_json::Error| crate::db::Error::conversion(i, e);
    let uris: String = r.get(3)?;
    let metadata: String = r.get(5)?;
    Ok(Client {
        id: r.get(0)?,
        source: r.get(1)?,
        client_name: r.get(2)?,
        redirect_uris: serde_json::from_str(&uris).map_err(|e| bad(3, e))?,
        token_endpoint_auth_method: r.get(4)?,
        metadata: serde_json::from_str(&metadata).map_err(|e| bad(5, e))?,
        created_at: Timestamp(r.get(6)?),
        approved_at: r.get::<Option<i64>>(7)?.map(Timestamp),
    })
}

pub fn insert_client(conn: &Connection, c: &Client) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO oauth_clients (id, source, client_name, redirect_uris, token_endpoint_auth_method, metadata, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            c.id,
            c.source,
            c.client_name,
            serde_json::to_string(&c.redirect_uris).map_err(AppError::internal)?,
            c.token_endpoint_auth_method,
            c.metadata.to_string(),
            c.created_at.0
        ],
    )?;
    Ok(())
}

pub fn find_client(conn: &Connection, id: &str) -> Result<Option<Client>, AppError> {
    Ok(super::cached(
        conn,
        "SELECT id, source, client_name, redirect_uris, token_endpoint_auth_method, metadata, created_at, approved_at
         FROM oauth_clients WHERE id = ?1",
    )?
    .query_row([id], client_from_row)
    .optional()?)
}

pub fn mark_client_approved(conn: &Connection, id: &str, now: Timestamp) -> Result<(), AppError> {
    conn.execute("UPDATE oauth_clients SET approved_at = COALESCE(approved_at, ?2) WHERE id = ?1", params![id, now.0])?;
    Ok(())
}

/// Registrations nobody approved by `before`.
pub fn delete_unapproved_before(conn: &Connection, before: Timestamp) -> Result<usize, AppError> {
    Ok(conn.execute("DELETE FROM oauth_clients WHERE approved_at IS NULL AND created_at < ?1", [before.0])?)
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: GrantId,
    pub workspace_id: WorkspaceId,
    pub client_id: String,
    pub client_name: String,
    pub agent_id: AgentId,
    pub resource_id: ResourceId,
    pub scope: String,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

const GRANT_COLUMNS: &str =
    "g.id, g.workspace_id, g.client_id, g.client_name, g.agent_id, g.resource_id, g.scope, g.user_id,
                             g.created_at, g.last_used_at, g.revoked_at";

fn grant_from_row(r: &Row<'_>) -> crate::db::Result<Grant> {
    Ok(Grant {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        client_id: r.get(2)?,
        client_name: r.get(3)?,
        agent_id: r.get(4)?,
        resource_id: r.get(5)?,
        scope: r.get(6)?,
        user_id: r.get(7)?,
        created_at: Timestamp(r.get(8)?),
        last_used_at: r.get::<Option<i64>>(9)?.map(Timestamp),
        revoked_at: r.get::<Option<i64>>(10)?.map(Timestamp),
    })
}

pub fn insert_grant(conn: &Connection, g: &Grant) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO oauth_grants (id, workspace_id, client_id, client_name, agent_id, resource_id, scope, user_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            g.id,
            g.workspace_id,
            g.client_id,
            g.client_name,
            g.agent_id,
            g.resource_id,
            g.scope,
            g.user_id,
            g.created_at.0
        ],
    )?;
    Ok(())
}

/// Scoped by workspace.
pub fn find_grant(conn: &Connection, ws: &WorkspaceId, id: &GrantId) -> Result<Option<Grant>, AppError> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.workspace_id = ?1 AND g.id = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], grant_from_row).optional()?)
}

/// The grants of an agent, newest first.
pub fn grants_of_agent(conn: &Connection, ws: &WorkspaceId, agent: &AgentId) -> Result<Vec<Grant>, AppError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.workspace_id = ?1 AND g.agent_id = ?2 ORDER BY g.id DESC"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, agent], grant_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The workspace's grants, newest first.
pub fn list_grants(
    conn: &Connection,
    ws: &WorkspaceId,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Grant>, AppError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM oauth_grants g
         WHERE g.workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR g.id < ?2) ORDER BY g.id DESC LIMIT ?3"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, before, limit], grant_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `client_id` was approved in this workspace before.
pub fn client_known_in(conn: &Connection, ws: &WorkspaceId, client_id: &str) -> Result<bool, AppError> {
    Ok(super::cached(conn, "SELECT 1 FROM oauth_grants WHERE workspace_id = ?1 AND client_id = ?2 LIMIT 1")?
        .query_row(params![ws, client_id], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn revoke_grant(conn: &Connection, id: &GrantId, now: Timestamp) -> Result<bool, AppError> {
    let changed = conn
        .execute("UPDATE oauth_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, now.0])?;
    conn.execute("DELETE FROM oauth_refresh_tokens WHERE grant_id = ?1", [id])?;
    Ok(changed > 0)
}

/// Every grant of an agent (the agent was disabled).
pub fn revoke_grants_of_agent(conn: &Connection, agent: &AgentId, now: Timestamp) -> Result<(), AppError> {
    conn.execute(
        "DELETE FROM oauth_refresh_tokens WHERE grant_id IN (SELECT id FROM oauth_grants WHERE agent_id = ?1)",
        [agent],
    )?;
    conn.execute(
        "UPDATE oauth_grants SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL",
        params![agent, now.0],
    )?;
    Ok(())
}

pub fn touch_grant(conn: &Connection, id: &GrantId, now: Timestamp) -> Result<(), AppError> {
    conn.execute(
        "UPDATE oauth_grants SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60)",
        params![id, now.0],
    )?;
    Ok(())
}

/// What an access token's one database visit reads: the grant, its
/// workspace, agent and resource.
#[derive(Debug, Clone)]
pub struct GrantAuth {
    pub grant: Grant,
    pub workspace: Workspace,
    pub agent_name: String,
    pub agent_status: Option<AgentStatus>,
    pub resource_identifier: String,
}

/// (`+?1`: a plain parameter in a join makes SQLite recompile the statement
/// for every new value; the hot-statement test holds this.)
pub fn find_grant_auth(conn: &Connection, id: &GrantId) -> Result<Option<GrantAuth>, AppError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS}, w.name, w.agent_security_mode, w.created_at, a.name, a.status, r.identifier
         FROM oauth_grants g
         JOIN workspaces w ON w.id = g.workspace_id
         JOIN agents a ON a.id = g.agent_id
         JOIN resources r ON r.id = g.resource_id
         WHERE g.id = +?1"
    );
    Ok(super::cached(conn, &sql)?
        .query_row([id], |r| {
            let grant = grant_from_row(r)?;
            let status: String = r.get(15)?;
            Ok(GrantAuth {
                workspace: Workspace {
                    id: grant.workspace_id.clone(),
                    name: r.get(11)?,
                    agent_security_mode: r.get(12)?,
                    created_at: Timestamp(r.get(13)?),
                },
                agent_name: r.get(14)?,
                agent_status: AgentStatus::parse(&status),
                resource_identifier: r.get(16)?,
                grant,
            })
        })
        .optional()?)
}

#[derive(Debug, Clone)]
pub struct Code {
    pub grant_id: GrantId,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

pub fn insert_code(conn: &Connection, hash: &[u8; 32], c: &Code) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO oauth_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![hash.as_slice(), c.grant_id, c.client_id, c.redirect_uri, c.code_challenge, c.expires_at.0],
    )?;
    Ok(())
}

/// Marks the code used and returns it as it was. The conditional update is
/// the check: of two racing exchanges (even from two servers sharing one
/// PostgreSQL database) exactly one gets `used_at: None`; the other, like
/// any later one, reads the code as used. This holds without the advisory
/// lock every PostgreSQL write takes (`pg.rs`); a read-then-update did not.
pub fn use_code(conn: &Connection, hash: &[u8; 32], now: Timestamp) -> Result<Option<Code>, AppError> {
    const COLUMNS: &str = "grant_id, client_id, redirect_uri, code_challenge, expires_at, used_at";
    let from_row = |r: &Row<'_>| {
        Ok(Code {
            grant_id: r.get(0)?,
            client_id: r.get(1)?,
            redirect_uri: r.get(2)?,
            code_challenge: r.get(3)?,
            expires_at: Timestamp(r.get(4)?),
            used_at: r.get::<Option<i64>>(5)?.map(Timestamp),
        })
    };
    let claim =
        format!("UPDATE oauth_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL RETURNING {COLUMNS}");
    // As it was before this exchange: unused.
    let claimed = super::cached(conn, &claim)?.query_row(params![hash.as_slice(), now.0], from_row).optional()?;
    if let Some(code) = claimed {
        return Ok(Some(Code { used_at: None, ..code }));
    }
    // Unknown, or used before (a replay, which revokes the grant).
    let read = format!("SELECT {COLUMNS} FROM oauth_codes WHERE code_hash = ?1");
    Ok(super::cached(conn, &read)?.query_row([hash.as_slice()], from_row).optional()?)
}

#[derive(Debug, Clone)]
pub struct Refresh {
    pub grant_id: GrantId,
    pub expires_at: Timestamp,
    pub rotated_at: Option<Timestamp>,
}

pub fn insert_refresh(
    conn: &Connection,
    hash: &[u8; 32],
    grant_id: &GrantId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
        params![hash.as_slice(), grant_id, now.0, expires_at.0],
    )?;
    Ok(())
}

pub fn find_refresh(conn: &Connection, hash: &[u8; 32]) -> Result<Option<Refresh>, AppError> {
    Ok(super::cached(conn, "SELECT grant_id, expires_at, rotated_at FROM oauth_refresh_tokens WHERE token_hash = ?1")?
        .query_row([hash.as_slice()], |r| {
            Ok(Refresh {
                grant_id: r.get(0)?,
                expires_at: Timestamp(r.get(1)?),
                rotated_at: r.get::<Option<i64>>(2)?.map(Timestamp),
            })
        })
        .optional()?)
}

/// Marks a refresh token rotated; `false` when another request did first.
pub fn rotate_refresh(conn: &Connection, hash: &[u8; 32], now: Timestamp) -> Result<bool, AppError> {
    Ok(conn.execute(
        "UPDATE oauth_refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND rotated_at IS NULL",
        params![hash.as_slice(), now.0],
    )? > 0)
}

/// Expired codes and refresh tokens.
pub fn prune(conn: &Connection, now: Timestamp) -> Result<usize, AppError> {
    let codes = conn.execute("DELETE FROM oauth_codes WHERE expires_at < ?1", [now.0 - 3600])?;
    let refresh = conn.execute("DELETE FROM oauth_refresh_tokens WHERE expires_at < ?1", [now.0])?;
    Ok(codes + refresh)
}

/// Replaces the workspace's registration token.
pub fn set_registration_token(
    conn: &Connection,
    ws: &WorkspaceId,
    hash: &[u8; 32],
    user: Option<&UserId>,
    now: Timestamp,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO oauth_registration_tokens (workspace_id, token_hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at,
             created_by = excluded.created_by",
        params![ws, hash.as_slice(), now.0, user],
    )?;
    Ok(())
}

/// The workspace a registration token belongs to.
pub fn registration_token_workspace(conn: &Connection, hash: &[u8; 32]) -> Result<Option<WorkspaceId>, AppError> {
    Ok(super::cached(conn, "SELECT workspace_id FROM oauth_registration_tokens WHERE token_hash = ?1")?
        .query_row([hash.as_slice()], |r| r.get(0))
        .optional()?)
}

/// When the workspace's registration token was minted, if it has one.
pub fn registration_token_created(conn: &Connection, ws: &WorkspaceId) -> Result<Option<Timestamp>, AppError> {
    Ok(super::cached(conn, "SELECT created_at FROM oauth_registration_tokens WHERE workspace_id = ?1")?
        .query_row([ws], |r| Ok(Timestamp(r.get(0)?)))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grant for the workspace's agent on a resource, approved by its owner.
    fn grant(tx: &Connection, now: Timestamp) -> Result<Grant, AppError> {
        let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
        let owner = crate::db::memberships::list_for_workspace(tx, &ws.id)?.remove(0).user_id;
        let by = crate::domain::agents::By {
            actor: &crate::domain::audit::Actor::Cli,
            meta: &crate::domain::audit::RequestMeta::default(),
            now,
        };
        let fields = crate::domain::resources::Fields {
            name: "r".into(),
            identifier: "https://r.example/".into(),
            authority: "r.example".into(),
            scopes: vec![],
            rules: vec![],
        };
        let resource = crate::domain::resources::create(tx, &ws.id, fields, &by)?;
        let g = Grant {
            id: GrantId("g1".into()),
            workspace_id: ws.id,
            client_id: "https://client.example/meta.json".into(),
            client_name: "c".into(),
            agent_id: agent.id,
            resource_id: resource.id,
            scope: String::new(),
            user_id: owner,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        insert_grant(tx, &g)?;
        Ok(g)
    }

    #[test]
    fn a_code_is_claimed_once_and_a_refresh_token_rotates_once() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let g = grant(tx, now)?;
                let code = Code {
                    grant_id: g.id.clone(),
                    client_id: g.client_id.clone(),
                    redirect_uri: "http://127.0.0.1:9/cb".into(),
                    code_challenge: "x".into(),
                    expires_at: now.plus_seconds(60),
                    used_at: None,
                };
                insert_code(tx, &[1; 32], &code)?;
                let first = use_code(tx, &[1; 32], now)?.expect("the code");
                assert_eq!((first.used_at, first.grant_id.as_str()), (None, "g1"), "the first exchange claims it");
                let again = use_code(tx, &[1; 32], now.plus_seconds(1))?.expect("still known");
                assert_eq!(again.used_at, Some(now), "a second exchange reads it as used");
                assert!(use_code(tx, &[2; 32], now)?.is_none(), "an unknown code");

                insert_refresh(tx, &[3; 32], &g.id, now, now.plus_seconds(3600))?;
                assert_eq!(find_refresh(tx, &[3; 32])?.map(|r| r.rotated_at), Some(None));
                assert!(rotate_refresh(tx, &[3; 32], now)?);
                assert!(!rotate_refresh(tx, &[3; 32], now)?, "rotated once");

                assert!(revoke_grant(tx, &g.id, now)?);
                assert!(find_grant(tx, &g.workspace_id, &g.id)?.is_some_and(|g| g.revoked_at == Some(now)));
                assert!(find_grant(tx, &WorkspaceId("other".into()), &g.id)?.is_none(), "another workspace's");
                assert!(prune(tx, now.plus_seconds(7200))? >= 1);
                assert!(use_code(tx, &[1; 32], now.plus_seconds(7200))?.is_none(), "the expired code is pruned");
                assert!(find_refresh(tx, &[3; 32])?.is_none(), "the expired refresh token is pruned");
                Ok(())
            })
            .unwrap();
        });
    }

    /// Fails with a read-then-update claim when the writers' advisory lock
    /// is gone (checked by removing it); either defence alone passes.
    #[test]
    fn two_servers_racing_for_one_code_give_it_to_one() {
        crate::db::testing::postgres_pair(|a, b| {
            let now = Timestamp(2_000_000_000);
            a.write_blocking(|tx| {
                let g = grant(tx, now)?;
                let code = Code {
                    grant_id: g.id,
                    client_id: g.client_id,
                    redirect_uri: "http://127.0.0.1:9/cb".into(),
                    code_challenge: "x".into(),
                    expires_at: now.plus_seconds(60),
                    used_at: None,
                };
                insert_code(tx, &[1; 32], &code)
            })
            .unwrap();
            // Server A claims the code and, before it commits, server B tries.
            let claimed = std::sync::Barrier::new(2);
            let (first, second) = std::thread::scope(|s| {
                let first = s.spawn(|| {
                    a.write_blocking(|tx| {
                        let c = use_code(tx, &[1; 32], now)?;
                        claimed.wait();
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        Ok(c)
                    })
                });
                let second = s.spawn(|| {
                    claimed.wait();
                    b.write_blocking(|tx| use_code(tx, &[1; 32], now))
                });
                (first.join().unwrap().unwrap(), second.join().unwrap().unwrap())
            });
            assert_eq!(first.map(|c| c.used_at), Some(None), "A claims it");
            assert!(second.is_some_and(|c| c.used_at.is_some()), "B reads it as used, never as fresh");
        });
    }
}
