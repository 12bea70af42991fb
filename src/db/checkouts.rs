//! The `checkouts` table: payment-impacting actions, counted against their
//! PAT's daily cap.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::CheckoutStatus;
use crate::model::ids::{AgentId, CheckoutId, PatId, WorkspaceId};

#[derive(Debug, Clone)]
pub struct Checkout {
    pub id: CheckoutId,
    pub workspace_id: WorkspaceId,
    pub agent_id: AgentId,
    pub agent_name: Option<String>,
    pub pat_id: PatId,
    pub session_id: Option<String>,
    pub amount_cents: i64,
    pub description: String,
    pub reference: Option<String>,
    pub status: CheckoutStatus,
    pub utc_day: i64,
    pub idempotency_key: Option<String>,
    pub request_sha256: Option<String>,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "c.id, c.workspace_id, c.agent_id, a.name, c.pat_id, c.session_id, c.amount_cents, c.description,
                       c.reference, c.status, c.utc_day, c.idempotency_key, c.request_sha256, c.created_at";

fn from_row(r: &Row<'_>) -> crate::db::Result<Checkout> {
    Ok(Checkout {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        agent_id: r.get(2)?,
        agent_name: r.get(3)?,
        pat_id: r.get(4)?,
        session_id: r.get(5)?,
        amount_cents: r.get(6)?,
        description: r.get(7)?,
        reference: r.get(8)?,
        status: CheckoutStatus::parse(&r.get::<String>(9)?).unwrap_or(CheckoutStatus::Authorized),
        utc_day: r.get(10)?,
        idempotency_key: r.get(11)?,
        request_sha256: r.get(12)?,
        created_at: Timestamp(r.get(13)?),
    })
}

pub fn insert(conn: &Connection, c: &Checkout) -> Result<(), AppError> {
    super::cached(
        conn,
        "INSERT INTO checkouts (id, workspace_id, agent_id, pat_id, session_id, amount_cents, description, reference,
                                status, utc_day, idempotency_key, request_sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        c.id,
        c.workspace_id,
        c.agent_id,
        c.pat_id,
        c.session_id,
        c.amount_cents,
        c.description,
        c.reference,
        c.status.as_str(),
        c.utc_day,
        c.idempotency_key,
        c.request_sha256,
        c.created_at.0
    ])?;
    Ok(())
}

pub fn find_by_idempotency_key(conn: &Connection, pat: &PatId, key: &str) -> Result<Option<Checkout>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts c LEFT JOIN agents a ON a.id = c.agent_id
         WHERE c.pat_id = +?1 AND c.idempotency_key = +?2"
    );
    Ok(super::cached(conn, &sql)?.query_row(params![pat, key], from_row).optional()?)
}

/// The PAT's spend per UTC day from `first_day` on, in cents.
pub fn spend_per_day(conn: &Connection, pat: &PatId, first_day: i64) -> Result<Vec<(i64, i64)>, AppError> {
    let mut stmt = super::cached(
        conn,
        "SELECT utc_day, spent_cents FROM pat_daily_spend WHERE pat_id = ?1 AND utc_day >= ?2 ORDER BY utc_day",
    )?;
    let rows = stmt.query_map(params![pat, first_day], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// By id within the workspace.
pub fn find(conn: &Connection, ws: &WorkspaceId, id: &CheckoutId) -> Result<Option<Checkout>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts c LEFT JOIN agents a ON a.id = c.agent_id
         WHERE c.workspace_id = +?1 AND c.id = +?2"
    );
    Ok(super::cached(conn, &sql)?.query_row(params![ws, id], from_row).optional()?)
}

/// What the PAT has spent on `utc_day`, in cents (one primary-key read).
pub fn spent_on_day(conn: &Connection, pat: &PatId, utc_day: i64) -> Result<i64, AppError> {
    Ok(super::cached(conn, "SELECT spent_cents FROM pat_daily_spend WHERE pat_id = ?1 AND utc_day = ?2")?
        .query_row(params![pat, utc_day], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Adds to the PAT's running total for `utc_day`.
pub fn add_spend(conn: &Connection, pat: &PatId, utc_day: i64, cents: i64) -> Result<(), AppError> {
    super::cached(
        conn,
        "INSERT INTO pat_daily_spend (pat_id, utc_day, spent_cents) VALUES (?1, ?2, ?3)
         ON CONFLICT (pat_id, utc_day) DO UPDATE SET spent_cents = pat_daily_spend.spent_cents + excluded.spent_cents",
    )?
    .execute(params![pat, utc_day, cents])?;
    Ok(())
}

/// A workspace's checkouts, newest first.
pub fn list(conn: &Connection, ws: &WorkspaceId, before: Option<&str>, limit: u32) -> Result<Vec<Checkout>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts c LEFT JOIN agents a ON a.id = c.agent_id
         WHERE c.workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR c.id < ?2)
         ORDER BY c.id DESC LIMIT ?3"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, before, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One agent's checkouts, newest first.
pub fn list_for_agent(
    conn: &Connection,
    ws: &WorkspaceId,
    agent: &AgentId,
    limit: u32,
) -> Result<Vec<Checkout>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts c LEFT JOIN agents a ON a.id = c.agent_id
         WHERE c.workspace_id = ?1 AND c.agent_id = ?2
         ORDER BY c.id DESC LIMIT ?3"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let rows = stmt.query_map(params![ws, agent, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One agent PAT's spend on a day.
#[derive(Debug, Clone)]
pub struct PatSpend {
    pub pat_id: String,
    pub pat_name: String,
    pub agent_name: String,
    pub spent_cents: i64,
    pub cap_cents: i64,
}

/// Today's spend of every agent PAT of the workspace that spent anything.
pub fn spend_by_pat(conn: &Connection, ws: &WorkspaceId, utc_day: i64) -> Result<Vec<PatSpend>, AppError> {
    let mut stmt = super::cached(
        conn,
        "SELECT p.id, p.name, COALESCE(a.name, ''), d.spent_cents, COALESCE(p.daily_cap_cents, 0)
         FROM pat_daily_spend d JOIN pats p ON p.id = d.pat_id LEFT JOIN agents a ON a.id = p.agent_id
         WHERE p.workspace_id = ?1 AND d.utc_day = ?2
         ORDER BY p.name",
    )?;
    let rows = stmt.query_map(params![ws, utc_day], |r| {
        Ok(PatSpend {
            pat_id: r.get(0)?,
            pat_name: r.get(1)?,
            agent_name: r.get(2)?,
            spent_cents: r.get(3)?,
            cap_cents: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkouts_page_by_id_in_their_workspace_and_spend_adds_up_per_day() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let pat = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                let checkout = |id: &str| Checkout {
                    id: CheckoutId(id.into()),
                    workspace_id: ws.id.clone(),
                    agent_id: agent.id.clone(),
                    agent_name: None,
                    pat_id: pat.id.clone(),
                    session_id: Some("s".into()),
                    amount_cents: 250,
                    description: format!("buy {id}"),
                    reference: None,
                    status: CheckoutStatus::Authorized,
                    utc_day: 10,
                    idempotency_key: Some(format!("key-{id}")),
                    request_sha256: Some("sha".into()),
                    created_at: now,
                };
                for id in ["co1", "co2", "co3"] {
                    insert(tx, &checkout(id))?;
                }
                let ids = |v: Vec<Checkout>| v.into_iter().map(|c| c.id.0).collect::<Vec<_>>();
                assert_eq!(ids(list(tx, &ws.id, None, 2)?), ["co3", "co2"]);
                assert_eq!(ids(list(tx, &ws.id, Some("co2"), 10)?), ["co1"], "the page after co2");
                assert_eq!(ids(list_for_agent(tx, &ws.id, &agent.id, 10)?), ["co3", "co2", "co1"]);
                assert!(list(tx, &WorkspaceId("other".into()), None, 10)?.is_empty());
                let co1 = CheckoutId("co1".into());
                assert!(find(tx, &WorkspaceId("other".into()), &co1)?.is_none(), "another workspace's");
                let found = find(tx, &ws.id, &co1)?.expect("stored");
                assert_eq!(
                    (found.agent_name.as_deref(), found.amount_cents, found.status),
                    (Some("a"), 250, CheckoutStatus::Authorized)
                );
                assert_eq!(find_by_idempotency_key(tx, &pat.id, "key-co2")?.map(|c| c.id.0), Some("co2".into()));
                assert!(find_by_idempotency_key(tx, &PatId("other".into()), "key-co2")?.is_none(), "keys are per PAT");

                assert_eq!(spent_on_day(tx, &pat.id, 10)?, 0);
                add_spend(tx, &pat.id, 10, 100)?;
                add_spend(tx, &pat.id, 10, 150)?;
                add_spend(tx, &pat.id, 11, 50)?;
                assert_eq!(spent_on_day(tx, &pat.id, 10)?, 250);
                assert_eq!(spend_per_day(tx, &pat.id, 0)?, [(10, 250), (11, 50)]);
                assert_eq!(spend_per_day(tx, &pat.id, 11)?, [(11, 50)]);
                let by_pat = spend_by_pat(tx, &ws.id, 10)?;
                assert_eq!(by_pat.len(), 1);
                assert_eq!(
                    (by_pat[0].spent_cents, by_pat[0].cap_cents, by_pat[0].agent_name.as_str()),
                    (250, 1_000, "a")
                );
                assert!(spend_by_pat(tx, &WorkspaceId("other".into()), 10)?.is_empty());
                Ok(())
            })
            .unwrap();
        });
    }
}
