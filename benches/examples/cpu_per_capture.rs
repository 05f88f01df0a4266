//! CPU time per shop-flow capture, next to wall time, with 1 and with 4 captures at once on
//! a warm pool of two browsers: what bounds the concurrent-captures goal of the pool bench
//! on a given machine. It counts this process and every process it started (Chromium's
//! browser, renderers, GPU and utility processes), read from /proc, so Linux only.
//!
//! With `--no-capture`, the same loads run uncaptured in pool contexts (the capture-overhead
//! bench's baseline), which shows how much of the CPU time is the isolated page load itself.
//!
//! ```sh
//! cargo run --release -p spool-benches --example cpu_per_capture [-- --no-capture]
//! ```

#![allow(clippy::unwrap_used)] // Bench code: an unwrap that fails is a failed run.

use spool_benches::cpu::CpuByProcess;
use spool_engine::{
    BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, NoSink, PoolConfig, capture,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use std::time::{Duration, Instant};

const DONE: &str = "document.title === 'done'";
const LOADS: usize = 24;

#[tokio::main]
async fn main() {
    let uncaptured = std::env::args().any(|a| a == "--no-capture");
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 2,
        min_browsers: 2,
        max_contexts_per_browser: 4,
        max_waiters: 64,
        source: BrowserSource::Launch(LaunchConfig::default()),
        ..PoolConfig::default()
    })
    .unwrap();
    let server = FixtureServer::start().await.unwrap();
    let mut config = CaptureConfig::new(server.url("/shop/?auto=1"));
    config.level = CaptureLevel::Api;
    config.idle = Duration::ZERO;
    config.wait_for = Some(DONE.into());
    while pool.stats().browsers < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load = |pool: &BrowserPool, config: &CaptureConfig| {
        let (pool, config) = (pool.clone(), config.clone());
        async move {
            if uncaptured {
                spool_benches::page_load::load_in_pool_context(&pool, &config.url, DONE).await;
            } else {
                capture(&pool, &config, &mut NoSink, None).await.unwrap();
            }
        }
    };
    for _ in 0..4 {
        load(&pool, &config).await;
    }
    let what = if uncaptured {
        "uncaptured loads"
    } else {
        "captures"
    };
    for at_once in [1usize, 4, 1, 4] {
        let (before, started) = (CpuByProcess::now(), Instant::now());
        for _ in 0..LOADS / at_once {
            futures_util::future::join_all((0..at_once).map(|_| load(&pool, &config))).await;
        }
        let wall = started.elapsed().as_secs_f64();
        // Disposals still running belong to these loads too.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let used = CpuByProcess::now().since(&before);
        let (cpu, n) = (used.total(), LOADS as f64);
        println!(
            "{at_once} at once: {:.0} {what}/min, {:.0} ms CPU and {:.0} ms wall each, {:.2} cores busy",
            n / wall * 60.0,
            cpu / n * 1000.0,
            wall / n * 1000.0,
            cpu / (wall + 0.5)
        );
        println!("    ms CPU each by process: {}", used.per_load_ms(LOADS));
    }
    pool.shutdown().await;
}
