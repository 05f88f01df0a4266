//! Bad input and failures: clear coded errors, what was captured kept, and no Chromium
//! process left behind. One test, run serially, because it counts processes machine-wide.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use spool_engine::{Browser, BrowserSource, CaptureConfig, EngineError, LaunchConfig, NoSink};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use std::time::{Duration, Instant};

/// Chromium processes started by Spool: every one names a `spool-chromium-` directory.
fn spool_chromium_processes() -> Vec<i32> {
    spool_engine::browser::processes_mentioning("spool-chromium-")
}

fn assert_no_chromium_left(after: &str) {
    // The browser handle kills synchronously; allow a moment for the kernel to reap.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = spool_chromium_processes();
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("Chromium processes outlived {after}: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_coded_and_leave_no_browser_behind() {
    assert_no_chromium_left("the start of the test");
    let server = FixtureServer::start().await.unwrap();

    // A successful capture.
    let mut ok = CaptureConfig::new(server.url("/static/"));
    ok.level = CaptureLevel::Metadata;
    ok.wait_for = Some("document.title === 'done'".into());
    let capture = common::capture_alone(&ok).await.unwrap();
    assert_no_chromium_left("a successful capture");

    // No browser at that path: the error names the path and how to install one.
    let missing = BrowserSource::Launch(LaunchConfig {
        executable: Some("/nonexistent/chromium".into()),
        ..Default::default()
    });
    let err = common::capture_from(missing, &ok, &mut NoSink)
        .await
        .unwrap_err();
    assert_eq!(err.code(), -32001);
    let text = err.to_string();
    assert!(
        text.contains("/nonexistent/chromium") && text.contains("apt-get install"),
        "{text}"
    );

    // A binary that is not a browser.
    let not_browser = BrowserSource::Launch(LaunchConfig {
        executable: Some("/bin/false".into()),
        ..Default::default()
    });
    let err = common::capture_from(not_browser, &ok, &mut NoSink)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::BrowserLaunchFailed { .. }),
        "{err}"
    );

    // A URL that is not http(s).
    for url in ["file:///etc/passwd", "javascript:alert(1)", "not a url"] {
        let err = common::capture_alone(&CaptureConfig::new(url))
            .await
            .unwrap_err();
        assert_eq!(err.code(), -32602, "{url}: {err}");
        assert!(err.to_string().contains("url"), "{err}");
    }

    // An unreachable host: the failed document is in the HAR.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut unreachable = CaptureConfig::new(format!("http://127.0.0.1:{closed}/nothing"));
    unreachable.level = CaptureLevel::Api;
    unreachable.timeout = Duration::from_secs(15);
    let cap = common::capture_alone(&unreachable).await.unwrap();
    let entry = &cap.har.log.entries[0];
    assert!(entry.request.url.ends_with("/nothing"));
    assert_eq!(entry.response.status, 0);
    assert!(
        entry.response.custom["_error"]
            .as_str()
            .unwrap()
            .contains("ERR_CONNECTION_REFUSED")
    );
    assert_no_chromium_left("a capture of an unreachable host");

    // A page that never answers: Timeout, with what was captured so far.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hanging.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        // Accept and hold connections without answering.
        let mut held = Vec::new();
        hanging.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            if let Ok((s, _)) = hanging.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let mut slow = CaptureConfig::new(format!("http://127.0.0.1:{port}/slow"));
    slow.timeout = Duration::from_secs(3);
    let err = common::capture_alone(&slow).await.unwrap_err();
    assert_eq!(err.code(), -32604);
    match err {
        EngineError::Timeout {
            partial: Some(partial),
            ..
        } => {
            let e = &partial.har.log.entries[0];
            assert!(e.request.url.ends_with("/slow"));
            assert_eq!(
                e.custom.get("_incomplete"),
                Some(&serde_json::json!(true)),
                "{}",
                serde_json::to_string_pretty(e).unwrap()
            );
        }
        other => panic!("expected a Timeout with the partial capture, got {other:?}"),
    }
    assert_no_chromium_left("a capture that timed out");
    holder.join().unwrap();

    // A panic while a browser is held: unwinding drops the handle, which kills Chromium.
    let task = tokio::spawn(async {
        let browser = Browser::launch(&LaunchConfig::default()).await.unwrap();
        assert!(!spool_chromium_processes().is_empty());
        let _keep = &browser;
        panic!("deliberate panic with a browser open");
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_no_chromium_left("a panic with a browser open");

    // Dropping a launched browser also removes its user-data-dir.
    let browser = Browser::launch(&LaunchConfig::default()).await.unwrap();
    let dir = browser.user_data_dir().unwrap();
    assert!(dir.exists());
    drop(browser);
    assert!(!dir.exists(), "the user-data-dir is removed");
    assert_no_chromium_left("dropping a browser");

    // Offline replays: one that settles, one that never does (its condition stays false
    // until the deadline), and one dropped half-way (a cancelled call).
    let har = capture.har.clone();
    for (what, wait_for, timeout) in [
        ("an offline replay", None, Duration::from_secs(30)),
        (
            "an offline replay that never settled",
            Some("false".to_string()),
            Duration::from_secs(3),
        ),
    ] {
        let pool = spool_engine::BrowserPool::new(spool_engine::PoolConfig::single(
            BrowserSource::Launch(LaunchConfig::default()),
        ))
        .unwrap();
        let config = spool_engine::ReplayNetworkConfig {
            wait_for,
            timeout,
            ..Default::default()
        };
        let report = spool_engine::replay_network(&pool, &har, &config).await;
        pool.shutdown().await;
        assert_eq!(
            report.unwrap().loaded,
            what == "an offline replay",
            "{what}"
        );
        assert_no_chromium_left(what);
    }
    let pool = spool_engine::BrowserPool::new(spool_engine::PoolConfig::single(
        BrowserSource::Launch(LaunchConfig::default()),
    ))
    .unwrap();
    let config = spool_engine::ReplayNetworkConfig {
        wait_for: Some("false".into()),
        ..Default::default()
    };
    let cancelled = tokio::time::timeout(
        Duration::from_secs(2),
        spool_engine::replay_network(&pool, &har, &config),
    )
    .await;
    assert!(cancelled.is_err(), "the replay should still be waiting");
    pool.shutdown().await;
    assert_no_chromium_left("a cancelled offline replay");
}
