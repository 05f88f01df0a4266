//! Stage 6, recommendation: the modality, its confidence, and the reasoning that cites the
//! evidence (docs/analysis.md has the rules).

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::filter::{DropCategory, Filtered};
use crate::graph::{self, DepGraph};
use crate::har::Har;
use crate::index::Index;
use crate::model::{Marker, Modality};
use crate::scoring::ChainFacts;
use crate::target::Pick;

/// The recommended modality (`None` without an API call), its confidence and the reasons,
/// in the order the reasoning gives them.
pub struct Recommendation {
    pub modality: Option<Modality>,
    pub confidence: f64,
    pub reasons: Vec<String>,
}

/// Recommends a modality for the chain, explaining why.
#[allow(clippy::too_many_arguments)]
pub fn recommend(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    g: &DepGraph,
    target: Option<&Pick>,
    chain: &[usize],
    longest: &[usize],
    facts: &ChainFacts<'_>,
    markers: &[Marker],
    documents: usize,
    describe: &dyn Fn(usize) -> String,
) -> Recommendation {
    let entries = &h.log.entries;
    let ChainFacts {
        opaque,
        regenerated,
        typed,
        browser_state,
        ws_values,
        chain_edges,
        ..
    } = facts;
    let (api_depth, heuristic_inputs, chain_has_bodies) = (
        facts.api_depth,
        facts.heuristic_inputs,
        facts.chain_has_bodies,
    );
    let markers_chain: Vec<&Marker> = markers.iter().filter(|m| m.in_chain).collect();
    let mut reasons: Vec<String> = Vec::new();
    let (modality, confidence) = match target {
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
                documents,
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

    Recommendation {
        modality,
        confidence,
        reasons,
    }
}
