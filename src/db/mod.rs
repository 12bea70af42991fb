//! SQLite storage. `open()` sets the pragmas and applies the embedded
//! migrations before anything else touches the file. Async code reaches the
//! database through [`Db::write`] and [`Db::read`], which run on the
//! blocking thread pool: one writer connection (SQLite has one writer
//! anyway, so writers queue on a mutex instead of spinning on SQLITE_BUSY)
//! and a small set of reader connections that WAL lets run in parallel.
//!
//! Short primary-key reads (authentication) use [`Db::read_here`] instead:
//! a connection owned by the calling worker thread. A WAL reader never waits
//! for the writer, and measured on the whoami path the hop to the blocking
//! pool and back cost more CPU than the read itself (see README,
//! "Performance").
//!
//! The functions in the per-table modules take a `&Connection` (reads) or a
//! `&Transaction` (writes) and hold all SQL; a second backend would provide
//! the same functions.

pub mod access_tokens;
pub mod agents;
pub mod assertion_jtis;
pub mod audit;
pub mod bootstrap_secrets;
pub mod browser_sessions;
pub mod certificates;
pub mod checkouts;
pub mod memberships;
pub mod pats;
pub mod runtime_sessions;
pub mod settings;
pub mod signature_replays;
pub mod users;
pub mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::AppError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "latchkey.db";

const READERS: usize = 4;

/// Page cache per connection, in KiB (SQLite's negative `cache_size`). The
/// hot set (PATs, agents, sessions, today's spend) is small; the OS page
/// cache holds the rest, so a large private cache per connection only
/// multiplies resident memory.
const CACHE_KIB: i64 = 8 * 1024;

/// Distinguishes databases in one process (tests open many) for the
/// per-thread connections of [`Db::read_here`].
static NEXT_DB_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    static LOCAL_READERS: std::cell::RefCell<Vec<(u64, Connection)>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_returned: Condvar,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.inner.path).finish()
    }
}

/// Creates the data dir (mode 0700) if needed and returns the database path.
pub fn prepare_data_dir(data_dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !data_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    } else if !data_dir.is_dir() {
        return Err(format!("data dir {} exists and is not a directory", data_dir.display()));
    } else if let Ok(meta) = std::fs::metadata(data_dir)
        && meta.permissions().mode() & 0o077 != 0
    {
        // Tighten what we can; the secrets in here are for this user only.
        let _ = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(data_dir.join(DB_FILE))
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -{CACHE_KIB};
         PRAGMA temp_store = MEMORY;"
    ))?;
    // Every hot statement is cached; keep room for all of them.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Db {
    /// Opens (creating if needed) the database in `data_dir`, migrates it
    /// and builds the connection pool.
    pub fn open(data_dir: &Path) -> Result<Db, String> {
        let path = prepare_data_dir(data_dir)?;
        let mut writer = connect(&path).map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        migrate(&mut writer)?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(connect(&path).map_err(|e| format!("cannot open database {}: {e}", path.display()))?);
        }
        Ok(Db {
            inner: Arc::new(Inner {
                id: NEXT_DB_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(readers),
                reader_returned: Condvar::new(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a reader connection, off the async executor.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.read_blocking(f)).await.map_err(AppError::internal)?
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction, off the async
    /// executor; commits when `f` returns `Ok`, rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&Transaction) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.write_blocking(f)).await.map_err(AppError::internal)?
    }

    /// Runs a short read on a connection owned by the calling thread, opened
    /// on first use: no hop to the blocking pool. For the authentication
    /// lookups (a few primary-key reads); anything that scans stays on
    /// [`Db::read`]. Never waits for the writer (WAL).
    pub fn read_here<T>(&self, f: impl FnOnce(&Connection) -> Result<T, AppError>) -> Result<T, AppError> {
        let id = self.inner.id;
        LOCAL_READERS.with(|cell| {
            // A nested call (or a connection that failed to open) falls back
            // to the shared readers rather than panicking.
            let Ok(mut local) = cell.try_borrow_mut() else { return self.read_blocking(f) };
            if !local.iter().any(|(db, _)| *db == id) {
                let conn = connect(&self.inner.path)?;
                local.push((id, conn));
            }
            let conn = local.iter().find(|(db, _)| *db == id).map(|(_, c)| c);
            match conn {
                Some(conn) => f(conn),
                None => Err(AppError::internal("thread-local reader missing")),
            }
        })
    }

    /// [`Db::read`] for code that is already on a blocking thread (the CLI).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T, AppError>) -> Result<T, AppError> {
        let conn = self.checkout_reader()?;
        let result = f(&conn);
        self.return_reader(conn);
        result
    }

    /// [`Db::write`] for code that is already on a blocking thread (the CLI).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Transaction) -> Result<T, AppError>) -> Result<T, AppError> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn checkout_reader(&self) -> Result<Connection, AppError> {
        let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = pool.pop() {
                return Ok(conn);
            }
            pool = self.inner.reader_returned.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn return_reader(&self, conn: Connection) {
        let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        pool.push(conn);
        drop(pool);
        self.inner.reader_returned.notify_one();
    }

    /// Copies the live database into `dest` with SQLite's online backup API;
    /// safe while the server runs. The file is written beside `dest` and
    /// renamed into place, mode 0600.
    pub fn backup_to(&self, dest: &Path) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let file_name = dest.file_name().ok_or_else(|| format!("{} is not a file name", dest.display()))?;
        let tmp = dest.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
        let _ = std::fs::remove_file(&tmp);
        let result = (|| {
            let src = connect(&self.inner.path).map_err(|e| e.to_string())?;
            let mut out = Connection::open(&tmp).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
            {
                let backup = rusqlite::backup::Backup::new(&src, &mut out).map_err(|e| e.to_string())?;
                backup.run_to_completion(256, std::time::Duration::from_millis(5), None).map_err(|e| e.to_string())?;
            }
            // A standalone copy: no WAL beside it.
            out.execute_batch("PRAGMA journal_mode = DELETE;").map_err(|e| e.to_string())?;
            drop(out);
            std::fs::rename(&tmp, dest).map_err(|e| e.to_string())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| format!("backup to {} failed: {e}", dest.display()))
    }
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    embedded::migrations::runner().run(conn).map(|_| ()).map_err(|e| format!("database migration failed: {e}"))
}

/// `prepare_cached`, through one door: tests list every statement the hot
/// paths ran and check SQLite never had to compile one again.
pub fn cached<'c>(conn: &'c Connection, sql: &str) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    #[cfg(test)]
    SEEN_SQL.with(|seen| {
        let mut seen = seen.borrow_mut();
        if !seen.iter().any(|s| s == sql) {
            seen.push(sql.to_string());
        }
    });
    conn.prepare_cached(sql)
}

#[cfg(test)]
thread_local! {
    static SEEN_SQL: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A fresh id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `Ok(None)` for "no row", like rusqlite's `OptionalExtension`.
pub use rusqlite::OptionalExtension;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::domain::ids::{AgentId, PatId, WorkspaceId};
    use rusqlite::StatementStatus;

    /// Runs every statement of the authentication and checkout paths twice
    /// with different bindings; SQLite must reuse each compiled statement.
    /// (A plan that depends on a bound value is recompiled at every new
    /// binding: a lookup by token hash joined to other tables was, costing
    /// 15 µs per request.)
    #[test]
    fn hot_statements_are_compiled_once() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = Db::open(dir.path()).unwrap();
        SEEN_SQL.with(|s| s.borrow_mut().clear());
        db.write_blocking(|tx| {
            for i in 0..3u8 {
                let now = Timestamp(1_000_000 + i64::from(i));
                let key = [i; 32];
                let id = format!("id-{i}");
                pats::find_auth_by_hash(tx, &key)?;
                pats::find_auth_by_id(tx, &PatId(id.clone()))?;
                pats::find_cap(tx, &PatId(id.clone()))?;
                pats::touch_last_used(tx, &PatId(id.clone()), now)?;
                access_tokens::find_auth_by_hash(tx, &key)?;
                runtime_sessions::find(tx, &id)?;
                certificates::find_by_kid(tx, &id)?;
                agents::find_any_workspace(tx, &AgentId(id.clone()))?;
                agents::find(tx, &WorkspaceId(id.clone()), &AgentId(id.clone()))?;
                workspaces::find(tx, &WorkspaceId(id.clone()))?;
                signature_replays::delete_expired(tx, now)?;
                signature_replays::insert_new(tx, &key, now)?;
                assertion_jtis::delete_expired(tx, now)?;
                assertion_jtis::insert_new(tx, &AgentId(id.clone()), &id, now)?;
                checkouts::find_by_idempotency_key(tx, &PatId(id.clone()), &id)?;
                checkouts::spent_on_day(tx, &PatId(id.clone()), i64::from(i))?;
                audit::bump_recent(tx, &id, now, now)?;
            }
            Ok(())
        })
        .unwrap();
        let seen = SEEN_SQL.with(|s| s.borrow().clone());
        assert!(seen.len() >= 15, "the statements were recorded");
        let recompiled = db
            .write_blocking(|tx| {
                let mut bad = Vec::new();
                for sql in &seen {
                    if tx.prepare_cached(sql)?.get_status(StatementStatus::RePrepare) != 0 {
                        bad.push(sql.clone());
                    }
                }
                Ok(bad)
            })
            .unwrap();
        assert!(recompiled.is_empty(), "recompiled on rebinding:\n{}", recompiled.join("\n---\n"));
    }
}
