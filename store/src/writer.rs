//! Writing recordings off the recorder's thread, with one flush for many sessions.
//!
//! A [`StoreWriter`] owns a thread that does every append (JSON, zstd, sled insert) for the
//! sessions recording in this process. Recorders hand it chunks through a bounded channel
//! ([`StoreSink`], a [`CaptureSink`]), so a capture loop never waits for compression or
//! the disk unless the writer falls a whole channel behind, which is back-pressure, not a
//! stall. The thread drains what is queued and writes it; it flushes (an fsync of sled's
//! log) once for all of it, a group commit for every open session, at most every
//! [`FLUSH_INTERVAL`] while sessions only append, and at once when one ends or a caller
//! waits for it ([`StoreSink::finish`], [`StoreWriter::sync`]). So a chunk, and a session
//! just begun, is durable within [`FLUSH_INTERVAL`] of being handed over, and a finished
//! session when `finish` returns; a process killed in between loses at most what came in
//! since the last flush, and its sessions reopen as INTERRUPTED. (A flush after every
//! batch cost a capture 16–18 ms of fsyncs; see BENCHMARKS.md, issue 7.)

use crate::error::StoreError;
use crate::har::{Entry, Page};
use crate::model::{Action, BrowserInfo, ConsoleEntry, Screenshot};
use crate::session::{NewSession, SessionEnd, SessionMetadata, SessionStatus};
use crate::store::{SessionWriter, Store};
use spool_model::sink::{CaptureSink, Progress};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Chunks queued to the writer before a recorder has to wait.
pub const QUEUE_DEPTH: usize = 1024;

/// Chunks written between two looks at the flush rules at most, so that one busy session
/// cannot hold back the durability of the others for long.
const MAX_BATCH: usize = 256;

/// How long appended chunks may wait for their flush while nothing waits on them.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The handle on the writer thread. Cheap to clone; the thread ends when the last handle and
/// the last [`StoreSink`] are gone, and sessions still open then are left INTERRUPTED.
#[derive(Clone)]
pub struct StoreWriter {
    store: Store,
    tx: SyncSender<Op>,
}

enum Op {
    Open(Box<SessionWriter>),
    Entries(Uuid, Vec<Entry>),
    Console(Uuid, Vec<ConsoleEntry>),
    Actions(Uuid, Vec<Action>),
    Screenshot(Uuid, Box<Screenshot>),
    RawEvents(Uuid, Vec<u8>),
    Finish {
        id: Uuid,
        pages: Vec<Page>,
        end: SessionEnd,
        reply: SyncSender<Result<SessionMetadata, StoreError>>,
    },
    /// The recorder went away without finishing: the session stays INTERRUPTED.
    Abandon(Uuid),
    Sync(SyncSender<()>),
    /// Stop after this batch; answered once the thread has let go of the store.
    Shutdown(SyncSender<()>),
}

impl StoreWriter {
    /// Starts the writer thread for `store`.
    pub fn spawn(store: Store) -> Result<StoreWriter, StoreError> {
        let (tx, rx) = sync_channel(QUEUE_DEPTH);
        let thread_store = store.clone();
        std::thread::Builder::new()
            .name("spool-store-writer".into())
            .spawn(move || write_loop(thread_store, rx))?;
        Ok(StoreWriter { store, tx })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Starts a session (status RECORDING, durable with the writer's next flush, within
    /// [`FLUSH_INTERVAL`]) and returns the sink that records into it.
    pub fn begin(&self, new: NewSession) -> Result<StoreSink, StoreError> {
        let writer = self.store.begin_session_grouped(new)?;
        let id = writer.id();
        self.send(Op::Open(Box::new(writer)))?;
        Ok(StoreSink {
            id,
            tx: Some(self.tx.clone()),
            lost: None,
        })
    }

    /// Waits until everything handed over so far is written and flushed.
    pub fn sync(&self) -> Result<(), StoreError> {
        let (reply, done) = sync_channel(1);
        self.send(Op::Sync(reply))?;
        done.recv().map_err(|_| gone())
    }

    /// Writes what is queued, stops the thread and waits until it has let go of the store,
    /// so the store can be closed (and reopened) right after. Sessions still recording are
    /// left INTERRUPTED; their sinks' later chunks are lost.
    pub fn shutdown(self) {
        let (reply, done) = sync_channel(1);
        if self.tx.send(Op::Shutdown(reply)).is_ok() {
            let _ = done.recv();
        }
    }

    fn send(&self, op: Op) -> Result<(), StoreError> {
        self.tx.send(op).map_err(|_| gone())
    }
}

fn gone() -> StoreError {
    StoreError::Db("the store writer thread is gone".into())
}

fn write_loop(store: Store, rx: Receiver<Op>) {
    let mut open: HashMap<Uuid, Session> = HashMap::new();
    let mut shutdown = None;
    // Written but not yet flushed since this instant.
    let mut unflushed_since: Option<Instant> = None;
    while shutdown.is_none() {
        let first = match unflushed_since {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(since) => rx.recv_timeout(FLUSH_INTERVAL.saturating_sub(since.elapsed())),
        };
        let mut batch = match first {
            Ok(op) => vec![op],
            Err(RecvTimeoutError::Timeout) => Vec::new(),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut replies = Vec::new();
        let mut syncs = Vec::new();
        let batch_was_empty = batch.is_empty();
        for op in batch {
            match op {
                Op::Open(writer) => {
                    open.insert(
                        writer.id(),
                        Session {
                            writer: Some(*writer),
                            error: None,
                        },
                    );
                }
                Op::Entries(id, entries) => with(&mut open, id, |w| w.append_entries(&entries)),
                Op::Console(id, entries) => with(&mut open, id, |w| w.append_console(&entries)),
                Op::Actions(id, actions) => with(&mut open, id, |w| w.append_actions(&actions)),
                Op::Screenshot(id, shot) => with(&mut open, id, |w| w.append_screenshot(&shot)),
                Op::RawEvents(id, jsonl) => with(&mut open, id, |w| w.append_raw_events(&jsonl)),
                Op::Finish {
                    id,
                    pages,
                    end,
                    reply,
                } => {
                    let result = match open.remove(&id) {
                        Some(Session {
                            writer: Some(writer),
                            error: None,
                        }) => finish(writer, &pages, end),
                        Some(Session { error: Some(e), .. }) => Err(e),
                        _ => Err(StoreError::SessionNotFound(id)),
                    };
                    replies.push((reply, result));
                }
                Op::Abandon(id) => {
                    // Dropping the writer marks the session INTERRUPTED.
                    open.remove(&id);
                }
                Op::Sync(reply) => syncs.push(reply),
                Op::Shutdown(reply) => shutdown = Some(reply),
            }
        }
        if !batch_was_empty {
            unflushed_since.get_or_insert_with(Instant::now);
        }
        let waited_on = !replies.is_empty() || !syncs.is_empty() || shutdown.is_some();
        let due = unflushed_since.is_some_and(|since| since.elapsed() >= FLUSH_INTERVAL);
        if waited_on || due {
            // One flush for everything written since the last: every session's chunks become
            // durable together.
            if let Err(e) = flush(&store, &mut open) {
                // A session is finished only once it is durable.
                for (_, result) in &mut replies {
                    if result.is_ok() {
                        *result = Err(StoreError::Db(e.clone()));
                    }
                }
            }
            unflushed_since = None;
        }
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
        for reply in syncs {
            let _ = reply.send(());
        }
    }
    if unflushed_since.is_some() {
        let _ = flush(&store, &mut open);
    }
    // Unfinished sessions become INTERRUPTED as their writers drop; then the store goes.
    drop(open);
    drop(store);
    if let Some(reply) = shutdown {
        let _ = reply.send(());
    }
}

/// Flushes the store; on failure every open session keeps the error, which its `finish`
/// returns, and so does the caller.
fn flush(store: &Store, open: &mut HashMap<Uuid, Session>) -> Result<(), String> {
    store.flush().map_err(|e| {
        let e = e.to_string();
        tracing_error(&format!("flushing the store failed: {e}"));
        for session in open.values_mut() {
            session.error.get_or_insert(StoreError::Db(e.clone()));
        }
        e
    })
}

struct Session {
    writer: Option<SessionWriter>,
    /// The first error; later chunks of the session are not attempted.
    error: Option<StoreError>,
}

fn with(
    open: &mut HashMap<Uuid, Session>,
    id: Uuid,
    f: impl FnOnce(&mut SessionWriter) -> Result<(), StoreError>,
) {
    let Some(session) = open.get_mut(&id) else {
        return;
    };
    if session.error.is_some() {
        return;
    }
    if let Some(writer) = session.writer.as_mut()
        && let Err(e) = f(writer)
    {
        tracing_error(&format!("writing session {id} failed: {e}"));
        session.error = Some(e);
    }
}

fn finish(
    mut writer: SessionWriter,
    pages: &[Page],
    end: SessionEnd,
) -> Result<SessionMetadata, StoreError> {
    if !pages.is_empty() {
        writer.set_pages(pages)?;
    }
    writer.finish(end)
}

/// The store has no logging dependency; errors also reach the recorder through `finish`.
fn tracing_error(message: &str) {
    eprintln!("spool store: {message}");
}

/// Records one session through the [`StoreWriter`]: a [`CaptureSink`] whose calls return as
/// soon as the chunk is queued. End it with [`StoreSink::finish`] or [`StoreSink::fail`];
/// dropped without either, the session is left INTERRUPTED.
pub struct StoreSink {
    id: Uuid,
    tx: Option<SyncSender<Op>>,
    /// Set when the writer thread is gone; reported by `finish`.
    lost: Option<StoreError>,
}

impl StoreSink {
    pub fn id(&self) -> Uuid {
        self.id
    }

    fn send(&mut self, op: Op) {
        if self.lost.is_some() {
            return;
        }
        if let Some(tx) = &self.tx
            && tx.send(op).is_err()
        {
            self.lost = Some(gone());
        }
    }

    /// Ends the session with `status` (COMPLETED or STOPPED), its pages and the browser as
    /// known at the end. A write error during recording is returned here.
    pub fn finish(
        self,
        status: SessionStatus,
        pages: Vec<Page>,
        browser: Option<BrowserInfo>,
    ) -> Result<SessionMetadata, StoreError> {
        let mut end = SessionEnd::new(status);
        end.browser = browser;
        self.end(pages, end)
    }

    /// Ends the session as ERROR, keeping what was written, with the pages known so far.
    pub fn fail(self, error: &str, pages: Vec<Page>) -> Result<SessionMetadata, StoreError> {
        let mut end = SessionEnd::new(SessionStatus::Error);
        end.error = Some(error.to_string());
        self.end(pages, end)
    }

    fn end(mut self, pages: Vec<Page>, end: SessionEnd) -> Result<SessionMetadata, StoreError> {
        if let Some(e) = self.lost.take() {
            return Err(e);
        }
        let tx = self.tx.take().ok_or_else(gone)?;
        let (reply, answer) = sync_channel(1);
        tx.send(Op::Finish {
            id: self.id,
            pages,
            end,
            reply,
        })
        .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

impl Drop for StoreSink {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Op::Abandon(self.id));
        }
    }
}

impl CaptureSink for StoreSink {
    fn entries(&mut self, entries: &[Entry]) {
        if !entries.is_empty() {
            self.send(Op::Entries(self.id, entries.to_vec()));
        }
    }
    fn console(&mut self, entries: &[ConsoleEntry]) {
        if !entries.is_empty() {
            self.send(Op::Console(self.id, entries.to_vec()));
        }
    }
    fn screenshot(&mut self, shot: &Screenshot) {
        self.send(Op::Screenshot(self.id, Box::new(shot.clone())));
    }
    fn actions(&mut self, actions: &[Action]) {
        if !actions.is_empty() {
            self.send(Op::Actions(self.id, actions.to_vec()));
        }
    }
    fn raw_events(&mut self, jsonl: &[u8]) {
        if !jsonl.is_empty() {
            self.send(Op::RawEvents(self.id, jsonl.to_vec()));
        }
    }
    fn progress(&mut self, _progress: &Progress) {}
}
