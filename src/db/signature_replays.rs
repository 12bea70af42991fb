//! The `signature_replays` table: every accepted request signature, until
//! it falls out of the skew window.

use rusqlite::{Connection, params};

use crate::clock::Timestamp;
use crate::error::AppError;

/// Records a signature; `false` when it was already there (a replay). One
/// statement, so two racing requests with one signature cannot both pass.
pub fn insert_new(conn: &Connection, signature_hash: &[u8], expires_at: Timestamp) -> Result<bool, AppError> {
    Ok(super::cached(
        conn,
        "INSERT INTO signature_replays (signature_hash, expires_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![signature_hash, expires_at.0])?
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
        "DELETE FROM signature_replays WHERE signature_hash IN
         (SELECT signature_hash FROM signature_replays WHERE expires_at < ?1 LIMIT 5000)",
    )?
    .execute([now.0])?)
}
