//! The data the report page reads: a session's streams, redacted and cut to size, plus its
//! analysis. Everything here is pure: no I/O, no clock.

use base64::Engine as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spool_analyzer::Analysis;
use spool_model::har::{Entry, Har, Header};
use spool_model::secret::is_secret_name;
use spool_model::session::{Action, ConsoleEntry, Screenshot, StackFrame};
use spool_store::redact::{REDACTED, redact_entry, redact_url};
use spool_store::{Session, SessionMetadata};

use crate::regression::RegressionData;

/// Size limits and where left-out parts can be loaded from.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// Request and response bodies longer than this (bytes of text as stored) are left out
    /// of the file with a note.
    pub max_body_bytes: usize,
    /// Screenshots larger than this (encoded bytes) are left out of the file with a note.
    pub max_screenshot_bytes: usize,
    /// When the report is served by `spool serve`: the URL path of the session
    /// (`/api/v1/sessions/ID`), under which left-out bodies (`/entries/N/body?part=`) and
    /// screenshots (`/screenshots/N`) load lazily. `None` for a file on disk.
    pub served_from: Option<String>,
}

/// 64 KiB: a JSON API response or an HTML page fits; a bundle or an image usually does not.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// 512 KiB: a WebP or JPEG viewport screenshot fits; a full-page PNG often does not.
pub const DEFAULT_MAX_SCREENSHOT_BYTES: usize = 512 * 1024;

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_screenshot_bytes: DEFAULT_MAX_SCREENSHOT_BYTES,
            served_from: None,
        }
    }
}

/// The streams of one session a report is made from, as recorded (unredacted: [`build`]
/// redacts).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSource {
    pub metadata: SessionMetadata,
    /// Pages and entries, entries in the order the export writes them (by start time).
    pub har: Har,
    pub console: Vec<ConsoleEntry>,
    pub actions: Vec<Action>,
    pub screenshots: Vec<Screenshot>,
}

impl ReportSource {
    /// The streams of a stored session (`Store::get`).
    pub fn from_session(session: &Session) -> ReportSource {
        ReportSource {
            metadata: session.metadata.clone(),
            har: session.to_har(),
            console: session.console.clone(),
            actions: session.actions.clone(),
            screenshots: session.screenshots.clone(),
        }
    }
}

/// How much later than the page's own event an action's timestamp may be, in ms: requests
/// and console messages that start this little before an action belong to it.
pub const ACTION_LAG_GRACE_MS: i64 = 25;

/// Everything the page shows, as the JSON block of the HTML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportData {
    pub session: SessionView,
    pub actions: Vec<ActionView>,
    pub screenshots: Vec<ScreenshotView>,
    pub entries: Vec<EntryView>,
    pub console: Vec<ConsoleView>,
    pub analysis: AnalysisView,
    /// Set by the regression report of `spool replay --check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionData>,
    pub limits: Limits,
}

/// The limits the file was made with, shown in the page's notes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_screenshot_bytes: usize,
    pub served: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    pub task: String,
    pub status: String,
    pub start_time: String,
    pub duration: f64,
    pub capture_level: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An action on the timeline, with the screenshots taken after it and the share of the
/// network and console it caused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionView {
    pub index: usize,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub timestamp: String,
    /// Milliseconds since the report's time origin (the earliest recorded moment).
    pub offset_ms: f64,
    /// Indexes into `screenshots`.
    pub screenshots: Vec<usize>,
    /// HAR entries that started between this action and the next.
    pub entry_count: usize,
    /// Console messages logged between this action and the next.
    pub console_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotView {
    pub index: usize,
    pub reason: String,
    pub url: String,
    pub timestamp: String,
    pub offset_ms: f64,
    pub width: u32,
    pub height: u32,
    pub mime_type: String,
    pub bytes: usize,
    /// The action it was taken after, when there is one before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
    /// The image as a `data:` URL, when within the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_url: Option<String>,
    /// Why the image is not in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<String>,
    /// Where a served report loads it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lazy_url: Option<String>,
}

/// HAR timings in milliseconds; -1 where a phase did not happen. `connect` includes `ssl`,
/// as in HAR 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub blocked: f64,
    pub dns: f64,
    pub connect: f64,
    pub ssl: f64,
    pub send: f64,
    pub wait: f64,
    pub receive: f64,
}

/// One HAR entry, redacted as exports redact it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub index: usize,
    pub offset_ms: f64,
    pub time: f64,
    pub method: String,
    pub url: String,
    pub status: i64,
    pub status_text: String,
    /// `1xx` … `5xx`, or `failed` (no response).
    pub status_class: String,
    /// Chrome's resource type (`document`, `script`, `fetch`, …), else one guessed from the
    /// MIME type.
    pub resource_type: String,
    pub mime_type: String,
    /// Response body bytes (as recorded, else the text's length).
    pub size: i64,
    pub timings: Timings,
    /// The action this request followed (the last action that started before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<BodyView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<BodyView>,
}

/// A request or response body: inline when within the limit, else a note (and, served, a
/// URL to load it from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BodyView {
    pub mime_type: String,
    /// Bytes of the body (decoded when stored as base64).
    pub size: usize,
    /// `true` when `text` is base64 (a binary body).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lazy_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleView {
    pub index: usize,
    pub level: String,
    pub source: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    pub timestamp: String,
    pub offset_ms: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
}

/// The analysis as the page draws it: the chain as a graph, the recommendation, the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisView {
    /// Why there is no analysis, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    pub confidence: f64,
    pub estimated_time: f64,
    pub reasoning: String,
    /// The reasoning split into its sentences, one reason each.
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_reason: Option<String>,
    /// The chain: the target and its ancestors, in time order.
    pub nodes: Vec<GraphNodeView>,
    /// The value flows between chain nodes.
    pub edges: Vec<GraphEdgeView>,
    /// Values of chain requests no response produced (inputs, browser state, computed).
    pub sources: Vec<Value>,
    pub python: String,
    pub curl: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNodeView {
    /// The HAR entry index (the waterfall row).
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub endpoint: String,
    /// Longest path from a source in the chain: the graph's column.
    pub depth: usize,
    pub is_target: bool,
}

/// "The value at `fromLocation` of `from`'s response is used at `toLocation` of `to`'s
/// request."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdgeView {
    pub from: usize,
    pub from_location: String,
    pub to: usize,
    pub to_location: String,
    pub kind: String,
    /// The analyzer's preview of the value, secrets masked.
    pub value: String,
}

/// Builds the page's data. `analysis` is the session's analysis, or why there is none.
pub fn build(
    source: &ReportSource,
    analysis: Result<&Analysis, &str>,
    config: &ReportConfig,
) -> ReportData {
    let origin = time_origin(source);
    let offset = |ts: &str| millis(ts).map_or(0.0, |ms| (ms - origin) as f64);
    let action_times: Vec<Option<i64>> = source
        .actions
        .iter()
        .map(|a| millis(&a.timestamp))
        .collect();
    let action_at = |ts: Option<i64>| ts.and_then(|t| cause(&action_times, t));
    // Requests and console messages carry the browser's time; an action carries the time
    // the recorder heard of it, a few milliseconds after the page acted (a sign-in click's
    // request starts before its action's timestamp). The grace puts them with their action.
    let caused_by =
        |ts: Option<i64>| ts.and_then(|t| cause(&action_times, t + ACTION_LAG_GRACE_MS));

    let mut actions: Vec<ActionView> = source
        .actions
        .iter()
        .enumerate()
        .map(|(index, a)| action_view(index, a, offset(&a.timestamp)))
        .collect();

    let screenshots: Vec<ScreenshotView> = source
        .screenshots
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let view = screenshot_view(index, s, offset(&s.timestamp), config);
            ScreenshotView {
                action: action_at(millis(&s.timestamp)),
                ..view
            }
        })
        .collect();

    let entries: Vec<EntryView> = source
        .har
        .log
        .entries
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let started = millis(&e.started_date_time);
            let view = entry_view(
                index,
                e,
                started.map_or(0.0, |t| (t - origin) as f64),
                config,
            );
            EntryView {
                action: action_tag(e).or_else(|| caused_by(started)),
                ..view
            }
        })
        .collect();

    let console: Vec<ConsoleView> = source
        .console
        .iter()
        .enumerate()
        .map(|(index, c)| ConsoleView {
            index,
            level: serde_plain(&c.level),
            source: serde_plain(&c.source),
            text: c.text.clone(),
            url: c.url.clone(),
            line: c.line,
            timestamp: c.timestamp.clone(),
            offset_ms: offset(&c.timestamp),
            stack: c.stack.clone(),
            action: caused_by(millis(&c.timestamp)),
        })
        .collect();

    for s in &screenshots {
        if let Some(a) = s.action.and_then(|a| actions.get_mut(a)) {
            a.screenshots.push(s.index);
        }
    }
    for e in &entries {
        if let Some(a) = e.action.and_then(|a| actions.get_mut(a)) {
            a.entry_count += 1;
        }
    }
    for c in &console {
        if let Some(a) = c.action.and_then(|a| actions.get_mut(a)) {
            a.console_count += 1;
        }
    }

    let m = &source.metadata;
    ReportData {
        session: SessionView {
            id: m.session_id.to_string(),
            task: m.task_description.clone(),
            status: m.status.as_str().to_string(),
            start_time: m.start_time.to_string(),
            duration: m.duration,
            capture_level: m.capture_level.as_u8(),
            start_url: m.start_url.as_deref().map(redact_url),
            user_agent: m.browser_info.user_agent.clone(),
            error: m.error.clone(),
        },
        actions,
        screenshots,
        entries,
        console,
        analysis: match analysis {
            Ok(a) => analysis_view(a),
            Err(why) => AnalysisView {
                error: Some(why.to_string()),
                ..AnalysisView::default()
            },
        },
        regression: None,
        limits: Limits {
            max_body_bytes: config.max_body_bytes,
            max_screenshot_bytes: config.max_screenshot_bytes,
            served: config.served_from.is_some(),
        },
    }
}

/// `2.3 MB`, `64.0 KiB`-style sizes for the notes: decimal units, one decimal.
pub fn format_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The note shown in place of a part left out of the file.
fn omitted_note(what: &str, bytes: usize, served: bool) -> String {
    if served {
        format!(
            "{what} of {} not inlined; loading it from the server",
            format_bytes(bytes)
        )
    } else {
        format!(
            "{what} of {} left out; open the report from `spool serve` to load it",
            format_bytes(bytes)
        )
    }
}

/// The earliest recorded moment: the session's start, or anything recorded before it.
fn time_origin(source: &ReportSource) -> i64 {
    let session_start = source.metadata.start_time.as_millisecond();
    let first_entry = source
        .har
        .log
        .entries
        .iter()
        .filter_map(|e| millis(&e.started_date_time))
        .min();
    let first_action = source
        .actions
        .iter()
        .filter_map(|a| millis(&a.timestamp))
        .min();
    [Some(session_start), first_entry, first_action]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(session_start)
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn millis(ts: &str) -> Option<i64> {
    ts.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

/// The last action that happened at or before `t`: the one whose effects `t` belongs to.
fn cause(action_times: &[Option<i64>], t: i64) -> Option<usize> {
    action_times
        .iter()
        .enumerate()
        .filter(|(_, at)| at.is_some_and(|at| at <= t))
        .map(|(i, _)| i)
        .next_back()
}

/// An entry tagged with the action that caused it (`_action`: the action's index), when a
/// recorder tagged it; the time rule applies otherwise.
fn action_tag(e: &Entry) -> Option<usize> {
    e.custom
        .get("_action")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
}

/// The lowercase name serde gives an enum (`warning`, `consoleApi`).
fn serde_plain<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn action_view(index: usize, a: &Action, offset_ms: f64) -> ActionView {
    let navigates = a.kind == "navigate";
    let secret_target = a.target.as_deref().is_some_and(is_secret_name)
        || a.selectors.iter().any(|s| is_secret_name(s));
    let value = match &a.value {
        // The recorder withholds passwords (`slot`); a value typed into a field whose
        // selector names a secret is treated the same way here.
        Some(_) if a.slot.is_some() || (secret_target && !navigates) => Some(REDACTED.to_string()),
        Some(v) if navigates => Some(redact_url(v)),
        other => other.clone(),
    };
    ActionView {
        index,
        kind: a.kind.clone(),
        target: a.target.as_deref().map(|t| {
            if navigates {
                redact_url(t)
            } else {
                t.to_string()
            }
        }),
        value,
        url: a.url.as_deref().map(redact_url),
        timestamp: a.timestamp.clone(),
        offset_ms,
        screenshots: Vec::new(),
        entry_count: 0,
        console_count: 0,
    }
}

fn screenshot_view(
    index: usize,
    s: &Screenshot,
    offset_ms: f64,
    config: &ReportConfig,
) -> ScreenshotView {
    let bytes = s.data.len();
    let mime = s.format.mime_type();
    let fits = bytes <= config.max_screenshot_bytes;
    ScreenshotView {
        index,
        reason: s.reason.clone(),
        url: redact_url(&s.url),
        timestamp: s.timestamp.clone(),
        offset_ms,
        width: s.width,
        height: s.height,
        mime_type: mime.to_string(),
        bytes,
        action: None,
        data_url: fits.then(|| {
            format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&s.data)
            )
        }),
        omitted: (!fits).then(|| omitted_note("screenshot", bytes, config.served_from.is_some())),
        lazy_url: match (&config.served_from, fits) {
            (Some(base), false) => Some(format!("{base}/screenshots/{index}")),
            _ => None,
        },
    }
}

fn entry_view(index: usize, raw: &Entry, offset_ms: f64, config: &ReportConfig) -> EntryView {
    // Redaction works on a copy: the export's own function, so the page shows exactly
    // what `spool sessions export` would.
    let mut e = raw.clone();
    redact_entry(&mut e);
    let error = e
        .response
        .custom
        .get("_error")
        .and_then(Value::as_str)
        .map(str::to_string);
    let status = e.response.status;
    let mime = e.response.content.mime_type.clone();
    let resource_type = e
        .custom
        .get("_resourceType")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| guess_type(&mime).to_string());
    let text_len = e.response.content.text.as_ref().map_or(0, |t| {
        decoded_len(t, e.response.content.encoding.as_deref())
    });
    let size = if e.response.content.size > 0 {
        e.response.content.size
    } else {
        i64::try_from(text_len).unwrap_or(i64::MAX)
    };
    let t = &e.timings;
    let request_body = e.request.post_data.as_ref().and_then(|pd| {
        let text = pd.text.clone().or_else(|| {
            (!pd.params.is_empty()).then(|| {
                pd.params
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.value.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("&")
            })
        })?;
        Some(body_view(
            text,
            None,
            &pd.mime_type,
            index,
            "request",
            config,
        ))
    });
    let response_body = e.response.content.text.clone().map(|text| {
        body_view(
            text,
            e.response.content.encoding.as_deref(),
            &mime,
            index,
            "response",
            config,
        )
    });
    EntryView {
        index,
        offset_ms,
        time: e.time,
        method: e.request.method.clone(),
        url: e.request.url.clone(),
        status,
        status_text: e.response.status_text.clone(),
        status_class: if status <= 0 {
            "failed".to_string()
        } else {
            format!("{}xx", (status / 100).clamp(1, 5))
        },
        resource_type,
        mime_type: mime,
        size,
        timings: Timings {
            blocked: t.blocked,
            dns: t.dns,
            connect: t.connect,
            ssl: t.ssl,
            send: t.send,
            wait: t.wait,
            receive: t.receive,
        },
        action: None,
        error,
        request_headers: pairs(&e.request.headers),
        response_headers: pairs(&e.response.headers),
        request_body,
        response_body,
    }
}

fn body_view(
    text: String,
    encoding: Option<&str>,
    mime: &str,
    entry: usize,
    part: &str,
    config: &ReportConfig,
) -> BodyView {
    let base64 = encoding.is_some_and(|e| e.eq_ignore_ascii_case("base64"));
    let size = decoded_len(&text, encoding);
    // The limit applies to what the file would carry: base64 text for a binary body.
    let fits = text.len() <= config.max_body_bytes;
    BodyView {
        mime_type: mime.to_string(),
        size,
        base64,
        text: fits.then_some(text),
        omitted: (!fits).then(|| omitted_note("body", size, config.served_from.is_some())),
        lazy_url: match (&config.served_from, fits) {
            (Some(base), false) => Some(format!("{base}/entries/{entry}/body?part={part}")),
            _ => None,
        },
    }
}

/// Bytes of a body as the server sent it: base64 text is three quarters of its length.
fn decoded_len(text: &str, encoding: Option<&str>) -> usize {
    if encoding.is_some_and(|e| e.eq_ignore_ascii_case("base64")) {
        let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
        (text.len() / 4 * 3).saturating_sub(padding)
    } else {
        text.len()
    }
}

fn pairs(headers: &[Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

/// A resource type for HARs without Chrome's `_resourceType` (imported from other tools).
fn guess_type(mime: &str) -> &'static str {
    let m = mime.to_ascii_lowercase();
    if m.contains("html") {
        "document"
    } else if m.contains("css") {
        "stylesheet"
    } else if m.contains("javascript") || m.contains("ecmascript") {
        "script"
    } else if m.starts_with("image/") {
        "image"
    } else if m.starts_with("font/") || m.contains("woff") {
        "font"
    } else if m.contains("json") || m.contains("xml") {
        "fetch"
    } else {
        "other"
    }
}

fn analysis_view(a: &Analysis) -> AnalysisView {
    let target = a.target.as_ref().map(|t| t.entry);
    let mut nodes: Vec<GraphNodeView> = Vec::with_capacity(a.chain.len());
    for step in &a.chain {
        // The chain is in time order, so every dependency's depth is known already.
        let depth = step
            .depends_on
            .iter()
            .filter_map(|d| nodes.iter().find(|n| n.entry == *d))
            .map(|n| n.depth + 1)
            .max()
            .unwrap_or(0);
        nodes.push(GraphNodeView {
            entry: step.entry,
            method: step.method.clone(),
            url: redact_url(&step.url),
            endpoint: step.endpoint.clone(),
            depth,
            is_target: Some(step.entry) == target,
        });
    }
    let in_chain = |i: usize| nodes.iter().any(|n| n.entry == i);
    let edges = a
        .graph
        .edges
        .iter()
        .filter(|e| in_chain(e.from) && in_chain(e.to))
        .map(|e| GraphEdgeView {
            from: e.from,
            from_location: e.from_location.clone(),
            to: e.to,
            to_location: e.to_location.clone(),
            kind: e.kind.clone(),
            value: e.value.clone(),
        })
        .collect();
    let sources = a
        .unresolved
        .iter()
        .filter(|u| u.in_chain)
        .filter_map(|u| serde_json::to_value(u).ok())
        .collect();
    AnalysisView {
        error: None,
        modality: a.recommended_modality.map(|m| m.as_str().to_string()),
        confidence: a.confidence,
        estimated_time: a.estimated_time,
        reasoning: a.reasoning.clone(),
        reasons: sentences(&a.reasoning),
        target,
        target_reason: a.target.as_ref().map(|t| t.reason.clone()),
        nodes,
        edges,
        sources,
        python: spool_analyzer::generate_python(a),
        curl: spool_analyzer::generate_curl(a),
        warnings: a.warnings.clone(),
    }
}

/// Splits reasoning text at sentence ends (`. ` followed by a capital letter), keeping
/// dotted names such as `api.example.com` whole.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let at_end = matches!(b, b'.' | b';')
            && bytes.get(i + 1) == Some(&b' ')
            && bytes.get(i + 2).is_some_and(u8::is_ascii_uppercase);
        if at_end {
            out.push(text[start..=i].trim().to_string());
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_a_person_reads_them() {
        assert_eq!(format_bytes(999), "999 B");
        assert_eq!(format_bytes(2_300_000), "2.3 MB");
        assert_eq!(format_bytes(65_536), "65.5 kB");
    }

    #[test]
    fn reasoning_splits_into_sentences_but_not_inside_host_names() {
        let r = sentences("Calls go to api.example.com. Login needs a token. No captcha");
        assert_eq!(
            r,
            vec![
                "Calls go to api.example.com.",
                "Login needs a token.",
                "No captcha"
            ]
        );
    }

    #[test]
    fn base64_bodies_count_their_decoded_bytes() {
        assert_eq!(decoded_len("aGVsbG8=", Some("base64")), 5);
        assert_eq!(decoded_len("hello", None), 5);
    }
}
