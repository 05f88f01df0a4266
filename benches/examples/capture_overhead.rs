//! The level-2 capture overhead measured paired: each round loads the shop page uncaptured
//! in a pool context, captures it at level 2 into the real store (through the writer
//! thread), captures it at level 2 with no store, and loads it uncaptured in a tab set up
//! before the time starts, in a rotating order, on a warm pool with its spare context ready
//! before each load. The pool sets its spare tab up for recording between requests (as a
//! server's does), so a capture's time starts at its navigation; the uncaptured load in a
//! set-up tab (attached, Page domain on, untimed) starts there too, the strictest baseline. A shared machine drifts by more than the
//! overhead within minutes (see BENCHMARKS.md), so the overhead is taken within each round
//! and the median of the rounds is reported, next to the median times.
//!
//! ```sh
//! cargo run --release -p spool-benches --example capture_overhead [-- ROUNDS]
//! ```

#![allow(clippy::unwrap_used)] // Bench code: an unwrap that fails is a failed run.

use spool_engine::{
    BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, NoSink, PoolConfig, capture,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use spool_store::{NewSession, SessionStatus, Store, StoreWriter};
use std::time::{Duration, Instant};

const DONE: &str = "document.title === 'done'";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(40, |n| n.parse().expect("ROUNDS is a number"));
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 1,
        min_browsers: 1,
        max_contexts_per_browser: 4,
        source: BrowserSource::Launch(LaunchConfig::default()),
        ..PoolConfig::default()
    })
    .unwrap();
    let server = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let writer = StoreWriter::spawn(Store::open(data.path()).unwrap()).unwrap();
    let url = server.url("/shop/?auto=1");
    let mut config = CaptureConfig::new(url.clone());
    config.level = CaptureLevel::Api;
    config.idle = Duration::ZERO;
    config.wait_for = Some(DONE.into());

    let (mut bare, mut stored, mut unstored, mut set_up) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds + 3 {
        let mut times = [0.0; 4];
        for k in 0..4 {
            let which = (round + k) % 4;
            spool_benches::page_load::spare_ready(&pool).await;
            // The baselines time themselves: their time starts once the context is leased.
            let took = match which {
                0 => spool_benches::page_load::load_in_pool_context(&pool, &url, DONE).await,
                3 => spool_benches::page_load::load_in_set_up_tab(&pool, &url, DONE).await,
                1 => {
                    let start = Instant::now();
                    let mut sink = writer
                        .begin(NewSession {
                            task_description: "overhead".into(),
                            capture_level: config.level,
                            ..Default::default()
                        })
                        .unwrap();
                    let cap = capture(&pool, &config, &mut sink, None).await.unwrap();
                    sink.finish(SessionStatus::Completed, cap.har.log.pages, None)
                        .unwrap();
                    start.elapsed()
                }
                _ => {
                    let start = Instant::now();
                    capture(&pool, &config, &mut NoSink, None).await.unwrap();
                    start.elapsed()
                }
            };
            times[which] = took.as_secs_f64() * 1000.0;
        }
        // The first rounds warm the fixture app, the store and the pool.
        if round >= 3 {
            bare.push(times[0]);
            stored.push(times[1]);
            unstored.push(times[2]);
            set_up.push(times[3]);
        }
    }
    let overhead = |with: &[f64], base: &[f64]| {
        median(
            with.iter()
                .zip(base)
                .map(|(w, b)| (w - b) / b * 100.0)
                .collect(),
        )
    };
    println!(
        "{rounds} rounds, medians: uncaptured {:.0} ms, level 2 with the store {:.0} ms ({:+.1} % paired), level 2 without a store {:.0} ms ({:+.1} % paired)",
        median(bare.clone()),
        median(stored.clone()),
        overhead(&stored, &bare),
        median(unstored.clone()),
        overhead(&unstored, &bare),
    );
    println!(
        "against the uncaptured load in a tab set up before the time starts ({:.0} ms): level 2 with the store {:+.1} %, without a store {:+.1} % (paired)",
        median(set_up.clone()),
        overhead(&stored, &set_up),
        overhead(&unstored, &set_up),
    );
    pool.shutdown().await;
}
