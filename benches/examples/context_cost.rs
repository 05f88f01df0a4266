//! Where the CPU of a page load in a fresh pool context goes. On a warm pool of one
//! browser it runs 24 of each, twice, and prints CPU and wall time per load by process
//! (see `spool_benches::cpu`):
//!
//! - `lease`: the pool makes a context and its spare tab (renderer started), which is then
//!   disposed; no page is loaded;
//! - `same_tab`: the shop page loaded again and again in one tab of one context;
//! - `new_tab`: a new tab per load in one held context, closed after;
//! - `pool_context`: a fresh context per load, as every capture gets (the capture bench's
//!   uncaptured baseline).
//!
//! `MODES` picks some of them, `PAGE` another fixture page, and `SPOOL_EXTRA_ARGS` adds
//! Chromium flags (to try one).
//!
//! ```sh
//! cargo run --release -p spool-benches --example context_cost
//! MODES="same_tab pool_context" SPOOL_EXTRA_ARGS="--disable-back-forward-cache" \
//!   cargo run --release -p spool-benches --example context_cost
//! ```

#![allow(clippy::unwrap_used)] // Bench code: an unwrap that fails is a failed run.

use serde_json::json;
use spool_benches::cpu::CpuByProcess;
use spool_benches::page_load::{attach, spare_ready, wait_until_done};
use spool_engine::{BrowserPool, BrowserSource, LaunchConfig, PoolConfig, SpareTab};
use spool_fixtures::FixtureServer;
use std::time::{Duration, Instant};

const DONE: &str = "document.title === 'done'";
const LOADS: usize = 24;

#[tokio::main]
async fn main() {
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 1,
        min_browsers: 1,
        max_contexts_per_browser: 4,
        source: BrowserSource::Launch(LaunchConfig {
            extra_args: std::env::var("SPOOL_EXTRA_ARGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            ..LaunchConfig::default()
        }),
        // Every mode here loads uncaptured: the spare tab is not set up for recording.
        spare_tab: SpareTab::Blank,
        ..PoolConfig::default()
    })
    .unwrap();
    let server = FixtureServer::start().await.unwrap();
    let url = server.url(&std::env::var("PAGE").unwrap_or("/shop/?auto=1".into()));
    spare_ready(&pool).await;
    for round in 0..2 {
        let modes = std::env::var("MODES").unwrap_or("lease same_tab new_tab pool_context".into());
        for mode in modes.split_whitespace() {
            let held = if mode == "same_tab" || mode == "new_tab" {
                Some(pool.acquire().await.unwrap())
            } else {
                None
            };
            let same_tab = match (&held, mode) {
                (Some(l), "same_tab") => {
                    let t = l.ready_page().unwrap().to_string();
                    Some(attach(l.connection(), &t).await)
                }
                _ => None,
            };
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (before, started) = (CpuByProcess::now(), Instant::now());
            for _ in 0..LOADS {
                match mode {
                    "lease" => {
                        spare_ready(&pool).await;
                        drop(pool.acquire().await.unwrap());
                    }
                    "same_tab" => {
                        let l = held.as_ref().unwrap();
                        wait_until_done(l.connection(), same_tab.as_ref().unwrap(), &url, DONE)
                            .await;
                    }
                    "new_tab" => {
                        let l = held.as_ref().unwrap();
                        let t = l.context().create_page("about:blank").await.unwrap();
                        let s = attach(l.connection(), &t).await;
                        wait_until_done(l.connection(), &s, &url, DONE).await;
                        l.connection()
                            .execute_raw(None, "Target.closeTarget", json!({ "targetId": t }))
                            .await
                            .unwrap();
                    }
                    _ => {
                        spare_ready(&pool).await;
                        spool_benches::page_load::load_in_pool_context(&pool, &url, DONE).await;
                    }
                }
            }
            let wall = started.elapsed().as_secs_f64();
            drop(held);
            tokio::time::sleep(Duration::from_millis(700)).await;
            let used = CpuByProcess::now().since(&before);
            println!(
                "round {round} {mode:>12}: {:.0} ms CPU, {:.0} ms wall each | {}",
                used.total() / LOADS as f64 * 1000.0,
                wall / LOADS as f64 * 1000.0,
                used.per_load_ms(LOADS)
            );
        }
    }
    pool.shutdown().await;
}
