//! `spool replay --check`: the regression check a QA pipeline runs. Each chosen session's
//! recorded actions are replayed against the live app (its recorded host, or `--base-url`)
//! while the replay itself is recorded, and the two recordings are compared by
//! [`spool_engine::replay::check`]: each action's outcome, the requests each action caused
//! (missing, new, changed status), new console errors and screenshot pixel differences.
//!
//! The result is printed, and written as JSON (`--json-report`) and JUnit XML (`--junit`,
//! one test suite per session, one test case per step). The exit status is non-zero when
//! anything regressed. `--all [--task WORDS] [--shard i/n]` checks many sessions: the shard
//! takes every n-th session in session-id order, so the shards of a CI matrix together run
//! every session exactly once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::json;
use spool_engine::replay::check::{self, CheckConfig, CheckReport, Recording};
use spool_engine::replay::{
    MatchConfig, RecordedAnswers, ReplayRecording, StepStatus, UnmatchedPolicy,
    replay_actions_recorded,
};
use spool_engine::{
    ActionReplayConfig, BrowserPool, BrowserSource, EngineError, LaunchConfig, PoolConfig,
    ScreenshotOptions,
};
use spool_model::ErrorCode;
use spool_model::session::{Action, CaptureLevel};
use spool_store::{Session, SessionQuery, SessionStatus, Store, Uuid};

use crate::exit::CodedError;

/// What `--check` was asked to do, parsed from `spool replay`'s arguments.
#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// One session (id or prefix); `None` checks every completed one (`--all`).
    pub session: Option<String>,
    pub task: Option<String>,
    pub shard: Option<Shard>,
    pub base_url: Option<url::Url>,
    /// Values for recorded input slots (a password field's name), in every session.
    pub inputs: BTreeMap<String, String>,
    /// `action-N` overrides, for a single session.
    pub overrides: BTreeMap<String, serde_json::Value>,
    pub speed: f64,
    /// Answer every request from the session's own recording (`--network offline`) instead
    /// of the live app: what changed in the front end alone, with the back end as recorded.
    pub offline: bool,
    pub check: CheckConfig,
    pub junit: Option<std::path::PathBuf>,
    pub json_report: Option<std::path::PathBuf>,
    /// The HTML regression report: a file for one session, a directory (one
    /// `<session-id>.html` each) for `--all`.
    pub html_report: Option<std::path::PathBuf>,
    pub json: bool,
}

/// `--shard i/n`: the i-th of n parts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(given: &str) -> Result<Shard, EngineError> {
        let invalid = || {
            EngineError::invalid(
                "shard",
                format!("must be i/n with 1 ≤ i ≤ n, got {given:?}"),
            )
        };
        let (i, n) = given.split_once('/').ok_or_else(invalid)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| invalid())?,
            n.trim().parse::<usize>().map_err(|_| invalid())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(invalid());
        }
        Ok(Shard { index, count })
    }

    /// Whether the session at `position` (in session-id order) is this shard's.
    pub fn takes(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// One session's check, as written to the JSON report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCheck {
    pub session_id: Uuid,
    pub task: String,
    pub start_url: String,
    pub duration_ms: u64,
    /// Why the session could not be replayed at all (no page to start on, a browser error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub report: Option<CheckReport>,
}

impl SessionCheck {
    fn passed(&self) -> bool {
        self.error.is_none() && self.report.as_ref().is_some_and(|r| r.passed)
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRun {
    pub passed: bool,
    pub sessions: Vec<SessionCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// Runs the check and returns an error (exit status 1, `ReplayFailed`) when anything
/// regressed.
pub async fn run(args: CheckArgs, data: &Path) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.check.screenshot_threshold) {
        return Err(EngineError::invalid(
            "screenshotThreshold",
            format!(
                "must be 0–1 (a fraction of pixels), got {}",
                args.check.screenshot_threshold
            ),
        )
        .into());
    }
    let store = crate::open_store(data)?;
    let ids = choose(&store, &args)?;
    let sessions: Vec<Session> = ids
        .iter()
        .map(|id| store.get(*id))
        .collect::<Result<_, _>>()?;
    // The store is not needed while browsers run: another command may use it meanwhile.
    drop(store);
    if sessions.is_empty() {
        return Err(anyhow::Error::new(CodedError {
            code: ErrorCode::SessionNotFound,
            message: "no completed session matches: nothing to check".into(),
        }));
    }

    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))?;
    let bar = progress(sessions.len(), args.json);
    let mut results = Vec::with_capacity(sessions.len());
    for session in &sessions {
        bar.set_message(short(&session.metadata.session_id));
        results.push(check_session(&pool, session, &args).await);
        bar.inc(1);
    }
    bar.finish_and_clear();
    pool.shutdown().await;

    let run = CheckRun {
        passed: results.iter().all(SessionCheck::passed),
        sessions: results,
        shard: args.shard.map(|s| format!("{}/{}", s.index, s.count)),
    };
    if let Some(path) = &args.json_report {
        std::fs::write(path, serde_json::to_vec_pretty(&run)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&run)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.html_report {
        write_html_reports(path, args.session.is_some(), &sessions, &run)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{}", render(&run));
    }
    if run.passed {
        return Ok(());
    }
    let failed = run.sessions.iter().filter(|s| !s.passed()).count();
    Err(anyhow::Error::new(CodedError {
        code: ErrorCode::ReplayFailed,
        message: format!("{failed} of {} sessions regressed", run.sessions.len()),
    }))
}

/// The regression reports: `path` itself for one session, `path/<id>.html` for each of
/// many.
fn write_html_reports(
    path: &Path,
    single: bool,
    sessions: &[Session],
    run: &CheckRun,
) -> anyhow::Result<()> {
    if !single {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    }
    for (session, checked) in sessions.iter().zip(&run.sessions) {
        let Some(report) = &checked.report else {
            continue;
        };
        let html = crate::cmd::report::regression_report(session, report)?;
        let file = if single {
            path.to_path_buf()
        } else {
            path.join(format!("{}.html", checked.session_id))
        };
        std::fs::write(&file, html).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// The sessions to check, in session-id order, after `--task` and `--shard`.
fn choose(store: &Store, args: &CheckArgs) -> anyhow::Result<Vec<Uuid>> {
    if let Some(given) = &args.session {
        return Ok(vec![crate::cmd::sessions::resolve_id(store, given)?]);
    }
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let page = store.list(&SessionQuery {
            limit: 1000,
            offset,
            words: args.task.clone(),
            ..SessionQuery::default()
        })?;
        let n = page.sessions.len();
        ids.extend(
            page.sessions
                .iter()
                .filter(|m| matches!(m.status, SessionStatus::Completed | SessionStatus::Stopped))
                .map(|m| m.session_id),
        );
        offset += n;
        if n < 1000 {
            break;
        }
    }
    ids.sort();
    if let Some(shard) = args.shard {
        ids = ids
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.takes(*i))
            .map(|(_, id)| id)
            .collect();
    }
    Ok(ids)
}

async fn check_session(pool: &BrowserPool, session: &Session, args: &CheckArgs) -> SessionCheck {
    let meta = &session.metadata;
    let started = std::time::Instant::now();
    let mut result = SessionCheck {
        session_id: meta.session_id,
        task: meta.task_description.clone(),
        start_url: String::new(),
        duration_ms: 0,
        error: None,
        report: None,
    };
    match replay_and_compare(pool, session, args, &mut result.start_url).await {
        Ok(report) => result.report = Some(report),
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

async fn replay_and_compare(
    pool: &BrowserPool,
    session: &Session,
    args: &CheckArgs,
    start: &mut String,
) -> anyhow::Result<CheckReport> {
    let config = action_replay_config(
        session,
        &LiveReplay {
            base_url: args.base_url.as_ref(),
            inputs: &args.inputs,
            overrides: &args.overrides,
            speed: args.speed,
        },
    )?;
    *start = config.start_url.clone().unwrap_or_default();
    let recorded_har = session.to_har();
    let answers = args.offline.then(|| {
        RecordedAnswers::new(&recorded_har, MatchConfig::default(), UnmatchedPolicy::Fail)
    });
    let recording = ReplayRecording {
        level: replay_level(session),
        screenshots: session.screenshots.first().map(|s| ScreenshotOptions {
            format: s.format,
            width: s.width,
            height: s.height,
            ..ScreenshotOptions::default()
        }),
        answers,
    };
    let (replay, replayed) =
        replay_actions_recorded(pool, &session.actions, &config, &recording).await?;
    let report = check::compare(
        &Recording {
            har: &recorded_har,
            console: &session.console,
            actions: &session.actions,
            screenshots: &session.screenshots,
        },
        &Recording {
            har: &replayed.har,
            console: &replayed.console,
            actions: &replayed.actions,
            screenshots: &replayed.screenshots,
        },
        &replay,
        &args.check,
    );
    Ok(report)
}

/// How a stored session's actions replay against a live app.
pub struct LiveReplay<'a> {
    /// The origin to replay against instead of the recorded one.
    pub base_url: Option<&'a url::Url>,
    /// Values for input slots (a password field's name).
    pub inputs: &'a BTreeMap<String, String>,
    /// `action-N` overrides, which win.
    pub overrides: &'a BTreeMap<String, serde_json::Value>,
    pub speed: f64,
}

/// The action replay config for `session` against a live app: the start page and every
/// recorded navigation moved onto `base_url`, every input slot given its value. A slot
/// without a value is an error naming it, before any browser starts.
pub fn action_replay_config(
    session: &Session,
    live: &LiveReplay<'_>,
) -> anyhow::Result<ActionReplayConfig> {
    let recorded_start = start_page(session).ok_or_else(|| {
        EngineError::invalid("session", "the session recorded no page to start on")
    })?;
    let start = rebase(&recorded_start, &recorded_start, live.base_url);
    let on_base = |u: &str| rebase(u, &recorded_start, live.base_url);
    // Every navigation the recording made goes to the same host the replay starts on, and
    // every input slot gets its value; explicit overrides win.
    let mut overrides = BTreeMap::new();
    for (i, action) in session.actions.iter().enumerate() {
        let value = if action.kind == "navigate" {
            action.value.as_deref().map(on_base)
        } else {
            action
                .slot
                .as_ref()
                .and_then(|slot| live.inputs.get(slot).cloned())
        };
        if let Some(value) = value {
            overrides.insert(format!("action-{i}"), json!({ "value": value }));
        }
    }
    overrides.extend(live.overrides.clone());
    if let Some((i, action)) = session
        .actions
        .iter()
        .enumerate()
        .find(|(i, a)| a.slot.is_some() && !overrides.contains_key(&format!("action-{i}")))
    {
        let slot = action.slot.as_deref().unwrap_or_default();
        return Err(EngineError::invalid(
            "input",
            format!(
                "action {i} types into the input slot {slot:?}, whose value is never stored: \
                 give it with --input {slot}=VALUE"
            ),
        )
        .into());
    }
    Ok(ActionReplayConfig {
        speed_multiplier: live.speed,
        start_url: Some(start),
        override_parameters: overrides,
        ..ActionReplayConfig::default()
    })
}

/// The level the replay records at: enough for what the recording has to compare with.
fn replay_level(session: &Session) -> CaptureLevel {
    if session.screenshots.is_empty() {
        CaptureLevel::Metadata
    } else {
        // Screenshots after every action are taken from the full level on.
        CaptureLevel::Full.max(session.metadata.capture_level)
    }
}

/// Where the recording started: its first navigation, else its metadata's start URL, else
/// its first document request.
fn start_page(session: &Session) -> Option<String> {
    session
        .actions
        .iter()
        .find(|a: &&Action| a.kind == "navigate")
        .and_then(|a| a.value.clone())
        .or_else(|| session.metadata.start_url.clone())
        .or_else(|| session.entries.first().map(|e| e.request.url.clone()))
}

/// `url` with the recorded start page's origin replaced by `base` (other origins are left
/// alone: a third-party request is not the app under test).
fn rebase(url: &str, recorded_start: &str, base: Option<&url::Url>) -> String {
    let (Some(base), Ok(mut parsed), Ok(start)) =
        (base, url::Url::parse(url), url::Url::parse(recorded_start))
    else {
        return url.to_string();
    };
    if parsed.origin() != start.origin() {
        return url.to_string();
    }
    let _ = parsed.set_scheme(base.scheme());
    let _ = parsed.set_host(base.host_str());
    let _ = parsed.set_port(base.port_or_known_default());
    parsed.to_string()
}

fn short(id: &Uuid) -> String {
    id.to_string()[..8].to_string()
}

fn progress(len: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "checking {pos}/{len} sessions {bar:30} {msg} ({elapsed})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The readable result: one block per session, regressions first.
pub fn render(run: &CheckRun) -> String {
    let mut o = String::new();
    for s in &run.sessions {
        let verdict = if s.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            o,
            "{verdict} {} {:?} ({} in {} ms)",
            s.session_id, s.task, s.start_url, s.duration_ms
        );
        if let Some(error) = &s.error {
            let _ = writeln!(o, "  could not replay: {error}");
        }
        if let Some(report) = &s.report {
            for r in &report.regressions {
                let _ = writeln!(o, "  ✗ {}", r.message);
            }
            let ok = report
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Success && s.passed())
                .count();
            let _ = writeln!(
                o,
                "  {ok} of {} steps as recorded; {} screenshots compared; {} new requests",
                report.steps.len(),
                report.screenshots.len(),
                report.new_requests.len()
            );
            if !report.new_requests.is_empty() {
                let list: Vec<String> = report.new_requests.iter().map(|r| r.to_string()).collect();
                let _ = writeln!(o, "    new: {}", list.join("; "));
            }
        }
    }
    let passed = run.sessions.iter().filter(|s| s.passed()).count();
    let _ = writeln!(
        o,
        "{passed} of {} sessions passed{}",
        run.sessions.len(),
        run.shard
            .as_deref()
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default()
    );
    o
}

/// JUnit XML: a test suite per session, a test case per step (the page load and each
/// action), plus `network`, `console` and `screenshots` cases for what no step owns.
pub fn junit(run: &CheckRun) -> anyhow::Result<String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let failure = |message: String| {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(message);
        status
    };
    let mut report = Report::new("spool replay --check");
    for s in &run.sessions {
        let mut suite = TestSuite::new(format!("{} {}", s.session_id, s.task));
        suite.set_time(Duration::from_millis(s.duration_ms));
        if let Some(error) = &s.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(error.clone());
            suite.add_test_case(TestCase::new("replay", status));
        }
        if let Some(r) = &s.report {
            for step in &r.steps {
                let messages: Vec<&str> = r
                    .regressions
                    .iter()
                    .filter(|g| g.step == step.name)
                    .map(|g| g.message.as_str())
                    .collect();
                let status = if !messages.is_empty() {
                    failure(messages.join("\n"))
                } else if step.status == StepStatus::Skipped {
                    TestCaseStatus::skipped()
                } else {
                    TestCaseStatus::success()
                };
                suite.add_test_case(TestCase::new(step.name.clone(), status));
            }
            for name in ["network", "console", "screenshots"] {
                let messages: Vec<&str> = r
                    .regressions
                    .iter()
                    .filter(|g| g.step == name)
                    .map(|g| g.message.as_str())
                    .collect();
                let status = if messages.is_empty() {
                    TestCaseStatus::success()
                } else {
                    failure(messages.join("\n"))
                };
                suite.add_test_case(TestCase::new(name, status));
            }
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.
mod tests {
    use super::*;

    #[test]
    fn shards_split_every_position_exactly_once() {
        let shards = [
            Shard::parse("1/3").unwrap(),
            Shard::parse("2/3").unwrap(),
            Shard::parse("3/3").unwrap(),
        ];
        for position in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.takes(position)).count(), 1);
        }
        for bad in ["0/2", "3/2", "1/0", "a/b", "2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_recorded_origin_is_rebased() {
        let base = url::Url::parse("http://127.0.0.1:9000").unwrap();
        let start = "http://127.0.0.1:8080/shop/";
        assert_eq!(
            rebase("http://127.0.0.1:8080/shop/?a=1", start, Some(&base)),
            "http://127.0.0.1:9000/shop/?a=1"
        );
        assert_eq!(
            rebase("https://cdn.example/x.js", start, Some(&base)),
            "https://cdn.example/x.js"
        );
        assert_eq!(rebase(start, start, None), start);
    }
}
