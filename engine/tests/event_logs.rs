//! `har_from_events` on real CDP event logs (fixtures/perflogs, from chrome-har's test data):
//! every entry chrome-har keeps is kept, with the same URL, method and status, in the same
//! order; every HAR passes HAR 1.2 validation; malformed logs name the event at fault.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::assert_valid_har;
use spool_engine::{EngineError, har_from_events};
use std::path::PathBuf;

fn perflogs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/perflogs")
}

/// chrome-har re-encodes some characters through Node's legacy URL parser and appends the
/// fragment; compare URLs with both undone.
fn normalize(url: &str) -> String {
    let url = url.split('#').next().unwrap_or(url);
    let mut out = String::new();
    for c in url.chars() {
        match c {
            '{' | '}' | '|' | '^' | '`' | '\'' | '"' | '<' | '>' | '\\' | ' ' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn keeps_every_entry_chrome_har_keeps() {
    let mut checked = 0;
    for file in std::fs::read_dir(perflogs().join("expected")).unwrap() {
        let file = file.unwrap().path();
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let log = std::fs::read(perflogs().join(&name)).unwrap();
        let har = har_from_events(&log).unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_valid_har(&har, &name);

        let ours: Vec<(String, String, i64)> = har
            .log
            .entries
            .iter()
            .map(|e| {
                (
                    normalize(&e.request.url),
                    e.request.method.clone(),
                    e.response.status,
                )
            })
            .collect();
        // Every entry chrome-har keeps is one of ours (we keep more: cache hits, failures,
        // requests whose response never came). Each of ours matches at most one of theirs.
        let mut unmatched = ours.clone();
        for want in expected["entries"].as_array().unwrap() {
            let key = (
                normalize(want["url"].as_str().unwrap()),
                want["method"].as_str().unwrap().to_string(),
                want["status"].as_i64().unwrap(),
            );
            match unmatched.iter().position(|o| *o == key) {
                Some(found) => {
                    unmatched.remove(found);
                }
                None => panic!("{name}: chrome-har keeps {key:?} but Spool does not"),
            }
            checked += 1;
        }
        assert!(!har.log.pages.is_empty(), "{name}: at least one page");
    }
    assert!(checked > 400, "only {checked} entries were compared");
}

#[test]
fn malformed_logs_name_the_event() {
    let not_an_object = br#"[{"method":"Network.requestWillBeSent","params":{"requestId":"1","request":{"url":"http://a/","method":"GET","headers":{}},"timestamp":1,"wallTime":1}}, 42]"#;
    match har_from_events(not_an_object) {
        Err(EngineError::EventLogInvalid { index, .. }) => assert_eq!(index, 1),
        other => panic!("expected an error at event 1, got {other:?}"),
    }
    let no_method = br#"[{"params":{}}]"#;
    assert!(matches!(
        har_from_events(no_method),
        Err(EngineError::EventLogInvalid { index: 0, .. })
    ));
    let bad_params = br#"[{"method":"Network.responseReceived","params":{"requestId":7}}]"#;
    match har_from_events(bad_params) {
        Err(e @ EngineError::EventLogInvalid { index: 0, .. }) => {
            assert!(e.to_string().contains("Network.responseReceived"), "{e}");
            assert_eq!(e.code(), -32602);
        }
        other => panic!("expected an error at event 0, got {other:?}"),
    }
    let truncated = br#"[{"method":"Page.loadEventFired","params":{"timestamp":1}}, {"method":"Network.dataRec"#;
    match har_from_events(truncated) {
        Err(EngineError::EventLogInvalid { index, .. }) => assert_eq!(index, 1),
        other => panic!("expected an error at event 1, got {other:?}"),
    }
    assert!(matches!(
        har_from_events(b""),
        Err(EngineError::EventLogUnreadable(_))
    ));
    assert!(matches!(
        har_from_events(&[0xff, 0xfe]),
        Err(EngineError::EventLogUnreadable(_))
    ));
}

#[test]
fn json_lines_and_arrays_give_the_same_har() {
    let log = std::fs::read(perflogs().join("www.google.com.json")).unwrap();
    let events: Vec<serde_json::Value> = serde_json::from_slice(&log).unwrap();
    let jsonl: String = events.iter().map(|e| format!("{e}\n")).collect();
    let a = har_from_events(&log).unwrap();
    let b = har_from_events(jsonl.as_bytes()).unwrap();
    assert_eq!(a.log.entries, b.log.entries);
}

#[test]
fn cookie_dates_become_iso_8601() {
    use spool_engine::network::http_date_to_iso;
    assert_eq!(
        http_date_to_iso("Fri, 28-Aug-20 04:52:29 GMT").as_deref(),
        Some("2020-08-28T04:52:29.000Z")
    );
    assert_eq!(
        http_date_to_iso("Wed, 29 Jul 2020 04:53:30 GMT").as_deref(),
        Some("2020-07-29T04:53:30.000Z")
    );
    assert_eq!(http_date_to_iso("tomorrow"), None);
}
