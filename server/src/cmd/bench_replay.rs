//! `spool bench-replay SESSION… [--concurrency N] [--iterations M] [--network offline|live]`:
//! how fast a team's own sessions replay on the browser pool. Every session is replayed M
//! times, N at once, after one untimed warm-up replay that starts the browser; the result
//! is replays per minute and the p50/p95/p99 time of one replay, as text or `--json` for CI.
//!
//! `--network offline` loads each session's page with every request answered from its
//! recording (as `spool replay --network offline`); `--network live` replays its recorded
//! actions against the live app (as `spool replay --actions`, with `--base-url` and
//! `--input` as for `--check`), or loads its page when it recorded no actions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt as _;
use serde::Serialize;
use spool_engine::replay::{ReplayRecording, replay_actions_recorded};
use spool_engine::{
    BrowserPool, BrowserSource, EngineError, LaunchConfig, PoolConfig, ReplayNetworkConfig,
    replay_network,
};
use spool_model::har::Har;
use spool_store::{ExportOptions, Session};

use crate::cmd::check::{LiveReplay, action_replay_config};

/// `spool bench-replay`.
#[derive(Debug, Clone, Args)]
pub struct BenchReplayArgs {
    /// Stored session ids (or unique prefixes).
    #[arg(required = true)]
    pub sessions: Vec<String>,
    /// Replays at once (1–16).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Replays of every session (1–1000).
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// `offline` (answered from the recording) or `live` (the app answers).
    #[arg(long, default_value = "offline", value_parser = ["offline", "live"])]
    pub network: String,
    /// With `--network live`: the origin to replay against instead of the recorded one.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// With `--network live`: the value of a recorded input slot (repeatable).
    #[arg(long = "input", value_name = "SLOT=VALUE")]
    pub inputs: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReplayResult {
    pub network: String,
    pub sessions: usize,
    pub concurrency: usize,
    pub iterations: usize,
    pub replays: usize,
    pub failures: usize,
    /// The first failure's reason, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    pub wall_seconds: f64,
    pub replays_per_minute: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// One session, ready to replay.
enum Job {
    Offline(Har),
    Live(Box<Session>, spool_engine::ActionReplayConfig),
}

pub async fn run(args: BenchReplayArgs, data: &Path) -> anyhow::Result<()> {
    if !(1..=16).contains(&args.concurrency) {
        return Err(EngineError::invalid(
            "concurrency",
            format!("must be 1–16, got {}", args.concurrency),
        )
        .into());
    }
    if !(1..=1000).contains(&args.iterations) {
        return Err(EngineError::invalid(
            "iterations",
            format!("must be 1–1000, got {}", args.iterations),
        )
        .into());
    }
    let base_url = args
        .base_url
        .as_deref()
        .map(|u| {
            url::Url::parse(u)
                .map_err(|e| EngineError::invalid("baseUrl", format!("{u:?} is not a URL: {e}")))
        })
        .transpose()?;
    let mut inputs = BTreeMap::new();
    for g in &args.inputs {
        let (slot, value) = g.split_once('=').ok_or_else(|| {
            EngineError::invalid("input", format!("must be SLOT=VALUE, got {g:?}"))
        })?;
        inputs.insert(slot.to_string(), value.to_string());
    }
    let store = crate::open_store(data)?;
    let mut jobs = Vec::new();
    for given in &args.sessions {
        let id = crate::cmd::sessions::resolve_id(&store, given)?;
        let job = if args.network == "offline" {
            let options = ExportOptions {
                include_secrets: true,
                ..ExportOptions::default()
            };
            Job::Offline(store.export_har(id, &options)?)
        } else {
            let session = store.get(id)?;
            let config = action_replay_config(
                &session,
                &LiveReplay {
                    base_url: base_url.as_ref(),
                    inputs: &inputs,
                    overrides: &BTreeMap::new(),
                    speed: 5.0,
                },
            )?;
            Job::Live(Box::new(session), config)
        };
        jobs.push(Arc::new(job));
    }
    drop(store);

    // One browser per four contexts, one kept warm.
    let pool = Arc::new(BrowserPool::new(PoolConfig {
        max_browsers: args.concurrency.div_ceil(4),
        min_browsers: 1,
        max_contexts_per_browser: 4,
        max_waiters: args.concurrency * 2,
        source: BrowserSource::Launch(LaunchConfig::default()),
        ..PoolConfig::default()
    })?);
    // The warm-up replay starts the browser and is not timed.
    let _ = replay_once(&pool, &jobs[0]).await;

    let total = jobs.len() * args.iterations;
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "replaying {pos}/{len} {bar:30} {per_sec} ({elapsed})",
        ) {
            bar.set_style(style);
        }
        bar
    };
    let started = Instant::now();
    let work = (0..args.iterations).flat_map(|_| jobs.iter().cloned());
    let outcomes: Vec<(Duration, Result<(), String>)> = futures_util::stream::iter(work)
        .map(|job| {
            let pool = pool.clone();
            let bar = bar.clone();
            async move {
                let t = Instant::now();
                let outcome = replay_once(&pool, &job).await;
                bar.inc(1);
                (t.elapsed(), outcome)
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    bar.finish_and_clear();
    pool.shutdown().await;

    let mut times: Vec<f64> = outcomes
        .iter()
        .map(|(d, _)| d.as_secs_f64() * 1000.0)
        .collect();
    times.sort_by(f64::total_cmp);
    let failures: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().err())
        .collect();
    let result = BenchReplayResult {
        network: args.network.clone(),
        sessions: jobs.len(),
        concurrency: args.concurrency,
        iterations: args.iterations,
        replays: total,
        failures: failures.len(),
        first_failure: failures.first().map(|s| (*s).clone()),
        wall_seconds: wall.as_secs_f64(),
        replays_per_minute: total as f64 / wall.as_secs_f64() * 60.0,
        p50_ms: percentile(&times, 0.50),
        p95_ms: percentile(&times, 0.95),
        p99_ms: percentile(&times, 0.99),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} replays ({} sessions × {}, {} at once, network {}) in {:.1} s: {:.1} replays/min; one replay p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms; {} failed",
            result.replays,
            result.sessions,
            result.iterations,
            result.concurrency,
            result.network,
            result.wall_seconds,
            result.replays_per_minute,
            result.p50_ms,
            result.p95_ms,
            result.p99_ms,
            result.failures
        );
        if let Some(f) = &result.first_failure {
            println!("  first failure: {f}");
        }
    }
    if result.failures > 0 {
        return Err(anyhow::Error::new(crate::exit::CodedError {
            code: spool_model::ErrorCode::ReplayFailed,
            message: format!("{} of {} replays failed", result.failures, result.replays),
        }));
    }
    Ok(())
}

async fn replay_once(pool: &BrowserPool, job: &Job) -> Result<(), String> {
    match job {
        Job::Offline(har) => {
            let report = replay_network(pool, har, &ReplayNetworkConfig::default())
                .await
                .map_err(|e| e.to_string())?;
            if report.is_complete() {
                Ok(())
            } else {
                Err(format!(
                    "{}: {} requests had no recorded answer{}",
                    report.url,
                    report.unmatched.len(),
                    if report.loaded {
                        ""
                    } else {
                        ", the page did not settle"
                    }
                ))
            }
        }
        Job::Live(session, config) => {
            let (report, _) = replay_actions_recorded(
                pool,
                &session.actions,
                config,
                &ReplayRecording::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
            match report.failure() {
                None => Ok(()),
                Some(e) => Err(e.to_string()),
            }
        }
    }
}

/// The value below which `q` of the sorted `values` fall (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
