//! Many sessions at once on a browser pool, in real headless Chromium against the fixture
//! app: isolation between captures sharing browsers, crashes that end only their own
//! capture, and a busy pool that says so.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use spool_engine::{
    BrowserPool, BrowserSource, Capture, CaptureConfig, EngineError, LaunchConfig, LiveCapture,
    NoSink, PoolConfig, SpareTab, StopReason, capture,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use spool_store::{ExportOptions, SessionStatus, Store, StoreWriter};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The flows captured side by side: path, and whether the page sets the title `done`.
const FLOWS: [&str; 8] = [
    "/shop/?auto=1",
    "/signed/",
    "/captcha/?auto=1",
    "/static/",
    "/noisy/",
    "/state/",
    "/shop/?auto=1",
    "/static/",
];

fn config_for(server: &FixtureServer, path: &str) -> CaptureConfig {
    let mut config = CaptureConfig::new(server.url(path));
    config.level = CaptureLevel::Api;
    config.timeout = Duration::from_secs(60);
    config.wait_for = Some("document.title === 'done'".into());
    if path == "/state/" {
        // Browser state that must stay inside this capture's context.
        config.state = serde_json::from_value(serde_json::json!({
            "cookies": [{ "name": "prefs", "value": "dark-mode-only-here" }],
            "localStorage": { "theme": "only-here" },
        }))
        .unwrap();
        config.wait_for = Some(
            "document.title === 'done' && document.getElementById('state').textContent.includes('only-here')"
                .into(),
        );
    }
    config
}

/// What a user compares between two captures of a flow: method, path and status of every
/// request, ignoring query values that change per run and the favicon the browser may or
/// may not ask for.
fn requests(capture: &Capture) -> BTreeSet<(String, String, i64)> {
    capture
        .har
        .log
        .entries
        .iter()
        .filter(|e| !e.request.url.ends_with("/favicon.ico"))
        .map(|e| {
            let url = url::Url::parse(&e.request.url).unwrap();
            (
                e.request.method.clone(),
                format!("{}:{}", url.host_str().unwrap_or(""), url.path()),
                e.response.status,
            )
        })
        .collect()
}

fn pool(max_browsers: usize, contexts: usize) -> BrowserPool {
    BrowserPool::new(PoolConfig {
        max_browsers,
        min_browsers: 0,
        max_contexts_per_browser: contexts,
        max_waiters: 16,
        acquire_timeout: Duration::from_secs(120),
        source: BrowserSource::Launch(LaunchConfig::default()),
        ..PoolConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_captures_on_two_browsers_match_lone_captures_and_share_nothing() {
    let server = FixtureServer::start().await.unwrap();
    let pool = pool(2, 4);

    // Each distinct flow alone first, one after the other.
    let mut alone = std::collections::BTreeMap::new();
    for path in FLOWS.iter().collect::<BTreeSet<_>>() {
        let cap = capture(&pool, &config_for(&server, path), &mut NoSink, None)
            .await
            .unwrap_or_else(|e| panic!("lone capture of {path}: {e}"));
        assert_eq!(cap.stop_reason, StopReason::NetworkIdle, "{path}");
        alone.insert(*path, cap);
    }

    // Then all eight at once on the same two browsers.
    let together = futures_util::future::join_all(FLOWS.iter().map(|path| {
        let pool = pool.clone();
        let config = config_for(&server, path);
        async move { (path, capture(&pool, &config, &mut NoSink, None).await) }
    }))
    .await;
    let stats = pool.stats();
    assert!(stats.browsers <= 2, "{stats:?}");

    for (path, result) in &together {
        let cap = result
            .as_ref()
            .unwrap_or_else(|e| panic!("concurrent capture of {path}: {e}"));
        assert_eq!(cap.stop_reason, StopReason::NetworkIdle, "{path}");
        assert_eq!(
            requests(cap),
            requests(&alone[*path]),
            "{path}: the concurrent capture saw other requests than the lone one"
        );
        common::assert_valid_har(&cap.har, path);
        // Nothing of the state flow's cookie or storage shows up anywhere else.
        if **path != "/state/" {
            let text = serde_json::to_string(&cap.har).unwrap();
            assert!(
                !text.contains("only-here"),
                "{path} saw the state flow's cookie or storage"
            );
        }
    }
    // The shop's session cookies are per capture: no two shop captures share one, and no
    // other flow sends one.
    let session_cookies = |cap: &Capture| -> BTreeSet<String> {
        cap.har
            .log
            .entries
            .iter()
            .flat_map(|e| e.request.cookies.iter())
            .filter(|c| c.name == "session")
            .map(|c| c.value.clone())
            .collect()
    };
    let shops: Vec<BTreeSet<String>> = together
        .iter()
        .filter(|(p, _)| **p == "/shop/?auto=1")
        .map(|(_, r)| session_cookies(r.as_ref().unwrap()))
        .collect();
    assert_eq!(shops.len(), 2);
    assert!(!shops[0].is_empty() && shops[0].is_disjoint(&shops[1]));
    for (path, result) in &together {
        if **path != "/shop/?auto=1" {
            assert!(
                session_cookies(result.as_ref().unwrap()).is_empty(),
                "{path} sent a shop session cookie"
            );
        }
    }
    pool.shutdown().await;
}

/// Kills some processes of the pool's browser while a capture of the noisy page records
/// into a store; the capture must end at once with ERROR and its entries stored.
async fn kill_mid_capture(what: &str, kill: fn(&spool_engine::Browser)) {
    let server = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let writer = StoreWriter::spawn(store.clone()).unwrap();
    let pool = pool(1, 2);
    // The browser the capture will get (the pool keeps it).
    let lease = pool.acquire().await.unwrap();
    let browser_pid = lease.browser().pid().unwrap();
    drop(lease);

    let mut sink = writer
        .begin(spool_store::NewSession {
            task_description: format!("{what} mid-capture"),
            capture_level: CaptureLevel::Api,
            ..Default::default()
        })
        .unwrap();
    let id = sink.id();
    let mut config = config_for(&server, "/static/");
    // Never idle: the capture runs until something ends it.
    config.wait_for = Some("false".into());
    config.timeout = Duration::from_secs(60);
    let killer_pool = pool.clone();
    let killed_at = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // The same browser as the capture's: the pool has one.
        let lease = killer_pool.acquire().await.unwrap();
        assert_eq!(lease.browser().pid(), Some(browser_pid));
        kill(lease.browser());
        Instant::now()
    });
    let result = capture(&pool, &config, &mut sink, None).await;
    let ended = Instant::now();
    let killed_at = killed_at.await.unwrap();
    let err = result.expect_err("a capture whose browser was killed cannot succeed");
    assert!(
        matches!(err, EngineError::CaptureAborted { .. }),
        "{what}: {err}"
    );
    let waited = ended.saturating_duration_since(killed_at);
    assert!(
        waited < Duration::from_secs(2),
        "{what}: the capture noticed only after {waited:?}"
    );
    let partial = err.partial().expect("what was captured is returned");
    assert!(!partial.har.log.entries.is_empty());
    let meta = sink
        .fail(&err.to_string(), partial.har.log.pages.clone())
        .unwrap();
    assert_eq!(meta.status, SessionStatus::Error);
    let stored = store.export_har(id, &ExportOptions::default()).unwrap();
    assert!(
        stored
            .log
            .entries
            .iter()
            .any(|e| e.request.url.ends_with("/static/")),
        "{what}: the entries captured before are in the store"
    );

    // The pool's next capture works (on a replacement browser if the old one died).
    let cap = capture(&pool, &config_for(&server, "/static/"), &mut NoSink, None)
        .await
        .unwrap_or_else(|e| panic!("the capture after {what}: {e}"));
    assert_eq!(cap.stop_reason, StopReason::NetworkIdle);
    pool.shutdown().await;
}

fn kill_renderers(browser: &spool_engine::Browser) {
    let dir = browser.user_data_dir().unwrap();
    let renderers: Vec<i32> = spool_engine::browser::processes_mentioning(&dir.to_string_lossy())
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("--type=renderer"))
                .unwrap_or(false)
        })
        .collect();
    assert!(!renderers.is_empty(), "the page has a renderer process");
    for pid in renderers {
        // SAFETY: a signal to a pid just read from /proc.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn kill_browser(browser: &spool_engine::Browser) {
    let pid = browser.pid().unwrap() as i32;
    // SAFETY: a signal to the browser process we launched.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_renderer_ends_its_capture_at_once_with_what_was_captured() {
    kill_mid_capture("a killed renderer", kill_renderers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_ends_its_capture_at_once_and_is_replaced() {
    kill_mid_capture("a killed browser", kill_browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_says_busy_with_its_own_code() {
    let server = FixtureServer::start().await.unwrap();
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 1,
        min_browsers: 1,
        max_contexts_per_browser: 1,
        max_waiters: 1,
        acquire_timeout: Duration::from_millis(300),
        ..PoolConfig::default()
    })
    .unwrap();
    let held = pool.acquire().await.unwrap();
    // One waiter may queue; it times out.
    let err = pool.acquire().await.err().unwrap();
    assert!(matches!(err, EngineError::PoolBusy { .. }), "{err}");
    assert_eq!(err.code(), spool_model::ErrorCode::BrowserPoolBusy.number());
    assert!(err.to_string().contains("busy"), "{err}");
    // A waiter beyond the queue is refused at once.
    let first = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = pool.acquire().await.err().unwrap();
    assert!(
        matches!(err, EngineError::PoolBusy { waited, .. } if waited.is_zero()),
        "refused without waiting: {err}"
    );
    assert!(first.await.unwrap().is_err());
    // Freed, the context serves the next capture.
    drop(held);
    let mut config = config_for(&server, "/static/");
    config.level = CaptureLevel::Metadata;
    let cap = capture(&pool, &config, &mut NoSink, None).await.unwrap();
    assert_eq!(cap.stop_reason, StopReason::NetworkIdle);
    assert!(pool.stats().launched_total >= 1);
    pool.shutdown().await;
}

/// Back to back, each caller gets a context with its tab already open: the spare is made
/// as soon as the previous lease ends, and a caller that comes while it is being made waits
/// for it rather than making a second context at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_leases_each_get_a_ready_tab() {
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 1,
        min_browsers: 1,
        max_contexts_per_browser: 2,
        ..PoolConfig::default()
    })
    .unwrap();
    // The first lease may come before the pool made its first spare.
    drop(pool.acquire().await.unwrap());
    let mut contexts = BTreeSet::new();
    for i in 0..5 {
        let lease = pool.acquire().await.unwrap();
        assert!(
            lease.ready_page().is_some(),
            "lease {i} came without a ready tab: {:?}",
            pool.stats()
        );
        assert!(
            contexts.insert(lease.context_id().to_string()),
            "lease {i} reused a context"
        );
    }
    pool.shutdown().await;
}

/// The pool sets its spare tab up for recording between requests (the default) or leaves it
/// blank (`SpareTab::Blank`). Either way a capture records the whole flow, from the
/// document request on, with the viewport it asks for: the pool's set-up is the capture's
/// own, and what differs from it (here the viewport) the capture sets itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_records_the_same_on_a_set_up_or_a_blank_spare_tab() {
    let server = FixtureServer::start().await.unwrap();
    let mut lone = None;
    for spare_tab in [SpareTab::Recording, SpareTab::Blank] {
        let pool = BrowserPool::new(PoolConfig {
            max_browsers: 1,
            min_browsers: 1,
            max_contexts_per_browser: 2,
            spare_tab,
            ..PoolConfig::default()
        })
        .unwrap();
        spare_ready(&pool).await;
        let lease = pool.acquire().await.unwrap();
        assert!(lease.ready_page().is_some(), "{spare_tab:?}: no ready tab");
        match (spare_tab, lease.prepared_tab()) {
            (SpareTab::Recording, Some(prepared)) => {
                assert_eq!(prepared.viewport, Default::default());
                assert!(!prepared.session_id.is_empty());
            }
            (SpareTab::Blank, None) => {}
            (kind, prepared) => panic!("{kind:?} pool handed out {prepared:?}"),
        }
        drop(lease);
        spare_ready(&pool).await;
        let cap = capture(
            &pool,
            &config_for(&server, "/shop/?auto=1"),
            &mut NoSink,
            None,
        )
        .await
        .unwrap();
        assert_eq!(cap.stop_reason, StopReason::NetworkIdle, "{spare_tab:?}");
        let first = &cap.har.log.entries[0];
        assert!(
            first.request.url.ends_with("/shop/?auto=1"),
            "{spare_tab:?}: the first entry is {}, not the document",
            first.request.url
        );
        let order = cap
            .har
            .log
            .entries
            .iter()
            .find(|e| e.request.url.ends_with("/api/orders"))
            .unwrap_or_else(|| panic!("{spare_tab:?}: no order request"));
        assert!(
            order
                .response
                .content
                .text
                .as_deref()
                .unwrap_or("")
                .contains("orderId"),
            "{spare_tab:?}: the order's body was not recorded"
        );
        match &lone {
            None => lone = Some(requests(&cap)),
            Some(lone) => assert_eq!(&requests(&cap), lone, "{spare_tab:?}"),
        }

        // A viewport other than the pool's: the capture emulates its own.
        spare_ready(&pool).await;
        let mut config = CaptureConfig::new(server.url("/static/"));
        config.viewport = spool_model::session::Viewport {
            width: 640,
            height: 480,
        };
        let live = LiveCapture::start(&pool, config, Box::new(NoSink))
            .await
            .unwrap();
        // The live capture returns once its navigation was sent: wait for the page itself.
        live.page()
            .wait_until(
                spool_engine::WaitUntil::Load,
                &Default::default(),
                Duration::from_secs(30),
                "the static page",
            )
            .await
            .unwrap();
        let size = live
            .page()
            .evaluate("[innerWidth, innerHeight]")
            .await
            .unwrap();
        assert_eq!(size, serde_json::json!([640, 480]), "{spare_tab:?}");
        live.stop().await.unwrap();
        pool.shutdown().await;
    }
}

/// Waits until the pool has a spare context ready, as a server has between requests.
async fn spare_ready(pool: &BrowserPool) {
    let until = Instant::now() + Duration::from_secs(30);
    while pool.stats().spares == 0 {
        assert!(
            Instant::now() < until,
            "no spare context within 30 s: {:?}",
            pool.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
