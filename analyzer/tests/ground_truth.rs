//! The analysis of each fixture flow's HAR against the flow's true graph
//! (`fixtures/flows/<flow>.truth.json`): precision and recall 1.0 of edges, the right
//! target, apiDepth and modality, user inputs and computed values.
//!
//! HARs checked, for every flow: the Chromium captures `fixtures/har/flows/<flow>.l{2,3}.har`
//! (recorded by `scripts/record-fixture-hars.sh`); a missing one fails the test by name.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use spool_analyzer::{AnalysisConfig, AnalyzeInput, UnresolvedKind, UserInput, analyze};
use spool_fixtures::truth::{FLOWS, Truth};
use spool_fixtures::{CAPTURED_LEVELS, captured_har};

/// Every HAR of `flow` to check; panics naming a missing one.
pub fn hars_of(flow: &str) -> Vec<PathBuf> {
    CAPTURED_LEVELS
        .iter()
        .map(|&level| captured_har(flow, level))
        .collect()
}

type EdgeKey = (String, String, String, String);

struct Outcome {
    problems: Vec<String>,
}

fn check(flow: &str, path: &Path) -> Outcome {
    let truth = Truth::load(flow).expect("truth loads");
    let bytes = std::fs::read(path).expect("HAR readable");
    let raw: serde_json::Value = serde_json::from_slice(&bytes).expect("HAR is JSON");
    let user_inputs: Vec<UserInput> = truth
        .inputs
        .iter()
        .map(|(k, v)| UserInput {
            name: k.clone(),
            value: v.clone(),
        })
        .collect();
    let input = AnalyzeInput {
        har_json: &bytes,
        task: None,
        target: None,
        user_inputs,
    };
    let a = analyze(&input, &AnalysisConfig::default()).expect("analysis succeeds");

    // HAR entry index -> truth request id, by method + path.
    let by_key: BTreeMap<(String, String), String> = truth
        .requests
        .iter()
        .map(|r| {
            (
                (r.method.to_ascii_uppercase(), r.path.clone()),
                r.id.clone(),
            )
        })
        .collect();
    let entries = raw["log"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let id_of = |i: usize| -> Option<String> {
        let e = &entries[i];
        let method = e["request"]["method"].as_str()?.to_ascii_uppercase();
        let url = e["request"]["url"].as_str()?;
        let path = url::Url::parse(url).ok()?.path().to_string();
        by_key.get(&(method, path)).cloned()
    };
    let name = |i: usize| id_of(i).unwrap_or_else(|| format!("<entry {i}>"));

    let mut problems = Vec::new();
    let found: BTreeSet<EdgeKey> = a
        .graph
        .edges
        .iter()
        .map(|e| {
            (
                name(e.from),
                e.from_location.clone(),
                name(e.to),
                e.to_location.clone(),
            )
        })
        .collect();
    let expected: BTreeSet<EdgeKey> = truth
        .edges
        .iter()
        .map(|e| {
            (
                e.from.clone(),
                e.from_location.clone(),
                e.to.clone(),
                e.to_location.clone(),
            )
        })
        .collect();
    for e in found.difference(&expected) {
        problems.push(format!("false edge {e:?}"));
    }
    for e in expected.difference(&found) {
        problems.push(format!("missed edge {e:?}"));
    }
    let target = a.target.as_ref().map(|t| name(t.entry));
    if target.as_deref() != Some(truth.target.as_str()) {
        problems.push(format!("target {target:?}, expected {}", truth.target));
    }
    if a.integuru_analysis.complexity.api_depth != truth.api_depth {
        problems.push(format!(
            "apiDepth {}, expected {}",
            a.integuru_analysis.complexity.api_depth, truth.api_depth
        ));
    }
    let modality = a.recommended_modality.map(|m| m.as_str().to_string());
    if modality.as_deref() != Some(truth.modality.as_str()) {
        problems.push(format!(
            "modality {modality:?}, expected {}",
            truth.modality
        ));
    }
    // User inputs: (request, location, input).
    let got_inputs: BTreeSet<(String, String, String)> = a
        .unresolved
        .iter()
        .filter(|u| u.kind == UnresolvedKind::UserInput)
        .map(|u| {
            (
                name(u.entry),
                u.location.clone(),
                u.input.clone().unwrap_or_default(),
            )
        })
        .collect();
    let want_inputs: BTreeSet<(String, String, String)> = truth
        .user_inputs
        .iter()
        .map(|u| (u.request.clone(), u.location.clone(), u.input.clone()))
        .collect();
    if got_inputs != want_inputs {
        problems.push(format!(
            "user inputs {got_inputs:?}, expected {want_inputs:?}"
        ));
    }
    // Computed values: (request, location).
    let got_computed: BTreeSet<(String, String)> = a
        .unresolved
        .iter()
        .filter(|u| u.kind == UnresolvedKind::Computed)
        .map(|u| (name(u.entry), u.location.clone()))
        .collect();
    let want_computed: BTreeSet<(String, String)> = truth
        .computed
        .iter()
        .map(|c| (c.request.clone(), c.location.clone()))
        .collect();
    if got_computed != want_computed {
        problems.push(format!(
            "computed {got_computed:?}, expected {want_computed:?}"
        ));
    }
    if !problems.is_empty() {
        problems.insert(0, format!("reasoning: {}", a.reasoning));
    }
    Outcome { problems }
}

#[test]
fn every_flow_matches_its_truth() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for flow in FLOWS {
        let hars = hars_of(flow);
        assert!(!hars.is_empty(), "no HAR for flow {flow}");
        for path in hars {
            checked += 1;
            let o = check(flow, &path);
            if !o.problems.is_empty() {
                failures.push(format!(
                    "{}:\n  {}",
                    path.display(),
                    o.problems.join("\n  ")
                ));
            }
        }
    }
    assert!(checked >= FLOWS.len() * 2);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
