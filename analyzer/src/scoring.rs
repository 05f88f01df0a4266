//! Stage 6, scoring: the facts about the chain that the recommendation rests on, the
//! complexity score, and the time a run would take.

use std::collections::BTreeSet;

use crate::UserInput;
use crate::filter::{EntryKind, Filtered};
use crate::graph::{DepGraph, Resolution};
use crate::har::Har;
use crate::index::{Index, Place};
use crate::model::{ComputedKind, Edge, Marker, Modality};

/// What the chain holds: the evidence for the score, the recommendation and the reasoning.
/// Consumers are indexes into `Index::consumers`.
pub struct ChainFacts<'e> {
    /// Values computed by page JavaScript that cannot be made again (signatures, nonces).
    pub opaque: Vec<usize>,
    /// Timestamps and UUIDs, made fresh at run time.
    pub regenerated: Vec<usize>,
    /// The names of the user inputs the chain takes.
    pub typed: BTreeSet<String>,
    /// User inputs found by heuristics rather than given explicitly.
    pub heuristic_inputs: usize,
    /// Cookies no recorded response set.
    pub browser_state: Vec<usize>,
    /// The chain authenticates (credentials, auth headers, session cookies).
    pub auth: bool,
    /// Values that came from WebSocket frames.
    pub ws_values: Vec<usize>,
    /// Edges between chain requests.
    pub chain_edges: Vec<&'e Edge>,
    /// Longest dependency path into the target, in edges.
    pub api_depth: usize,
    /// A chain request is a WebSocket or carries frames.
    pub chain_ws: bool,
    pub dynamic_content: bool,
    /// Some successful response has a recorded body (else capture level 1: dependencies
    /// through bodies are invisible).
    pub chain_has_bodies: bool,
}

/// Collects the facts about the chain.
#[allow(clippy::too_many_arguments)]
pub fn chain_facts<'e>(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    g: &DepGraph,
    edges: &'e [Edge],
    chain: &[usize],
    longest: &[usize],
    user_inputs: &[UserInput],
) -> ChainFacts<'e> {
    let entries = &h.log.entries;
    let in_chain: BTreeSet<usize> = chain.iter().copied().collect();
    let kept_pos = f.kept_positions();
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
                let explicit = user_inputs
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
    // Capture level 1 (no response bodies at all): dependencies through bodies are invisible.
    let ok_data: Vec<usize> = (0..f.kept.len())
        .filter(|&k| {
            f.kept[k].kind != EntryKind::WebSocket
                && (200..300).contains(&entries[f.kept[k].entry].status())
        })
        .collect();
    let chain_has_bodies =
        ok_data.is_empty() || ok_data.iter().any(|&k| idx.facts[k].has_response_body);

    ChainFacts {
        opaque,
        regenerated,
        typed,
        heuristic_inputs,
        browser_state,
        auth,
        ws_values,
        chain_edges,
        api_depth,
        chain_ws,
        dynamic_content,
        chain_has_bodies,
    }
}

/// The complexity score, 0 (trivial) to 1 (hard without a browser); 0 without a target.
pub fn complexity(
    facts: &ChainFacts<'_>,
    markers: &[Marker],
    websockets: usize,
    has_target: bool,
) -> f64 {
    let ChainFacts {
        opaque,
        typed,
        chain_edges,
        ..
    } = facts;
    let (api_depth, auth, chain_ws) = (facts.api_depth, facts.auth, facts.chain_ws);
    let mut score = 0.0;
    score += (api_depth.min(8) as f64 / 8.0) * 0.25;
    score += (chain_edges.len().min(10) as f64 / 10.0) * 0.15;
    if !opaque.is_empty() {
        score += 0.25;
    }
    if auth {
        score += 0.1;
    }
    if chain_ws || websockets > 0 {
        score += 0.1;
    }
    if !markers.is_empty() {
        score += 0.3;
    }
    if !typed.is_empty() {
        score += 0.05;
    }
    if !has_target {
        0.0
    } else {
        round3(score.min(1.0))
    }
}

/// Seconds a run would take, from the recorded timings of the chain.
pub fn estimated_time(
    h: &Har<'_>,
    f: &Filtered,
    chain: &[usize],
    modality: Option<Modality>,
) -> f64 {
    let entries = &h.log.entries;
    match modality {
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
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Rounds to 3 decimals (keeps JSON output stable).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
