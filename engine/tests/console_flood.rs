//! A page that floods the console (about 10,000 messages a second, for ever) cannot hold a
//! capture past its deadline, and the capture's memory stays bounded. In a test binary of
//! its own, so that no other capture competes for the two cores while it is timed.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use spool_engine::{
    BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, PoolConfig, StopReason, capture,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use std::time::Duration;

/// Counts what a capture hands out, keeping nothing.
#[derive(Default)]
struct Counts {
    console: usize,
}

impl spool_engine::CaptureSink for Counts {
    fn console(&mut self, entries: &[spool_model::session::ConsoleEntry]) {
        self.console += entries.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_flood_stops_at_the_deadline_with_bounded_memory() {
    let server = FixtureServer::start().await.unwrap();
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 1,
        min_browsers: 0,
        max_contexts_per_browser: 1,
        source: BrowserSource::Launch(LaunchConfig::default()),
        ..PoolConfig::default()
    })
    .unwrap();
    drop(pool.acquire().await.unwrap()); // launched before the clock starts
    let mut config = CaptureConfig::new(server.url("/flood/"));
    config.level = CaptureLevel::Api;
    config.timeout = Duration::from_secs(5);
    config.wait_for = Some("false".into());
    config.max_console_entries = 2_000;
    let mut counts = Counts::default();
    let cap = capture(&pool, &config, &mut counts, None).await.unwrap();
    // From the capture's own start (its deadline's clock) to its end.
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    let took = Duration::try_from(at(&cap.ended_at) - at(&cap.started_at)).unwrap();
    assert_eq!(cap.stop_reason, StopReason::Timeout);
    assert!(
        took < config.timeout + Duration::from_secs(1),
        "the flood held the capture {took:?} for a {:?} deadline",
        config.timeout
    );
    assert!(
        counts.console > config.max_console_entries,
        "the page flooded: {} console entries",
        counts.console
    );
    assert_eq!(cap.console.len(), config.max_console_entries);
    assert_eq!(cap.console_dropped, counts.console - cap.console.len());
    pool.shutdown().await;
}
