//! The `settings` table: instance-wide key/value pairs.

use crate::db::{Connection, OptionalExtension, params};

use crate::error::AppError;

pub fn find(conn: &Connection, key: &str) -> Result<Option<String>, AppError> {
    Ok(super::cached(conn, "SELECT value FROM settings WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

pub fn upsert(conn: &Connection, key: &str, value: &str) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM settings WHERE key = ?1", [key])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_replaced_in_place_and_deleted_once() {
        crate::db::testing::each_backend(|db| {
            db.write_blocking(|tx| {
                assert_eq!(find(tx, "k")?, None);
                upsert(tx, "k", "one")?;
                upsert(tx, "k", "two")?;
                assert_eq!(find(tx, "k")?.as_deref(), Some("two"));
                assert!(delete(tx, "k")?);
                assert!(!delete(tx, "k")?, "deleted once");
                assert_eq!(find(tx, "k")?, None);
                Ok(())
            })
            .unwrap();
        });
    }
}
