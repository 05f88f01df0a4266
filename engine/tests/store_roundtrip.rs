//! A live capture written into the session store while it records, read back after the
//! store is reopened: the exported HAR must equal the HAR the capture returned (modulo
//! redaction), and the export must pass HAR 1.2 validation.

mod common;

use common::assert_valid_har;
use spool_engine::{Capture, CaptureConfig, StopReason};
use spool_fixtures::FixtureServer;
use spool_model::har::Har;
use spool_model::session::CaptureLevel;
use spool_store::{ExportOptions, NewSession, SessionStatus, Store, StoreWriter};
use std::time::Duration;

async fn capture_into(store: &Store, config: &CaptureConfig) -> (Capture, spool_store::Uuid) {
    let writer = StoreWriter::spawn(store.clone()).unwrap();
    let mut sink = writer
        .begin(NewSession {
            task_description: "round trip".into(),
            capture_level: config.level,
            start_url: Some(config.url.clone()),
            ..Default::default()
        })
        .unwrap();
    let id = sink.id();
    let capture = common::capture_with(config, &mut sink)
        .await
        .unwrap_or_else(|e| panic!("capture of {} failed: {e}", config.url));
    assert_eq!(capture.stop_reason, StopReason::NetworkIdle);
    let meta = sink
        .finish(
            SessionStatus::Completed,
            capture.har.log.pages.clone(),
            Some(capture.browser.clone()),
        )
        .unwrap();
    writer.shutdown();
    assert_eq!(meta.status, SessionStatus::Completed);
    (capture, id)
}

/// Lists the first differing entry, so a failure says what changed on the way through.
fn assert_same_har(exported: &Har, captured: &Har, what: &str) {
    assert_eq!(
        exported.log.entries.len(),
        captured.log.entries.len(),
        "{what}: entry count"
    );
    for (i, (a, b)) in exported
        .log
        .entries
        .iter()
        .zip(&captured.log.entries)
        .enumerate()
    {
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            serde_json::to_value(b).unwrap(),
            "{what}: entry {i} ({} {}) differs",
            b.request.method,
            b.request.url
        );
    }
    assert_eq!(
        serde_json::to_value(exported).unwrap(),
        serde_json::to_value(captured).unwrap(),
        "{what}: the log differs outside its entries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_sessions_export_as_the_har_written_at_capture() {
    let server = FixtureServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    {
        let store = Store::open(dir.path()).unwrap();
        for (path, level) in [
            ("/shop/?auto=1", CaptureLevel::Full),
            ("/noisy/", CaptureLevel::Full),
            ("/static/", CaptureLevel::Forensic),
        ] {
            let mut config = CaptureConfig::new(server.url(path));
            config.level = level;
            config.timeout = Duration::from_secs(40);
            config.wait_for = Some("document.title === 'done'".into());
            let (capture, id) = capture_into(&store, &config).await;
            ids.push((path, capture, id));
        }
    }
    // Reopened, as a later process would.
    let store = Store::open(dir.path()).unwrap();
    for (path, capture, id) in &ids {
        let what = format!("session of {path}");
        let keep = ExportOptions {
            include_secrets: true,
            ..Default::default()
        };
        let exported = store.export_har(*id, &keep).unwrap();
        assert_same_har(&exported, &capture.har, &what);
        assert_valid_har(&exported, &what);

        // The default export is redacted, and still valid.
        let redacted = store.export_har(*id, &ExportOptions::default()).unwrap();
        assert_valid_har(&redacted, &format!("redacted {what}"));
        assert_eq!(redacted.log.entries.len(), capture.har.log.entries.len());
        if path.starts_with("/shop/") {
            let order = redacted
                .log
                .entries
                .iter()
                .find(|e| e.request.method == "POST" && e.request.url.ends_with("/api/orders"))
                .expect("the order request is exported");
            let auth = order
                .request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                .expect("the order request carries its Authorization header");
            assert_eq!(auth.value, "Bearer [REDACTED]");
            // The token appears nowhere in the default export: not in the header, and not in
            // the login response that issued it.
            let captured_order = capture
                .har
                .log
                .entries
                .iter()
                .find(|e| e.request.method == "POST" && e.request.url.ends_with("/api/orders"))
                .unwrap();
            let token = captured_order
                .request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                .and_then(|h| h.value.strip_prefix("Bearer "))
                .expect("the captured order carries a bearer token")
                .to_string();
            let text = serde_json::to_string(&redacted).unwrap();
            assert!(
                !text.contains(&token),
                "the bearer token leaked into the export"
            );
        }

        let meta = store.metadata(*id).unwrap();
        assert_eq!(meta.status, SessionStatus::Completed);
        assert_eq!(
            meta.network_event_count as usize,
            capture.har.log.entries.len(),
            "{what}: stored entry count"
        );
    }
}
