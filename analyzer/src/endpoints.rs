//! Stage 4, endpoints: templated paths grouped by method + origin + template (GraphQL by
//! operation), with the union of query, form and body keys and their JSON types.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::AnalysisConfig;
use crate::filter::{EntryKind, Filtered};
use crate::har::Har;
use crate::index::{Facts, Index};
use crate::json::{Kinds, Schema};
use crate::value_class;

/// One endpoint of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// `METHOD origin template` (plus `#operation` for GraphQL).
    pub id: String,
    pub method: String,
    pub origin: String,
    /// `/users/{id}/orders/{uuid}`
    pub template: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operation: Option<String>,
    pub kind: EntryKind,
    /// HAR entry indexes, in time order.
    pub entries: Vec<usize>,
    /// Query keys and their JSON types.
    pub query: BTreeMap<String, Vec<String>>,
    /// Form keys and their types.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub form: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_mime_type: Option<String>,
    /// JSON Schema of the request body (JSON bodies).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_schema: Option<Value>,
    /// Status code → response MIME types and JSON Schema.
    pub responses: BTreeMap<String, ResponseShape>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseShape {
    pub mime_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schema: Option<Value>,
}

/// Endpoints plus, per kept entry, which endpoint it belongs to and which path segments
/// are placeholders.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub endpoints: Vec<Endpoint>,
    /// Per kept entry (same order as `Filtered::kept`): index into `endpoints`.
    pub of_kept: Vec<usize>,
    /// Per kept entry: templated segments (`None` = literal).
    pub placeholders: Vec<Vec<Option<&'static str>>>,
}

/// The placeholder a path segment templates to by itself, if any.
pub fn classify_segment(seg: &str) -> Option<&'static str> {
    if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
        Some("{id}")
    } else if value_class::is_uuid(seg) {
        Some("{uuid}")
    } else if value_class::is_date(seg) && seg.len() <= 30 {
        Some("{date}")
    } else if seg.len() >= 12 && value_class::is_hex(seg) && seg.bytes().any(|b| b.is_ascii_digit())
    {
        Some("{hex}")
    } else if value_class::is_opaque_token(seg, 16, 3.0)
        || (seg.len() >= 24
            && seg.chars().all(value_class::is_token_char)
            && seg.bytes().any(|b| b.is_ascii_digit()))
    {
        Some("{token}")
    } else {
        None
    }
}

fn slug_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
}

fn kinds_map(pairs: &[(String, Kinds)], into: &mut BTreeMap<String, Kinds>) {
    for (k, v) in pairs {
        into.entry(k.clone()).or_default().union(*v);
    }
}

fn names(m: BTreeMap<String, Kinds>) -> BTreeMap<String, Vec<String>> {
    m.into_iter()
        .map(|(k, v)| (k, v.names().into_iter().map(String::from).collect()))
        .collect()
}

/// Builds the inventory.
pub fn build(har: &Har<'_>, f: &Filtered, idx: &Index, cfg: &AnalysisConfig) -> Inventory {
    let entries = &har.log.entries;
    let n = f.kept.len();
    let mut segs: Vec<Vec<String>> = Vec::with_capacity(n);
    let mut ph: Vec<Vec<Option<&'static str>>> = Vec::with_capacity(n);
    for k in &f.kept {
        let p: Vec<Option<&'static str>> =
            k.url.segments.iter().map(|s| classify_segment(s)).collect();
        segs.push(
            k.url
                .segments
                .iter()
                .zip(&p)
                .map(|(s, p)| p.map(str::to_string).unwrap_or_else(|| s.clone()))
                .collect(),
        );
        ph.push(p);
    }

    // Sibling collapse: a literal position whose distinct values (>= min samples) all share
    // the same method, origin, other segments and response shape becomes `{slug}`.
    let max_len = segs.iter().map(Vec::len).max().unwrap_or(0);
    for pos in 0..max_len {
        type Key = (String, String, usize, Vec<String>);
        let mut groups: HashMap<Key, Vec<usize>> = HashMap::new();
        for (i, s) in segs.iter().enumerate() {
            if s.len() < 2 || pos >= s.len() || ph[i][pos].is_some() {
                continue;
            }
            let mut other = s.clone();
            other[pos] = String::new();
            let key = (
                entries[f.kept[i].entry].method().to_ascii_uppercase(),
                f.kept[i].url.origin.clone(),
                s.len(),
                other,
            );
            groups.entry(key).or_default().push(i);
        }
        let mut keys: Vec<_> = groups.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, members) in keys {
            let distinct: BTreeSet<&str> = members.iter().map(|&i| segs[i][pos].as_str()).collect();
            if distinct.len() < cfg.min_sibling_samples.max(2) {
                continue;
            }
            let sigs: BTreeSet<&str> = members
                .iter()
                .map(|&i| idx.facts[i].signature.as_str())
                .collect();
            let agree = sigs.len() == 1
                && sigs
                    .iter()
                    .next()
                    .is_some_and(|s| !s.is_empty() && !s.ends_with('|'))
                && distinct.iter().all(|s| slug_like(s));
            if agree {
                for &i in &members {
                    segs[i][pos] = "{slug}".into();
                    ph[i][pos] = Some("{slug}");
                }
            }
        }
    }

    // Group.
    struct Acc {
        ep: Endpoint,
        query: BTreeMap<String, Kinds>,
        form: BTreeMap<String, Kinds>,
        req: Option<Schema>,
        resp: BTreeMap<String, (BTreeSet<String>, Option<Schema>)>,
    }
    let mut by_key: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut accs: Vec<Acc> = Vec::new();
    let mut of_kept = Vec::with_capacity(n);
    for (i, kept) in f.kept.iter().enumerate() {
        let e = &entries[kept.entry];
        let facts: &Facts = &idx.facts[i];
        let method = e.method().to_ascii_uppercase();
        let mut template = String::from("/");
        template.push_str(&segs[i].join("/"));
        if kept.url.path.ends_with('/') && !segs[i].is_empty() {
            template.push('/');
        }
        let op = facts.graphql_operation.clone();
        let key = (
            kept.url.origin.clone(),
            template.clone(),
            method.clone(),
            op.clone().unwrap_or_default(),
        );
        let ai = *by_key.entry(key).or_insert_with(|| {
            let mut id = format!("{method} {}{template}", kept.url.origin);
            if let Some(op) = &op {
                id.push('#');
                id.push_str(op);
            }
            accs.push(Acc {
                ep: Endpoint {
                    id,
                    method: method.clone(),
                    origin: kept.url.origin.clone(),
                    template: template.clone(),
                    operation: op.clone(),
                    kind: kept.kind,
                    entries: Vec::new(),
                    query: BTreeMap::new(),
                    form: BTreeMap::new(),
                    request_mime_type: None,
                    request_schema: None,
                    responses: BTreeMap::new(),
                },
                query: BTreeMap::new(),
                form: BTreeMap::new(),
                req: None,
                resp: BTreeMap::new(),
            });
            accs.len() - 1
        });
        let acc = &mut accs[ai];
        acc.ep.entries.push(kept.entry);
        kinds_map(&facts.query_keys, &mut acc.query);
        kinds_map(&facts.form_keys, &mut acc.form);
        if !facts.request_mime.is_empty() && acc.ep.request_mime_type.is_none() {
            acc.ep.request_mime_type = Some(facts.request_mime.clone());
        }
        if let Some(s) = &facts.request_schema {
            match &mut acc.req {
                Some(r) => r.merge(s.clone()),
                None => acc.req = Some(s.clone()),
            }
        }
        let status = e.status().to_string();
        let slot = acc
            .resp
            .entry(status)
            .or_insert_with(|| (BTreeSet::new(), None));
        if !facts.response_mime.is_empty() {
            slot.0.insert(facts.response_mime.clone());
        }
        if let Some(s) = &facts.response_schema {
            match &mut slot.1 {
                Some(r) => r.merge(s.clone()),
                None => slot.1 = Some(s.clone()),
            }
        }
        of_kept.push(ai);
    }
    // Deterministic order: by first entry time (accs are created in time order already).
    let endpoints = accs
        .into_iter()
        .map(|a| {
            let mut ep = a.ep;
            ep.query = names(a.query);
            ep.form = names(a.form);
            ep.request_schema = a.req.map(|s| s.to_json_schema());
            ep.responses = a
                .resp
                .into_iter()
                .map(|(k, (m, s))| {
                    (
                        k,
                        ResponseShape {
                            mime_types: m.into_iter().collect(),
                            schema: s.map(|s| s.to_json_schema()),
                        },
                    )
                })
                .collect();
            ep
        })
        .collect();
    Inventory {
        endpoints,
        of_kept,
        placeholders: ph,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_rules() {
        assert_eq!(classify_segment("40712"), Some("{id}"));
        assert_eq!(
            classify_segment("9f1c2d3e-1111-4222-8333-444455556666"),
            Some("{uuid}")
        );
        assert_eq!(classify_segment("2024-05-01"), Some("{date}"));
        assert_eq!(classify_segment("5f1e9c0b2a3d4e5f6a7b8c9d"), Some("{hex}"));
        assert_eq!(classify_segment("aB3xK9pQ2mZ7vL1sT8wE"), Some("{token}"));
        assert_eq!(classify_segment("items"), None);
        assert_eq!(classify_segment("v1"), None);
        assert_eq!(classify_segment("deadbeef"), None);
    }
}
