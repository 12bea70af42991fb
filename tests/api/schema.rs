//! The two backends' migrations build the same schema: tables, columns,
//! types, NOT NULL, primary keys, UNIQUE constraints, foreign keys with
//! their ON DELETE, and indexes (with whether they are unique or partial).
//! Runs in the PostgreSQL suite; a migration added to one backend and not
//! the other fails here.

use std::collections::BTreeSet;

use crate::helpers::*;

type Facts = BTreeSet<String>;

fn sqlite_type(t: &str) -> String {
    match t.to_ascii_uppercase().as_str() {
        "INTEGER" => "bigint".into(),
        "TEXT" => "text".into(),
        "BLOB" => "bytea".into(),
        other => format!("unmapped {other}"),
    }
}

fn sqlite_facts(path: &std::path::Path) -> Facts {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut facts = Facts::new();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name <> 'refinery_schema_history'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in &tables {
        let mut stmt = conn.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)").unwrap();
        let cols = stmt
            .query_map([table], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
            })
            .unwrap();
        let mut pk = Vec::new();
        for c in cols {
            let (name, ty, notnull, key) = c.unwrap();
            // A primary-key column is NOT NULL on PostgreSQL; SQLite only says so in WITHOUT ROWID tables.
            let notnull = notnull == 1 || key > 0;
            facts.insert(format!(
                "column {table}.{name} {} {}",
                sqlite_type(&ty),
                if notnull { "not null" } else { "null" }
            ));
            if key > 0 {
                pk.push((key, name));
            }
        }
        pk.sort();
        facts.insert(format!("primary key {table}({})", pk.into_iter().map(|(_, n)| n).collect::<Vec<_>>().join(", ")));

        let mut stmt = conn.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)").unwrap();
        let indexes: Vec<(String, i64, String, i64)> = stmt
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (name, unique, origin, partial) in indexes {
            let cols: Vec<String> = conn
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .unwrap()
                .query_map([&name], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            match origin.as_str() {
                "pk" => {}
                "u" => {
                    facts.insert(format!("unique {table}({})", cols.join(", ")));
                }
                _ => {
                    facts.insert(format!(
                        "index {name} on {table}({}){}{}",
                        cols.join(", "),
                        if unique == 1 { " unique" } else { "" },
                        if partial == 1 { " partial" } else { "" }
                    ));
                }
            }
        }

        let mut stmt =
            conn.prepare("SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?1)").unwrap();
        let fks = stmt
            .query_map([table], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .unwrap();
        for fk in fks {
            let (from, parent, to, on_delete) = fk.unwrap();
            let to = to.unwrap_or_else(|| "id".into());
            facts.insert(format!("foreign key {table}.{from} -> {parent}.{to} on delete {}", on_delete.to_lowercase()));
        }
    }
    facts
}

fn postgres_facts(client: &mut postgres::Client) -> Facts {
    let mut facts = Facts::new();
    for row in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'refinery_schema_history'",
            &[],
        )
        .unwrap()
    {
        let (table, name, ty, nullable): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        facts.insert(format!("column {table}.{name} {ty} {}", if nullable == "YES" { "null" } else { "not null" }));
    }
    // Constraints: primary keys, UNIQUE and foreign keys, columns in key order.
    for row in client
        .query(
            "SELECT c.contype::text, t.relname::text, f.relname::text, c.confdeltype::text,
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
                    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_class f ON f.oid = c.confrelid
             WHERE t.relnamespace = 'public'::regnamespace AND t.relname <> 'refinery_schema_history'
               AND c.contype IN ('p', 'u', 'f')",
            &[],
        )
        .unwrap()
    {
        let (kind, table, parent, on_delete): (String, String, Option<String>, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let cols: Vec<String> = row.get(4);
        let parent_cols: Vec<String> = row.get(5);
        match kind.as_str() {
            "p" => facts.insert(format!("primary key {table}({})", cols.join(", "))),
            "u" => facts.insert(format!("unique {table}({})", cols.join(", "))),
            _ => {
                let action = match on_delete.as_str() {
                    "c" => "cascade",
                    "n" => "set null",
                    "r" => "restrict",
                    "d" => "set default",
                    _ => "no action",
                };
                facts.insert(format!(
                    "foreign key {table}.{} -> {}.{} on delete {action}",
                    cols.join(","),
                    parent.unwrap_or_default(),
                    parent_cols.join(",")
                ))
            }
        };
    }
    // Indexes that back no constraint.
    for row in client
        .query(
            "SELECT i.relname::text, t.relname::text, x.indisunique, x.indpred IS NOT NULL,
                    ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
                          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o)
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
             WHERE t.relnamespace = 'public'::regnamespace
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            &[],
        )
        .unwrap()
    {
        let (name, table, unique, partial): (String, String, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let cols: Vec<String> = row.get(4);
        facts.insert(format!(
            "index {name} on {table}({}){}{}",
            cols.join(", "),
            if unique { " unique" } else { "" },
            if partial { " partial" } else { "" }
        ));
    }
    facts
}

#[test]
fn both_backends_migrate_to_the_same_schema() {
    if !on_postgres() {
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let sqlite_dir = dir.path().join("sqlite");
    drop(latchkey::db::Db::open(&sqlite_dir).unwrap());
    let sqlite = sqlite_facts(&sqlite_dir.join("latchkey.db"));

    let pg_dir = dir.path().join("pg");
    drop(latchkey::db::Db::open_url(&pg_dir, database_url_for(&pg_dir).as_deref()).unwrap());
    let postgres = postgres_facts(&mut postgres_client(&pg_dir));
    drop_test_database(&pg_dir);

    assert!(sqlite.len() > 150, "the SQLite schema was read: {}", sqlite.len());
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the schemas differ\nonly on SQLite:\n  {}\nonly on PostgreSQL:\n  {}",
        only_sqlite.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        only_postgres.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
}
