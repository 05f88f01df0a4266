//! Offline network replay in real headless Chromium: a fixture page is captured, the fixture
//! app is stopped, and the page is loaded again with every request answered from the
//! recording. Each test shuts its browsers down before it checks anything, so a failed
//! check leaves no Chromium behind.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use spool_engine::replay::{Difference, MatchConfig, NetworkReplayReport, UnmatchedPolicy};
use spool_engine::{
    BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, PoolConfig, ReplayNetworkConfig,
    StopReason, replay_network,
};
use spool_fixtures::FixtureServer;
use spool_model::har::Har;
use spool_model::session::CaptureLevel;
use std::time::Duration;

/// Captures `path` of a fresh fixture app at level 3 until the page says it is done, then
/// stops the app: what follows is offline.
async fn capture_then_stop_the_app(path: &str) -> Har {
    let server = FixtureServer::start().await.unwrap();
    let mut config = CaptureConfig::new(server.url(path));
    config.level = CaptureLevel::Full;
    config.timeout = Duration::from_secs(40);
    config.wait_for = Some("document.title === 'done'".into());
    let capture = common::capture_alone(&config)
        .await
        .unwrap_or_else(|e| panic!("capture of {path} failed: {e}"));
    assert_eq!(
        capture.stop_reason,
        StopReason::NetworkIdle,
        "{path} never finished while it was captured"
    );
    let address = format!("127.0.0.1:{}", server.port());
    drop(server);
    // The app is gone: nothing answers on its port any more.
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(&address).await.is_err() {
            return capture.har;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the fixture app on {address} still answers after it was stopped");
}

/// Replays `har` in a browser of its own, closed before the result is returned.
async fn replay(har: &Har, config: &ReplayNetworkConfig) -> NetworkReplayReport {
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let result = replay_network(&pool, har, config).await;
    pool.shutdown().await;
    result.unwrap_or_else(|e| panic!("the replay failed: {e}"))
}

fn config() -> ReplayNetworkConfig {
    ReplayNetworkConfig {
        timeout: Duration::from_secs(40),
        wait_for: Some("document.title === 'done' || document.title === 'error'".into()),
        ..ReplayNetworkConfig::default()
    }
}

/// Every recorded request was asked for and served, and nothing went unmatched.
fn assert_served_completely(report: &NetworkReplayReport, har: &Har, what: &str) {
    assert!(
        report.loaded,
        "{what}: the page did not settle: {report:#?}"
    );
    assert_eq!(report.unmatched, vec![], "{what}: unmatched requests");
    assert_eq!(
        report.unused,
        vec![],
        "{what}: recorded entries never asked for"
    );
    let mut served: Vec<usize> = report.served.iter().filter_map(|s| s.entry).collect();
    served.sort_unstable();
    served.dedup();
    assert_eq!(
        served,
        (0..har.log.entries.len()).collect::<Vec<_>>(),
        "{what}: entries served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_page_loads_completely_from_its_recording() {
    let har = capture_then_stop_the_app("/static/").await;
    let mut config = config();
    config.evaluate = Some(
        "[document.getElementById('status').textContent, \
          getComputedStyle(document.querySelector('h1')).fontFamily, \
          document.getElementById('pixel').naturalWidth, \
          document.getElementById('shape').naturalWidth]"
            .into(),
    );
    let report = replay(&har, &config).await;
    assert_served_completely(&report, &har, "/static/");
    assert_eq!(report.title, "done");
    let evaluated = report.evaluated.clone().unwrap();
    // The script ran (served decoded despite its recorded gzip encoding), the stylesheet
    // applied its web font, and both images decoded at their own sizes (a 1×1 PNG, a
    // 32×32 SVG).
    assert_eq!(evaluated[0], "loaded", "{evaluated}");
    assert!(
        evaluated[1].as_str().unwrap().contains("SpoolFixture"),
        "{evaluated}"
    );
    assert_eq!(evaluated[2], 1, "{evaluated}");
    assert_eq!(evaluated[3], 32, "{evaluated}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_order_completes_from_its_recording() {
    let har = capture_then_stop_the_app("/shop/?auto=1").await;
    let mut config = config();
    config.evaluate = Some("document.getElementById('result').textContent".into());
    let report = replay(&har, &config).await;
    assert_served_completely(&report, &har, "/shop/?auto=1");
    assert_eq!(report.title, "done");
    let recorded_order = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/api/orders"))
        .and_then(|e| e.response.content.text.clone())
        .unwrap();
    let order: serde_json::Value = serde_json::from_str(&recorded_order).unwrap();
    assert_eq!(
        report.evaluated.unwrap(),
        format!("Order confirmed: {}", order["orderId"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_changed_on_purpose_is_reported_with_its_nearest_entry() {
    let har = capture_then_stop_the_app("/shop/?auto=1").await;
    let page = har.log.entries[0].request.url.clone();
    // The page reads the password from ?pass=, so its login body changes; the document's
    // own request is told to ignore that parameter.
    let mut config = config();
    config.url = Some(format!("{page}&pass=looking-glass"));
    config.matching = MatchConfig {
        ignore_query_params: ["pass".to_string()].into(),
        ..MatchConfig::default()
    };
    config.evaluate = Some("document.getElementById('result').textContent".into());
    let report = replay(&har, &config).await;

    assert_eq!(report.title, "error", "{report:#?}");
    assert_eq!(report.unmatched.len(), 1, "{report:#?}");
    let unmatched = &report.unmatched[0];
    assert_eq!(unmatched.method, "POST");
    assert!(unmatched.url.ends_with("/api/login"), "{unmatched:?}");
    assert!(!unmatched.passed_through);
    let near = unmatched.near_miss.as_ref().unwrap();
    assert!(near.url.ends_with("/api/login"));
    assert_eq!(
        near.differences,
        vec![Difference::BodyPath {
            path: "password".into(),
            recorded: Some("\"wonderland\"".into()),
            requested: Some("\"looking-glass\"".into()),
        }]
    );
    // What the login would have led to was never asked for.
    let unused: Vec<&str> = report.unused.iter().map(|u| u.url.as_str()).collect();
    assert!(
        unused.iter().any(|u| u.ends_with("/api/login")),
        "{unused:?}"
    );
    assert!(
        unused.iter().any(|u| u.ends_with("/api/orders")),
        "{unused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_endpoint_replays_its_recorded_answers_in_order() {
    let har = capture_then_stop_the_app("/poll/").await;
    let recorded: Vec<String> = har
        .log
        .entries
        .iter()
        .filter(|e| e.request.url.contains("/api/poll/status"))
        .map(|e| e.response.content.text.clone().unwrap())
        .collect();
    assert_eq!(recorded.len(), 3, "the capture should hold three polls");
    assert!(recorded[0].contains("pending") && recorded[2].contains("ready"));

    let mut config = config();
    config.evaluate =
        Some("[...document.querySelectorAll('#answers li')].map(li => li.textContent)".into());
    let report = replay(&har, &config).await;
    assert_served_completely(&report, &har, "/poll/");
    assert_eq!(report.title, "done");
    assert_eq!(
        report.evaluated.unwrap(),
        serde_json::json!(["1:pending", "2:pending", "3:ready"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_request_passes_through_when_asked() {
    // Recorded against one app, replayed against another app that runs: no request of the
    // other origin is in the recording, so each goes to the live app, and is reported.
    let har = capture_then_stop_the_app("/poll/").await;
    let live = FixtureServer::start().await.unwrap();
    let mut config = config();
    config.unmatched = UnmatchedPolicy::PassThrough;
    config.url = Some(live.url("/poll/"));
    let report = replay(&har, &config).await;
    drop(live);
    assert_eq!(report.title, "done", "{report:#?}");
    assert!(report.served.is_empty(), "{report:#?}");
    let document = &report.unmatched[0];
    assert!(document.url.ends_with("/poll/") && document.passed_through);
    let near = document.near_miss.as_ref().unwrap();
    assert!(near.url.ends_with("/poll/"), "{near:?}");
    assert!(
        matches!(near.differences[..], [Difference::Origin { .. }]),
        "{near:?}"
    );
    let polls = report
        .unmatched
        .iter()
        .filter(|u| u.url.contains("/api/poll/status") && u.passed_through)
        .count();
    assert_eq!(polls, 3, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_redirect_chain_is_followed_hop_by_hop() {
    // The committed capture of the noisy page holds /noisy/r1 → 302 → /noisy/r2 → 301 →
    // /noisy/r3 (JSON). Its app is not running; loading r1 must end on r3 from the recording.
    let bytes = std::fs::read(spool_fixtures::captured_har("noisy", 3)).unwrap();
    let har = Har::from_slice(&bytes).unwrap();
    let r1 = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/noisy/r1"))
        .unwrap()
        .request
        .url
        .clone();
    let mut config = config();
    config.url = Some(r1);
    config.wait_for = None;
    config.evaluate = Some("[location.pathname, document.body.innerText]".into());
    let report = replay(&har, &config).await;
    assert!(report.loaded, "{report:#?}");
    assert_eq!(report.unmatched, vec![], "{report:#?}");
    let hops: Vec<(String, u16)> = report
        .served
        .iter()
        .filter(|s| s.url.contains("/noisy/r"))
        .map(|s| (s.url.rsplit('/').next().unwrap().to_string(), s.status))
        .collect();
    assert_eq!(
        hops,
        [("r1".into(), 302), ("r2".into(), 301), ("r3".into(), 200)]
    );
    let evaluated = report.evaluated.unwrap();
    assert_eq!(evaluated[0], "/noisy/r3", "{evaluated}");
    let recorded_r3 = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/noisy/r3"))
        .and_then(|e| e.response.content.text.clone())
        .unwrap();
    let shown: serde_json::Value = serde_json::from_str(evaluated[1].as_str().unwrap()).unwrap();
    let recorded: serde_json::Value = serde_json::from_str(&recorded_r3).unwrap();
    assert_eq!(shown, recorded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cors_preflight_the_recording_lacks_is_answered_and_the_request_goes_through() {
    // A hand-written recording (fixtures/replay/edge-cases.har): a page on 127.0.0.1 POSTs
    // JSON with a custom header to localhost, which needs a preflight; only the POST itself
    // was recorded. Nothing listens on its port.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/replay/edge-cases.har");
    let har = Har::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut config = config();
    config.url = Some("http://127.0.0.1:18931/cors/".into());
    config.evaluate = Some("document.body.dataset.answer".into());
    let report = replay(&har, &config).await;
    assert_eq!(report.title, "done", "{report:#?}");
    assert_eq!(report.evaluated.clone().unwrap(), "42", "{report:#?}");
    // Chromium asks for /favicon.ico on its own; the hand-written recording has none.
    assert!(
        report
            .unmatched
            .iter()
            .all(|u| u.url.ends_with("/favicon.ico")),
        "{report:#?}"
    );
    let cors: Vec<(String, Option<usize>, u16)> = report
        .served
        .iter()
        .filter(|s| s.url.ends_with("/api/cors"))
        .map(|s| (s.method.clone(), s.entry, s.status))
        .collect();
    let post = har
        .log
        .entries
        .iter()
        .position(|e| e.request.url.ends_with("/api/cors"))
        .unwrap();
    assert_eq!(
        cors,
        [
            ("OPTIONS".into(), None, 204),
            ("POST".into(), Some(post), 200)
        ]
    );
}
