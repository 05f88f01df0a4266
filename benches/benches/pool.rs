//! The browser pool: how fast a capture starts on a warm pool vs a cold launch, how many
//! shop-flow captures a minute the pool serves with 1, 2 and 4 at once, and what the real
//! store writer adds to a level-2 capture. Goals: warm start ≤ 50 ms from "capture asked"
//! to "navigation sent"; 4 concurrent ≥ 3× sequential throughput; level 2 with the store
//! ≤ 10 % over an uncaptured load in a context of the same pool
//! (`page_load_with_store/no_capture_pool_context`; `page_load/no_capture` of the capture
//! bench is a tab in the browser's default context, with its warm HTTP cache).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use criterion::{Criterion, criterion_group, criterion_main};
use spool_engine::{
    BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, LiveCapture, NoSink, PoolConfig,
    capture,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use spool_store::{NewSession, SessionStatus, Store, StoreWriter};
use std::time::{Duration, Instant};

const DONE: &str = "document.title === 'done'";

fn warm_pool(max_browsers: usize, contexts: usize) -> PoolConfig {
    PoolConfig {
        max_browsers,
        min_browsers: max_browsers,
        max_contexts_per_browser: contexts,
        max_waiters: 64,
        acquire_timeout: Duration::from_secs(120),
        source: BrowserSource::Launch(LaunchConfig::default()),
        ..PoolConfig::default()
    }
}

fn shop_config(server: &FixtureServer) -> CaptureConfig {
    let mut config = CaptureConfig::new(server.url("/shop/?auto=1"));
    config.level = CaptureLevel::Api;
    config.idle = Duration::ZERO;
    config.wait_for = Some(DONE.into());
    config
}

/// Waits until the pool has launched its warm browsers.
async fn warmed(config: PoolConfig) -> BrowserPool {
    let want = config.min_browsers;
    let pool = BrowserPool::new(config).unwrap();
    while pool.stats().browsers < want {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(FixtureServer::start()).unwrap();

    // "Capture asked" → "navigation sent": LiveCapture::start returns right after it sent
    // the first Page.navigate.
    let mut group = c.benchmark_group("capture_start");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let pool = rt.block_on(warmed(warm_pool(1, 4)));
    let url = server.url("/static/");
    group.bench_function("warm_pool", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (pool, url) = (&pool, url.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // Warm: the pool has had the moment it needs to open its spare context.
                    spool_benches::page_load::spare_ready(pool).await;
                    let start = Instant::now();
                    let live =
                        LiveCapture::start(pool, CaptureConfig::new(url.clone()), Box::new(NoSink))
                            .await
                            .unwrap();
                    total += start.elapsed();
                    let _ = live.stop().await;
                }
                total
            }
        })
    });
    rt.block_on(pool.shutdown());
    group.bench_function("cold_launch", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let url = url.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
                        LaunchConfig::default(),
                    )))
                    .unwrap();
                    let live = LiveCapture::start(
                        &pool,
                        CaptureConfig::new(url.clone()),
                        Box::new(NoSink),
                    )
                    .await
                    .unwrap();
                    total += start.elapsed();
                    let _ = live.stop().await;
                    pool.shutdown().await;
                }
                total
            }
        })
    });
    group.finish();

    // Shop-flow captures with 1, 2 and 4 at once on a warm pool of two browsers. The time
    // per iteration is for `n` captures; criterion's throughput line gives captures/s.
    let mut group = c.benchmark_group("concurrent_shop_captures");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let pool = rt.block_on(warmed(warm_pool(2, 4)));
    for n in [1usize, 2, 4] {
        group.throughput(criterion::Throughput::Elements(n as u64));
        group.bench_function(format!("{n}_at_once"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let pool = &pool;
                let config = shop_config(&server);
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let all = (0..n).map(|_| {
                            let config = config.clone();
                            async move {
                                capture(pool, &config, &mut NoSink, None).await.unwrap();
                            }
                        });
                        futures_util::future::join_all(all).await;
                    }
                    start.elapsed()
                }
            })
        });
    }
    group.finish();

    // Level 2 into the real store through the writer thread, on the warm pool.
    let mut group = c.benchmark_group("page_load_with_store");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(15));
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let writer = StoreWriter::spawn(store).unwrap();
    // The same load without a capture, in a context of the same pool: what an isolated
    // context costs is in both, so the difference is what recording costs.
    group.bench_function("no_capture_pool_context", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (pool, url) = (&pool, server.url("/shop/?auto=1"));
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    spool_benches::page_load::spare_ready(pool).await;
                    total += spool_benches::page_load::load_in_pool_context(pool, &url, DONE).await;
                }
                total
            }
        })
    });
    group.bench_function("capture_level_2_store", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (pool, writer) = (&pool, &writer);
            let config = shop_config(&server);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    spool_benches::page_load::spare_ready(pool).await;
                    let start = Instant::now();
                    let mut sink = writer
                        .begin(NewSession {
                            task_description: "bench".into(),
                            capture_level: config.level,
                            ..Default::default()
                        })
                        .unwrap();
                    let cap = capture(pool, &config, &mut sink, None).await.unwrap();
                    sink.finish(SessionStatus::Completed, cap.har.log.pages, None)
                        .unwrap();
                    total += start.elapsed();
                }
                total
            }
        })
    });
    group.finish();
    rt.block_on(pool.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
