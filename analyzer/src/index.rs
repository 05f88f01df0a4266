//! Stage 3, index: every value of every kept request (the consumers) and every value of
//! every kept response (the producers), matched by an Aho–Corasick automaton.
//!
//! The automaton is built once over the request values in all their decoded forms (plain,
//! scheme-stripped, URL-decoded, JSON-unescaped, JSON leaves, base64, JWT claims, tokens).
//! Responses are then walked once, in time order, and each response value is run through
//! the automaton: a match means "this response contains that request value". For every
//! pattern only the earliest producer is kept (and, within that response, the best location),
//! which is exactly what provenance needs: a request at time `t` depends on the pattern's
//! earliest producer when that producer is earlier than `t`. Memory stays proportional to the
//! request values, not to the bodies; no body is scanned more than once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::config::AnalysisConfig;
use crate::error::AnalyzeError;
use crate::filter::{EntryKind, Filtered, is_html_mime};
use crate::har::{BodyIssue, Entry, Har, PostData};
use crate::html::{self, HtmlValue};
use crate::json::{self, JsonKind, Kinds, Leaf, Schema};
use crate::lists::{LISTS, MarkerKind, MarkerWhere};
use crate::urls::{self, UrlParts};
use crate::{decode, value_class};

/// Where in a request a consumer value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    Path(usize),
    Query,
    Form,
    Json,
    Header,
    Cookie,
    Body,
}

/// How a request value was transformed before it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Form {
    Plain,
    /// `Bearer <token>` and other `scheme value` headers: the value after the scheme.
    Scheme,
    UrlDecoded,
    JsonUnescaped,
    /// A leaf of JSON text held in the value.
    JsonLeaf,
    Base64,
    /// A claim of a JWT.
    Jwt,
    /// A delimiter-separated token of a composite value.
    Token,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Plain => "plain",
            Form::Scheme => "scheme",
            Form::UrlDecoded => "urlDecoded",
            Form::JsonUnescaped => "jsonUnescaped",
            Form::JsonLeaf => "jsonLeaf",
            Form::Base64 => "base64",
            Form::Jwt => "jwt",
            Form::Token => "token",
        }
    }
    /// The whole value (one producer) rather than a part of it.
    pub fn is_whole(self) -> bool {
        matches!(
            self,
            Form::Plain | Form::Scheme | Form::UrlDecoded | Form::JsonUnescaped | Form::Base64
        )
    }
}

/// A request value.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub entry: usize,
    pub rank: usize,
    /// `path:2`, `query:q`, `form:f`, `json:/a/b`, `header:x`, `cookie:c`, `body`.
    pub location: String,
    /// The field name used for heuristics (last pointer segment, header name, ...).
    pub name: String,
    pub place: Place,
    /// The value as recorded (decoded for path, query and form).
    pub raw: String,
    /// The JSON type for `json:` locations.
    pub kind: Option<JsonKind>,
    /// The forms searched for, with their pattern ids.
    pub forms: Vec<(Form, u32)>,
}

/// Producer location classes, in preference order within one response.
pub const CLASS_JSON: u8 = 0;
pub const CLASS_INPUT: u8 = 1;
pub const CLASS_META: u8 = 2;
pub const CLASS_HEADER: u8 = 3;
pub const CLASS_SET_COOKIE: u8 = 4;
pub const CLASS_SCRIPT: u8 = 5;
pub const CLASS_BODY: u8 = 6;
pub const CLASS_WS: u8 = 7;

/// The earliest response value found to contain a pattern.
#[derive(Debug, Clone)]
pub struct Hit {
    pub rank: usize,
    pub entry: usize,
    pub location: String,
    /// The response value equals the pattern (else the pattern is inside it).
    pub exact: bool,
    pub class: u8,
    /// Up to 24 bytes before and after the match inside the producing value (contained
    /// matches and `html:script`/`body` locations), so a script can find it again.
    pub before: String,
    pub after: String,
}

/// A marker of captcha / bot challenge / second factor / WebAuthn.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MarkerHit {
    pub kind: MarkerKind,
    pub entry: usize,
    /// `field json:/g-recaptcha-response`, `cookie cf_clearance`, `host ...`, `body ...`.
    pub place: String,
    pub pattern: String,
}

/// What the index learned about one kept entry.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub request_mime: String,
    pub request_schema: Option<Schema>,
    pub form_keys: Vec<(String, Kinds)>,
    pub query_keys: Vec<(String, Kinds)>,
    pub response_mime: String,
    pub response_schema: Option<Schema>,
    /// Response shape signature for sibling collapse.
    pub signature: String,
    pub graphql_operation: Option<String>,
    pub has_response_body: bool,
    /// Words of the request (body keys) for task matching.
    pub words: BTreeSet<String>,
    pub notes: Vec<String>,
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    pub consumers: Vec<Consumer>,
    pub patterns: Vec<Box<str>>,
    pub hits: Vec<Option<Hit>>,
    /// Earliest `Set-Cookie` per (name, value): (rank, entry).
    pub set_cookies: HashMap<(String, String), (usize, usize)>,
    /// Per kept entry, same order as `Filtered::kept`.
    pub facts: Vec<Facts>,
    pub markers: Vec<MarkerHit>,
}

/// Is this value too common or too short to prove a dependency?
pub fn trivial(v: &str, cfg: &AnalysisConfig) -> bool {
    let t = v.trim();
    if t.is_empty() {
        return true;
    }
    if value_class::is_numeric(t) {
        return t.len() < cfg.min_number_len;
    }
    if t.chars().count() < cfg.min_value_len {
        return true;
    }
    let first = t.chars().next().unwrap_or(' ');
    if t.chars().all(|c| c == first) {
        return true;
    }
    t.len() <= 40 && LISTS.common_words.contains(t.to_ascii_lowercase().as_str())
}

struct Patterns<'c> {
    map: HashMap<Box<str>, u32, FxBuild>,
    list: Vec<Box<str>>,
    cfg: &'c AnalysisConfig,
}

impl Patterns<'_> {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(s.into());
        self.map.insert(s.into(), id);
        id
    }

    /// All forms of a raw request value, deduplicated, trivial ones removed.
    fn forms(&mut self, raw: &str, place: Place) -> Vec<(Form, u32)> {
        let cfg = self.cfg;
        let mut cands: Vec<(Form, String)> = Vec::new();
        if raw.len() <= cfg.max_value_len {
            cands.push((Form::Plain, raw.to_string()));
        }
        let mut whole = raw.to_string();
        if place == Place::Header
            && let Some((scheme, rest)) = raw.trim().split_once(' ')
        {
            let rest = rest.trim();
            if scheme.chars().all(|c| c.is_ascii_alphabetic()) && !rest.contains(' ') {
                cands.push((Form::Scheme, rest.to_string()));
                whole = rest.to_string();
            }
        }
        if raw.len() <= cfg.max_value_len {
            if whole.contains('%') && matches!(place, Place::Header | Place::Cookie | Place::Body) {
                let d = spool_model::percent::decode(&whole).into_owned();
                cands.push((Form::UrlDecoded, d.clone()));
                whole = d;
            }
            if whole.contains('\\')
                && let Ok(s) = serde_json::from_str::<String>(&format!("\"{whole}\""))
            {
                cands.push((Form::JsonUnescaped, s));
            }
            let t = whole.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                json_leaf_forms(&whole, Form::JsonLeaf, cfg, &mut cands);
            }
            if let Some((_, payload)) = decode::decode_jwt(&whole) {
                json_leaf_forms(&payload, Form::Jwt, cfg, &mut cands);
            } else if whole.len() >= 12
                && let Some(text) = decode::decode_base64_text(&whole)
            {
                let t = text.trim_start();
                if t.starts_with('{') || t.starts_with('[') {
                    json_leaf_forms(&text, Form::JsonLeaf, cfg, &mut cands);
                }
                for tok in tokens(&text, cfg.min_value_len) {
                    if tok != text {
                        cands.push((Form::Token, tok.to_string()));
                    }
                }
                cands.push((Form::Base64, text));
            }
        }
        if whole.len() >= 2 * cfg.min_contained_len {
            for tok in tokens(&whole, cfg.min_contained_len).take(16) {
                if tok != whole {
                    cands.push((Form::Token, tok.to_string()));
                }
            }
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (f, s) in cands {
            if trivial(&s, cfg) || s.len() > cfg.max_value_len || !seen.insert(s.clone()) {
                continue;
            }
            out.push((f, self.id(&s)));
        }
        out
    }
}

fn tokens(s: &str, min: usize) -> impl Iterator<Item = &str> {
    s.split(|c: char| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '='))
    })
    .filter(move |t| t.len() >= min)
}

fn json_leaf_forms(text: &str, form: Form, cfg: &AnalysisConfig, out: &mut Vec<(Form, String)>) {
    let mut n = 0;
    let _ = json::walk(text, cfg.max_json_depth, 64, &mut |_, l| {
        if let Leaf::Str(s) | Leaf::Num(s) = l
            && n < 64
            && !trivial(s, cfg)
        {
            out.push((form, s.to_string()));
            n += 1;
        }
    });
}

/// Kinds of a query/form value.
fn scalar_kind(v: &str) -> Kinds {
    let mut k = Kinds::default();
    k.add(if v.parse::<i64>().is_ok() {
        JsonKind::Integer
    } else if value_class::is_numeric(v) {
        JsonKind::Number
    } else if v == "true" || v == "false" {
        JsonKind::Boolean
    } else {
        JsonKind::String
    });
    k
}

/// The request's cookies: the HAR `cookies` list, else the `Cookie` header.
pub fn request_cookies(e: &Entry<'_>) -> Vec<(String, String)> {
    if !e.request.cookies.is_empty() {
        return e
            .request
            .cookies
            .iter()
            .map(|c| (c.name.as_str().to_string(), c.value.as_str().to_string()))
            .collect();
    }
    let mut out = Vec::new();
    for h in &e.request.headers {
        if h.name.as_str().eq_ignore_ascii_case("cookie") {
            out.extend(
                spool_model::cookie::pairs(h.value.as_str())
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
        }
    }
    out
}

/// The response's cookies: the HAR `cookies` list, else the `Set-Cookie` headers.
pub fn response_cookies(e: &Entry<'_>) -> Vec<(String, String)> {
    let Some(r) = &e.response else {
        return Vec::new();
    };
    if !r.cookies.is_empty() {
        return r
            .cookies
            .iter()
            .map(|c| (c.name.as_str().to_string(), c.value.as_str().to_string()))
            .collect();
    }
    let mut out = Vec::new();
    for h in &r.headers {
        if h.name.as_str().eq_ignore_ascii_case("set-cookie") {
            for c in h
                .value
                .as_str()
                .lines()
                .filter_map(spool_model::cookie::set_cookie)
            {
                if !c.name.is_empty() {
                    out.push((c.name.to_string(), c.value.trim_matches('"').to_string()));
                }
            }
        }
    }
    out
}

/// The request's body as text and its MIME type.
pub fn request_body<'e>(e: &'e Entry<'_>) -> Option<(&'e str, &'e str)> {
    let pd = e.request.post_data.as_ref()?;
    let text = pd.text.as_ref().map(|t| t.as_str()).unwrap_or("");
    Some((pd.mime_type.as_str(), text))
}

/// Whether a request body is read as JSON: by its MIME type (lower-cased), or by its first
/// character when the type says nothing of forms.
pub fn body_is_json(mime_lower: &str, text: &str) -> bool {
    let trimmed = text.trim_start();
    mime_lower.contains("json")
        || ((trimmed.starts_with('{') || trimmed.starts_with('[')) && !mime_lower.contains("form"))
}

/// The form fields of a request body: the HAR's `params` when it lists them, else the text
/// parsed as `application/x-www-form-urlencoded` when the type says so.
pub fn form_fields(pd: &PostData<'_>, mime_lower: &str, text: &str) -> Vec<(String, String)> {
    if !pd.params.is_empty() {
        pd.params
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.value.as_str().to_string()))
            .collect()
    } else if mime_lower.contains("x-www-form-urlencoded") {
        urls::parse_form(text)
    } else {
        Vec::new()
    }
}

/// Collects the consumers of one request (used by the index and by the plan builder).
pub fn request_values(
    e: &Entry<'_>,
    url: &UrlParts,
    cfg: &AnalysisConfig,
    facts: &mut Facts,
    out: &mut Vec<(String, String, Place, String, Option<JsonKind>)>,
) {
    let lists = &*LISTS;
    // Path segments.
    for (i, seg) in url.segments.iter().enumerate() {
        let name = if i > 0 {
            url.segments[i - 1].clone()
        } else {
            "path".to_string()
        };
        out.push((format!("path:{i}"), name, Place::Path(i), seg.clone(), None));
    }
    // Query.
    let mut qk: BTreeMap<String, Kinds> = BTreeMap::new();
    for (k, v) in &url.query {
        qk.entry(k.clone()).or_default().union(scalar_kind(v));
        out.push((
            format!("query:{k}"),
            k.clone(),
            Place::Query,
            v.clone(),
            None,
        ));
    }
    facts.query_keys = qk.into_iter().collect();
    // Headers.
    for h in &e.request.headers {
        let name = h.name.as_str().to_ascii_lowercase();
        if name.starts_with(':')
            || name.starts_with("sec-")
            || lists.browser_headers.contains(name.as_str())
        {
            continue;
        }
        out.push((
            format!("header:{name}"),
            name.clone(),
            Place::Header,
            h.value.as_str().to_string(),
            None,
        ));
    }
    // Cookies.
    for (k, v) in request_cookies(e) {
        if lists.is_analytics_cookie(&k) {
            continue;
        }
        out.push((format!("cookie:{k}"), k, Place::Cookie, v, None));
    }
    // Body.
    let Some((mime, text)) = request_body(e) else {
        return;
    };
    let mime_l = mime.to_ascii_lowercase();
    facts.request_mime = mime_l.split(';').next().unwrap_or("").trim().to_string();
    let pd = e.request.post_data.as_ref().expect("checked above");
    if body_is_json(&mime_l, text) {
        let mut leaves = Vec::new();
        match json::walk(
            text,
            cfg.max_json_depth,
            cfg.max_values_per_body,
            &mut |p, l| {
                let (v, k) = match l {
                    Leaf::Str(s) => (s.to_string(), JsonKind::String),
                    Leaf::Num(s) => (s.to_string(), l.kind()),
                    _ => return,
                };
                leaves.push((p.to_string(), v, k));
            },
        ) {
            Ok((schema, notes)) => {
                if notes.too_deep {
                    facts.notes.push(format!(
                        "request body nested deeper than {} levels: deeper values skipped",
                        cfg.max_json_depth
                    ));
                }
                if let Some(op) = schema
                    .props
                    .contains_key("query")
                    .then(|| graphql_operation(text))
                    .flatten()
                {
                    facts.graphql_operation = Some(op);
                }
                for k in schema.props.keys() {
                    facts.words.insert(k.to_ascii_lowercase());
                }
                facts.request_schema = Some(schema);
            }
            Err(err) => facts
                .notes
                .push(format!("request body is not valid JSON ({err})")),
        }
        for (p, v, k) in leaves {
            let name = json::pointer_segments(&p).pop().unwrap_or_default();
            out.push((format!("json:{p}"), name, Place::Json, v, Some(k)));
        }
        return;
    }
    let params = form_fields(pd, &mime_l, text);
    if !params.is_empty() {
        let mut fk: BTreeMap<String, Kinds> = BTreeMap::new();
        for (k, v) in params {
            fk.entry(k.clone()).or_default().union(scalar_kind(&v));
            facts.words.insert(k.to_ascii_lowercase());
            out.push((format!("form:{k}"), k, Place::Form, v, None));
        }
        facts.form_keys = fk.into_iter().collect();
        return;
    }
    if !text.is_empty() {
        out.push((
            "body".into(),
            "body".into(),
            Place::Body,
            text.to_string(),
            None,
        ));
    }
}

/// `operationName`, else the name after `query`/`mutation`/`subscription`.
fn graphql_operation(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct G {
        #[serde(rename = "operationName", default)]
        op: Option<String>,
        #[serde(default)]
        query: Option<String>,
    }
    let g: G = serde_json::from_str(body).ok()?;
    if let Some(op) = g.op.filter(|o| !o.is_empty()) {
        return Some(op);
    }
    let q = g.query?;
    let mut words = q
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    match words.next()? {
        "query" | "mutation" | "subscription" => words.next().map(str::to_string),
        _ => None,
    }
}

/// Builds the index over the kept entries.
pub fn build(har: &Har<'_>, f: &Filtered, cfg: &AnalysisConfig) -> Result<Index, AnalyzeError> {
    let entries = &har.log.entries;
    let lists = &*LISTS;
    let mut idx = Index {
        facts: vec![Facts::default(); f.kept.len()],
        ..Index::default()
    };
    let mut pats = Patterns {
        map: HashMap::default(),
        list: Vec::new(),
        cfg,
    };
    let mut cookie_pairs: HashSet<(String, String)> = HashSet::new();
    let mut markers: BTreeSet<MarkerHit> = BTreeSet::new();

    // 1. Consumers.
    let mut vals = Vec::new();
    for (k, kept) in f.kept.iter().enumerate() {
        let e = &entries[kept.entry];
        let rank = f.rank[kept.entry];
        vals.clear();
        request_values(e, &kept.url, cfg, &mut idx.facts[k], &mut vals);
        for (location, name, place, raw, kind) in vals.drain(..) {
            marker_field(&name, &location, kept.entry, place, &mut markers);
            if trivial(&raw, cfg) {
                continue;
            }
            let forms = pats.forms(&raw, place);
            if forms.is_empty() {
                continue;
            }
            if place == Place::Cookie {
                cookie_pairs.insert((name.clone(), raw.clone()));
            }
            idx.consumers.push(Consumer {
                entry: kept.entry,
                rank,
                location,
                name,
                place,
                raw,
                kind,
                forms,
            });
        }
    }
    // Markers on URLs and cookies of every entry (kept or dropped).
    for (i, e) in entries.iter().enumerate() {
        marker_url_cookies(e, i, &mut markers);
    }

    idx.patterns = pats.list;
    idx.hits = vec![None; idx.patterns.len()];
    let ac = if idx.patterns.is_empty() {
        None
    } else {
        Some(
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(idx.patterns.iter().map(|p| p.as_bytes()))
                .map_err(|e| AnalyzeError::AnalysisFailed(format!("value index: {e}")))?,
        )
    };
    let body_markers: Vec<&'static str> = lists
        .markers
        .iter()
        .filter(|m| m.place == MarkerWhere::Body)
        .map(|m| m.pattern)
        .collect();
    let marker_ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build(&body_markers)
        .map_err(|e| AnalyzeError::AnalysisFailed(format!("marker index: {e}")))?;

    // 2. Producers, in time order: contiguous time ranges of the kept entries are scanned
    // in `cfg.threads` parts on rayon's pool, each keeping the earliest producer per pattern; ranges are
    // in time order, so the first range with a hit has the earliest one (deterministic).
    let threads = cfg.threads.clamp(1, 16).min(f.kept.len() / 512 + 1);
    let per = f.kept.len().div_ceil(threads.max(1)).max(1);
    let shared = Shared {
        entries,
        f,
        ac: ac.as_ref(),
        map: &pats.map,
        cfg,
        cookie_pairs: &cookie_pairs,
        marker_ac: &marker_ac,
        body_markers: &body_markers,
        npatterns: idx.patterns.len(),
    };
    let outs: Vec<RangeOut> = if threads <= 1 {
        vec![scan_range(&shared, 0..f.kept.len(), &mut idx.facts)]
    } else {
        use rayon::prelude::*;
        // Indexed: the ranges come back in time order, whichever thread scanned them.
        idx.facts
            .par_chunks_mut(per)
            .enumerate()
            .map(|(i, chunk)| {
                let range = i * per..(i * per + chunk.len());
                scan_range(&shared, range, chunk)
            })
            .collect()
    };
    for out in outs {
        for (slot, hit) in idx.hits.iter_mut().zip(out.hits) {
            if slot.is_none() {
                *slot = hit;
            }
        }
        for (k, v) in out.set_cookies {
            idx.set_cookies.entry(k).or_insert(v);
        }
        markers.extend(out.markers);
    }

    idx.markers = markers.into_iter().collect();
    Ok(idx)
}

struct Shared<'s, 'h> {
    entries: &'s [Entry<'h>],
    f: &'s Filtered,
    ac: Option<&'s AhoCorasick>,
    map: &'s HashMap<Box<str>, u32, FxBuild>,
    cfg: &'s AnalysisConfig,
    cookie_pairs: &'s HashSet<(String, String)>,
    marker_ac: &'s AhoCorasick,
    body_markers: &'s [&'static str],
    npatterns: usize,
}

#[derive(Default)]
struct RangeOut {
    hits: Vec<Option<Hit>>,
    set_cookies: HashMap<(String, String), (usize, usize)>,
    markers: BTreeSet<MarkerHit>,
}

/// Scans the responses of the kept entries in `range` (time order).
fn scan_range(
    sh: &Shared<'_, '_>,
    range: std::ops::Range<usize>,
    facts_chunk: &mut [Facts],
) -> RangeOut {
    let (entries, f, cfg, lists) = (sh.entries, sh.f, sh.cfg, &*LISTS);
    let (cookie_pairs, marker_ac, body_markers) = (sh.cookie_pairs, sh.marker_ac, sh.body_markers);
    let mut out = RangeOut {
        hits: vec![None; sh.npatterns],
        ..RangeOut::default()
    };
    let mut sc = Scanner {
        ac: sh.ac,
        map: sh.map,
        hits: &mut out.hits,
        cfg,
        rank: 0,
        entry: 0,
    };
    for k in range.clone() {
        let kept = &f.kept[k];
        let e = &entries[kept.entry];
        sc.rank = f.rank[kept.entry];
        sc.entry = kept.entry;
        let facts = &mut facts_chunk[k - range.start];
        facts.response_mime = e
            .response_mime()
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let Some(resp) = &e.response else { continue };
        for h in &resp.headers {
            let name = h.name.as_str().to_ascii_lowercase();
            if name.starts_with(':') || lists.boring_response_headers.contains(name.as_str()) {
                continue;
            }
            sc.offer(&format!("header:{name}"), h.value.as_str(), CLASS_HEADER);
        }
        for (name, value) in response_cookies(e) {
            if cookie_pairs.contains(&(name.clone(), value.clone())) {
                out.set_cookies
                    .entry((name.clone(), value.clone()))
                    .or_insert((sc.rank, sc.entry));
            }
            sc.offer(&format!("set-cookie:{name}"), &value, CLASS_SET_COOKIE);
        }
        for (i, m) in e.websocket_messages.iter().enumerate() {
            if m.kind.as_str() != "receive" {
                continue;
            }
            let data = m.data.as_str();
            let loc = format!("ws:{i}");
            let t = data.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                let _ = json::walk(
                    data,
                    cfg.max_json_depth,
                    cfg.max_values_per_body,
                    &mut |p, l| {
                        if let Leaf::Str(s) | Leaf::Num(s) = l {
                            sc.offer(&format!("{loc}:json:{p}"), s, CLASS_WS);
                        }
                    },
                );
            } else {
                sc.offer(&loc, data, CLASS_WS);
            }
        }
        let text = match e.response_text(cfg.max_body_bytes) {
            Ok(t) => t,
            Err(issue) => {
                facts.has_response_body = issue != BodyIssue::Missing;
                match issue {
                    BodyIssue::Missing => {}
                    BodyIssue::Binary => {
                        facts.notes.push("binary response body: not indexed".into())
                    }
                    BodyIssue::TooLarge(n) => facts.notes.push(format!(
                        "response body of {n} bytes is over the {}-byte limit: not indexed",
                        cfg.max_body_bytes
                    )),
                }
                facts.signature = format!("{}|{}", e.status() / 100, facts.response_mime);
                continue;
            }
        };
        facts.has_response_body = true;
        let mime = facts.response_mime.clone();
        let trimmed = text.trim_start();
        let looks_json = trimmed.starts_with('{') || trimmed.starts_with('[');
        let is_html = is_html_mime(&mime) || (!looks_json && trimmed.starts_with('<'));
        // Captcha/challenge markers live in pages (and in error bodies of challenges), not in
        // ordinary data responses.
        if kept.kind == EntryKind::Document || is_html || e.status() >= 400 {
            for m in marker_ac.find_iter(text.as_bytes()) {
                out.markers.insert(MarkerHit {
                    kind: lists
                        .markers
                        .iter()
                        .find(|r| {
                            r.place == MarkerWhere::Body
                                && r.pattern == body_markers[m.pattern().as_usize()]
                        })
                        .map(|r| r.kind)
                        .unwrap_or(MarkerKind::Captcha),
                    entry: kept.entry,
                    place: "response body".into(),
                    pattern: body_markers[m.pattern().as_usize()].to_string(),
                });
            }
        }
        let mut schema = None;
        if (mime.contains("json") || looks_json) && !is_html {
            match json::walk(
                &text,
                cfg.max_json_depth,
                cfg.max_values_per_body,
                &mut |p, l| {
                    if let Leaf::Str(s) | Leaf::Num(s) = l {
                        sc.offer_json(p, s);
                    }
                },
            ) {
                Ok((s, notes)) => {
                    if notes.too_deep {
                        facts.notes.push(format!(
                            "response body nested deeper than {} levels: deeper values skipped",
                            cfg.max_json_depth
                        ));
                    }
                    if notes.too_many {
                        facts.notes.push(format!(
                            "response body has more than {} values: the rest skipped",
                            cfg.max_values_per_body
                        ));
                    }
                    schema = Some(s);
                }
                Err(err) => {
                    facts.notes.push(format!(
                        "response body is not valid JSON ({err}): searched as text"
                    ));
                    sc.offer("body", &text, CLASS_BODY);
                }
            }
        } else if is_html {
            html::scan(&text, cfg.min_value_len, &mut |v| match v {
                HtmlValue::Input { name, value } => {
                    sc.offer(&format!("html:input:{name}"), &value, CLASS_INPUT)
                }
                HtmlValue::Meta { name, content } => {
                    sc.offer(&format!("html:meta:{name}"), &content, CLASS_META)
                }
                HtmlValue::ScriptLiteral(s, a, b) => sc.offer_script(&s, &text, a, b),
                HtmlValue::ScriptJson(j) => {
                    let _ = json::walk(
                        j,
                        cfg.max_json_depth,
                        cfg.max_values_per_body,
                        &mut |_, l| {
                            if let Leaf::Str(s) | Leaf::Num(s) = l {
                                sc.offer("html:script", s, CLASS_SCRIPT);
                            }
                        },
                    );
                }
            });
        } else {
            sc.offer("body", &text, CLASS_BODY);
        }
        facts.signature = format!(
            "{}|{}|{}",
            e.status() / 100,
            mime,
            schema.as_ref().map(|s| s.signature()).unwrap_or_default()
        );
        facts.response_schema = schema;
    }
    out
}

struct Scanner<'s> {
    ac: Option<&'s AhoCorasick>,
    map: &'s HashMap<Box<str>, u32, FxBuild>,
    hits: &'s mut Vec<Option<Hit>>,
    cfg: &'s AnalysisConfig,
    rank: usize,
    entry: usize,
}

impl Scanner<'_> {
    fn offer_json(&mut self, pointer: &str, value: &str) {
        self.offer_with(value, CLASS_JSON, &mut |s: &mut String| {
            s.push_str("json:");
            s.push_str(pointer);
        });
    }

    /// A script literal: exact matches take their context from the page source around it.
    fn offer_script(&mut self, value: &str, page: &str, start: usize, end: usize) {
        let mut ctx = Some((
            before(page, start, 24).to_string(),
            after(page, end, 1).to_string(),
        ));
        self.offer_ctx(value, CLASS_SCRIPT, &mut ctx, &mut |s: &mut String| {
            s.push_str("html:script")
        });
    }

    fn offer(&mut self, location: &str, value: &str, class: u8) {
        self.offer_with(value, class, &mut |s: &mut String| s.push_str(location));
    }

    /// Records `value` (found at the location `loc` writes) as a producer of every pattern
    /// it equals or contains.
    fn offer_with(&mut self, value: &str, class: u8, loc: &mut dyn FnMut(&mut String)) {
        self.offer_ctx(value, class, &mut None, loc)
    }

    fn offer_ctx(
        &mut self,
        value: &str,
        class: u8,
        exact_ctx: &mut Option<(String, String)>,
        loc: &mut dyn FnMut(&mut String),
    ) {
        if value.len() < self.cfg.min_value_len.min(self.cfg.min_number_len) {
            return;
        }
        let needs_context = class == CLASS_SCRIPT || class == CLASS_BODY;
        // Equal to a request value: one hash lookup.
        if let Some(&pid) = self.map.get(value) {
            self.record(
                pid as usize,
                true,
                class,
                value,
                0,
                value.len(),
                needs_context,
                exact_ctx,
                loc,
            );
        }
        let Some(ac) = self.ac else { return };
        if value.len() <= self.cfg.min_contained_len {
            return;
        }
        // Containing a request value: the automaton runs over the runs of the value that
        // could hold a token (no whitespace, quotes, brackets or separators), so prose and
        // markup cost a byte scan, not an automaton walk.
        let min = self.cfg.min_contained_len;
        for (start, end) in token_runs(value, min) {
            for m in ac.find_overlapping_iter(&value.as_bytes()[start..end]) {
                let (s, e) = (start + m.start(), start + m.end());
                if (s == 0 && e == value.len()) || e - s < min || !bounded(value, s, e) {
                    continue;
                }
                let pid = m.pattern().as_usize();
                self.record(pid, false, class, value, s, e, true, exact_ctx, loc);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        pid: usize,
        exact: bool,
        class: u8,
        value: &str,
        start: usize,
        end: usize,
        context: bool,
        exact_ctx: &mut Option<(String, String)>,
        loc: &mut dyn FnMut(&mut String),
    ) {
        if let Some(h) = &self.hits[pid]
            && (h.rank < self.rank
                || (h.rank == self.rank && (!h.exact, h.class) <= (!exact, class)))
        {
            return;
        }
        let mut location = String::new();
        loc(&mut location);
        let (before, after) = if exact && exact_ctx.is_some() {
            exact_ctx.clone().unwrap_or_default()
        } else if context {
            (
                before(value, start, 24).to_string(),
                after(value, end, 24).to_string(),
            )
        } else {
            (String::new(), String::new())
        };
        self.hits[pid] = Some(Hit {
            rank: self.rank,
            entry: self.entry,
            location,
            exact,
            class,
            before,
            after,
        });
    }
}

/// Byte ranges of `s` between separators (whitespace, quotes, brackets, `,`, `;`, `<`, `>`)
/// that are at least `min` bytes long: where a token can be.
pub fn token_runs(s: &str, min: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            while i < b.len() && is_separator(b[i]) {
                i += 1;
            }
            let start = i;
            while i < b.len() && !is_separator(b[i]) {
                i += 1;
            }
            if i - start >= min {
                return Some((start, i));
            }
        }
        None
    })
}

const SEPARATORS: [bool; 256] = {
    let mut t = [false; 256];
    let seps = b" \t\n\r\"'`<>()[]{},;";
    let mut i = 0;
    while i < seps.len() {
        t[seps[i] as usize] = true;
        i += 1;
    }
    t
};

#[inline]
fn is_separator(c: u8) -> bool {
    SEPARATORS[c as usize]
}

/// FxHash (as in rustc): fast, deterministic hashing for the pattern table.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

fn marker_field(
    name: &str,
    location: &str,
    entry: usize,
    place: Place,
    out: &mut BTreeSet<MarkerHit>,
) {
    if matches!(place, Place::Path(_) | Place::Body | Place::Cookie) {
        return;
    }
    let lname = name.to_ascii_lowercase();
    for r in LISTS
        .markers
        .iter()
        .filter(|r| r.place == MarkerWhere::Field)
    {
        let hit = lname == r.pattern || (r.pattern.len() >= 8 && lname.contains(r.pattern));
        if hit {
            out.insert(MarkerHit {
                kind: r.kind,
                entry,
                place: format!("field {location}"),
                pattern: r.pattern.to_string(),
            });
        }
    }
}

fn marker_url_cookies(e: &Entry<'_>, entry: usize, out: &mut BTreeSet<MarkerHit>) {
    let url = e.url();
    let (host, path) = match urls::url_parts(url) {
        Some(u) => (u.host, u.path.to_ascii_lowercase()),
        None => return,
    };
    let mut cookies: Vec<String> = request_cookies(e).into_iter().map(|c| c.0).collect();
    cookies.extend(response_cookies(e).into_iter().map(|c| c.0));
    for r in &LISTS.markers {
        let hit = match r.place {
            MarkerWhere::Host => host == r.pattern || host.ends_with(&format!(".{}", r.pattern)),
            MarkerWhere::Path => path.contains(r.pattern),
            MarkerWhere::Cookie => cookies
                .iter()
                .any(|c| crate::lists::glob_prefix(r.pattern, c)),
            _ => false,
        };
        if hit {
            let place = match r.place {
                MarkerWhere::Host => format!("host {host}"),
                MarkerWhere::Path => format!("path {path}"),
                _ => format!("cookie {}", r.pattern.trim_end_matches('*')),
            };
            out.insert(MarkerHit {
                kind: r.kind,
                entry,
                place,
                pattern: r.pattern.to_string(),
            });
        }
    }
}

/// The char-boundary-safe slice of at most `n` bytes before `at`.
pub fn before(s: &str, at: usize, n: usize) -> &str {
    let mut start = at.saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..at]
}

/// The char-boundary-safe slice of at most `n` bytes after `at`.
pub fn after(s: &str, at: usize, n: usize) -> &str {
    let mut end = (at + n).min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[at..end]
}

/// True when the bytes around `[start, end)` in `hay` are not alphanumeric (a token match).
pub fn bounded(hay: &str, start: usize, end: usize) -> bool {
    let b = hay.as_bytes();
    let ok = |c: u8| !c.is_ascii_alphanumeric() && c != b'_';
    (start == 0 || ok(b[start - 1])) && (end >= b.len() || ok(b[end]))
}
