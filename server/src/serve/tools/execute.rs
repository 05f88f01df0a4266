//! `execute-optimally`: carry a recorded task out again by the cheapest modality that works,
//! falling back to a heavier one when a lighter one fails.
//!
//! The modalities, lightest first: `integuru` runs the analyzer's API plan as plain HTTP (no
//! browser starts); `headless_cdp` performs the recorded actions again in a headless browser
//! from the server's pool (`replay_actions`, as `replay-automation` does) on the host the
//! request targets, and succeeds when the page sent the analysis's target request and got a
//! 2xx answer; `visible_browser` answers `REQUIRES_USER` with what the person must do (a
//! server has no display to open a browser on). The response lists every attempt and why
//! it failed, so a caller never mistakes a fallback for a success.
//!
//! `integuruCode` (a Python script, [`code`](super::code)) is refused unless the server
//! allows it; when allowed, the script is the whole execution.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::analysis::Modality;
use super::capture::BrowserStateInput;
use super::code::{self, CodeOutcome};
use super::{SESSION_ID_PATTERN, parse_session_id};
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spool_engine::plan_runner::{PlanRun, RetryPolicy, RunConfig, RunStatus, run_plan};
use spool_engine::replay::{ReplayRecording, StepStatus, replay_actions_recorded};
use spool_engine::state::BrowserState;
use spool_engine::{ActionReplayConfig, ActionReplayReport};
use spool_model::ErrorCode;
use spool_model::har::{Entry, Har};
use spool_model::session::{Action, CaptureLevel};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use url::Url;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteOptimallyInput {
    /// Description of the task to execute
    #[schemars(length(min = 10, max = 1000))]
    pub task_description: String,
    /// Session ID from previous capture-and-analyze
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: Option<String>,
    /// Path to HAR file to analyze (inside the server's data directory)
    #[schemars(length(min = 1, max = 4096))]
    pub har_file: Option<String>,
    /// Force specific modality
    pub force_modality: Option<Modality>,
    /// Browser state to apply (its cookies go into the plan runner's cookie jar)
    pub browser_state: Option<BrowserStateInput>,
    /// Pre-generated Integuru code to execute: a Python script run with `python3` (inputs as
    /// JSON on stdin and in `SPOOL_INPUTS`, stdout the result, exit status 0 success).
    /// Refused unless the server runs with `--allow-integuru-code true`.
    pub integuru_code: Option<String>,
    /// Execution timeout in seconds
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 30, max = 1800))]
    pub timeout: f64,
    /// Retry policy for failed executions
    #[serde(default)]
    pub retry_policy: RetryPolicyInput,
    /// Spool: values for the plan's inputs (credentials, form fields) and `baseUrl` to send
    /// the recorded requests to another origin
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicyInput {
    #[serde(default = "default_retries")]
    #[schemars(range(min = 0, max = 10))]
    pub max_retries: f64,
    #[serde(default = "default_backoff")]
    #[schemars(range(min = 1000, max = 60000))]
    pub backoff_ms: f64,
}

impl Default for RetryPolicyInput {
    fn default() -> Self {
        RetryPolicyInput {
            max_retries: default_retries(),
            backoff_ms: default_backoff(),
        }
    }
}

fn default_timeout() -> f64 {
    300.0
}

fn default_retries() -> f64 {
    3.0
}

fn default_backoff() -> f64 {
    5000.0
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Success,
    Failed,
    Timeout,
    RequiresUser,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteOptimallyOutput {
    pub status: ExecutionStatus,
    /// The modality that gave the final status.
    pub modality: Modality,
    /// Milliseconds, analysis included.
    pub execution_time: f64,
    /// The target request's response body (parsed when JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Screenshots of browser modalities (the headless replay takes none in this version).
    pub screenshots: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub details: ExecutionDetails,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    /// The steps as run: the plan's (`action` is `METHOD URL`), then the browser replay's
    /// (`action` is the action's kind and the selector that found its element).
    pub steps: Vec<StepSummary>,
    pub resources: ResourceUse,
    /// Spool: every modality tried, in order, and why each one that failed failed.
    pub attempts: Vec<ModalityAttempt>,
    /// Spool: what the person must do, for `REQUIRES_USER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Spool: the plan runner's full report (values used, retries, backoff), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_run: Option<Value>,
    /// Spool: the headless browser replay, when it ran: `startUrl`, `finalUrl`,
    /// `durationMs`, `target` {`method`, `path`, `status`} and every request the page sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_replay: Option<Value>,
    /// Spool: the `integuruCode` script's run: `outcome`, `exitCode`, `stdout`, `stderr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_run: Option<Value>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    pub action: String,
    /// SUCCESS or FAILED.
    pub status: String,
    /// Milliseconds, retries included.
    pub duration: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the execution cost, as measured.
#[derive(Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceUse {
    /// Bytes of request and response bodies the run sent and held.
    pub memory_used: u64,
    /// CPU milliseconds the server process used during the execution (other work running
    /// at the same time is counted too).
    pub cpu_time: f64,
    /// HTTP requests sent, retries and redirects included.
    pub network_requests: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModalityAttempt {
    pub modality: Modality,
    pub status: ExecutionStatus,
    /// Milliseconds.
    pub duration: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn execute_optimally(
    state: AppState,
    input: ExecuteOptimallyInput,
    ctx: CallContext,
) -> Result<Reply<ExecuteOptimallyOutput>, ApiError> {
    let started = Instant::now();
    let cpu_start = process_cpu_ms();
    if let Some(code) = &input.integuru_code {
        return run_integuru_code(&state, &input, code, &ctx, started, cpu_start).await;
    }
    let config = run_config(&input)?;
    config.validate()?;
    let recording = load_recording(&state, &input).await?;
    let task = input.task_description.clone();
    let har = recording.har.clone();
    let analysis = tokio::task::spawn_blocking(move || {
        let input = spool_analyzer::AnalyzeInput {
            har_json: &har,
            task: Some(&task),
            target: None,
            user_inputs: Vec::new(),
        };
        spool_analyzer::analyze(&input, &spool_analyzer::AnalysisConfig::default())
    })
    .await
    .map_err(ApiError::internal)??;
    let recommended = match analysis.recommended_modality {
        Some(spool_analyzer::Modality::Integuru) => Modality::Integuru,
        Some(spool_analyzer::Modality::VisibleBrowser) => Modality::VisibleBrowser,
        Some(spool_analyzer::Modality::HeadlessCdp) | None => Modality::HeadlessCdp,
    };
    let first = input.force_modality.unwrap_or(recommended);
    let deadline = started + config.timeout;

    let mut attempts = Vec::new();
    let mut run: Option<PlanRun> = None;
    let mut replay: Option<BrowserReplay> = None;
    let mut outcome = (ExecutionStatus::Failed, first, None::<String>);
    let mut instructions = None;
    for modality in heavier_from(first) {
        let tried = Instant::now();
        let (status, error) = match modality {
            Modality::Integuru => {
                let mut config = config.clone();
                config.timeout = deadline.saturating_duration_since(Instant::now());
                let result = tokio::select! {
                    r = run_plan(&analysis.plan, &config) => r,
                    _ = ctx.cancel.cancelled() => {
                        return Err(ApiError::new(ErrorCode::Timeout, "the execution was cancelled"));
                    }
                };
                match result {
                    Ok(r) => {
                        let status = match r.status {
                            RunStatus::Success => ExecutionStatus::Success,
                            RunStatus::Timeout => ExecutionStatus::Timeout,
                            RunStatus::Failed => ExecutionStatus::Failed,
                        };
                        let error = r.failure.as_ref().map(|f| f.message.clone());
                        run = Some(r);
                        (status, error)
                    }
                    // The plan could not start (an input it needs is missing, no steps).
                    Err(e) => (ExecutionStatus::Failed, Some(e.to_string())),
                }
            }
            Modality::HeadlessCdp => {
                let task = BrowserTask {
                    recording: &recording,
                    analysis: &analysis,
                    inputs: &input.inputs,
                };
                let remaining = deadline.saturating_duration_since(Instant::now());
                let result = tokio::select! {
                    r = replay_in_browser(&state, &task, remaining) => r,
                    _ = ctx.cancel.cancelled() => {
                        return Err(ApiError::new(ErrorCode::Timeout, "the execution was cancelled"));
                    }
                };
                let (status, error) = (result.status, result.error.clone());
                replay = Some(result);
                (status, error)
            }
            Modality::VisibleBrowser => {
                instructions = Some(user_instructions(&input.task_description, &analysis));
                (
                    ExecutionStatus::RequiresUser,
                    Some("a person must carry out this task in a browser".to_string()),
                )
            }
        };
        attempts.push(ModalityAttempt {
            modality,
            status,
            duration: ms(tried.elapsed()),
            error: error.clone(),
        });
        outcome = (status, modality, error);
        // Only a failure falls back: success, a timeout of the whole execution and a
        // hand-over to a person are final.
        if status != ExecutionStatus::Failed || Instant::now() >= deadline {
            break;
        }
    }

    let (status, modality, error) = outcome;
    let mut steps: Vec<StepSummary> = run
        .as_ref()
        .map(|r| {
            r.steps
                .iter()
                .map(|s| StepSummary {
                    action: format!("{} {}", s.method, s.url),
                    status: if s.ok { "SUCCESS" } else { "FAILED" }.into(),
                    duration: s.duration_ms,
                    error: (!s.ok).then(|| {
                        s.attempts
                            .last()
                            .and_then(|a| a.error.clone())
                            .or_else(|| s.status.map(|c| format!("HTTP {c}")))
                            .unwrap_or_else(|| "no response".into())
                    }),
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(r) = &replay {
        steps.extend(r.steps.iter().cloned());
    }
    let resources = ResourceUse {
        memory_used: run
            .as_ref()
            .map_or(0, |r| r.resources.bytes_sent + r.resources.bytes_received)
            + replay.as_ref().map_or(0, |r| r.bytes),
        cpu_time: (process_cpu_ms() - cpu_start).max(0.0),
        network_requests: run.as_ref().map_or(0, |r| r.resources.requests)
            + replay.as_ref().map_or(0, |r| r.requests),
    };
    let output = match (status, modality) {
        (ExecutionStatus::Success, Modality::Integuru) => run
            .as_ref()
            .and_then(|r| r.response.as_ref())
            .map(|r| r.body.clone()),
        (ExecutionStatus::Success, Modality::HeadlessCdp) => {
            replay.as_ref().and_then(|r| r.output.clone())
        }
        _ => None,
    };
    Ok(ExecuteOptimallyOutput {
        status,
        modality,
        execution_time: ms(started.elapsed()),
        output,
        screenshots: Vec::new(),
        error,
        details: ExecutionDetails {
            steps,
            resources,
            attempts,
            instructions,
            plan_run: run
                .as_ref()
                .map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
            browser_replay: replay.map(|r| r.report),
            code_run: None,
        },
    }
    .into())
}

/// `integuruCode`: refused unless the server allows it; then the script is the whole
/// execution (there is no recording to fall back on, so no other modality runs).
async fn run_integuru_code(
    state: &AppState,
    input: &ExecuteOptimallyInput,
    code: &str,
    ctx: &CallContext,
    started: Instant,
    cpu_start: f64,
) -> Result<Reply<ExecuteOptimallyOutput>, ApiError> {
    if !state.config.allow_integuru_code {
        return Err(ApiError::invalid(
            "integuruCode",
            "is refused: this server does not run code it is sent (start it with \
             --allow-integuru-code true, or allow_integuru_code = true in its config file, \
             to allow it); leave integuruCode out to run the recorded task's API plan",
        ));
    }
    let mut inputs = input.inputs.clone();
    inputs.insert("taskDescription".into(), input.task_description.clone());
    let timeout = Duration::from_secs_f64(input.timeout);
    let run = code::run_python(code, &inputs, timeout, &ctx.cancel).await?;
    let (status, error) = match run.outcome {
        CodeOutcome::Exited => (ExecutionStatus::Success, None),
        CodeOutcome::Failed => (
            ExecutionStatus::Failed,
            Some(match run.exit_code {
                Some(c) => format!("the script exited with status {c}: {}", run.stderr),
                None => format!("the script was killed by a signal: {}", run.stderr),
            }),
        ),
        CodeOutcome::TimedOut => (
            ExecutionStatus::Timeout,
            Some(format!(
                "the script ran past the {} s timeout; its process group was killed",
                input.timeout
            )),
        ),
        CodeOutcome::Cancelled => {
            return Err(ApiError::new(
                ErrorCode::Timeout,
                "the execution was cancelled",
            ));
        }
    };
    Ok(ExecuteOptimallyOutput {
        status,
        modality: Modality::Integuru,
        execution_time: ms(started.elapsed()),
        output: (status == ExecutionStatus::Success).then(|| run.stdout.clone()),
        screenshots: Vec::new(),
        error: error.clone(),
        details: ExecutionDetails {
            steps: vec![StepSummary {
                action: "python3 integuruCode".into(),
                status: if status == ExecutionStatus::Success {
                    "SUCCESS"
                } else {
                    "FAILED"
                }
                .into(),
                duration: run.duration,
                error: error.clone(),
            }],
            resources: ResourceUse {
                memory_used: 0,
                cpu_time: (process_cpu_ms() - cpu_start).max(0.0),
                network_requests: 0,
            },
            attempts: vec![ModalityAttempt {
                modality: Modality::Integuru,
                status,
                duration: run.duration,
                error,
            }],
            instructions: None,
            plan_run: None,
            browser_replay: None,
            code_run: Some(serde_json::to_value(&run).map_err(ApiError::internal)?),
        },
    }
    .into())
}

/// What `headless_cdp` needs: the recording, the analysis (its target is what success is
/// judged by) and the caller's inputs (`baseUrl`, values for recorded fields).
struct BrowserTask<'a> {
    recording: &'a Recording,
    analysis: &'a spool_analyzer::Analysis,
    inputs: &'a BTreeMap<String, String>,
}

/// How the `headless_cdp` attempt went.
struct BrowserReplay {
    status: ExecutionStatus,
    error: Option<String>,
    /// The target's response body, parsed when JSON.
    output: Option<Value>,
    steps: Vec<StepSummary>,
    /// Requests the page sent.
    requests: u32,
    /// Response body bytes the page received.
    bytes: u64,
    /// `details.browserReplay`.
    report: Value,
}

impl BrowserReplay {
    fn failed(error: String) -> BrowserReplay {
        BrowserReplay {
            status: ExecutionStatus::Failed,
            report: json!({ "error": error }),
            error: Some(error),
            output: None,
            steps: Vec::new(),
            requests: 0,
            bytes: 0,
        }
    }
}

/// `headless_cdp`: the recorded actions performed again in a headless browser from the
/// server's pool (a flow that runs on load has none: its start page is opened and the
/// network left to go quiet), on the host `baseUrl` names. It succeeded when the page sent
/// the analysis's target request (same method and path) and got a 2xx answer; that answer
/// is the output.
async fn replay_in_browser(
    state: &AppState,
    task: &BrowserTask<'_>,
    remaining: Duration,
) -> BrowserReplay {
    let Some(target) = &task.analysis.target else {
        return BrowserReplay::failed(
            "the analysis found no target request to judge a browser replay by".into(),
        );
    };
    let target_path = url_path(&target.url);
    let actions = &task.recording.actions;
    let base = task
        .inputs
        .get("baseUrl")
        .or_else(|| task.inputs.get("base_url"))
        .map(String::as_str);
    let recorded_start = recorded_start_page(task.recording);
    let recorded_origin = task
        .analysis
        .plan
        .base_url
        .as_deref()
        .or(recorded_start.as_deref())
        .and_then(origin_of);
    let map = |url: &str| map_onto(url, recorded_origin.as_deref(), base);
    let mut overrides = BTreeMap::new();
    for (i, action) in actions.iter().enumerate() {
        let value = match action.kind.as_str() {
            "navigate" => action.value.as_deref().map(map),
            "type" => field_names(action)
                .into_iter()
                .filter(|n| n != "baseUrl" && n != "base_url")
                .find_map(|n| task.inputs.get(&n).cloned()),
            _ => None,
        };
        if let Some(value) = value
            && action.value.as_deref() != Some(value.as_str())
        {
            overrides.insert(format!("action-{i}"), json!({ "value": value }));
        }
    }
    // A recording that starts with its navigation starts there (mapped by the override);
    // otherwise the start page is opened first.
    let start_url = if actions.first().is_some_and(|a| a.kind == "navigate") {
        None
    } else {
        match actions
            .iter()
            .find_map(|a| a.url.clone())
            .or(recorded_start)
        {
            Some(url) => Some(map(&url)),
            None => {
                return BrowserReplay::failed(
                    "the recording has no page to start a browser replay on".into(),
                );
            }
        }
    };
    let bound = |d: Duration| d.min(remaining.max(Duration::from_secs(1)));
    let config = ActionReplayConfig {
        start_url,
        override_parameters: overrides,
        element_timeout: bound(Duration::from_secs(5)),
        settle_timeout: bound(Duration::from_secs(10)),
        max_think_time: Duration::from_secs(2),
        ..ActionReplayConfig::default()
    };
    // The replay runs in its own task: every wait inside it is bounded, so when the
    // execution's deadline passes first it finishes on its own and returns its context.
    let pool = state.pool.clone();
    let replayed_actions = actions.clone();
    // The replay's own recording is what it is judged by: JSON and text bodies kept.
    let recording = ReplayRecording {
        level: CaptureLevel::Api,
        screenshots: None,
        answers: None,
    };
    let handle = tokio::spawn(async move {
        replay_actions_recorded(&pool, &replayed_actions, &config, &recording).await
    });
    let (report, recorded) = match tokio::time::timeout(remaining, handle).await {
        Err(_) => {
            let mut r = BrowserReplay::failed(format!(
                "the browser replay did not finish within the execution's timeout ({:.0} s left)",
                remaining.as_secs_f64()
            ));
            r.status = ExecutionStatus::Timeout;
            return r;
        }
        Ok(Err(e)) => return BrowserReplay::failed(format!("the browser replay failed: {e}")),
        Ok(Ok(Err(e))) => return BrowserReplay::failed(e.to_string()),
        Ok(Ok(Ok(done))) => done,
    };
    judge_replay(
        &report,
        &recorded.har.log.entries,
        &target.method,
        &target_path,
    )
}

/// Reads a finished replay: the failed step if one failed, else the target's answer.
fn judge_replay(
    report: &ActionReplayReport,
    network: &[Entry],
    method: &str,
    path: &str,
) -> BrowserReplay {
    let steps: Vec<StepSummary> = report
        .steps
        .iter()
        .map(|s| StepSummary {
            action: match (&s.selector_used, &s.action.value) {
                (Some(selector), _) => format!("{} {selector}", s.action.kind),
                (None, Some(value)) if s.action.kind == "navigate" => {
                    format!("navigate {value}")
                }
                _ => s.action.kind.clone(),
            },
            status: match s.status {
                StepStatus::Success => "SUCCESS",
                StepStatus::Failed => "FAILED",
                StepStatus::Skipped => "SKIPPED",
            }
            .into(),
            duration: s.duration_ms as f64,
            error: s.error.clone(),
        })
        .collect();
    let bytes: u64 = network
        .iter()
        .map(|e| u64::try_from(e.response.content.size.max(0)).unwrap_or(0))
        .sum();
    let requests = u32::try_from(network.len()).unwrap_or(u32::MAX);
    let target_seen: Vec<&Entry> = network
        .iter()
        .filter(|e| {
            e.request.method.eq_ignore_ascii_case(method) && url_path(&e.request.url) == path
        })
        .collect();
    let answered = target_seen
        .iter()
        .rev()
        .find(|e| (200..300).contains(&e.response.status));
    let (status, error, output) = if let Some(failure) = report.failure() {
        (ExecutionStatus::Failed, Some(failure.to_string()), None)
    } else if let Some(entry) = answered {
        (ExecutionStatus::Success, None, Some(body_of(entry)))
    } else if let Some(entry) = target_seen.last() {
        let answer = match entry.response.status {
            0 => "no answer".to_string(),
            code => format!("HTTP {code}"),
        };
        (
            ExecutionStatus::Failed,
            Some(format!(
                "the page sent the target {method} {path}, which answered {answer}"
            )),
            None,
        )
    } else {
        (
            ExecutionStatus::Failed,
            Some(format!(
                "the replay never sent the target {method} {path} ({} requests seen)",
                network.len()
            )),
            None,
        )
    };
    let report_json = json!({
        "startUrl": report.start_url,
        "finalUrl": report.final_url,
        "durationMs": report.duration_ms,
        "target": {
            "method": method,
            "path": path,
            "status": answered.or(target_seen.last()).map(|e| e.response.status),
        },
        "requests": network
            .iter()
            .map(|e| json!({ "method": e.request.method, "url": e.request.url, "status": e.response.status }))
            .collect::<Vec<_>>(),
    });
    BrowserReplay {
        status,
        error,
        output,
        steps,
        requests,
        bytes,
        report: report_json,
    }
}

/// A response body as the output: parsed when it is JSON, else its text.
fn body_of(entry: &Entry) -> Value {
    let content = &entry.response.content;
    let Some(text) = &content.text else {
        return Value::Null;
    };
    let bytes = if content.encoding.as_deref() == Some("base64") {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_else(|_| text.as_bytes().to_vec())
    } else {
        text.as_bytes().to_vec()
    };
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The page a recording started on when its actions do not say: the first HTML document
/// it loaded, else its first request.
fn recorded_start_page(recording: &Recording) -> Option<String> {
    if let Some(url) = recording
        .actions
        .iter()
        .find_map(|a| match a.kind.as_str() {
            "navigate" => a.value.clone(),
            _ => a.url.clone(),
        })
    {
        return Some(url);
    }
    let har: Har = serde_json::from_slice(&recording.har).ok()?;
    let entries = &har.log.entries;
    entries
        .iter()
        .find(|e| e.request.method == "GET" && e.response.content.mime_type.contains("html"))
        .or(entries.first())
        .map(|e| e.request.url.clone())
}

/// `url` moved onto `base`'s origin when it is on the recorded origin (or no recorded
/// origin is known); unchanged without a `base`.
fn map_onto(url: &str, recorded_origin: Option<&str>, base: Option<&str>) -> String {
    let (Some(base), Ok(mut parsed)) = (base.and_then(|b| Url::parse(b).ok()), Url::parse(url))
    else {
        return url.to_string();
    };
    if recorded_origin.is_some_and(|o| origin_of(url).as_deref() != Some(o)) {
        return url.to_string();
    }
    if parsed.set_scheme(base.scheme()).is_err()
        || parsed.set_host(base.host_str()).is_err()
        || parsed.set_port(base.port()).is_err()
    {
        return url.to_string();
    }
    parsed.to_string()
}

fn origin_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

fn url_path(url: &str) -> String {
    Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| url.split(['?', '#']).next().unwrap_or(url).to_string())
}

/// The names a recorded input field goes by, for matching the caller's inputs: its slot
/// (a withheld password), the `name` in a `[name="…"]` selector, an `#id`.
fn field_names(action: &Action) -> Vec<String> {
    let mut names: Vec<String> = action.slot.iter().cloned().collect();
    for selector in action.selectors.iter().chain(action.target.iter()) {
        if let Some(at) = selector.find("[name=") {
            let rest = selector[at + 6..].trim_start_matches(['"', '\'']);
            let name: String = rest
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ']'))
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        } else if let Some(id) = selector.strip_prefix('#')
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            names.push(id.to_string());
        }
    }
    names.dedup();
    names
}

/// `first` and every heavier modality after it.
fn heavier_from(first: Modality) -> Vec<Modality> {
    let order = [
        Modality::Integuru,
        Modality::HeadlessCdp,
        Modality::VisibleBrowser,
    ];
    let at = order.iter().position(|m| *m == first).unwrap_or(0);
    order[at..].to_vec()
}

fn run_config(input: &ExecuteOptimallyInput) -> Result<RunConfig, ApiError> {
    let cookies = match &input.browser_state {
        Some(s) => {
            let bytes = serde_json::to_vec(s).map_err(ApiError::internal)?;
            BrowserState::from_json(&bytes)?.cookies
        }
        None => Vec::new(),
    };
    // The schema bounds these; the casts only drop a fraction nobody means.
    Ok(RunConfig {
        inputs: input.inputs.clone(),
        base_url: None,
        cookies,
        timeout: Duration::from_secs_f64(input.timeout),
        retry: RetryPolicy {
            max_retries: input.retry_policy.max_retries as u32,
            backoff: Duration::from_millis(input.retry_policy.backoff_ms as u64),
        },
    })
}

/// What was recorded: the HAR the analysis reads and the actions a browser replay performs
/// (none for a HAR file).
struct Recording {
    har: Vec<u8>,
    actions: Vec<Action>,
}

/// The recording to run: a stored session, or a HAR file inside the data directory.
async fn load_recording(
    state: &AppState,
    input: &ExecuteOptimallyInput,
) -> Result<Recording, ApiError> {
    match (&input.session_id, &input.har_file) {
        (Some(id), None) => {
            let uuid = parse_session_id(id)?;
            let store = state.store.clone();
            tokio::task::spawn_blocking(move || {
                store.metadata(uuid)?;
                // Unredacted: a replay must send what was recorded, secrets included.
                let session = store.get(uuid)?;
                Ok(Recording {
                    har: serde_json::to_vec(&session.to_har()).map_err(ApiError::internal)?,
                    actions: session.actions,
                })
            })
            .await
            .map_err(ApiError::internal)?
        }
        (None, Some(path)) => {
            let path = allowed_har_path(&state.config.data, path)?;
            let har = tokio::fs::read(&path).await.map_err(|e| {
                ApiError::invalid(
                    "harFile",
                    format!("cannot be read ({}): {e}", path.display()),
                )
            })?;
            Ok(Recording {
                har,
                actions: Vec::new(),
            })
        }
        _ => Err(ApiError::invalid(
            "sessionId",
            "give exactly one of sessionId and harFile",
        )),
    }
}

/// A HAR path the server may read: inside its data directory, after resolving `..` and
/// links, so a caller cannot make the server read any file it can name.
fn allowed_har_path(data: &Path, given: &str) -> Result<PathBuf, ApiError> {
    let given = given.strip_prefix("file://").unwrap_or(given);
    let path = Path::new(given);
    let path = if path.is_relative() {
        data.join(path)
    } else {
        path.to_path_buf()
    };
    let outside = || {
        ApiError::invalid(
            "harFile",
            format!(
                "must be a HAR file inside the server's data directory ({})",
                data.display()
            ),
        )
    };
    let resolved = path.canonicalize().map_err(|_| outside())?;
    let root = data.canonicalize().map_err(ApiError::internal)?;
    if resolved.starts_with(&root) && resolved.is_file() {
        Ok(resolved)
    } else {
        Err(outside())
    }
}

/// What a person must do: open the recorded site and carry out the task; the markers say
/// why a program could not.
fn user_instructions(task: &str, analysis: &spool_analyzer::Analysis) -> String {
    let mut text = match &analysis.plan.base_url {
        Some(site) => format!("Open {site} in a browser and carry out the task by hand: {task}."),
        None => {
            format!("Open the recorded site in a browser and carry out the task by hand: {task}.")
        }
    };
    let mut kinds: Vec<&str> = analysis.markers.iter().map(|m| m.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    if !kinds.is_empty() {
        text.push_str(&format!(
            " The recording shows a step only a person can do ({}).",
            kinds.join(", ")
        ));
    }
    text.push_str(" The task is done when the page confirms it, as it did in the recording.");
    text
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// The server process's CPU time in milliseconds (user + system), from `/proc/self/stat`;
/// 0 where that file does not exist.
fn process_cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; after the name, whose field is 2,
    // they are at indices 11 and 12.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    // Linux reports these in clock ticks of 1/100 s on every common configuration.
    ticks * 10.0
}
