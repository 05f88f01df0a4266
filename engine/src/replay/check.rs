//! The regression check: a replay compared with the session it replays. Pure: it reads the
//! two recordings and the replay's step results, and says what changed.
//!
//! What counts as a regression:
//!
//! - an action that FAILED in the replay (its element not found, or not the recorded one);
//! - a recorded request the replay did not make (*missing*), or made with another status
//!   class (*changed status*: 200 → 500, 201 → 404; 200 → 204, and 200 → 304 from the
//!   cache, are not regressions); each is laid at the door of the action that caused it in the recording;
//! - a request only the replay made that failed (*new*, status 0 or ≥ 400); a new request
//!   that succeeded is listed but passes, since a page may load one more image;
//! - a console error the recording did not have (compared by text with numbers masked);
//! - a screenshot that differs from the recorded one in more than `screenshot_threshold` of
//!   its pixels (each channel compared with `pixel_tolerance`).
//!
//! Requests are compared by method, path and the *names* of their query parameters, in
//! recorded order: the values of ids, timestamps and tokens change from run to run, the
//! shape of the traffic does not. Origins are ignored so a session recorded on one host can
//! be checked against another (`--base-url`).

use crate::replay::actions::{ActionReplayReport, StepStatus};
use serde::Serialize;
use spool_model::har::Har;
use spool_model::session::{Action, ConsoleEntry, ConsoleLevel, Screenshot};
use std::collections::BTreeMap;

/// How strict the check is.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    /// The fraction of pixels (0–1) that may differ before a screenshot counts as changed.
    pub screenshot_threshold: f64,
    /// How far (0–255) a channel may move before its pixel counts as different: image
    /// encoders and font hinting move a few levels between runs.
    pub pixel_tolerance: u8,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            screenshot_threshold: 0.01,
            pixel_tolerance: 24,
        }
    }
}

/// One side of the comparison: what a recording holds.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    pub har: &'a Har,
    pub console: &'a [ConsoleEntry],
    pub actions: &'a [Action],
    pub screenshots: &'a [Screenshot],
}

/// Everything the check found; `passed` when nothing is a regression.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub passed: bool,
    /// One entry per recorded action, plus the page load before the first action.
    pub steps: Vec<StepCheck>,
    /// Requests only the replay made.
    pub new_requests: Vec<RequestDiff>,
    /// Console errors only the replay logged.
    pub new_console_errors: Vec<String>,
    /// Recorded and replayed screenshots compared pairwise.
    pub screenshots: Vec<ScreenshotDiff>,
    /// Every regression, one line each, in the order a person should read them.
    pub regressions: Vec<Regression>,
}

/// What one recorded step (the page load, or an action) did in the replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepCheck {
    /// `None` for the page load before the first action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `page load`, or the action as `click #login-button`.
    pub name: String,
    /// The replay's outcome of the action (SUCCESS for the page load).
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors_tried: Vec<String>,
    /// Requests the recording made after this step and the replay did not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_requests: Vec<RequestDiff>,
    /// Requests made by both with another status class.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_status: Vec<RequestDiff>,
}

impl StepCheck {
    pub fn passed(&self) -> bool {
        self.status != StepStatus::Failed
            && self.missing_requests.is_empty()
            && self.changed_status.is_empty()
    }
}

/// A request that differs between the recording and the replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDiff {
    pub method: String,
    /// The path with its query parameter names (`/api/poll/status?job`).
    pub path: String,
    /// The recorded status (absent for a new request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_status: Option<i64>,
    /// The replayed status (absent for a missing request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_status: Option<i64>,
}

impl std::fmt::Display for RequestDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        match (self.recorded_status, self.replayed_status) {
            (Some(r), Some(p)) => write!(f, ": status {r} → {p}"),
            (Some(r), None) => write!(f, " (recorded {r}, not made)"),
            (None, Some(p)) => write!(f, " (new, {p})"),
            (None, None) => Ok(()),
        }
    }
}

/// A recorded screenshot and the replay's at the same place.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotDiff {
    /// The screenshots' reason and its ordinal (`action 2`, `final 0`).
    pub name: String,
    /// The fraction of pixels that differ; 1 when the sizes differ or an image does not
    /// decode.
    pub difference: f64,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What kind of regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RegressionKind {
    ActionFailed,
    RequestMissing,
    StatusChanged,
    RequestFailed,
    ConsoleError,
    ScreenshotChanged,
}

/// One regression: its kind, the step it belongs to (the recorded action), and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Regression {
    pub kind: RegressionKind,
    /// The step's name (`click #login-button`, `page load`), or `console` / `screenshots`.
    pub step: String,
    pub message: String,
}

/// Compares a replay with the session it replays.
pub fn compare(
    recorded: &Recording<'_>,
    replayed: &Recording<'_>,
    replay: &ActionReplayReport,
    config: &CheckConfig,
) -> CheckReport {
    let mut steps = step_checks(recorded.actions, replay);
    let new_requests = compare_network(recorded, replayed, &mut steps);
    let new_console_errors = new_console_errors(recorded.console, replayed.console);
    let screenshots = compare_screenshots(recorded.screenshots, replayed.screenshots, config);

    let mut regressions = Vec::new();
    for step in &steps {
        if step.status == StepStatus::Failed {
            let mut message = format!(
                "{} failed: {}",
                step.name,
                step.error.as_deref().unwrap_or("no reason given")
            );
            if !step.selectors_tried.is_empty() {
                message.push_str(&format!(
                    " (selectors tried: {})",
                    step.selectors_tried.join(", ")
                ));
            }
            regressions.push(Regression {
                kind: RegressionKind::ActionFailed,
                step: step.name.clone(),
                message,
            });
        }
        for (r, times) in counted(&step.changed_status) {
            regressions.push(Regression {
                kind: RegressionKind::StatusChanged,
                step: step.name.clone(),
                message: format!("after {}: {r}{times}", step.name),
            });
        }
        // A failed or skipped step's requests are missing because the step did not run:
        // saying so again would bury the cause.
        if step.status == StepStatus::Success && !step.missing_requests.is_empty() {
            let mut list: Vec<String> = step
                .missing_requests
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            list.dedup();
            regressions.push(Regression {
                kind: RegressionKind::RequestMissing,
                step: step.name.clone(),
                message: format!(
                    "{} no longer made the requests it made when recorded: {}",
                    step.name,
                    list.join(", ")
                ),
            });
        }
    }
    let failed: Vec<RequestDiff> = new_requests
        .iter()
        .filter(|r| is_failure(r.replayed_status))
        .cloned()
        .collect();
    for (r, times) in counted(&failed) {
        regressions.push(Regression {
            kind: RegressionKind::RequestFailed,
            step: "network".into(),
            message: format!("a request the recording did not make failed: {r}{times}"),
        });
    }
    for text in &new_console_errors {
        regressions.push(Regression {
            kind: RegressionKind::ConsoleError,
            step: "console".into(),
            message: format!("new console error: {text}"),
        });
    }
    for s in screenshots.iter().filter(|s| !s.passed) {
        regressions.push(Regression {
            kind: RegressionKind::ScreenshotChanged,
            step: "screenshots".into(),
            message: format!(
                "screenshot {} differs in {:.2} % of its pixels (threshold {:.2} %){}",
                s.name,
                s.difference * 100.0,
                config.screenshot_threshold * 100.0,
                s.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
        });
    }
    CheckReport {
        passed: regressions.is_empty(),
        steps,
        new_requests,
        new_console_errors,
        screenshots,
        regressions,
    }
}

/// Identical differences once each, with ` (N times)` when repeated (a polling endpoint
/// that now fails fails on every call).
fn counted(diffs: &[RequestDiff]) -> Vec<(&RequestDiff, String)> {
    let mut out: Vec<(&RequestDiff, usize)> = Vec::new();
    for d in diffs {
        match out.iter_mut().find(|(seen, _)| *seen == d) {
            Some((_, n)) => *n += 1,
            None => out.push((d, 1)),
        }
    }
    out.into_iter()
        .map(|(d, n)| {
            (
                d,
                if n > 1 {
                    format!(" ({n} times)")
                } else {
                    String::new()
                },
            )
        })
        .collect()
}

/// A short name for an action: its kind and target (`click #login-button`).
pub fn action_name(index: usize, action: &Action) -> String {
    match action.target.as_deref().or(action.value.as_deref()) {
        Some(what) => format!("action {index}: {} {what}", action.kind),
        None => format!("action {index}: {}", action.kind),
    }
}

const PAGE_LOAD: &str = "page load";

fn step_checks(actions: &[Action], replay: &ActionReplayReport) -> Vec<StepCheck> {
    let mut steps = vec![StepCheck {
        index: None,
        name: PAGE_LOAD.into(),
        status: StepStatus::Success,
        error: None,
        selectors_tried: Vec::new(),
        missing_requests: Vec::new(),
        changed_status: Vec::new(),
    }];
    for (index, action) in actions.iter().enumerate() {
        let result = replay.steps.iter().find(|s| s.index == index);
        steps.push(StepCheck {
            index: Some(index),
            name: action_name(index, action),
            status: result.map_or(StepStatus::Skipped, |s| s.status),
            error: result.and_then(|s| s.error.clone()),
            selectors_tried: result
                .filter(|s| s.status == StepStatus::Failed)
                .map(|s| s.selectors_tried.clone())
                .unwrap_or_default(),
            missing_requests: Vec::new(),
            changed_status: Vec::new(),
        });
    }
    steps
}

/// A request's identity across runs: method, path and query parameter names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    method: String,
    path: String,
}

fn request_key(method: &str, url: &str) -> Option<RequestKey> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let mut names: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    names.sort();
    names.dedup();
    let mut path = parsed.path().to_string();
    if !names.is_empty() {
        path.push('?');
        path.push_str(&names.join("&"));
    }
    Some(RequestKey {
        method: method.to_ascii_uppercase(),
        path,
    })
}

/// Which step (0 = page load, i + 1 = action i) an entry started under, by time.
/// `boundaries` are the performed actions' times with their step, in order; a submit is no
/// boundary, since it follows from the click or key before it and is not replayed itself.
fn step_of(started: &str, boundaries: &[(i64, usize)]) -> usize {
    let Some(t) = millis_of(started) else {
        return 0;
    };
    boundaries
        .iter()
        .take_while(|(at, _)| *at <= t)
        .last()
        .map_or(0, |(_, step)| *step)
}

fn millis_of(timestamp: &str) -> Option<i64> {
    timestamp
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Pairs recorded and replayed requests per key in order; fills each step's missing and
/// changed requests and returns the new ones.
fn compare_network(
    recorded: &Recording<'_>,
    replayed: &Recording<'_>,
    steps: &mut [StepCheck],
) -> Vec<RequestDiff> {
    let boundaries: Vec<(i64, usize)> = recorded
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind != "submit")
        .map(|(i, a)| (millis_of(&a.timestamp).unwrap_or(i64::MIN), i + 1))
        .collect();
    let mut wanted: BTreeMap<RequestKey, Vec<(i64, usize)>> = BTreeMap::new();
    for e in &recorded.har.log.entries {
        if let Some(key) = request_key(&e.request.method, &e.request.url) {
            let step = step_of(&e.started_date_time, &boundaries);
            wanted
                .entry(key)
                .or_default()
                .push((e.response.status, step));
        }
    }
    let mut got: BTreeMap<RequestKey, Vec<i64>> = BTreeMap::new();
    for e in &replayed.har.log.entries {
        if let Some(key) = request_key(&e.request.method, &e.request.url) {
            got.entry(key).or_default().push(e.response.status);
        }
    }
    let mut new_requests = Vec::new();
    for (key, recorded_statuses) in &wanted {
        let replayed_statuses = got.remove(key).unwrap_or_default();
        for (i, (status, step)) in recorded_statuses.iter().enumerate() {
            let diff = |replayed: Option<i64>| RequestDiff {
                method: key.method.clone(),
                path: key.path.clone(),
                recorded_status: Some(*status),
                replayed_status: replayed,
            };
            let Some(step) = steps.get_mut(*step) else {
                continue;
            };
            match replayed_statuses.get(i) {
                None => step.missing_requests.push(diff(None)),
                Some(p) if status_class(*p) != status_class(*status) => {
                    step.changed_status.push(diff(Some(*p)));
                }
                Some(_) => {}
            }
        }
        for p in replayed_statuses.iter().skip(recorded_statuses.len()) {
            new_requests.push(RequestDiff {
                method: key.method.clone(),
                path: key.path.clone(),
                recorded_status: None,
                replayed_status: Some(*p),
            });
        }
    }
    for (key, statuses) in got {
        for p in statuses {
            new_requests.push(RequestDiff {
                method: key.method.clone(),
                path: key.path.clone(),
                recorded_status: None,
                replayed_status: Some(p),
            });
        }
    }
    new_requests
}

/// 0 for a request that got no answer, else the hundreds (2 for 2xx). A 304 is a 2xx: the
/// browser revalidated what it had cached, and the resource is there.
fn status_class(status: i64) -> i64 {
    match status {
        ..=0 => 0,
        304 => 2,
        s => s / 100,
    }
}

fn is_failure(status: Option<i64>) -> bool {
    status.is_some_and(|s| s <= 0 || s >= 400)
}

/// Console errors of the replay whose text (numbers masked) the recording did not log.
fn new_console_errors(recorded: &[ConsoleEntry], replayed: &[ConsoleEntry]) -> Vec<String> {
    let known: std::collections::BTreeSet<String> = recorded
        .iter()
        .filter(|c| c.level == ConsoleLevel::Error)
        .map(|c| mask_numbers(&c.text))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    replayed
        .iter()
        .filter(|c| c.level == ConsoleLevel::Error)
        .filter(|c| {
            let masked = mask_numbers(&c.text);
            !known.contains(&masked) && seen.insert(masked)
        })
        .map(|c| c.text.clone())
        .collect()
}

/// Runs of digits become `#`, so `ord_123` and `ord_456` and two ports compare equal.
fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// Pairs screenshots by reason and ordinal within it, and diffs each pair's pixels.
fn compare_screenshots(
    recorded: &[Screenshot],
    replayed: &[Screenshot],
    config: &CheckConfig,
) -> Vec<ScreenshotDiff> {
    let by_reason = |shots: &[Screenshot]| {
        let mut map: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, s) in shots.iter().enumerate() {
            map.entry(s.reason.clone()).or_default().push(i);
        }
        map
    };
    let theirs = by_reason(replayed);
    let mut diffs = Vec::new();
    for (reason, indices) in by_reason(recorded) {
        for (ordinal, i) in indices.iter().enumerate() {
            let Some(j) = theirs.get(&reason).and_then(|v| v.get(ordinal)) else {
                continue;
            };
            let name = format!("{reason} {ordinal}");
            let (difference, note) =
                match pixel_difference(&recorded[*i], &replayed[*j], config.pixel_tolerance) {
                    Ok(d) => (d, None),
                    Err(note) => (1.0, Some(note)),
                };
            diffs.push(ScreenshotDiff {
                name,
                difference,
                passed: difference <= config.screenshot_threshold,
                note,
            });
        }
    }
    diffs
}

/// The fraction of pixels of two screenshots whose channels differ by more than
/// `tolerance`; an error when they cannot be compared (size, encoding).
pub fn pixel_difference(a: &Screenshot, b: &Screenshot, tolerance: u8) -> Result<f64, String> {
    let decode = |s: &Screenshot| {
        image::load_from_memory(&s.data)
            .map(|i| i.to_rgba8())
            .map_err(|e| format!("a {} screenshot does not decode: {e}", s.reason))
    };
    let (a, b) = (decode(a)?, decode(b)?);
    if a.dimensions() != b.dimensions() {
        return Err(format!(
            "the sizes differ: {}×{} recorded, {}×{} replayed",
            a.width(),
            a.height(),
            b.width(),
            b.height()
        ));
    }
    let total = u64::from(a.width()) * u64::from(a.height());
    if total == 0 {
        return Ok(0.0);
    }
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| {
            p.0.iter()
                .zip(q.0.iter())
                .any(|(x, y)| x.abs_diff(*y) > tolerance)
        })
        .count();
    Ok(differing as f64 / total as f64)
}
