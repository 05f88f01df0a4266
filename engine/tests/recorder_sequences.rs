//! The network recorder on hand-written event sequences (fixtures/cdp/recorder): ExtraInfo
//! events before and after their partners, unknown events, and events for requests that
//! never started. Each file lists the entries that must come out. No browser.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use serde::Deserialize;
use serde_json::Value;
use spool_engine::har_from_events;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Case {
    events: Vec<Value>,
    expect: Vec<Expected>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expected {
    method: String,
    url: String,
    status: i64,
    request_headers: BTreeMap<String, String>,
    response_headers: BTreeMap<String, String>,
}

fn run(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cdp/recorder")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let case: Case =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let log = serde_json::to_vec(&case.events).unwrap();
    let har = har_from_events(&log).unwrap_or_else(|e| panic!("{name}: {e}"));
    let entries = &har.log.entries;
    assert_eq!(
        entries.len(),
        case.expect.len(),
        "{name}: entries {:?}",
        entries.iter().map(|e| &e.request.url).collect::<Vec<_>>()
    );
    for (entry, want) in entries.iter().zip(&case.expect) {
        assert_eq!(entry.request.method, want.method, "{name}");
        assert_eq!(entry.request.url, want.url, "{name}");
        assert_eq!(entry.response.status, want.status, "{name}: {}", want.url);
        let header = |headers: &[spool_model::har::Header], name: &str| {
            headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.clone())
        };
        for (k, v) in &want.request_headers {
            assert_eq!(
                header(&entry.request.headers, k).as_deref(),
                Some(v.as_str()),
                "{name}: request header {k} of {}",
                want.url
            );
        }
        for (k, v) in &want.response_headers {
            assert_eq!(
                header(&entry.response.headers, k).as_deref(),
                Some(v.as_str()),
                "{name}: response header {k} of {}",
                want.url
            );
        }
    }
}

#[test]
fn extra_info_after_its_partners_fills_the_real_headers() {
    run("extra_info_after.json");
}

#[test]
fn extra_info_before_its_request_and_stray_events() {
    run("extra_info_before.json");
}

/// Requests in flight, event by event, on a sequence whose file gives the expected count after
/// some of its events (`inFlight`).
#[test]
fn requests_of_a_replaced_document_stop_counting_as_in_flight() {
    step_by_step("replaced_document.json");
}

/// A page whose document failed counts as loaded, also when the navigation was aborted and
/// no load event will ever come (Chromium's automatic reload of an error page).
#[test]
fn a_page_whose_document_failed_counts_as_loaded() {
    step_by_step("aborted_reload.json");
}

/// Feeds a file's events to a recorder one at a time and checks what it reports after the
/// events that say what to expect: `inFlight` (requests in flight) and `pageLoaded`.
fn step_by_step(name: &str) {
    use spool_engine::network::{NetworkRecorder, RecorderConfig};
    use spool_model::session::CaptureLevel;

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cdp/recorder")
        .join(name);
    let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut recorder = NetworkRecorder::new(RecorderConfig::for_level(CaptureLevel::Api));
    recorder.set_main_frame(case["mainFrame"].as_str().unwrap());
    let mut checked = 0;
    for (i, event) in case["events"].as_array().unwrap().iter().enumerate() {
        let method = event["method"].as_str().unwrap();
        recorder.handle(method, None, &event["params"]).unwrap();
        if let Some(want) = event["inFlight"].as_u64() {
            assert_eq!(
                recorder.in_flight() as u64,
                want,
                "{name}: in flight after event {i} ({method})"
            );
            checked += 1;
        }
        if let Some(want) = event["pageLoaded"].as_bool() {
            assert_eq!(
                recorder.page_loaded(),
                want,
                "{name}: page loaded after event {i} ({method})"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "{name}: the file checks the recorder along the way"
    );
}
