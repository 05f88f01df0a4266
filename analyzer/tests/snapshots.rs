//! `insta` JSON snapshots of the full analysis of every flow's Chromium capture
//! (`fixtures/har/flows/`, a missing one fails by name), and the HARs from outside
//! (chrome-har output, imports) analyzing without error into a sensible inventory.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::path::{Path, PathBuf};

use spool_analyzer::{AnalysisConfig, AnalyzeInput, UserInput, analyze};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn hars_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "har"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn flow_inputs(path: &Path) -> Vec<UserInput> {
    let stem = path.file_name().unwrap().to_string_lossy();
    let flow = stem.split('.').next().unwrap_or("");
    spool_fixtures::truth::Truth::load(flow)
        .map(|t| {
            t.inputs
                .into_iter()
                .map(|(name, value)| UserInput { name, value })
                .collect()
        })
        .unwrap_or_default()
}

fn analysis(path: &Path, user_inputs: Vec<UserInput>) -> spool_analyzer::Analysis {
    let bytes = std::fs::read(path).unwrap();
    let input = AnalyzeInput {
        har_json: &bytes,
        task: None,
        target: None,
        user_inputs,
    };
    analyze(&input, &AnalysisConfig::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn fixture_flow_analyses() {
    for path in spool_fixtures::captured_hars() {
        let a = analysis(&path, flow_inputs(&path));
        let name = format!("captured__{}", path.file_stem().unwrap().to_string_lossy());
        insta::assert_json_snapshot!(name, a);
    }
}

#[test]
fn hars_from_outside_analyze_into_a_sensible_inventory() {
    let mut n = 0;
    for sub in ["chrome-har", "imports"] {
        for path in hars_in(&workspace().join("fixtures/har").join(sub)) {
            n += 1;
            let a = analysis(&path, Vec::new());
            assert_eq!(
                a.summary.kept + a.summary.dropped,
                a.summary.entries,
                "{}",
                path.display()
            );
            if a.summary.kept > 0 {
                assert!(!a.endpoints.is_empty(), "{}", path.display());
                assert!(a.target.is_some(), "{}", path.display());
            }
            for ep in &a.endpoints {
                assert!(
                    ep.template.starts_with('/'),
                    "{}: {}",
                    path.display(),
                    ep.template
                );
                assert!(!ep.entries.is_empty());
            }
            assert!(!a.reasoning.is_empty());
            let name = format!(
                "outside__{sub}__{}",
                path.file_stem().unwrap().to_string_lossy()
            );
            insta::assert_json_snapshot!(name, a);
        }
    }
    assert!(n > 0, "no outside HARs found");
}
