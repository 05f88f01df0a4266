//! `spool execute --task TEXT (--session ID | --har FILE)`: analyzes a recorded session,
//! builds its API plan and runs it, then prints a per-step report (or, with `--json`, the
//! engine's [`PlanRun`]).
//!
//! Only the `integuru` modality runs in this version: the plan's requests go out as plain
//! HTTP and no browser starts. The browser modalities need replay, which does not exist yet;
//! asking for one is an `InvalidParams` error rather than a pretend run.
//!
//! Exit status: 0 when the run succeeded; a failed run prints its report and then
//! `error[-32005]` (exit 1), a run that timed out `error[-32604]` (exit 3).

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
    /// How to run the task; only `integuru` (plain HTTP, no browser) runs in this version.
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
    if args.modality != "integuru" {
        return Err(EngineError::InvalidParams {
            field: "modality".into(),
            rule: format!(
                "`{}` cannot run: only `integuru` (plain HTTP, no browser) runs in this version; \
                 the browser modalities need replay, which is not built yet",
                args.modality
            ),
        }
        .into());
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
