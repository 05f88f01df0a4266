//! The store: sessions in sled, written in chunks while recording.

use crate::error::StoreError;
use crate::frame::{self, Codec};
use crate::har::{self, Har};
use crate::keys::{self, Stream};
use crate::lock::PidLock;
use crate::model::{Action, CaptureLevel, ConsoleEntry, Screenshot};
use crate::redact;
use crate::session::*;
use base64::Engine as _;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use sled::Transactional;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use uuid::Uuid;

/// Entries per chunk when a whole HAR is written at once (import).
const IMPORT_CHUNK_ENTRIES: usize = 500;
/// Raw bytes per chunk when a whole HAR is written at once (import).
const IMPORT_CHUNK_BYTES: usize = 1024 * 1024;

/// A handle on an open store. Cheap to clone; every clone shares one database, and the
/// store stays open (and locked against other processes) until the last clone and the last
/// [`SessionWriter`] are dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    index: sled::Tree,
    chunks: sled::Tree,
    pending: sled::Tree,
    config: StoreConfig,
    /// Metadata of the sessions this process is recording right now, with live counts.
    live: Mutex<HashMap<Uuid, SessionMetadata>>,
    /// Entries in `index`: counted once at open, then kept by the transactions that add or
    /// remove one, so the total of an unfiltered listing (and `/health`) costs no scan.
    sessions: std::sync::atomic::AtomicUsize,
    _lock: PidLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Which streams to read.
#[derive(Clone, Copy)]
struct Mask(u16);

impl Mask {
    const ALL: Mask = Mask(u16::MAX);
    fn of(streams: &[Stream]) -> Mask {
        Mask(streams.iter().fold(0, |m, s| m | (1 << s.index())))
    }
    fn has(self, s: u8) -> bool {
        s < 16 && self.0 & (1 << s) != 0
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` with the default configuration.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, StoreConfig::default())
    }

    /// Opens (creating if needed) the store in `dir`. Fails at once with
    /// [`StoreError::InUse`] when another process has it open. Finishes any delete or import
    /// a crash cut short, and marks sessions that were still recording as `INTERRUPTED`.
    pub fn open_with(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let lock = PidLock::acquire(dir)?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(config.cache_capacity_bytes)
            .open()?;
        match db.get(keys::FORMAT_KEY)? {
            Some(v) => {
                let found =
                    u32::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                        StoreError::Db(format!("bad format marker {:?}", v.as_ref()))
                    })?);
                if found > keys::FORMAT_VERSION {
                    return Err(StoreError::FormatTooNew {
                        found,
                        supported: keys::FORMAT_VERSION,
                    });
                }
                // found < FORMAT_VERSION: migrations go here.
            }
            None => {
                db.insert(keys::FORMAT_KEY, &keys::FORMAT_VERSION.to_be_bytes())?;
            }
        }
        let store = Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                meta: db.open_tree(keys::META_TREE)?,
                index: db.open_tree(keys::INDEX_TREE)?,
                chunks: db.open_tree(keys::CHUNKS_TREE)?,
                pending: db.open_tree(keys::PENDING_TREE)?,
                db,
                config,
                live: Mutex::new(HashMap::new()),
                sessions: std::sync::atomic::AtomicUsize::new(0),
                _lock: lock,
            }),
        };
        store.recover()?;
        Ok(store)
    }

    /// `$SPOOL_DATA`, else the platform data dir (`~/.local/share/spool` on Linux).
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("SPOOL_DATA").filter(|d| !d.is_empty()) {
            return PathBuf::from(d);
        }
        if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("spool");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(h).join(".local/share/spool");
        }
        PathBuf::from("spool-data")
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Starts recording a session: its metadata is durable (status `RECORDING`) when this
    /// returns.
    pub fn begin_session(&self, new: NewSession) -> Result<SessionWriter, StoreError> {
        let writer = self.open_session(new, false)?;
        self.inner.db.flush()?;
        Ok(writer)
    }

    /// [`Store::begin_session`] for the [`crate::writer::StoreWriter`] thread's group commit:
    /// the session and its appends become durable with its next [`Store::flush`], not each
    /// on its own, so a recorder starting does not wait for the disk.
    pub(crate) fn begin_session_grouped(
        &self,
        new: NewSession,
    ) -> Result<SessionWriter, StoreError> {
        self.open_session(new, true)
    }

    fn open_session(
        &self,
        new: NewSession,
        group_commit: bool,
    ) -> Result<SessionWriter, StoreError> {
        let id = new.id.unwrap_or_else(Uuid::new_v4);
        let start = now_ms();
        let meta = SessionMetadata::new(id, start, &new);
        let inner = &self.inner;
        {
            let live = self.live();
            if live.contains_key(&id) || inner.meta.contains_key(id.as_bytes())? {
                return Err(StoreError::invalid(
                    "sessionId",
                    format!("session {id} already exists"),
                ));
            }
        }
        self.commit_meta(&meta, None)?;
        self.live().insert(id, meta.clone());
        Ok(SessionWriter {
            store: self.clone(),
            meta,
            seq: [0; 8],
            finished: false,
            group_commit,
        })
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// A session's metadata and every stream.
    pub fn get(&self, id: Uuid) -> Result<Session, StoreError> {
        self.load(id, Mask::ALL)
    }

    /// A session's metadata (live counts while it is recording in this process).
    pub fn metadata(&self, id: Uuid) -> Result<SessionMetadata, StoreError> {
        if let Some(m) = self.live().get(&id) {
            let mut m = m.clone();
            m.refresh_duration();
            return Ok(m);
        }
        self.stored_meta(id)
    }

    /// Sessions newest first, filtered and paged.
    pub fn list(&self, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        query.validate()?;
        let words: Vec<String> = query
            .words
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let lo = query
            .from
            .map(|t| keys::time_prefix(t.as_millisecond()).to_vec())
            .unwrap_or_default();
        let iter = match query.to {
            Some(t) => {
                // Every key of that millisecond, whatever the id.
                let mut hi = keys::time_prefix(t.as_millisecond()).to_vec();
                hi.extend_from_slice(&[0xff; 16]);
                self.inner.index.range(lo..=hi)
            }
            None => self.inner.index.range(lo..),
        };
        // Without a filter the total is known; only the page itself needs reading.
        let unfiltered = words.is_empty()
            && query.status.is_none()
            && query.from.is_none()
            && query.to.is_none();
        let mut total = 0usize;
        let mut ids = Vec::with_capacity(query.limit);
        for kv in iter.rev() {
            if unfiltered && ids.len() == query.limit {
                break;
            }
            let (k, v) = kv?;
            let Some((_, id)) = keys::parse_index_key(&k) else {
                continue;
            };
            let Some((status, task)) = keys::parse_index_value(&v) else {
                continue;
            };
            if query.status.is_some_and(|s| s != status) {
                continue;
            }
            if !words.iter().all(|w| task.contains(w.as_str())) {
                continue;
            }
            total += 1;
            if total > query.offset && ids.len() < query.limit {
                ids.push(id);
            }
        }
        if unfiltered {
            total = self.session_count();
        }
        let mut sessions = Vec::with_capacity(ids.len());
        for id in ids {
            match self.metadata(id) {
                Ok(m) => sessions.push(m),
                // A damaged or just-deleted session must not hide the others.
                Err(StoreError::Damaged { .. } | StoreError::SessionNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(SessionPage {
            sessions,
            total,
            limit: query.limit,
            offset: query.offset,
        })
    }

    /// Deletes a session and every chunk of it. A session still recording in this process
    /// must be finished first.
    pub fn delete(&self, id: Uuid) -> Result<(), StoreError> {
        let inner = &self.inner;
        if self.live().contains_key(&id) {
            return Err(StoreError::invalid(
                "sessionId",
                format!("session {id} is still recording; stop it before deleting it"),
            ));
        }
        if !inner.meta.contains_key(id.as_bytes())? {
            return Err(StoreError::SessionNotFound(id));
        }
        let index_key = match self.stored_meta(id) {
            Ok(m) => Some(keys::index_key(m.start_time.as_millisecond(), id).to_vec()),
            // Damaged metadata: find its index key by id.
            Err(_) => self.find_index_key(id)?,
        };
        let removed =
            (&inner.meta, &inner.index, &inner.pending).transaction(|(meta, index, pending)| {
                meta.remove(id.as_bytes())?;
                let removed = match &index_key {
                    Some(k) => index.remove(k.as_slice())?.is_some(),
                    None => false,
                };
                pending.insert(id.as_bytes(), &[keys::PENDING_DELETE])?;
                Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(removed)
            })?;
        if removed {
            inner
                .sessions
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.remove_chunks(id)?;
        inner.pending.remove(id.as_bytes())?;
        inner.db.flush()?;
        Ok(())
    }

    /// How many sessions the store holds, without reading them.
    pub fn session_count(&self) -> usize {
        self.inner
            .sessions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Totals over the whole store.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats {
            path: self.inner.dir.display().to_string(),
            sessions: 0,
            by_status: BTreeMap::new(),
            network_entries: 0,
            screenshots: 0,
            raw_bytes: 0,
            stored_bytes: 0,
            compression_ratio: 1.0,
            disk_bytes: self.inner.db.size_on_disk()?,
        };
        let live = self.live().clone();
        for kv in self.inner.meta.iter() {
            let (k, v) = kv?;
            stats.sessions += 1;
            let id = Uuid::from_slice(&k).unwrap_or_default();
            let m = match live.get(&id) {
                Some(m) => m.clone(),
                None => match decode_meta(id, &v) {
                    Ok(m) => m,
                    Err(_) => continue,
                },
            };
            *stats.by_status.entry(m.status).or_default() += 1;
            stats.network_entries += m.network_event_count;
            stats.screenshots += m.screenshot_count;
            stats.raw_bytes += m.raw_bytes;
            stats.stored_bytes += m.stored_bytes;
        }
        if stats.stored_bytes > 0 {
            stats.compression_ratio = stats.raw_bytes as f64 / stats.stored_bytes as f64;
        }
        Ok(stats)
    }

    /// A session's network data as HAR 1.2, redacted unless `include_secrets`. Without
    /// `include_network` the log has no pages and no entries.
    pub fn export_har(&self, id: Uuid, opts: &ExportOptions) -> Result<Har, StoreError> {
        let mask = if opts.include_network {
            Mask::of(&[Stream::Pages, Stream::Entries, Stream::HarHeader])
        } else {
            Mask::of(&[Stream::HarHeader])
        };
        let session = self.load(id, mask)?;
        let mut har = session.to_har();
        if !opts.include_secrets {
            redact::redact_har(&mut har);
        }
        Ok(har)
    }

    /// A session as one JSON document: `metadata`, `har` (with `includeNetwork`), `console`,
    /// `actions`, `screenshots` (with `includeScreenshots`, images as base64) and `rawEvents`
    /// (capture level 4, with `includeNetwork`).
    pub fn export_json(&self, id: Uuid, opts: &ExportOptions) -> Result<Value, StoreError> {
        let mut streams = vec![Stream::Console, Stream::Actions, Stream::HarHeader];
        if opts.include_network {
            streams.extend([Stream::Pages, Stream::Entries, Stream::RawEvents]);
        }
        if opts.include_screenshots {
            streams.push(Stream::Screenshots);
        }
        let session = self.load(id, Mask::of(&streams))?;
        let mut out = serde_json::Map::new();
        let mut metadata = session.metadata.clone();
        if !opts.include_secrets {
            metadata.start_url = metadata.start_url.as_deref().map(redact::redact_url);
        }
        out.insert("metadata".into(), to_value(&metadata)?);
        if opts.include_network {
            let mut har = session.to_har();
            if !opts.include_secrets {
                redact::redact_har(&mut har);
            }
            out.insert("har".into(), to_value(&har)?);
        }
        out.insert("console".into(), to_value(&session.console)?);
        out.insert("actions".into(), to_value(&session.actions)?);
        if opts.include_screenshots {
            let b64 = base64::engine::general_purpose::STANDARD;
            let shots = session
                .screenshots
                .iter()
                .map(|s| {
                    let mut v = to_value(s)?;
                    v["mimeType"] = json!(s.format.mime_type());
                    v["data"] = json!(b64.encode(&s.data));
                    Ok(v)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.insert("screenshots".into(), Value::Array(shots));
        }
        if opts.include_network && !session.raw_events.is_empty() {
            let mut events = Vec::new();
            for line in session.raw_events.split(|b| *b == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let mut v: Value = serde_json::from_slice(line)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(line).into()));
                if !opts.include_secrets {
                    redact::redact_json(&mut v);
                }
                events.push(v);
            }
            out.insert("rawEvents".into(), Value::Array(events));
        }
        Ok(Value::Object(out))
    }

    /// Imports a HAR document as a new `COMPLETED` session and returns its id. Nothing is
    /// written when the document is over the size limit or does not parse.
    pub fn import_har(&self, bytes: &[u8], task: Option<&str>) -> Result<Uuid, StoreError> {
        let limit = self.inner.config.max_import_bytes;
        if bytes.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                what: "HAR file".into(),
                size: bytes.len() as u64,
                limit,
            });
        }
        let har = Har::from_slice(bytes)?;
        self.import_parsed(har, task)
    }

    /// Imports an already parsed HAR document as a new `COMPLETED` session.
    pub fn import_parsed(&self, mut har: Har, task: Option<&str>) -> Result<Uuid, StoreError> {
        let id = Uuid::new_v4();
        let pages = std::mem::take(&mut har.log.pages);
        let entries = std::mem::take(&mut har.log.entries);
        let meta = imported_meta(id, &har, &pages, &entries, task);
        let inner = &self.inner;
        inner
            .pending
            .insert(id.as_bytes(), &[keys::PENDING_IMPORT])?;
        let result = (|| {
            let mut meta = meta;
            let mut batch = sled::Batch::default();
            let mut put = |stream: Stream, seq: u32, payload: &[u8], items: usize| {
                let f = frame::encode(
                    payload,
                    codec_for(stream),
                    items as u32,
                    meta.end_time.unwrap_or(meta.start_time).as_millisecond(),
                    inner.config.compression_level,
                )?;
                meta.raw_bytes += payload.len() as u64;
                meta.stored_bytes += f.len() as u64;
                batch.insert(&keys::chunk_key(id, stream, seq)[..], f);
                Ok::<_, StoreError>(())
            };
            put(Stream::HarHeader, 0, &serde_json::to_vec(&har)?, 0)?;
            if !pages.is_empty() {
                put(Stream::Pages, 0, &serde_json::to_vec(&pages)?, pages.len())?;
            }
            let mut seq = 0;
            let mut start = 0;
            let mut buf = Vec::new();
            while start < entries.len() {
                // Fill a chunk up to IMPORT_CHUNK_ENTRIES entries or about IMPORT_CHUNK_BYTES.
                buf.clear();
                buf.push(b'[');
                let mut end = start;
                while end < entries.len()
                    && end - start < IMPORT_CHUNK_ENTRIES
                    && (end == start || buf.len() < IMPORT_CHUNK_BYTES)
                {
                    if end > start {
                        buf.push(b',');
                    }
                    serde_json::to_writer(&mut buf, &entries[end])?;
                    end += 1;
                }
                buf.push(b']');
                put(Stream::Entries, seq, &buf, end - start)?;
                seq += 1;
                start = end;
            }
            inner.chunks.apply_batch(batch)?;
            self.commit_meta(&meta, Some(id))?;
            inner.db.flush()?;
            Ok(())
        })();
        if let Err(e) = result {
            // Best effort: the pending mark makes the next open finish this clean-up.
            if self.remove_chunks(id).is_ok() {
                let _ = inner.pending.remove(id.as_bytes());
            }
            return Err(e);
        }
        Ok(id)
    }

    /// Writes metadata and its index entry atomically; clears `pending[id]` when given.
    fn commit_meta(
        &self,
        meta: &SessionMetadata,
        clear_pending: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        let id = meta.session_id;
        let value = encode_meta(meta)?;
        let ikey = keys::index_key(meta.start_time.as_millisecond(), id);
        let ival = keys::index_value(meta.status, &meta.task_description);
        let added = (&inner.meta, &inner.index, &inner.pending).transaction(|(m, i, p)| {
            m.insert(id.as_bytes(), value.as_slice())?;
            let added = i.insert(&ikey[..], ival.as_slice())?.is_none();
            if let Some(pid) = clear_pending {
                p.remove(pid.as_bytes())?;
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(added)
        })?;
        if added {
            inner
                .sessions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    fn live(&self) -> MutexGuard<'_, HashMap<Uuid, SessionMetadata>> {
        self.inner.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stored_meta(&self, id: Uuid) -> Result<SessionMetadata, StoreError> {
        let v = self
            .inner
            .meta
            .get(id.as_bytes())?
            .ok_or(StoreError::SessionNotFound(id))?;
        let mut m = decode_meta(id, &v)?;
        if m.status == SessionStatus::Recording {
            m.refresh_duration();
        }
        Ok(m)
    }

    fn find_index_key(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        for kv in self.inner.index.iter() {
            let (k, _) = kv?;
            if keys::parse_index_key(&k).is_some_and(|(_, i)| i == id) {
                return Ok(Some(k.to_vec()));
            }
        }
        Ok(None)
    }

    fn remove_chunks(&self, id: Uuid) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for k in self.inner.chunks.scan_prefix(id.as_bytes()).keys() {
            batch.remove(k?);
        }
        self.inner.chunks.apply_batch(batch)?;
        Ok(())
    }

    /// Reads a session's metadata and the streams in `mask`.
    fn load(&self, id: Uuid, mask: Mask) -> Result<Session, StoreError> {
        let metadata = self.metadata(id)?;
        let mut s = Session {
            metadata,
            pages: Vec::new(),
            entries: Vec::new(),
            console: Vec::new(),
            actions: Vec::new(),
            screenshots: Vec::new(),
            raw_events: Vec::new(),
            har_header: None,
        };
        let mut entry_frames = Vec::new();
        for kv in self.inner.chunks.scan_prefix(id.as_bytes()) {
            let (k, v) = kv?;
            let Some((stream, seq)) = keys::parse_chunk_key(&k) else {
                return Err(StoreError::damaged(id, "a chunk has a malformed key"));
            };
            if !mask.has(stream) {
                continue;
            }
            let Some(stream) = Stream::from_byte(stream) else {
                // A stream a newer Spool wrote; ignore it.
                continue;
            };
            if stream == Stream::Entries {
                entry_frames.push((seq, v));
                continue;
            }
            let payload = decode_chunk(id, stream, seq, &v)?;
            let bad = |e: serde_json::Error| {
                StoreError::damaged(id, format!("{} chunk {seq}: {e}", stream.name()))
            };
            match stream {
                Stream::Pages => {
                    let pages: Vec<har::Page> = serde_json::from_slice(&payload).map_err(bad)?;
                    for p in pages {
                        match s.pages.iter_mut().find(|q| q.id == p.id) {
                            Some(q) => *q = p,
                            None => s.pages.push(p),
                        }
                    }
                }
                Stream::Console => s
                    .console
                    .extend(serde_json::from_slice::<Vec<ConsoleEntry>>(&payload).map_err(bad)?),
                Stream::Actions => s
                    .actions
                    .extend(serde_json::from_slice::<Vec<Action>>(&payload).map_err(bad)?),
                Stream::Screenshots => {
                    s.screenshots.push(decode_screenshot(&payload).map_err(|e| {
                        StoreError::damaged(id, format!("screenshot chunk {seq}: {e}"))
                    })?)
                }
                Stream::RawEvents => s.raw_events.extend_from_slice(&payload),
                Stream::HarHeader => {
                    s.har_header = Some(serde_json::from_slice(&payload).map_err(bad)?)
                }
                Stream::Entries => unreachable!("handled above"),
            }
        }
        s.entries = decode_entries(id, &entry_frames)?;
        Ok(s)
    }

    /// On open: finish interrupted deletes and imports, then mark sessions left `RECORDING`
    /// by a dead process as `INTERRUPTED`, with counts recomputed from their chunks.
    fn recover(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let pending: Vec<(Uuid, u8)> = inner
            .pending
            .iter()
            .filter_map(|kv| {
                let (k, v) = kv.ok()?;
                Some((Uuid::from_slice(&k).ok()?, *v.first()?))
            })
            .collect();
        for (id, why) in pending {
            if why == keys::PENDING_IMPORT && inner.meta.contains_key(id.as_bytes())? {
                // The import committed; only the mark was left.
            } else {
                self.remove_chunks(id)?;
                if let Some(k) = self.find_index_key(id)? {
                    inner.index.remove(k)?;
                }
                inner.meta.remove(id.as_bytes())?;
            }
            inner.pending.remove(id.as_bytes())?;
        }
        let mut recording = Vec::new();
        let mut sessions = 0;
        for kv in inner.index.iter() {
            let (k, v) = kv?;
            let (Some((_, id)), Some((status, _))) =
                (keys::parse_index_key(&k), keys::parse_index_value(&v))
            else {
                continue;
            };
            sessions += 1;
            if status == SessionStatus::Recording {
                recording.push(id);
            }
        }
        inner
            .sessions
            .store(sessions, std::sync::atomic::Ordering::Relaxed);
        for id in recording {
            let Ok(mut meta) = self.stored_meta(id) else {
                continue;
            };
            let totals = self.chunk_totals(id)?;
            meta.status = SessionStatus::Interrupted;
            totals.apply(&mut meta);
            meta.end_time = Some(
                Timestamp::from_millisecond(totals.last_write_ms.unwrap_or(0))
                    .ok()
                    .filter(|t| *t >= meta.start_time)
                    .unwrap_or(meta.start_time),
            );
            meta.refresh_duration();
            self.commit_meta(&meta, None)?;
        }
        inner.db.flush()?;
        Ok(())
    }

    /// Counts and sizes of a session's chunks, from their headers (pages are decoded to
    /// count distinct ids).
    fn chunk_totals(&self, id: Uuid) -> Result<Totals, StoreError> {
        let mut t = Totals::default();
        let mut page_ids = std::collections::HashSet::new();
        for kv in self.inner.chunks.scan_prefix(id.as_bytes()) {
            let (k, v) = kv?;
            let Some((stream, _)) = keys::parse_chunk_key(&k) else {
                continue;
            };
            let Ok(h) = frame::header(&v) else {
                continue;
            };
            t.raw_bytes += h.raw_len as u64;
            t.stored_bytes += v.len() as u64;
            t.last_write_ms = t.last_write_ms.max(Some(h.written_at_ms));
            let items = h.items as u64;
            match Stream::from_byte(stream) {
                Some(Stream::Entries) => t.entries += items,
                Some(Stream::Console) => t.console += items,
                Some(Stream::Actions) => t.actions += items,
                Some(Stream::Screenshots) => t.screenshots += items,
                Some(Stream::RawEvents) => t.raw_event_bytes += h.raw_len as u64,
                Some(Stream::Pages) => {
                    if let Ok((_, p)) = frame::decode(&v)
                        && let Ok(pages) = serde_json::from_slice::<Vec<PageId>>(&p)
                    {
                        page_ids.extend(pages.into_iter().map(|p| p.id));
                    }
                }
                _ => {}
            }
        }
        t.pages = page_ids.len() as u64;
        Ok(t)
    }
}

#[derive(serde::Deserialize)]
struct PageId {
    id: String,
}

#[derive(Default)]
struct Totals {
    entries: u64,
    console: u64,
    actions: u64,
    screenshots: u64,
    pages: u64,
    raw_event_bytes: u64,
    raw_bytes: u64,
    stored_bytes: u64,
    last_write_ms: Option<i64>,
}

impl Totals {
    fn apply(&self, m: &mut SessionMetadata) {
        m.network_event_count = self.entries;
        m.console_entry_count = self.console;
        m.action_count = self.actions;
        m.screenshot_count = self.screenshots;
        m.page_count = self.pages;
        m.raw_event_bytes = self.raw_event_bytes;
        m.raw_bytes = self.raw_bytes;
        m.stored_bytes = self.stored_bytes;
    }
}

/// HAR-shaped streams use the dictionary trained on HAR entries; other JSON plain zstd.
fn codec_for(stream: Stream) -> Codec {
    match stream {
        Stream::Entries | Stream::Pages | Stream::HarHeader => Codec::ZstdHarDict,
        Stream::Screenshots => Codec::Raw,
        Stream::Console | Stream::Actions | Stream::RawEvents => Codec::Zstd,
    }
}

fn now_ms() -> Timestamp {
    // The current time is always in range; the epoch is never used in practice.
    Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Db(format!("cannot serialise: {e}")))
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> StoreError {
        StoreError::Db(format!("cannot serialise: {e}"))
    }
}

fn encode_meta(meta: &SessionMetadata) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(meta)?;
    Ok(frame::encode(
        &json,
        Codec::Raw,
        0,
        meta.start_time.as_millisecond(),
        0,
    )?)
}

fn decode_meta(id: Uuid, v: &[u8]) -> Result<SessionMetadata, StoreError> {
    let (_, json) =
        frame::decode(v).map_err(|e| StoreError::damaged(id, format!("metadata: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| StoreError::damaged(id, format!("metadata: {e}")))
}

fn decode_chunk(id: Uuid, stream: Stream, seq: u32, v: &[u8]) -> Result<Vec<u8>, StoreError> {
    frame::decode(v)
        .map(|(_, p)| p)
        .map_err(|e| StoreError::damaged(id, format!("{} chunk {seq}: {e}", stream.name())))
}

/// Decodes the entry chunks in order, in parallel when there is enough to share.
fn decode_entries(id: Uuid, frames: &[(u32, sled::IVec)]) -> Result<Vec<har::Entry>, StoreError> {
    let one = |(seq, v): &(u32, sled::IVec)| -> Result<Vec<har::Entry>, StoreError> {
        let payload = decode_chunk(id, Stream::Entries, *seq, v)?;
        serde_json::from_slice(&payload)
            .map_err(|e| StoreError::damaged(id, format!("entries chunk {seq}: {e}")))
    };
    let total: usize = frames.iter().map(|(_, v)| v.len()).sum();
    let parts: Vec<Result<Vec<har::Entry>, StoreError>> = if frames.len() < 2 || total < 256 * 1024
    {
        frames.iter().map(one).collect()
    } else {
        use rayon::prelude::*;
        frames.par_iter().map(one).collect()
    };
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Screenshot chunk payload: metadata JSON length (u32 LE) ‖ metadata JSON ‖ image bytes.
fn encode_screenshot(s: &Screenshot) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(s)?;
    let mut out = Vec::with_capacity(4 + json.len() + s.data.len());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&s.data);
    Ok(out)
}

fn decode_screenshot(p: &[u8]) -> Result<Screenshot, String> {
    if p.len() < 4 {
        return Err("too short".into());
    }
    let n = u32::from_le_bytes(p[..4].try_into().expect("4 bytes")) as usize;
    let json = p.get(4..4 + n).ok_or("metadata length out of range")?;
    let mut s: Screenshot = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    s.data = p[4 + n..].to_vec();
    Ok(s)
}

/// The metadata of a session imported from `har` (whose pages and entries were taken out).
fn imported_meta(
    id: Uuid,
    har: &Har,
    pages: &[har::Page],
    entries: &[har::Entry],
    task: Option<&str>,
) -> SessionMetadata {
    let parse = |s: &str| s.parse::<Timestamp>().ok();
    let starts = pages
        .iter()
        .filter_map(|p| parse(&p.started_date_time))
        .chain(entries.iter().filter_map(|e| parse(&e.started_date_time)));
    let start = starts.min().unwrap_or_else(now_ms);
    let end = entries
        .iter()
        .filter_map(|e| {
            let t = parse(&e.started_date_time)?;
            let ms = if e.time.is_finite() && e.time > 0.0 {
                e.time
            } else {
                0.0
            };
            t.checked_add(jiff::SignedDuration::from_secs_f64(ms / 1000.0))
                .ok()
        })
        .max()
        .unwrap_or(start)
        .max(start);
    let user_agent = entries
        .iter()
        .find_map(|e| har::header(&e.request.headers, "user-agent"))
        .unwrap_or("")
        .to_string();
    let product = har
        .log
        .browser
        .as_ref()
        .map(|b| {
            if b.version.is_empty() {
                b.name.clone()
            } else {
                format!("{}/{}", b.name, b.version)
            }
        })
        .unwrap_or_default();
    let has_bodies = entries.iter().any(|e| {
        e.response
            .content
            .text
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    });
    let start_url = entries.first().map(|e| e.request.url.clone());
    let creator = if har.log.creator.name.is_empty() {
        "unknown".to_string()
    } else {
        har.log.creator.name.clone()
    };
    let task = task.map(str::to_string).unwrap_or_else(|| {
        let title = pages
            .first()
            .map(|p| p.title.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| start_url.clone())
            .unwrap_or_default();
        format!("Imported HAR from {creator}: {title}")
    });
    let new = NewSession {
        id: Some(id),
        task_description: task,
        capture_level: if has_bodies {
            CaptureLevel::Full
        } else {
            CaptureLevel::Metadata
        },
        browser: crate::model::BrowserInfo {
            user_agent,
            product,
            viewport: Default::default(),
        },
        start_url,
    };
    let mut m = SessionMetadata::new(id, start, &new);
    m.status = SessionStatus::Completed;
    m.source = SessionSource::Imported;
    m.end_time = Some(end);
    m.network_event_count = entries.len() as u64;
    m.page_count = pages.len() as u64;
    m.refresh_duration();
    m
}

/// Writes one session's streams while it is recorded. Every append call is one chunk, durable
/// (flushed to disk) when the call returns. Dropping a writer without [`SessionWriter::finish`]
/// marks the session `INTERRUPTED`.
pub struct SessionWriter {
    store: Store,
    meta: SessionMetadata,
    seq: [u32; 8],
    finished: bool,
    /// When set, neither appends nor `finish` flush: the [`crate::writer::StoreWriter`]
    /// thread that owns the writer flushes once for a whole batch.
    group_commit: bool,
}

impl std::fmt::Debug for SessionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWriter")
            .field("id", &self.meta.session_id)
            .finish_non_exhaustive()
    }
}

impl SessionWriter {
    pub fn id(&self) -> Uuid {
        self.meta.session_id
    }

    /// Makes what this writer wrote durable now, unless the writer thread's group commit
    /// does that for it.
    fn flush_unless_grouped(&self) -> Result<(), StoreError> {
        if !self.group_commit {
            self.store.inner.db.flush()?;
        }
        Ok(())
    }

    /// The metadata as it stands, with live counts.
    pub fn metadata(&self) -> SessionMetadata {
        let mut m = self.meta.clone();
        m.refresh_duration();
        m
    }

    pub fn append_entries(&mut self, entries: &[har::Entry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write_json(Stream::Entries, entries, entries.len())?;
        self.meta.network_event_count += entries.len() as u64;
        self.publish();
        Ok(())
    }

    /// Appends pages. A page whose id was appended before replaces the earlier one (so a
    /// page can be written when it starts and again when its timings are known).
    pub fn append_pages(&mut self, pages: &[har::Page]) -> Result<(), StoreError> {
        if pages.is_empty() {
            return Ok(());
        }
        self.write_json(Stream::Pages, pages, pages.len())?;
        self.meta.page_count = self.store.chunk_totals(self.id())?.pages;
        self.publish();
        Ok(())
    }

    /// Replaces every page written so far with `pages`, atomically.
    pub fn set_pages(&mut self, pages: &[har::Page]) -> Result<(), StoreError> {
        let store = self.store.clone();
        let inner = &store.inner;
        let id = self.id();
        let mut batch = sled::Batch::default();
        let prefix = keys::chunk_key(id, Stream::Pages, 0);
        for k in inner.chunks.scan_prefix(&prefix[..17]).keys() {
            batch.remove(k?);
        }
        let json = serde_json::to_vec(pages)?;
        let seq = self.next_seq(Stream::Pages);
        let f = frame::encode(
            &json,
            codec_for(Stream::Pages),
            pages.len() as u32,
            now_ms().as_millisecond(),
            inner.config.compression_level,
        )?;
        batch.insert(&keys::chunk_key(id, Stream::Pages, seq)[..], f);
        inner.chunks.apply_batch(batch)?;
        self.flush_unless_grouped()?;
        let t = self.store.chunk_totals(id)?;
        self.meta.page_count = t.pages;
        self.meta.raw_bytes = t.raw_bytes;
        self.meta.stored_bytes = t.stored_bytes;
        self.publish();
        Ok(())
    }

    pub fn append_console(&mut self, entries: &[ConsoleEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write_json(Stream::Console, entries, entries.len())?;
        self.meta.console_entry_count += entries.len() as u64;
        self.publish();
        Ok(())
    }

    pub fn append_actions(&mut self, actions: &[Action]) -> Result<(), StoreError> {
        if actions.is_empty() {
            return Ok(());
        }
        self.write_json(Stream::Actions, actions, actions.len())?;
        self.meta.action_count += actions.len() as u64;
        self.publish();
        Ok(())
    }

    /// Appends one screenshot; the image is stored as it is (already compressed).
    pub fn append_screenshot(&mut self, shot: &Screenshot) -> Result<(), StoreError> {
        let payload = encode_screenshot(shot)?;
        self.write(Stream::Screenshots, &payload, 1, Codec::Raw)?;
        self.meta.screenshot_count += 1;
        self.publish();
        Ok(())
    }

    /// Appends raw CDP events (JSON lines) of capture level 4.
    pub fn append_raw_events(&mut self, jsonl: &[u8]) -> Result<(), StoreError> {
        if jsonl.is_empty() {
            return Ok(());
        }
        let mut payload = jsonl.to_vec();
        if payload.last() != Some(&b'\n') {
            payload.push(b'\n');
        }
        let lines = payload.iter().filter(|b| **b == b'\n').count();
        self.write(Stream::RawEvents, &payload, lines, Codec::Zstd)?;
        self.meta.raw_event_bytes += payload.len() as u64;
        self.publish();
        Ok(())
    }

    /// Ends the recording with status `Completed`, `Stopped` or `Error`, and returns the
    /// final metadata.
    pub fn finish(mut self, end: SessionEnd) -> Result<SessionMetadata, StoreError> {
        if !matches!(
            end.status,
            SessionStatus::Completed | SessionStatus::Stopped | SessionStatus::Error
        ) {
            return Err(StoreError::invalid(
                "status",
                format!(
                    "a recording ends COMPLETED, STOPPED or ERROR, not {}",
                    end.status
                ),
            ));
        }
        let mut meta = self.meta.clone();
        meta.status = end.status;
        meta.end_time = Some(end.end_time.unwrap_or_else(now_ms).max(meta.start_time));
        if let Some(b) = end.browser {
            meta.browser_info = b;
        }
        meta.error = end.error;
        meta.refresh_duration();
        self.store.commit_meta(&meta, None)?;
        self.flush_unless_grouped()?;
        self.finished = true;
        self.store.live().remove(&meta.session_id);
        Ok(meta)
    }

    fn next_seq(&mut self, stream: Stream) -> u32 {
        let s = &mut self.seq[stream.index()];
        let v = *s;
        *s += 1;
        v
    }

    fn write_json<T: Serialize>(
        &mut self,
        stream: Stream,
        items: &[T],
        n: usize,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_vec(items)?;
        self.write(stream, &json, n, codec_for(stream))
    }

    fn write(
        &mut self,
        stream: Stream,
        payload: &[u8],
        items: usize,
        codec: Codec,
    ) -> Result<(), StoreError> {
        let inner = &self.store.inner;
        let f = frame::encode(
            payload,
            codec,
            items as u32,
            now_ms().as_millisecond(),
            inner.config.compression_level,
        )?;
        let seq = self.seq[stream.index()];
        inner
            .chunks
            .insert(&keys::chunk_key(self.id(), stream, seq)[..], f.as_slice())?;
        self.flush_unless_grouped()?;
        self.seq[stream.index()] += 1;
        self.meta.raw_bytes += payload.len() as u64;
        self.meta.stored_bytes += f.len() as u64;
        Ok(())
    }

    fn publish(&self) {
        if let Some(m) = self.store.live().get_mut(&self.meta.session_id) {
            *m = self.meta.clone();
        }
    }
}

impl Drop for SessionWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Not finished: the recorder went away. Keep what was written, as INTERRUPTED.
        let mut meta = self.meta.clone();
        meta.status = SessionStatus::Interrupted;
        meta.end_time = Some(now_ms().max(meta.start_time));
        meta.refresh_duration();
        let _ = self.store.commit_meta(&meta, None);
        let _ = self.store.inner.db.flush();
        self.store.live().remove(&meta.session_id);
    }
}

impl Store {
    pub(crate) fn debug_chunks_tree(&self) -> &sled::Tree {
        &self.inner.chunks
    }

    pub(crate) fn debug_keys_of(&self, id: Uuid) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let mut n = inner.chunks.scan_prefix(id.as_bytes()).count();
        n += usize::from(inner.meta.contains_key(id.as_bytes())?);
        n += usize::from(inner.pending.contains_key(id.as_bytes())?);
        n += usize::from(self.find_index_key(id)?.is_some());
        Ok(n)
    }
}
