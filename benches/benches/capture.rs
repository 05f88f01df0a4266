//! Fixture page load with capture at each level vs without capture, in one headless
//! Chromium. Both wait for the same thing (the shop flow's title becoming "done"); the
//! capture's idle window is zero so it ends as soon as the page is done and nothing is in
//! flight. The capture takes a context from a warm pool of one browser, as the server does.
//! Goal: level 2 adds at most 10% wall time.

use criterion::{Criterion, criterion_group, criterion_main};
use spool_engine::{
    Browser, BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, NoSink, PoolConfig, capture,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use std::time::{Duration, Instant};

const DONE: &str = "document.title === 'done'";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, browser, pool) = rt.block_on(async {
        let server = FixtureServer::start().await.unwrap();
        let browser = Browser::launch(&LaunchConfig::default()).await.unwrap();
        let pool = BrowserPool::new(PoolConfig {
            min_browsers: 1,
            ..PoolConfig::single(BrowserSource::Launch(LaunchConfig::default()))
        })
        .unwrap();
        // Warm: the first acquire waits for the launch.
        drop(pool.acquire().await.unwrap());
        (server, browser, pool)
    });
    let url = server.url("/shop/?auto=1");
    let mut group = c.benchmark_group("page_load");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("no_capture", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (browser, url) = (&browser, url.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total +=
                        spool_benches::page_load::load_without_capture(browser, &url, DONE).await;
                }
                total
            }
        })
    });
    for level in [
        CaptureLevel::Metadata,
        CaptureLevel::Api,
        CaptureLevel::Full,
        CaptureLevel::Forensic,
    ] {
        group.bench_function(format!("capture_level_{level}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let pool = &pool;
                let mut config = CaptureConfig::new(url.clone());
                config.level = level;
                config.idle = Duration::ZERO;
                config.wait_for = Some(DONE.into());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        capture(pool, &config, &mut NoSink, None).await.unwrap();
                        total += start.elapsed();
                    }
                    total
                }
            })
        });
    }
    group.finish();
    rt.block_on(pool.shutdown());
    drop(browser);
}

criterion_group!(benches, bench);
criterion_main!(benches);
