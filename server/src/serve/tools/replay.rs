//! `replay-network`: offline network replay of a stored session. The recorded page is loaded
//! in a context of the server's browser pool with every request answered from the
//! recording (`spool_engine::replay_network`); the result says what was served, what had
//! no recorded answer (with its nearest entry and what differed) and what went unused.
//!
//! It replays the network only: the recorded actions are not performed (that is
//! `replay-automation`, not built yet), so a page that needs a click to make its requests
//! stops where the recording's page load stops.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::{HTTP_URL_PATTERN, SESSION_ID_PATTERN, parse_session_id};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spool_engine::replay::{MatchConfig, UnmatchedPolicy};
use spool_engine::{ReplayNetworkConfig, replay_network as replay};
use spool_model::ErrorCode;
use std::time::Duration;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayNetworkInput {
    /// The stored session to replay (a UUID).
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// Send requests the recording cannot answer to the network instead of failing them.
    #[serde(default)]
    pub passthrough: bool,
    /// The page to load (default: the recording's first document).
    #[schemars(regex(pattern = HTTP_URL_PATTERN))]
    pub url: Option<String>,
    /// Query parameters that do not decide a match.
    #[serde(default)]
    pub ignore_query_params: Vec<String>,
    /// Request headers that do not decide a match.
    #[serde(default)]
    pub ignore_headers: Vec<String>,
    /// JSON paths (`csrf`, `$.meta.ts`) or form fields of request bodies that do not decide
    /// a match.
    #[serde(default)]
    pub ignore_body_paths: Vec<String>,
    /// A JavaScript condition that must hold before the page counts as settled.
    pub wait_for: Option<String>,
    /// The replay's deadline in seconds.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    30
}

/// What the replay did; the shapes of `served`, `unmatched` and `unused` are described in
/// docs/replay.md.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayNetworkOutput {
    pub session_id: String,
    /// The page loaded.
    pub url: String,
    /// The page's load event fired and it settled before the deadline.
    pub loaded: bool,
    /// The page settled and every request had a recorded answer.
    pub complete: bool,
    /// The document's title at the end.
    pub title: String,
    /// Requests answered: `{method, url, entry, status, error?}` (`entry` is the HAR entry
    /// index; null for a CORS preflight Spool allowed).
    pub served: Vec<Value>,
    /// Requests with no recorded answer: `{method, url, passedThrough, nearMiss: {entry,
    /// method, url, differences: [{what, ...}]}}`.
    pub unmatched: Vec<Value>,
    /// Recorded entries no request asked for: `{entry, method, url}`.
    pub unused: Vec<Value>,
    pub duration_ms: u64,
}

pub async fn replay_network(
    state: AppState,
    input: ReplayNetworkInput,
    _ctx: CallContext,
) -> Result<Reply<ReplayNetworkOutput>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    let store = state.store.clone();
    // A replay must send what was recorded, secrets included.
    let har = tokio::task::spawn_blocking(move || {
        let options = spool_store::ExportOptions {
            include_secrets: true,
            ..Default::default()
        };
        store.export_har(id, &options)
    })
    .await
    .map_err(ApiError::internal)??;
    if har.log.entries.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ReplayFailed,
            format!("session {id} recorded no network traffic to replay"),
        ));
    }
    let config = ReplayNetworkConfig {
        matching: MatchConfig {
            ignore_query_params: input.ignore_query_params.into_iter().collect(),
            ignore_headers: input.ignore_headers.into_iter().collect(),
            ignore_body_paths: input.ignore_body_paths.into_iter().collect(),
        },
        unmatched: if input.passthrough {
            UnmatchedPolicy::PassThrough
        } else {
            UnmatchedPolicy::Fail
        },
        url: input.url,
        timeout: Duration::from_secs(input.timeout_seconds),
        wait_for: input.wait_for,
        ..ReplayNetworkConfig::default()
    };
    let report = replay(&state.pool, &har, &config).await?;
    let values = |items: Result<Value, serde_json::Error>| -> Result<Vec<Value>, ApiError> {
        match items.map_err(ApiError::internal)? {
            Value::Array(items) => Ok(items),
            _ => Ok(Vec::new()),
        }
    };
    Ok(ReplayNetworkOutput {
        session_id: id.to_string(),
        complete: report.is_complete(),
        served: values(serde_json::to_value(&report.served))?,
        unmatched: values(serde_json::to_value(&report.unmatched))?,
        unused: values(serde_json::to_value(&report.unused))?,
        url: report.url,
        loaded: report.loaded,
        title: report.title,
        duration_ms: report.duration_ms,
    }
    .into())
}
