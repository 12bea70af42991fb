//! The `signature_replays` table: every accepted request signature, until
//! it falls out of the skew window. Keyed by the signed timestamp first, so
//! inserts append and clean-up is a range delete (see migration V7).

use crate::db::{Connection, params};

use crate::error::AppError;

/// Records a signature made at `ts`; `false` when it was already there (a
/// replay: the same signature always carries the same timestamp). One
/// statement, so two racing requests with one signature cannot both pass.
pub fn insert_new(conn: &Connection, ts: i64, signature_hash: &[u8]) -> Result<bool, AppError> {
    Ok(super::cached(
        conn,
        "INSERT INTO signature_replays (ts, signature_hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![ts, signature_hash])?
        == 1)
}

/// When the last clean-up ran (unix seconds), per process.
static LAST_CLEANUP: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MIN);

/// Forgets signatures made before `oldest_ts` (outside the skew window: no
/// longer accepted anyway), at most once a second per process.
pub fn delete_older_than(conn: &Connection, oldest_ts: i64) -> Result<usize, AppError> {
    use std::sync::atomic::Ordering;
    if LAST_CLEANUP.swap(oldest_ts, Ordering::Relaxed) == oldest_ts {
        return Ok(0);
    }
    Ok(super::cached(conn, "DELETE FROM signature_replays WHERE ts < ?1")?.execute([oldest_ts])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_new_once_and_forgotten_after_its_window() {
        crate::db::testing::each_backend(|db| {
            // Another second per backend: the clean-up runs once a second
            // per process.
            let t = 1_000 + i64::from(db.is_postgres()) * 100;
            db.write_blocking(|tx| {
                assert!(insert_new(tx, t, &[7; 32])?);
                assert!(!insert_new(tx, t, &[7; 32])?, "the same signature again is a replay");
                assert!(insert_new(tx, t, &[8; 32])?);
                assert!(insert_new(tx, t + 5, &[7; 32])?, "another timestamp is another signed request");
                assert_eq!(delete_older_than(tx, t + 1)?, 2);
                assert!(!insert_new(tx, t + 5, &[7; 32])?, "the newer one is still remembered");
                Ok(())
            })
            .unwrap();
        });
    }
}
