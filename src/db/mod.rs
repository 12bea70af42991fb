//! SQLite storage. `open()` sets the pragmas and applies the embedded
//! migrations before anything else touches the file. Async code reaches the
//! database through [`Db::write`] and [`Db::read`]. Writes go to one
//! writer thread that owns the only writing connection (SQLite has one
//! writer anyway): it takes every write waiting at that moment, runs each
//! in its own savepoint inside one `BEGIN IMMEDIATE` transaction, commits
//! once, and only then answers each caller (group commit). A write that
//! fails rolls back to its savepoint and no further; a failed commit fails
//! every write of the batch. Under load one commit, one WAL append and one
//! thread wake-up serve many requests. Longer reads run on the blocking
//! pool over a small set of reader connections that WAL lets run in
//! parallel.
//!
//! Short primary-key reads (authentication) use [`Db::read_here`] instead:
//! a connection owned by the calling worker thread. A WAL reader never waits
//! for the writer, and measured on the whoami path the hop to the blocking
//! pool and back cost more CPU than the read itself (see README,
//! "Performance").
//!
//! The functions in the per-table modules take a `&Connection` (reads) or a
//! `&Connection` inside the writer's transaction (writes) and hold all SQL; a second backend would provide
//! the same functions.

pub mod access_tokens;
pub mod agents;
pub mod approvals;
pub mod assertion_jtis;
pub mod audit;
pub mod bootstrap_secrets;
pub mod browser_sessions;
pub mod budgets;
pub mod certificates;
pub mod checkouts;
pub mod invitations;
pub mod memberships;
pub mod oauth;
pub mod pats;
pub mod resources;
pub mod runtime_sessions;
pub mod settings;
pub mod signature_replays;
#[cfg(test)]
pub mod testing;
pub mod users;
pub mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::OpenFlags;

mod conn;
pub mod copy;
pub mod pg;
mod writer;
pub use crate::params;
pub use conn::{Connection, Error, FromColumn, OptionalExtension, Param, Params, Result, Row, Statement, Value};

use crate::error::AppError;
use writer::{Job, Msg, Rerun, run_checkpointer, run_writer};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "latchkey.db";

const READERS: usize = 4;

/// Page cache per connection, in KiB (SQLite's negative `cache_size`). The
/// hot set (PATs, agents, sessions, today's spend) is small; the OS page
/// cache holds the rest, so a large private cache per connection only
/// multiplies resident memory.
const CACHE_KIB: i64 = 8 * 1024;

/// The database file is read through one shared memory map (the OS page
/// cache), not copied into each connection: after every commit SQLite
/// drops a reader's private cache, and without the map each page it needs
/// again costs a `pread`.
const MMAP_BYTES: i64 = 32 * 1024 * 1024;

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

/// Writes and the transactions that carried them, for `/metrics`.
#[derive(Default)]
pub struct WriteStats {
    pub writes: std::sync::atomic::AtomicU64,
    pub commits: std::sync::atomic::AtomicU64,
}

struct Inner {
    id: u64,
    stats: Arc<WriteStats>,
    path: PathBuf,
    writes: Mutex<mpsc::Sender<Msg>>,
    readers: Readers,
}

/// Where the connections come from.
#[derive(Clone)]
enum Source {
    Sqlite(PathBuf),
    Postgres(Box<pg::Target>),
}

impl Source {
    fn connect(&self) -> Result<Connection, String> {
        match self {
            Source::Sqlite(path) => connect(path).map_err(|e| format!("cannot open database {}: {e}", path.display())),
            Source::Postgres(target) => target
                .connect()
                .map(|s| Connection::from_postgres(pg::Handle::Owned(s)))
                .map_err(|e| format!("cannot reach PostgreSQL at {}: {}", target.describe(), Error::Postgres(e))),
        }
    }
}

enum Readers {
    Sqlite { pool: Mutex<Vec<Connection>>, returned: Condvar },
    Postgres(r2d2::Pool<pg::Manager>),
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

fn connect(path: &Path) -> Result<Connection> {
    Ok(connect_sqlite(path).map(Connection::from_sqlite)?)
}

fn connect_sqlite(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -{CACHE_KIB};
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = {MMAP_BYTES};
         PRAGMA wal_autocheckpoint = 8000;
         PRAGMA journal_size_limit = 67108864;"
    ))?;
    // Every hot statement is cached; keep room for all of them.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Db {
    /// Opens (creating if needed) the database in `data_dir`, migrates it
    /// and builds the connection pool.
    pub fn open(data_dir: &Path) -> Result<Db, String> {
        Db::open_url(data_dir, None)
    }

    /// [`Db::open`], or the PostgreSQL database `url` names
    /// (`postgres://…`), migrated the same way.
    pub fn open_url(data_dir: &Path, url: Option<&str>) -> Result<Db, String> {
        let path = data_dir.join(DB_FILE);
        let (source, writer, readers) = match url {
            None => {
                let path = prepare_data_dir(data_dir)?;
                let mut writer =
                    connect_sqlite(&path).map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
                migrate(&mut writer)?;
                // Checkpoints run on their own thread (see `run_checkpointer`),
                // so a commit never waits for one.
                writer
                    .execute_batch("PRAGMA wal_autocheckpoint = 0;")
                    .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
                }
                let source = Source::Sqlite(path.clone());
                let mut pool = Vec::with_capacity(READERS);
                for _ in 0..READERS {
                    pool.push(source.connect()?);
                }
                let readers = Readers::Sqlite { pool: Mutex::new(pool), returned: Condvar::new() };
                (source, Connection::from_sqlite(writer), readers)
            }
            Some(url) => {
                // The data dir still holds the signing keys.
                prepare_data_dir(data_dir)?;
                let target = pg::Target::parse(url).map_err(|e| format!("LATCHKEY_DATABASE_URL: {e}"))?;
                let source = Source::Postgres(Box::new(target.clone()));
                let mut session = target.connect().map_err(|e| {
                    format!(
                        "LATCHKEY_DATABASE_URL: cannot reach PostgreSQL at {}: {}",
                        target.describe(),
                        Error::Postgres(e)
                    )
                })?;
                session.migrate()?;
                let pool = r2d2::Pool::builder()
                    .max_size(READERS as u32 * 2)
                    .min_idle(Some(1))
                    .test_on_check_out(false)
                    .connection_timeout(std::time::Duration::from_secs(2))
                    .error_handler(Box::new(r2d2::NopErrorHandler))
                    .build_unchecked(pg::Manager { target });
                (source, Connection::from_postgres(pg::Handle::Owned(session)), Readers::Postgres(pool))
            }
        };
        let (writes, jobs) = mpsc::channel::<Msg>();
        let stats = Arc::new(WriteStats::default());
        let writer_stats = stats.clone();
        let checkpoints = match &source {
            Source::Sqlite(path) => {
                let conn = connect(path).map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
                let (due, wake) = mpsc::sync_channel::<()>(1);
                std::thread::Builder::new()
                    .name("db-checkpoint".into())
                    .spawn(move || run_checkpointer(conn, wake))
                    .map_err(|e| format!("cannot start the database checkpointer: {e}"))?;
                Some(due)
            }
            Source::Postgres(_) => None,
        };
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run_writer(writer, &source, jobs, &writer_stats, checkpoints))
            .map_err(|e| format!("cannot start the database writer: {e}"))?;
        Ok(Db {
            inner: Arc::new(Inner {
                id: NEXT_DB_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                stats,
                path,
                writes: Mutex::new(writes),
                readers,
            }),
        })
    }

    /// Whether this is the PostgreSQL backend.
    pub fn is_postgres(&self) -> bool {
        matches!(self.inner.readers, Readers::Postgres(_))
    }

    pub fn write_stats(&self) -> &WriteStats {
        &self.inner.stats
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

    /// Runs `f` on the writer thread inside the current batch's
    /// transaction (its own savepoint); answers once the batch committed.
    /// `f`'s `Err` undoes what `f` did and nothing else.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.submit(f, move |r| {
            let _ = reply.send(r);
        })?;
        answer.await.map_err(|_| AppError::internal("the database writer stopped"))?
    }

    /// [`Db::write`] for a write that may run more than once before it
    /// commits (only its last run's effects and answer count): a pure
    /// function of the connection, no side effect outside the database.
    /// The hot paths use it; it spares them a savepoint each.
    pub async fn write_rerunnable<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: Fn(&Connection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let reply = move |r| {
            let _ = reply.send(r);
        };
        self.send(Msg::Job(Box::new(Rerun { f, result: None, reply: Some(reply) })))?;
        answer.await.map_err(|_| AppError::internal("the database writer stopped"))?
    }

    /// Runs a short read on a connection owned by the calling thread, opened
    /// on first use: no hop to the blocking pool. For the authentication
    /// lookups (a few primary-key reads); anything that scans stays on
    /// [`Db::read`]. Never waits for the writer (WAL). On PostgreSQL the
    /// read is a network round trip, so it goes to the blocking pool like
    /// [`Db::read`].
    pub async fn read_here<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        if self.is_postgres() {
            return self.read(f).await;
        }
        self.read_on_this_thread(f)
    }

    fn read_on_this_thread<T>(&self, f: impl FnOnce(&Connection) -> Result<T, AppError>) -> Result<T, AppError> {
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

    /// [`Db::write`] for code that is already on a blocking thread (the
    /// CLI, the audit writer): the writer thread lends its connection, `f`
    /// runs here in one `BEGIN IMMEDIATE` transaction, and the connection
    /// goes back. `f` may borrow from the caller.
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T, AppError>) -> Result<T, AppError> {
        let (give, take) = mpsc::channel();
        let (back, returned) = mpsc::channel();
        self.send(Msg::Lend(give, returned))?;
        let conn = take.recv().map_err(|_| AppError::internal("the database writer stopped"))?;
        let result = (|| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            match f(&conn) {
                Ok(value) => match conn.execute_batch("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK");
                        Err(e.into())
                    }
                },
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })();
        let _ = back.send(conn);
        result
    }

    fn send(&self, msg: Msg) -> Result<(), AppError> {
        let sender = self.inner.writes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        sender.send(msg).map_err(|_| AppError::internal("the database writer stopped"))
    }

    fn submit<T, F, R>(&self, f: F, reply: R) -> Result<(), AppError>
    where
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
        R: FnOnce(Result<T, AppError>) + Send + 'static,
        T: Send + 'static,
    {
        self.send(Msg::Job(Box::new(Job { f: Some(f), result: None, reply: Some(reply) })))
    }

    fn checkout_reader(&self) -> Result<Connection, AppError> {
        match &self.inner.readers {
            Readers::Sqlite { pool, returned } => {
                let mut pool = pool.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(conn) = pool.pop() {
                        return Ok(conn);
                    }
                    pool = returned.wait(pool).unwrap_or_else(|p| p.into_inner());
                }
            }
            Readers::Postgres(pool) => match pool.get() {
                Ok(session) => Ok(Connection::from_postgres(pg::Handle::Pooled(session))),
                Err(e) => Err(AppError::Unavailable(format!("the database cannot be reached: {e}"))),
            },
        }
    }

    fn return_reader(&self, conn: Connection) {
        // A pooled PostgreSQL session goes back to its pool when dropped.
        if let Readers::Sqlite { pool, returned } = &self.inner.readers {
            let mut pool = pool.lock().unwrap_or_else(|p| p.into_inner());
            pool.push(conn);
            drop(pool);
            returned.notify_one();
        }
    }

    /// Copies the live database into `dest` with SQLite's online backup API;
    /// safe while the server runs. The file is written beside `dest` and
    /// renamed into place, mode 0600.
    pub fn backup_to(&self, dest: &Path) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        if self.is_postgres() {
            return Err(
                "this instance runs on PostgreSQL: back it up with pg_dump (see README, \"Running several replicas\")"
                    .into(),
            );
        }
        let file_name = dest.file_name().ok_or_else(|| format!("{} is not a file name", dest.display()))?;
        let tmp = dest.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
        let _ = std::fs::remove_file(&tmp);
        let result = (|| {
            let src = connect_sqlite(&self.inner.path).map_err(|e| e.to_string())?;
            let mut out = rusqlite::Connection::open(&tmp).map_err(|e| e.to_string())?;
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

/// Applies pending migrations with foreign keys off (SQLite's way to
/// rebuild a table others refer to: a `DROP TABLE` would otherwise cascade),
/// then checks every reference before turning them back on.
fn migrate(conn: &mut rusqlite::Connection) -> Result<(), String> {
    use rusqlite::OptionalExtension;
    let fail = |e: rusqlite::Error| format!("database migration failed: {e}");
    conn.execute_batch("PRAGMA foreign_keys = OFF;").map_err(fail)?;
    let ran =
        embedded::migrations::runner().run(conn).map(|_| ()).map_err(|e| format!("database migration failed: {e}"));
    let broken: Option<String> = conn
        .query_row(
            "SELECT \"table\" || ' row ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(fail)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(fail)?;
    ran?;
    match broken {
        Some(row) => Err(format!("database migration left a broken reference: {row}")),
        None => Ok(()),
    }
}

/// `prepare_cached`, through one door: tests list every statement the hot
/// paths ran and check SQLite never had to compile one again.
pub fn cached<'c>(conn: &'c Connection, sql: &'c str) -> Result<Statement<'c>> {
    #[cfg(test)]
    SEEN_SQL.with(|seen| {
        let mut seen = seen.borrow_mut();
        if !seen.iter().any(|s| s == sql) {
            seen.push(sql.to_string());
        }
    });
    conn.prepare_cached(sql)
}

/// Runs `f` in one read transaction, so several statements share one
/// snapshot and one round of file locking (in autocommit SQLite takes and
/// drops its locks, a few `fcntl` calls, around every statement). Inside a
/// transaction already, `f` just runs.
pub fn in_snapshot<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T, AppError>) -> Result<T, AppError> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    cached(conn, "BEGIN")?.execute([])?;
    let result = f(conn);
    // Nothing was written: COMMIT only ends the read.
    let ended = cached(conn, "COMMIT").and_then(|mut s| s.execute([]));
    match (result, ended) {
        (Ok(value), Ok(_)) => Ok(value),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
    }
}

#[cfg(test)]
thread_local! {
    static SEEN_SQL: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A fresh id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::writer::*;
    use super::*;
    use crate::clock::Timestamp;
    use crate::model::ids::{AgentId, PatId, WorkspaceId};

    /// V9 rebuilds `users` under the tables that refer to it: on a database
    /// with data, nothing cascades away, a delegated user keeps its first
    /// workspace alone, and every reference still resolves.
    #[test]
    fn scoping_delegated_users_keeps_every_row_that_refers_to_them() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut conn = connect_sqlite(&dir.path().join("t.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
        embedded::migrations::runner().set_target(refinery::Target::Version(8)).run(&mut conn).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        conn.execute_batch(
            "INSERT INTO workspaces (id, name, created_at) VALUES ('wa', 'A', 1), ('wb', 'B', 2);
             INSERT INTO users (id, email, name, password_hash, auto_provisioned, created_at, updated_at) VALUES
                ('owner', 'o@example.com', 'O', 'hash', 0, 1, 1),
                ('shared', 's@example.com', 'Set by A', NULL, 1, 1, 1);
             INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES
                ('wa', 'owner', 'owner', 1), ('wb', 'owner', 'owner', 2),
                ('wa', 'shared', 'member', 1), ('wb', 'shared', 'member', 5);
             INSERT INTO pats (token_hash, id, workspace_id, user_id, name, scope_type, audience, token_hint, created_at, expires_at)
                VALUES (x'01', 'p1', 'wa', 'shared', 'n', 'host', 'both', 'h', 1, 9),
                       (x'02', 'p2', 'wb', 'owner', 'n', 'host', 'both', 'h', 1, 9);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let scope: Option<String> =
            conn.query_row("SELECT scope_workspace_id FROM users WHERE id = 'shared'", [], |r| r.get(0)).unwrap();
        assert_eq!(scope.as_deref(), Some("wa"), "its first workspace");
        let memberships: i64 = conn.query_row("SELECT COUNT(*) FROM memberships", [], |r| r.get(0)).unwrap();
        assert_eq!(memberships, 3, "only the link into B ended");
        let pats: i64 =
            conn.query_row("SELECT COUNT(*) FROM pats WHERE user_id IS NOT NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(pats, 2, "no PAT lost its owner");
        // Password accounts stay unique; delegated ones per workspace.
        assert!(
            conn.execute(
                "INSERT INTO users (id, email, created_at, updated_at) VALUES ('x', 'o@example.com', 1, 1)",
                []
            )
            .is_err()
        );
        conn.execute(
            "INSERT INTO users (id, email, auto_provisioned, created_at, updated_at, scope_workspace_id)
             VALUES ('y', 's@example.com', 1, 1, 1, 'wb')",
            [],
        )
        .unwrap();
    }

    /// Re-runnable writes share one savepoint; when one fails, the group is
    /// undone and each runs again in its own: the failed one leaves
    /// nothing, every other commits exactly once, and the other writes of
    /// the batch (each in its savepoint) are untouched.
    #[test]
    fn a_failed_rerunnable_write_undoes_only_itself() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        for with_others in [true, false] {
            let dir = tempfile::TempDir::new().unwrap();
            let conn = Connection::from_sqlite(connect_sqlite(&dir.path().join("t.db")).unwrap());
            conn.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
            let answers: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
            let runs = Arc::new(AtomicUsize::new(0));
            let insert = |v: &'static str, fail: bool| {
                move |c: &Connection| -> Result<(), AppError> {
                    c.execute_batch(&format!("INSERT INTO t VALUES ('{v}')"))?;
                    if fail { Err(AppError::Validation(format!("{v} fails"))) } else { Ok(()) }
                }
            };
            let reply = |name: &'static str| {
                let answers = answers.clone();
                move |r: Result<(), AppError>| answers.lock().unwrap().push((name.to_string(), r.is_ok()))
            };
            let mut batch: Vec<Box<dyn WriteJob>> = Vec::new();
            let counted = {
                let runs = runs.clone();
                let f = insert("a", false);
                move |c: &Connection| {
                    runs.fetch_add(1, SeqCst);
                    f(c)
                }
            };
            batch.push(Box::new(Rerun { f: counted, result: None, reply: Some(reply("a")) }));
            batch.push(Box::new(Rerun { f: insert("b", true), result: None, reply: Some(reply("b")) }));
            if with_others {
                batch.push(Box::new(Job { f: Some(insert("c", false)), result: None, reply: Some(reply("c")) }));
                batch.push(Box::new(Job { f: Some(insert("d", true)), result: None, reply: Some(reply("d")) }));
            }
            let commit = run_batch(&conn, &mut batch);
            assert!(commit.is_ok());
            for job in batch.drain(..) {
                job.answer(commit.clone());
            }
            let rows: Vec<String> = {
                let mut stmt = conn.prepare_cached("SELECT v FROM t ORDER BY v").unwrap();
                stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
            };
            let expected: &[&str] = if with_others { &["a", "c"] } else { &["a"] };
            assert_eq!(rows, expected, "with others: {with_others}");
            assert_eq!(runs.load(SeqCst), 2, "a ran again after b failed");
            let mut answers = answers.lock().unwrap().clone();
            answers.sort();
            let mut want = vec![("a".to_string(), true), ("b".to_string(), false)];
            if with_others {
                want.extend([("c".to_string(), true), ("d".to_string(), false)]);
            }
            assert_eq!(answers, want);
        }
    }

    /// The writer never checkpoints (a commit must not wait for one); the
    /// checkpointer thread copies the WAL back into the database file.
    #[test]
    fn the_wal_is_checkpointed_off_the_writer() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.write_blocking(|tx| Ok(tx.execute_batch("CREATE TABLE filler (x BLOB)")?)).unwrap();
        let file = dir.path().join(DB_FILE);
        let before = std::fs::metadata(&file).unwrap().len();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for _ in 0..COMMITS_PER_CHECKPOINT + 1 {
            let insert = db.write(|tx| Ok(tx.execute_batch("INSERT INTO filler VALUES (zeroblob(2000))")?));
            runtime.block_on(insert).unwrap();
        }
        // Sooner than the idle checkpoint: the commits asked for this one.
        let deadline = std::time::Instant::now() + CHECKPOINT_IDLE / 2;
        while std::fs::metadata(&file).unwrap().len() < before + 400 * 2000 {
            assert!(std::time::Instant::now() < deadline, "the database file never received the WAL's pages");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

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
                pats::find_auth_with_session(tx, &PatId(id.clone()), &id)?;
                pats::find_cap(tx, &PatId(id.clone()))?;
                pats::touch_last_used(tx, &PatId(id.clone()), now)?;
                access_tokens::find_auth(tx, &id, &key)?;
                runtime_sessions::find(tx, &crate::model::ids::SessionId(id.clone()))?;
                certificates::find_by_kid(tx, &id)?;
                agents::find_any_workspace(tx, &AgentId(id.clone()))?;
                agents::find_with_workspace(tx, &AgentId(id.clone()))?;
                agents::find(tx, &WorkspaceId(id.clone()), &AgentId(id.clone()))?;
                workspaces::find(tx, &WorkspaceId(id.clone()))?;
                signature_replays::delete_older_than(tx, now.0 - 301)?;
                signature_replays::insert_new(tx, now.0, &key)?;
                assertion_jtis::delete_expired(tx, now)?;
                assertion_jtis::insert_new(tx, &AgentId(id.clone()), &id, now)?;
                checkouts::find_by_idempotency_key(tx, &PatId(id.clone()), &id)?;
                checkouts::spent_on_day(tx, &PatId(id.clone()), i64::from(i))?;
                audit::bump_recent(tx, &id, now, now, 1)?;
                oauth::find_grant_auth(tx, &crate::model::ids::GrantId(id.clone()))?;
                resources::version_of(tx, &crate::model::ids::ResourceId(id.clone()))?;
                resources::find_any(tx, &crate::model::ids::ResourceId(id.clone()))?;
                in_snapshot(tx, |_| Ok(()))?;
                budgets::find(tx, &PatId(id.clone()))?;
                budgets::standing(tx, &PatId(id.clone()), i64::from(i), i64::from(i), i64::from(i))?;
                budgets::spent_in(tx, &PatId(id.clone()), crate::model::Window::Week, i64::from(i))?;
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
                    if tx.prepare_cached(sql)?.reprepared()? != 0 {
                        bad.push(sql.clone());
                    }
                }
                Ok(bad)
            })
            .unwrap();
        assert!(recompiled.is_empty(), "recompiled on rebinding:\n{}", recompiled.join("\n---\n"));
    }
}
