//! The `approvals` table (docs/API.md §5.9).

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ApprovalStatus;
use crate::model::ids::{AgentId, ApprovalId, CheckoutId, PatId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct Approval {
    pub id: ApprovalId,
    pub workspace_id: WorkspaceId,
    pub pat_id: PatId,
    pub agent_id: AgentId,
    pub session_id: Option<String>,
    pub amount_cents: i64,
    pub description: String,
    pub reference: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_sha256: Option<String>,
    /// Pending, approved or denied as stored; a pending one past
    /// `expires_at` is expired (see [`Approval::status_at`]).
    pub status: ApprovalStatus,
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub checkout_id: Option<CheckoutId>,
}

impl Approval {
    /// The status as the API shows it at `now`.
    pub fn status_at(&self, now: Timestamp) -> ApprovalStatus {
        match self.status {
            ApprovalStatus::Pending | ApprovalStatus::Expired if self.expires_at <= now => ApprovalStatus::Expired,
            ApprovalStatus::Expired => ApprovalStatus::Expired,
            decided_or_pending => decided_or_pending,
        }
    }
}

const COLUMNS: &str =
    "id, workspace_id, pat_id, agent_id, session_id, amount_cents, description, reference, idempotency_key,
                       request_sha256, status, requested_at, expires_at, decided_at, decided_by, checkout_id";

fn from_row(r: &Row<'_>) -> crate::db::Result<Approval> {
    Ok(Approval {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        pat_id: r.get(2)?,
        agent_id: r.get(3)?,
        session_id: r.get(4)?,
        amount_cents: r.get(5)?,
        description: r.get(6)?,
        reference: r.get(7)?,
        idempotency_key: r.get(8)?,
        request_sha256: r.get(9)?,
        // An unknown word reads as denied: never spendable.
        status: ApprovalStatus::parse(&r.get::<String>(10)?).unwrap_or(ApprovalStatus::Denied),
        requested_at: Timestamp(r.get(11)?),
        expires_at: Timestamp(r.get(12)?),
        decided_at: r.get::<Option<i64>>(13)?.map(Timestamp),
        decided_by: r.get(14)?,
        checkout_id: r.get(15)?,
    })
}

pub fn insert(conn: &Connection, a: &Approval) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO approvals (id, workspace_id, pat_id, agent_id, session_id, amount_cents, description, reference,
                                idempotency_key, request_sha256, status, requested_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12)",
        params![
            a.id,
            a.workspace_id,
            a.pat_id,
            a.agent_id,
            a.session_id,
            a.amount_cents,
            a.description,
            a.reference,
            a.idempotency_key,
            a.request_sha256,
            a.requested_at.0,
            a.expires_at.0
        ],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, ws: &WorkspaceId, id: &ApprovalId) -> Result<Option<Approval>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM approvals WHERE workspace_id = ?1 AND id = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], from_row).optional()?)
}

pub fn find_by_idempotency_key(conn: &Connection, pat: &PatId, key: &str) -> Result<Option<Approval>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM approvals WHERE pat_id = ?1 AND idempotency_key = ?2");
    Ok(super::cached(conn, &sql)?.query_row(params![pat, key], from_row).optional()?)
}

/// Newest first; `status` filters (`expired` is pending past its time).
pub fn list(
    conn: &Connection,
    ws: &WorkspaceId,
    status: Option<ApprovalStatus>,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<Approval>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM approvals WHERE workspace_id = ?1 AND (
            CAST(?2 AS TEXT) IS NULL
            OR (?2 = 'pending' AND status = 'pending' AND expires_at > ?3)
            OR (?2 = 'expired' AND status = 'pending' AND expires_at <= ?3)
            OR (?2 IN ('approved', 'denied') AND status = ?2))
         ORDER BY id DESC LIMIT ?4"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, status.map(ApprovalStatus::as_str), now.0, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Decides a pending, unexpired approval; `false` when it was not (another
/// decision won, or it expired): one guarded statement.
pub fn decide(
    conn: &Connection,
    id: &ApprovalId,
    status: ApprovalStatus,
    by: &str,
    checkout_id: Option<&CheckoutId>,
    now: Timestamp,
) -> Result<bool, AppError> {
    Ok(conn.execute(
        "UPDATE approvals SET status = ?2, decided_at = ?4, decided_by = ?3, checkout_id = ?5
         WHERE id = ?1 AND status = 'pending' AND expires_at > ?4",
        params![id, status.as_str(), by, now.0, checkout_id],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_is_decided_once_and_expires_while_pending() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let pat = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                let approval = |id: &str, expires_at: Timestamp| Approval {
                    id: ApprovalId(id.into()),
                    workspace_id: ws.id.clone(),
                    pat_id: pat.id.clone(),
                    agent_id: agent.id.clone(),
                    session_id: None,
                    amount_cents: 1_500,
                    description: "d".into(),
                    reference: None,
                    idempotency_key: Some(format!("key-{id}")),
                    request_sha256: None,
                    status: ApprovalStatus::Pending,
                    requested_at: now,
                    expires_at,
                    decided_at: None,
                    decided_by: None,
                    checkout_id: None,
                };
                let (ap1, ap2, c1) = (ApprovalId("ap1".into()), ApprovalId("ap2".into()), CheckoutId("c1".into()));
                insert(tx, &approval("ap1", now.plus_seconds(600)))?;
                insert(tx, &approval("ap2", now.plus_seconds(60)))?;
                let found = find(tx, &ws.id, &ap1)?.expect("stored");
                assert_eq!((found.status_at(now), found.amount_cents), (ApprovalStatus::Pending, 1_500));
                assert_eq!(find_by_idempotency_key(tx, &pat.id, "key-ap1")?.map(|a| a.id), Some(ap1.clone()));
                assert!(find(tx, &WorkspaceId("other".into()), &ap1)?.is_none(), "another workspace's");

                assert!(decide(tx, &ap1, ApprovalStatus::Approved, "owner", Some(&c1), now)?);
                assert!(!decide(tx, &ap1, ApprovalStatus::Denied, "owner", None, now)?, "decided once");
                let later = now.plus_seconds(120);
                assert!(!decide(tx, &ap2, ApprovalStatus::Approved, "owner", None, later)?, "expired");
                assert_eq!(find(tx, &ws.id, &ap2)?.unwrap().status_at(later), ApprovalStatus::Expired);
                let approved = find(tx, &ws.id, &ap1)?.unwrap();
                assert_eq!(
                    (approved.status_at(later), approved.checkout_id.as_ref()),
                    (ApprovalStatus::Approved, Some(&c1))
                );

                let ids = |status| -> Result<Vec<String>, AppError> {
                    Ok(list(tx, &ws.id, Some(status), later, 10)?.into_iter().map(|a| a.id.0).collect())
                };
                assert_eq!(ids(ApprovalStatus::Approved)?, ["ap1"]);
                assert_eq!(ids(ApprovalStatus::Expired)?, ["ap2"]);
                assert!(ids(ApprovalStatus::Pending)?.is_empty());
                Ok(())
            })
            .unwrap();
        });
    }
}
