//! `spool execute --task TEXT (--session ID | --har FILE)`: analyzes a recorded session,
//! builds its API plan and runs it, then prints a per-step report (or, with `--json`, the
//! engine's [`PlanRun`]).
//!
//! `--modality integuru` (the default) sends the plan's requests as plain HTTP and no
//! browser starts. `--modality headless_cdp` or `visible_browser` runs the server's
//! `execute-optimally` tool in this process with that modality forced (a headless replay of
//! the session's actions on a local browser pool, falling back to a person), and prints its
//! answer; those need `--session`, since a HAR file records no actions.
//!
//! Exit status: 0 when the run succeeded; a failed run prints its report and then
//! `error[-32005]` (exit 1), a run that timed out `error[-32604]` (exit 3); a task handed to
//! a person prints the instructions and exits 1 with `error[-32005]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use spool_analyzer::{AnalysisConfig, AnalyzeInput, Modality, analyze};
use spool_engine::plan_runner::{PlanRun, RetryPolicy, RunConfig, RunStatus, run_plan};
use spool_engine::{EngineError, state::BrowserState};

use crate::exit::CodedError;

/// `spool execute`.
#[derive(Debug, Clone, Args)]
pub struct ExecuteArgs {
    /// The task in words: chooses the target request of the recording.
    #[arg(long)]
    pub task: String,
    /// A stored session id (or a unique prefix of it).
    #[arg(long, conflicts_with = "har", required_unless_present = "har")]
    pub session: Option<String>,
    /// A HAR file.
    #[arg(long)]
    pub har: Option<PathBuf>,
    /// How to run the task: `integuru` (plain HTTP, no browser), `headless_cdp` (the
    /// session's actions replayed in a headless browser) or `visible_browser`.
    #[arg(long, default_value = "integuru")]
    pub modality: String,
    /// An input as NAME=VALUE (repeatable): the plan's inputs, `baseUrl`, or a literal
    /// request field of that name (e.g. `username`).
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_input)]
    pub inputs: Vec<(String, String)>,
    /// Browser state whose cookies seed the cookie jar (`{"cookies": [...]}`, as `capture
    /// --state`).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The deadline of the whole run in seconds (30–1800).
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Retries of a retryable failure (connection error, 429, 5xx), 0–10.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// The first retry's backoff in milliseconds (1000–60000), doubled for each next one.
    #[arg(long, default_value_t = 1000)]
    pub backoff_ms: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_input(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

/// Runs `spool execute`; `data` is the session store's directory (used with `--session`).
pub async fn run(args: ExecuteArgs, data: &Path) -> anyhow::Result<()> {
    match args.modality.as_str() {
        "integuru" => {}
        "headless_cdp" | "visible_browser" => return run_by_tool(args, data).await,
        other => {
            return Err(EngineError::InvalidParams {
                field: "modality".into(),
                rule: format!(
                    "`{other}` is no modality: give integuru, headless_cdp or visible_browser"
                ),
            }
            .into());
        }
    }
    let config = run_config(&args)?;
    // Validate before the (possibly slow) analysis, so a bad flag fails at once.
    config.validate()?;
    let har = match (&args.har, &args.session) {
        (Some(path), _) => std::fs::read(path)
            .with_context(|| format!("cannot read HAR file {}", path.display()))?,
        (None, Some(id)) => {
            let store = crate::open_store(data)?;
            let id = crate::cmd::sessions::resolve_id(&store, id)?;
            let options = spool_store::ExportOptions {
                include_secrets: true,
                ..Default::default()
            };
            serde_json::to_vec(&store.export_har(id, &options)?)?
        }
        (None, None) => return Err(CodedError::invalid("give --session ID or --har FILE")),
    };
    let input = AnalyzeInput {
        har_json: &har,
        task: Some(&args.task),
        target: None,
        user_inputs: Vec::new(),
    };
    let analysis = analyze(&input, &AnalysisConfig::default()).map_err(anyhow::Error::new)?;
    if let Some(m) = analysis.recommended_modality
        && m != Modality::Integuru
    {
        eprintln!(
            "warning: the analysis recommends {m:?} for this task; running its plan as plain HTTP anyway"
        );
    }
    let result = run_plan(&analysis.plan, &config).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", report(&result));
    }
    match (result.status, &result.failure) {
        (RunStatus::Success, _) => Ok(()),
        (RunStatus::Timeout, _) => Err(anyhow::Error::new(CodedError {
            code: spool_model::ErrorCode::Timeout,
            message: format!("the run timed out after {} s", args.timeout),
        })),
        (RunStatus::Failed, failure) => Err(anyhow::Error::new(CodedError {
            code: spool_model::ErrorCode::ReplayFailed,
            message: failure
                .as_ref()
                .map(|f| f.message.clone())
                .unwrap_or_else(|| "the run failed".into()),
        })),
    }
}

/// A browser modality: the server's `execute-optimally` tool, called in this process with
/// the modality forced, on a browser pool of its own that is closed before returning.
async fn run_by_tool(args: ExecuteArgs, data: &Path) -> anyhow::Result<()> {
    use crate::serve::config::{ServeArgs, ServeConfig};
    use crate::serve::registry::CallContext;
    use crate::serve::state::AppState;

    let Some(session) = &args.session else {
        return Err(CodedError::invalid(format!(
            "--modality {} needs --session ID: a HAR file records no actions to replay",
            args.modality
        )));
    };
    let config = ServeConfig::resolve(&ServeArgs::default(), Some(data))?;
    let store = crate::open_store(&config.data)?;
    let id = crate::cmd::sessions::resolve_id(&store, session)?;
    let mut call = serde_json::json!({
        "taskDescription": args.task,
        "sessionId": id.to_string(),
        "forceModality": args.modality,
        "inputs": args.inputs.iter().cloned().collect::<BTreeMap<_, _>>(),
        "timeout": args.timeout,
        "retryPolicy": { "maxRetries": args.retries, "backoffMs": args.backoff_ms },
    });
    if let Some(path) = &args.state {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read state file {}", path.display()))?;
        call["browserState"] = serde_json::from_slice(&bytes)
            .map_err(|e| CodedError::invalid(format!("invalid --state {}: {e}", path.display())))?;
    }
    let state = AppState::new(store, config)?;
    let ctx = CallContext {
        surface: "cli",
        ..CallContext::default()
    };
    let result = state
        .registry
        .call(&state, "execute-optimally", call, ctx)
        .await;
    state.pool.shutdown().await;
    let answer = result
        .map_err(|e| {
            anyhow::Error::new(CodedError {
                code: e.code,
                message: e.message,
            })
        })?
        .structured;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", tool_report(&answer));
    }
    let error = answer["error"]
        .as_str()
        .unwrap_or("the run failed")
        .to_string();
    match answer["status"].as_str() {
        Some("SUCCESS") => Ok(()),
        Some("TIMEOUT") => Err(anyhow::Error::new(CodedError {
            code: spool_model::ErrorCode::Timeout,
            message: error,
        })),
        _ => Err(anyhow::Error::new(CodedError {
            code: spool_model::ErrorCode::ReplayFailed,
            message: error,
        })),
    }
}

/// The readable report of an `execute-optimally` answer: each attempt, the steps, the
/// outcome and the output.
fn tool_report(answer: &serde_json::Value) -> String {
    let mut o = String::new();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    for a in answer["details"]["attempts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            o,
            "attempt {}: {} in {:.0} ms{}",
            text(&a["modality"]),
            text(&a["status"]),
            a["duration"].as_f64().unwrap_or(0.0),
            a["error"]
                .as_str()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    for s in answer["details"]["steps"].as_array().into_iter().flatten() {
        let _ = writeln!(o, "    {} {}", text(&s["status"]), text(&s["action"]));
    }
    let _ = writeln!(
        o,
        "{} by {} in {:.0} ms, {} requests",
        text(&answer["status"]),
        text(&answer["modality"]),
        answer["executionTime"].as_f64().unwrap_or(0.0),
        answer["details"]["resources"]["networkRequests"]
            .as_u64()
            .unwrap_or(0)
    );
    if let Some(instructions) = answer["details"]["instructions"].as_str() {
        let _ = writeln!(o, "instructions: {instructions}");
    }
    if let Some(output) = answer.get("output") {
        let _ = writeln!(
            o,
            "output:\n{}",
            serde_json::to_string_pretty(output).unwrap_or_default()
        );
    }
    o
}

fn run_config(args: &ExecuteArgs) -> anyhow::Result<RunConfig> {
    let cookies = match &args.state {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read state file {}", path.display()))?;
            BrowserState::from_json(&bytes)?.cookies
        }
        None => Vec::new(),
    };
    Ok(RunConfig {
        inputs: args.inputs.iter().cloned().collect::<BTreeMap<_, _>>(),
        base_url: None,
        cookies,
        timeout: Duration::from_secs(args.timeout),
        retry: RetryPolicy {
            max_retries: args.retries,
            backoff: Duration::from_millis(args.backoff_ms),
        },
    })
}

/// The readable report: one line per step, the values it used, then the outcome.
pub fn report(run: &PlanRun) -> String {
    let mut o = String::new();
    for s in &run.steps {
        let status = s
            .status
            .map(|c| c.to_string())
            .unwrap_or_else(|| "---".into());
        let _ = writeln!(
            o,
            "{} {:<6} {} -> {} in {:.0} ms{}",
            s.id,
            s.method,
            s.url,
            status,
            s.duration_ms,
            if s.attempts.len() > 1 {
                format!(" ({} attempts)", s.attempts.len())
            } else {
                String::new()
            }
        );
        for (i, a) in s
            .attempts
            .iter()
            .enumerate()
            .filter(|_| s.attempts.len() > 1)
        {
            let what = match (a.status, &a.error) {
                (Some(c), _) => format!("HTTP {c}"),
                (None, Some(e)) => e.clone(),
                (None, None) => "no answer".into(),
            };
            let _ = writeln!(
                o,
                "    attempt {} after {} ms backoff: {what}",
                i + 1,
                a.backoff_ms
            );
        }
        for v in &s.values {
            let from = v
                .from_step
                .as_ref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default();
            let _ = writeln!(o, "    {} = {} ({}{from})", v.name, v.value, v.source);
        }
    }
    let r = &run.resources;
    let _ = writeln!(
        o,
        "{}: {} requests, {} bytes sent, {} received, {:.0} ms",
        match run.status {
            RunStatus::Success => "SUCCESS",
            RunStatus::Failed => "FAILED",
            RunStatus::Timeout => "TIMEOUT",
        },
        r.requests,
        r.bytes_sent,
        r.bytes_received,
        r.wall_ms
    );
    if let Some(f) = &run.failure {
        let _ = writeln!(o, "failure ({:?}): {}", f.kind, f.message);
    }
    if let Some(resp) = &run.response {
        let body = serde_json::to_string_pretty(&resp.body).unwrap_or_default();
        let _ = writeln!(
            o,
            "target {} response (HTTP {}):",
            run.target.as_deref().unwrap_or("-"),
            resp.status
        );
        let _ = writeln!(o, "{body}");
    }
    o
}
