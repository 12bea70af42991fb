//! The `pats` table: personal access tokens, keyed by the token's SHA-256.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::AgentStatus;
use crate::model::Role;
use crate::model::ids::{AgentId, PatId, UserId, WorkspaceId};
use crate::model::money::AmountCents;
use crate::model::{Audience, Scope};

/// A PAT's metadata (never its secret).
#[derive(Debug, Clone)]
pub struct Pat {
    pub id: PatId,
    pub workspace_id: WorkspaceId,
    pub user_id: Option<UserId>,
    pub agent_id: Option<AgentId>,
    pub agent_name: Option<String>,
    pub name: String,
    pub scope: Scope,
    pub audience: Audience,
    pub token_hint: String,
    pub daily_cap: Option<AmountCents>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// Minted by a delegated certificate JWT: never an instance admin.
    pub minted_by_delegation: bool,
}

const COLUMNS: &str = "p.id, p.workspace_id, p.user_id, p.agent_id, a.name, p.name, p.scope_type, p.audience,
                       p.token_hint, p.daily_cap_cents, p.created_at, p.expires_at, p.revoked_at, p.last_used_at";

fn from_row(r: &Row<'_>) -> crate::db::Result<Pat> {
    let scope: String = r.get(6)?;
    let audience: String = r.get(7)?;
    Ok(Pat {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        user_id: r.get(2)?,
        agent_id: r.get(3)?,
        agent_name: r.get(4)?,
        name: r.get(5)?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Service),
        audience: Audience::parse(&audience).unwrap_or(Audience::Exchange),
        token_hint: r.get(8)?,
        daily_cap: r.get::<Option<i64>>(9)?.and_then(AmountCents::from_cents),
        created_at: Timestamp(r.get(10)?),
        expires_at: Timestamp(r.get(11)?),
        revoked_at: r.get::<Option<i64>>(12)?.map(Timestamp),
        last_used_at: r.get::<Option<i64>>(13)?.map(Timestamp),
        minted_by_delegation: false,
    })
}

pub fn insert(conn: &Connection, token_hash: &[u8], p: &Pat) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO pats (token_hash, id, workspace_id, user_id, agent_id, name, scope_type, audience, token_hint,
                           daily_cap_cents, created_at, expires_at, minted_by_delegation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            token_hash,
            p.id,
            p.workspace_id,
            p.user_id,
            p.agent_id,
            p.name,
            p.scope.as_str(),
            p.audience.as_str(),
            p.token_hint,
            p.daily_cap.map(AmountCents::cents),
            p.created_at.0,
            p.expires_at.0,
            p.minted_by_delegation
        ],
    )?;
    Ok(())
}

/// Scoped by workspace: another workspace's PAT is simply not found.
pub fn find(conn: &Connection, ws: &WorkspaceId, id: &PatId) -> Result<Option<Pat>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM pats p LEFT JOIN agents a ON a.id = p.agent_id WHERE p.workspace_id = ?1 AND p.id = ?2"
    );
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], from_row).optional()?)
}

/// Newest first; `owner` limits the list to one member's PATs.
pub fn list(
    conn: &Connection,
    ws: &WorkspaceId,
    owner: Option<&UserId>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Pat>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM pats p LEFT JOIN agents a ON a.id = p.agent_id
         WHERE p.workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR p.user_id = ?2) AND (CAST(?3 AS TEXT) IS NULL OR p.id < ?3)
         ORDER BY p.id DESC LIMIT ?4"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, owner, before, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One agent's PATs (only `owner`'s when given), newest first.
pub fn list_for_agent(
    conn: &Connection,
    ws: &WorkspaceId,
    agent: &AgentId,
    owner: Option<&UserId>,
    limit: u32,
) -> Result<Vec<Pat>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM pats p LEFT JOIN agents a ON a.id = p.agent_id
         WHERE p.workspace_id = ?1 AND p.agent_id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR p.user_id = ?3)
         ORDER BY p.id DESC LIMIT ?4"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, agent, owner, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn update_name(conn: &Connection, ws: &WorkspaceId, id: &PatId, name: &str) -> Result<(), AppError> {
    conn.execute("UPDATE pats SET name = ?3 WHERE workspace_id = ?1 AND id = ?2", params![ws, id, name])?;
    Ok(())
}

pub fn update_cap(conn: &Connection, ws: &WorkspaceId, id: &PatId, cap: AmountCents) -> Result<(), AppError> {
    conn.execute(
        "UPDATE pats SET daily_cap_cents = ?3 WHERE workspace_id = ?1 AND id = ?2 AND scope_type = 'agent'",
        params![ws, id, cap.cents()],
    )?;
    Ok(())
}

/// Marks the PAT revoked (once: a second revoke keeps the first time).
pub fn update_revoked(conn: &Connection, ws: &WorkspaceId, id: &PatId, now: Timestamp) -> Result<bool, AppError> {
    Ok(conn.execute(
        "UPDATE pats SET revoked_at = ?3 WHERE workspace_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![ws, id, now.0],
    )? > 0)
}

/// Records use at most once a minute per token, so the bearer path does
/// not write on every request.
pub fn touch_last_used(conn: &Connection, id: &PatId, now: Timestamp) -> Result<(), AppError> {
    super::cached(
        conn,
        "UPDATE pats SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60)",
    )?
    .execute(params![id, now.0])?;
    Ok(())
}

/// The agent's PATs neither revoked nor expired.
pub fn count_live_for_agent(conn: &Connection, agent: &AgentId, now: Timestamp) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM pats WHERE agent_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![agent, now.0],
        |r| r.get(0),
    )?)
}

/// PATs that work right now (or would, with the mode on).
pub fn count_live(conn: &Connection, ws: &WorkspaceId, now: Timestamp) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM pats WHERE workspace_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![ws, now.0],
        |r| r.get(0),
    )?)
}

/// Everything the bearer layer needs about a PAT, from one indexed lookup.
#[derive(Debug, Clone)]
pub struct PatAuth {
    pub pat: Pat,
    pub workspace: Workspace,
    pub agent_status: Option<AgentStatus>,
    pub user: Option<PatUser>,
}

#[derive(Debug, Clone)]
pub struct PatUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub auto_provisioned: bool,
    /// `None` when the user is no longer a member of the workspace.
    pub role: Option<Role>,
}

/// The auth lookup with its `WHERE` clause, as one literal: a hot path
/// neither formats nor hashes a fresh string to find its statement.
macro_rules! auth_sql {
    ($where:literal) => {
        auth_sql!("", "", $where)
    };
    // More columns (from column 23 on) and joins, for a lookup that needs
    // them in the same visit.
    ($columns:literal, $joins:literal, $where:literal) => {
        concat!(
            "SELECT p.id, p.workspace_id, p.user_id, p.agent_id, a.name, p.name, p.scope_type, p.audience,
            p.token_hint, p.daily_cap_cents, p.created_at, p.expires_at, p.revoked_at, p.last_used_at,
            w.name, w.agent_security_mode, w.created_at, a.status,
            u.email, u.name, u.auto_provisioned, m.role, p.minted_by_delegation",
            $columns,
            "
     FROM pats p
     JOIN workspaces w ON w.id = p.workspace_id
     LEFT JOIN agents a ON a.id = p.agent_id
     LEFT JOIN users u ON u.id = p.user_id
     LEFT JOIN memberships m ON m.workspace_id = p.workspace_id AND m.user_id = p.user_id ",
            $joins,
            $where
        )
    };
}

fn auth_from_row(r: &Row<'_>) -> crate::db::Result<PatAuth> {
    let mut pat = from_row(r)?;
    pat.minted_by_delegation = r.get(22)?;
    let status: Option<String> = r.get(17)?;
    let user = match (&pat.user_id, r.get::<Option<String>>(18)?) {
        (Some(id), Some(email)) => Some(PatUser {
            id: id.clone(),
            email,
            name: r.get::<Option<String>>(19)?.unwrap_or_default(),
            auto_provisioned: r.get::<Option<bool>>(20)?.unwrap_or(false),
            role: r.get::<Option<String>>(21)?.as_deref().and_then(Role::parse),
        }),
        _ => None,
    };
    Ok(PatAuth {
        workspace: Workspace {
            id: pat.workspace_id.clone(),
            name: r.get(14)?,
            agent_security_mode: r.get(15)?,
            created_at: Timestamp(r.get(16)?),
        },
        agent_status: status.as_deref().and_then(AgentStatus::parse),
        user,
        pat,
    })
}

pub fn find_auth_by_hash(conn: &Connection, token_hash: &[u8]) -> Result<Option<PatAuth>, AppError> {
    // `+?1`: a plan that could depend on the bound value is recompiled at
    // every new binding (SQLite's constant propagation through the joins);
    // the unary plus keeps the index lookup and makes the plan fixed.
    const SQL: &str = auth_sql!("WHERE p.token_hash = +?1");
    Ok(super::cached(conn, SQL)?.query_row([token_hash], auth_from_row).optional()?)
}

/// For exchanged JWTs, which carry the PAT id.
pub fn find_auth_by_id(conn: &Connection, id: &PatId) -> Result<Option<PatAuth>, AppError> {
    const SQL: &str = auth_sql!("WHERE p.id = +?1");
    Ok(super::cached(conn, SQL)?.query_row([id], auth_from_row).optional()?)
}

/// For session JWTs: the PAT and, when it is this PAT's, the session `sid`
/// names, in one lookup.
pub fn find_auth_with_session(
    conn: &Connection,
    id: &PatId,
    sid: &str,
) -> Result<Option<(PatAuth, Option<SessionKey>)>, AppError> {
    const SQL: &str = auth_sql!(
        ", s.id, s.public_key, s.key_thumbprint, s.ended_at",
        "LEFT JOIN runtime_sessions s ON s.id = +?2 AND s.pat_id = p.id ",
        "WHERE p.id = +?1"
    );
    Ok(super::cached(conn, SQL)?
        .query_row(params![id, sid], |r| {
            let session = match r.get::<Option<String>>(23)? {
                Some(id) => Some(SessionKey {
                    id,
                    public_key: r.get(24)?,
                    key_thumbprint: r.get(25)?,
                    ended_at: r.get::<Option<i64>>(26)?.map(Timestamp),
                }),
                None => None,
            };
            Ok((auth_from_row(r)?, session))
        })
        .optional()?)
}

/// What checking a session-bound request needs of its session.
#[derive(Debug, Clone)]
pub struct SessionKey {
    pub id: String,
    pub public_key: Vec<u8>,
    pub key_thumbprint: String,
    pub ended_at: Option<Timestamp>,
}

/// The PAT's current daily cap, read inside the checkout's transaction.
pub fn find_cap(conn: &Connection, id: &PatId) -> Result<Option<AmountCents>, AppError> {
    let cap: Option<Option<i64>> = super::cached(conn, "SELECT daily_cap_cents FROM pats WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(cap.flatten().and_then(AmountCents::from_cents))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::runtime_sessions::{self, RuntimeSession};

    #[test]
    fn a_session_is_found_with_its_own_pat_only() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let pat = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                let other = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                runtime_sessions::insert(
                    tx,
                    &RuntimeSession {
                        id: crate::model::ids::SessionId("s1".into()),
                        workspace_id: ws.id.clone(),
                        agent_id: agent.id.clone(),
                        pat_id: pat.id.clone(),
                        public_key: vec![7; 32],
                        key_thumbprint: "jkt".into(),
                        label: "l".into(),
                        created_at: now,
                        expires_at: now.plus_seconds(600),
                        ended_at: None,
                    },
                )?;
                let (auth, session) = find_auth_with_session(tx, &pat.id, "s1")?.expect("the PAT");
                assert_eq!(auth.pat.id, pat.id);
                let session = session.expect("its session");
                assert_eq!((session.id.as_str(), session.public_key, session.ended_at), ("s1", vec![7; 32], None));
                let (_, none) = find_auth_with_session(tx, &other.id, "s1")?.expect("the other PAT");
                assert!(none.is_none(), "another PAT's session");
                assert!(find_auth_with_session(tx, &pat.id, "nope")?.expect("the PAT").1.is_none());
                assert!(find_auth_with_session(tx, &PatId("nope".into()), "s1")?.is_none());
                assert!(runtime_sessions::update_ended(tx, &ws.id, &crate::model::ids::SessionId("s1".into()), now)?);
                let ended = find_auth_with_session(tx, &pat.id, "s1")?.and_then(|(_, s)| s).expect("still found");
                assert_eq!(ended.ended_at, Some(now));
                Ok(())
            })
            .unwrap();
        });
    }
}
