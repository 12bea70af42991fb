//! Refusals (bad tokens, bad signatures, bad assertions) are recorded off
//! the request path: a bounded queue feeds one thread that commits them in
//! batches through the database's writer. A refused request therefore costs
//! no write transaction of its own. Events tied to a successful action are
//! not queued: they commit in that action's transaction.
//!
//! Nothing is dropped. When the queue is full the event is written at once
//! by the request that produced it (slowing exactly the flood that filled
//! it), and the overflow is counted for `/metrics` and logged. On shutdown
//! [`AuditQueue::close`] drains the queue before the process exits; readers
//! of the audit trail call [`AuditQueue::flush`] first so they see every
//! refusal that came before them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::clock::Timestamp;
use crate::db::Db;
use crate::domain::audit::{self, Actor, Event, RequestMeta};
use crate::domain::ids::WorkspaceId;
use crate::error::AppError;

/// How many events one transaction commits at most.
const BATCH: usize = 512;

/// How long the writer lets a batch gather after its first event: under a
/// flood of refusals one commit then serves hundreds of them; alone, an
/// event waits this long at most.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// A failure to record, owning its data.
#[derive(Debug, Clone)]
pub struct Failure {
    pub workspace_id: Option<WorkspaceId>,
    pub actor: Actor,
    pub kind: &'static str,
    pub target: Option<(&'static str, String)>,
    pub reason: String,
    pub meta: RequestMeta,
    pub at: Timestamp,
}

impl Failure {
    fn event(&self) -> Event<'_> {
        let mut event = Event::failure(self.workspace_id.as_ref(), &self.actor, self.kind, &self.reason, &self.meta);
        event.target = self.target.clone();
        event
    }

    fn record_times(&self, conn: &crate::db::Connection, count: i64) -> Result<(), AppError> {
        audit::record_repeated(conn, self.event(), self.at, count)
    }

    fn record(&self, conn: &crate::db::Connection) -> Result<(), AppError> {
        self.record_times(conn, 1)
    }
}

/// Folds identical failures into one with a count, keeping their order.
/// (The trail's own dedup key, within the same second.)
fn coalesce(batch: Vec<Failure>) -> Vec<(Failure, i64)> {
    let mut out: Vec<(Failure, i64, Option<String>)> = Vec::new();
    for f in batch {
        let key = audit::dedup_key(&f.event());
        match out.iter_mut().rev().take(16).find(|(g, _, k)| g.at == f.at && *k == key) {
            Some((_, n, _)) => *n += 1,
            None => out.push((f, 1, key)),
        }
    }
    out.into_iter().map(|(f, n, _)| (f, n)).collect()
}

enum Msg {
    Event(Box<Failure>),
    /// Answered once everything queued before it is committed.
    Flush(mpsc::Sender<()>),
    Stop,
}

pub struct AuditQueue {
    tx: SyncSender<Msg>,
    db: Db,
    overflowed: AtomicU64,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditQueue").field("overflowed", &self.overflowed()).finish()
    }
}

impl AuditQueue {
    /// Starts the writer thread; `capacity` events may wait at once.
    pub fn start(db: Db, capacity: usize) -> Result<Arc<AuditQueue>, String> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let writer_db = db.clone();
        let worker = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run(writer_db, rx))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Arc::new(AuditQueue { tx, db, overflowed: AtomicU64::new(0), worker: Mutex::new(Some(worker)) }))
    }

    /// Records `failure` soon. When the queue is full (or closed), writes it
    /// now instead and counts the overflow.
    pub async fn push(&self, failure: Failure) -> Result<(), AppError> {
        let failure = match self.tx.try_send(Msg::Event(Box::new(failure))) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(Msg::Event(f)) | TrySendError::Disconnected(Msg::Event(f))) => f,
            Err(_) => return Ok(()),
        };
        let n = self.overflowed.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(overflowed = n, "audit queue full: refusals are being written by their requests");
        }
        self.db.write(move |tx| failure.record(tx)).await
    }

    /// Events that found the queue full, since start-up.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Waits until every event queued so far is committed.
    pub async fn flush(&self) -> Result<(), AppError> {
        let (ack, done) = mpsc::channel();
        if self.tx.try_send(Msg::Flush(ack.clone())).is_err() {
            // Full: wait for room off the async executor.
            let tx = self.tx.clone();
            actix_web::web::block(move || tx.send(Msg::Flush(ack))).await.map_err(AppError::internal)?.ok();
        }
        let _ = actix_web::web::block(move || done.recv()).await;
        Ok(())
    }

    /// Commits what is queued and stops the writer (clean shutdown).
    pub fn close(&self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(worker) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = worker.join();
        }
    }
}

fn run(db: Db, rx: Receiver<Msg>) {
    let mut batch: Vec<Failure> = Vec::with_capacity(BATCH);
    let mut acks: Vec<mpsc::Sender<()>> = Vec::new();
    loop {
        let Ok(first) = rx.recv() else { return };
        let mut stop = false;
        let mut next = Some(first);
        let mut lingered = false;
        loop {
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Event(f) => batch.push(*f),
                    Msg::Flush(ack) => acks.push(ack),
                    Msg::Stop => stop = true,
                }
                if batch.len() < BATCH && !stop {
                    next = rx.try_recv().ok();
                }
            }
            // Someone waits for a flush, or we are stopping: no lingering.
            if lingered || stop || !acks.is_empty() || batch.len() >= BATCH {
                break;
            }
            lingered = true;
            std::thread::sleep(LINGER);
            next = rx.try_recv().ok();
            if next.is_none() {
                break;
            }
        }
        if !batch.is_empty() {
            let events = coalesce(std::mem::take(&mut batch));
            let result = db.write_blocking(|tx| events.iter().try_for_each(|(f, n)| f.record_times(tx, *n)));
            if let Err(e) = result {
                // One by one, so one bad event does not take the rest with it.
                tracing::error!(error = %e, events = events.len(), "audit batch failed; writing events singly");
                for (f, n) in &events {
                    if let Err(e) = db.write_blocking(|tx| f.record_times(tx, *n)) {
                        tracing::error!(error = %e, kind = f.kind, "audit event not recorded");
                    }
                }
            }
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        if stop {
            // Anything sent after Stop (a request finishing late) still lands.
            while let Ok(msg) = rx.try_recv() {
                if let Msg::Event(f) = msg
                    && let Err(e) = db.write_blocking(|tx| f.record(tx))
                {
                    tracing::error!(error = %e, kind = f.kind, "audit event not recorded");
                }
            }
            return;
        }
    }
}
