//! `latchkey db copy --to postgres://…`: an SQLite instance moved to an
//! empty PostgreSQL database, every table and row, in one PostgreSQL
//! transaction read from one SQLite snapshot. Tokens, sessions and caps
//! keep working after the move: they are hashes and rows, nothing is
//! issued again.

use std::path::Path;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use super::conn::Value;
use super::pg;

/// What was copied: `(table, rows)` in copy order.
pub type Report = Vec<(String, i64)>;

/// Copies the SQLite database in `data_dir` (migrated first) into the empty
/// PostgreSQL database `url` (migrated too), then checks every table's row
/// count on both sides.
pub fn sqlite_to_postgres(data_dir: &Path, url: &str) -> Result<Report, String> {
    // Bring the source to the current schema, as every command does.
    drop(super::Db::open(data_dir)?);
    let source = super::connect_sqlite(&data_dir.join(super::DB_FILE)).map_err(|e| e.to_string())?;

    let target = pg::Target::parse(url).map_err(|e| format!("--to: {e}"))?;
    let mut session = target.connect().map_err(|e| {
        format!("--to: cannot reach PostgreSQL at {}: {}", target.describe(), super::Error::Postgres(e))
    })?;
    session.migrate()?;
    let client = session.client_mut();

    // Tables in creation order, which is also an order foreign keys accept.
    let tables: Vec<String> = client
        .query(
            "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
             AND relname <> 'refinery_schema_history' ORDER BY oid",
            &[],
        )
        .map_err(pg_error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in &tables {
        let n: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[]).map_err(pg_error)?.get(0);
        if n > 0 {
            return Err(format!(
                "--to: {} is not empty ({table} has {n} rows); copy into a new, empty database",
                target.describe()
            ));
        }
    }

    // One snapshot of the source for every table.
    source.execute_batch("BEGIN").map_err(|e| e.to_string())?;
    let mut report = Report::new();
    let mut tx = client.transaction().map_err(pg_error)?;
    for table in &tables {
        let columns: Vec<(String, Type)> = tx
            .query(
                "SELECT a.attname::text, a.atttypid FROM pg_attribute a
                 WHERE a.attrelid = (SELECT oid FROM pg_class WHERE relname = $1 AND relnamespace = 'public'::regnamespace)
                   AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[table],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| {
                let oid: u32 = r.get(1);
                (r.get::<_, String>(0), Type::from_oid(oid).unwrap_or(Type::TEXT))
            })
            .collect();
        let names = columns.iter().map(|(n, _)| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let types: Vec<Type> = columns.iter().map(|(_, t)| t.clone()).collect();
        let sink = tx.copy_in(&format!("COPY {table} ({names}) FROM STDIN BINARY")).map_err(pg_error)?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        let mut stmt = source.prepare(&format!("SELECT {names} FROM {table}")).map_err(|e| e.to_string())?;
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        let mut copied = 0i64;
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                    rusqlite::types::ValueRef::Real(v) => Value::Real(v),
                    rusqlite::types::ValueRef::Text(t) => {
                        Value::Text(std::str::from_utf8(t).map_err(|e| format!("{table}: {e}"))?)
                    }
                    rusqlite::types::ValueRef::Blob(b) => Value::Blob(b),
                });
            }
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            writer.write(&refs).map_err(|e| format!("{table}: {}", super::Error::Postgres(e)))?;
            copied += 1;
        }
        writer.finish().map_err(|e| format!("{table}: {}", super::Error::Postgres(e)))?;
        report.push((table.clone(), copied));
    }
    // New audit rows continue after the copied ones.
    tx.batch_execute(
        "SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), COALESCE((SELECT MAX(seq) FROM audit_events), 0) + 1, false)",
    )
    .map_err(pg_error)?;
    tx.commit().map_err(pg_error)?;
    source.execute_batch("COMMIT").map_err(|e| e.to_string())?;

    // Verify: the same number of rows on both sides, table by table.
    for (table, copied) in &report {
        let there: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[]).map_err(pg_error)?.get(0);
        let here: i64 =
            source.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).map_err(|e| e.to_string())?;
        if there != *copied || here < *copied {
            return Err(format!("{table}: copied {copied} rows but PostgreSQL holds {there} (SQLite {here})"));
        }
    }
    Ok(report)
}

fn pg_error(e: postgres::Error) -> String {
    super::Error::Postgres(e).to_string()
}
