//! The session report: making the HTML of a 1,000-entry session (the captured shop flow
//! repeated, bodies included) and loading it in headless Chromium from a `file://` URL. The
//! load is what the page measures itself with `performance.now()`: DOMContentLoaded to the
//! waterfall built and laid out (the goal: under 1 s), and to the first frame after every
//! section rendered. Results are in BENCHMARKS.md.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use criterion::{Criterion, criterion_group, criterion_main};
use spool_benches::report_view::{load_report, synthetic_shop_session};
use spool_engine::{Browser, LaunchConfig};
use spool_report::{ReportConfig, analyze_source, build, render, session_report};
use std::time::Duration;

const ENTRIES: usize = 1_000;

fn bench(c: &mut Criterion) {
    let source = synthetic_shop_session(ENTRIES);
    let config = ReportConfig::default();
    let analysis = analyze_source(&source).unwrap();

    let mut group = c.benchmark_group("report_1000_entries");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("generate_with_analysis", |b| {
        b.iter(|| session_report(&source, &config).unwrap())
    });
    group.bench_function("build_and_render", |b| {
        b.iter(|| render(&build(&source, Ok(&analysis), &config)).unwrap())
    });

    let html = session_report(&source, &config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report-1000.html");
    std::fs::write(&path, &html).unwrap();
    eprintln!("report of {ENTRIES} entries: {} bytes", html.len());
    let url = format!("file://{}", path.display());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let browser = rt
        .block_on(Browser::launch(&LaunchConfig::default()))
        .unwrap();
    // One load to warm the browser's caches and compile paths, as a person's second look.
    let first = rt.block_on(load_report(&browser, &url));
    eprintln!("first load: {first:?}");
    group.bench_function("browser_dcl_to_waterfall", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (browser, url) = (&browser, url.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += load_report(browser, &url).await.to_waterfall;
                }
                total
            }
        })
    });
    group.bench_function("browser_dcl_to_painted", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (browser, url) = (&browser, url.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += load_report(browser, &url).await.to_painted;
                }
                total
            }
        })
    });
    group.bench_function("browser_navigation_to_painted", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (browser, url) = (&browser, url.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += load_report(browser, &url).await.navigation_to_painted;
                }
                total
            }
        })
    });
    group.finish();
    rt.block_on(browser.close());
}

criterion_group!(benches, bench);
criterion_main!(benches);
