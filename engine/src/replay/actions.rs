//! Action replay: a recorded session's actions performed again in a pool context through
//! real CDP input, each on the first selector alternative that finds an element matching
//! the recorded fingerprint.
//!
//! The replay opens a tab as a [`LiveCapture`] (recording nothing anyone keeps) because that
//! gives it the page's load and network state to wait on. Before each action it waits the
//! recorded think time (scaled by `speed_multiplier`), then for the element (bounded by
//! `element_timeout`), performs the action, and waits for the network to go quiet (bounded by
//! `settle_timeout`). The first failed step ends the replay: later actions depend on it, so
//! they are reported SKIPPED. The tab is closed and the context returned, also on error.

use crate::capture::{
    Capture, CaptureConfig, LiveCapture, NoSink, PageHandle, WaitUntil, validate_url,
};
use crate::error::EngineError;
use crate::network::iso8601;
use crate::pool::BrowserPool;
use crate::replay::offline::RecordedAnswers;
use crate::screenshot::ScreenshotOptions;
use serde::Serialize;
use serde_json::{Value, json};
use spool_model::session::{Action, CaptureLevel};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How an action replay runs.
#[derive(Debug, Clone)]
pub struct ActionReplayConfig {
    /// Scales the recorded think time between actions: 2 waits half as long. 0.1–5.
    pub speed_multiplier: f64,
    /// The page to start on instead of the recorded one (another host of the same app).
    pub start_url: Option<String>,
    /// Replay only this action (0-based): the tab opens the session's start page and performs
    /// this one action; every other is SKIPPED.
    pub action_index: Option<usize>,
    /// Resolve and validate every action on the start page, perform none.
    pub dry_run: bool,
    /// Values that replace recorded ones, keyed `action-N` (0-based), each `{"value": ...}`:
    /// new credentials, another start URL, a withheld password.
    pub override_parameters: BTreeMap<String, Value>,
    /// How long to wait for an action's element to appear.
    pub element_timeout: Duration,
    /// How long to wait, after an action, for navigations and the network to go quiet.
    pub settle_timeout: Duration,
    /// The longest think time waited between two actions, however long the person paused.
    pub max_think_time: Duration,
    /// Stop at a failed action with the tab still open (status PAUSED), to be resumed
    /// ([`ActionReplay::resume`]: retry it or skip it) or cancelled, instead of ending the
    /// replay there.
    pub pause_on_error: bool,
}

impl Default for ActionReplayConfig {
    fn default() -> Self {
        ActionReplayConfig {
            speed_multiplier: 1.0,
            start_url: None,
            action_index: None,
            dry_run: false,
            override_parameters: BTreeMap::new(),
            element_timeout: Duration::from_secs(5),
            settle_timeout: Duration::from_secs(10),
            max_think_time: Duration::from_secs(10),
            pause_on_error: false,
        }
    }
}

/// How one action's replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepStatus {
    Success,
    Failed,
    Skipped,
}

/// One action's replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    /// The action's index in the session (0-based).
    pub index: usize,
    /// The action as replayed, with overrides applied; a password slot's value is left out.
    pub action: Action,
    pub status: StepStatus,
    /// The recorded think time waited before the action, after scaling.
    pub think_time_ms: u64,
    /// Time spent finding the element, acting and waiting for the page to settle.
    pub duration_ms: u64,
    /// The selector alternative that found the element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector_used: Option<String>,
    /// Every alternative tried, in order, up to the one that worked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors_tried: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339 wall-clock time the step started.
    pub timestamp: String,
}

impl StepResult {
    /// A step not performed (yet), with why; a password slot's value is left out.
    fn not_run(index: usize, action: &Action, why: &str) -> StepResult {
        let mut shown = action.clone();
        if shown.slot.is_some() {
            shown.value = None;
        }
        StepResult {
            index,
            action: shown,
            status: StepStatus::Skipped,
            think_time_ms: 0,
            duration_ms: 0,
            selector_used: None,
            selectors_tried: Vec::new(),
            error: Some(why.to_string()),
            timestamp: iso8601(now_epoch()),
        }
    }
}

/// How the whole replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionReplayStatus {
    Completed,
    Failed,
    /// Stopped at a failed action with `pause_on_error`, waiting to be resumed or cancelled.
    Paused,
    Cancelled,
}

/// What an action replay did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReplayReport {
    pub status: ActionReplayStatus,
    /// The page the replay started on.
    pub start_url: String,
    /// The page's URL when the replay ended.
    pub final_url: String,
    pub dry_run: bool,
    /// One result per recorded action, in order.
    pub steps: Vec<StepResult>,
    pub duration_ms: u64,
    /// The failed action a PAUSED replay waits at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<usize>,
}

impl ActionReplayReport {
    /// The first failed step as a [`EngineError::ReplayFailed`], naming the step and the
    /// selectors tried; `None` when no step failed.
    pub fn failure(&self) -> Option<EngineError> {
        self.steps
            .iter()
            .find(|s| s.status == StepStatus::Failed)
            .map(|s| EngineError::ReplayFailed {
                step: s.index,
                kind: s.action.kind.clone(),
                reason: s.error.clone().unwrap_or_default(),
                selectors_tried: s.selectors_tried.clone(),
            })
    }
}

/// Checks the config and the overrides against `actions`, naming the field that is wrong.
pub fn validate(actions: &[Action], config: &ActionReplayConfig) -> Result<(), EngineError> {
    if actions.is_empty() {
        return Err(EngineError::invalid(
            "session",
            "the session recorded no actions to replay",
        ));
    }
    if !(0.1..=5.0).contains(&config.speed_multiplier) {
        return Err(EngineError::invalid(
            "speedMultiplier",
            format!("must be 0.1–5, got {}", config.speed_multiplier),
        ));
    }
    if let Some(index) = config.action_index
        && index >= actions.len()
    {
        return Err(EngineError::invalid(
            "actionIndex",
            format!(
                "must be below the session's {} actions, got {index}",
                actions.len()
            ),
        ));
    }
    for (key, value) in &config.override_parameters {
        let field = format!("overrideParameters.{key}");
        let index = key
            .strip_prefix("action-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| EngineError::invalid(&field, "keys are action-N, N 0-based"))?;
        if index >= actions.len() {
            return Err(EngineError::invalid(
                &field,
                format!("the session has {} actions", actions.len()),
            ));
        }
        let Some(fields) = value.as_object() else {
            return Err(EngineError::invalid(&field, "must be an object"));
        };
        for (name, v) in fields {
            if name != "value" {
                return Err(EngineError::invalid(
                    &format!("{field}.{name}"),
                    "the only field an override can set is value",
                ));
            }
            if !v.is_string() {
                return Err(EngineError::invalid(
                    &format!("{field}.value"),
                    "must be a string",
                ));
            }
        }
    }
    Ok(())
}

/// Replays `actions` in a context of `pool` and reports every step. A failed step is in the
/// report, not an `Err` ([`ActionReplayReport::failure`] turns it into one); `Err` is for
/// bad input and a browser that could not be had.
pub async fn replay_actions(
    pool: &BrowserPool,
    actions: &[Action],
    config: &ActionReplayConfig,
) -> Result<ActionReplayReport, EngineError> {
    validate(actions, config)?;
    // The replay's own recording is not kept, so a failure to finish it is no failure of
    // the replay.
    let (report, _) = run_replay(pool, actions, config, &ReplayRecording::default()).await?;
    Ok(report)
}

/// What a replay's own recording keeps, for a comparison with the session it replays.
#[derive(Debug, Clone)]
pub struct ReplayRecording {
    /// The level the replay is recorded at: `Metadata` keeps every entry's method, URL,
    /// status and timings, and the console.
    pub level: CaptureLevel,
    /// `Some` to take a screenshot after every action and at the end, as a recording made
    /// with the same options did.
    pub screenshots: Option<ScreenshotOptions>,
    /// `Some` to answer the replay's requests from the session's recording (`--network
    /// offline`) instead of the live app.
    pub answers: Option<RecordedAnswers>,
}

impl Default for ReplayRecording {
    fn default() -> Self {
        ReplayRecording {
            level: CaptureLevel::Metadata,
            screenshots: None,
            answers: None,
        }
    }
}

/// Replays `actions` like [`replay_actions`] and also returns the replay's own recording
/// (its network, console and screenshots), which a regression check compares with the
/// session's. A session without actions is allowed here: its replay opens the start page
/// (`config.start_url`, which must then be set) and waits for it to settle, which is what a
/// recorded page load is.
pub async fn replay_actions_recorded(
    pool: &BrowserPool,
    actions: &[Action],
    config: &ActionReplayConfig,
    recording: &ReplayRecording,
) -> Result<(ActionReplayReport, Capture), EngineError> {
    if !actions.is_empty() {
        validate(actions, config)?;
    }
    let (report, recorded) = run_replay(pool, actions, config, recording).await?;
    Ok((report, recorded?))
}

async fn run_replay(
    pool: &BrowserPool,
    actions: &[Action],
    config: &ActionReplayConfig,
    recording: &ReplayRecording,
) -> Result<(ActionReplayReport, Result<Capture, EngineError>), EngineError> {
    let config = ActionReplayConfig {
        pause_on_error: false,
        ..config.clone()
    };
    let mut replay = ActionReplay::start(pool, actions, &config, recording).await?;
    let ran = replay.run().await;
    let (report, recorded) = replay.finish(ran.is_ok()).await;
    ran?;
    Ok((report, recorded))
}

/// How a paused replay goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resume {
    /// Perform the failed action again (the page may have caught up, or a person fixed it).
    Retry,
    /// Leave the failed action out (SKIPPED) and go on with the next.
    Skip,
}

/// A replay in progress: its tab (a [`LiveCapture`] recording the replay), the steps done so
/// far, and, with `pause_on_error`, the failed action it waits at. [`replay_actions`] runs
/// one to the end; a caller that pauses holds it between [`ActionReplay::run`] and
/// [`ActionReplay::resume`], and ends it with [`ActionReplay::finish`] or
/// [`ActionReplay::cancel`], which close the tab.
pub struct ActionReplay {
    live: LiveCapture,
    page: PageHandle,
    actions: Vec<Action>,
    config: ActionReplayConfig,
    start_url: String,
    steps: Vec<StepResult>,
    started: Instant,
    opened: bool,
    paused_at: Option<usize>,
    /// The recording answering the replay's requests, when offline.
    answers: Option<RecordedAnswers>,
}

impl ActionReplay {
    /// Checks the input, takes a context from `pool` and opens the replay's tab; no action
    /// is performed yet.
    pub async fn start(
        pool: &BrowserPool,
        actions: &[Action],
        config: &ActionReplayConfig,
        recording: &ReplayRecording,
    ) -> Result<ActionReplay, EngineError> {
        let actions = with_overrides(actions, &config.override_parameters);
        let start_url = match &config.start_url {
            Some(url) => url.clone(),
            None => start_url(&actions, config.action_index.unwrap_or(0)).ok_or_else(|| {
                EngineError::invalid("session", "the session recorded no page to start on")
            })?,
        };
        validate_url(&start_url)?;
        let started = Instant::now();
        let mut capture_config = CaptureConfig::new("");
        capture_config.level = recording.level;
        capture_config.screenshots = recording.screenshots.clone();
        capture_config.answers = recording.answers.clone();
        if let Some(shots) = &recording.screenshots {
            capture_config.viewport.width = shots.width;
            capture_config.viewport.height = shots.height;
        }
        // The live capture's deadline only bounds a replay that hangs in Spool itself: every
        // wait has its own, shorter bound.
        capture_config.timeout = Duration::from_secs(3 * 3600);
        let live = LiveCapture::start(pool, capture_config, Box::new(NoSink)).await?;
        let page = live.page().clone();
        Ok(ActionReplay {
            live,
            page,
            actions,
            config: config.clone(),
            start_url,
            steps: Vec::new(),
            started,
            opened: false,
            paused_at: None,
            answers: recording.answers.clone(),
        })
    }

    /// Performs the actions from where the replay stands: to the end, or, with
    /// `pause_on_error`, to the next failed action (then [`ActionReplay::report`] says
    /// PAUSED). An `Err` is a tab that could not be driven at all.
    pub async fn run(&mut self) -> Result<(), EngineError> {
        let from = self.steps.len();
        let replayer = Replayer {
            page: &self.page,
            config: &self.config,
            actions: &self.actions,
            start_url: &self.start_url,
            answers: self.answers.as_ref(),
        };
        if !self.opened {
            replayer.open_start_page().await?;
            self.opened = true;
        }
        self.paused_at = replayer.run_from(from, &mut self.steps).await?;
        Ok(())
    }

    /// Goes on after a pause: the failed action again, or past it.
    pub async fn resume(&mut self, how: Resume) -> Result<(), EngineError> {
        let Some(at) = self.paused_at.take() else {
            return Err(EngineError::invalid("replay", "the replay is not paused"));
        };
        match how {
            Resume::Retry => {
                self.steps.truncate(at);
            }
            Resume::Skip => {
                if let Some(step) = self.steps.get_mut(at) {
                    step.status = StepStatus::Skipped;
                    let why = step.error.take().unwrap_or_default();
                    step.error = Some(format!("skipped after it failed: {why}"));
                }
            }
        }
        self.run().await
    }

    /// The replay's tab: a person or a test may fix the page while the replay is paused.
    pub fn page(&self) -> &PageHandle {
        &self.page
    }

    /// Where the replay stands.
    pub fn report(&self) -> ActionReplayReport {
        let mut steps = self.steps.clone();
        // Actions not reached yet.
        for (index, action) in self.actions.iter().enumerate().skip(steps.len()) {
            steps.push(StepResult::not_run(index, action, "not reached yet"));
        }
        let status = if self.paused_at.is_some() {
            ActionReplayStatus::Paused
        } else if self.steps.iter().any(|s| s.status == StepStatus::Failed) {
            ActionReplayStatus::Failed
        } else {
            ActionReplayStatus::Completed
        };
        ActionReplayReport {
            status,
            start_url: self.start_url.clone(),
            final_url: self.page.status().url,
            dry_run: self.config.dry_run,
            steps,
            duration_ms: millis(self.started.elapsed()),
            paused_at: self.paused_at,
        }
    }

    /// Ends the replay: waits for what the last action started (when `settle`), closes the
    /// tab and returns the report with the replay's own recording.
    pub async fn finish(
        self,
        settle_first: bool,
    ) -> (ActionReplayReport, Result<Capture, EngineError>) {
        if settle_first && !self.config.dry_run {
            // What the last action started (a form's chain of API calls) belongs to the
            // replay: the recording stops only once the page has been quiet for a while.
            settle(
                &self.page,
                Duration::from_millis(500),
                Some(Instant::now()),
                self.config.settle_timeout,
            )
            .await;
        }
        let report = self.report();
        let recorded = self.live.stop().await;
        (report, recorded)
    }

    /// Ends a paused replay without going on: the actions not performed are SKIPPED and the
    /// replay is CANCELLED.
    pub async fn cancel(mut self) -> ActionReplayReport {
        self.paused_at = None;
        let mut report = self.report();
        for step in report.steps.iter_mut().skip(self.steps.len()) {
            step.error = Some("the replay was cancelled".into());
        }
        report.status = ActionReplayStatus::Cancelled;
        let _ = self.live.stop().await;
        report
    }
}

/// The actions with each `action-N` override's value in place.
fn with_overrides(actions: &[Action], overrides: &BTreeMap<String, Value>) -> Vec<Action> {
    let mut actions = actions.to_vec();
    for (key, fields) in overrides {
        if let Some(action) = key
            .strip_prefix("action-")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|i| actions.get_mut(i))
            && let Some(value) = fields["value"].as_str()
        {
            action.value = Some(value.to_string());
        }
    }
    actions
}

/// The page to open before the action at `index`: the last navigation at or before it, else
/// the page the first action happened on.
fn start_url(actions: &[Action], index: usize) -> Option<String> {
    actions[..=index.min(actions.len().saturating_sub(1))]
        .iter()
        .rev()
        .find(|a| a.kind == "navigate" && a.value.is_some())
        .and_then(|a| a.value.clone())
        .or_else(|| actions.iter().find_map(|a| a.url.clone()))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds between two recorded timestamps; 0 when either does not parse.
fn gap_ms(earlier: &str, later: &str) -> u64 {
    match (
        earlier.parse::<jiff::Timestamp>(),
        later.parse::<jiff::Timestamp>(),
    ) {
        (Ok(a), Ok(b)) => u64::try_from(b.as_millisecond() - a.as_millisecond()).unwrap_or(0),
        _ => 0,
    }
}

/// Finds an element from selector alternatives, checks it against the fingerprint, scrolls
/// it into view (unless told not to) and returns its box centre in the top document's
/// viewport. `ARGS` is `[frame, selectors, fingerprint, intoView]`: the element is looked up
/// in the document `frame` leads to (each hop's `<iframe>` by its selectors, else by its
/// index among the frames), a ` >>> ` chain goes through open shadow roots (and same-origin
/// iframes, as a DevTools Recorder chain may), and `aria/` and
/// `text/` look inside open shadow roots too. With no selectors the frame's window is the
/// target (a window scroll).
const RESOLVE_JS: &str = concat!(
    r#"((args) => {
"#,
    include_str!("../element_helpers.js"),
    r#"
  const [frame, selectors, fingerprint, intoView] = args;
  // Every element under `root`, the insides of open shadow roots included, in tree order.
  const deepAll = function* (root) {
    for (const el of root.querySelectorAll('*')) {
      yield el;
      if (el.shadowRoot) yield* deepAll(el.shadowRoot);
    }
  };
  const byText = (doc, text) => {
    let best = null;
    for (const el of doc.body ? deepAll(doc.body) : []) {
      if (clean(el.textContent) === text) best = el;
    }
    return best;
  };
  const byAria = (doc, sel) => {
    const m = /^aria\/(.*)\[role="([^"]*)"\]$/.exec(sel);
    const name = m ? m[1] : sel.slice(5);
    const role = m ? m[2] : null;
    for (const el of deepAll(doc)) {
      if ((!role || roleOf(el) === role) && nameOf(el) === name) return el;
    }
    return null;
  };
  // The iframes the last chain went through (a DevTools Recorder chain may enter a
  // same-origin iframe as well as a shadow root).
  let chainOwners = [];
  const byChain = (doc, sel) => {
    const parts = sel.split(' >>> ');
    let root = doc;
    let el = null;
    for (let i = 0; i < parts.length; i++) {
      if (!root) return null;
      el = root.querySelector(parts[i]);
      if (!el) return null;
      if (i === parts.length - 1) break;
      if (el.shadowRoot) root = el.shadowRoot;
      else if (/^I?FRAME$/.test(el.tagName)) {
        try { root = el.contentDocument; } catch (e) { root = null; }
        chainOwners.push(el);
      } else root = null;
    }
    return el;
  };
  const find = (doc, sel) => {
    chainOwners = [];
    try {
      if (sel.startsWith('aria/')) return byAria(doc, sel);
      if (sel.startsWith('xpath/')) return doc.evaluate(sel.slice(6), doc, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
      if (sel.startsWith('text/')) return byText(doc, sel.slice(5));
      return byChain(doc, sel);
    } catch (e) { return null; }
  };
  // Into the frames, from the top document down.
  let doc = document;
  const owners = [];
  for (const hop of frame) {
    let owner = null;
    for (const sel of hop.selectors || []) {
      const el = find(doc, sel);
      if (el && /^I?FRAME$/.test(el.tagName)) { owner = el; break; }
    }
    if (!owner) {
      try { const w = doc.defaultView.frames[hop.index]; owner = w ? w.frameElement : null; } catch (e) { owner = null; }
    }
    if (!owner) return { selector: null, tried: [], mismatches: ['the iframe ' + JSON.stringify((hop.selectors || [])[0] || hop.index) + ' is not there (yet)'] };
    let inner = null;
    try { inner = owner.contentDocument; } catch (e) { inner = null; }
    if (!inner) return { selector: null, tried: [], mismatches: ['the iframe ' + JSON.stringify((hop.selectors || [])[0] || hop.index) + ' is cross-origin or not loaded: replay enters same-origin iframes only'] };
    owners.push(owner);
    doc = inner;
  }
  if (!selectors.length) {
    window.__spoolReplayTarget = doc.defaultView;
    return { selector: '', tried: [], x: 0, y: 0 };
  }
  const tried = [];
  const mismatches = [];
  for (const sel of selectors) {
    tried.push(sel);
    const el = find(doc, sel);
    if (!el) continue;
    if (fingerprint) {
      const tag = el.tagName.toLowerCase();
      const role = roleOf(el);
      const name = nameOf(el);
      if (tag !== fingerprint.tag || (fingerprint.role && role !== fingerprint.role) || (fingerprint.name && name && name !== fingerprint.name)) {
        mismatches.push(sel + ' found <' + tag + '> ' + JSON.stringify(name) + ', not <' + fingerprint.tag + '> ' + JSON.stringify(fingerprint.name));
        continue;
      }
    }
    // Scrolling into view also scrolls the frames around the element.
    if (intoView) el.scrollIntoView({ block: 'center', inline: 'center' });
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) { mismatches.push(sel + ' found an element that is not visible'); continue; }
    // A frame's viewport starts inside its iframe's border and padding.
    let x = r.left + r.width / 2;
    let y = r.top + r.height / 2;
    for (const owner of owners.concat(chainOwners)) {
      const box = owner.getBoundingClientRect();
      const style = owner.ownerDocument.defaultView.getComputedStyle(owner);
      x += box.left + owner.clientLeft + parseFloat(style.paddingLeft || '0');
      y += box.top + owner.clientTop + parseFloat(style.paddingTop || '0');
    }
    window.__spoolReplayTarget = el;
    return { selector: sel, tried, x, y };
  }
  return { selector: null, tried, mismatches };
})"#
);

/// Where an element was found.
struct Found {
    selector: String,
    tried: Vec<String>,
    x: f64,
    y: f64,
}

/// Why it was not.
struct NotFound {
    tried: Vec<String>,
    reason: String,
}

struct Replayer<'a> {
    page: &'a PageHandle,
    config: &'a ActionReplayConfig,
    actions: &'a [Action],
    start_url: &'a str,
    answers: Option<&'a RecordedAnswers>,
}

impl Replayer<'_> {
    /// Opens the start page, unless the first action is that navigation.
    async fn open_start_page(&self) -> Result<(), EngineError> {
        let first_is_start = self.actions.first().is_some_and(|a| {
            a.kind == "navigate"
                && self.config.action_index.is_none()
                && self.config.start_url.is_none()
        });
        if !first_is_start {
            self.page
                .navigate(self.start_url, WaitUntil::Load, self.config.settle_timeout)
                .await?;
            self.settle().await;
        }
        Ok(())
    }

    /// Performs the actions from `from` on, pushing each one's result. Returns the index of
    /// the failed action it paused at (with `pause_on_error`); without it, the actions
    /// after a failed one are SKIPPED.
    async fn run_from(
        &self,
        from: usize,
        steps: &mut Vec<StepResult>,
    ) -> Result<Option<usize>, EngineError> {
        let mut failed = steps.iter().any(|s| s.status == StepStatus::Failed);
        for (index, action) in self.actions.iter().enumerate().skip(from) {
            let mut step = StepResult::not_run(index, action, "");
            step.error = None;
            if failed {
                step.error = Some("an earlier action failed".into());
                steps.push(step);
                continue;
            }
            if let Some(only) = self.config.action_index
                && only != index
            {
                step.error = Some(format!("only action {only} was replayed"));
                steps.push(step);
                continue;
            }
            if self.config.dry_run && index > 0 && action.url != self.actions[0].url {
                step.error = Some("recorded on another page than the start page".into());
                steps.push(step);
                continue;
            }
            if !self.config.dry_run && self.config.action_index.is_none() && index > 0 {
                let think = Duration::from_millis(gap_ms(
                    &self.actions[index - 1].timestamp,
                    &action.timestamp,
                ))
                .div_f64(self.config.speed_multiplier)
                .min(self.config.max_think_time);
                step.think_time_ms = millis(think);
                tokio::time::sleep(think).await;
            }
            let started = Instant::now();
            step.timestamp = iso8601(now_epoch());
            if let Some(answers) = self.answers {
                // Requests from here on are answered preferring what this action caused.
                answers.set_action(Some(index));
            }
            match self.step(index, action, &mut step).await {
                Ok(None) => step.status = StepStatus::Success,
                Ok(Some(skipped)) => {
                    step.status = StepStatus::Skipped;
                    step.error = Some(skipped);
                }
                Err(error) => {
                    step.status = StepStatus::Failed;
                    step.error = Some(error);
                    failed = true;
                }
            }
            step.duration_ms = millis(started.elapsed());
            steps.push(step);
            if failed && self.config.pause_on_error {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    /// Performs one action (or, in a dry run, resolves it). `Ok(Some(why))` is a step that
    /// was skipped; `Err` one that failed.
    async fn step(
        &self,
        index: usize,
        action: &Action,
        step: &mut StepResult,
    ) -> Result<Option<String>, String> {
        match action.kind.as_str() {
            "navigate" => {
                let url = action.value.as_deref().unwrap_or_default();
                validate_url(url).map_err(|e| e.to_string())?;
                if !self.config.dry_run {
                    self.page
                        .navigate(url, WaitUntil::Load, self.config.settle_timeout)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.settle().await;
                } else if index == 0 {
                    // A dry run still needs the start page to resolve selectors on.
                    self.page
                        .navigate(url, WaitUntil::Load, self.config.settle_timeout)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.settle().await;
                }
                Ok(None)
            }
            // A submit follows from the click or key before it: performing it again would
            // submit twice.
            "submit" => Ok(None),
            "viewport" => {
                let (width, height) =
                    action
                        .value
                        .as_deref()
                        .and_then(parse_size)
                        .ok_or_else(|| {
                            format!(
                                "a viewport action's value is WIDTHxHEIGHT, got {:?}",
                                action.value
                            )
                        })?;
                if !self.config.dry_run {
                    self.page
                        .call(
                            "Emulation.setDeviceMetricsOverride",
                            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(None)
            }
            "click" | "dblclick" | "type" | "select" | "key" | "scroll" => {
                if action.kind == "type" && action.value.is_none() {
                    return Err(format!(
                        "the recording withheld the value of the {} field; give it with overrideParameters {{\"action-{index}\": {{\"value\": ...}}}}",
                        action.slot.as_deref().unwrap_or("password")
                    ));
                }
                let found = match self.resolve(action).await {
                    Ok(found) => found,
                    Err(not_found) => {
                        step.selectors_tried = not_found.tried;
                        return Err(not_found.reason);
                    }
                };
                step.selectors_tried = found.tried.clone();
                // A window scroll is found without a selector.
                step.selector_used = Some(found.selector.clone()).filter(|s| !s.is_empty());
                if self.config.dry_run {
                    return Ok(None);
                }
                self.perform(action, &found)
                    .await
                    .map_err(|e| e.to_string())?;
                self.settle().await;
                Ok(None)
            }
            other => Ok(Some(format!("{other} actions are not replayed"))),
        }
    }

    /// Waits for the action's element, trying its selector alternatives in order.
    async fn resolve(&self, action: &Action) -> Result<Found, NotFound> {
        let mut selectors = action.selectors.clone();
        if selectors.is_empty()
            && let Some(target) = &action.target
        {
            selectors.push(target.clone());
        }
        // A scroll without selectors scrolls the window; every other action needs an element.
        let window_scroll = action.kind == "scroll" && selectors.is_empty();
        if selectors.is_empty() && !window_scroll {
            return Err(NotFound {
                tried: Vec::new(),
                reason: "the action recorded no selector".into(),
            });
        }
        // A scrolled element need not be in view: bringing it there would scroll the window,
        // which the recording did not do.
        let into_view = action.kind != "scroll";
        let args = json!([action.frame, selectors, action.fingerprint, into_view]);
        let expression = format!("({RESOLVE_JS})({args})");
        let deadline = Instant::now() + self.config.element_timeout;
        let mut last_reason = String::new();
        loop {
            // While a navigation replaces the document, evaluation fails: that is waiting too.
            if let Ok(answer) = self
                .page
                .call(
                    "Runtime.evaluate",
                    json!({ "expression": expression, "returnByValue": true }),
                )
                .await
            {
                let v = &answer["result"]["value"];
                if let (Some(selector), Some(x), Some(y)) =
                    (v["selector"].as_str(), v["x"].as_f64(), v["y"].as_f64())
                {
                    return Ok(Found {
                        selector: selector.to_string(),
                        tried: strings(&v["tried"]),
                        x,
                        y,
                    });
                }
                let mismatches = strings(&v["mismatches"]);
                if !mismatches.is_empty() {
                    last_reason = format!(": {}", mismatches.join("; "));
                }
            }
            if Instant::now() >= deadline {
                return Err(NotFound {
                    reason: format!(
                        "no selector found the {} target{} within {:.1} s{last_reason}; tried {}",
                        action.kind,
                        if action.frame.is_empty() {
                            ""
                        } else {
                            " in its iframe"
                        },
                        self.config.element_timeout.as_secs_f64(),
                        selectors.join(", ")
                    ),
                    tried: selectors,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Acts on the element through CDP input, as a person would.
    async fn perform(&self, action: &Action, found: &Found) -> Result<(), EngineError> {
        match action.kind.as_str() {
            "click" => self.click(found.x, found.y, 1).await,
            "dblclick" => {
                self.click(found.x, found.y, 1).await?;
                self.click(found.x, found.y, 2).await
            }
            "type" => {
                // Focus and select what is there, so the typed text replaces it.
                self.page
                    .call(
                        "Runtime.evaluate",
                        json!({ "expression": "(() => { const e = window.__spoolReplayTarget; e.focus(); if (e.select) e.select(); return true; })()" }),
                    )
                    .await?;
                let text = action.value.as_deref().unwrap_or_default();
                if text.is_empty() {
                    self.key("Delete").await
                } else {
                    self.page
                        .call("Input.insertText", json!({ "text": text }))
                        .await
                        .map(|_| ())
                }
            }
            "select" => {
                // A native select's popup takes no synthetic input: the value is set the way
                // the popup sets it, with the events it fires.
                let value = serde_json::to_string(action.value.as_deref().unwrap_or_default())
                    .unwrap_or_default();
                self.page
                    .call(
                        "Runtime.evaluate",
                        json!({ "expression": format!("(() => {{ const e = window.__spoolReplayTarget; e.focus(); e.value = {value}; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()") }),
                    )
                    .await
                    .map(|_| ())
            }
            "key" => {
                // The element's own tree (its document, or the shadow root it is in) knows
                // whether it has focus.
                self.page
                    .call(
                        "Runtime.evaluate",
                        json!({ "expression": "(() => { const e = window.__spoolReplayTarget; if (e.getRootNode().activeElement !== e) e.focus(); return true; })()" }),
                    )
                    .await?;
                self.key(action.value.as_deref().unwrap_or_default()).await
            }
            "scroll" => self.scroll(action).await,
            _ => Ok(()),
        }
    }

    async fn click(&self, x: f64, y: f64, count: u32) -> Result<(), EngineError> {
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.page
                .call(
                    "Input.dispatchMouseEvent",
                    json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": count }),
                )
                .await?;
        }
        Ok(())
    }

    /// Presses one of the keys the recorder keeps, with the modifiers its value names
    /// (`Control+a`).
    async fn key(&self, value: &str) -> Result<(), EngineError> {
        let chord = KeyChord::parse(value).ok_or_else(|| {
            EngineError::invalid("key", format!("{value:?} is not a key replay knows"))
        })?;
        self.page
            .press_key_with_modifiers(
                &chord.key,
                &chord.code,
                chord.key_code,
                chord.text.as_deref(),
                chord.modifiers,
            )
            .await
    }

    /// Scrolls the window or the element to the recorded position with `scrollTo`, not
    /// with wheel input: a wheel's delta turns into pixels by the platform's rules (and
    /// smooth scrolling), and lands on whatever is under the pointer, while `scrollTo`
    /// reaches the recorded position exactly. The position is read back, and set again
    /// until `element_timeout` while the content is still too short to reach it.
    async fn scroll(&self, action: &Action) -> Result<(), EngineError> {
        let (x, y) = action
            .value
            .as_deref()
            .and_then(parse_position)
            .ok_or_else(|| {
                EngineError::invalid(
                    "value",
                    format!("a scroll action's value is X,Y, got {:?}", action.value),
                )
            })?;
        let expression = format!(
            "(() => {{ const t = window.__spoolReplayTarget; t.scrollTo({x}, {y});              return t.scrollX !== undefined ? [t.scrollX, t.scrollY] : [t.scrollLeft, t.scrollTop]; }})()"
        );
        let deadline = Instant::now() + self.config.element_timeout;
        loop {
            let at = self.page.evaluate(&expression).await?;
            let (ax, ay) = (
                at[0].as_f64().unwrap_or(-1.0),
                at[1].as_f64().unwrap_or(-1.0),
            );
            if (ax - x).abs() <= 1.0 && (ay - y).abs() <= 1.0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(EngineError::invalid(
                    "value",
                    format!("scrolled to {ax},{ay}, not the recorded {x},{y}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits, at most `settle_timeout`, until nothing has been in flight for 300 ms: the
    /// requests and navigations an action starts are done before the next action.
    async fn settle(&self) {
        // Requests an action starts may take a moment to show up in the status.
        tokio::time::sleep(Duration::from_millis(50)).await;
        settle(
            self.page,
            Duration::from_millis(300),
            None,
            self.config.settle_timeout,
        )
        .await;
    }
}

/// Waits until no request is in flight and the network has been quiet for `quiet` (counted
/// from `since` too when given: requests an action started may not have shown up yet), or
/// until `timeout`.
async fn settle(page: &PageHandle, quiet: Duration, since: Option<Instant>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let status = page.status();
        let last = match (status.last_network_activity, since) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if status.ended || (status.in_flight == 0 && last.is_none_or(|t| t.elapsed() >= quiet)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A key action's value as key events: the key, its DOM `code`, its Windows virtual key
/// code, what it types, and the CDP modifier bitmask (Alt 1, Control 2, Meta 4, Shift 8).
#[derive(Debug, PartialEq)]
struct KeyChord {
    key: String,
    code: String,
    key_code: u32,
    text: Option<String>,
    modifiers: u32,
}

impl KeyChord {
    /// Reads `Enter`, `ArrowDown`, `Control+a`, `Control+Shift+Tab`: the modifiers come
    /// first, the key last (which may be `+` itself).
    fn parse(value: &str) -> Option<KeyChord> {
        let (names, key) = crate::replay::devtools::split_chord(value);
        let modifiers = names
            .iter()
            .map(|name| match *name {
                "Alt" => 1,
                "Control" => 2,
                "Meta" => 4,
                _ => 8,
            })
            .fold(0, |all, bit| all | bit);
        let (code, key_code, types) = match key {
            "Enter" => ("Enter".to_string(), 13, Some("\r".to_string())),
            "Tab" => ("Tab".into(), 9, None),
            "Escape" => ("Escape".into(), 27, None),
            "Delete" => ("Delete".into(), 46, None),
            "Backspace" => ("Backspace".into(), 8, None),
            "ArrowLeft" => ("ArrowLeft".into(), 37, None),
            "ArrowUp" => ("ArrowUp".into(), 38, None),
            "ArrowRight" => ("ArrowRight".into(), 39, None),
            "ArrowDown" => ("ArrowDown".into(), 40, None),
            "Home" => ("Home".into(), 36, None),
            "End" => ("End".into(), 35, None),
            "PageUp" => ("PageUp".into(), 33, None),
            "PageDown" => ("PageDown".into(), 34, None),
            " " => ("Space".into(), 32, Some(" ".to_string())),
            single if single.chars().count() == 1 => {
                let c = single.chars().next()?;
                if c.is_ascii_alphabetic() {
                    let upper = c.to_ascii_uppercase();
                    (
                        format!("Key{upper}"),
                        u32::from(upper),
                        Some(single.to_string()),
                    )
                } else if c.is_ascii_digit() {
                    (format!("Digit{c}"), u32::from(c), Some(single.to_string()))
                } else if !c.is_control() {
                    // Punctuation sits on a different physical key on every layout: the
                    // character alone says what the key is.
                    (String::new(), 0, Some(single.to_string()))
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        // With Control, Alt or Meta held a key is a shortcut and types nothing, as on a real
        // keyboard.
        let text = types.filter(|_| modifiers & 7 == 0);
        Some(KeyChord {
            key: key.to_string(),
            code,
            key_code,
            text,
            modifiers,
        })
    }
}

/// `WIDTHxHEIGHT`, both positive.
fn parse_size(value: &str) -> Option<(u32, u32)> {
    let (w, h) = value.split_once('x')?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// `X,Y` in CSS pixels.
fn parse_position(value: &str) -> Option<(f64, f64)> {
    let (x, y) = value.split_once(',')?;
    let (x, y): (f64, f64) = (x.trim().parse().ok()?, y.trim().parse().ok()?);
    (x.is_finite() && y.is_finite()).then_some((x, y))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str, value: Option<&str>) -> Action {
        Action {
            kind: kind.into(),
            value: value.map(str::to_string),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            ..Action::default()
        }
    }

    #[test]
    fn bad_input_names_the_field() {
        let actions = vec![action("navigate", Some("http://127.0.0.1/"))];
        let field = |config: &ActionReplayConfig| match validate(&actions, config) {
            Err(EngineError::InvalidParams { field, .. }) => field,
            other => panic!("expected InvalidParams, got {other:?}"),
        };
        let speed = ActionReplayConfig {
            speed_multiplier: 7.0,
            ..ActionReplayConfig::default()
        };
        assert_eq!(field(&speed), "speedMultiplier");
        let past_end = ActionReplayConfig {
            action_index: Some(1),
            ..ActionReplayConfig::default()
        };
        assert_eq!(field(&past_end), "actionIndex");
        let mut overrides = ActionReplayConfig::default();
        overrides
            .override_parameters
            .insert("action-0".into(), json!({ "username": "bob" }));
        assert_eq!(field(&overrides), "overrideParameters.action-0.username");
        assert_eq!(
            match validate(&[], &ActionReplayConfig::default()) {
                Err(EngineError::InvalidParams { field, .. }) => field,
                other => panic!("{other:?}"),
            },
            "session"
        );
    }

    #[test]
    fn overrides_replace_values_and_the_start_url() {
        let actions = vec![
            action("navigate", Some("http://127.0.0.1:1/shop/")),
            action("type", Some("alice")),
        ];
        let overrides = BTreeMap::from([
            (
                "action-0".to_string(),
                json!({ "value": "http://127.0.0.1:2/shop/" }),
            ),
            ("action-1".to_string(), json!({ "value": "bob" })),
        ]);
        let replayed = with_overrides(&actions, &overrides);
        assert_eq!(replayed[1].value.as_deref(), Some("bob"));
        assert_eq!(
            start_url(&replayed, 1).as_deref(),
            Some("http://127.0.0.1:2/shop/")
        );
    }

    #[test]
    fn key_values_read_as_keys_with_modifiers() {
        let chord = KeyChord::parse("Control+a").unwrap();
        assert_eq!(
            (chord.key.as_str(), chord.code.as_str(), chord.key_code),
            ("a", "KeyA", 65)
        );
        assert_eq!((chord.modifiers, chord.text), (2, None));
        let enter = KeyChord::parse("Enter").unwrap();
        assert_eq!((enter.modifiers, enter.text.as_deref()), (0, Some("\r")));
        let back_tab = KeyChord::parse("Shift+Tab").unwrap();
        assert_eq!((back_tab.key.as_str(), back_tab.modifiers), ("Tab", 8));
        let all = KeyChord::parse("Control+Alt+Meta+Shift+ArrowDown").unwrap();
        assert_eq!((all.key_code, all.modifiers), (40, 15));
        // `+` as the key itself, after a modifier.
        assert_eq!(KeyChord::parse("Control++").unwrap().modifiers, 2);
        assert!(KeyChord::parse("Control+Hyper").is_none());
        assert!(KeyChord::parse("F13").is_none());
    }

    #[test]
    fn scroll_and_viewport_values_parse() {
        assert_eq!(parse_position("0,1200"), Some((0.0, 1200.0)));
        assert_eq!(parse_position("12"), None);
        assert_eq!(parse_size("800x600"), Some((800, 600)));
        assert_eq!(parse_size("0x600"), None);
        assert_eq!(parse_size("wide"), None);
    }

    #[test]
    fn think_time_comes_from_the_recorded_timestamps() {
        assert_eq!(
            gap_ms("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.500Z"),
            1500
        );
        assert_eq!(gap_ms("not a time", "2026-01-01T00:00:01.500Z"), 0);
    }
}
