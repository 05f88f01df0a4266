//! `execute-optimally`: carry a recorded task out again by the cheapest modality that works,
//! falling back to a heavier one when a lighter one fails.
//!
//! The modalities, lightest first: `integuru` runs the analyzer's API plan as plain HTTP (no
//! browser starts); `headless_cdp` would replay the recorded actions in a headless browser;
//! `visible_browser` hands the task to a person. This version runs `integuru` for real. It
//! does not yet hand a failed plan to action replay (`replay-automation` does that on its
//! own), so `headless_cdp` is reported as an attempt that could not run, and
//! `visible_browser` answers `REQUIRES_USER` with what the person must do (a server has no
//! display to open a browser on). The response lists every attempt and why it failed, so a
//! caller never mistakes a fallback for a success.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::analysis::Modality;
use super::capture::BrowserStateInput;
use super::{SESSION_ID_PATTERN, parse_session_id};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spool_engine::plan_runner::{PlanRun, RetryPolicy, RunConfig, RunStatus, run_plan};
use spool_engine::state::BrowserState;
use spool_model::ErrorCode;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// Pre-generated Integuru code to execute (refused: this server does not run code)
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
    /// Screenshots of browser modalities (none in this version).
    pub screenshots: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub details: ExecutionDetails,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    /// The plan's steps as run: `action` is `METHOD URL`.
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
}

#[derive(Debug, Serialize, JsonSchema)]
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
    if input.integuru_code.is_some() {
        return Err(ApiError::invalid(
            "integuruCode",
            "is refused: this server does not run code it is sent; leave it out to run the \
             recorded task's API plan",
        ));
    }
    let config = run_config(&input)?;
    config.validate()?;
    let har = load_har(&state, &input).await?;
    let task = input.task_description.clone();
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
            Modality::HeadlessCdp => (
                ExecutionStatus::Failed,
                Some(
                    "execute-optimally does not drive a browser yet; replay the session's actions with replay-automation"
                        .to_string(),
                ),
            ),
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
    let steps = run
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
    let resources = ResourceUse {
        memory_used: run
            .as_ref()
            .map_or(0, |r| r.resources.bytes_sent + r.resources.bytes_received),
        cpu_time: (process_cpu_ms() - cpu_start).max(0.0),
        network_requests: run.as_ref().map_or(0, |r| r.resources.requests),
    };
    let output = match status {
        ExecutionStatus::Success => run
            .as_ref()
            .and_then(|r| r.response.as_ref())
            .map(|r| r.body.clone()),
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
        },
    }
    .into())
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

/// The recording to run: a stored session, or a HAR file inside the data directory.
async fn load_har(state: &AppState, input: &ExecuteOptimallyInput) -> Result<Vec<u8>, ApiError> {
    match (&input.session_id, &input.har_file) {
        (Some(id), None) => {
            let uuid = parse_session_id(id)?;
            let store = state.store.clone();
            tokio::task::spawn_blocking(move || {
                store.metadata(uuid)?;
                let options = spool_store::ExportOptions {
                    include_secrets: true,
                    ..Default::default()
                };
                serde_json::to_vec(&store.export_har(uuid, &options)?).map_err(ApiError::internal)
            })
            .await
            .map_err(ApiError::internal)?
        }
        (None, Some(path)) => {
            let path = allowed_har_path(&state.config.data, path)?;
            tokio::fs::read(&path).await.map_err(|e| {
                ApiError::invalid(
                    "harFile",
                    format!("cannot be read ({}): {e}", path.display()),
                )
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
