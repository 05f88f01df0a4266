//! Fixture page load with capture at each level vs without capture, in one headless
//! Chromium. Both wait for the same thing (the shop flow's title becoming "done"); the
//! capture's idle window is zero so it ends as soon as the page is done and nothing is in
//! flight. Goal (issue 2): level 2 adds at most 10% wall time.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use criterion::{Criterion, criterion_group, criterion_main};
use spool_engine::{Browser, CaptureConfig, LaunchConfig, NoSink, capture_in};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use std::time::{Duration, Instant};

const DONE: &str = "document.title === 'done'";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, browser) = rt.block_on(async {
        let server = FixtureServer::start().await.unwrap();
        let browser = Browser::launch(&LaunchConfig::default()).await.unwrap();
        (server, browser)
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
                let browser = &browser;
                let mut config = CaptureConfig::new(url.clone());
                config.level = level;
                config.idle = Duration::ZERO;
                config.wait_for = Some(DONE.into());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // A fresh connection per capture (its event stream is taken once),
                        // opened before the clock starts.
                        let attached = Browser::attach(browser.ws_url()).await.unwrap();
                        let start = Instant::now();
                        capture_in(&attached, &config, &mut NoSink, None)
                            .await
                            .unwrap();
                        total += start.elapsed();
                    }
                    total
                }
            })
        });
    }
    group.finish();
    drop(browser);
}

criterion_group!(benches, bench);
criterion_main!(benches);
