//! Live capture: drive one tab of a real Chromium and record it.
//!
//! The order matters and follows DESIGN.md's CDP facts: attach to the tab, enable every
//! domain and auto-attach (child targets wait for the debugger until they are set up too),
//! apply browser state, and only then navigate. Events are fed, in arrival order, to the same
//! recorders that read event logs; bodies are fetched right after `loadingFinished`.
//!
//! The capture ends when the stop signal fires, when the deadline passes, or when the page has
//! loaded and nothing was in flight for the idle window (and the optional `wait_for`
//! expression is true). A deadline that passes before the page loaded is a
//! [`EngineError::Timeout`] that carries what was captured so far.

use crate::browser::{Browser, LaunchConfig};
use crate::cdp::{CdpEvent, Connection};
use crate::console::ConsoleRecorder;
use crate::error::EngineError;
use crate::network::{Body, Fetch, NetworkRecorder, RecorderConfig, iso8601};
use crate::screenshot::{self, ScreenshotOptions};
use crate::state::{self, BrowserState};
use serde_json::{Value, json};
use spool_model::har::Har;
use spool_model::session::{Action, BrowserInfo, CaptureLevel, ConsoleEntry, Screenshot, Viewport};
pub use spool_model::sink::{CaptureSink, NoSink, Progress};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// Where the browser comes from.
#[derive(Debug, Clone)]
pub enum BrowserSource {
    /// Launch a fresh headless Chromium, killed when the capture ends.
    Launch(LaunchConfig),
    /// Attach to a running Chromium (`http://host:port` or `ws://…`); a new tab is opened and
    /// closed again, the browser itself is left running.
    Attach(String),
}

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub url: String,
    pub task: Option<String>,
    pub level: CaptureLevel,
    /// The whole capture's deadline.
    pub timeout: Duration,
    /// Quiet time after load that ends the capture.
    pub idle: Duration,
    /// `Some` to take screenshots (on navigation and at the end; after every action from
    /// level 3; full page at level 4).
    pub screenshots: Option<ScreenshotOptions>,
    pub viewport: Viewport,
    pub user_agent: Option<String>,
    pub state: BrowserState,
    pub browser: BrowserSource,
    /// A JavaScript expression that must be truthy before an idle page ends the capture.
    pub wait_for: Option<String>,
}

impl CaptureConfig {
    pub fn new(url: impl Into<String>) -> CaptureConfig {
        CaptureConfig {
            url: url.into(),
            task: None,
            level: CaptureLevel::Full,
            timeout: Duration::from_secs(30),
            idle: Duration::from_millis(500),
            screenshots: None,
            viewport: Viewport::default(),
            user_agent: None,
            state: BrowserState::default(),
            browser: BrowserSource::Launch(LaunchConfig::default()),
            wait_for: None,
        }
    }

    /// Checks the config, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), EngineError> {
        let parsed = url::Url::parse(&self.url).map_err(|e| {
            EngineError::invalid("url", format!("{:?} is not a URL: {e}", self.url))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EngineError::invalid(
                "url",
                format!("must be http:// or https://, got {:?}", self.url),
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(3 * 3600) {
            return Err(EngineError::invalid(
                "timeout",
                "must be between 1 second and 3 hours",
            ));
        }
        for (field, v) in [
            ("viewport.width", self.viewport.width),
            ("viewport.height", self.viewport.height),
        ] {
            if !(200..=4000).contains(&v) {
                return Err(EngineError::invalid(
                    field,
                    format!("must be 200–4000, got {v}"),
                ));
            }
        }
        if let Some(s) = &self.screenshots {
            s.validate()?;
        }
        Ok(())
    }
}

/// Why a capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    NetworkIdle,
    Timeout,
    Stopped,
    BrowserClosed,
}

/// Everything a capture recorded.
#[derive(Debug, Clone)]
pub struct Capture {
    pub har: Har,
    pub console: Vec<ConsoleEntry>,
    pub screenshots: Vec<Screenshot>,
    pub actions: Vec<Action>,
    /// Every CDP event as JSON Lines (level 4 only).
    pub raw_events: Option<Vec<u8>>,
    pub browser: BrowserInfo,
    pub level: CaptureLevel,
    pub stop_reason: StopReason,
    pub started_at: String,
    pub ended_at: String,
}

/// Ends a running capture from elsewhere (a CLI signal handler, an API call).
#[derive(Clone, Default)]
pub struct StopSignal(Arc<Notify>);

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

/// Records the actions a person (or a page script) takes: installed in every document, it
/// reports clicks, typed values and submits through a CDP binding.
const ACTION_RECORDER_JS: &str = r#"(() => {
  if (window.__spoolActionsInstalled) return;
  window.__spoolActionsInstalled = true;
  const selectorOf = (el) => {
    if (!el || !el.tagName) return null;
    if (el.id) return '#' + CSS.escape(el.id);
    const tag = el.tagName.toLowerCase();
    if (el.name) return tag + '[name="' + el.name + '"]';
    const parent = el.parentElement;
    if (!parent) return tag;
    const index = Array.prototype.indexOf.call(parent.children, el) + 1;
    return selectorOf(parent) + ' > ' + tag + ':nth-child(' + index + ')';
  };
  const send = (kind, el, value) => {
    try { window.__spoolAction(JSON.stringify({ kind, target: selectorOf(el), value })); } catch (e) {}
  };
  document.addEventListener('click', (e) => send('click', e.target, null), true);
  document.addEventListener('change', (e) => {
    const t = e.target;
    if (t && 'value' in t) send('type', t, String(t.value));
  }, true);
  document.addEventListener('submit', (e) => send('submit', e.target, null), true);
})();"#;

const BINDING: &str = "__spoolAction";

enum Done {
    Body(String, Result<Body, String>),
    PostData(String, Option<String>),
    Screenshot(Result<Screenshot, EngineError>),
    ChildReady,
}

/// Runs a capture to its end. See the module docs for the stop rules.
pub async fn capture(
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
    stop: Option<StopSignal>,
) -> Result<Capture, EngineError> {
    config.validate()?;
    let browser = match &config.browser {
        BrowserSource::Launch(launch) => Browser::launch(launch).await?,
        BrowserSource::Attach(endpoint) => Browser::attach(endpoint).await?,
    };
    let result = run(&browser, config, sink, stop).await;
    browser.close().await;
    result
}

/// Captures in a browser the caller owns (a pool, a test). The tab is opened and closed here.
pub async fn capture_in(
    browser: &Browser,
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
    stop: Option<StopSignal>,
) -> Result<Capture, EngineError> {
    config.validate()?;
    run(browser, config, sink, stop).await
}

struct Session<'a> {
    conn: &'a Connection,
    config: &'a CaptureConfig,
    page_session: String,
    target_id: String,
    network: NetworkRecorder,
    console: ConsoleRecorder,
    actions: Vec<Action>,
    screenshots: Vec<Screenshot>,
    raw: Option<Vec<u8>>,
    raw_flushed: usize,
    done_tx: mpsc::UnboundedSender<Done>,
    pending: usize,
    sessions: HashSet<String>,
    last_activity: Instant,
    current_url: String,
}

async fn run(
    browser: &Browser,
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
    stop: Option<StopSignal>,
) -> Result<Capture, EngineError> {
    let conn = browser.connection();
    let started = Instant::now();
    let deadline = started + config.timeout;
    let started_at = iso8601(now_epoch());
    let mut events = conn.take_events().ok_or_else(|| {
        EngineError::NetworkCaptureFailed("this browser connection is already capturing".into())
    })?;

    let created = conn
        .execute_raw(None, "Target.createTarget", json!({ "url": "about:blank" }))
        .await?;
    let target_id = created["targetId"].as_str().unwrap_or_default().to_string();
    let attached = conn
        .execute_raw(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )
        .await?;
    let page_session = attached["sessionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let close_tab = || async {
        let _ = conn
            .execute_raw(None, "Target.closeTarget", json!({ "targetId": target_id }))
            .await;
    };

    let setup = async {
        let s = Some(page_session.as_str());
        conn.execute_raw(s, "Page.enable", json!({})).await?;
        // Apply state before the Network domain is on, so the placeholder pages are not
        // part of the recording.
        if !config.state.is_empty() {
            state::apply(conn, &page_session, &mut events, &config.state, &config.url).await?;
        }
        let (width, height) = match &config.screenshots {
            Some(s) => (s.width, s.height),
            None => (config.viewport.width, config.viewport.height),
        };
        conn.execute_raw(
            s,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
        let ua = config.user_agent.clone().or_else(|| {
            config
                .screenshots
                .as_ref()
                .and_then(|s| s.user_agent.clone())
        });
        if let Some(ua) = &ua {
            conn.execute_raw(
                s,
                "Emulation.setUserAgentOverride",
                json!({ "userAgent": ua }),
            )
            .await?;
        }
        enable_domains(conn, s, true).await?;
        conn.execute_raw(s, "Runtime.addBinding", json!({ "name": BINDING }))
            .await?;
        conn.execute_raw(
            s,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": ACTION_RECORDER_JS }),
        )
        .await?;
        conn.execute_raw(
            None,
            "Target.setDiscoverTargets",
            json!({ "discover": true }),
        )
        .await?;
        Ok::<_, EngineError>(())
    };
    let setup = tokio::time::timeout_at(deadline.into(), setup).await;
    match setup {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            close_tab().await;
            return Err(e);
        }
        Err(_) => {
            close_tab().await;
            return Err(EngineError::Timeout {
                what: "setting up the tab".into(),
                secs: config.timeout.as_secs_f64(),
                partial: None,
            });
        }
    }

    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut network = NetworkRecorder::new(RecorderConfig::for_level(config.level));
    network.set_page_session(Some(page_session.clone()));
    network.set_main_frame(&target_id);
    let mut session = Session {
        conn,
        config,
        page_session: page_session.clone(),
        target_id: target_id.clone(),
        network,
        console: ConsoleRecorder::new(config.level),
        actions: Vec::new(),
        screenshots: Vec::new(),
        raw: (config.level == CaptureLevel::Forensic).then(Vec::new),
        raw_flushed: 0,
        done_tx,
        pending: 0,
        sessions: HashSet::from([page_session.clone()]),
        last_activity: Instant::now(),
        current_url: config.url.clone(),
    };

    session.actions.push(Action {
        kind: "navigate".into(),
        target: None,
        value: Some(config.url.clone()),
        timestamp: iso8601(now_epoch()),
    });
    sink.actions(&session.actions);
    // Navigate without waiting: events flow meanwhile, and a navigation that hangs must not
    // stop the loop from noticing the deadline.
    let nav_conn = conn.clone();
    let nav_session = page_session.clone();
    let nav_url = config.url.clone();
    let navigation = tokio::spawn(async move {
        nav_conn
            .execute_raw(
                Some(&nav_session),
                "Page.navigate",
                json!({ "url": nav_url }),
            )
            .await
    });

    let stop_notify = stop.unwrap_or_default();
    // Checks for the stop rules run often enough to resolve the idle window.
    let tick_every = (config.idle / 5).clamp(Duration::from_millis(10), Duration::from_millis(100));
    let mut tick = tokio::time::interval(tick_every);
    let mut last_progress = Instant::now();
    let mut wait_for_ok = config.wait_for.is_none();
    let reason = loop {
        tokio::select! {
            biased;
            _ = stop_notify.0.notified() => break StopReason::Stopped,
            event = events.recv() => match event {
                Some(event) => session.on_event(event, sink),
                None => break StopReason::BrowserClosed,
            },
            done = done_rx.recv() => if let Some(done) = done {
                session.on_done(done, sink);
                if session.pending == 0 {
                    // The last body is in: check the stop rules now rather than at the next
                    // tick, so a finished page does not wait out the interval.
                    tick.reset_immediately();
                }
            },
            _ = tick.tick() => {
                if Instant::now() >= deadline {
                    break StopReason::Timeout;
                }
                session.flush(sink);
                if last_progress.elapsed() > Duration::from_millis(200) {
                    sink.progress(&session.progress(started));
                    last_progress = Instant::now();
                }
                let quiet = session.network.page_loaded()
                    && session.network.in_flight() == 0
                    && session.pending == 0
                    && session.last_activity.elapsed() >= config.idle;
                if quiet && !wait_for_ok {
                    wait_for_ok = session.evaluate_truthy(config.wait_for.as_deref().unwrap_or("true")).await;
                    if !wait_for_ok {
                        // The page is still working in ways the network does not show.
                        session.last_activity = Instant::now() - config.idle / 2;
                    }
                }
                if quiet && wait_for_ok {
                    break StopReason::NetworkIdle;
                }
            }
        }
    };
    navigation.abort();

    // Let fetches already asked for finish, within a bound; after a deadline only briefly,
    // so that a timeout is reported when it happens.
    let page_loaded = session.network.page_loaded();
    let grace = if reason == StopReason::Timeout {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(5)
    };
    let drain_until = Instant::now() + grace;
    while session.pending > 0 && Instant::now() < drain_until && reason != StopReason::BrowserClosed
    {
        match tokio::time::timeout(Duration::from_millis(200), done_rx.recv()).await {
            Ok(Some(done)) => session.on_done(done, sink),
            Ok(None) => break,
            Err(_) => {
                while let Ok(event) = events.try_recv() {
                    session.on_event(event, sink);
                }
            }
        }
    }
    // A page still navigating may not answer `Runtime.evaluate`; only ask a loaded one.
    if reason != StopReason::BrowserClosed && page_loaded {
        if let Some(opts) = &config.screenshots {
            let url = session.current_url.clone();
            match screenshot::take(
                conn,
                &page_session,
                &session.effective_shot(opts),
                "final",
                &url,
            )
            .await
            {
                Ok(shot) => {
                    sink.screenshot(&shot);
                    session.screenshots.push(shot);
                }
                Err(e) => tracing::warn!("final screenshot failed: {e}"),
            }
        }
        if let Some(title) = session.evaluate_string("document.title").await {
            session.network.set_page_title(&title);
        }
    }
    let user_agent = match config.user_agent.clone() {
        Some(ua) => ua,
        None => browser.version().user_agent.clone(),
    };
    session.flush(sink);
    close_tab().await;

    let (width, height) = match &config.screenshots {
        Some(s) => (s.width, s.height),
        None => (config.viewport.width, config.viewport.height),
    };
    let rest = session.network.take_remaining();
    if !rest.is_empty() {
        sink.entries(&rest);
    }
    let Session {
        network,
        console,
        actions,
        screenshots,
        raw,
        ..
    } = session;
    let (pages, entries) = network.finish();
    let mut har = Har::new_spool();
    har.log.browser = Some(spool_model::har::Creator {
        name: browser
            .version()
            .product
            .split('/')
            .next()
            .unwrap_or("Chromium")
            .to_string(),
        version: browser
            .version()
            .product
            .split('/')
            .nth(1)
            .unwrap_or("")
            .to_string(),
        ..Default::default()
    });
    har.log.pages = pages;
    har.log.entries = entries;
    let capture = Capture {
        har,
        console: console.into_entries(),
        screenshots,
        actions,
        raw_events: raw,
        browser: BrowserInfo {
            user_agent,
            product: browser.version().product.clone(),
            viewport: Viewport { width, height },
        },
        level: config.level,
        stop_reason: reason,
        started_at,
        ended_at: iso8601(now_epoch()),
    };
    if reason == StopReason::Timeout && !page_loaded {
        return Err(EngineError::Timeout {
            what: format!("loading {}", config.url),
            secs: config.timeout.as_secs_f64(),
            partial: Some(Box::new(capture)),
        });
    }
    Ok(capture)
}

/// Enables the domains a capture listens to on one target, and auto-attach for its children.
async fn enable_domains(
    conn: &Connection,
    session: Option<&str>,
    page: bool,
) -> Result<(), EngineError> {
    conn.execute_raw(
        session,
        "Network.enable",
        json!({ "maxTotalBufferSize": 256 << 20, "maxResourceBufferSize": 64 << 20, "maxPostDataSize": 1 << 20 }),
    )
    .await?;
    if page {
        conn.execute_raw(session, "Page.enable", json!({})).await?;
    }
    conn.execute_raw(session, "Runtime.enable", json!({}))
        .await?;
    // Not every target type has a Log domain (workers do, service workers may not).
    let _ = conn.execute_raw(session, "Log.enable", json!({})).await;
    let _ = conn
        .execute_raw(
            session,
            "Target.setAutoAttach",
            json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
        )
        .await;
    Ok(())
}

impl Session<'_> {
    fn on_event(&mut self, event: CdpEvent, sink: &mut dyn CaptureSink) {
        if let Some(raw) = &mut self.raw {
            let mut line = json!({ "method": event.method, "params": event.params });
            if let Some(s) = &event.session_id {
                line["sessionId"] = json!(s);
            }
            serde_json::to_writer(&mut *raw, &line).ok();
            raw.push(b'\n');
        }
        // Only our tab and the targets attached under it are ours; in an attached browser
        // other tabs may be talking too.
        let ours = match &event.session_id {
            Some(s) => self.sessions.contains(s),
            None => event.method.starts_with("Target."),
        };
        if !ours {
            return;
        }
        let method = event.method.as_str();
        let session_id = event.session_id.as_deref();
        if method.starts_with("Network.") {
            self.last_activity = Instant::now();
        }
        match method {
            "Target.attachedToTarget" => self.on_attached(&event.params),
            "Target.targetCreated" => self.on_target_created(&event.params),
            "Runtime.bindingCalled" if event.params["name"] == BINDING => {
                if let Some(payload) = event.params["payload"].as_str()
                    && let Ok(v) = serde_json::from_str::<Value>(payload)
                {
                    let action = Action {
                        kind: v["kind"].as_str().unwrap_or("unknown").to_string(),
                        target: v["target"].as_str().map(str::to_string),
                        value: v["value"].as_str().map(str::to_string),
                        timestamp: iso8601(now_epoch()),
                    };
                    sink.actions(std::slice::from_ref(&action));
                    self.actions.push(action);
                    if self.config.level >= CaptureLevel::Full
                        && let Some(opts) = &self.config.screenshots
                    {
                        self.spawn_screenshot(opts.clone(), "action");
                    }
                }
            }
            "Page.frameNavigated" if session_id == Some(self.page_session.as_str()) => {
                if event.params["frame"]["parentId"].is_null()
                    && let Some(url) = event.params["frame"]["url"].as_str()
                {
                    self.current_url = url.to_string();
                }
            }
            "Page.loadEventFired" if session_id == Some(self.page_session.as_str()) => {
                if let Some(opts) = &self.config.screenshots {
                    self.spawn_screenshot(opts.clone(), "navigation");
                }
            }
            _ => {}
        }
        match self.network.handle(method, session_id, &event.params) {
            Ok(fetches) => {
                for fetch in fetches {
                    self.spawn_fetch(fetch);
                }
            }
            Err(e) => tracing::warn!("could not read {method}: {e}; the event is kept raw only"),
        }
        if let Err(e) = self.console.handle(method, &event.params) {
            tracing::warn!("could not read {method}: {e}");
        }
        let new_console = self.console.take_new();
        if !new_console.is_empty() {
            sink.console(new_console);
        }
    }

    fn on_attached(&mut self, params: &Value) {
        let Some(child) = params["sessionId"].as_str() else {
            return;
        };
        let kind = params["targetInfo"]["type"]
            .as_str()
            .unwrap_or("")
            .to_string();
        self.sessions.insert(child.to_string());
        let conn = self.conn.clone();
        let child = child.to_string();
        let tx = self.done_tx.clone();
        self.pending += 1;
        tokio::spawn(async move {
            let s = Some(child.as_str());
            let is_frame = matches!(kind.as_str(), "iframe" | "page");
            if matches!(
                kind.as_str(),
                "iframe" | "page" | "worker" | "shared_worker" | "service_worker"
            ) {
                if let Err(e) = enable_domains(&conn, s, is_frame).await {
                    tracing::warn!("could not set up the {kind} target: {e}");
                }
                if is_frame {
                    let _ = conn
                        .execute_raw(s, "Runtime.addBinding", json!({ "name": BINDING }))
                        .await;
                    let _ = conn
                        .execute_raw(
                            s,
                            "Page.addScriptToEvaluateOnNewDocument",
                            json!({ "source": ACTION_RECORDER_JS }),
                        )
                        .await;
                }
            }
            let _ = conn
                .execute_raw(s, "Runtime.runIfWaitingForDebugger", json!({}))
                .await;
            let _ = tx.send(Done::ChildReady);
        });
    }

    /// Popups opened by our tab are their own page targets; attach to them too.
    fn on_target_created(&mut self, params: &Value) {
        let info = &params["targetInfo"];
        if info["type"] != "page" || info["openerId"].as_str() != Some(self.target_id.as_str()) {
            return;
        }
        if info["attached"].as_bool() == Some(true) {
            return;
        }
        let conn = self.conn.clone();
        let target = info["targetId"].as_str().unwrap_or_default().to_string();
        tokio::spawn(async move {
            let _ = conn
                .execute_raw(
                    None,
                    "Target.attachToTarget",
                    json!({ "targetId": target, "flatten": true }),
                )
                .await;
        });
    }

    fn spawn_fetch(&mut self, fetch: Fetch) {
        let conn = self.conn.clone();
        let tx = self.done_tx.clone();
        self.pending += 1;
        match fetch {
            Fetch::ResponseBody {
                request_id,
                session_id,
            } => {
                tokio::spawn(async move {
                    let result = conn
                        .execute_raw(
                            session_id.as_deref(),
                            "Network.getResponseBody",
                            json!({ "requestId": request_id }),
                        )
                        .await
                        .map(|v| Body {
                            text: v["body"].as_str().unwrap_or_default().to_string(),
                            base64_encoded: v["base64Encoded"].as_bool().unwrap_or(false),
                        })
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Done::Body(request_id, result));
                });
            }
            Fetch::RequestPostData {
                request_id,
                session_id,
            } => {
                tokio::spawn(async move {
                    let post = conn
                        .execute_raw(
                            session_id.as_deref(),
                            "Network.getRequestPostData",
                            json!({ "requestId": request_id }),
                        )
                        .await
                        .ok()
                        .and_then(|v| v["postData"].as_str().map(str::to_string));
                    let _ = tx.send(Done::PostData(request_id, post));
                });
            }
        }
    }

    fn effective_shot(&self, opts: &ScreenshotOptions) -> ScreenshotOptions {
        let mut opts = opts.clone();
        if self.config.level == CaptureLevel::Forensic && opts.selector.is_none() {
            opts.full_page = true;
        }
        opts
    }

    fn spawn_screenshot(&mut self, opts: ScreenshotOptions, reason: &'static str) {
        let conn = self.conn.clone();
        let tx = self.done_tx.clone();
        let session = self.page_session.clone();
        let url = self.current_url.clone();
        let opts = self.effective_shot(&opts);
        self.pending += 1;
        tokio::spawn(async move {
            let shot = screenshot::take(&conn, &session, &opts, reason, &url).await;
            let _ = tx.send(Done::Screenshot(shot));
        });
    }

    fn on_done(&mut self, done: Done, sink: &mut dyn CaptureSink) {
        self.pending = self.pending.saturating_sub(1);
        match done {
            Done::Body(id, Ok(body)) => self.network.set_body(&id, body),
            Done::Body(id, Err(e)) => self.network.set_body_error(&id, e),
            Done::PostData(id, post) => self.network.set_post_data(&id, post),
            Done::Screenshot(Ok(shot)) => {
                sink.screenshot(&shot);
                self.screenshots.push(shot);
            }
            Done::Screenshot(Err(e)) => tracing::warn!("screenshot failed: {e}"),
            Done::ChildReady => {}
        }
    }

    /// Hands completed entries and new raw events to the sink.
    fn flush(&mut self, sink: &mut dyn CaptureSink) {
        let done = self.network.take_completed();
        if !done.is_empty() {
            sink.entries(&done);
        }
        if let Some(raw) = &self.raw
            && raw.len() > self.raw_flushed
        {
            sink.raw_events(&raw[self.raw_flushed..]);
            self.raw_flushed = raw.len();
        }
    }

    fn progress(&self, started: Instant) -> Progress {
        Progress {
            entries: self.network.snapshot_len(),
            in_flight: self.network.in_flight(),
            console: self.console.len(),
            actions: self.actions.len(),
            screenshots: self.screenshots.len(),
            elapsed: started.elapsed(),
        }
    }

    async fn evaluate(&self, expression: &str) -> Option<Value> {
        let v = tokio::time::timeout(
            Duration::from_secs(2),
            self.conn.execute_raw(
                Some(&self.page_session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            ),
        )
        .await
        .ok()?
        .ok()?;
        if v.get("exceptionDetails").is_some() {
            return None;
        }
        Some(v["result"]["value"].clone())
    }

    async fn evaluate_truthy(&self, expression: &str) -> bool {
        match self.evaluate(&format!("!!({expression})")).await {
            Some(Value::Bool(b)) => b,
            _ => false,
        }
    }

    async fn evaluate_string(&self, expression: &str) -> Option<String> {
        self.evaluate(expression)
            .await?
            .as_str()
            .map(str::to_string)
    }
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
