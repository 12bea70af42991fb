//! The `assertion_jtis` table: every accepted client-assertion `jti`, until
//! its assertion expires.

use crate::db::{Connection, params};

use crate::clock::Timestamp;
use crate::error::AppError;
use crate::model::ids::AgentId;

/// `false` when this agent already used the jti: the insert is the check.
pub fn insert_new(conn: &Connection, agent: &AgentId, jti: &str, expires_at: Timestamp) -> Result<bool, AppError> {
    Ok(super::cached(
        conn,
        "INSERT INTO assertion_jtis (agent_id, jti, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?
    .execute(params![agent, jti, expires_at.0])?
        == 1)
}

/// When the last clean-up ran (unix seconds), per process.
static LAST_CLEANUP: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MIN);

/// Forgets rows that can no longer matter, at most once a second per
/// process and a bounded batch at a time: a request that does it deletes a
/// second's worth of rows in one range, the others touch no page for it.
pub fn delete_expired(conn: &Connection, now: Timestamp) -> Result<usize, AppError> {
    use std::sync::atomic::Ordering;
    if LAST_CLEANUP.swap(now.0, Ordering::Relaxed) == now.0 {
        return Ok(0);
    }
    Ok(super::cached(
        conn,
        "DELETE FROM assertion_jtis WHERE (agent_id, jti) IN
         (SELECT agent_id, jti FROM assertion_jtis WHERE expires_at < ?1 LIMIT 5000)",
    )?
    .execute([now.0])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_per_agent_until_it_is_pruned() {
        crate::db::testing::each_backend(|db| {
            // Another second per backend: the clean-up runs once a second
            // per process.
            let now = Timestamp(2_000_000_000 + i64::from(db.is_postgres()));
            db.write_blocking(|tx| {
                let (_, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                assert!(insert_new(tx, &agent.id, "j1", now.plus_seconds(60))?);
                assert!(!insert_new(tx, &agent.id, "j1", now.plus_seconds(60))?, "a replayed jti");
                assert!(insert_new(tx, &agent.id, "j2", now.plus_seconds(-1))?);
                assert_eq!(delete_expired(tx, now)?, 1, "only the expired one");
                assert!(!insert_new(tx, &agent.id, "j1", now.plus_seconds(60))?, "still remembered");
                Ok(())
            })
            .unwrap();
        });
    }
}
