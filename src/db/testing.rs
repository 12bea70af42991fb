//! Storage tests run on every backend: a fresh SQLite file always, and a
//! fresh PostgreSQL database as well when `LATCHKEY_TEST_POSTGRES_URL` names
//! a server the test user may create databases on (`.ci/run` starts one and
//! sets `LATCHKEY_REQUIRE_POSTGRES=1`, which makes its absence a failure).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::Db;

fn postgres_base() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LATCHKEY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("LATCHKEY_REQUIRE_POSTGRES=1 but LATCHKEY_TEST_POSTGRES_URL is not set")
        }
        _ => None,
    }
}

/// A new PostgreSQL database for `test`, dropped afterwards; `None` when
/// no server is configured.
fn with_postgres(test: impl FnOnce(&str)) -> Option<()> {
    let base = postgres_base()?;
    let name = format!("lk_unit_{}", hex::encode(crate::crypto::random_bytes::<6>()));
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect to LATCHKEY_TEST_POSTGRES_URL");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    let mut url = url::Url::parse(&base).expect("LATCHKEY_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    let outcome = catch_unwind(AssertUnwindSafe(|| test(url.as_str())));
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
    Some(())
}

/// Two servers on one PostgreSQL database (replicas), for races between
/// their transactions; nothing when no server is configured. (Two SQLite
/// writers never overlap: the file lock orders them.)
pub fn postgres_pair(test: impl FnOnce(&Db, &Db)) {
    with_postgres(|url| {
        let (dir_a, dir_b) = (tempfile::TempDir::new().unwrap(), tempfile::TempDir::new().unwrap());
        let a = Db::open_url(dir_a.path(), Some(url)).expect("a PostgreSQL database");
        let b = Db::open_url(dir_b.path(), Some(url)).expect("the same database again");
        test(&a, &b);
    });
}

/// Runs `test` on a new SQLite database, then on a new PostgreSQL one
/// (dropped afterwards, even when the test fails). `db.is_postgres()` tells
/// a failing assertion which one it was.
pub fn each_backend(test: impl Fn(&Db)) {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let db = Db::open(dir.path()).expect("a SQLite database");
    test(&db);
    drop(db);
    with_postgres(|url| {
        let dir = tempfile::TempDir::new().expect("a temporary directory");
        let db = Db::open_url(dir.path(), Some(url)).expect("a PostgreSQL database");
        test(&db);
    });
}
