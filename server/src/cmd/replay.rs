//! `spool replay SESSION --network offline`: loads a recorded page in headless Chromium with
//! every request answered from the recording, and prints what was served, what went
//! unmatched (with its nearest recorded entry and what differed) and what went unused.
//!
//! `spool replay SESSION --actions`: performs the session's recorded actions again through
//! real mouse and keyboard input against the live site, and prints each step's outcome
//! (`--dry-run`, `--speed`, `--action-index`, `--override action-N.value=...`).
//!
//! `spool replay SESSION --check` (or `--all [--task WORDS] [--shard i/n] --check`): the
//! regression check of [`crate::cmd::check`], the actions replayed against the live app and
//! compared with the recording, as text, JSON and JUnit XML.
//!
//! With `--check`, `--network live` (the default) lets the app answer; `--network offline`
//! answers every request of the replayed actions from the session's own recording, so the
//! check sees what changed in the front end alone (a request the recording cannot answer
//! fails and is reported as a new failed request).
//!
//! Exit status: 0 when the page settled and every request was answered (network), or every
//! action succeeded (actions); otherwise the report, then `error[-32005]` (exit 1). An
//! unknown session is `error[-32004]` (exit 5).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use spool_engine::replay::{MatchConfig, StepStatus, UnmatchedPolicy, volatile_fields};
use spool_engine::{
    ActionReplayConfig, ActionReplayReport, BrowserPool, BrowserSource, EngineError, LaunchConfig,
    NetworkReplayReport, PoolConfig, ReplayNetworkConfig, replay_actions, replay_network,
};
use spool_model::ErrorCode;
use spool_model::har::Har;
use std::collections::BTreeMap;

use crate::exit::CodedError;

/// `spool replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// A stored session id (or a unique prefix of it), or a HAR file.
    #[arg(required_unless_present = "all")]
    pub session: Option<String>,
    /// Where responses come from: `offline` answers every request from the recording;
    /// `live` lets the app answer (with --check, the default; `--check --network offline`
    /// replays the actions with the recorded back end).
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// The regression check: replay the recorded actions against the live app while
    /// recording the replay, and compare the two (actions, network, console, screenshots).
    /// Exits non-zero when anything regressed.
    #[arg(long)]
    pub check: bool,
    /// With --check: every completed session in the store (or those matching --task).
    #[arg(long, requires = "check", conflicts_with = "session")]
    pub all: bool,
    /// With --all: only sessions whose task has all these words.
    #[arg(long, value_name = "WORDS", requires = "all")]
    pub task: Option<String>,
    /// With --all: the i-th of n parts of the sessions (`--shard 2/4`), for a CI matrix.
    #[arg(long, value_name = "i/n", requires = "all")]
    pub shard: Option<String>,
    /// With --check: the origin to replay against (`http://staging:8080`) instead of the
    /// recorded one.
    #[arg(long, value_name = "URL", requires = "check")]
    pub base_url: Option<String>,
    /// With --check: the value of a recorded input slot, such as a password field (which is
    /// never stored), in every session (repeatable).
    #[arg(long = "input", value_name = "SLOT=VALUE", requires = "check")]
    pub inputs: Vec<String>,
    /// With --check: the fraction of a screenshot's pixels (0–1) that may differ.
    #[arg(long, default_value_t = 0.01, requires = "check")]
    pub screenshot_threshold: f64,
    /// With --check: write the JUnit XML report here.
    #[arg(long, value_name = "FILE", requires = "check")]
    pub junit: Option<std::path::PathBuf>,
    /// With --check: write the JSON report here.
    #[arg(long, value_name = "FILE", requires = "check")]
    pub json_report: Option<std::path::PathBuf>,
    /// With --check: write the HTML regression report (recorded vs replayed per step) to
    /// this file, or with --all into this directory, one `<session-id>.html` each.
    #[arg(long = "report", value_name = "PATH", requires = "check")]
    pub html_report: Option<std::path::PathBuf>,
    /// Send requests the recording cannot answer to the network instead of failing them.
    #[arg(long)]
    pub passthrough: bool,
    /// The page to load (default: the recording's first document); with --actions, the
    /// page to start on instead of the recorded one.
    #[arg(long)]
    pub url: Option<String>,
    /// A query parameter that does not decide a match (repeatable).
    #[arg(long = "ignore-query", value_name = "NAME")]
    pub ignore_query: Vec<String>,
    /// A request header that does not decide a match (repeatable).
    #[arg(long = "ignore-header", value_name = "NAME")]
    pub ignore_header: Vec<String>,
    /// A JSON path (`csrf`, `order.items[0].id`) or form field of request bodies that does
    /// not decide a match (repeatable).
    #[arg(long = "ignore-body-path", value_name = "PATH")]
    pub ignore_body_path: Vec<String>,
    /// Another recording of the same flow (session id or HAR file): whatever differs
    /// between the two (query params, headers, body paths) is ignored.
    #[arg(long, value_name = "SESSION")]
    pub volatile_from: Option<String>,
    /// A JavaScript condition that must hold before the page counts as settled.
    #[arg(long, value_name = "JS")]
    pub wait_for: Option<String>,
    /// The replay's deadline in seconds (1–600).
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Replay the recorded actions (clicks, typing, keys) instead of the network.
    #[arg(long, conflicts_with = "network")]
    pub actions: bool,
    /// With --actions: find every action's element on the start page, perform none.
    #[arg(long, requires = "actions")]
    pub dry_run: bool,
    /// With --actions or --check: scale the recorded think time between actions (0.1–5; 2
    /// is twice as fast).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// With --actions: replay only this action (0-based) on the session's start page.
    #[arg(long, value_name = "N", requires = "actions")]
    pub action_index: Option<usize>,
    /// With --actions: replace a recorded value, as `action-N.value=TEXT` (repeatable). A
    /// recorded password is never stored and must be given this way.
    #[arg(long = "override", value_name = "action-N.value=TEXT")]
    pub overrides: Vec<String>,
}

/// Runs `spool replay`; `data` is the session store's directory.
pub async fn run(args: ReplayArgs, data: &Path) -> anyhow::Result<()> {
    if args.check {
        return run_check(args, data).await;
    }
    if args.actions {
        return run_actions(args, data).await;
    }
    match args.network.as_deref() {
        Some("offline") => {}
        Some(other) => {
            return Err(EngineError::InvalidParams {
                field: "network".into(),
                rule: if other == "live" {
                    "a page alone replays only `offline`; with the live app answering, replay the \
                     recorded actions (`--actions`) or check them (`--check`)"
                        .into()
                } else {
                    format!("must be offline or live, got {other:?}")
                },
            }
            .into());
        }
        None => {
            return Err(EngineError::InvalidParams {
                field: "network".into(),
                rule: "give `--network offline` to replay the recorded network, or `--actions` \
                       to replay the recorded actions"
                    .into(),
            }
            .into());
        }
    }
    let session = args.session.clone().unwrap_or_default();
    if !(1..=600).contains(&args.timeout) {
        return Err(EngineError::InvalidParams {
            field: "timeout".into(),
            rule: format!("must be 1–600 seconds, got {}", args.timeout),
        }
        .into());
    }
    let har = load(&session, data)?;
    let mut matching = MatchConfig {
        ignore_query_params: args.ignore_query.iter().cloned().collect(),
        ignore_headers: args.ignore_header.iter().cloned().collect(),
        ignore_body_paths: args.ignore_body_path.iter().cloned().collect(),
    };
    if let Some(other) = &args.volatile_from {
        let volatile = volatile_fields(&har, &load(other, data)?);
        matching = matching.ignoring(&volatile);
    }
    let config = ReplayNetworkConfig {
        matching,
        unmatched: if args.passthrough {
            UnmatchedPolicy::PassThrough
        } else {
            UnmatchedPolicy::Fail
        },
        url: args.url.clone(),
        timeout: Duration::from_secs(args.timeout),
        wait_for: args.wait_for.clone(),
        ..ReplayNetworkConfig::default()
    };
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))?;
    let result = replay_network(&pool, &har, &config).await;
    pool.shutdown().await;
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if report.is_complete() {
        return Ok(());
    }
    let message = if report.loaded {
        format!(
            "{} had no recorded answer",
            requests(report.unmatched.len())
        )
    } else {
        format!(
            "the page did not settle within {} s ({} had no recorded answer)",
            args.timeout,
            requests(report.unmatched.len())
        )
    };
    Err(anyhow::Error::new(CodedError {
        code: ErrorCode::ReplayFailed,
        message,
    }))
}

/// `spool replay SESSION --actions`.
async fn run_actions(args: ReplayArgs, data: &Path) -> anyhow::Result<()> {
    let mut override_parameters = BTreeMap::new();
    for given in &args.overrides {
        let (key, value) = parse_override(given)?;
        override_parameters.insert(key, json!({ "value": value }));
    }
    let config = ActionReplayConfig {
        speed_multiplier: args.speed,
        start_url: args.url.clone(),
        action_index: args.action_index,
        dry_run: args.dry_run,
        override_parameters,
        ..ActionReplayConfig::default()
    };
    let store = crate::open_store(data)?;
    let id = crate::cmd::sessions::resolve_id(&store, args.session.as_deref().unwrap_or_default())?;
    let actions = store.get(id)?.actions;
    drop(store);
    // Bad input is reported before a browser starts.
    spool_engine::replay::actions::validate(&actions, &config)?;
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))?;
    let result = replay_actions(&pool, &actions, &config).await;
    pool.shutdown().await;
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_actions(&report));
    }
    match report.failure() {
        None => Ok(()),
        Some(failure) => Err(failure.into()),
    }
}

/// `spool replay … --check`.
async fn run_check(args: ReplayArgs, data: &Path) -> anyhow::Result<()> {
    let offline = match args.network.as_deref() {
        None | Some("live") => false,
        Some("offline") if args.base_url.is_some() => {
            return Err(EngineError::invalid(
                "baseUrl",
                "--base-url names a live app to check against; with --network offline every \
                 request is answered from the recording, on its recorded origin",
            )
            .into());
        }
        Some("offline") => true,
        Some(other) => {
            return Err(EngineError::invalid(
                "network",
                format!("must be live or offline, got {other:?}"),
            )
            .into());
        }
    };
    if args.actions || args.dry_run || args.action_index.is_some() {
        return Err(EngineError::invalid(
            "check",
            "--check replays every action; it does not combine with --actions, --dry-run or \
             --action-index",
        )
        .into());
    }
    if !(0.1..=5.0).contains(&args.speed) {
        return Err(EngineError::invalid(
            "speedMultiplier",
            format!("must be 0.1–5, got {}", args.speed),
        )
        .into());
    }
    let base_url = match &args.base_url {
        None => None,
        Some(given) => {
            let url = url::Url::parse(given).map_err(|e| {
                EngineError::invalid("baseUrl", format!("{given:?} is not a URL: {e}"))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(EngineError::invalid(
                    "baseUrl",
                    format!("must be http:// or https://, got {given:?}"),
                )
                .into());
            }
            Some(url)
        }
    };
    let mut inputs = BTreeMap::new();
    for given in &args.inputs {
        let (slot, value) = given.split_once('=').ok_or_else(|| {
            EngineError::invalid("input", format!("must be SLOT=VALUE, got {given:?}"))
        })?;
        inputs.insert(slot.to_string(), value.to_string());
    }
    let mut overrides = BTreeMap::new();
    for given in &args.overrides {
        if args.all {
            return Err(EngineError::invalid(
                "override",
                "action-N overrides name one session's actions; with --all give slot values \
                 with --input",
            )
            .into());
        }
        let (key, value) = parse_override(given)?;
        overrides.insert(key, json!({ "value": value }));
    }
    let check = crate::cmd::check::CheckArgs {
        session: args.session.clone(),
        task: args.task.clone(),
        shard: args
            .shard
            .as_deref()
            .map(crate::cmd::check::Shard::parse)
            .transpose()?,
        base_url,
        inputs,
        overrides,
        speed: args.speed,
        offline,
        check: spool_engine::replay::CheckConfig {
            screenshot_threshold: args.screenshot_threshold,
            ..Default::default()
        },
        junit: args.junit.clone(),
        json_report: args.json_report.clone(),
        html_report: args.html_report.clone(),
        json: args.json,
    };
    crate::cmd::check::run(check, data).await
}

/// `action-3.value=bob` → (`action-3`, `bob`).
fn parse_override(given: &str) -> Result<(String, String), EngineError> {
    let invalid = || EngineError::InvalidParams {
        field: "override".into(),
        rule: format!("must be action-N.value=TEXT, got {given:?}"),
    };
    let (key, value) = given.split_once('=').ok_or_else(invalid)?;
    let action = key.strip_suffix(".value").ok_or_else(invalid)?;
    Ok((action.to_string(), value.to_string()))
}

/// One line per action: its status, what it was, the selector that found its element, and
/// for a failure the error and every selector tried.
pub fn render_actions(report: &ActionReplayReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {} actions from {} in {} ms: {:?}",
        if report.dry_run {
            "dry run of"
        } else {
            "replayed"
        },
        report.steps.len(),
        report.start_url,
        report.duration_ms,
        report.status
    );
    for s in &report.steps {
        let status = match s.status {
            StepStatus::Success => "ok",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
        };
        let what = s
            .action
            .target
            .as_deref()
            .or(s.action.value.as_deref())
            .unwrap_or_default();
        let _ = write!(
            o,
            "  {:>3} {status:<7} {:<8} {what}",
            s.index, s.action.kind
        );
        if let Some(selector) = &s.selector_used {
            let _ = write!(o, " (found by {selector})");
        }
        let _ = writeln!(o, " {} ms", s.duration_ms);
        if s.status != StepStatus::Success
            && let Some(error) = &s.error
        {
            let _ = writeln!(o, "        {error}");
        }
        if s.status == StepStatus::Failed && !s.selectors_tried.is_empty() {
            let _ = writeln!(o, "        tried: {}", s.selectors_tried.join(", "));
        }
    }
    o
}

/// A stored session (with its secrets: a replay must send what was recorded) or a HAR file.
fn load(source: &str, data: &Path) -> anyhow::Result<Har> {
    let bytes = match crate::cmd::analyze::read_har_file(source) {
        Some(bytes) => bytes?,
        None => {
            let store = crate::open_store(data)?;
            let id = crate::cmd::sessions::resolve_id(&store, source)?;
            let options = spool_store::ExportOptions {
                include_secrets: true,
                ..Default::default()
            };
            return Ok(store.export_har(id, &options)?);
        }
    };
    Har::from_slice(&bytes)
        .map_err(|e| {
            anyhow::Error::new(CodedError {
                code: ErrorCode::HarFileInvalid,
                message: e.to_string(),
            })
        })
        .with_context(|| format!("reading {source}"))
}

/// The readable report: what was served, then every unmatched request with its nearest
/// entry and differences, then the entries never used.
pub fn render(report: &NetworkReplayReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "replayed {} offline in {} ms: {} (title {:?})",
        report.url,
        report.duration_ms,
        if report.loaded {
            "loaded"
        } else {
            "did not settle"
        },
        report.title
    );
    let _ = writeln!(
        o,
        "served {} from the recording",
        requests(report.served.len())
    );
    for s in &report.served {
        let from = match (s.entry, &s.error) {
            (Some(entry), Some(error)) => format!("entry {entry}, failed as recorded: {error}"),
            (Some(entry), None) => format!("entry {entry}"),
            (None, _) => "CORS preflight allowed".into(),
        };
        let _ = writeln!(o, "  {} {:<6} {} ({from})", s.status, s.method, s.url);
    }
    if !report.unmatched.is_empty() {
        let _ = writeln!(o, "unmatched {}:", requests(report.unmatched.len()));
        for u in &report.unmatched {
            let what = if u.passed_through {
                "passed through"
            } else {
                "failed"
            };
            let _ = writeln!(o, "  {:<6} {} ({what})", u.method, u.url);
            match &u.near_miss {
                Some(near) => {
                    let _ = writeln!(
                        o,
                        "    nearest: entry {} {} {}",
                        near.entry, near.method, near.url
                    );
                    for d in &near.differences {
                        let _ = writeln!(o, "      {d}");
                    }
                }
                None => {
                    let _ = writeln!(o, "    nearest: none (the recording is empty)");
                }
            }
        }
    }
    if !report.unused.is_empty() {
        let _ = writeln!(
            o,
            "never used {} recorded {}:",
            report.unused.len(),
            if report.unused.len() == 1 {
                "entry"
            } else {
                "entries"
            }
        );
        for u in &report.unused {
            let _ = writeln!(o, "  entry {} {:<6} {}", u.entry, u.method, u.url);
        }
    }
    o
}

fn requests(n: usize) -> String {
    if n == 1 {
        "1 request".into()
    } else {
        format!("{n} requests")
    }
}
