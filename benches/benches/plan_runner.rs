//! The API-plan runner (`integuru`) on the shop chain against the fixture app: one run of
//! the plan vs the same five requests sent by a bare `reqwest` loop (goal: < 1 ms of
//! overhead per run), and executions per second in parallel mode at concurrency 1, 4 and 16
//! (goal: ≥ 8× the sequential rate at 16). Each run, in both variants, makes a fresh HTTP
//! client, as `run_plan` does.
//!
//! Parallel mode is measured against a fixture app that holds every response back 50 ms,
//! as an API across a network would (`shop_chain_parallel_50ms`): executions start in
//! order, at most N at a time (`buffered(N)`, as `parallel-execute` runs its operations).
//! Each iteration runs 2·N executions, so every concurrency gets the same wall time per
//! iteration when the runs overlap perfectly. `shop_chain_concurrent` is the same on the
//! fixture app without latency, where a run is CPU work on both sides.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde_json::{Value, json};
use spool_analyzer::{AnalysisConfig, AnalyzeInput, ApiPlan, analyze};
use spool_engine::plan_runner::{RunConfig, RunStatus, run_plan};
use spool_fixtures::{FixtureConfig, FixtureServer};

fn shop_plan() -> ApiPlan {
    let har = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/har/flows/shop.l3.har"
    ))
    .unwrap();
    let input = AnalyzeInput {
        har_json: &har,
        task: Some("log in and order the first item"),
        ..AnalyzeInput::default()
    };
    analyze(&input, &AnalysisConfig::default()).unwrap().plan
}

/// The shop chain written by hand: what the plan runner is measured against.
async fn bare_reqwest(base: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{base}/shop/?auto=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = &page[at..at + 32];
    let login = http
        .post(format!("{base}/api/login"))
        .json(&json!({"username": "alice", "password": "wonderland", "csrf": csrf}))
        .send()
        .await
        .unwrap();
    let session = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = format!("Bearer {token}");
    let items: Value = http
        .get(format!("{base}/api/items"))
        .header("authorization", &auth)
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = items["items"][0]["id"].as_u64().unwrap();
    let item: Value = http
        .get(format!("{base}/api/items/{id}"))
        .header("authorization", &auth)
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = http
        .post(format!("{base}/api/orders"))
        .header("authorization", &auth)
        .header("cookie", &session)
        .json(&json!({"itemId": id, "offer": item["offer"], "quantity": 1, "csrf": csrf}))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 201);
}

async fn one_run(plan: &ApiPlan, config: &RunConfig) {
    let run = run_plan(plan, config).await.unwrap();
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.failure);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(FixtureServer::start()).unwrap();
    let base = server.base_url();
    let plan = shop_plan();
    let config = RunConfig {
        inputs: BTreeMap::from([("password".to_string(), "wonderland".to_string())]),
        base_url: Some(base.clone()),
        timeout: Duration::from_secs(60),
        ..RunConfig::default()
    };

    let mut group = c.benchmark_group("shop_chain");
    group.sample_size(50);
    group.bench_function("plan_runner", |b| {
        b.to_async(&rt).iter(|| one_run(&plan, &config))
    });
    group.bench_function("bare_reqwest", |b| {
        b.to_async(&rt).iter(|| bare_reqwest(&base))
    });
    group.finish();

    let mut group = c.benchmark_group("shop_chain_concurrent");
    group.sample_size(20);
    for n in [1usize, 4, 16] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n}"), |b| {
            b.to_async(&rt)
                .iter(|| join_all((0..n).map(|_| one_run(&plan, &config))))
        });
    }
    group.finish();

    let slow = rt
        .block_on(FixtureServer::start_with_latency(
            FixtureConfig::default(),
            0,
            Duration::from_millis(50),
        ))
        .unwrap();
    let slow_config = RunConfig {
        base_url: Some(slow.base_url()),
        ..config.clone()
    };
    let mut group = c.benchmark_group("shop_chain_parallel_50ms");
    group.sample_size(10);
    for concurrency in [1usize, 4, 16] {
        let runs = 2 * concurrency;
        group.throughput(Throughput::Elements(runs as u64));
        group.bench_function(format!("{concurrency}"), |b| {
            b.to_async(&rt).iter(|| {
                futures_util::stream::iter((0..runs).map(|_| one_run(&plan, &slow_config)))
                    .buffered(concurrency)
                    .collect::<Vec<()>>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
