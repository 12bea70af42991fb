//! The `certificates` table: workspace RS256 public keys.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::error::AppError;
use crate::model::ids::{CertificateId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct Certificate {
    pub id: CertificateId,
    pub workspace_id: WorkspaceId,
    pub kid: String,
    pub public_key_pem: String,
    pub n: String,
    pub e: String,
    pub status: crate::model::CertificateStatus,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// What it is for ("billing backend"); may be empty.
    pub name: String,
}

const COLUMNS: &str = "id, workspace_id, kid, public_key_pem, n, e, status, created_at, revoked_at, name";

fn from_row(r: &Row<'_>) -> crate::db::Result<Certificate> {
    Ok(Certificate {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        kid: r.get(2)?,
        public_key_pem: r.get(3)?,
        n: r.get(4)?,
        e: r.get(5)?,
        status: r.get(6)?,
        created_at: Timestamp(r.get(7)?),
        revoked_at: r.get::<Option<i64>>(8)?.map(Timestamp),
        name: r.get(9)?,
    })
}

pub fn insert(conn: &Connection, c: &Certificate) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO certificates (id, workspace_id, kid, public_key_pem, n, e, status, created_at, name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![c.id, c.workspace_id, c.kid, c.public_key_pem, c.n, c.e, c.status, c.created_at.0, c.name],
    )?;
    Ok(())
}

/// Scoped by workspace; deleted certificates are gone.
pub fn find(conn: &Connection, ws: &WorkspaceId, id: &CertificateId) -> Result<Option<Certificate>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE workspace_id = ?1 AND id = ?2 AND status <> 'deleted'");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], from_row).optional()?)
}

/// Newest first, deleted ones left out; `active_only` for the newest active.
pub fn list(conn: &Connection, ws: &WorkspaceId, active_only: bool, limit: u32) -> Result<Vec<Certificate>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates
         WHERE workspace_id = ?1 AND status <> 'deleted' AND (?2 = 0 OR status = 'active')
         ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, active_only, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// By kid across workspaces, with its workspace: the bearer layer's lookup.
pub fn find_by_kid(conn: &Connection, kid: &str) -> Result<Option<(Certificate, Workspace)>, AppError> {
    Ok(super::cached(
        conn,
        "SELECT c.id, c.workspace_id, c.kid, c.public_key_pem, c.n, c.e, c.status, c.created_at, c.revoked_at,
                    w.name, w.agent_security_mode, w.created_at
             FROM certificates c JOIN workspaces w ON w.id = c.workspace_id WHERE c.kid = +?1",
    )?
    .query_row([kid], |r| {
        let cert = from_row(r)?;
        let ws = Workspace {
            id: cert.workspace_id.clone(),
            name: r.get(9)?,
            agent_security_mode: r.get(10)?,
            created_at: Timestamp(r.get(11)?),
        };
        Ok((cert, ws))
    })
    .optional()?)
}

pub fn update_status(
    conn: &Connection,
    ws: &WorkspaceId,
    id: &CertificateId,
    status: crate::model::CertificateStatus,
    now: Timestamp,
) -> Result<(), AppError> {
    conn.execute(
        "UPDATE certificates SET status = ?3, revoked_at = COALESCE(revoked_at, ?4) WHERE workspace_id = ?1 AND id = ?2",
        params![ws, id, status, now.0],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CertificateStatus;

    #[test]
    fn a_certificate_is_found_in_its_workspace_and_by_kid_until_deleted() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, _) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let cert = |id: &str| Certificate {
                    id: CertificateId(id.into()),
                    workspace_id: ws.id.clone(),
                    kid: format!("kid-{id}"),
                    public_key_pem: "pem".into(),
                    n: "n".into(),
                    e: "AQAB".into(),
                    status: CertificateStatus::Active,
                    created_at: now,
                    revoked_at: None,
                    name: format!("backend {id}"),
                };
                insert(tx, &cert("c1"))?;
                insert(tx, &cert("c2"))?;
                let (c1, c2) = (CertificateId("c1".into()), CertificateId("c2".into()));
                let ids = |v: Vec<Certificate>| v.into_iter().map(|c| c.id.0).collect::<Vec<_>>();
                assert_eq!(ids(list(tx, &ws.id, false, 10)?), ["c2", "c1"], "newest first");
                assert!(find(tx, &WorkspaceId("other".into()), &c1)?.is_none(), "another workspace's");
                assert_eq!(find(tx, &ws.id, &c1)?.expect("stored").name, "backend c1");

                update_status(tx, &ws.id, &c2, CertificateStatus::Revoked, now)?;
                assert_eq!(ids(list(tx, &ws.id, true, 1)?), ["c1"], "the newest active");
                let (revoked, in_ws) = find_by_kid(tx, "kid-c2")?.expect("by kid");
                assert_eq!(
                    (revoked.status, revoked.revoked_at, in_ws.id),
                    (CertificateStatus::Revoked, Some(now), ws.id.clone())
                );

                let later = now.plus_seconds(60);
                update_status(tx, &ws.id, &c2, CertificateStatus::Deleted, later)?;
                assert!(find(tx, &ws.id, &c2)?.is_none(), "deleted is gone");
                assert_eq!(ids(list(tx, &ws.id, false, 10)?), ["c1"]);
                let (deleted, _) = find_by_kid(tx, "kid-c2")?.expect("the kid stays known");
                assert_eq!(
                    (deleted.status, deleted.revoked_at),
                    (CertificateStatus::Deleted, Some(now)),
                    "first retirement kept"
                );
                assert!(find_by_kid(tx, "kid-nope")?.is_none());
                Ok(())
            })
            .unwrap();
        });
    }
}
