//! Stage 6, assembly: the [`Analysis`] from the stages' results (the summary, the graph
//! and what stayed unresolved, the facts and score of [`crate::scoring`], the recommendation
//! of [`crate::recommend`], the plan, the generated code and the warnings).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use crate::UserInput;
use crate::codegen;
use crate::filter::{EntryKind, Filtered};
use crate::graph::{self, Resolution};
use crate::har::Har;
use crate::index::{Index, Place};
use crate::model::*;
use crate::pipeline::Built;
use crate::plan;
use crate::recommend::{self, Recommendation};
use crate::scoring;
use crate::scoring::round3;

/// Assembles the analysis.
pub fn assemble(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    built: Built,
    user_inputs: &[UserInput],
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

    let facts = scoring::chain_facts(h, f, idx, &g, &edges, &chain, &longest, user_inputs);
    let Recommendation {
        modality,
        confidence,
        reasons,
    } = recommend::recommend(
        h,
        f,
        idx,
        &g,
        target.as_ref(),
        &chain,
        &longest,
        &facts,
        &markers,
        summary.documents,
        &describe,
    );
    let score = scoring::complexity(&facts, &markers, f.websockets, target.is_some());
    let estimated_time = scoring::estimated_time(h, f, &chain, modality);
    let (api_depth, auth, dynamic_content) = (facts.api_depth, facts.auth, facts.dynamic_content);
    let chain_consumers: Vec<usize> = (0..idx.consumers.len())
        .filter(|&ci| in_chain.contains(&idx.consumers[ci].entry))
        .collect();

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
