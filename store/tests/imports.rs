//! Importing HAR files from anywhere, exporting them back, and bad input.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use serde_json::Value;
use spool_store::{
    CaptureLevel, ExportOptions, SessionQuery, SessionSource, SessionStatus, Store, StoreConfig,
};

fn keep_all() -> ExportOptions {
    ExportOptions {
        include_secrets: true,
        ..Default::default()
    }
}

#[test]
fn every_fixture_har_imports_and_exports_without_loss() {
    let hars = spool_fixtures::har_files();
    assert!(
        hars.len() >= 4,
        "expected the HARs under fixtures/, found {hars:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut imported = Vec::new();
    {
        let store = Store::open(dir.path()).unwrap();
        for path in &hars {
            let bytes = std::fs::read(path).unwrap();
            let id = store
                .import_har(&bytes, None)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            imported.push((path.clone(), id, bytes));
        }
    }
    // Read back from a freshly opened store.
    let store = Store::open(dir.path()).unwrap();
    for (path, id, bytes) in &imported {
        let name = path.display();
        let original: Value = serde_json::from_slice(bytes).unwrap();
        let exported = serde_json::to_value(store.export_har(*id, &keep_all()).unwrap()).unwrap();
        // Every field of the original, custom ones included, is in the export, equal.
        json_subset(&original, &exported, "")
            .unwrap_or_else(|e| panic!("{name}: export lost data: {e}"));
        spool_fixtures::har_schema::validate(&exported)
            .unwrap_or_else(|e| panic!("{name}: export is not HAR 1.2: {e:#?}"));

        let m = store.metadata(*id).unwrap();
        let n = original["log"]["entries"].as_array().unwrap().len() as u64;
        assert_eq!(m.network_event_count, n, "{name}");
        assert_eq!(m.status, SessionStatus::Completed);
        assert_eq!(m.source, SessionSource::Imported);
        assert!(!m.task_description.is_empty());

        // And the JSON export carries the same HAR.
        let j = store.export_json(*id, &keep_all()).unwrap();
        assert_eq!(j["har"], exported, "{name}");
        // Redacted export still validates.
        let red = serde_json::to_value(store.export_har(*id, &ExportOptions::default()).unwrap())
            .unwrap();
        spool_fixtures::har_schema::validate(&red).unwrap();
    }
}

#[test]
fn imported_metadata_is_derived_from_the_har() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let bytes = std::fs::read(workspace_root().join("fixtures/har/imports/firefox.har")).unwrap();
    let id = store.import_har(&bytes, Some("Search for café")).unwrap();
    let m = store.metadata(id).unwrap();
    assert_eq!(m.task_description, "Search for café");
    // 10:15:30.123+02:00
    assert_eq!(m.start_time.to_string(), "2024-07-02T08:15:30.123Z");
    assert_eq!(m.browser_info.product, "Firefox/126.0");
    assert!(m.browser_info.user_agent.contains("Firefox/126.0"));
    assert_eq!(m.capture_level, CaptureLevel::Full);
    assert_eq!(m.page_count, 1);
    assert!(m.duration > 0.0);

    let bytes =
        std::fs::read(workspace_root().join("fixtures/har/imports/chrome-har.har")).unwrap();
    let id = store.import_har(&bytes, None).unwrap();
    let m = store.metadata(id).unwrap();
    assert!(
        m.task_description.contains("chrome-har"),
        "{}",
        m.task_description
    );
    assert_eq!(m.capture_level, CaptureLevel::Metadata);

    // Imported sessions are listed, searchable by words.
    let page = store
        .list(&SessionQuery {
            words: Some("CAFÉ search".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 1);
}

fn count(store: &Store) -> usize {
    store.list(&SessionQuery::default()).unwrap().total
}

#[test]
fn malformed_truncated_and_oversize_hars_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        StoreConfig {
            max_import_bytes: 20_000,
            ..Default::default()
        },
    )
    .unwrap();
    let good = std::fs::read(workspace_root().join("fixtures/har/imports/playwright.har")).unwrap();
    store.import_har(&good, None).unwrap();
    let before = count(&store);
    let disk_keys_before = store.stats().unwrap().sessions;

    // Truncated in the middle of an entry.
    let truncated = &good[..good.len() * 2 / 3];
    let e = store.import_har(truncated, None).unwrap_err();
    assert_eq!(e.code(), -32102, "{e}");
    assert!(e.to_string().contains("log.entries"), "{e}");

    // An entry without a URL: the message names where.
    let mut v: Value = serde_json::from_slice(&good).unwrap();
    v["log"]["entries"][1]["request"]
        .as_object_mut()
        .unwrap()
        .remove("url");
    let e = store
        .import_har(&serde_json::to_vec(&v).unwrap(), None)
        .unwrap_err();
    assert_eq!(e.code(), -32102);
    assert!(
        e.to_string().contains("log.entries[1].request"),
        "names where: {e}"
    );
    assert!(e.to_string().contains("url"), "{e}");

    // A wrong type.
    v = serde_json::from_slice(&good).unwrap();
    v["log"]["entries"][2]["response"]["status"] = Value::String("ok".into());
    let e = store
        .import_har(&serde_json::to_vec(&v).unwrap(), None)
        .unwrap_err();
    assert!(
        e.to_string().contains("log.entries[2].response.status"),
        "{e}"
    );

    // Not JSON at all, and empty.
    for bad in [&b"<html>not a har</html>"[..], b"", b"{}", b"[1,2]"] {
        let e = store.import_har(bad, None).unwrap_err();
        assert_eq!(e.code(), -32102, "{e}");
    }

    // Over the configured size.
    let mut big = good.clone();
    big.resize(20_001, b' ');
    let e = store.import_har(&big, None).unwrap_err();
    assert_eq!(e.code(), -32201, "{e}");
    assert!(e.to_string().contains("20001"), "{e}");

    assert_eq!(count(&store), before);
    assert_eq!(store.stats().unwrap().sessions, disk_keys_before);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(count(&store), before);
}

#[test]
fn default_limit_is_512_mib() {
    assert_eq!(StoreConfig::default().max_import_bytes, 512 * 1024 * 1024);
}
