//! Event log → HAR on all perflogs together (the input chrome-har is compared on in
//! scripts/bench-har-from-events.sh).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn perflogs() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/perflogs");
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    logs.sort();
    logs.into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn bench(c: &mut Criterion) {
    let logs = perflogs();
    let bytes: usize = logs.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("har_from_events");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("all_perflogs", |b| {
        b.iter(|| {
            for log in &logs {
                black_box(spool_engine::har_from_events(black_box(log)).unwrap());
            }
        })
    });
    group.bench_function("all_perflogs_to_json", |b| {
        b.iter(|| {
            for log in &logs {
                let har = spool_engine::har_from_events(log).unwrap();
                black_box(serde_json::to_vec(&har).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
