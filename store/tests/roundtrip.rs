//! Write a session in chunks, reopen the store, read and export it back.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use spool_store::har::Har;
use spool_store::{ExportOptions, SessionEnd, SessionQuery, SessionSource, SessionStatus, Store};

#[test]
fn chunks_written_while_recording_read_back_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<_> = (0..45).map(entry).collect();
    let consoles: Vec<_> = (0..12).map(console).collect();
    let actions: Vec<_> = (0..7).map(action).collect();
    let shots: Vec<_> = (0..3).map(screenshot).collect();
    let pages = vec![page("page_1", 900.0), page("page_2", 300.0)];

    let (id, finished) = {
        let store = Store::open(dir.path()).unwrap();
        let mut w = store
            .begin_session(new_session("Log in and list items"))
            .unwrap();
        assert_eq!(
            store.metadata(w.id()).unwrap().status,
            SessionStatus::Recording
        );
        // A page is written when it starts, then again when its timings are known.
        w.append_pages(&[page("page_1", -1.0)]).unwrap();
        for chunk in entries.chunks(10) {
            w.append_entries(chunk).unwrap();
        }
        for chunk in consoles.chunks(5) {
            w.append_console(chunk).unwrap();
        }
        for chunk in actions.chunks(3) {
            w.append_actions(chunk).unwrap();
        }
        for s in &shots {
            w.append_screenshot(s).unwrap();
        }
        w.append_pages(&pages).unwrap();
        w.append_raw_events(b"{\"method\":\"Network.requestWillBeSent\",\"params\":{}}\n")
            .unwrap();
        // Live counts while recording.
        let live = store.metadata(w.id()).unwrap();
        assert_eq!(live.network_event_count, 45);
        assert_eq!(live.status, SessionStatus::Recording);
        let id = w.id();
        let finished = w.finish(SessionEnd::completed()).unwrap();
        (id, finished)
    };
    assert_eq!(finished.status, SessionStatus::Completed);
    assert_eq!(finished.network_event_count, 45);
    assert_eq!(finished.console_entry_count, 12);
    assert_eq!(finished.action_count, 7);
    assert_eq!(finished.screenshot_count, 3);
    assert_eq!(finished.page_count, 2);
    assert!(finished.end_time.is_some());
    assert!(finished.stored_bytes > 0 && finished.raw_bytes > 0);

    let store = Store::open(dir.path()).unwrap();
    let s = store.get(id).unwrap();
    assert_eq!(s.metadata, finished);
    assert_eq!(s.entries, entries);
    assert_eq!(s.console, consoles);
    assert_eq!(s.actions, actions);
    assert_eq!(s.screenshots, shots);
    assert_eq!(s.pages, pages);
    assert!(s.raw_events.starts_with(b"{\"method\""));

    // HAR export with secrets equals what was written.
    let opts = ExportOptions {
        include_secrets: true,
        ..Default::default()
    };
    let har = store.export_har(id, &opts).unwrap();
    assert_eq!(har.log.entries, entries);
    assert_eq!(har.log.pages, pages);
    assert_eq!(har.log.creator.name, "spool");
    let har_json = serde_json::to_value(&har).unwrap();
    spool_fixtures::har_schema::validate(&har_json)
        .unwrap_or_else(|e| panic!("export is not valid HAR 1.2: {e:#?}"));
    // An independent reader accepts it.
    let bytes = serde_json::to_vec(&har).unwrap();
    har::from_slice(&bytes).expect("the har crate reads our export");

    // The default export is the same modulo redaction.
    let redacted = store.export_har(id, &ExportOptions::default()).unwrap();
    assert_eq!(redacted.log.entries.len(), entries.len());
    for (r, e) in redacted.log.entries.iter().zip(&entries) {
        assert_eq!(r.request.method, e.request.method);
        assert_eq!(r.response.content, e.response.content);
        assert_eq!(r.custom, e.custom);
        assert_eq!(
            spool_store::har::header(&r.request.headers, "authorization"),
            Some("Bearer [REDACTED]")
        );
    }
    spool_fixtures::har_schema::validate(&serde_json::to_value(&redacted).unwrap()).unwrap();

    // JSON export: metadata + all streams, screenshots as base64.
    let j = store.export_json(id, &opts).unwrap();
    assert_eq!(j["metadata"]["sessionId"], id.to_string());
    assert_eq!(j["metadata"]["status"], "COMPLETED");
    assert_eq!(j["metadata"]["captureLevel"], 3);
    assert_eq!(j["metadata"]["browserInfo"]["viewport"]["width"], 1280);
    assert_eq!(j["metadata"]["networkEventCount"], 45);
    assert_eq!(j["har"]["log"]["entries"].as_array().unwrap().len(), 45);
    assert_eq!(j["console"].as_array().unwrap().len(), 12);
    assert_eq!(j["actions"].as_array().unwrap().len(), 7);
    let shot = &j["screenshots"][1];
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, shots[1].data);
    assert_eq!(shot["mimeType"], "image/png");
    assert_eq!(j["rawEvents"][0]["method"], "Network.requestWillBeSent");

    // Options leave streams out.
    let slim = store
        .export_json(
            id,
            &ExportOptions {
                include_screenshots: false,
                include_network: false,
                include_secrets: false,
            },
        )
        .unwrap();
    assert!(slim.get("screenshots").is_none());
    assert!(slim.get("har").is_none());
    assert!(slim.get("rawEvents").is_none());
    assert_eq!(slim["console"].as_array().unwrap().len(), 12);
    let no_net = store
        .export_har(
            id,
            &ExportOptions {
                include_network: false,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(no_net.log.entries.is_empty());
}

#[test]
fn metadata_has_the_spec_shape() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.begin_session(new_session("Check the inbox")).unwrap();
    w.append_actions(&[action(1)]).unwrap();
    let m = w
        .finish(SessionEnd {
            status: SessionStatus::Stopped,
            ..Default::default()
        })
        .unwrap();
    let v = serde_json::to_value(&m).unwrap();
    for key in [
        "sessionId",
        "status",
        "startTime",
        "endTime",
        "taskDescription",
        "captureLevel",
        "browserInfo",
        "actionCount",
        "screenshotCount",
        "networkEventCount",
        "consoleEntryCount",
        "duration",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    assert_eq!(v["status"], "STOPPED");
    assert_eq!(
        v["browserInfo"]["userAgent"],
        "Mozilla/5.0 HeadlessChrome/124.0"
    );
    assert!(v["startTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["source"], "recorded");
    let back: spool_store::SessionMetadata = serde_json::from_value(v).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.source, SessionSource::Recorded);
}

#[test]
fn ending_status_must_be_final_and_writer_drop_interrupts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let w = store.begin_session(new_session("a")).unwrap();
    let err = w
        .finish(SessionEnd::new(SessionStatus::Recording))
        .unwrap_err();
    assert_eq!(err.code(), -32602);
    // The failed finish consumed the writer, whose drop marks the session interrupted.
    let page = store.list(&SessionQuery::default()).unwrap();
    assert_eq!(page.sessions[0].status, SessionStatus::Interrupted);

    let mut w = store.begin_session(new_session("b")).unwrap();
    w.append_entries(&[entry(1)]).unwrap();
    let id = w.id();
    drop(w);
    let m = store.metadata(id).unwrap();
    assert_eq!(m.status, SessionStatus::Interrupted);
    assert_eq!(m.network_event_count, 1);
    assert_eq!(store.get(id).unwrap().entries, vec![entry(1)]);

    // A given id is used, and may not be reused.
    let fixed = spool_store::Uuid::new_v4();
    let mut n = new_session("c");
    n.id = Some(fixed);
    let w = store.begin_session(n.clone()).unwrap();
    assert_eq!(w.id(), fixed);
    assert_eq!(store.begin_session(n).unwrap_err().code(), -32602);
    w.finish(SessionEnd::error("browser crashed")).unwrap();
    let m = store.metadata(fixed).unwrap();
    assert_eq!(m.status, SessionStatus::Error);
    assert_eq!(m.error.as_deref(), Some("browser crashed"));
}

#[test]
fn set_pages_replaces_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.begin_session(new_session("pages")).unwrap();
    w.append_pages(&[page("a", 1.0), page("b", 2.0)]).unwrap();
    w.set_pages(&[page("c", 3.0)]).unwrap();
    let id = w.id();
    let m = w.finish(SessionEnd::completed()).unwrap();
    assert_eq!(m.page_count, 1);
    let har: Har = store.export_har(id, &ExportOptions::default()).unwrap();
    assert_eq!(har.log.pages, vec![page("c", 3.0)]);
}

#[test]
fn handles_are_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    fn clone<T: Clone>() {}
    send_sync::<Store>();
    clone::<Store>();
    send::<spool_store::SessionWriter>();
    send_sync::<spool_store::StoreError>();
}
