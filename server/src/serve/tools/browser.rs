//! The browser tools: a live browser session (a pool context held open by its session id
//! until `close-session` or until it is idle too long) driven by `navigate`, `click`,
//! `type`, `press-key`, `scroll`, `screenshot`, `get-text`, `get-content` and `evaluate`.
//!
//! Everything the page does while a live session is open is recorded into the store like a
//! capture (network, console, the actions the page saw, the screenshots taken); the session
//! is finished as COMPLETED when it is closed.

use super::super::error::ApiError;
use super::super::registry::{CallContext, ImageContent, Reply};
use super::super::state::AppState;
use super::sessions::SessionSummary;
use super::{HTTP_URL_PATTERN, SESSION_ID_PATTERN, parse_session_id};
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spool_engine::{
    CaptureConfig, CaptureSink, LiveCapture, PageHandle, Progress, ScreenshotOptions, WaitUntil,
};
use spool_model::ErrorCode;
use spool_model::har::Entry;
use spool_model::session::{Action, CaptureLevel, ConsoleEntry, ImageFormat, Screenshot};
use spool_store::{SessionStatus, StoreSink, Uuid};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a live session may record, whatever happens.
const LIVE_SESSION_DEADLINE: Duration = Duration::from_secs(3600);
/// A live session nobody used for this long is closed (and stored).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The live sessions, by id.
#[derive(Default)]
pub struct LiveSessions {
    sessions: Mutex<HashMap<Uuid, Arc<LiveSession>>>,
    /// Sessions being stopped and stored now. A session moves here from `sessions` under
    /// `sessions`' lock, so a status call always finds it in one of the two; the sender is
    /// dropped when it is stored, which wakes those waiting for that.
    closing: Mutex<HashMap<Uuid, tokio::sync::watch::Sender<()>>>,
}

pub struct LiveSession {
    pub(super) id: Uuid,
    pub(super) page: PageHandle,
    capture: tokio::sync::Mutex<Option<LiveCapture>>,
    /// The store sink, shared with the capture task so it can be finished after the stop.
    sink: Arc<Mutex<Option<StoreSink>>>,
    last_used: Mutex<Instant>,
    /// When the recording started.
    pub(super) started: Instant,
    /// `record-session`'s stop rules; `None` for a session the browser tools opened, which
    /// closes when nobody has used it for [`IDLE_TIMEOUT`].
    pub(super) rules: Option<RecordingRules>,
    /// What was recorded when it last changed, and when: inactivity is no new action, entry
    /// or console message for a while.
    activity: Mutex<(Progress, Instant)>,
}

/// When a `record-session` recording stops on its own.
#[derive(Debug, Clone, Copy)]
pub struct RecordingRules {
    /// No action, network entry or console message for this long ends it as COMPLETED.
    pub inactivity: Option<Duration>,
    /// It ends as STOPPED after this long, however busy.
    pub deadline: Duration,
}

/// How to open a live session.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub session_id: Option<Uuid>,
    pub task: String,
    pub level: CaptureLevel,
    /// The page to record first (the session's start URL).
    pub url: Option<String>,
    /// `Some` to take a screenshot on navigation and after every action (level 3 and up).
    pub screenshots: Option<ScreenshotOptions>,
    pub capture_network: bool,
    pub capture_console: bool,
    pub rules: Option<RecordingRules>,
}

impl LiveSession {
    /// What the recording holds so far (zero once it has been stopped).
    pub(super) async fn progress(&self) -> Progress {
        self.live_progress().await.unwrap_or_default()
    }

    /// What the recording holds so far; `None` once it is being stopped.
    pub(super) async fn live_progress(&self) -> Option<Progress> {
        self.capture
            .lock()
            .await
            .as_ref()
            .map(LiveCapture::progress)
    }

    /// Whether the recording has been quiet for its inactivity timeout.
    async fn inactive_for(&self, timeout: Duration) -> bool {
        let now = self.progress().await;
        let network = self.page.status().last_network_activity;
        let Ok(mut last) = self.activity.lock() else {
            return false;
        };
        let counts = |p: &Progress| (p.actions, p.entries, p.console, p.in_flight);
        if counts(&now) != counts(&last.0) {
            *last = (now, Instant::now());
        }
        let quiet_since = network.map_or(last.1, |n| n.max(last.1));
        now.in_flight == 0 && quiet_since.elapsed() >= timeout
    }
}

impl LiveSessions {
    fn get(&self, id: Uuid) -> Result<Arc<LiveSession>, ApiError> {
        let found = self.sessions.lock().ok().and_then(|s| s.get(&id).cloned());
        let session = found.ok_or_else(|| {
            ApiError::new(
                ErrorCode::SessionNotFound,
                format!("no open browser session {id} (navigate without a sessionId opens one)"),
            )
            .with_details(json!({ "sessionId": id }))
        })?;
        if let Ok(mut t) = session.last_used.lock() {
            *t = Instant::now();
        }
        Ok(session)
    }

    fn insert(&self, session: Arc<LiveSession>) {
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(session.id, session);
        }
    }

    /// Takes session `id` out to be stopped and stored; it counts as closing until the
    /// returned guard is dropped.
    fn begin_close(&self, id: Uuid) -> Option<(Arc<LiveSession>, Closing<'_>)> {
        let mut sessions = self.sessions.lock().ok()?;
        let session = sessions.remove(&id)?;
        if let Ok(mut closing) = self.closing.lock() {
            closing.insert(id, tokio::sync::watch::Sender::new(()));
        }
        Some((session, Closing { sessions: self, id }))
    }

    /// Waits until session `id` is stored if it is being stopped now; whether it was.
    pub(super) async fn wait_until_closed(&self, id: Uuid) -> bool {
        let receiver = self
            .closing
            .lock()
            .ok()
            .and_then(|c| c.get(&id).map(|tx| tx.subscribe()));
        let Some(mut receiver) = receiver else {
            return false;
        };
        // `changed` fails once the sender is dropped: the session is stored.
        while receiver.changed().await.is_ok() {}
        true
    }

    /// The open session `id`, if any, without counting as a use.
    pub(super) fn peek(&self, id: Uuid) -> Option<Arc<LiveSession>> {
        self.sessions.lock().ok().and_then(|s| s.get(&id).cloned())
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    fn idle(&self, longer_than: Duration) -> Vec<Uuid> {
        self.sessions
            .lock()
            .map(|s| {
                s.values()
                    .filter(|l| l.rules.is_none())
                    .filter(|l| {
                        l.last_used
                            .lock()
                            .map(|t| t.elapsed() > longer_than)
                            .unwrap_or(false)
                    })
                    .map(|l| l.id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn recordings(&self) -> Vec<Arc<LiveSession>> {
        self.sessions
            .lock()
            .map(|s| s.values().filter(|l| l.rules.is_some()).cloned().collect())
            .unwrap_or_default()
    }

    fn all(&self) -> Vec<Uuid> {
        self.sessions
            .lock()
            .map(|s| s.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// A session being stopped and stored; dropping it (on every path out of [`close`]) wakes
/// the status calls waiting for it.
struct Closing<'a> {
    sessions: &'a LiveSessions,
    id: Uuid,
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        if let Ok(mut closing) = self.sessions.closing.lock() {
            closing.remove(&self.id);
        }
    }
}

/// Closes live sessions idle longer than [`IDLE_TIMEOUT`], and `record-session` recordings
/// past their deadline or inactivity timeout, every second, until shutdown.
pub async fn close_idle_sessions(state: AppState) {
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        state.paused.cancel_expired(false).await;
        for id in state.live.idle(IDLE_TIMEOUT) {
            tracing::info!("closing idle browser session {id}");
            let _ = close(&state, id, SessionStatus::Completed).await;
        }
        for session in state.live.recordings() {
            let Some(rules) = session.rules else { continue };
            if session.started.elapsed() >= rules.deadline {
                tracing::info!("recording {} reached its time limit", session.id);
                let _ = close(&state, session.id, SessionStatus::Stopped).await;
            } else if let Some(quiet) = rules.inactivity
                && session.inactive_for(quiet).await
            {
                tracing::info!(
                    "recording {} stopped after {quiet:?} without activity",
                    session.id
                );
                let _ = close(&state, session.id, SessionStatus::Completed).await;
            }
        }
    }
}

/// Closes every live session (server shutdown); each is stored. Paused replays are
/// cancelled.
pub async fn close_all(state: &AppState) {
    state.paused.cancel_expired(true).await;
    for id in state.live.all() {
        let _ = close(state, id, SessionStatus::Stopped).await;
    }
}

/// Stops the recording, finishes the stored session as `status` (COMPLETED or STOPPED;
/// ERROR when the recording failed) and returns its summary.
pub(super) async fn close(
    state: &AppState,
    id: Uuid,
    status: SessionStatus,
) -> Result<SessionSummary, ApiError> {
    let (session, _closing) = state.live.begin_close(id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::SessionNotFound,
            format!("no open browser session {id}"),
        )
    })?;
    let live = session.capture.lock().await.take();
    let result = match live {
        Some(live) => live.stop().await,
        None => return Err(ApiError::internal("the session was already closed")),
    };
    let sink = session.sink.lock().ok().and_then(|mut s| s.take());
    let Some(sink) = sink else {
        return Err(ApiError::internal("the session's store sink is gone"));
    };
    let meta = tokio::task::spawn_blocking(move || match &result {
        Ok(capture) => sink.finish(
            status,
            capture.har.log.pages.clone(),
            Some(capture.browser.clone()),
        ),
        Err(e) => sink.fail(
            &e.to_string(),
            e.partial()
                .map(|p| p.har.log.pages.clone())
                .unwrap_or_default(),
        ),
    })
    .await
    .map_err(ApiError::internal)?;
    state
        .events
        .finish(id, meta.as_ref().map_or(SessionStatus::Error, |m| m.status));
    SessionSummary::from_metadata(&meta?)
}

/// Forwards the recording to the shared store sink, leaving out the network or the console
/// when `record-session` was asked not to keep them.
struct SharedSink {
    sink: Arc<Mutex<Option<StoreSink>>>,
    network: bool,
    console: bool,
    /// The session's live-events topic.
    events: super::super::events::EventPublisher,
}

impl SharedSink {
    fn with(&self, f: impl FnOnce(&mut StoreSink)) {
        if let Ok(mut guard) = self.sink.lock()
            && let Some(sink) = guard.as_mut()
        {
            f(sink);
        }
    }
}

impl CaptureSink for SharedSink {
    fn entries(&mut self, entries: &[Entry]) {
        if self.network {
            self.with(|s| s.entries(entries));
            self.events.entries(entries);
        }
    }
    fn console(&mut self, entries: &[ConsoleEntry]) {
        if self.console {
            self.with(|s| s.console(entries));
            self.events.console(entries);
        }
    }
    fn screenshot(&mut self, shot: &Screenshot) {
        self.with(|s| s.screenshot(shot));
        self.events.screenshot(shot);
    }
    fn actions(&mut self, actions: &[Action]) {
        self.with(|s| s.actions(actions));
        self.events.actions(actions);
    }
    fn raw_events(&mut self, jsonl: &[u8]) {
        self.with(|s| s.raw_events(jsonl));
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntilInput {
    /// The load event.
    #[default]
    Load,
    /// DOMContentLoaded.
    Domcontentloaded,
    /// Loaded, and no request in flight for 500 ms.
    Networkidle,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NavigateInput {
    /// An open browser session; without one a new session is opened (and recorded).
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: Option<String>,
    /// The page to open (http or https).
    #[schemars(url, regex(pattern = HTTP_URL_PATTERN))]
    pub url: String,
    /// When the navigation counts as done.
    #[serde(default)]
    pub wait_until: WaitUntilInput,
    /// Seconds to wait for it.
    #[serde(default = "default_wait")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: f64,
    /// What the session is for (a new session only).
    #[schemars(length(max = 1000))]
    pub task_description: Option<String>,
    /// Capture level of a new session (1-4).
    #[serde(default = "default_level")]
    #[schemars(range(min = 1, max = 4), extend("enum" = [1, 2, 3, 4]))]
    pub capture_level: u8,
}

fn default_wait() -> f64 {
    30.0
}

fn default_level() -> u8 {
    3
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NavigateOutput {
    pub session_id: String,
    /// The page's URL after the navigation.
    pub url: String,
    pub title: String,
    /// Milliseconds until the navigation counted as done.
    pub load_time: f64,
}

async fn open_for_navigate(
    state: &AppState,
    input: &NavigateInput,
) -> Result<Arc<LiveSession>, ApiError> {
    let level = CaptureLevel::try_from(input.capture_level)
        .map_err(|e| ApiError::invalid("captureLevel", e.to_string()))?;
    open(
        state,
        LiveOptions {
            session_id: None,
            task: input.task_description.clone().unwrap_or_default(),
            level,
            url: Some(input.url.clone()),
            screenshots: None,
            capture_network: true,
            capture_console: true,
            rules: None,
        },
    )
    .await
}

/// Opens a live session: a pool context recording into a new stored session.
pub(super) async fn open(
    state: &AppState,
    options: LiveOptions,
) -> Result<Arc<LiveSession>, ApiError> {
    let mut config = CaptureConfig::new("");
    config.task = Some(options.task.clone()).filter(|t| !t.is_empty());
    config.level = options.level;
    config.screenshots = options.screenshots.clone();
    config.timeout = match options.rules {
        // A little beyond the rules' deadline, so the watcher ends it as STOPPED first.
        Some(rules) => rules.deadline + Duration::from_secs(30),
        None => LIVE_SESSION_DEADLINE,
    };
    let sink = state.writer.begin(spool_store::NewSession {
        id: options.session_id,
        task_description: options.task.clone(),
        capture_level: options.level,
        browser: Default::default(),
        start_url: options.url.clone(),
    })?;
    let id = sink.id();
    let shared = Arc::new(Mutex::new(Some(sink)));
    let sink = SharedSink {
        sink: shared.clone(),
        network: options.capture_network,
        console: options.capture_console,
        events: state.events.publisher(id),
    };
    let live = match LiveCapture::start(&state.pool, config, Box::new(sink)).await {
        Ok(live) => live,
        Err(e) => {
            if let Some(sink) = shared.lock().ok().and_then(|mut s| s.take()) {
                let _ = sink.fail(&e.to_string(), Vec::new());
            }
            state.events.finish(id, SessionStatus::Error);
            return Err(e.into());
        }
    };
    let session = Arc::new(LiveSession {
        id,
        page: live.page().clone(),
        capture: tokio::sync::Mutex::new(Some(live)),
        sink: shared,
        last_used: Mutex::new(Instant::now()),
        started: Instant::now(),
        rules: options.rules,
        activity: Mutex::new((Progress::default(), Instant::now())),
    });
    state.live.insert(session.clone());
    Ok(session)
}

pub async fn navigate(
    state: AppState,
    input: NavigateInput,
    _ctx: CallContext,
) -> Result<Reply<NavigateOutput>, ApiError> {
    let session = match &input.session_id {
        Some(id) => state.live.get(parse_session_id(id)?)?,
        None => open_for_navigate(&state, &input).await?,
    };
    let until = match input.wait_until {
        WaitUntilInput::Load => WaitUntil::Load,
        WaitUntilInput::Domcontentloaded => WaitUntil::DomContentLoaded,
        WaitUntilInput::Networkidle => WaitUntil::NetworkIdle,
    };
    let started = Instant::now();
    session
        .page
        .navigate(
            &input.url,
            until,
            Duration::from_secs_f64(input.timeout_seconds),
        )
        .await?;
    let load_time = started.elapsed().as_secs_f64() * 1000.0;
    let info = eval(
        &session.page,
        "({url: location.href, title: document.title})",
    )
    .await?;
    Ok(NavigateOutput {
        session_id: session.id.to_string(),
        url: info["url"].as_str().unwrap_or_default().to_string(),
        title: info["title"].as_str().unwrap_or_default().to_string(),
        load_time,
    }
    .into())
}

/// Evaluates `expression` in the page and returns its value; a thrown exception is an error.
async fn eval(page: &PageHandle, expression: &str) -> Result<Value, ApiError> {
    let answer = page
        .call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )
        .await?;
    if let Some(exception) = answer.get("exceptionDetails") {
        let text = exception["exception"]["description"]
            .as_str()
            .or(exception["text"].as_str())
            .unwrap_or("the script threw")
            .to_string();
        return Err(
            ApiError::new(ErrorCode::InvalidParams, format!("invalid script: {text}"))
                .with_details(json!({ "field": "script", "exception": text })),
        );
    }
    Ok(answer["result"]["value"].clone())
}

/// The centre of the element `selector` matches, scrolled into view, waiting for it to
/// appear up to `timeout` (the engine's; named here for the tools' error type).
async fn element_center(
    page: &PageHandle,
    selector: &str,
    timeout: Duration,
) -> Result<(f64, f64), ApiError> {
    Ok(page.element_center(selector, timeout).await?)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectorInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// A CSS selector.
    #[schemars(length(min = 1, max = 1000))]
    pub selector: String,
    /// Seconds to wait for the element to appear.
    #[serde(default = "default_element_wait")]
    #[schemars(range(min = 0, max = 60))]
    pub timeout_seconds: f64,
}

fn default_element_wait() -> f64 {
    5.0
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionOutput {
    pub session_id: String,
    /// What was done, e.g. `click #login-button`.
    pub action: String,
    /// The page's URL afterwards.
    pub url: String,
}

async fn action_output(session: &LiveSession, action: String) -> Result<ActionOutput, ApiError> {
    let url = eval(&session.page, "location.href").await?;
    Ok(ActionOutput {
        session_id: session.id.to_string(),
        action,
        url: url.as_str().unwrap_or_default().to_string(),
    })
}

pub async fn click(
    state: AppState,
    input: SelectorInput,
    _ctx: CallContext,
) -> Result<Reply<ActionOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    session
        .page
        .click(
            &input.selector,
            Duration::from_secs_f64(input.timeout_seconds),
        )
        .await?;
    Ok(action_output(&session, format!("click {}", input.selector))
        .await?
        .into())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// A CSS selector of the input to type into.
    #[schemars(length(min = 1, max = 1000))]
    pub selector: String,
    /// The text to type.
    #[schemars(length(max = 10000))]
    pub text: String,
    /// Milliseconds between keystrokes.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub delay: u32,
}

pub async fn type_text(
    state: AppState,
    input: TypeInput,
    _ctx: CallContext,
) -> Result<Reply<ActionOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    element_center(&session.page, &input.selector, Duration::from_secs(5)).await?;
    let quoted = serde_json::to_string(&input.selector).map_err(ApiError::internal)?;
    eval(
        &session.page,
        &format!("(() => {{ const e = document.querySelector({quoted}); e.focus(); if ('value' in e) e.value = ''; return true; }})()"),
    )
    .await?;
    for ch in input.text.chars() {
        let text = ch.to_string();
        session
            .page
            .call(
                "Input.dispatchKeyEvent",
                json!({ "type": "keyDown", "text": text, "unmodifiedText": text, "key": text }),
            )
            .await?;
        session
            .page
            .call(
                "Input.dispatchKeyEvent",
                json!({ "type": "keyUp", "key": text }),
            )
            .await?;
        if input.delay > 0 {
            tokio::time::sleep(Duration::from_millis(input.delay as u64)).await;
        }
    }
    // Pages listen for `change` too, which typing alone does not fire until blur.
    eval(
        &session.page,
        &format!("(() => {{ const e = document.querySelector({quoted}); e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()"),
    )
    .await?;
    Ok(
        action_output(&session, format!("type into {}", input.selector))
            .await?
            .into(),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PressKeyInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// The key, as the DOM names it.
    pub key: KeyName,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum KeyName {
    Enter,
    Tab,
    Escape,
    Backspace,
    Delete,
    ArrowUp,
    ArrowDown,
    ArrowLeft,
    ArrowRight,
    Home,
    End,
    PageUp,
    PageDown,
    Space,
}

impl KeyName {
    /// DOM key, DOM code, Windows virtual key code, and the text the key types.
    fn cdp(self) -> (&'static str, &'static str, u32, Option<&'static str>) {
        match self {
            KeyName::Enter => ("Enter", "Enter", 13, Some("\r")),
            KeyName::Tab => ("Tab", "Tab", 9, None),
            KeyName::Escape => ("Escape", "Escape", 27, None),
            KeyName::Backspace => ("Backspace", "Backspace", 8, None),
            KeyName::Delete => ("Delete", "Delete", 46, None),
            KeyName::ArrowUp => ("ArrowUp", "ArrowUp", 38, None),
            KeyName::ArrowDown => ("ArrowDown", "ArrowDown", 40, None),
            KeyName::ArrowLeft => ("ArrowLeft", "ArrowLeft", 37, None),
            KeyName::ArrowRight => ("ArrowRight", "ArrowRight", 39, None),
            KeyName::Home => ("Home", "Home", 36, None),
            KeyName::End => ("End", "End", 35, None),
            KeyName::PageUp => ("PageUp", "PageUp", 33, None),
            KeyName::PageDown => ("PageDown", "PageDown", 34, None),
            KeyName::Space => (" ", "Space", 32, Some(" ")),
        }
    }
}

pub async fn press_key(
    state: AppState,
    input: PressKeyInput,
    _ctx: CallContext,
) -> Result<Reply<ActionOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    let (key, code, vk, text) = input.key.cdp();
    session.page.press_key(key, code, vk, text).await?;
    Ok(action_output(&session, format!("press {key}"))
        .await?
        .into())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScrollInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// Scroll this element into view instead of by an amount.
    #[schemars(length(min = 1, max = 1000))]
    pub selector: Option<String>,
    /// Pixels to the right.
    #[serde(default)]
    #[schemars(range(min = -100000, max = 100000))]
    pub x: i32,
    /// Pixels down.
    #[serde(default = "default_scroll")]
    #[schemars(range(min = -100000, max = 100000))]
    pub y: i32,
}

fn default_scroll() -> i32 {
    500
}

pub async fn scroll(
    state: AppState,
    input: ScrollInput,
    _ctx: CallContext,
) -> Result<Reply<ActionOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    let action = match &input.selector {
        Some(selector) => {
            element_center(&session.page, selector, Duration::from_secs(5)).await?;
            format!("scroll to {selector}")
        }
        None => {
            eval(
                &session.page,
                &format!("window.scrollBy({}, {}); true", input.x, input.y),
            )
            .await?;
            format!("scroll by {}, {}", input.x, input.y)
        }
    };
    Ok(action_output(&session, action).await?.into())
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScreenshotFormat {
    Png,
    Jpeg,
    #[default]
    Webp,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// Viewport width in pixels
    #[serde(default = "default_width")]
    #[schemars(range(min = 200, max = 4000))]
    pub width: u32,
    /// Viewport height in pixels
    #[serde(default = "default_height")]
    #[schemars(range(min = 200, max = 4000))]
    pub height: u32,
    /// Image format
    #[serde(default)]
    pub format: ScreenshotFormat,
    /// Image quality for WebP/JPEG
    #[serde(default = "default_quality")]
    #[schemars(range(min = 1, max = 100))]
    pub quality: u8,
    /// Capture the entire page height instead of the viewport
    #[serde(default)]
    pub full_page: bool,
    /// CSS selector for an element-specific screenshot
    #[schemars(length(min = 1, max = 1000))]
    pub selector: Option<String>,
    /// User agent for the screenshot
    #[schemars(length(max = 1000))]
    pub user_agent: Option<String>,
    /// Wait until no request is in flight before taking it
    #[serde(default = "yes")]
    pub wait_for_network_idle: bool,
    /// Timeout in milliseconds
    #[serde(default = "default_shot_timeout")]
    #[schemars(range(min = 1000, max = 120000))]
    pub timeout: u64,
}

fn default_width() -> u32 {
    1280
}
fn default_height() -> u32 {
    720
}
fn default_quality() -> u8 {
    80
}
fn default_shot_timeout() -> u64 {
    30_000
}
fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotOutput {
    pub session_id: String,
    pub format: ScreenshotFormat,
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    /// Size of the image in bytes.
    pub size: u64,
    pub url: String,
    pub timestamp: String,
    /// The image, base64 (also returned as MCP image content).
    pub data: String,
}

pub async fn screenshot(
    state: AppState,
    input: ScreenshotInput,
    _ctx: CallContext,
) -> Result<Reply<ScreenshotOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    let options = ScreenshotOptions {
        format: match input.format {
            ScreenshotFormat::Png => ImageFormat::Png,
            ScreenshotFormat::Jpeg => ImageFormat::Jpeg,
            ScreenshotFormat::Webp => ImageFormat::Webp,
        },
        quality: input.quality,
        width: input.width,
        height: input.height,
        full_page: input.full_page,
        selector: input.selector.clone(),
        user_agent: input.user_agent.clone(),
        wait_for_network_idle: input.wait_for_network_idle,
        timeout: input.timeout,
    };
    let shot = tokio::time::timeout(
        Duration::from_millis(input.timeout),
        session.page.screenshot(&options),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            ErrorCode::Timeout,
            format!("screenshot timed out after {} ms", input.timeout),
        )
    })??;
    // The screenshot belongs to the recording, like a capture's own.
    if let Ok(mut guard) = session.sink.lock()
        && let Some(sink) = guard.as_mut()
    {
        sink.screenshot(&shot);
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&shot.data);
    let mime = shot.format.mime_type().to_string();
    Ok(Reply {
        value: ScreenshotOutput {
            session_id: session.id.to_string(),
            format: input.format,
            mime_type: mime.clone(),
            width: shot.width,
            height: shot.height,
            size: shot.data.len() as u64,
            url: shot.url.clone(),
            timestamp: shot.timestamp.clone(),
            data: data.clone(),
        },
        images: vec![ImageContent {
            mime_type: mime,
            data,
        }],
        resources: Vec::new(),
    })
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextOutput {
    pub session_id: String,
    pub text: String,
}

pub async fn get_text(
    state: AppState,
    input: SelectorInput,
    _ctx: CallContext,
) -> Result<Reply<TextOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    element_center(
        &session.page,
        &input.selector,
        Duration::from_secs_f64(input.timeout_seconds),
    )
    .await?;
    let quoted = serde_json::to_string(&input.selector).map_err(ApiError::internal)?;
    let text = eval(
        &session.page,
        &format!("document.querySelector({quoted}).innerText"),
    )
    .await?;
    Ok(TextOutput {
        session_id: session.id.to_string(),
        text: text.as_str().unwrap_or_default().to_string(),
    }
    .into())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOnlyInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentOutput {
    pub session_id: String,
    pub url: String,
    pub title: String,
    /// The page's HTML.
    pub content: String,
}

pub async fn get_content(
    state: AppState,
    input: SessionOnlyInput,
    _ctx: CallContext,
) -> Result<Reply<ContentOutput>, ApiError> {
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    let v = eval(
        &session.page,
        "({url: location.href, title: document.title, content: document.documentElement.outerHTML})",
    )
    .await?;
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Ok(ContentOutput {
        session_id: session.id.to_string(),
        url: s("url"),
        title: s("title"),
        content: s("content"),
    }
    .into())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateInput {
    /// The open browser session.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// A JavaScript expression; its value (JSON) is returned, a promise is awaited.
    #[schemars(length(min = 1, max = 100000))]
    pub script: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateOutput {
    pub session_id: String,
    pub result: Value,
}

pub async fn evaluate(
    state: AppState,
    input: EvaluateInput,
    _ctx: CallContext,
) -> Result<Reply<EvaluateOutput>, ApiError> {
    if !state.config.allow_evaluate {
        return Err(ApiError::new(
            ErrorCode::InvalidParams,
            "invalid script: evaluate is disabled on this server (start it with --allow-evaluate true)",
        )
        .with_details(json!({ "field": "script", "rule": "disabled" })));
    }
    let session = state.live.get(parse_session_id(&input.session_id)?)?;
    let result = eval(&session.page, &input.script).await?;
    Ok(EvaluateOutput {
        session_id: session.id.to_string(),
        result,
    }
    .into())
}

pub async fn close_session(
    state: AppState,
    input: SessionOnlyInput,
    _ctx: CallContext,
) -> Result<Reply<SessionSummary>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    Ok(close(&state, id, SessionStatus::Completed).await?.into())
}
