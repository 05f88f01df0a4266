//! `replay-network`: offline network replay of a stored session. The recorded page is loaded
//! in a context of the server's browser pool with every request answered from the
//! recording (`spool_engine::replay_network`); the result says what was served, what had
//! no recorded answer (with its nearest entry and what differed) and what went unused.
//!
//! It replays the network only: the recorded actions are not performed (that is
//! `replay-automation`), so a page that needs a click to make its requests stops where the
//! recording's page load stops.
//!
//! `replay-automation`: a stored session's recorded actions performed again through CDP
//! input in a pool context (`spool_engine::ActionReplay`), answered in the spec's
//! `ReplayAutomationResponse` shape. With `pauseOnError` (the spec's default) a failed step
//! pauses the replay with its tab open: the answer is PAUSED with a `replayId`, and
//! `resume-replay` retries the step, skips it or cancels the replay (a paused replay nobody
//! resumes is cancelled after [`PAUSE_TIMEOUT`]). Without it, a failed step is a
//! ReplayFailed error naming the step and the selectors tried, with the whole response in
//! its details.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::{HTTP_URL_PATTERN, SESSION_ID_PATTERN, parse_session_id};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spool_engine::replay::{
    ActionReplay, ActionReplayStatus, MatchConfig, RecordedAnswers, ReplayRecording, Resume,
    StepResult, StepStatus, UnmatchedPolicy,
};
use spool_engine::{
    ActionReplayConfig, ActionReplayReport, ReplayNetworkConfig, replay_network as replay,
};
use spool_model::ErrorCode;
use spool_store::Uuid;
use std::collections::{BTreeMap, HashMap};
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayAutomationInput {
    /// Session ID to replay.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// The page to start on instead of the recorded one, e.g. the same app on a test host.
    #[schemars(regex(pattern = HTTP_URL_PATTERN))]
    pub start_url: Option<String>,
    /// Replay only this action (0-based): the session's start page is opened and this one
    /// action performed; the others are SKIPPED.
    #[schemars(range(min = 0))]
    pub action_index: Option<usize>,
    /// Scales the recorded think time between actions: 2 waits half as long.
    #[serde(default = "default_speed")]
    #[schemars(range(min = 0.1, max = 5.0))]
    pub speed_multiplier: f64,
    /// Take no screenshots during the replay. Replay takes none yet, so this changes nothing.
    #[serde(default)]
    #[allow(dead_code)] // Part of the spec's input; nothing to skip yet.
    pub skip_screenshots: bool,
    /// Resolve and validate every action on the start page, perform none.
    #[serde(default)]
    pub dry_run: bool,
    /// Pause at a failed action (status PAUSED, with a `replayId` for `resume-replay`)
    /// instead of failing the replay there.
    #[serde(default = "yes")]
    pub pause_on_error: bool,
    /// Values replacing recorded ones, keyed `action-N` (0-based): `{"action-3": {"value":
    /// "bob"}}`. A password field is recorded without its value and needs one here.
    #[serde(default)]
    pub override_parameters: BTreeMap<String, Value>,
    /// Where the replay's requests are answered: `live` (the app, the default) or
    /// `offline` (the session's own recording; a request it cannot answer fails).
    #[serde(default)]
    pub network: NetworkSource,
}

/// Where a replay's requests are answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkSource {
    /// The app answers, as for the person who recorded the session.
    #[default]
    Live,
    /// The session's recording answers every request; nothing reaches the app.
    Offline,
}

fn default_speed() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

/// One action's replay, in the spec's shape plus what a tester needs to fix a selector.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedAction {
    /// The recorded action, with overrides applied (a password's value left out).
    pub action: Value,
    pub index: usize,
    /// `SUCCESS`, `FAILED` or `SKIPPED`.
    pub status: String,
    pub success: bool,
    /// Milliseconds spent finding the element, acting and waiting for the page.
    pub execution_time: u64,
    /// Milliseconds of recorded think time waited before the action.
    pub think_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector_used: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors_tried: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayError {
    pub action_index: usize,
    pub error: String,
    pub timestamp: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplaySummary {
    pub total_actions: usize,
    /// Successful actions out of those replayed, 0–1.
    pub success_rate: f64,
    /// Milliseconds, over the actions replayed.
    pub average_execution_time: f64,
    pub errors: Vec<ReplayError>,
}

/// The spec's `ReplayAutomationResponse`. A replay with a failed step is returned as a
/// ReplayFailed error whose details hold this same document.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayAutomationOutput {
    pub session_id: String,
    /// `COMPLETED`, `FAILED`, `PAUSED` (waiting at `pausedAt`; resume it with
    /// `resume-replay` and `replayId`) or `CANCELLED`.
    pub status: String,
    /// The paused replay, for `resume-replay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_id: Option<String>,
    /// The failed action a PAUSED replay waits at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<usize>,
    /// Milliseconds.
    pub duration: u64,
    /// Actions performed (or, in a dry run, resolved), not counting skipped ones.
    pub actions_replayed: usize,
    pub success_count: usize,
    pub failure_count: usize,
    pub dry_run: bool,
    pub start_url: String,
    pub final_url: String,
    pub results: Vec<ReplayedAction>,
    pub summary: ReplaySummary,
}

pub async fn replay_automation(
    state: AppState,
    input: ReplayAutomationInput,
    _ctx: CallContext,
) -> Result<Reply<ReplayAutomationOutput>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    let store = state.store.clone();
    let session = tokio::task::spawn_blocking(move || store.get(id))
        .await
        .map_err(ApiError::internal)??;
    let config = ActionReplayConfig {
        speed_multiplier: input.speed_multiplier,
        start_url: input.start_url,
        action_index: input.action_index,
        dry_run: input.dry_run,
        override_parameters: input.override_parameters,
        pause_on_error: input.pause_on_error,
        ..ActionReplayConfig::default()
    };
    spool_engine::replay::actions::validate(&session.actions, &config)?;
    let recording = ReplayRecording {
        answers: (input.network == NetworkSource::Offline).then(|| {
            RecordedAnswers::new(
                &session.to_har(),
                MatchConfig::default(),
                UnmatchedPolicy::Fail,
            )
        }),
        ..ReplayRecording::default()
    };
    let mut replay =
        ActionReplay::start(&state.pool, &session.actions, &config, &recording).await?;
    let ran = replay.run().await;
    answer(&state, id, replay, ran).await
}

/// What a running replay says after a run: PAUSED (kept for `resume-replay`), or finished.
async fn answer(
    state: &AppState,
    session: Uuid,
    replay: ActionReplay,
    ran: Result<(), spool_engine::EngineError>,
) -> Result<Reply<ReplayAutomationOutput>, ApiError> {
    if ran.is_ok() && replay.report().status == ActionReplayStatus::Paused {
        let replay_id = Uuid::new_v4();
        let mut output = automation_output(session.to_string(), &replay.report())?;
        output.replay_id = Some(replay_id.to_string());
        state.paused.insert(replay_id, session, replay).await;
        return Ok(output.into());
    }
    let (report, _) = replay.finish(ran.is_ok()).await;
    ran?;
    finished(session, &report)
}

/// A finished replay's answer: the response, or ReplayFailed with it in the details.
fn finished(
    session: Uuid,
    report: &ActionReplayReport,
) -> Result<Reply<ReplayAutomationOutput>, ApiError> {
    let output = automation_output(session.to_string(), report)?;
    if report.status == ActionReplayStatus::Cancelled {
        return Ok(output.into());
    }
    match report.failure() {
        None => Ok(output.into()),
        Some(failure) => {
            let details = json!({
                "response": serde_json::to_value(&output).map_err(ApiError::internal)?,
                "selectorsTried": match &failure {
                    spool_engine::EngineError::ReplayFailed { selectors_tried, .. } => selectors_tried.clone(),
                    _ => Vec::new(),
                },
            });
            Err(ApiError::new(failure.code(), failure.to_string()).with_details(details))
        }
    }
}

/// How long a paused replay waits for `resume-replay` before it is cancelled.
pub const PAUSE_TIMEOUT: Duration = Duration::from_secs(600);

/// Replays paused at a failed action, by replay id, with their session and when they paused.
#[derive(Default)]
pub struct PausedReplays {
    replays: tokio::sync::Mutex<HashMap<Uuid, (Uuid, ActionReplay, std::time::Instant)>>,
}

impl PausedReplays {
    async fn insert(&self, id: Uuid, session: Uuid, replay: ActionReplay) {
        self.replays
            .lock()
            .await
            .insert(id, (session, replay, std::time::Instant::now()));
    }

    async fn take(&self, id: Uuid) -> Option<(Uuid, ActionReplay)> {
        self.replays
            .lock()
            .await
            .remove(&id)
            .map(|(session, replay, _)| (session, replay))
    }

    /// Cancels the replays paused longer than [`PAUSE_TIMEOUT`] (or all, at shutdown),
    /// closing their tabs.
    pub async fn cancel_expired(&self, all: bool) {
        let expired: Vec<ActionReplay> = {
            let mut replays = self.replays.lock().await;
            let ids: Vec<Uuid> = replays
                .iter()
                .filter(|(_, (_, _, at))| all || at.elapsed() >= PAUSE_TIMEOUT)
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| replays.remove(id).map(|(_, r, _)| r))
                .collect()
        };
        for replay in expired {
            replay.cancel().await;
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResumeReplayInput {
    /// The `replayId` of a PAUSED `replay-automation` answer.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub replay_id: String,
    /// `retry` the failed action, `skip` it and go on, or `cancel` the replay.
    pub action: ResumeAction,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResumeAction {
    Retry,
    Skip,
    Cancel,
}

pub async fn resume_replay(
    state: AppState,
    input: ResumeReplayInput,
    _ctx: CallContext,
) -> Result<Reply<ReplayAutomationOutput>, ApiError> {
    let replay_id = Uuid::parse_str(&input.replay_id)
        .map_err(|_| ApiError::invalid("replayId", "must be a UUID"))?;
    let (session, mut replay) = state.paused.take(replay_id).await.ok_or_else(|| {
        ApiError::new(
            ErrorCode::SessionNotFound,
            format!("no paused replay {replay_id} (it finished, was cancelled or expired)"),
        )
        .with_details(json!({ "replayId": replay_id }))
    })?;
    let how = match input.action {
        ResumeAction::Cancel => {
            let report = replay.cancel().await;
            return finished(session, &report);
        }
        ResumeAction::Retry => Resume::Retry,
        ResumeAction::Skip => Resume::Skip,
    };
    let ran = replay.resume(how).await;
    answer(&state, session, replay, ran).await
}

fn automation_output(
    session_id: String,
    report: &ActionReplayReport,
) -> Result<ReplayAutomationOutput, ApiError> {
    let replayed: Vec<&StepResult> = report
        .steps
        .iter()
        .filter(|s| s.status != StepStatus::Skipped)
        .collect();
    let success_count = replayed
        .iter()
        .filter(|s| s.status == StepStatus::Success)
        .count();
    let failure_count = replayed.len() - success_count;
    let total_time: u64 = replayed.iter().map(|s| s.duration_ms).sum();
    let mut results = Vec::with_capacity(report.steps.len());
    for s in &report.steps {
        results.push(ReplayedAction {
            action: serde_json::to_value(&s.action).map_err(ApiError::internal)?,
            index: s.index,
            status: serde_json::to_value(s.status)
                .map_err(ApiError::internal)?
                .as_str()
                .unwrap_or_default()
                .to_string(),
            success: s.status == StepStatus::Success,
            execution_time: s.duration_ms,
            think_time: s.think_time_ms,
            selector_used: s.selector_used.clone(),
            selectors_tried: s.selectors_tried.clone(),
            error: s.error.clone(),
        });
    }
    Ok(ReplayAutomationOutput {
        session_id,
        status: match report.status {
            ActionReplayStatus::Completed => "COMPLETED".into(),
            ActionReplayStatus::Failed => "FAILED".into(),
            ActionReplayStatus::Paused => "PAUSED".into(),
            ActionReplayStatus::Cancelled => "CANCELLED".into(),
        },
        replay_id: None,
        paused_at: report.paused_at,
        duration: report.duration_ms,
        actions_replayed: replayed.len(),
        success_count,
        failure_count,
        dry_run: report.dry_run,
        start_url: report.start_url.clone(),
        final_url: report.final_url.clone(),
        summary: ReplaySummary {
            total_actions: report.steps.len(),
            success_rate: if replayed.is_empty() {
                0.0
            } else {
                success_count as f64 / replayed.len() as f64
            },
            average_execution_time: if replayed.is_empty() {
                0.0
            } else {
                total_time as f64 / replayed.len() as f64
            },
            errors: report
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Failed)
                .map(|s| ReplayError {
                    action_index: s.index,
                    error: s.error.clone().unwrap_or_default(),
                    timestamp: s.timestamp.clone(),
                })
                .collect(),
        },
        results,
    })
}
