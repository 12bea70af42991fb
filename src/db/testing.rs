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

/// Runs `test` on a new SQLite database, then on a new PostgreSQL one
/// (dropped afterwards, even when the test fails). `db.is_postgres()` tells
/// a failing assertion which one it was.
pub fn each_backend(test: impl Fn(&Db)) {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let db = Db::open(dir.path()).expect("a SQLite database");
    test(&db);
    drop(db);
    let Some(base) = postgres_base() else { return };
    let name = format!("lk_unit_{}", hex::encode(crate::crypto::random_bytes::<6>()));
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect to LATCHKEY_TEST_POSTGRES_URL");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    let mut url = url::Url::parse(&base).expect("LATCHKEY_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let db = Db::open_url(dir.path(), Some(url.as_str())).expect("a PostgreSQL database");
        test(&db);
    }));
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}
