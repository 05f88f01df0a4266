//! `spool replay --network offline` as a user runs it: a stored session (imported from a
//! committed capture of the fixture app, which is not running) replays in headless
//! Chromium, from the CLI and through the `replay-network` tool; a changed request fails the
//! run with its near miss; bad input gets its code.
//! The binary closes its own browser before it exits, also on failure.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;
use common::{fails, spool};

use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn import(data: &Path, flow: &str) -> String {
    let har = spool_fixtures::captured_har(flow, 3);
    let out = spool(data, &["sessions", "import", har.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "import of {flow}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    text.split_whitespace()
        .map(|w| w.trim_end_matches(':'))
        .find(|w| w.len() == 36 && w.chars().filter(|c| *c == '-').count() == 4)
        .unwrap_or_else(|| panic!("no session id in the import's output: {text}"))
        .to_string()
}

#[test]
fn a_stored_session_replays_offline_and_a_changed_request_fails_with_its_near_miss() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();

    let id = import(dir, "static");
    let out = spool(dir, &["replay", &id, "--network", "offline", "--json"]);
    assert!(
        out.status.success(),
        "replay of the static page: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stdout(&out)
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["loaded"], true, "{report:#}");
    assert_eq!(report["title"], "done", "{report:#}");
    assert_eq!(report["unmatched"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["unused"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["served"].as_array().unwrap().len(), 7, "{report:#}");

    // The same through the server's tool registry (`spool tool`, as MCP and REST call it).
    let args = serde_json::json!({ "sessionId": id }).to_string();
    let out = spool(dir, &["tool", "replay-network", &args]);
    assert!(
        out.status.success(),
        "replay-network: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["complete"], true, "{result:#}");
    assert_eq!(result["title"], "done", "{result:#}");
    assert_eq!(result["served"].as_array().unwrap().len(), 7, "{result:#}");

    // The shop page told to log in with another password: the login is not in the recording.
    let id = import(dir, "shop");
    let page = "http://127.0.0.1:18931/shop/?auto=1&pass=looking-glass";
    let out = spool(
        dir,
        &[
            "replay",
            &id[..8],
            "--network",
            "offline",
            "--url",
            page,
            "--ignore-query",
            "pass",
            "--wait-for",
            "document.title === 'error'",
        ],
    );
    fails(&out, 1, -32005, "a changed login");
    let text = stdout(&out);
    assert!(text.contains("unmatched 1 request:"), "{text}");
    assert!(
        text.contains("POST   http://127.0.0.1:18931/api/login (failed)"),
        "{text}"
    );
    assert!(
        text.contains(r#"body path password: recorded "wonderland", requested "looking-glass""#),
        "{text}"
    );
    assert!(text.contains("never used"), "{text}");
}

#[test]
fn bad_replay_input_gets_coded_errors() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    fails(
        &spool(
            dir,
            &[
                "replay",
                "00000000-0000-4000-8000-000000000000",
                "--network",
                "offline",
            ],
        ),
        5,
        -32004,
        "unknown session",
    );
    let stderr = fails(
        &spool(dir, &["replay", "00000000-0000-4000-8000-000000000000"]),
        2,
        -32602,
        "no --network",
    );
    assert!(stderr.contains("network"), "{stderr}");
    let stderr = fails(
        &spool(
            dir,
            &[
                "replay",
                "00000000-0000-4000-8000-000000000000",
                "--network",
                "live",
            ],
        ),
        2,
        -32602,
        "--network live",
    );
    assert!(
        stderr.contains("only `offline`") && stderr.contains("--check"),
        "{stderr}"
    );
    let args = r#"{"sessionId": "00000000-0000-4000-8000-000000000000"}"#;
    fails(
        &spool(dir, &["tool", "replay-network", args]),
        5,
        -32004,
        "replay-network of an unknown session",
    );
    let not_har = dir.join("not.har");
    std::fs::write(&not_har, br#"{"log": {"entries": "no"}}"#).unwrap();
    fails(
        &spool(
            dir,
            &["replay", not_har.to_str().unwrap(), "--network", "offline"],
        ),
        2,
        -32102,
        "not a HAR",
    );
}

#[test]
fn bench_replay_measures_stored_sessions_offline() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let first = import(dir, "static");
    let second = import(dir, "shop");
    let out = spool(
        dir,
        &[
            "bench-replay",
            &first,
            &second,
            "--iterations",
            "2",
            "--concurrency",
            "2",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["replays"], 4, "{result:#}");
    assert_eq!(result["failures"], 0, "{result:#}");
    assert_eq!(result["sessions"], 2);
    let (p50, p99) = (
        result["p50Ms"].as_f64().unwrap(),
        result["p99Ms"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p99 >= p50, "{result:#}");
    assert!(result["replaysPerMinute"].as_f64().unwrap() > 0.0);
    for (args, field) in [
        (vec!["--concurrency", "0"], "concurrency"),
        (vec!["--iterations", "0"], "iterations"),
    ] {
        let mut all = vec!["bench-replay", first.as_str()];
        all.extend(args);
        let stderr = fails(&spool(dir, &all), 2, -32602, field);
        assert!(stderr.contains(field), "{stderr}");
    }
    fails(
        &spool(
            dir,
            &["bench-replay", "00000000-0000-4000-8000-000000000000"],
        ),
        5,
        -32004,
        "an unknown session",
    );
}

#[test]
fn volatile_fields_from_a_second_recording_let_a_signed_flow_replay() {
    // The signed page signs each API call with the current time (X-Timestamp, X-Signature),
    // so its replay never sends what was recorded; a second recording of the same flow
    // shows which headers change from run to run.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let recording = spool_fixtures::captured_har("signed", 3);
    let second = spool_fixtures::captured_har("signed", 2);
    let recording = recording.to_str().unwrap();

    let out = spool(dir, &["replay", recording, "--network", "offline"]);
    fails(&out, 1, -32005, "a signed flow replayed as recorded");
    let text = stdout(&out);
    assert!(text.contains("header x-timestamp: recorded"), "{text}");
    assert!(text.contains("header x-signature: recorded"), "{text}");

    let out = spool(
        dir,
        &[
            "replay",
            recording,
            "--network",
            "offline",
            "--volatile-from",
            second.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "replay with volatile fields ignored: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stdout(&out)
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["title"], "done", "{report:#}");
    assert_eq!(report["unmatched"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["unused"], serde_json::json!([]), "{report:#}");
}
