//! Analyzer benches: total analysis time on a synthetic HAR of 10,000 entries (~100 MB, shop
//! flow pattern, see `spool_benches::synthetic`), the cost of each stage (parse, filter,
//! index, graph, score), and the peak heap of one analysis, measured by a counting global
//! allocator (printed before the timings).
//!
//! `cargo bench -p spool-benches --bench analyzer` (`SPOOL_BENCH_ENTRIES=N` to change the
//! size). Goals: total under 1 s, peak memory under 3x the file size.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spool_analyzer::stages as pipeline;
use spool_analyzer::{AnalysisConfig, AnalyzeInput, UserInput, analyze};
use spool_benches::synthetic::synthetic_har;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[allow(unsafe_code)] // A counting allocator must implement the unsafe GlobalAlloc trait.
// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn entries() -> usize {
    std::env::var("SPOOL_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

fn mb(b: usize) -> f64 {
    b as f64 / 1_048_576.0
}

fn input(har: &[u8]) -> AnalyzeInput<'_> {
    AnalyzeInput {
        har_json: har,
        task: Some("log in and order the first item"),
        target: None,
        user_inputs: vec![
            UserInput {
                name: "username".into(),
                value: "alice".into(),
            },
            UserInput {
                name: "password".into(),
                value: "wonderland".into(),
            },
        ],
    }
}

/// One analysis with the allocator's peak reset: prints time and memory.
fn report_memory(har: &[u8]) {
    let cfg = AnalysisConfig::default();
    let inp = input(har);
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let a = analyze(&inp, &cfg).expect("analysis");
    let took = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed);
    let extra = peak - base;
    eprintln!(
        "analyzer memory: {} entries, file {:.1} MB; one analysis took {:.3} s; peak heap during analysis {:.1} MB above the caller's {:.1} MB (input included: {:.1} MB = {:.2}x the file; analysis alone {:.2}x)",
        a.summary.entries,
        mb(har.len()),
        took.as_secs_f64(),
        mb(extra),
        mb(base),
        mb(extra + har.len()),
        (extra + har.len()) as f64 / har.len() as f64,
        extra as f64 / har.len() as f64,
    );
    eprintln!(
        "analyzer result: modality {:?}, apiDepth {}, {} endpoints, {} edges, {} dropped",
        a.recommended_modality,
        a.integuru_analysis.complexity.api_depth,
        a.endpoints.len(),
        a.graph.edges.len(),
        a.dropped.len()
    );
    // One pass through the stages, timed one by one.
    let t = Instant::now();
    let h = pipeline::parse(har, &cfg).expect("parse");
    let t_parse = t.elapsed();
    let t = Instant::now();
    let f = pipeline::filter(&h);
    let t_filter = t.elapsed();
    let t = Instant::now();
    let idx = pipeline::index(&h, &f, &cfg).expect("index");
    let t_index = t.elapsed();
    let t = Instant::now();
    let built = pipeline::graph(&h, &f, &idx, &inp, &cfg).expect("graph");
    let t_graph = t.elapsed();
    let t = Instant::now();
    let _ = pipeline::assemble(&h, &f, &idx, built, &inp);
    let t_score = t.elapsed();
    eprintln!(
        "analyzer stages (one run): parse {:.3} s, filter {:.3} s, index {:.3} s, graph {:.3} s, score {:.3} s",
        t_parse.as_secs_f64(),
        t_filter.as_secs_f64(),
        t_index.as_secs_f64(),
        t_graph.as_secs_f64(),
        t_score.as_secs_f64()
    );
    if let Ok(path) = std::env::var("SPOOL_BENCH_WRITE_HAR") {
        std::fs::write(&path, har).expect("write the synthetic HAR");
        eprintln!("synthetic HAR written to {path}");
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(l) = status.lines().find(|l| l.starts_with("VmHWM"))
    {
        eprintln!("analyzer process {l} (includes generating the synthetic HAR)");
    }
}

fn bench(c: &mut Criterion) {
    let n = entries();
    let har = synthetic_har(n);
    report_memory(&har);
    let cfg = AnalysisConfig::default();
    let inp = input(&har);

    let mut g = c.benchmark_group("analyzer");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Bytes(har.len() as u64));
    g.bench_function(format!("total/{n}"), |b| {
        b.iter(|| black_box(analyze(&inp, &cfg).unwrap()))
    });
    g.bench_function(format!("stage1_parse/{n}"), |b| {
        b.iter(|| black_box(pipeline::parse(&har, &cfg).unwrap()))
    });
    let h = pipeline::parse(&har, &cfg).unwrap();
    g.bench_function(format!("stage2_filter/{n}"), |b| {
        b.iter(|| black_box(pipeline::filter(&h)))
    });
    let f = pipeline::filter(&h);
    g.bench_function(format!("stage3_index/{n}"), |b| {
        b.iter(|| black_box(pipeline::index(&h, &f, &cfg).unwrap()))
    });
    let idx = pipeline::index(&h, &f, &cfg).unwrap();
    g.bench_function(format!("stage4_5_graph/{n}"), |b| {
        b.iter(|| black_box(pipeline::graph(&h, &f, &idx, &inp, &cfg).unwrap()))
    });
    g.bench_function(format!("stage6_score/{n}"), |b| {
        b.iter_batched(
            || pipeline::graph(&h, &f, &idx, &inp, &cfg).unwrap(),
            |built| black_box(pipeline::assemble(&h, &f, &idx, built, &inp)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
