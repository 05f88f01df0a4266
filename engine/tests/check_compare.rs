//! The regression check's comparison on hand-written recordings (fixtures/replay/check/):
//! each case gives a recording, a replay of it and the replay's step outcomes, and the
//! regressions a person would expect, with words their messages must name. No browser.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

use serde_json::Value;
use spool_engine::replay::check::{self, CheckConfig, Recording, pixel_difference};
use spool_engine::replay::{ActionReplayReport, ActionReplayStatus, StepResult, StepStatus};
use spool_model::har::Har;
use spool_model::session::{Action, ConsoleEntry, ImageFormat, Screenshot};
use std::path::PathBuf;

struct Side {
    har: Har,
    actions: Vec<Action>,
    console: Vec<ConsoleEntry>,
}

fn side(v: &Value) -> Side {
    Side {
        har: serde_json::from_value(v["har"].clone()).unwrap(),
        actions: serde_json::from_value(v["actions"].clone()).unwrap(),
        console: serde_json::from_value(v["console"].clone()).unwrap(),
    }
}

fn recording(s: &Side) -> Recording<'_> {
    Recording {
        har: &s.har,
        console: &s.console,
        actions: &s.actions,
        screenshots: &[],
    }
}

fn report(actions: &[Action], steps: &Value) -> ActionReplayReport {
    let steps: Vec<StepResult> = steps
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let status = s.as_str().unwrap_or_else(|| s["status"].as_str().unwrap());
            StepResult {
                index,
                action: actions[index].clone(),
                status: match status {
                    "SUCCESS" => StepStatus::Success,
                    "FAILED" => StepStatus::Failed,
                    _ => StepStatus::Skipped,
                },
                think_time_ms: 0,
                duration_ms: 1,
                selector_used: None,
                selectors_tried: serde_json::from_value(s["selectorsTried"].clone())
                    .unwrap_or_default(),
                error: s["error"].as_str().map(str::to_string),
                timestamp: String::new(),
            }
        })
        .collect();
    let failed = steps.iter().any(|s| s.status == StepStatus::Failed);
    ActionReplayReport {
        status: if failed {
            ActionReplayStatus::Failed
        } else {
            ActionReplayStatus::Completed
        },
        start_url: String::new(),
        final_url: String::new(),
        dry_run: false,
        steps,
        duration_ms: 1,
        paused_at: None,
    }
}

fn case_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/replay/check")
}

#[test]
fn every_case_finds_exactly_the_expected_regressions() {
    let mut cases = 0;
    for file in std::fs::read_dir(case_dir()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        cases += 1;
        let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let recorded = side(&case["recorded"]);
        let replayed = side(&case["replayed"]);
        let replay = report(&recorded.actions, &case["steps"]);
        let result = check::compare(
            &recording(&recorded),
            &recording(&replayed),
            &replay,
            &CheckConfig::default(),
        );
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let expected = case["expected"].as_array().unwrap();
        let found: Vec<(String, String)> = result
            .regressions
            .iter()
            .map(|r| {
                (
                    serde_json::to_value(r.kind)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                    r.step.clone(),
                )
            })
            .collect();
        let wanted: Vec<(String, String)> = expected
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["step"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(found, wanted, "{name}: {:#?}", result.regressions);
        assert_eq!(result.passed, expected.is_empty(), "{name}");
        for (e, r) in expected.iter().zip(&result.regressions) {
            for word in e["contains"].as_array().unwrap() {
                let word = word.as_str().unwrap();
                assert!(
                    r.message.contains(word),
                    "{name}: {:?} should name {word:?}",
                    r.message
                );
            }
        }
    }
    assert!(cases >= 4, "the cases are in {}", case_dir().display());
}

fn png(width: u32, height: u32, paint: impl Fn(u32, u32) -> [u8; 4]) -> Screenshot {
    let image = image::RgbaImage::from_fn(width, height, |x, y| image::Rgba(paint(x, y)));
    let mut data = Vec::new();
    image::DynamicImage::ImageRgba8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut data),
            image::ImageFormat::Png,
        )
        .unwrap();
    Screenshot {
        format: ImageFormat::Png,
        reason: "final".into(),
        url: String::new(),
        timestamp: String::new(),
        width,
        height,
        data,
    }
}

#[test]
fn pixel_difference_counts_changed_pixels_beyond_the_tolerance() {
    let white = png(100, 100, |_, _| [255, 255, 255, 255]);
    let nearly = png(100, 100, |_, _| [250, 250, 250, 255]);
    // A 10×10 black square: 1 % of the pixels.
    let square = png(100, 100, |x, y| {
        if x < 10 && y < 10 {
            [0, 0, 0, 255]
        } else {
            [255, 255, 255, 255]
        }
    });
    assert_eq!(pixel_difference(&white, &nearly, 24).unwrap(), 0.0);
    assert!((pixel_difference(&white, &square, 24).unwrap() - 0.01).abs() < 1e-9);
    let small = png(50, 100, |_, _| [255, 255, 255, 255]);
    let err = pixel_difference(&white, &small, 24).unwrap_err();
    assert!(err.contains("sizes differ"), "{err}");
    let mut broken = white.clone();
    broken.data.truncate(10);
    assert!(pixel_difference(&broken, &white, 24).is_err());
}
