//! The stages, callable one by one (the benches time each), and the final assembly
//! (stage 6: target, chain, score, recommendation, plan, code).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use crate::config::AnalysisConfig;
use crate::endpoints::{self, Inventory};
use crate::error::AnalyzeError;
use crate::filter::{self, DropCategory, EntryKind, Filtered};
use crate::graph::{self, DepGraph, Resolution};
use crate::har::{self, Har};
use crate::index::{self, Index, Place};
use crate::model::*;
use crate::plan;
use crate::target::{self, Pick};
use crate::util::round3;
use crate::{AnalyzeInput, codegen};

/// Stage 1: parse (with the size limits).
pub fn parse<'a>(bytes: &'a [u8], cfg: &AnalysisConfig) -> Result<Har<'a>, AnalyzeError> {
    if bytes.len() > cfg.max_har_bytes {
        return Err(AnalyzeError::TooLarge {
            what: "HAR".into(),
            size: bytes.len(),
            limit: cfg.max_har_bytes,
        });
    }
    let h = har::parse(bytes)?;
    if h.log.entries.len() > cfg.max_entries {
        return Err(AnalyzeError::TooLarge {
            what: "HAR entry count".into(),
            size: h.log.entries.len(),
            limit: cfg.max_entries,
        });
    }
    Ok(h)
}

/// Stage 2: filter.
pub fn filter(h: &Har<'_>) -> Filtered {
    filter::filter(h)
}

/// Stage 3: index request and response values.
pub fn index(h: &Har<'_>, f: &Filtered, cfg: &AnalysisConfig) -> Result<Index, AnalyzeError> {
    index::build(h, f, cfg)
}

/// What stage 4/5 produce.
#[derive(Debug)]
pub struct Built {
    pub inventory: Inventory,
    pub graph: DepGraph,
    pub target: Option<Pick>,
    /// Chain entries in time order.
    pub chain: Vec<usize>,
    /// The longest path into the target (entries).
    pub longest: Vec<usize>,
}

/// Stages 4 and 5: endpoints, dependency graph, target and chain.
pub fn graph(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    input: &AnalyzeInput<'_>,
    cfg: &AnalysisConfig,
) -> Result<Built, AnalyzeError> {
    let inventory = endpoints::build(h, f, idx, cfg);
    let g = graph::build(h, f, idx, &inventory, &input.user_inputs, input.task, cfg);
    let target = target::pick(h, f, &inventory, idx, input.target, input.task)?;
    let (chain, longest) = match &target {
        Some(t) => {
            let mut c: Vec<usize> = g.ancestors(t.entry).into_iter().collect();
            c.sort_by_key(|&e| f.rank[e]);
            (c, g.longest_path_to(t.entry, &f.rank))
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(Built {
        inventory,
        graph: g,
        target,
        chain,
        longest,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Stage 6: score, recommend, explain, plan and generate code.
pub fn score(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    built: Built,
    _input: &AnalyzeInput<'_>,
    _cfg: &AnalysisConfig,
) -> Analysis {
    let entries = &h.log.entries;
    let Built {
        inventory,
        graph: g,
        target,
        chain,
        longest,
    } = built;
    let in_chain: BTreeSet<usize> = chain.iter().copied().collect();
    let kept_pos = f.kept_positions();
    let endpoint_of =
        |entry: usize| -> &Endpoint { &inventory.endpoints[inventory.of_kept[kept_pos[&entry]]] };
    let describe = |entry: usize| -> String {
        let e = &entries[entry];
        let ep = endpoint_of(entry);
        format!(
            "{} {} (entry {entry})",
            e.method().to_ascii_uppercase(),
            ep.template
        )
    };

    // Summary.
    let mut summary = Summary {
        entries: entries.len(),
        kept: f.kept.len(),
        dropped: f.dropped.len(),
        documents: f
            .kept
            .iter()
            .filter(|k| k.kind == EntryKind::Document)
            .count(),
        api_calls: f.kept.iter().filter(|k| k.kind == EntryKind::Api).count(),
        websockets: f.websockets,
        response_bodies: idx.facts.iter().filter(|x| x.has_response_body).count(),
        duration_ms: 0.0,
    };
    let mut first = f64::INFINITY;
    let mut last = f64::NEG_INFINITY;
    for (i, e) in entries.iter().enumerate() {
        if let Some(t) = f.start_ms[i] {
            first = first.min(t);
            last = last.max(t + e.time.0.unwrap_or(0.0).max(0.0));
        }
    }
    if first.is_finite() && last.is_finite() {
        summary.duration_ms = round3(last - first);
    }

    // Graph, unresolved, markers.
    let nodes: Vec<Node> = f
        .kept
        .iter()
        .enumerate()
        .map(|(k, kept)| {
            let e = &entries[kept.entry];
            Node {
                id: kept.entry,
                method: e.method().to_ascii_uppercase(),
                url: e.url().to_string(),
                endpoint: inventory.endpoints[inventory.of_kept[k]].id.clone(),
                kind: kept.kind,
                status: e.status(),
                in_chain: in_chain.contains(&kept.entry),
            }
        })
        .collect();
    let mut edges = g.edges.clone();
    edges.sort_by(|a, b| {
        (
            f.rank[a.to],
            &a.to_location,
            f.rank[a.from],
            &a.from_location,
        )
            .cmp(&(
                f.rank[b.to],
                &b.to_location,
                f.rank[b.from],
                &b.from_location,
            ))
    });
    let mut unresolved: Vec<Unresolved> = g
        .open
        .iter()
        .filter_map(|o| {
            let c = &idx.consumers[o.consumer];
            let chained = in_chain.contains(&c.entry);
            if o.kind == UnresolvedKind::Constant && !chained {
                return None;
            }
            Some(Unresolved {
                entry: c.entry,
                location: c.location.clone(),
                kind: o.kind,
                input: o.input.clone(),
                computed: o.computed,
                secret: o.secret,
                in_chain: chained,
                value: g.preview(&c.raw, o.secret || graph::is_secret(c)),
                reason: o.reason.clone(),
            })
        })
        .collect();
    unresolved.sort_by(|a, b| (f.rank[a.entry], &a.location).cmp(&(f.rank[b.entry], &b.location)));
    let markers: Vec<Marker> = idx
        .markers
        .iter()
        .map(|m| Marker {
            kind: m.kind.name().to_string(),
            entry: m.entry,
            place: m.place.clone(),
            pattern: m.pattern.clone(),
            in_chain: in_chain.contains(&m.entry),
        })
        .collect();

    // Facts about the chain.
    let chain_consumers: Vec<usize> = (0..idx.consumers.len())
        .filter(|&ci| in_chain.contains(&idx.consumers[ci].entry))
        .collect();
    let mut opaque = Vec::new();
    let mut regenerated = Vec::new();
    let mut typed: BTreeSet<String> = BTreeSet::new();
    let mut heuristic_inputs = 0;
    let mut browser_state = Vec::new();
    let mut auth = false;
    let mut ws_values = Vec::new();
    for &ci in &chain_consumers {
        let c = &idx.consumers[ci];
        if c.location == "header:authorization" {
            auth = true;
        }
        match &g.resolution[ci] {
            Resolution::Computed(ComputedKind::Opaque) => opaque.push(ci),
            Resolution::Computed(_) => regenerated.push(ci),
            Resolution::Input { inputs, secret } => {
                for (n, _) in inputs {
                    typed.insert(n.clone());
                }
                if *secret {
                    auth = true;
                }
                let explicit = _input
                    .user_inputs
                    .iter()
                    .any(|u| inputs.iter().any(|(_, v)| *v == u.value));
                if !explicit {
                    heuristic_inputs += 1;
                }
            }
            Resolution::BrowserState { .. } => {
                browser_state.push(ci);
                auth = true;
            }
            Resolution::Produced(src) => {
                if c.place == Place::Cookie
                    || src
                        .iter()
                        .any(|s| s.hit.location.starts_with("set-cookie:"))
                {
                    auth = true;
                }
                if src.iter().any(|s| s.hit.location.starts_with("ws:")) {
                    ws_values.push(ci);
                }
            }
            _ => {}
        }
    }
    let chain_edges: Vec<&Edge> = edges
        .iter()
        .filter(|e| in_chain.contains(&e.to) && in_chain.contains(&e.from))
        .collect();
    let api_depth = longest.len().saturating_sub(1);
    let chain_ws = chain.iter().any(|e| {
        f.kept[kept_pos[e]].kind == EntryKind::WebSocket
            || !entries[*e].websocket_messages.is_empty()
    });
    let dynamic_content =
        !chain_edges.is_empty() || !opaque.is_empty() || !regenerated.is_empty() || chain_ws;
    let markers_chain: Vec<&Marker> = markers.iter().filter(|m| m.in_chain).collect();
    // Capture level 1 (no response bodies at all): dependencies through bodies are invisible.
    let ok_data: Vec<usize> = (0..f.kept.len())
        .filter(|&k| {
            f.kept[k].kind != EntryKind::WebSocket
                && (200..300).contains(&entries[f.kept[k].entry].status())
        })
        .collect();
    let chain_has_bodies =
        ok_data.is_empty() || ok_data.iter().any(|&k| idx.facts[k].has_response_body);

    // Recommendation.
    let mut reasons: Vec<String> = Vec::new();
    let (modality, confidence) = match &target {
        None => {
            let mut by_cat: BTreeMap<&str, usize> = BTreeMap::new();
            for d in &f.dropped {
                *by_cat
                    .entry(match d.category {
                        DropCategory::Static => "static assets",
                        DropCategory::Analytics => "analytics/ads",
                        DropCategory::Preflight => "CORS preflights",
                        DropCategory::NonHttp => "non-HTTP URLs",
                        DropCategory::Failed => "failed requests",
                        DropCategory::NotApi => "other non-API responses",
                    })
                    .or_default() += 1;
            }
            let dropped: Vec<String> = by_cat.iter().map(|(k, v)| format!("{v} {k}")).collect();
            reasons.push(format!(
                "No API calls found: {} entries, {} page documents and no XHR/fetch, JSON, form or GraphQL request{}.",
                entries.len(),
                summary.documents,
                if dropped.is_empty() {
                    String::new()
                } else {
                    format!(" (dropped: {})", dropped.join(", "))
                }
            ));
            reasons
                .push("Nothing to automate through an API, so no modality is recommended.".into());
            (None, 0.0)
        }
        Some(t) => {
            reasons.push(format!("Target: {} — {}.", describe(t.entry), t.reason));
            reasons.push(format!(
                "Chain: {} request{} ({}), apiDepth {}{}.",
                chain.len(),
                if chain.len() == 1 { "" } else { "s" },
                chain
                    .iter()
                    .map(|&e| describe(e))
                    .collect::<Vec<_>>()
                    .join(" → "),
                api_depth,
                if longest.len() > 1 {
                    format!(
                        " along {}",
                        longest
                            .iter()
                            .map(|e| format!("entry {e}"))
                            .collect::<Vec<_>>()
                            .join(" → ")
                    )
                } else {
                    String::new()
                }
            ));
            if !chain_edges.is_empty() {
                let shown: Vec<String> = chain_edges
                    .iter()
                    .take(12)
                    .map(|e| {
                        format!(
                            "entry {} {} → entry {} {}",
                            e.from, e.from_location, e.to, e.to_location
                        )
                    })
                    .collect();
                reasons.push(format!(
                    "{} value{} flow between chain requests: {}{}.",
                    chain_edges.len(),
                    if chain_edges.len() == 1 { "" } else { "s" },
                    shown.join("; "),
                    if chain_edges.len() > 12 { "; …" } else { "" }
                ));
            }
            if !typed.is_empty() {
                reasons.push(format!(
                    "User inputs: {} (parameters of the generated code).",
                    typed
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !regenerated.is_empty() {
                let list: Vec<String> = regenerated
                    .iter()
                    .map(|&ci| {
                        let c = &idx.consumers[ci];
                        format!("entry {} {}", c.entry, c.location)
                    })
                    .collect();
                reasons.push(format!(
                    "Timestamps/UUIDs made fresh at run time: {}.",
                    list.join(", ")
                ));
            }
            if !browser_state.is_empty() {
                let list: Vec<String> = browser_state
                    .iter()
                    .map(|&ci| format!("`{}`", idx.consumers[ci].name))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                reasons.push(format!(
                    "Cookies set by no recorded response (browser state, passed as secret inputs): {}.",
                    list.join(", ")
                ));
            }
            if !markers.is_empty() {
                let shown: Vec<String> = markers
                    .iter()
                    .take(6)
                    .map(|m| {
                        format!(
                            "{} marker `{}` at entry {} ({})",
                            m.kind, m.pattern, m.entry, m.place
                        )
                    })
                    .collect();
                reasons.push(format!(
                    "A person must act: {}{}.",
                    shown.join("; "),
                    if markers_chain.is_empty() {
                        " (outside the chain)"
                    } else {
                        ""
                    }
                ));
                reasons.push("Recommending visible_browser.".into());
                (
                    Some(Modality::VisibleBrowser),
                    if markers_chain.is_empty() { 0.65 } else { 0.9 },
                )
            } else if !opaque.is_empty() || !ws_values.is_empty() {
                let mut list: Vec<String> = opaque
                    .iter()
                    .map(|&ci| {
                        let c = &idx.consumers[ci];
                        format!(
                            "entry {} {} = {}",
                            c.entry,
                            c.location,
                            g.preview(&c.raw, graph::is_secret(c))
                        )
                    })
                    .collect();
                list.extend(ws_values.iter().map(|&ci| {
                    let c = &idx.consumers[ci];
                    format!("entry {} {} (from a WebSocket frame)", c.entry, c.location)
                }));
                reasons.push(format!(
                    "Values computed by page JavaScript and found in no earlier response: {}. Plain HTTP cannot reproduce them; no person is needed.",
                    list.join("; ")
                ));
                reasons.push("Recommending headless_cdp.".into());
                (Some(Modality::HeadlessCdp), 0.85)
            } else {
                let mut conf: f64 = match t.selected_by {
                    "explicit" => 0.95,
                    "task" => 0.9,
                    "lastStateChanging" => 0.85,
                    "lastDocument" => 0.6,
                    _ => 0.7,
                };
                if t.selected_by == "lastDocument" {
                    reasons.push(
                        "No API calls were recorded (no XHR/fetch, JSON, form or GraphQL request): only page documents, so a plain GET of the page is all there is to do.".into(),
                    );
                }
                if heuristic_inputs > 0 {
                    conf -= 0.05;
                }
                if !browser_state.is_empty() {
                    conf -= 0.1;
                }
                if !chain_has_bodies {
                    conf -= 0.25;
                    reasons.push(
                        "No response bodies were recorded (capture level 1?): values flowing through bodies cannot be seen.".into(),
                    );
                }
                reasons.push(
                    "Every chain value resolves to an earlier response, a user input or a constant; no page-computed values and no captcha, bot-challenge, OTP or WebAuthn markers. Recommending integuru (plain HTTP).".into(),
                );
                (Some(Modality::Integuru), conf.clamp(0.05, 1.0))
            }
        }
    };
    let dropped_n = f.dropped.len();
    if dropped_n > 0 && target.is_some() {
        let stat = f
            .dropped
            .iter()
            .filter(|d| d.category == DropCategory::Static)
            .count();
        let ana = f
            .dropped
            .iter()
            .filter(|d| d.category == DropCategory::Analytics)
            .count();
        reasons.push(format!(
            "{dropped_n} entries dropped ({stat} static assets, {ana} analytics/ads, {} other).",
            dropped_n - stat - ana
        ));
    }

    // Complexity.
    let mut score = 0.0;
    score += (api_depth.min(8) as f64 / 8.0) * 0.25;
    score += (chain_edges.len().min(10) as f64 / 10.0) * 0.15;
    if !opaque.is_empty() {
        score += 0.25;
    }
    if auth {
        score += 0.1;
    }
    if chain_ws || f.websockets > 0 {
        score += 0.1;
    }
    if !markers.is_empty() {
        score += 0.3;
    }
    if !typed.is_empty() {
        score += 0.05;
    }
    let score = if target.is_none() {
        0.0
    } else {
        round3(score.min(1.0))
    };

    // Estimated time.
    let estimated_time = match modality {
        None => 0.0,
        Some(m) => {
            let sum: f64 = chain
                .iter()
                .map(|&e| entries[e].time.0.filter(|t| *t >= 0.0).unwrap_or(200.0))
                .sum::<f64>()
                / 1000.0;
            let span = {
                let starts: Vec<f64> = chain.iter().filter_map(|&e| f.start_ms[e]).collect();
                let ends: Vec<f64> = chain
                    .iter()
                    .filter_map(|&e| {
                        f.start_ms[e].map(|s| s + entries[e].time.0.unwrap_or(0.0).max(0.0))
                    })
                    .collect();
                match (
                    starts.iter().copied().reduce(f64::min),
                    ends.iter().copied().reduce(f64::max),
                ) {
                    (Some(a), Some(b)) if b >= a => (b - a) / 1000.0,
                    _ => sum,
                }
            };
            match m {
                Modality::Integuru => round2(sum + 0.05 * chain.len() as f64),
                Modality::HeadlessCdp => round2(3.0 + span.max(sum)),
                Modality::VisibleBrowser => round2(3.0 + span.max(sum) + 30.0),
            }
        }
    };

    // Plan and code.
    let plan = plan::build(
        h,
        f,
        idx,
        &g,
        &chain,
        target.as_ref().map(|t| t.entry),
        modality,
    );
    let reasoning = reasons.join(" ");
    let generated_code =
        (modality == Some(Modality::Integuru)).then(|| codegen::python_of(&plan, &reasoning));

    // apiEndpoints: the chain, in order.
    let api_endpoints = chain
        .iter()
        .map(|&entry| {
            let ep = endpoint_of(entry);
            let mut parameters = BTreeMap::new();
            for &ci in chain_consumers
                .iter()
                .filter(|&&ci| idx.consumers[ci].entry == entry)
            {
                let c = &idx.consumers[ci];
                let (source, example) = match &g.resolution[ci] {
                    Resolution::Produced(src) => (
                        src.iter()
                            .map(|s| {
                                format!("response of entry {} at {}", s.hit.entry, s.hit.location)
                            })
                            .collect::<Vec<_>>()
                            .join(" + "),
                        None,
                    ),
                    Resolution::Input { inputs, secret } => (
                        format!(
                            "input {}",
                            inputs
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        (!secret && !graph::is_secret(c) && !g.secret_values.contains(&c.raw))
                            .then(|| c.raw.clone()),
                    ),
                    Resolution::BrowserState { input } => {
                        (format!("browser state (input {input})"), None)
                    }
                    Resolution::Computed(k) => (
                        format!(
                            "computed ({})",
                            serde_json::to_value(k)
                                .ok()
                                .and_then(|v| v.as_str().map(String::from))
                                .unwrap_or_default()
                        ),
                        None,
                    ),
                    Resolution::Constant => (
                        "constant".into(),
                        (!graph::is_secret(c) && !g.secret_values.contains(&c.raw))
                            .then(|| c.raw.clone()),
                    ),
                    Resolution::Route => continue,
                };
                let (place, ty) = match c.place {
                    Place::Path(_) => ("path", "string"),
                    Place::Query => ("query", "string"),
                    Place::Form => ("form", "string"),
                    Place::Json => ("json", c.kind.map(|k| k.name()).unwrap_or("string")),
                    Place::Header => ("header", "string"),
                    Place::Cookie => ("cookie", "string"),
                    Place::Body => ("body", "string"),
                };
                let mut v = json!({"in": place, "type": ty, "source": source});
                if let Some(ex) = example {
                    v["example"] = json!(ex);
                }
                parameters.insert(c.location.clone(), v);
            }
            ApiEndpoint {
                url: format!("{}{}", ep.origin, ep.template),
                method: ep.method.clone(),
                parameters,
            }
        })
        .collect();

    // Warnings.
    let mut warnings: Vec<String> = Vec::new();
    for (k, facts) in idx.facts.iter().enumerate() {
        for n in &facts.notes {
            warnings.push(format!("entry {}: {n}", f.kept[k].entry));
        }
    }
    // Redirect hops share their request id; other repeats are worth a note.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for e in entries.iter() {
        if let Some(id) = &e.request_id
            && !id.as_str().is_empty()
            && !(300..400).contains(&e.status())
        {
            *ids.entry(id.as_str()).or_default() += 1;
        }
    }
    let mut dup: Vec<&str> = ids
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    dup.sort();
    if !dup.is_empty() {
        warnings.push(format!(
            "duplicate _requestId values ({}): entries are kept apart by position",
            dup.iter().take(10).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    warnings.extend(plan.warnings.iter().map(|w| format!("plan: {w}")));

    let chain_steps = chain
        .iter()
        .map(|&entry| {
            let e = &entries[entry];
            ChainStep {
                entry,
                method: e.method().to_ascii_uppercase(),
                url: e.url().to_string(),
                endpoint: endpoint_of(entry).id.clone(),
                depends_on: g.parents(entry),
            }
        })
        .collect();
    let target_out = target.as_ref().map(|t| Target {
        entry: t.entry,
        method: entries[t.entry].method().to_ascii_uppercase(),
        url: entries[t.entry].url().to_string(),
        endpoint: endpoint_of(t.entry).id.clone(),
        selected_by: t.selected_by.to_string(),
        reason: t.reason.clone(),
        alternatives: t.alternatives.clone(),
    });
    let confidence = round3(confidence);
    Analysis {
        integuru_analysis: InteguruAnalysis {
            confidence,
            complexity: Complexity {
                score,
                api_depth,
                authentication_required: auth,
                dynamic_content,
            },
            generated_code,
            api_endpoints,
        },
        recommended_modality: modality,
        confidence,
        estimated_time,
        reasoning,
        summary,
        target: target_out,
        chain: chain_steps,
        endpoints: inventory.endpoints,
        graph: Graph { nodes, edges },
        unresolved,
        markers,
        dropped: f.dropped.clone(),
        warnings,
        plan,
    }
}
