//! Which recorded entry answers a request: the pure half of offline network replay.
//!
//! A [`RecordedNetwork`] is built from a session's HAR entries. For each request the browser
//! makes during a replay it answers with the recorded response ([`Answer::Recorded`]), a
//! synthesized CORS preflight answer ([`Answer::Preflight`]), a recorded network failure
//! ([`Answer::Failed`]) or, when nothing matches, a [`NearMiss`]: the nearest recorded entry
//! and every way the request differs from it. After the run, [`RecordedNetwork::unused`]
//! lists the entries nothing asked for.
//!
//! A request matches an entry when method, URL (origin, path and query parameters in any
//! order) , body and the headers a page sets agree after [`MatchConfig`]'s normalization.
//! Repeats of one request are served in recorded order, and after the last the last one
//! repeats, so a polling endpoint recorded with different answers replays them in turn.
//! [`volatile_fields`] compares two recordings of one flow and returns what differs between
//! them (a CSRF value, a timestamp parameter), ready to be ignored.
//!
//! Nothing here does I/O or reads a clock: the same HAR and requests give the same answers.
//! docs/replay.md states the matching rules for users.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use spool_model::har::{Entry, Har, Header};
use std::collections::{BTreeMap, BTreeSet};

/// Request headers that never decide a match: the browser sets them, or they carry state
/// (cookies, caches) that a replay reproduces on its own. Header names are compared in
/// lower case.
pub const HEADERS_IGNORED_BY_DEFAULT: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "if-modified-since",
    "if-none-match",
    "origin",
    "pragma",
    "priority",
    "purpose",
    "referer",
    "upgrade-insecure-requests",
    "user-agent",
];

/// How requests are normalized before they are compared with recorded ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchConfig {
    /// Query parameters left out of the comparison (e.g. a cache-busting `_`).
    pub ignore_query_params: BTreeSet<String>,
    /// Request headers left out, in addition to [`HEADERS_IGNORED_BY_DEFAULT`] and every
    /// `sec-*` header. Compared case-insensitively.
    pub ignore_headers: BTreeSet<String>,
    /// Body fields left out: JSON paths such as `csrf`, `order.items[0].id` or
    /// `$.meta.timestamp` (a path also covers everything under it), and form field names.
    pub ignore_body_paths: BTreeSet<String>,
}

impl MatchConfig {
    /// This configuration plus everything `volatile` found to differ between recordings.
    pub fn ignoring(mut self, volatile: &VolatileFields) -> MatchConfig {
        self.ignore_query_params
            .extend(volatile.query_params.iter().cloned());
        self.ignore_headers.extend(volatile.headers.iter().cloned());
        self.ignore_body_paths
            .extend(volatile.body_paths.iter().cloned());
        self
    }

    fn header_ignored(&self, lower_name: &str) -> bool {
        lower_name.starts_with("sec-")
            || lower_name.starts_with(':')
            || HEADERS_IGNORED_BY_DEFAULT.contains(&lower_name)
            || self
                .ignore_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(lower_name))
    }

    fn body_path_ignored(&self, path: &str) -> bool {
        self.ignore_body_paths.iter().any(|ignored| {
            let ignored = ignored.strip_prefix("$.").unwrap_or(ignored);
            path == ignored
                || path
                    .strip_prefix(ignored)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }
}

/// A request the browser made during a replay, as `Fetch.requestPaused` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body as text (JSON, a form, ...), when the request has one.
    pub body: Option<String>,
}

impl ReplayRequest {
    /// The request a recorded entry made: what a faithful replay sends again.
    pub fn from_entry(entry: &Entry) -> ReplayRequest {
        ReplayRequest {
            method: entry.request.method.clone(),
            url: entry.request.url.clone(),
            headers: entry
                .request
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            body: recorded_body(entry),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response to hand the browser, with headers that agree with the body: the HAR keeps
/// bodies decoded, so `content-encoding` is dropped and `content-length` is the decoded
/// length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// What answers one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Answer {
    /// The recorded response of entry `entry` (its index in the HAR's entries).
    Recorded {
        entry: usize,
        response: ReplayResponse,
    },
    /// The recorded request failed (`response._error`, status 0); fail it the same way.
    Failed { entry: usize, error: String },
    /// A CORS preflight the recording does not hold (browsers rarely record them),
    /// answered by allowing what it asks for.
    Preflight { response: ReplayResponse },
    /// Nothing recorded matches; the nearest entry and what differed, if any entry exists.
    Unmatched { near_miss: Option<NearMiss> },
}

/// The recorded entry nearest to an unmatched request, and every way they differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NearMiss {
    /// The entry's index in the HAR's entries.
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub differences: Vec<Difference>,
}

/// One way a request differs from a recorded entry. `recorded` and `requested` are `None`
/// when that side has no such field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "what")]
pub enum Difference {
    Method {
        recorded: String,
        requested: String,
    },
    /// Scheme, host or port.
    Origin {
        recorded: String,
        requested: String,
    },
    Path {
        recorded: String,
        requested: String,
    },
    QueryParam {
        name: String,
        recorded: Option<String>,
        requested: Option<String>,
    },
    Header {
        name: String,
        recorded: Option<String>,
        requested: Option<String>,
    },
    /// A JSON path (`items[0].id`) or form field of the body.
    BodyPath {
        path: String,
        recorded: Option<String>,
        requested: Option<String>,
    },
    /// Bodies that are neither JSON nor a form, and differ.
    Body {
        recorded: Option<String>,
        requested: Option<String>,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn side(v: &Option<String>) -> String {
            match v {
                Some(v) => format!("{v:?}"),
                None => "absent".into(),
            }
        }
        // Body values are JSON text already (`"alice"`, `3`, `null`): shown as they are.
        fn json_side(v: &Option<String>) -> String {
            v.clone().unwrap_or_else(|| "absent".into())
        }
        match self {
            Difference::Method {
                recorded,
                requested,
            } => write!(f, "method: recorded {recorded}, requested {requested}"),
            Difference::Origin {
                recorded,
                requested,
            } => write!(f, "origin: recorded {recorded}, requested {requested}"),
            Difference::Path {
                recorded,
                requested,
            } => write!(f, "path: recorded {recorded}, requested {requested}"),
            Difference::QueryParam {
                name,
                recorded,
                requested,
            } => write!(
                f,
                "query param {name}: recorded {}, requested {}",
                side(recorded),
                side(requested)
            ),
            Difference::Header {
                name,
                recorded,
                requested,
            } => write!(
                f,
                "header {name}: recorded {}, requested {}",
                side(recorded),
                side(requested)
            ),
            Difference::BodyPath {
                path,
                recorded,
                requested,
            } => write!(
                f,
                "body path {path}: recorded {}, requested {}",
                json_side(recorded),
                json_side(requested)
            ),
            Difference::Body {
                recorded,
                requested,
            } => write!(
                f,
                "body: recorded {}, requested {}",
                side(recorded),
                side(requested)
            ),
        }
    }
}

/// A recorded entry nothing asked for during a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnusedEntry {
    pub entry: usize,
    pub method: String,
    pub url: String,
}

/// The recorded entries of a session, ready to answer a replay's requests.
#[derive(Debug, Clone)]
pub struct RecordedNetwork {
    config: MatchConfig,
    entries: Vec<RecordedEntry>,
    /// Entries with the same normalized request, in recorded order.
    groups: BTreeMap<NormalizedRequest, Group>,
}

#[derive(Debug, Clone)]
struct RecordedEntry {
    method: String,
    url: String,
    normalized: NormalizedRequest,
    answer: RecordedAnswer,
    /// False for an entry still running when the recording stopped: it has no answer.
    answerable: bool,
    served: usize,
    /// The recorded action that caused it (`_action`), when the recording says.
    action: Option<usize>,
}

#[derive(Debug, Clone)]
enum RecordedAnswer {
    Response(ReplayResponse),
    Failed(String),
}

#[derive(Debug, Clone, Default)]
struct Group {
    entries: Vec<usize>,
    next: usize,
}

impl RecordedNetwork {
    /// The entries of `har` that can answer a request: every entry but the ones still
    /// running when the recording stopped (`_incomplete`, no response).
    pub fn new(har: &Har, config: MatchConfig) -> RecordedNetwork {
        let mut entries = Vec::new();
        let mut groups: BTreeMap<NormalizedRequest, Group> = BTreeMap::new();
        for (index, entry) in har.log.entries.iter().enumerate() {
            let normalized = NormalizedRequest::new(&ReplayRequest::from_entry(entry), &config);
            let answer = recorded_answer(entry);
            // An entry nothing came back for while it was recorded cannot answer anything;
            // it keeps its slot so that indexes stay HAR entry indexes.
            let answerable = !(entry.custom.get("_incomplete") == Some(&Value::Bool(true))
                && matches!(answer, RecordedAnswer::Failed(_)));
            if answerable {
                groups
                    .entry(normalized.clone())
                    .or_default()
                    .entries
                    .push(index);
            }
            entries.push(RecordedEntry {
                method: entry.request.method.clone(),
                url: entry.request.url.clone(),
                normalized,
                answer,
                answerable,
                served: 0,
                action: entry
                    .custom
                    .get("_action")
                    .and_then(Value::as_u64)
                    .and_then(|a| usize::try_from(a).ok()),
            });
        }
        RecordedNetwork {
            config,
            entries,
            groups,
        }
    }

    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    /// The answer to `request`, advancing the recorded order of its repeats.
    pub fn answer(&mut self, request: &ReplayRequest) -> Answer {
        self.answer_during(request, None)
    }

    /// The answer to `request` made while the replay performs recorded action `action`:
    /// among the entries that match, the first not yet served that this action caused in
    /// the recording (`_action`) is preferred, so a request repeated across actions gets the
    /// answer it got at that point of the recording, whatever the page asked in between.
    /// Without such an entry, repeats are served in recorded order as by [`Self::answer`].
    pub fn answer_during(&mut self, request: &ReplayRequest, action: Option<usize>) -> Answer {
        let normalized = NormalizedRequest::new(request, &self.config);
        if let Some(group) = self.groups.get_mut(&normalized) {
            let entries = &self.entries;
            let caused_by_action = action.and_then(|action| {
                group
                    .entries
                    .iter()
                    .copied()
                    .find(|&i| entries[i].action == Some(action) && entries[i].served == 0)
            });
            let index = match caused_by_action {
                Some(index) => index,
                None => {
                    let index = group.entries[group.next.min(group.entries.len() - 1)];
                    if group.next + 1 < group.entries.len() {
                        group.next += 1;
                    }
                    index
                }
            };
            let entry = &mut self.entries[index];
            entry.served += 1;
            return match &entry.answer {
                RecordedAnswer::Response(response) => Answer::Recorded {
                    entry: index,
                    response: response.clone(),
                },
                RecordedAnswer::Failed(error) => Answer::Failed {
                    entry: index,
                    error: error.clone(),
                },
            };
        }
        if request.method.eq_ignore_ascii_case("OPTIONS")
            && request.header("access-control-request-method").is_some()
        {
            return Answer::Preflight {
                response: preflight_response(request),
            };
        }
        Answer::Unmatched {
            near_miss: self.near_miss(&normalized),
        }
    }

    /// The nearest recorded entry to `request` and what differs, without serving anything.
    pub fn nearest(&self, request: &ReplayRequest) -> Option<NearMiss> {
        self.near_miss(&NormalizedRequest::new(request, &self.config))
    }

    /// Entries no request was answered with, in recorded order. Entries still running when
    /// the recording stopped are not listed: they had no answer to give.
    pub fn unused(&self) -> Vec<UnusedEntry> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.answerable && e.served == 0)
            .map(|(entry, e)| UnusedEntry {
                entry,
                method: e.method.clone(),
                url: e.url.clone(),
            })
            .collect()
    }

    /// How many requests entry `index` answered so far.
    pub fn times_served(&self, index: usize) -> usize {
        self.entries.get(index).map_or(0, |e| e.served)
    }

    fn near_miss(&self, request: &NormalizedRequest) -> Option<NearMiss> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.answerable)
            .map(|(index, e)| {
                let differences = e.normalized.differences(request);
                let cost: usize = differences.iter().map(Difference::weight).sum();
                (cost, index, differences)
            })
            .min_by_key(|(cost, index, _)| (*cost, *index))
            .map(|(_, index, differences)| NearMiss {
                entry: index,
                method: self.entries[index].method.clone(),
                url: self.entries[index].url.clone(),
                differences,
            })
    }
}

impl Difference {
    /// How far apart a difference puts two requests, for picking the nearest entry: another
    /// endpoint is further away than another value of one field.
    fn weight(&self) -> usize {
        match self {
            Difference::Origin { .. } => 1000,
            Difference::Path { .. } => 100,
            Difference::Method { .. } => 50,
            Difference::Body { .. } => 5,
            Difference::QueryParam { .. } | Difference::BodyPath { .. } => 2,
            Difference::Header { .. } => 1,
        }
    }
}

/// What differs between two recordings of one flow, to be ignored when matching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolatileFields {
    pub query_params: BTreeSet<String>,
    pub headers: BTreeSet<String>,
    pub body_paths: BTreeSet<String>,
}

/// Compares two recordings of the same flow and returns the query parameters, request
/// headers (beyond those ignored by default) and body paths whose values differ. Requests
/// are paired by method, origin and path, the n-th of one recording with the n-th of the
/// other; requests only one recording made are skipped.
pub fn volatile_fields(first: &Har, second: &Har) -> VolatileFields {
    let config = MatchConfig::default();
    let by_endpoint = |har: &Har| {
        let mut map: BTreeMap<(String, String, String), Vec<NormalizedRequest>> = BTreeMap::new();
        for entry in &har.log.entries {
            let n = NormalizedRequest::new(&ReplayRequest::from_entry(entry), &config);
            map.entry((n.method.clone(), n.origin.clone(), n.path.clone()))
                .or_default()
                .push(n);
        }
        map
    };
    let (a, b) = (by_endpoint(first), by_endpoint(second));
    let mut found = VolatileFields::default();
    for (endpoint, requests) in &a {
        let Some(others) = b.get(endpoint) else {
            continue;
        };
        for (x, y) in requests.iter().zip(others) {
            for difference in x.differences(y) {
                match difference {
                    Difference::QueryParam { name, .. } => {
                        found.query_params.insert(name);
                    }
                    Difference::Header { name, .. } => {
                        found.headers.insert(name);
                    }
                    Difference::BodyPath { path, .. } => {
                        found.body_paths.insert(path);
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

/// A request reduced to what decides a match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NormalizedRequest {
    method: String,
    origin: String,
    path: String,
    /// Every value of each kept parameter, in order.
    query: BTreeMap<String, Vec<String>>,
    /// Kept headers, lower-case names.
    headers: BTreeMap<String, String>,
    body: NormalizedBody,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum NormalizedBody {
    None,
    /// JSON leaves or form fields by path, values as JSON text (forms: the decoded text).
    Fields(BTreeMap<String, String>),
    Raw(String),
}

impl NormalizedRequest {
    fn new(request: &ReplayRequest, config: &MatchConfig) -> NormalizedRequest {
        let (origin, path, query) = match url::Url::parse(&request.url) {
            Ok(url) => {
                let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (name, value) in url.query_pairs() {
                    if !config.ignore_query_params.contains(name.as_ref()) {
                        query
                            .entry(name.into_owned())
                            .or_default()
                            .push(value.into_owned());
                    }
                }
                (
                    url.origin().ascii_serialization(),
                    url.path().to_string(),
                    query,
                )
            }
            Err(_) => (String::new(), request.url.clone(), BTreeMap::new()),
        };
        let headers = request
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .filter(|(n, _)| !config.header_ignored(n))
            .collect();
        let content_type = request.header("content-type").unwrap_or_default();
        NormalizedRequest {
            method: request.method.to_ascii_uppercase(),
            origin,
            path,
            query,
            headers,
            body: normalize_body(request.body.as_deref(), content_type, config),
        }
    }

    /// Every way `requested` differs from `self` (the recorded side).
    fn differences(&self, requested: &NormalizedRequest) -> Vec<Difference> {
        let mut out = Vec::new();
        if self.method != requested.method {
            out.push(Difference::Method {
                recorded: self.method.clone(),
                requested: requested.method.clone(),
            });
        }
        if self.origin != requested.origin {
            out.push(Difference::Origin {
                recorded: self.origin.clone(),
                requested: requested.origin.clone(),
            });
        }
        if self.path != requested.path {
            out.push(Difference::Path {
                recorded: self.path.clone(),
                requested: requested.path.clone(),
            });
        }
        let join = |v: Option<&Vec<String>>| v.map(|v| v.join(","));
        for (name, recorded, requested) in
            compare_maps(&self.query, &requested.query, |v| join(Some(v)))
        {
            out.push(Difference::QueryParam {
                name,
                recorded,
                requested,
            });
        }
        for (name, recorded, requested) in
            compare_maps(&self.headers, &requested.headers, |v| Some(v.clone()))
        {
            out.push(Difference::Header {
                name,
                recorded,
                requested,
            });
        }
        match (&self.body, &requested.body) {
            (NormalizedBody::Fields(a), NormalizedBody::Fields(b)) => {
                for (path, recorded, requested) in compare_maps(a, b, |v| Some(v.clone())) {
                    out.push(Difference::BodyPath {
                        path,
                        recorded,
                        requested,
                    });
                }
            }
            (a, b) if a != b => out.push(Difference::Body {
                recorded: a.preview(),
                requested: b.preview(),
            }),
            _ => {}
        }
        out
    }
}

impl NormalizedBody {
    fn preview(&self) -> Option<String> {
        const LIMIT: usize = 200;
        let text = match self {
            NormalizedBody::None => return None,
            NormalizedBody::Fields(fields) => {
                serde_json::to_string(fields).expect("a map of strings always serializes")
            }
            NormalizedBody::Raw(text) => text.clone(),
        };
        Some(match text.char_indices().nth(LIMIT) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        })
    }
}

/// Keys whose values differ between `a` (recorded) and `b` (requested), with both values.
fn compare_maps<V: PartialEq>(
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    show: impl Fn(&V) -> Option<String>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (x, y) = (a.get(name), b.get(name));
            (x != y).then(|| (name.clone(), x.and_then(&show), y.and_then(&show)))
        })
        .collect()
}

fn normalize_body(body: Option<&str>, content_type: &str, config: &MatchConfig) -> NormalizedBody {
    let Some(body) = body.filter(|b| !b.is_empty()) else {
        return NormalizedBody::None;
    };
    if let Ok(json) = serde_json::from_str::<Value>(body) {
        let mut fields = BTreeMap::new();
        flatten_json(&json, String::new(), &mut fields);
        fields.retain(|path, _| !config.body_path_ignored(path));
        return NormalizedBody::Fields(fields);
    }
    if content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(body.as_bytes()) {
            if config.body_path_ignored(&name) {
                continue;
            }
            fields
                .entry(name.into_owned())
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        return NormalizedBody::Fields(fields);
    }
    NormalizedBody::Raw(body.to_string())
}

/// JSON leaves by path (`a.b[0].c`); an empty object or array is a leaf too, so `{}` and
/// `[]` still differ from an absent field.
fn flatten_json(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten_json(v, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten_json(v, format!("{path}[{i}]"), out);
            }
        }
        leaf => {
            out.insert(
                if path.is_empty() { "$".into() } else { path },
                leaf.to_string(),
            );
        }
    }
}

/// The body a recorded request sent: its text, or its form fields re-encoded.
fn recorded_body(entry: &Entry) -> Option<String> {
    let post = entry.request.post_data.as_ref()?;
    if let Some(text) = &post.text {
        return Some(text.clone());
    }
    if post.params.is_empty() {
        return None;
    }
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for p in &post.params {
        form.append_pair(&p.name, p.value.as_deref().unwrap_or_default());
    }
    Some(form.finish())
}

/// Headers a replayed response must not carry as recorded: the body is decoded, its length
/// is recomputed, and hop-by-hop headers belong to the original connection.
const RESPONSE_HEADERS_DROPPED: &[&str] = &[
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

fn recorded_answer(entry: &Entry) -> RecordedAnswer {
    let response = &entry.response;
    if response.status <= 0 {
        let error = entry
            .response
            .custom
            .get("_error")
            .and_then(Value::as_str)
            .unwrap_or("net::ERR_FAILED")
            .to_string();
        return RecordedAnswer::Failed(error);
    }
    let content = &response.content;
    let body = match (&content.text, content.encoding.as_deref()) {
        (Some(text), Some("base64")) => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap_or_else(|_| text.clone().into_bytes()),
        (Some(text), _) => text.clone().into_bytes(),
        (None, _) => Vec::new(),
    };
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|h| {
            let name = h.name.to_ascii_lowercase();
            !name.starts_with(':') && !RESPONSE_HEADERS_DROPPED.contains(&name.as_str())
        })
        .map(|Header { name, value, .. }| (name.clone(), value.clone()))
        .collect();
    let status = u16::try_from(response.status).unwrap_or(200);
    if (300..400).contains(&status)
        && !response.redirect_url.is_empty()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("location"))
    {
        headers.push(("Location".into(), response.redirect_url.clone()));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        && !content.mime_type.is_empty()
    {
        headers.push(("Content-Type".into(), content.mime_type.clone()));
    }
    headers.push(("Content-Length".into(), body.len().to_string()));
    RecordedAnswer::Response(ReplayResponse {
        status,
        status_text: response.status_text.clone(),
        headers,
        body,
    })
}

/// Allows what a preflight asks for, for the origin that asks: the recorded requests it
/// guards were allowed when they were recorded.
fn preflight_response(request: &ReplayRequest) -> ReplayResponse {
    let mut headers = vec![
        (
            "Access-Control-Allow-Origin".to_string(),
            request.header("origin").unwrap_or("*").to_string(),
        ),
        (
            "Access-Control-Allow-Methods".to_string(),
            request
                .header("access-control-request-method")
                .unwrap_or("GET")
                .to_string(),
        ),
        (
            "Access-Control-Allow-Credentials".to_string(),
            "true".to_string(),
        ),
        ("Access-Control-Max-Age".to_string(), "600".to_string()),
        ("Content-Length".to_string(), "0".to_string()),
    ];
    if let Some(asked) = request.header("access-control-request-headers") {
        headers.push((
            "Access-Control-Allow-Headers".to_string(),
            asked.to_string(),
        ));
    }
    ReplayResponse {
        status: 204,
        status_text: "No Content".into(),
        headers,
        body: Vec::new(),
    }
}
