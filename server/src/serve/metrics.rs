//! `GET /metrics` in the Prometheus text format, through the `metrics` facade and
//! `metrics-exporter-prometheus`.
//!
//! Counters and histograms are recorded where things happen (the registry records every
//! tool call, the rate limiter every refusal); gauges that describe the present — browsers
//! in the pool, callers waiting, live sessions, the store's sessions and bytes — are read
//! when the page is scraped, so they are never stale.

use super::error::ApiError;
use super::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::path::Path;
use std::sync::OnceLock;

/// Latency buckets of a tool call, in seconds: from a store lookup to a long capture.
const TOOL_SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's one recorder. The `metrics` macros write to whichever recorder is
/// installed globally, so there is exactly one, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &TOOL_SECONDS_BUCKETS,
        ) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("metrics buckets: {e}");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            // Another recorder came first (only in tests); /metrics then shows no calls.
            tracing::warn!("cannot install the metrics recorder: {e}");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!("spool_tool_calls_total", "Tool calls, by tool");
    metrics::describe_counter!(
        "spool_tool_errors_total",
        "Failed tool calls, by tool and error code name"
    );
    metrics::describe_histogram!(
        "spool_tool_duration_seconds",
        metrics::Unit::Seconds,
        "Tool call latency, by tool"
    );
    metrics::describe_counter!(
        "spool_rate_limited_total",
        "Requests refused by a rate limit, by tool"
    );
    metrics::describe_gauge!(
        "spool_live_sessions",
        "Browser sessions held open by the browser tools"
    );
    metrics::describe_gauge!("spool_running_captures", "Captures recording now");
    metrics::describe_gauge!("spool_pool_browsers", "Browsers running in the pool");
    metrics::describe_gauge!("spool_pool_contexts_in_use", "Browser contexts handed out");
    metrics::describe_gauge!("spool_pool_waiters", "Callers waiting for a browser");
    metrics::describe_gauge!("spool_pool_max_browsers", "The pool's browser limit");
    metrics::describe_gauge!("spool_store_sessions", "Sessions in the store");
    metrics::describe_gauge!("spool_store_bytes", "Bytes the store's files take on disk");
}

/// Records one finished tool call.
pub fn record_call(tool: &str, took: std::time::Duration, error: Option<&ApiError>) {
    // The recorder must exist before the first macro call, or that call is lost.
    let _ = handle();
    let tool = tool.to_string();
    metrics::counter!("spool_tool_calls_total", "tool" => tool.clone()).increment(1);
    metrics::histogram!("spool_tool_duration_seconds", "tool" => tool.clone())
        .record(took.as_secs_f64());
    if let Some(e) = error {
        metrics::counter!("spool_tool_errors_total", "tool" => tool, "code" => e.code.name())
            .increment(1);
    }
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = handle();
    let stats = state.pool.stats();
    metrics::gauge!("spool_live_sessions").set(state.live.len() as f64);
    metrics::gauge!("spool_running_captures").set(state.running_captures() as f64);
    metrics::gauge!("spool_pool_browsers").set(stats.browsers as f64);
    metrics::gauge!("spool_pool_contexts_in_use").set(stats.contexts_in_use as f64);
    metrics::gauge!("spool_pool_waiters").set(stats.waiters as f64);
    metrics::gauge!("spool_pool_max_browsers").set(state.config.max_browsers as f64);
    let store = state.store.clone();
    let sessions = store.session_count();
    let bytes = tokio::task::spawn_blocking(move || dir_bytes(store.dir()))
        .await
        .map_err(ApiError::internal)?;
    metrics::gauge!("spool_store_sessions").set(sessions as f64);
    metrics::gauge!("spool_store_bytes").set(bytes as f64);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response())
}

/// The bytes of the files under `dir`, recursively (unreadable entries count as empty).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
