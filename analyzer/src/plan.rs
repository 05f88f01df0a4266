//! The chain as an executable plan: steps with request templates, value extractions and
//! bindings. The Python and curl generators print this plan; the engine can run it natively.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::decode;
use crate::filter::Filtered;
use crate::graph::{self, DepGraph, Resolution, Source};
use crate::har::Har;
use crate::index::{self, Consumer, Form, Index, Place};
use crate::json;
use crate::lists::LISTS;
use crate::model::{ComputedKind, Modality};

/// The plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ApiPlan {
    pub version: u32,
    pub modality: Option<Modality>,
    /// The recorded origin of the target; steps on it use the `baseUrl` input instead.
    pub base_url: Option<String>,
    /// The id of the target step.
    pub target: Option<String>,
    pub inputs: Vec<PlanInput>,
    pub steps: Vec<PlanStep>,
    pub warnings: Vec<String>,
}

/// A value the caller supplies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanInput {
    pub name: String,
    /// Secrets have no default: the recorded value is never kept.
    pub secret: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default: Option<String>,
    pub description: String,
}

/// One HTTP request of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// `s1`, `s2`, ...
    pub id: String,
    /// The HAR entry it was recorded as.
    pub entry: usize,
    pub method: String,
    /// `None`: the `baseUrl` input; otherwise this recorded origin.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<String>,
    /// The path, percent-encoded except for the substituted parts.
    pub path: PlanValue,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub query: Vec<PlanField>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub headers: Vec<PlanField>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cookies: Vec<PlanField>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<PlanBody>,
    /// Values taken from this step's response for later steps.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub extract: Vec<Extraction>,
    /// The status recorded.
    pub expect_status: i64,
}

/// A name and a value template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanField {
    pub name: String,
    pub value: PlanValue,
}

/// A value made of literal and substituted parts, concatenated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct PlanValue(pub Vec<Part>);

impl PlanValue {
    pub fn lit(s: impl Into<String>) -> Self {
        PlanValue(vec![Part::Lit(s.into())])
    }
    /// The literal text when there is no substitution.
    pub fn as_lit(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// How a substituted part is encoded into the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Encoding {
    /// Percent-encoded (path segments and values embedded in URL-encoded text).
    Url,
    /// Escaped as inside a JSON string.
    Json,
}

/// A part of a [`PlanValue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Part {
    Lit(String),
    /// A value extracted from an earlier step.
    Var {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        encode: Option<Encoding>,
    },
    /// A caller-supplied input.
    Input {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        encode: Option<Encoding>,
    },
    /// Made fresh at run time.
    Computed {
        kind: ComputedKind,
    },
    /// The `baseUrl` input.
    BaseUrl,
    /// Base64 of the concatenated parts.
    Base64(Vec<Part>),
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum PlanBody {
    /// The recorded JSON with `null` at every substituted pointer, then `set`.
    Json {
        mime_type: String,
        template: Value,
        set: Vec<JsonSet>,
    },
    Form {
        mime_type: String,
        fields: Vec<PlanField>,
    },
    Raw {
        mime_type: String,
        text: PlanValue,
    },
}

/// Set `value` at `pointer` of a JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonSet {
    pub pointer: String,
    /// The pointer as a typed path (strings for keys, numbers for array indexes).
    pub path: Vec<Value>,
    pub value: PlanValue,
    /// `string`, `integer`, `number` or `boolean`: the recorded JSON type.
    #[serde(rename = "as")]
    pub as_type: String,
}

/// Take `var` from the response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    pub var: String,
    /// A producer location (`json:/token`, `header:x`, `set-cookie:s`, `html:input:csrf`,
    /// `html:meta:n`, `html:script`, `body`).
    pub location: String,
    /// When set, the value is the text between these (in the located value, or in the
    /// whole body for `html:script` and `body`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after: Option<String>,
}

struct Builder<'a> {
    vars: HashMap<(usize, String, String, String), String>,
    used_names: BTreeMap<String, usize>,
    extract: BTreeMap<usize, Vec<Extraction>>,
    inputs: BTreeMap<String, PlanInput>,
    warnings: Vec<String>,
    idx: &'a Index,
    secret_values: &'a HashSet<String>,
}

impl Builder<'_> {
    fn unique(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "value" } else { base };
        let n = self.used_names.entry(base.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base.to_string()
        } else {
            format!("{base}_{n}")
        }
    }

    fn var_for(&mut self, s: &Source) -> String {
        let key = (
            s.hit.entry,
            s.hit.location.clone(),
            s.hit.before.clone(),
            s.hit.after.clone(),
        );
        if let Some(v) = self.vars.get(&key) {
            return v.clone();
        }
        let base = var_base(&s.hit.location);
        let name = self.unique(&base);
        self.vars.insert(key, name.clone());
        let ctx = !s.hit.before.is_empty() || !s.hit.after.is_empty() || !s.hit.exact;
        self.extract
            .entry(s.hit.entry)
            .or_default()
            .push(Extraction {
                var: name.clone(),
                location: s.hit.location.clone(),
                before: ctx.then(|| s.hit.before.clone()),
                after: ctx.then(|| s.hit.after.clone()),
            });
        if s.hit.location.starts_with("ws:") {
            self.warnings.push(format!(
                "`{name}` comes from a WebSocket frame (entry {}): plain HTTP cannot replay it",
                s.hit.entry
            ));
        }
        name
    }

    fn input(&mut self, name: &str, secret: bool, recorded: &str, description: String) {
        let e = self.inputs.entry(name.to_string()).or_insert(PlanInput {
            name: name.to_string(),
            secret,
            default: (!secret).then(|| recorded.to_string()),
            description,
        });
        if secret {
            e.secret = true;
            e.default = None;
        }
    }

    /// The value template of a consumer.
    fn value(&mut self, c: &Consumer, res: &Resolution) -> PlanValue {
        match res {
            Resolution::Produced(sources) => {
                let subs: Vec<(String, Part)> = sources
                    .iter()
                    .map(|s| {
                        let name = self.var_for(s);
                        (s.value.clone(), Part::Var { name, encode: None })
                    })
                    .collect();
                if sources.iter().any(|s| s.form == Form::Jwt) {
                    self.warnings.push(format!(
                        "entry {} {}: value sits inside a JWT made by the page; sent as recorded",
                        c.entry, c.location
                    ));
                    return self.recorded(c);
                }
                self.template(c, &subs)
            }
            Resolution::Input { inputs, secret } => {
                for (name, value) in inputs {
                    self.input(
                        name,
                        *secret
                            || spool_model::secret::is_secret_name(name)
                            || self.secret_values.contains(value),
                        value,
                        format!("typed by the user (entry {} {})", c.entry, c.location),
                    );
                }
                let subs: Vec<(String, Part)> = inputs
                    .iter()
                    .map(|(n, v)| {
                        (
                            v.clone(),
                            Part::Input {
                                name: n.clone(),
                                encode: None,
                            },
                        )
                    })
                    .collect();
                self.template(c, &subs)
            }
            Resolution::BrowserState { input } => {
                self.input(
                    input,
                    true,
                    &c.raw,
                    format!(
                        "cookie `{}` the browser already had (entry {})",
                        c.name, c.entry
                    ),
                );
                PlanValue(vec![Part::Input {
                    name: input.clone(),
                    encode: None,
                }])
            }
            Resolution::Computed(
                kind @ (ComputedKind::TimestampMs | ComputedKind::TimestampS | ComputedKind::Uuid),
            ) => PlanValue(vec![Part::Computed { kind: *kind }]),
            Resolution::Computed(ComputedKind::Opaque) => {
                self.warnings.push(format!(
                    "entry {} {}: computed by page JavaScript; sent as recorded (asked for as an input when it is a secret), which the server may reject",
                    c.entry, c.location
                ));
                self.recorded(c)
            }
            Resolution::Constant | Resolution::Route => self.recorded(c),
        }
    }

    /// The recorded value as a literal, unless it is a secret: then a secret input without
    /// a default, so generated code never carries a value an export would redact.
    fn recorded(&mut self, c: &Consumer) -> PlanValue {
        if !graph::is_secret(c) && !self.secret_values.contains(&c.raw) {
            return PlanValue::lit(c.raw.clone());
        }
        // One input per recorded place: two secrets of one name (two signatures) differ.
        let name = self.unique(&graph::input_name(&c.name));
        self.input(
            &name,
            true,
            &c.raw,
            format!("a recorded secret (entry {} {})", c.entry, c.location),
        );
        PlanValue(vec![Part::Input { name, encode: None }])
    }

    /// Splits the recorded value around the substituted values.
    fn template(&mut self, c: &Consumer, subs: &[(String, Part)]) -> PlanValue {
        if let Some(parts) = split_around(&c.raw, subs) {
            return PlanValue(parts);
        }
        // `Scheme base64(...)` (e.g. Basic auth): rebuild the base64.
        let (prefix, rest) = match c.raw.split_once(' ') {
            Some((s, r)) if c.place == Place::Header => (format!("{s} "), r),
            _ => (String::new(), c.raw.as_str()),
        };
        if let Some(decoded) = decode::decode_base64_text(rest)
            && let Some(inner) = split_around(&decoded, subs)
        {
            let mut parts = Vec::new();
            if !prefix.is_empty() {
                parts.push(Part::Lit(prefix));
            }
            parts.push(Part::Base64(inner));
            return PlanValue(parts);
        }
        self.warnings.push(format!(
            "entry {} {}: could not place the substituted value; sent as recorded",
            c.entry, c.location
        ));
        let _ = self.idx;
        PlanValue::lit(c.raw.clone())
    }
}

fn with_encoding(p: &Part, enc: Encoding) -> Part {
    match p {
        Part::Var { name, .. } => Part::Var {
            name: name.clone(),
            encode: Some(enc),
        },
        Part::Input { name, .. } => Part::Input {
            name: name.clone(),
            encode: Some(enc),
        },
        other => other.clone(),
    }
}

/// `raw` with each value replaced by its part (plain, percent-encoded or JSON-escaped
/// occurrences), or `None` when a value does not occur.
fn split_around(raw: &str, subs: &[(String, Part)]) -> Option<Vec<Part>> {
    let mut spans: Vec<(usize, usize, Part)> = Vec::new();
    for (v, part) in subs {
        if v.is_empty() {
            continue;
        }
        let json_esc = serde_json::to_string(v)
            .ok()
            .map(|s| s[1..s.len() - 1].to_string());
        let candidates = [
            (v.clone(), part.clone()),
            (
                spool_model::percent::encode_component(v),
                with_encoding(part, Encoding::Url),
            ),
            (
                json_esc.unwrap_or_default(),
                with_encoding(part, Encoding::Json),
            ),
        ];
        let mut found = false;
        for (needle, p) in candidates {
            if needle.is_empty() {
                continue;
            }
            let mut any = false;
            for (at, _) in raw.match_indices(needle.as_str()) {
                let end = at + needle.len();
                if spans.iter().any(|(s, e, _)| at < *e && *s < end) {
                    continue;
                }
                spans.push((at, end, p.clone()));
                any = true;
            }
            if any {
                found = true;
                break;
            }
        }
        if !found {
            return None;
        }
    }
    spans.sort_by_key(|s| s.0);
    let mut parts = Vec::new();
    let mut pos = 0;
    for (s, e, p) in spans {
        if s > pos {
            parts.push(Part::Lit(raw[pos..s].to_string()));
        }
        parts.push(p);
        pos = e;
    }
    if pos < raw.len() {
        parts.push(Part::Lit(raw[pos..].to_string()));
    }
    Some(parts)
}

/// A variable name from a producer location.
fn var_base(location: &str) -> String {
    let name = if let Some(p) = location
        .strip_prefix("json:")
        .or_else(|| location.rsplit_once(":json:").map(|x| x.1))
    {
        let segs = json::pointer_segments(p);
        let mut named: Vec<&str> = segs
            .iter()
            .rev()
            .filter(|s| !s.bytes().all(|b| b.is_ascii_digit()))
            .map(String::as_str)
            .take(1)
            .collect();
        named.reverse();
        named.join("_")
    } else if let Some(n) = location.strip_prefix("set-cookie:") {
        format!("{n}_cookie")
    } else if let Some(n) = location
        .strip_prefix("html:input:")
        .or_else(|| location.strip_prefix("html:meta:"))
        .or_else(|| location.strip_prefix("header:"))
    {
        n.to_string()
    } else if location == "html:script" {
        "script_value".to_string()
    } else {
        "body_value".to_string()
    };
    let n = crate::graph::input_name(&name);
    if matches!(
        n.as_str(),
        "base_url" | "r" | "s" | "body" | "args" | "session"
    ) {
        format!("{n}_value")
    } else {
        n
    }
}

/// Builds the plan for the chain (entries in time order).
pub fn build(
    har: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    g: &DepGraph,
    chain: &[usize],
    target: Option<usize>,
    modality: Option<Modality>,
) -> ApiPlan {
    let entries = &har.log.entries;
    let Some(target) = target else {
        return ApiPlan {
            version: 1,
            modality,
            ..ApiPlan::default()
        };
    };
    let kept_pos = f.kept_positions();
    let base = f.kept[kept_pos[&target]].url.origin.clone();
    // Consumers of each chain entry, by location (first wins).
    let mut by_loc: HashMap<(usize, &str), usize> = HashMap::new();
    for (ci, c) in idx.consumers.iter().enumerate() {
        by_loc.entry((c.entry, c.location.as_str())).or_insert(ci);
    }
    let mut b = Builder {
        vars: HashMap::new(),
        used_names: BTreeMap::new(),
        extract: BTreeMap::new(),
        inputs: BTreeMap::new(),
        warnings: Vec::new(),
        idx,
        secret_values: &g.secret_values,
    };
    {
        let reserved = "base_url";
        b.used_names.insert(reserved.to_string(), 1);
    }
    let mut steps = Vec::new();
    for (si, &entry) in chain.iter().enumerate() {
        let e = &entries[entry];
        let kept = &f.kept[kept_pos[&entry]];
        let url = &kept.url;
        let mut value_at = |b: &mut Builder<'_>, loc: &str, raw: &str| -> PlanValue {
            match by_loc.get(&(entry, loc)) {
                Some(&ci) => {
                    let c = &idx.consumers[ci];
                    b.value(c, &g.resolution[ci])
                }
                None => PlanValue::lit(raw.to_string()),
            }
        };
        // Path.
        let raw_segs: Vec<&str> = url.path.split('/').filter(|s| !s.is_empty()).collect();
        let mut path = Vec::new();
        for (i, seg) in raw_segs.iter().enumerate() {
            path.push(Part::Lit("/".into()));
            let decoded = url.segments.get(i).cloned().unwrap_or_default();
            let v = value_at(&mut b, &format!("path:{i}"), &decoded);
            if v.as_lit().is_some() {
                path.push(Part::Lit((*seg).to_string()));
            } else {
                for p in v.0 {
                    path.push(match p {
                        Part::Lit(s) => Part::Lit(spool_model::percent::encode_component(&s)),
                        other => with_encoding(&other, Encoding::Url),
                    });
                }
            }
        }
        if raw_segs.is_empty() || url.path.ends_with('/') {
            path.push(Part::Lit("/".into()));
        }
        let path = merge_lits(path);
        let query = url
            .query
            .iter()
            .map(|(k, v)| PlanField {
                name: k.clone(),
                value: value_at(&mut b, &format!("query:{k}"), v),
            })
            .collect();
        // Headers: the ones the page set, plus content type, accept, origin and referer.
        let mut headers = Vec::new();
        let state_changing = !matches!(e.method().to_ascii_uppercase().as_str(), "GET" | "HEAD");
        for h in &e.request.headers {
            let name = h.name.as_str().to_ascii_lowercase();
            let raw = h.value.as_str();
            if name.starts_with(':')
                || name == "cookie"
                || name == "content-length"
                || name.starts_with("sec-")
            {
                continue;
            }
            let keep_browser = match name.as_str() {
                "content-type" => e.request.post_data.is_some(),
                "accept" => true,
                "origin" | "referer" => state_changing,
                _ => false,
            };
            if LISTS.browser_headers.contains(name.as_str()) && !keep_browser {
                continue;
            }
            let value = if (name == "origin" || name == "referer") && raw.starts_with(&base) {
                let mut parts = vec![Part::BaseUrl];
                if raw.len() > base.len() {
                    parts.push(Part::Lit(raw[base.len()..].to_string()));
                }
                PlanValue(parts)
            } else {
                value_at(&mut b, &format!("header:{name}"), raw)
            };
            if name == "content-type" && raw.to_ascii_lowercase().starts_with("multipart/") {
                continue;
            }
            headers.push(PlanField { name, value });
        }
        let cookies = index::request_cookies(e)
            .into_iter()
            .filter(|(k, _)| !LISTS.is_analytics_cookie(k))
            .map(|(k, v)| {
                let value = value_at(&mut b, &format!("cookie:{k}"), &v);
                PlanField { name: k, value }
            })
            .collect();
        let body = body_plan(e, entry, &mut b, &mut value_at);
        steps.push(PlanStep {
            id: format!("s{}", si + 1),
            entry,
            method: e.method().to_ascii_uppercase(),
            origin: (url.origin != base).then(|| url.origin.clone()),
            path,
            query,
            headers,
            cookies,
            body,
            extract: Vec::new(),
            expect_status: e.status(),
        });
    }
    for s in &mut steps {
        if let Some(x) = b.extract.remove(&s.entry) {
            s.extract = x;
        }
    }
    let target_id = steps
        .iter()
        .find(|s| s.entry == target)
        .map(|s| s.id.clone());
    let mut warnings = b.warnings;
    warnings.sort();
    warnings.dedup();
    ApiPlan {
        version: 1,
        modality,
        base_url: Some(base),
        target: target_id,
        inputs: b.inputs.into_values().collect(),
        steps,
        warnings,
    }
}

fn merge_lits(parts: Vec<Part>) -> PlanValue {
    let mut out: Vec<Part> = Vec::new();
    for p in parts {
        if let (Part::Lit(s), Some(Part::Lit(prev))) = (&p, out.last_mut()) {
            prev.push_str(s);
            continue;
        }
        out.push(p);
    }
    PlanValue(out)
}

type ValueAt<'x> = dyn FnMut(&mut Builder<'_>, &str, &str) -> PlanValue + 'x;

fn body_plan(
    e: &crate::har::Entry<'_>,
    entry: usize,
    b: &mut Builder<'_>,
    value_at: &mut ValueAt<'_>,
) -> Option<PlanBody> {
    let (mime, text) = index::request_body(e)?;
    let mime_l = mime.to_ascii_lowercase();
    let pd = e.request.post_data.as_ref()?;
    if index::body_is_json(&mime_l, text)
        && let Ok(mut template) = serde_json::from_str::<Value>(text)
    {
        let mut set = Vec::new();
        let mut ptrs = Vec::new();
        let _ = json::walk(text, 64, 100_000, &mut |p, l| {
            if matches!(l, json::Leaf::Str(_) | json::Leaf::Num(_)) {
                ptrs.push((p.to_string(), l.kind()));
            }
        });
        for (p, kind) in ptrs {
            let loc = format!("json:{p}");
            let current = template.pointer(&p).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let Some(raw) = current else { continue };
            let v = value_at(b, &loc, &raw);
            if v.as_lit().is_some() {
                continue;
            }
            let path = typed_path(&template, &p);
            if let Some(slot) = template.pointer_mut(&p) {
                *slot = Value::Null;
            }
            set.push(JsonSet {
                pointer: p,
                path,
                value: v,
                as_type: kind.name().to_string(),
            });
        }
        return Some(PlanBody::Json {
            mime_type: mime.to_string(),
            template,
            set,
        });
    }
    let params = index::form_fields(pd, &mime_l, text);
    if !params.is_empty() {
        let fields = params
            .into_iter()
            .map(|(k, v)| PlanField {
                value: value_at(b, &format!("form:{k}"), &v),
                name: k,
            })
            .collect();
        let _ = entry;
        return Some(PlanBody::Form {
            mime_type: if mime_l.contains("multipart") {
                "multipart/form-data".into()
            } else {
                "application/x-www-form-urlencoded".into()
            },
            fields,
        });
    }
    Some(PlanBody::Raw {
        mime_type: mime.to_string(),
        text: value_at(b, "body", text),
    })
}

fn typed_path(v: &Value, pointer: &str) -> Vec<Value> {
    let mut cur = v;
    let mut out = Vec::new();
    for seg in json::pointer_segments(pointer) {
        match cur {
            Value::Array(a) => {
                let i: usize = seg.parse().unwrap_or(0);
                out.push(Value::from(i));
                match a.get(i) {
                    Some(n) => cur = n,
                    None => break,
                }
            }
            Value::Object(o) => {
                out.push(Value::from(seg.clone()));
                match o.get(&seg) {
                    Some(n) => cur = n,
                    None => break,
                }
            }
            _ => {
                out.push(Value::from(seg));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_values() {
        let p = split_around(
            "Bearer abc123",
            &[(
                "abc123".into(),
                Part::Var {
                    name: "t".into(),
                    encode: None,
                },
            )],
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                Part::Lit("Bearer ".into()),
                Part::Var {
                    name: "t".into(),
                    encode: None
                }
            ]
        );
        let p = split_around(
            "a%2Fb",
            &[(
                "a/b".into(),
                Part::Input {
                    name: "x".into(),
                    encode: None,
                },
            )],
        )
        .unwrap();
        assert_eq!(
            p,
            vec![Part::Input {
                name: "x".into(),
                encode: Some(Encoding::Url)
            }]
        );
        assert!(split_around("zzz", &[("q".into(), Part::Lit("".into()))]).is_none());
    }

    #[test]
    fn var_names() {
        assert_eq!(var_base("json:/items/3/id"), "id");
        assert_eq!(var_base("json:/token"), "token");
        assert_eq!(var_base("set-cookie:session"), "session_cookie");
        assert_eq!(var_base("html:input:csrf"), "csrf");
        assert_eq!(var_base("header:x-auth"), "x_auth");
    }
}
