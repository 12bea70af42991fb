//! The writer thread: it owns the only writing connection, takes every
//! write waiting at that moment, runs each in its own savepoint inside one
//! transaction, commits once and only then answers each caller (group
//! commit); and the checkpointer, which copies the WAL back into the
//! database file on its own connection.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use super::{Connection, Error, Source, WriteStats};
use crate::error::AppError;

/// How many waiting writes one transaction takes at most.
pub(super) const WRITE_BATCH: usize = 64;

/// Under sustained load (a write arriving within `BUSY` of the last
/// commit) the writer waits up to `GATHER` for more writes before it
/// begins: the requests that were still being verified join the same
/// commit. An isolated write never waits.
pub(super) const BUSY: std::time::Duration = std::time::Duration::from_millis(2);
pub(super) const GATHER: std::time::Duration = std::time::Duration::from_micros(1000);

pub(super) enum Msg {
    Job(Box<dyn WriteJob>),
    /// Hand the connection to a blocking caller and wait for it back.
    Lend(mpsc::Sender<Connection>, mpsc::Receiver<Connection>),
}

/// One write of a batch: runs in its savepoint, answers after the commit.
pub(super) trait WriteJob: Send {
    /// Runs the write; `false` when it failed (its savepoint is undone).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Whether `run` may be called again after its effects were rolled
    /// back (the write is a plain `Fn` of the connection).
    fn rerunnable(&self) -> bool {
        false
    }
    /// Answers the caller with the write's result, or the commit's failure.
    fn answer(self: Box<Self>, commit: Result<(), CommitFailure>);
}

pub(super) struct Job<T, F, R> {
    pub(super) f: Option<F>,
    pub(super) result: Option<Result<T, AppError>>,
    pub(super) reply: Option<R>,
}

impl<T, F, R> WriteJob for Job<T, F, R>
where
    F: FnOnce(&Connection) -> Result<T, AppError> + Send,
    R: FnOnce(Result<T, AppError>) + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return false };
        run_caught(&mut self.result, || f(conn))
    }

    fn answer(mut self: Box<Self>, commit: Result<(), CommitFailure>) {
        if let Some(reply) = self.reply.take() {
            reply(settle(self.result.take(), commit));
        }
    }
}

/// Runs one write and keeps its result; `true` when it succeeded. A panic
/// in one write must not take the writer thread (and every later write)
/// with it: it becomes that write's error.
pub(super) fn run_caught<T>(slot: &mut Option<Result<T, AppError>>, f: impl FnOnce() -> Result<T, AppError>) -> bool {
    let result = std::panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(AppError::internal("a database write panicked")));
    let ok = result.is_ok();
    *slot = Some(result);
    ok
}

/// What a write answers: its own result, unless the commit failed under it.
pub(super) fn settle<T>(result: Option<Result<T, AppError>>, commit: Result<(), CommitFailure>) -> Result<T, AppError> {
    match (result, commit) {
        (Some(Ok(_)), Err(CommitFailure { message, unreachable: true })) => {
            Err(AppError::Unavailable(format!("commit failed: {message}")))
        }
        (Some(Ok(_)), Err(CommitFailure { message, .. })) => {
            Err(AppError::internal(format!("commit failed: {message}")))
        }
        (Some(r), _) => r,
        (None, _) => Err(AppError::internal("write not run")),
    }
}

/// A write that can run again: the hot paths' (token issuance, checkouts,
/// replay records), which run without a savepoint of their own.
pub(super) struct Rerun<T, F, R> {
    pub(super) f: F,
    pub(super) result: Option<Result<T, AppError>>,
    pub(super) reply: Option<R>,
}

impl<T, F, R> WriteJob for Rerun<T, F, R>
where
    F: Fn(&Connection) -> Result<T, AppError> + Send,
    R: FnOnce(Result<T, AppError>) + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let f = &self.f;
        run_caught(&mut self.result, || f(conn))
    }

    fn rerunnable(&self) -> bool {
        true
    }

    fn answer(mut self: Box<Self>, commit: Result<(), CommitFailure>) {
        if let Some(reply) = self.reply.take() {
            reply(settle(self.result.take(), commit));
        }
    }
}

/// The writer thread: batches of waiting writes, one transaction each.
pub(super) fn run_writer(
    mut conn: Connection,
    source: &Source,
    jobs: mpsc::Receiver<Msg>,
    stats: &WriteStats,
    checkpoints: Option<mpsc::SyncSender<()>>,
) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(WRITE_BATCH);
    let mut lend = None;
    let mut since_checkpoint = 0usize;
    let mut last_commit: Option<std::time::Instant> = None;
    while let Ok(first) = jobs.recv() {
        let busy = last_commit.is_some_and(|t| t.elapsed() < BUSY);
        let mut next = Some(first);
        let mut gathered = false;
        loop {
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Job(job) => batch.push(job),
                    Msg::Lend(give, back) => {
                        lend = Some((give, back));
                        break;
                    }
                }
                if batch.len() < WRITE_BATCH {
                    next = jobs.try_recv().ok();
                }
            }
            // One timed sleep, then whatever arrived meanwhile: waking for
            // every single arrival would cost more than it gathers.
            if !busy || gathered || lend.is_some() || batch.len() >= WRITE_BATCH {
                break;
            }
            gathered = true;
            std::thread::sleep(GATHER);
            next = jobs.try_recv().ok();
            if next.is_none() {
                break;
            }
        }
        if !batch.is_empty() {
            // A PostgreSQL connection that broke (the server restarted) is
            // replaced before the batch; if that fails the batch fails and
            // the next one tries again.
            if conn.is_broken() {
                match source.connect() {
                    Ok(fresh) => conn = fresh,
                    Err(e) => tracing::warn!(error = %e, "database writer cannot reconnect"),
                }
            }
            let commit = run_batch(&conn, &mut batch);
            stats.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            stats.writes.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
            for job in batch.drain(..) {
                job.answer(commit.clone());
            }
            last_commit = Some(std::time::Instant::now());
            since_checkpoint += 1;
            if since_checkpoint >= COMMITS_PER_CHECKPOINT
                && let Some(due) = &checkpoints
            {
                // Full means one is already due: nothing to add.
                let _ = due.try_send(());
                since_checkpoint = 0;
            }
        }
        if let Some((give, back)) = lend.take() {
            // A borrower that went away before taking it leaves it in the
            // failed send; one that died holding it leaves us to reopen.
            conn = match give.send(conn) {
                Err(mpsc::SendError(c)) => c,
                Ok(()) => match back.recv() {
                    Ok(c) => c,
                    Err(_) => match source.connect() {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::error!(error = %e, "database writer cannot reopen its connection");
                            return;
                        }
                    },
                },
            };
        }
    }
}

/// The WAL is copied back into the database file after this many commits
/// (a few thousand pages), and at least every `CHECKPOINT_IDLE`.
pub(super) const COMMITS_PER_CHECKPOINT: usize = 400;
pub(super) const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Copies committed pages from the WAL into the database file on its own
/// thread and connection. On the writer (SQLite's automatic checkpoint) the
/// copy and its fsync stalled every write queued behind it for tens of
/// milliseconds. `PASSIVE` never waits for readers or the writer; whatever
/// it could not copy is copied the next time. Ends with the writer.
pub(super) fn run_checkpointer(conn: Connection, wake: mpsc::Receiver<()>) {
    loop {
        match wake.recv_timeout(CHECKPOINT_IDLE) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Why a batch did not commit, for each of its writes.
#[derive(Clone)]
pub(super) struct CommitFailure {
    message: String,
    /// The database went away (answered as 503, not 500).
    unreachable: bool,
}

impl From<Error> for CommitFailure {
    fn from(e: Error) -> Self {
        CommitFailure { unreachable: e.is_unreachable(), message: e.to_string() }
    }
}

pub(super) fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<(), CommitFailure> {
    // The control statements are compiled once, like every other statement:
    // `execute_batch` would parse each of them again for every job.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ());
    let abort = |e: Error| {
        let _ = run("ROLLBACK");
        CommitFailure::from(e)
    };
    run("BEGIN IMMEDIATE").map_err(CommitFailure::from)?;
    if let [job] = batch {
        // Alone in its transaction, a write needs no savepoint of its own:
        // one that failed rolls the whole transaction back.
        return if job.run(conn) { run("COMMIT").map_err(abort) } else { run("ROLLBACK").map_err(CommitFailure::from) };
    }
    // Writes that can run again go last, together and without savepoints
    // of their own (a savepoint copies every page a write first touches):
    // if one fails, the group is undone and run again, each write in its
    // own savepoint. Writes in one batch are concurrent requests, so their
    // order within it is free.
    batch.sort_by_key(|job| job.rerunnable());
    let first_rerun = batch.iter().position(|job| job.rerunnable()).unwrap_or(batch.len());
    let (once, again) = batch.split_at_mut(first_rerun);
    for job in once.iter_mut() {
        run("SAVEPOINT job").map_err(abort)?;
        if !job.run(conn) {
            run("ROLLBACK TO job").map_err(abort)?;
        }
        run("RELEASE job").map_err(abort)?;
    }
    if !again.is_empty() {
        // With nothing before them, undoing the group is undoing the
        // transaction: no savepoint at all.
        let alone = once.is_empty();
        if !alone {
            run("SAVEPOINT hot").map_err(abort)?;
        }
        if !again.iter_mut().all(|job| job.run(conn)) {
            if alone {
                run("ROLLBACK").map_err(CommitFailure::from)?;
                run("BEGIN IMMEDIATE").map_err(CommitFailure::from)?;
            } else {
                run("ROLLBACK TO hot").map_err(abort)?;
            }
            for job in again.iter_mut() {
                run("SAVEPOINT job").map_err(abort)?;
                if !job.run(conn) {
                    run("ROLLBACK TO job").map_err(abort)?;
                }
                run("RELEASE job").map_err(abort)?;
            }
        }
        if !alone {
            run("RELEASE hot").map_err(abort)?;
        }
    }
    run("COMMIT").map_err(abort)
}
