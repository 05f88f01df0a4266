//! Stage 5, graph: resolve every request value to its earliest earlier producer (a typed
//! edge with evidence in a `petgraph` graph), and classify the values nothing produced.

use std::collections::{BTreeSet, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::UserInput;
use crate::config::AnalysisConfig;
use crate::endpoints::Inventory;
use crate::filter::Filtered;
use crate::har::Har;
use crate::index::{self, Consumer, Form, Hit, Index, Place};
use crate::lists::LISTS;
use crate::model::{ComputedKind, Edge, UnresolvedKind};
use crate::value_class;
use spool_model::secret::{self, is_credential_name};

/// One producer of (part of) a request value.
#[derive(Debug, Clone)]
pub struct Source {
    pub hit: Hit,
    pub form: Form,
    /// The value as matched (the pattern text).
    pub value: String,
}

/// How a request value is obtained.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// From earlier responses (one source for whole values, several for composites).
    Produced(Vec<Source>),
    /// Typed by the person: input names and the values they stand for.
    Input {
        inputs: Vec<(String, String)>,
        secret: bool,
    },
    Computed(ComputedKind),
    /// A cookie that was already in the browser.
    BrowserState {
        input: String,
    },
    Constant,
    /// A literal path segment of the endpoint's route.
    Route,
}

/// An unresolved value, before it is put in the report.
#[derive(Debug, Clone)]
pub struct Open {
    pub consumer: usize,
    pub kind: UnresolvedKind,
    pub input: Option<String>,
    pub computed: Option<ComputedKind>,
    pub secret: bool,
    pub reason: String,
}

/// The dependency graph.
#[derive(Debug, Default)]
pub struct DepGraph {
    /// Node weight: the HAR entry index. Edge weight: index into `edges`.
    pub graph: DiGraph<usize, usize>,
    pub node_of: HashMap<usize, NodeIndex>,
    pub edges: Vec<Edge>,
    /// Per consumer (same order as `Index::consumers`).
    pub resolution: Vec<Resolution>,
    pub open: Vec<Open>,
    /// Every recorded value that sits in a secret place, as request or as response value.
    pub secret_values: HashSet<String>,
}

fn class_name(c: u8) -> &'static str {
    match c {
        index::CLASS_JSON => "json",
        index::CLASS_INPUT => "html:input",
        index::CLASS_META => "html:meta",
        index::CLASS_HEADER => "header",
        index::CLASS_SET_COOKIE => "set-cookie",
        index::CLASS_SCRIPT => "html:script",
        index::CLASS_WS => "ws",
        _ => "body",
    }
}

fn place_name(p: Place) -> &'static str {
    match p {
        Place::Path(_) => "path",
        Place::Query => "query",
        Place::Form => "form",
        Place::Json => "json",
        Place::Header => "header",
        Place::Cookie => "cookie",
        Place::Body => "body",
    }
}

/// A name usable as a script parameter: lowercase letters, digits and `_`.
pub fn input_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    let s = s.trim_matches('_').to_string();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("input_{s}")
    } else {
        s
    }
}

/// Whether a request value sits where `spool_model::secret` says secrets sit (an export
/// redacts it): never printed, never baked into code.
pub fn is_secret(c: &Consumer) -> bool {
    match c.place {
        Place::Cookie => true,
        Place::Header => secret::is_secret_header(&c.name),
        Place::Query | Place::Form | Place::Json => secret::is_secret_name(&c.name),
        Place::Path(_) | Place::Body => false,
    }
}

/// Whether a response value sits where an export would redact it (`set-cookie:sid`,
/// `header:x-auth-token`, `json:/data/token`, `html:input:csrf`, `html:meta:csrf-token`).
fn is_secret_producer(location: &str) -> bool {
    let (class, rest) = location.split_once(':').unwrap_or((location, ""));
    match class {
        "set-cookie" => true,
        "header" => secret::is_secret_header(rest),
        "json" => rest.rsplit('/').next().is_some_and(secret::is_secret_name),
        "html" => rest.split_once(':').is_some_and(|(tag, name)| {
            matches!(tag, "input" | "meta") && secret::is_secret_name(name)
        }),
        _ => false,
    }
}

impl DepGraph {
    /// A preview of a value for the analysis: masked when it is a secret here or anywhere
    /// else in the recording an export would redact it.
    pub fn preview(&self, value: &str, secret: bool) -> String {
        preview(value, secret || self.secret_values.contains(value))
    }
}

/// Builds the graph.
pub fn build(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    inv: &Inventory,
    inputs: &[UserInput],
    task: Option<&str>,
    cfg: &AnalysisConfig,
) -> DepGraph {
    let mut g = DepGraph::default();
    let mut kept_of: HashMap<usize, usize> = HashMap::with_capacity(f.kept.len());
    for (k, kept) in f.kept.iter().enumerate() {
        let n = g.graph.add_node(kept.entry);
        g.node_of.insert(kept.entry, n);
        kept_of.insert(kept.entry, k);
    }
    // Pass 1: producers.
    let mut found: Vec<Option<Vec<Source>>> = Vec::with_capacity(idx.consumers.len());
    let mut route = vec![false; idx.consumers.len()];
    for (ci, c) in idx.consumers.iter().enumerate() {
        // A literal segment of the endpoint's route is part of the route, not a value:
        // only templated segments (ids, tokens, slugs) and literal ones holding digits
        // (one-off ids) are looked up.
        if let Place::Path(i) = c.place {
            let k = kept_of[&c.entry];
            let templated = inv.placeholders[k].get(i).copied().flatten().is_some();
            if !templated && !c.raw.bytes().any(|b| b.is_ascii_digit()) {
                route[ci] = true;
                found.push(None);
                continue;
            }
            let res = resolve(c, idx);
            if res.is_none() && !templated {
                route[ci] = true;
            }
            found.push(res);
            continue;
        }
        found.push(resolve(c, idx));
    }
    // Page scripts, searched once for the values nothing produced (constants of the page).
    let page_hits = page_hits(h, f, idx, &found, &route, inputs, cfg);
    // Secret values first, so that every preview below can mask them wherever they appear.
    for (c, res) in idx.consumers.iter().zip(&found) {
        let sources = res.as_deref().unwrap_or_default();
        if is_secret(c) || sources.iter().any(|s| is_secret_producer(&s.hit.location)) {
            g.secret_values.insert(c.raw.clone());
            g.secret_values
                .extend(sources.iter().map(|s| s.value.clone()));
        }
    }
    // Pass 2: edges and classification.
    let task_l = task.map(str::to_lowercase);
    for (ci, (c, res)) in idx.consumers.iter().zip(found).enumerate() {
        if route[ci] {
            g.resolution.push(Resolution::Route);
            continue;
        }
        let res = match res {
            Some(sources) => {
                for s in &sources {
                    let secret = is_secret(c) || is_secret_producer(&s.hit.location);
                    let edge = Edge {
                        from: s.hit.entry,
                        from_location: s.hit.location.clone(),
                        to: c.entry,
                        to_location: c.location.clone(),
                        kind: format!("{}->{}", class_name(s.hit.class), place_name(c.place)),
                        value: g.preview(&s.value, secret),
                        evidence: evidence(s),
                    };
                    let ei = g.edges.len();
                    g.edges.push(edge);
                    if let (Some(&a), Some(&b)) =
                        (g.node_of.get(&s.hit.entry), g.node_of.get(&c.entry))
                    {
                        g.graph.add_edge(a, b, ei);
                    }
                }
                Resolution::Produced(sources)
            }
            None => {
                let (res, open) =
                    classify(ci, c, idx, f, &page_hits, inputs, task_l.as_deref(), cfg);
                g.open.push(open);
                res
            }
        };
        g.resolution.push(res);
    }
    g
}

/// For the patterns of unresolved values: the earliest page script (a dropped entry) that
/// contains one, as (rank, entry).
fn page_hits(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    found: &[Option<Vec<Source>>],
    route: &[bool],
    inputs: &[UserInput],
    cfg: &AnalysisConfig,
) -> HashMap<u32, (usize, usize)> {
    let mut out = HashMap::new();
    if f.page_sources.is_empty() {
        return out;
    }
    let mut pids: Vec<u32> = Vec::new();
    for (ci, c) in idx.consumers.iter().enumerate() {
        // Only values the earlier classification steps (inputs, cookies, credentials) leave.
        let typed = inputs
            .iter()
            .any(|u| !u.value.is_empty() && c.raw.contains(u.value.as_str()));
        if found[ci].is_none()
            && !route[ci]
            && c.place != Place::Cookie
            && !typed
            && !is_credential_name(&c.name)
        {
            pids.extend(c.forms.iter().map(|(_, p)| *p));
        }
    }
    pids.sort_unstable();
    pids.dedup();
    if pids.is_empty() {
        return out;
    }
    let Ok(ac) =
        aho_corasick::AhoCorasick::new(pids.iter().map(|p| idx.patterns[*p as usize].as_bytes()))
    else {
        return out;
    };
    for &i in &f.page_sources {
        let Ok(text) = h.log.entries[i].response_text(cfg.max_body_bytes) else {
            continue;
        };
        let rank = f.rank[i];
        for (start, end) in index::token_runs(&text, cfg.min_value_len) {
            for m in ac.find_overlapping_iter(&text.as_bytes()[start..end]) {
                let (s, e) = (start + m.start(), start + m.end());
                let pid = pids[m.pattern().as_usize()];
                if index::bounded(&text, s, e) {
                    let slot = out.entry(pid).or_insert((rank, i));
                    if rank < slot.0 {
                        *slot = (rank, i);
                    }
                }
            }
        }
    }
    out
}

fn evidence(s: &Source) -> String {
    let how = if s.hit.exact {
        "equals the response value".to_string()
    } else {
        "found inside the response value".to_string()
    };
    match s.form {
        Form::Plain => format!("request value {how}"),
        Form::Scheme => format!("request value after its auth scheme {how}"),
        other => format!("{} form of the request value {how}", other.name()),
    }
}

/// The earliest earlier producer(s) of a consumer, or `None`.
fn resolve(c: &Consumer, idx: &Index) -> Option<Vec<Source>> {
    if c.place == Place::Cookie
        && let Some(&(rank, entry)) = idx.set_cookies.get(&(c.name.clone(), c.raw.clone()))
        && rank < c.rank
    {
        return Some(vec![Source {
            hit: Hit {
                rank,
                entry,
                location: format!("set-cookie:{}", c.name),
                exact: true,
                class: index::CLASS_SET_COOKIE,
                before: String::new(),
                after: String::new(),
            },
            form: Form::Plain,
            value: c.raw.clone(),
        }]);
    }
    let mut best: Option<(&Hit, Form, u32)> = None;
    for &(form, pid) in c.forms.iter().filter(|(f, _)| f.is_whole()) {
        let Some(h) = &idx.hits[pid as usize] else {
            continue;
        };
        if h.rank >= c.rank {
            continue;
        }
        let better = match best {
            None => true,
            Some((b, bf, _)) => (h.rank, form, !h.exact, h.class) < (b.rank, bf, !b.exact, b.class),
        };
        if better {
            best = Some((h, form, pid));
        }
    }
    if let Some((h, form, pid)) = best {
        return Some(vec![Source {
            hit: h.clone(),
            form,
            value: idx.patterns[pid as usize].to_string(),
        }]);
    }
    let mut parts: Vec<Source> = Vec::new();
    let mut seen: BTreeSet<(usize, String)> = BTreeSet::new();
    for &(form, pid) in c.forms.iter().filter(|(f, _)| !f.is_whole()) {
        let Some(h) = &idx.hits[pid as usize] else {
            continue;
        };
        if h.rank >= c.rank || !seen.insert((h.entry, h.location.clone())) {
            continue;
        }
        parts.push(Source {
            hit: h.clone(),
            form,
            value: idx.patterns[pid as usize].to_string(),
        });
    }
    (!parts.is_empty()).then_some(parts)
}

/// Every string the consumer's value was searched as (its forms).
fn form_strings<'i>(c: &Consumer, idx: &'i Index) -> impl Iterator<Item = &'i str> {
    c.forms
        .iter()
        .map(move |(_, pid)| &*idx.patterns[*pid as usize])
}

#[allow(clippy::too_many_arguments)]
fn classify(
    ci: usize,
    c: &Consumer,
    idx: &Index,
    f: &Filtered,
    page_hits: &HashMap<u32, (usize, usize)>,
    inputs: &[UserInput],
    task: Option<&str>,
    cfg: &AnalysisConfig,
) -> (Resolution, Open) {
    let lists = &*LISTS;
    let secret_name = is_credential_name(&c.name);
    let open = |kind, input: Option<String>, computed, secret, reason: String| Open {
        consumer: ci,
        kind,
        input,
        computed,
        secret,
        reason,
    };
    // A value sent as recorded (a constant), with its reason.
    let constant = |reason: String| {
        (
            Resolution::Constant,
            open(UnresolvedKind::Constant, None, None, false, reason),
        )
    };
    // A value computed in the page, of `kind`, with its reason.
    let computed = |kind: ComputedKind, reason: String| {
        (
            Resolution::Computed(kind),
            open(UnresolvedKind::Computed, None, Some(kind), false, reason),
        )
    };
    // A user input taken from `inputs` (name, value pairs), with its reason.
    let user_input = |inputs: Vec<(String, String)>, secret: bool, reason: String| {
        let names: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
        let shown = open(
            UnresolvedKind::UserInput,
            Some(names.join(",")),
            None,
            secret,
            reason,
        );
        (Resolution::Input { inputs, secret }, shown)
    };
    // 1. Explicit inputs / typed text: equal to a form of the value, else inside it.
    let forms: Vec<&str> = form_strings(c, idx).collect();
    for inp in inputs {
        if !inp.value.is_empty() && (c.raw == inp.value || forms.contains(&inp.value.as_str())) {
            let name = input_name(&inp.name);
            let secret = secret_name || is_credential_name(&inp.name);
            let reason = format!("equals the user input `{name}`");
            return user_input(vec![(name, inp.value.clone())], secret, reason);
        }
    }
    let mut parts: Vec<(String, String)> = Vec::new();
    for inp in inputs {
        if inp.value.chars().count() < cfg.min_value_len {
            continue;
        }
        let inside = std::iter::once(c.raw.as_str())
            .chain(forms.iter().copied())
            .any(|s| {
                s.match_indices(inp.value.as_str())
                    .any(|(at, m)| index::bounded(s, at, at + m.len()))
            });
        if inside && !parts.iter().any(|(n, _)| *n == input_name(&inp.name)) {
            parts.push((input_name(&inp.name), inp.value.clone()));
        }
    }
    if !parts.is_empty() {
        let secret = secret_name || parts.iter().any(|(n, _)| is_credential_name(n));
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        let reason = format!("contains the user input(s) {}", names.join(", "));
        return user_input(parts, secret, reason);
    }
    // 2. The task description.
    if let Some(task) = task
        && matches!(c.place, Place::Query | Place::Form | Place::Json)
        && c.raw.chars().count() >= 3
    {
        let v = c.raw.to_lowercase();
        if task
            .match_indices(v.as_str())
            .any(|(at, m)| index::bounded(task, at, at + m.len()))
        {
            return user_input(
                vec![(input_name(&c.name), c.raw.clone())],
                secret_name,
                "appears in the task description".into(),
            );
        }
    }
    // 3. Cookies nothing set: browser state.
    if c.place == Place::Cookie {
        let name = input_name(&format!("cookie_{}", c.name));
        return (
            Resolution::BrowserState {
                input: name.clone(),
            },
            open(
                UnresolvedKind::BrowserState,
                Some(name),
                None,
                true,
                "cookie set by no recorded response (already in the browser)".into(),
            ),
        );
    }
    // 4. Credential-like fields.
    if secret_name {
        return user_input(
            vec![(input_name(&c.name), c.raw.clone())],
            true,
            format!("field `{}` holds a credential", c.name),
        );
    }
    // 5. Literals of page scripts.
    if let Some((_, e)) = c
        .forms
        .iter()
        .filter_map(|(_, pid)| page_hits.get(pid).copied())
        .min()
    {
        return constant(format!("literal found in page script (entry {e})"));
    }
    // 6. Computed in the page.
    let raw = c.raw.trim();
    if let Some(kind) = timestamp_kind(raw, f.start_ms.get(c.entry).copied().flatten()) {
        return (
            Resolution::Computed(kind),
            open(
                UnresolvedKind::Computed,
                None,
                Some(kind),
                false,
                "a timestamp within a day of the request (current time)".into(),
            ),
        );
    }
    if value_class::is_uuid(raw) {
        return computed(ComputedKind::Uuid, "a UUID generated in the page".into());
    }
    // `Scheme value` headers: judge the value.
    let token = match raw.rsplit_once(' ') {
        Some((_, t)) if !t.is_empty() => t,
        _ => raw,
    };
    if token.len() >= cfg.min_computed_len
        && token
            .chars()
            .filter(|&ch| value_class::is_token_char(ch))
            .count()
            * 10
            >= token.chars().count() * 9
        && value_class::entropy(token) >= cfg.entropy_bits
        && token.chars().any(|ch| ch.is_ascii_digit())
    {
        return computed(
            ComputedKind::Opaque,
            format!(
                "high-entropy value ({:.1} bits/char, {} chars) found in no earlier response: computed in the page",
                value_class::entropy(token),
                token.chars().count()
            ),
        );
    }
    // 7. Fields a person types.
    if lists.is_user_input_name(&c.name)
        && matches!(c.place, Place::Query | Place::Form | Place::Json)
    {
        let name = input_name(&c.name);
        return (
            Resolution::Input {
                inputs: vec![(name.clone(), c.raw.clone())],
                secret: false,
            },
            open(
                UnresolvedKind::UserInput,
                Some(name),
                None,
                false,
                format!("field `{}` is typed by the user", c.name),
            ),
        );
    }
    constant("found in no earlier response: sent as recorded".into())
}

fn timestamp_kind(v: &str, at_ms: Option<f64>) -> Option<ComputedKind> {
    let at = at_ms?;
    if !v.bytes().all(|b| b.is_ascii_digit()) || !(10..=13).contains(&v.len()) {
        return None;
    }
    let n: f64 = v.parse().ok()?;
    const DAY: f64 = 86_400_000.0;
    if (n - at).abs() <= DAY {
        Some(ComputedKind::TimestampMs)
    } else if (n * 1000.0 - at).abs() <= DAY {
        Some(ComputedKind::TimestampS)
    } else {
        None
    }
}

impl DepGraph {
    /// All ancestors of `entry` (and itself), as entry indexes.
    pub fn ancestors(&self, entry: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let Some(&start) = self.node_of.get(&entry) else {
            return out;
        };
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            if out.insert(self.graph[n]) {
                stack.extend(self.graph.neighbors_directed(n, Direction::Incoming));
            }
        }
        out
    }

    /// The longest path (in edges) ending at `entry`, as the entry indexes along it.
    pub fn longest_path_to(&self, entry: usize, rank: &[usize]) -> Vec<usize> {
        let anc = self.ancestors(entry);
        let mut order: Vec<usize> = anc.iter().copied().collect();
        order.sort_by_key(|&e| rank[e]);
        let mut best: HashMap<usize, (usize, Option<usize>)> = HashMap::new();
        for &e in &order {
            let n = self.node_of[&e];
            let mut b = (0usize, None);
            for p in self.graph.neighbors_directed(n, Direction::Incoming) {
                let pe = self.graph[p];
                if let Some(&(d, _)) = best.get(&pe)
                    && (d + 1 > b.0
                        || (d + 1 == b.0 && b.1.is_some_and(|x: usize| rank[pe] < rank[x])))
                {
                    b = (d + 1, Some(pe));
                }
            }
            best.insert(e, b);
        }
        let mut path = vec![entry];
        let mut cur = entry;
        while let Some(&(_, Some(p))) = best.get(&cur) {
            path.push(p);
            cur = p;
        }
        path.reverse();
        path
    }

    /// Entries whose responses `entry` uses directly.
    pub fn parents(&self, entry: usize) -> Vec<usize> {
        let Some(&n) = self.node_of.get(&entry) else {
            return Vec::new();
        };
        let set: BTreeSet<usize> = self
            .graph
            .neighbors_directed(n, Direction::Incoming)
            .map(|p| self.graph[p])
            .collect();
        set.into_iter().collect()
    }
}

/// A short preview of a value for reports: secrets are masked, long values elided.
pub fn preview(v: &str, secret: bool) -> String {
    let n = v.chars().count();
    if secret {
        return format!("<secret, {n} chars>");
    }
    if n <= 32 {
        return v.to_string();
    }
    let head: String = v.chars().take(16).collect();
    let tail: String = v.chars().skip(n - 8).collect();
    format!("{head}…{tail} ({n} chars)")
}
