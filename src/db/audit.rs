//! The `audit_events` table: append-only (triggers refuse deletes and
//! rewrites); identical failures inside a minute collapse into one row.

use crate::db::{Connection, OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::WorkspaceId;

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: String,
    pub created_at: Timestamp,
    pub workspace_id: Option<WorkspaceId>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    pub kind: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: crate::model::Outcome,
    pub reason: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub repeat_count: i64,
    pub last_at: Timestamp,
}

const COLUMNS: &str = "id, created_at, workspace_id, actor_kind, actor_id, actor_label, kind, target_kind,
                       target_id, outcome, reason, client_ip, user_agent, repeat_count, last_at";

fn from_row(r: &Row<'_>) -> crate::db::Result<AuditEvent> {
    Ok(AuditEvent {
        id: r.get(0)?,
        created_at: Timestamp(r.get(1)?),
        workspace_id: r.get(2)?,
        actor_kind: r.get(3)?,
        actor_id: r.get(4)?,
        actor_label: r.get(5)?,
        kind: r.get(6)?,
        target_kind: r.get(7)?,
        target_id: r.get(8)?,
        outcome: r.get(9)?,
        reason: r.get(10)?,
        client_ip: r.get(11)?,
        user_agent: r.get(12)?,
        repeat_count: r.get(13)?,
        last_at: Timestamp(r.get(14)?),
    })
}

pub fn insert(conn: &Connection, e: &AuditEvent, dedup_key: Option<&str>) -> Result<(), AppError> {
    super::cached(
        conn,
        "INSERT INTO audit_events (id, created_at, workspace_id, actor_kind, actor_id, actor_label, kind,
             target_kind, target_id, outcome, reason, client_ip, user_agent, dedup_key, repeat_count, last_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?2)",
    )?
    .execute(params![
        e.id,
        e.created_at.0,
        e.workspace_id,
        e.actor_kind,
        e.actor_id,
        e.actor_label,
        e.kind,
        e.target_kind,
        e.target_id,
        e.outcome,
        e.reason,
        e.client_ip,
        e.user_agent,
        dedup_key,
        e.repeat_count
    ])?;
    Ok(())
}

/// Counts one more occurrence on the newest row with this key if it was last
/// seen at or after `since`; returns whether such a row existed.
pub fn bump_recent(
    conn: &Connection,
    dedup_key: &str,
    since: Timestamp,
    now: Timestamp,
    count: i64,
) -> Result<bool, AppError> {
    let seq: Option<i64> = super::cached(
        conn,
        "SELECT seq FROM audit_events WHERE dedup_key = +?1 AND dedup_key IS NOT NULL AND last_at >= ?2
             ORDER BY seq DESC LIMIT 1",
    )?
    .query_row(params![dedup_key, since.0], |r| r.get(0))
    .optional()?;
    let Some(seq) = seq else { return Ok(false) };
    super::cached(conn, "UPDATE audit_events SET repeat_count = repeat_count + ?3, last_at = ?2 WHERE seq = ?1")?
        .execute(params![seq, now.0, count])?;
    Ok(true)
}

/// Filters for listing a workspace's events.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub kind: Option<String>,
    /// Events by or about this agent.
    pub agent_id: Option<String>,
    /// An event id: only older events.
    pub before: Option<String>,
    pub outcome: Option<crate::model::Outcome>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
}

/// A workspace's events, newest first; `before` is an event id for paging.
pub fn list_for_workspace(
    conn: &Connection,
    ws: &WorkspaceId,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEvent>, AppError> {
    list_filtered(conn, ws, &AuditFilter { before: before.map(str::to_string), ..Default::default() }, limit)
}

pub fn list_filtered(
    conn: &Connection,
    ws: &WorkspaceId,
    f: &AuditFilter,
    limit: u32,
) -> Result<Vec<AuditEvent>, AppError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE workspace_id = ?1
           AND (CAST(?2 AS TEXT) IS NULL OR seq < (SELECT seq FROM audit_events WHERE id = ?2))
           AND (CAST(?3 AS TEXT) IS NULL OR kind = ?3)
           AND (CAST(?4 AS TEXT) IS NULL OR actor_id = ?4 OR target_id = ?4)
           AND (CAST(?6 AS TEXT) IS NULL OR outcome = ?6)
           AND (CAST(?7 AS BIGINT) IS NULL OR created_at >= ?7)
         ORDER BY seq DESC LIMIT ?5"
    );
    let mut stmt = super::cached(conn, &sql)?;
    let since = f.since.map(|t| t.0);
    let rows = stmt.query_map(params![ws, f.before, f.kind, f.agent_id, limit, f.outcome, since], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_collapse_inside_their_window_filters_select_and_rows_are_never_deleted() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            let ws = db.write_blocking(|tx| crate::domain::setup::workspace_with_agent(tx, now)).unwrap().0.id;
            let event = |id: &str, kind: &str, outcome: &str, target: Option<&str>, at: Timestamp| AuditEvent {
                id: id.into(),
                created_at: at,
                workspace_id: Some(ws.clone()),
                actor_kind: "agent".into(),
                actor_id: Some("agent-1".into()),
                actor_label: None,
                kind: kind.into(),
                target_kind: target.map(|_| "pat".into()),
                target_id: target.map(str::to_string),
                outcome: crate::model::Outcome::parse(outcome).expect("a test outcome"),
                reason: None,
                client_ip: None,
                user_agent: None,
                repeat_count: 1,
                last_at: at,
            };
            db.write_blocking(|tx| {
                insert(tx, &event("e1", "pat.minted", "success", Some("pat-1"), now.plus_seconds(1)), None)?;
                insert(tx, &event("e2", "auth.refused", "failure", None, now.plus_seconds(2)), Some("k"))?;
                assert!(bump_recent(tx, "k", now, now.plus_seconds(30), 2)?, "inside the window");
                assert!(!bump_recent(tx, "k", now.plus_seconds(31), now.plus_seconds(90), 1)?, "past it");
                assert!(!bump_recent(tx, "other", now, now, 1)?);
                insert(tx, &event("e3", "pat.revoked", "success", Some("pat-1"), now.plus_seconds(120)), None)?;

                // Setting the workspace up recorded events at `now`: these come after.
                let ids = |f: AuditFilter| -> Result<Vec<String>, AppError> {
                    let f = AuditFilter { since: f.since.or(Some(now.plus_seconds(1))), ..f };
                    Ok(list_filtered(tx, &ws, &f, 10)?.into_iter().map(|e| e.id).collect())
                };
                assert_eq!(ids(AuditFilter::default())?, ["e3", "e2", "e1"], "newest first");
                let repeated = list_for_workspace(tx, &ws, None, 10)?.remove(1);
                assert_eq!((repeated.repeat_count, repeated.last_at), (3, now.plus_seconds(30)));
                assert_eq!(
                    ids(AuditFilter { outcome: Some(crate::model::Outcome::Failure), ..Default::default() })?,
                    ["e2"]
                );
                assert_eq!(ids(AuditFilter { kind: Some("pat.minted".into()), ..Default::default() })?, ["e1"]);
                assert_eq!(ids(AuditFilter { agent_id: Some("pat-1".into()), ..Default::default() })?, ["e3", "e1"]);
                assert_eq!(ids(AuditFilter { before: Some("e3".into()), ..Default::default() })?, ["e2", "e1"]);
                assert_eq!(ids(AuditFilter { since: Some(now.plus_seconds(60)), ..Default::default() })?, ["e3"]);
                assert!(list_for_workspace(tx, &WorkspaceId("other".into()), None, 10)?.is_empty());
                Ok(())
            })
            .unwrap();
            // Append-only: the database itself refuses a delete or a rewrite.
            for sql in
                ["DELETE FROM audit_events WHERE id = 'e1'", "UPDATE audit_events SET kind = 'x' WHERE id = 'e1'"]
            {
                assert!(db.write_blocking(|tx| Ok(tx.execute(sql, [])?)).is_err(), "{sql}");
            }
            let kept = db.read_blocking(|conn| list_for_workspace(conn, &ws, None, 10)).unwrap();
            let kinds: Vec<_> = kept.iter().take(3).map(|e| e.kind.as_str()).collect();
            assert_eq!(kinds, ["pat.revoked", "auth.refused", "pat.minted"]);
        });
    }
}
