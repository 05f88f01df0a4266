//! Replay speed. Offline replay (every request answered from the recording, through the
//! `Fetch` domain) of the fixture's static and shop pages, against the same pages loaded
//! live from the fixture app holding every response back by 50 ms (as a real server across
//! a network does), through the same replay machinery with every request passed through;
//! and against Playwright's `routeFromHAR` on the same HAR and page (`playwright-core` with
//! Debian's Chromium, run by benches/replay/playwright_route_from_har.js; its own timer, its
//! own 500 ms network-idle rule, the same as Spool's). Goal: offline ≥ 3× faster than live,
//! and faster than Playwright.
//!
//! For the `done` rule, `bare_local_load` is the floor: the page loaded uncaptured, nothing
//! intercepted, from the fixture app answering at once.
//!
//! Every timed load starts on a ready pool (its spare context made, untimed), as a request to
//! a server between requests does.
//!
//! Two rules end a load, the same in all three: `idle` waits until no request has been
//! made for 500 ms (the replay's default, and Playwright's `networkidle`), so that wait is
//! part of each number; `done` ends as soon as the page has loaded and says it is done
//! (both fixture pages set their title to `done`), which shows what the network itself
//! costs.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use criterion::{Criterion, criterion_group, criterion_main};
use spool_benches::page_load::spare_ready;
use spool_engine::replay::UnmatchedPolicy;
use spool_engine::{
    BrowserPool, BrowserSource, LaunchConfig, PoolConfig, ReplayNetworkConfig, replay_network,
};
use spool_fixtures::{FixtureConfig, FixtureServer};
use spool_model::har::Har;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn recorded(flow: &str) -> (PathBuf, Har) {
    let path = workspace().join(format!("fixtures/har/flows/{flow}.l3.har"));
    let har = Har::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, har)
}

/// The recorded page: the first document request.
fn page_url(har: &Har) -> String {
    har.log.entries[0].request.url.clone()
}

/// Playwright's routeFromHAR, `iters` timed loads ended by `until` (`networkidle` or
/// `done`), their total.
fn playwright(har: &PathBuf, url: &str, iters: u64, until: &str) -> Duration {
    let modules =
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/spool-node/node_modules");
    let out = Command::new("node")
        .arg(workspace().join("benches/replay/playwright_route_from_har.js"))
        .arg(har)
        .arg(url)
        .arg(iters.to_string())
        .arg(until)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs (scripts/setup.sh installs playwright-core)");
    assert!(
        out.status.success(),
        "playwright: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total: f64 = v["ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_f64().unwrap())
        .sum();
    Duration::from_secs_f64(total / 1000.0)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The pool spawns its upkeep task on the runtime it is made in.
    let pool = rt
        .block_on(async {
            BrowserPool::new(PoolConfig {
                max_browsers: 1,
                min_browsers: 1,
                max_contexts_per_browser: 4,
                source: BrowserSource::Launch(LaunchConfig::default()),
                ..PoolConfig::default()
            })
        })
        .unwrap();
    let slow = rt
        .block_on(FixtureServer::start_with_latency(
            FixtureConfig::default(),
            0,
            Duration::from_millis(50),
        ))
        .unwrap();

    let fast = rt
        .block_on(FixtureServer::start_with(FixtureConfig::default(), 0))
        .unwrap();

    let mut group = c.benchmark_group("replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for (flow, rule) in [
        ("static", "idle"),
        ("shop", "idle"),
        ("static", "done"),
        ("shop", "done"),
    ] {
        let (path, har) = recorded(flow);
        let url = page_url(&har);
        let settle = if rule == "done" {
            ReplayNetworkConfig {
                quiet: Duration::ZERO,
                wait_for: Some("document.title === 'done'".into()),
                ..ReplayNetworkConfig::default()
            }
        } else {
            ReplayNetworkConfig::default()
        };
        let offline = settle.clone();
        // One untimed replay starts the browser.
        let report = rt.block_on(replay_network(&pool, &har, &offline)).unwrap();
        assert!(report.is_complete(), "{flow} offline: {report:?}");
        group.bench_function(format!("{flow}/{rule}/spool_offline"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (pool, har, offline) = (&pool, &har, &offline);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        spare_ready(pool).await;
                        let start = Instant::now();
                        let report = replay_network(pool, har, offline).await.unwrap();
                        total += start.elapsed();
                        assert!(report.is_complete());
                    }
                    total
                }
            });
        });

        // Live: nothing recorded, every request passed through to the app (50 ms each).
        let live_url = format!(
            "{}{}",
            slow.base_url(),
            &url::Url::parse(&url).unwrap()[url::Position::BeforePath..]
        );
        let empty = Har {
            log: spool_model::har::Log {
                entries: Vec::new(),
                ..har.log.clone()
            },
            ..har.clone()
        };
        let live = ReplayNetworkConfig {
            unmatched: UnmatchedPolicy::PassThrough,
            url: Some(live_url),
            ..settle.clone()
        };
        group.bench_function(format!("{flow}/{rule}/live_50ms"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (pool, empty, live) = (&pool, &empty, &live);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        spare_ready(pool).await;
                        let start = Instant::now();
                        let report = replay_network(pool, empty, live).await.unwrap();
                        total += start.elapsed();
                        assert!(report.loaded);
                    }
                    total
                }
            });
        });

        // The floor: the same page loaded uncaptured, with nothing intercepted, from the
        // fixture app answering at once. No replay can be faster than the page's own work.
        if rule == "done" {
            let page = format!(
                "{}{}",
                fast.base_url(),
                &url::Url::parse(&url).unwrap()[url::Position::BeforePath..]
            );
            group.bench_function(format!("{flow}/{rule}/bare_local_load"), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (pool, page) = (&pool, &page);
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            spare_ready(pool).await;
                            total += spool_benches::page_load::load_in_pool_context(
                                pool,
                                page,
                                "document.title === 'done'",
                            )
                            .await;
                        }
                        total
                    }
                })
            });
        }

        let until = if rule == "done" {
            "done"
        } else {
            "networkidle"
        };
        group.bench_function(format!("{flow}/{rule}/playwright_route_from_har"), |b| {
            b.iter_custom(|iters| playwright(&path, &url, iters, until));
        });
    }
    group.finish();
    rt.block_on(pool.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
