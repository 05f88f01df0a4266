//! What the store says about a session: its metadata, the queries over them, and the options
//! of export.
//!
//! [`SessionMetadata`] serialises to the camelCase shape of the spec's
//! `RecordSessionResponse` (`sessionId`, `status`, `startTime`, `browserInfo`, counts, ...).

use crate::error::StoreError;
use crate::har::{self, Har};
use crate::model::{Action, BrowserInfo, CaptureLevel, ConsoleEntry, Screenshot};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Where a session is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionStatus {
    /// Being written right now.
    Recording,
    /// Finished normally.
    Completed,
    /// Stopped early on request (a stop call, a timeout); what was captured is complete.
    Stopped,
    /// The capture failed; what was captured before the failure is kept.
    Error,
    /// The recording process died; every chunk flushed before is kept.
    Interrupted,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 5] = [
        SessionStatus::Recording,
        SessionStatus::Completed,
        SessionStatus::Stopped,
        SessionStatus::Error,
        SessionStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Recording => "RECORDING",
            SessionStatus::Completed => "COMPLETED",
            SessionStatus::Stopped => "STOPPED",
            SessionStatus::Error => "ERROR",
            SessionStatus::Interrupted => "INTERRUPTED",
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            SessionStatus::Recording => 0,
            SessionStatus::Completed => 1,
            SessionStatus::Stopped => 2,
            SessionStatus::Error => 3,
            SessionStatus::Interrupted => 4,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<SessionStatus> {
        SessionStatus::ALL.get(b as usize).copied()
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        SessionStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                StoreError::invalid(
                    "status",
                    format!(
                        "must be one of RECORDING, COMPLETED, STOPPED, ERROR, INTERRUPTED; got {s:?}"
                    ),
                )
            })
    }
}

/// How a session came to be.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SessionSource {
    /// Recorded by Spool's engine.
    #[default]
    Recorded,
    /// Imported from a HAR file.
    Imported,
}

/// What the engine knows when a recording starts.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSession {
    /// The session id; a new v4 UUID when `None`.
    pub id: Option<Uuid>,
    pub task_description: String,
    pub capture_level: CaptureLevel,
    pub browser: BrowserInfo,
    pub start_url: Option<String>,
}

impl Default for NewSession {
    fn default() -> Self {
        NewSession {
            id: None,
            task_description: String::new(),
            capture_level: CaptureLevel::Full,
            browser: BrowserInfo::default(),
            start_url: None,
        }
    }
}

/// How a recording ended.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionEnd {
    /// `Completed`, `Stopped` or `Error`.
    pub status: SessionStatus,
    /// The browser as known at the end (user agent and product are often only known then);
    /// `None` keeps what `begin_session` said.
    pub browser: Option<BrowserInfo>,
    /// When the recording ended; now when `None`.
    pub end_time: Option<Timestamp>,
    /// Why the capture failed, for `Error`.
    pub error: Option<String>,
}

impl Default for SessionEnd {
    fn default() -> Self {
        SessionEnd::new(SessionStatus::Completed)
    }
}

impl SessionEnd {
    pub fn new(status: SessionStatus) -> SessionEnd {
        SessionEnd {
            status,
            browser: None,
            end_time: None,
            error: None,
        }
    }

    pub fn completed() -> SessionEnd {
        SessionEnd::new(SessionStatus::Completed)
    }

    pub fn stopped() -> SessionEnd {
        SessionEnd::new(SessionStatus::Stopped)
    }

    pub fn error(message: impl Into<String>) -> SessionEnd {
        SessionEnd {
            error: Some(message.into()),
            ..SessionEnd::new(SessionStatus::Error)
        }
    }
}

/// Everything the store knows about a session except its streams.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionMetadata {
    pub session_id: Uuid,
    pub status: SessionStatus,
    pub start_time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    pub task_description: String,
    pub capture_level: CaptureLevel,
    pub browser_info: BrowserInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// Seconds from start to end (to now while recording).
    pub duration: f64,
    pub action_count: u64,
    pub screenshot_count: u64,
    /// HAR entries.
    pub network_event_count: u64,
    pub console_entry_count: u64,
    #[serde(default)]
    pub page_count: u64,
    /// Bytes of the raw event log (capture level 4).
    #[serde(default)]
    pub raw_event_bytes: u64,
    /// Why the capture failed (status `ERROR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub source: SessionSource,
    /// Bytes of the session's streams before compression.
    #[serde(default)]
    pub raw_bytes: u64,
    /// Bytes the session takes in the store (compressed chunks with their framing).
    #[serde(default)]
    pub stored_bytes: u64,
}

impl SessionMetadata {
    pub(crate) fn new(id: Uuid, start: Timestamp, new: &NewSession) -> SessionMetadata {
        SessionMetadata {
            session_id: id,
            status: SessionStatus::Recording,
            start_time: start,
            end_time: None,
            task_description: new.task_description.clone(),
            capture_level: new.capture_level,
            browser_info: new.browser.clone(),
            start_url: new.start_url.clone(),
            duration: 0.0,
            action_count: 0,
            screenshot_count: 0,
            network_event_count: 0,
            console_entry_count: 0,
            page_count: 0,
            raw_event_bytes: 0,
            error: None,
            source: SessionSource::Recorded,
            raw_bytes: 0,
            stored_bytes: 0,
        }
    }

    /// Recomputes `duration` from the start and end times (now when still recording).
    pub(crate) fn refresh_duration(&mut self) {
        let end = self.end_time.unwrap_or_else(Timestamp::now);
        let ms = end.as_millisecond() - self.start_time.as_millisecond();
        self.duration = (ms.max(0) as f64) / 1000.0;
    }
}

/// A whole session: metadata and every stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub metadata: SessionMetadata,
    /// Pages in order of first appearance; a page appended again with the same id replaces
    /// the earlier one in place.
    pub pages: Vec<har::Page>,
    pub entries: Vec<har::Entry>,
    pub console: Vec<ConsoleEntry>,
    pub actions: Vec<Action>,
    pub screenshots: Vec<Screenshot>,
    /// Level-4 raw CDP events as JSON lines, in append order.
    pub raw_events: Vec<u8>,
    /// For imported sessions: the HAR's `log` without pages and entries (creator, browser,
    /// comment, custom fields) and the document's top-level custom fields, so that export
    /// gives back what was imported.
    pub(crate) har_header: Option<Har>,
}

impl Session {
    /// The session's network data as a HAR 1.2 document (unredacted).
    pub fn to_har(&self) -> Har {
        let mut har = match &self.har_header {
            Some(h) => h.clone(),
            None => {
                let mut h = Har::new_spool();
                let product = self.metadata.browser_info.product.trim();
                if !product.is_empty() {
                    let (name, version) = product.split_once('/').unwrap_or((product, ""));
                    h.log.browser = Some(har::Creator {
                        name: name.to_string(),
                        version: version.to_string(),
                        ..Default::default()
                    });
                }
                h
            }
        };
        har.log.pages = self.pages.clone();
        har.log.entries = self.entries.clone();
        if self.har_header.is_none() {
            // A live recording is written entry by entry as requests complete; HAR lists them
            // by start. An imported HAR keeps the order it came in.
            har.log
                .entries
                .sort_by(|a, b| a.started_date_time.cmp(&b.started_date_time));
        }
        har
    }
}

/// Filters and paging of [`crate::Store::list`].
#[derive(Clone, Debug, PartialEq)]
pub struct SessionQuery {
    /// Page size, 1..=1000 (default 50).
    pub limit: usize,
    /// Sessions to skip, 0..=1,000,000.
    pub offset: usize,
    /// Words that must all appear in the task description, case-insensitively.
    pub words: Option<String>,
    /// Sessions that started at or after this time.
    pub from: Option<Timestamp>,
    /// Sessions that started at or before this time.
    pub to: Option<Timestamp>,
    pub status: Option<SessionStatus>,
}

impl Default for SessionQuery {
    fn default() -> Self {
        SessionQuery {
            limit: 50,
            offset: 0,
            words: None,
            from: None,
            to: None,
            status: None,
        }
    }
}

pub const MAX_LIMIT: usize = 1000;
pub const MAX_OFFSET: usize = 1_000_000;

impl SessionQuery {
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(StoreError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}, got {}", self.limit),
            ));
        }
        if self.offset > MAX_OFFSET {
            return Err(StoreError::invalid(
                "offset",
                format!("must be between 0 and {MAX_OFFSET}, got {}", self.offset),
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(StoreError::invalid(
                "dateRange",
                format!("start {from} is after end {to}"),
            ));
        }
        Ok(())
    }
}

/// Parses a date-range bound as the spec writes it: a date (`2025-01-31`, taken in UTC, the
/// whole day included: its start for a lower bound, its last instant for an upper one) or an
/// RFC 3339 timestamp.
pub fn parse_date_bound(s: &str, upper: bool) -> Result<Timestamp, StoreError> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let field = if upper {
        "dateRange.end"
    } else {
        "dateRange.start"
    };
    let date: jiff::civil::Date = s.parse().map_err(|_| {
        StoreError::invalid(
            field,
            format!("must be a date (YYYY-MM-DD) or an RFC 3339 timestamp, got {s:?}"),
        )
    })?;
    let start = date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| StoreError::invalid(field, e.to_string()))?
        .timestamp();
    if upper {
        let next = date
            .checked_add(jiff::Span::new().days(1))
            .map_err(|e| StoreError::invalid(field, e.to_string()))?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| StoreError::invalid(field, e.to_string()))?
            .timestamp();
        Ok(Timestamp::from_nanosecond(next.as_nanosecond() - 1).unwrap_or(next))
    } else {
        Ok(start)
    }
}

/// One page of [`crate::Store::list`], newest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    pub sessions: Vec<SessionMetadata>,
    /// Sessions matching the filters, over all pages.
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
}

/// Totals over the whole store.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    pub path: String,
    pub sessions: u64,
    pub by_status: BTreeMap<SessionStatus, u64>,
    pub network_entries: u64,
    pub screenshots: u64,
    /// Bytes of every stream before compression.
    pub raw_bytes: u64,
    /// Bytes of every stream as stored (compressed, framed).
    pub stored_bytes: u64,
    /// `raw_bytes / stored_bytes` (1 when empty).
    pub compression_ratio: f64,
    /// What the database takes on disk, including space not yet reclaimed.
    pub disk_bytes: u64,
}

/// What an export contains.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportOptions {
    /// Screenshots (JSON export only; base64).
    pub include_screenshots: bool,
    /// Pages and HAR entries (and the raw event log).
    #[serde(alias = "includeNetworkData")]
    pub include_network: bool,
    /// Keep credentials; when false (the default) they are replaced by `[REDACTED]`.
    pub include_secrets: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            include_screenshots: true,
            include_network: true,
            include_secrets: false,
        }
    }
}

/// How the store is opened.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Largest HAR [`crate::Store::import_har`] accepts (default 512 MiB).
    pub max_import_bytes: u64,
    /// sled's page cache (default 64 MiB).
    pub cache_capacity_bytes: u64,
    /// zstd level for streams (default 9: 6.6x on the fixture sessions at ~40 MB/s of
    /// appends; level 3 gave 5.8x at ~75 MB/s, level 12 6.7x at ~18 MB/s; BENCHMARKS.md).
    pub compression_level: i32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_import_bytes: 512 * 1024 * 1024,
            cache_capacity_bytes: 64 * 1024 * 1024,
            compression_level: 9,
        }
    }
}
