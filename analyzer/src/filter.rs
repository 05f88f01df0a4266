//! Stage 2, filter: keep documents and API-like entries, drop static assets, analytics and
//! ads, each dropped entry with its reason; order entries in time.

use serde::{Deserialize, Serialize};

use crate::har::{Entry, Har, parse_time_ms};
use crate::lists::LISTS;
use crate::urls::{UrlParts, url_parts};

/// What a kept entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    /// A page navigation (HTML document).
    Document,
    /// XHR/fetch or any data request (JSON, form, GraphQL, text), or a state-changing one.
    Api,
    /// A WebSocket connection.
    WebSocket,
}

/// Why an entry was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DropCategory {
    Static,
    Analytics,
    Preflight,
    NonHttp,
    Failed,
    NotApi,
}

/// A dropped entry and the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dropped {
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub category: DropCategory,
    pub reason: String,
}

/// A kept entry.
#[derive(Debug, Clone)]
pub struct Kept {
    pub entry: usize,
    pub kind: EntryKind,
    pub url: UrlParts,
}

/// The filter's result.
#[derive(Debug, Clone, Default)]
pub struct Filtered {
    /// Kept entries, in time order.
    pub kept: Vec<Kept>,
    /// Dropped entries, in file order.
    pub dropped: Vec<Dropped>,
    /// Time rank of every entry (index = entry index in the file).
    pub rank: Vec<usize>,
    /// Start time (ms since epoch) of every entry, when parseable.
    pub start_ms: Vec<Option<f64>>,
    /// Dropped scripts with bodies: page source searched when classifying unresolved values.
    pub page_sources: Vec<usize>,
    /// WebSocket entries (kept) and `_webSocketMessages` seen.
    pub websockets: usize,
}

impl Filtered {
    /// Entry index in the file → its position in `kept`.
    pub fn kept_positions(&self) -> std::collections::HashMap<usize, usize> {
        self.kept
            .iter()
            .enumerate()
            .map(|(k, e)| (e.entry, k))
            .collect()
    }
}

/// Classifies every entry.
pub fn filter(har: &Har<'_>) -> Filtered {
    let entries = &har.log.entries;
    let n = entries.len();
    // Time order: parsed start time; entries without one take the previous entry's time.
    let mut start_ms: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut last = f64::NEG_INFINITY;
    let mut keys: Vec<(f64, usize)> = Vec::with_capacity(n);
    for (i, e) in entries.iter().enumerate() {
        let t = parse_time_ms(e.started.as_str());
        start_ms.push(t);
        if let Some(t) = t {
            last = t;
        }
        keys.push((last, i));
    }
    keys.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut rank = vec![0; n];
    for (r, (_, i)) in keys.iter().enumerate() {
        rank[*i] = r;
    }

    let mut out = Filtered {
        rank,
        start_ms,
        ..Filtered::default()
    };
    for &(_, i) in &keys {
        let e = &entries[i];
        let url = url_parts(e.url());
        if !e.websocket_messages.is_empty() {
            out.websockets += 1;
        }
        match classify(e, url.as_ref()) {
            Ok((kind, _why)) => {
                if kind == EntryKind::WebSocket && e.websocket_messages.is_empty() {
                    out.websockets += 1;
                }
                out.kept.push(Kept {
                    entry: i,
                    kind,
                    url: url.unwrap_or_default(),
                })
            }
            Err((category, reason)) => {
                if category == DropCategory::Static && is_script(e) && e.has_response_body() {
                    out.page_sources.push(i);
                }
                out.dropped.push(Dropped {
                    entry: i,
                    method: e.method().to_string(),
                    url: e.url().to_string(),
                    category,
                    reason,
                });
            }
        }
    }
    out.dropped.sort_by_key(|d| d.entry);
    out
}

fn is_script(e: &Entry<'_>) -> bool {
    e.resource_type()
        .is_some_and(|t| t.eq_ignore_ascii_case("script"))
        || e.response_mime()
            .to_ascii_lowercase()
            .contains("javascript")
}

fn mime_base(m: &str) -> String {
    m.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a MIME type is data an API returns.
pub fn is_data_mime(m: &str) -> bool {
    let m = mime_base(m);
    m.contains("json")
        || m.contains("xml")
        || m.contains("graphql")
        || m == "application/x-www-form-urlencoded"
        || m == "multipart/form-data"
        || m.starts_with("text/plain")
        || m == "text/csv"
        || m == "text/event-stream"
}

pub fn is_html_mime(m: &str) -> bool {
    let m = mime_base(m);
    m == "text/html" || m == "application/xhtml+xml"
}

fn classify(
    e: &Entry<'_>,
    url: Option<&UrlParts>,
) -> Result<(EntryKind, String), (DropCategory, String)> {
    let lists = &*LISTS;
    let Some(url) = url else {
        let scheme = e.url().split(':').next().unwrap_or("");
        return Err((
            DropCategory::NonHttp,
            format!("not an http(s) URL (scheme `{scheme}`)"),
        ));
    };
    let scheme = url.scheme.as_str();
    if !matches!(scheme, "http" | "https" | "ws" | "wss") {
        return Err((
            DropCategory::NonHttp,
            format!("not an http(s) URL (scheme `{scheme}`)"),
        ));
    }
    if let Some(t) = lists.is_tracker_host(&url.host) {
        return Err((
            DropCategory::Analytics,
            format!(
                "analytics/ads/telemetry host `{}` (list entry `{t}`)",
                url.host
            ),
        ));
    }
    let method = e.method().to_ascii_uppercase();
    if method == "OPTIONS" {
        return Err((DropCategory::Preflight, "CORS preflight (OPTIONS)".into()));
    }
    let rt = e.resource_type().map(|t| t.to_ascii_lowercase());
    if matches!(scheme, "ws" | "wss") || rt.as_deref() == Some("websocket") {
        return Ok((EntryKind::WebSocket, "WebSocket connection".into()));
    }
    if let Some(rt) = rt.as_deref()
        && lists.static_resource_types.contains(rt)
    {
        let cat = if rt == "ping" {
            DropCategory::Analytics
        } else {
            DropCategory::Static
        };
        let what = if rt == "ping" {
            "beacon"
        } else {
            "static asset"
        };
        return Err((cat, format!("{what} (_resourceType `{rt}`)")));
    }
    let mime = mime_base(e.response_mime());
    if let Some(p) = lists.static_mime.iter().find(|p| mime.starts_with(**p)) {
        let _ = p;
        return Err((
            DropCategory::Static,
            format!("static asset (mimeType `{mime}`)"),
        ));
    }
    if let Some(last) = url.segments.last()
        && let Some((_, ext)) = last.rsplit_once('.')
    {
        let ext = ext.to_ascii_lowercase();
        let fetched = matches!(rt.as_deref(), Some("xhr" | "fetch"));
        if lists.static_extensions.contains(ext.as_str()) && !fetched {
            return Err((
                DropCategory::Static,
                format!("static asset (extension `.{ext}`)"),
            ));
        }
    }
    for seg in &url.segments {
        let lower = seg.to_ascii_lowercase();
        let stem = lower.rsplit_once('.').map(|(s, _)| s).unwrap_or(&lower);
        if lists.analytics_paths.contains(stem) {
            return Err((
                DropCategory::Analytics,
                format!("analytics/beacon path segment `{seg}`"),
            ));
        }
    }
    let status = e.status();
    if e.response.is_none() || status <= 0 {
        return Err((
            DropCategory::Failed,
            "no response (failed, blocked or canceled)".into(),
        ));
    }
    let state_changing = !matches!(method.as_str(), "GET" | "HEAD");
    match rt.as_deref() {
        Some("document") if !state_changing => {
            return Ok((EntryKind::Document, "page navigation (document)".into()));
        }
        Some(t @ ("xhr" | "fetch" | "eventsource")) => {
            return Ok((EntryKind::Api, format!("{t} request")));
        }
        _ => {}
    }
    if state_changing {
        return Ok((EntryKind::Api, format!("state-changing {method} request")));
    }
    if is_data_mime(&mime) {
        return Ok((EntryKind::Api, format!("data response (`{mime}`)")));
    }
    if is_html_mime(&mime) {
        return Ok((EntryKind::Document, "HTML document".into()));
    }
    if (300..400).contains(&status) {
        return Ok((EntryKind::Document, format!("redirect ({status})")));
    }
    Err((
        DropCategory::NotApi,
        if mime.is_empty() {
            "not API-like (no response type)".into()
        } else {
            format!("not API-like (mimeType `{mime}`)")
        },
    ))
}
