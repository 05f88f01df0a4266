//! Live capture: drive one tab of a real Chromium and record it.
//!
//! Every capture takes an isolated browser context from a [`BrowserPool`], opens a tab in
//! it and routes that tab's events (and those of every target attached under it) to itself,
//! so captures share browsers without sharing cookies, storage or events.
//!
//! The order matters and follows the CDP facts in ARCHITECTURE.md: attach to the tab, enable
//! every domain and auto-attach (child targets wait for the debugger until they are set up
//! too), apply browser state, and only then navigate. The pool does the first two for its
//! spare tab between requests ([`PreparedTab`]), so a capture with the default viewport
//! and no state sends its navigation at once. Events are fed, in arrival order, to
//! the same recorders that read event logs; bodies are fetched right after
//! `loadingFinished`, at most [`MAX_BODY_FETCHES`] at a time.
//!
//! The loop checks the stop signal, the deadline and the stop rules before it reads more
//! events, so a page that floods console messages or WebSocket frames cannot starve them.
//! A capture ends when the stop signal fires, when the deadline passes, or (unless it is a
//! [`LiveCapture`]) when the page has loaded (or its document failed: an error page, or an
//! aborted navigation that leaves the previous document) and nothing was in flight for the
//! idle window (and the optional `wait_for` expression is true). A deadline that passes
//! before the page loaded is a [`EngineError::Timeout`]; a renderer that crashes or a
//! browser that dies is [`EngineError::CaptureAborted`] at once. Both carry what was
//! captured so far.

use crate::cdp::{CdpError, CdpEvent, Connection, DEFAULT_ROUTE_CAPACITY, Route};
use crate::console::ConsoleRecorder;
use crate::error::EngineError;
use crate::network::{Body, Fetch, NetworkRecorder, RecorderConfig, iso8601};
use crate::pool::{BrowserPool, ContextLease};
use crate::replay::offline::RecordedAnswers;
use crate::screenshot::{self, ScreenshotOptions};
use crate::state::{self, BrowserState};
use serde_json::{Value, json};
use spool_model::har::Har;
use spool_model::session::{
    Action, BrowserInfo, CaptureLevel, ConsoleEntry, ElementFingerprint, FrameHop, Screenshot,
    Viewport,
};
pub use spool_model::sink::{CaptureSink, NoSink, Progress};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};

/// Body and post-data fetches a capture runs at once; more wait their turn.
pub const MAX_BODY_FETCHES: usize = 16;

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// The page to open. A [`LiveCapture`] may leave it empty and navigate later.
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
    /// A JavaScript expression that must be truthy before an idle page ends the capture.
    pub wait_for: Option<String>,
    /// Console entries kept in memory for the returned [`Capture`]; the sink gets all of
    /// them. Bounds memory on pages that log without end.
    pub max_console_entries: usize,
    /// `Some` to answer every request from a recording instead of the network (an action
    /// replay with `--network offline`); the capture still records what the page asked for
    /// and got.
    pub answers: Option<RecordedAnswers>,
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
            wait_for: None,
            max_console_entries: 10_000,
            answers: None,
        }
    }

    /// Checks the config, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), EngineError> {
        validate_url(&self.url)?;
        self.validate_rest()
    }

    fn validate_rest(&self) -> Result<(), EngineError> {
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

/// Checks that `url` is an http(s) URL, naming the field `url` when it is not.
pub fn validate_url(url: &str) -> Result<(), EngineError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| EngineError::invalid("url", format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(EngineError::invalid(
            "url",
            format!("must be http:// or https://, got {url:?}"),
        ));
    }
    Ok(())
}

/// Why a capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    NetworkIdle,
    Timeout,
    Stopped,
    /// The tab was closed or the browser went away.
    BrowserClosed,
    /// The tab's renderer crashed.
    Crashed,
}

/// Everything a capture recorded.
#[derive(Debug, Clone)]
pub struct Capture {
    pub har: Har,
    /// The console entries kept in memory (at most `max_console_entries`; the sink got all).
    pub console: Vec<ConsoleEntry>,
    /// Console entries the sink got but that were not kept in memory.
    pub console_dropped: usize,
    pub screenshots: Vec<Screenshot>,
    pub actions: Vec<Action>,
    pub browser: BrowserInfo,
    pub level: CaptureLevel,
    pub stop_reason: StopReason,
    pub started_at: String,
    pub ended_at: String,
}

impl Capture {
    /// The values typed into the page (the action stream's `type` actions), as the
    /// analyzer's user inputs: what a person entered is an input, not a constant.
    pub fn typed_inputs(&self) -> Vec<spool_analyzer::UserInput> {
        self.actions
            .iter()
            .filter(|a| a.kind == "type")
            .filter_map(|a| {
                Some(spool_analyzer::UserInput {
                    name: a.target.clone().unwrap_or_else(|| "typed".into()),
                    value: a.value.clone()?,
                })
            })
            .collect()
    }
}

/// Tags each entry with the action that caused it, as the custom HAR field `_action` (the
/// action's index in the session): the last action before the request started. A `submit`
/// is not a cause of its own (it follows from the click or key before it); a request before
/// the first action (the page load) gets no tag.
pub fn tag_with_actions(entries: &mut [spool_model::har::Entry], actions: &[Action]) {
    if actions.is_empty() {
        return;
    }
    let times: Vec<(i64, usize)> = actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind != "submit")
        .filter_map(|(i, a)| {
            Some((
                a.timestamp
                    .parse::<jiff::Timestamp>()
                    .ok()?
                    .as_millisecond(),
                i,
            ))
        })
        .collect();
    for entry in entries {
        let Ok(started) = entry.started_date_time.parse::<jiff::Timestamp>() else {
            continue;
        };
        let started = started.as_millisecond();
        if let Some((_, index)) = times.iter().take_while(|(t, _)| *t <= started).last() {
            entry
                .custom
                .insert("_action".into(), serde_json::json!(index));
        }
    }
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

/// What a page is doing, as the capture loop sees it; [`PageHandle`] waits on it.
#[derive(Debug, Clone, Default)]
pub struct PageStatus {
    /// `Page.loadEventFired` of the main frame so far.
    pub loads: u64,
    /// `Page.domContentEventFired` of the main frame so far.
    pub dom_content_loads: u64,
    /// Requests in flight.
    pub in_flight: usize,
    /// When the network last did something.
    pub last_network_activity: Option<Instant>,
    /// The main frame's URL.
    pub url: String,
    /// The capture is over.
    pub ended: bool,
    pub progress: Progress,
}

/// Records the actions a person takes: installed in every document (same-origin iframes
/// included), it reports trusted clicks, double clicks, final input values, chosen options,
/// the keys that matter (Enter, Tab, Escape, arrows, and any key with Control, Alt or Meta
/// held, with its modifiers), submits, scrolls of the window or an element (250 ms after the
/// last scroll event, and only scrolls a person started with the wheel, touch, the keyboard
/// or the scrollbar, so a page's own or a tool's `scrollIntoView` is not an action) and, in
/// the top document, window resizes to a new size (250 ms after the last; not the ones
/// Spool's own screenshots beyond the viewport cause) through a CDP binding. Each
/// report carries the element's selector alternatives, best first (a chain through shadow
/// roots for an element inside one: the event's composed path names it, not the host the
/// event was retargeted to; an input's final value there too), a fingerprint replay checks
/// the element against, and the path of iframes from the top document. A password field's
/// value is never sent: the action names the field as a slot instead.
const ACTION_RECORDER_JS: &str = concat!(
    r#"(() => {
  if (window.__spoolActionsInstalled) return;
  window.__spoolActionsInstalled = true;
"#,
    include_str!("element_helpers.js"),
    r#"
  const quote = (v) => '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  // Selectors are unique within the element's own tree: its document or shadow root.
  const unique = (sel, root) => { try { return root.querySelectorAll(sel).length === 1; } catch (e) { return false; } };
  const cssPath = (el, root) => {
    const parts = [];
    let node = el;
    while (node && node.nodeType === 1 && node !== node.ownerDocument.documentElement) {
      if (node.id && unique('#' + CSS.escape(node.id), root)) { parts.unshift('#' + CSS.escape(node.id)); break; }
      const tag = node.tagName.toLowerCase();
      let index = 1;
      for (let s = node.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === node.tagName) index++;
      parts.unshift(tag + ':nth-of-type(' + index + ')');
      const sel = parts.join(' > ');
      if (unique(sel, root)) return sel;
      node = node.parentElement;
    }
    return parts.join(' > ');
  };
  const xpathOf = (el) => {
    const parts = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      let index = 1;
      for (let s = node.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === node.tagName) index++;
      parts.unshift(node.tagName.toLowerCase() + '[' + index + ']');
    }
    return '/' + parts.join('/');
  };
  // The CSS alternatives of `el` within its tree, best first.
  const cssOf = (el, root) => {
    const out = [];
    for (const attr of TEST_ATTRS) {
      const v = el.getAttribute(attr);
      if (v) { const sel = '[' + attr + '=' + quote(v) + ']'; if (unique(sel, root)) out.push(sel); }
    }
    if (el.id && unique('#' + CSS.escape(el.id), root)) out.push('#' + CSS.escape(el.id));
    if (el.name && typeof el.name === 'string') {
      const sel = el.tagName.toLowerCase() + '[name=' + quote(el.name) + ']';
      if (unique(sel, root)) out.push(sel);
    }
    const path = cssPath(el, root);
    if (path && !out.includes(path)) out.push(path);
    return out;
  };
  const selectorsOf = (el) => {
    const out = [];
    const role = roleOf(el);
    const name = nameOf(el);
    if (role && name) out.push('aria/' + name + '[role="' + role + '"]');
    const root = el.getRootNode();
    if (root.host) {
      // Inside a shadow root no document-level selector reaches the element: a chain of
      // the best CSS selector in each tree, from the document down, does.
      const parts = [cssOf(el, root)[0]];
      for (let r = root; r.host; r = r.host.getRootNode()) parts.unshift(cssOf(r.host, r.host.getRootNode())[0]);
      out.push(parts.join(' >>> '));
    } else {
      out.push(...cssOf(el, root));
      out.push('xpath/' + xpathOf(el));
    }
    const text = clean(el.textContent);
    if (text && !/^(INPUT|SELECT|TEXTAREA|FORM)$/.test(el.tagName)) out.push('text/' + text);
    return out;
  };
  // The iframes from the top document down to this one, or null when a parent is out of
  // reach (a cross-origin parent hides its `<iframe>` element).
  const framePath = () => {
    const hops = [];
    try {
      for (let w = window; w !== w.top; w = w.parent) {
        const owner = w.frameElement;
        if (!owner) return null;
        let index = 0;
        for (let i = 0; i < w.parent.frames.length; i++) if (w.parent.frames[i] === w) index = i;
        hops.unshift({ selectors: selectorsOf(owner), index });
      }
    } catch (e) { return null; }
    return hops;
  };
  const describe = (el) => ({ tag: el.tagName.toLowerCase(), role: roleOf(el), name: nameOf(el) });
  const sent = new WeakMap();
  const report = (fields) => {
    try {
      window.__spoolAction(JSON.stringify(Object.assign({
        url: location.href, time: Date.now(), frame: framePath(),
      }, fields)));
    } catch (e) {}
  };
  const send = (kind, el, value, extra) => {
    if (!el || el.nodeType !== 1) return;
    report(Object.assign({ kind, value, selectors: selectorsOf(el), fingerprint: describe(el) }, extra || {}));
  };
  // The element an event really happened on: inside an open shadow root, `e.target` is the
  // host the event was retargeted to; the composed path still starts at the element.
  const origin = (e) => {
    const path = e.composedPath ? e.composedPath() : [];
    return path.find((n) => n && n.nodeType === 1) || e.target;
  };
  const isPassword = (el) => el.tagName === 'INPUT' && (el.type || '').toLowerCase() === 'password';
  // A field's final value, once: `change` and a key that ends the input may both report it.
  const sendValue = (el) => {
    if (!el || !('value' in el) || el.tagName === 'BUTTON') return;
    const value = String(el.value);
    if (sent.get(el) === value) return;
    sent.set(el, value);
    if (el.tagName === 'SELECT') send('select', el, value);
    else if (isPassword(el)) send('type', el, null, { slot: el.name || el.id || 'password' });
    else send('type', el, value);
  };
  const editable = (el) => el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') && !/^(checkbox|radio|submit|button|reset|file)$/i.test(el.type || '');
  document.addEventListener('click', (e) => { if (e.isTrusted && e.detail <= 1) send('click', origin(e), null); }, true);
  document.addEventListener('dblclick', (e) => { if (e.isTrusted) send('dblclick', origin(e), null); }, true);
  document.addEventListener('change', (e) => { if (e.isTrusted || e.target.tagName === 'SELECT') sendValue(e.target); }, true);
  // `change` does not leave a shadow root, but `input` does: the first edit in a shadow
  // root puts a `change` listener on that root, in time for the `change` that follows.
  const watched = new WeakSet();
  document.addEventListener('input', (e) => {
    const root = origin(e).getRootNode();
    if (!e.isTrusted || !root.host || watched.has(root)) return;
    watched.add(root);
    root.addEventListener('change', (c) => { if (c.isTrusted || c.target.tagName === 'SELECT') sendValue(c.target); }, true);
  }, true);
  const NAMED_KEYS = ['Enter', 'Tab', 'Escape', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'];
  const MODIFIER_KEYS = ['Control', 'Alt', 'Meta', 'Shift', 'AltGraph', 'CapsLock'];
  const SCROLL_KEYS = ['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'PageUp', 'PageDown', 'Home', 'End', ' '];
  // When the person last did something that scrolls: only scrolls shortly after one are
  // actions.
  let scrollInput = 0;
  const scrolling = () => { scrollInput = Date.now(); };
  for (const type of ['wheel', 'touchmove']) {
    document.addEventListener(type, (e) => { if (e.isTrusted) scrolling(); }, { capture: true, passive: true });
  }
  // A press on a scrollbar (inside a scrollable element's box, outside its client box)
  // starts a drag that scrolls. Measured on the composed target: `offsetX` is relative to
  // the retargeted one.
  document.addEventListener('mousedown', (e) => {
    if (!e.isTrusted) return;
    const t = origin(e);
    const page = t === document.documentElement || t === document.body;
    let bar;
    if (page) {
      bar = e.clientX >= document.documentElement.clientWidth || e.clientY >= document.documentElement.clientHeight;
    } else {
      const box = t.getBoundingClientRect();
      const scrollable = t.scrollHeight > t.clientHeight || t.scrollWidth > t.clientWidth;
      bar = scrollable && t.clientWidth > 0 && (e.clientX - box.left - t.clientLeft >= t.clientWidth || e.clientY - box.top - t.clientTop >= t.clientHeight);
    }
    if (bar) scrolling();
  }, { capture: true, passive: true });
  document.addEventListener('keydown', (e) => {
    if (!e.isTrusted || MODIFIER_KEYS.includes(e.key)) return;
    const shortcut = e.ctrlKey || e.altKey || e.metaKey;
    if (!NAMED_KEYS.includes(e.key) && !shortcut) return;
    const target = origin(e);
    // The value typed so far comes first: Enter submits and Tab moves on before `change`.
    if (editable(target)) sendValue(target);
    const mods = [e.ctrlKey && 'Control', e.altKey && 'Alt', e.metaKey && 'Meta', e.shiftKey && 'Shift'].filter(Boolean);
    send('key', target, mods.concat([e.key]).join('+'));
  }, true);
  // A key scrolls only if the page let it: this listener runs after the page's own (it
  // listens last, on the window, as the event bubbles), when `defaultPrevented` is known.
  window.addEventListener('keydown', (e) => {
    if (e.isTrusted && !e.defaultPrevented && SCROLL_KEYS.includes(e.key)) scrolling();
  });
  document.addEventListener('submit', (e) => send('submit', e.target, null), true);
  // One report per scrolled thing, once it has been still for 250 ms.
  const scrollTimers = new Map();
  document.addEventListener('scroll', (e) => {
    if (!e.isTrusted || Date.now() - scrollInput > 1000) return;
    const el = e.target === document ? null : e.target;
    const key = el || document;
    clearTimeout(scrollTimers.get(key));
    scrollTimers.set(key, setTimeout(() => {
      scrollTimers.delete(key);
      if (el) send('scroll', el, Math.round(el.scrollLeft) + ',' + Math.round(el.scrollTop));
      else report({ kind: 'scroll', value: Math.round(scrollX) + ',' + Math.round(scrollY) });
    }, 250));
  }, true);
  if (window === window.top) {
    let resizeTimer = 0;
    let size = innerWidth + 'x' + innerHeight;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        // Spool's own screenshots beyond the viewport resize the page for a moment (the
        // screenshot code sets this): that is no action, and neither is a size unchanged.
        if (performance.now() < (window.__spoolQuietResizeUntil || 0)) return;
        const now = innerWidth + 'x' + innerHeight;
        if (now === size) return;
        size = now;
        report({ kind: 'viewport', value: now });
      }, 250);
    });
  }
})();"#
);

const BINDING: &str = "__spoolAction";

/// An action from the recorder's report. Its `target` is the first CSS alternative, which
/// is what sessions recorded before selector alternatives held.
fn recorded_action(report: &Value) -> Action {
    let text = |key: &str| report[key].as_str().map(str::to_string);
    let selectors: Vec<String> = report["selectors"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let target = selectors
        .iter()
        .find(|s| !s.starts_with("aria/") && !s.starts_with("xpath/") && !s.starts_with("text/"))
        .cloned()
        .or_else(|| text("target"));
    let fingerprint = report["fingerprint"]["tag"]
        .as_str()
        .map(|tag| ElementFingerprint {
            tag: tag.to_string(),
            role: report["fingerprint"]["role"].as_str().map(str::to_string),
            name: report["fingerprint"]["name"].as_str().map(str::to_string),
        });
    let frame = report["frame"]
        .as_array()
        .map(|hops| {
            hops.iter()
                .map(|hop| FrameHop {
                    selectors: hop["selectors"]
                        .as_array()
                        .map(|all| {
                            all.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    index: hop["index"]
                        .as_u64()
                        .and_then(|i| usize::try_from(i).ok())
                        .unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    Action {
        kind: report["kind"].as_str().unwrap_or("unknown").to_string(),
        target,
        value: text("value"),
        // When the event happened in the page, not when its report was handled: a request
        // the action started must not look older than the action.
        timestamp: iso8601(
            report["time"]
                .as_f64()
                .map_or_else(now_epoch, |ms| ms / 1000.0),
        ),
        selectors,
        fingerprint,
        slot: text("slot"),
        url: text("url"),
        frame,
    }
}

/// How long the page keeps checking a `wait_for` expression before it answers false (the
/// capture then checks its stop rules again and asks anew).
const WAIT_FOR_WINDOW_MS: u64 = 250;

enum Done {
    Body(String, Result<Body, String>),
    PostData(String, Option<String>),
    Screenshot(Result<Screenshot, EngineError>),
    /// The stop rule's expression: the page's title if it was true, `None` if it was false
    /// or the page did not answer.
    WaitFor(Option<String>),
    ChildReady,
    /// The first navigation was refused: the tab is gone (closed while it waited in the
    /// pool, or its session detached).
    TabGone(String),
}

/// Runs a capture to its end in a context from `pool`. See the module docs for the stop
/// rules.
pub async fn capture(
    pool: &BrowserPool,
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
    stop: Option<StopSignal>,
) -> Result<Capture, EngineError> {
    config.validate()?;
    let lease = pool.acquire().await?;
    let hooks = Hooks {
        stop: stop.unwrap_or_default(),
        ..Hooks::default()
    };
    let result = run(&lease, config, sink, hooks).await;
    // The context (and the tab in it) is disposed in the background: the capture is over.
    drop(lease);
    result
}

/// How a caller steers a running capture and sees into it.
#[derive(Default)]
struct Hooks {
    stop: StopSignal,
    /// Told when the tab is set up and the first navigation was sent.
    ready: Option<oneshot::Sender<PageHandle>>,
    status: Option<watch::Sender<PageStatus>>,
    /// A live capture ends only on stop or deadline, never on idle.
    live: bool,
}

/// A capture driven by its caller (browser tools, record-session): it records the tab until
/// [`LiveCapture::stop`] or its deadline, while the caller acts on the page through
/// [`LiveCapture::page`].
pub struct LiveCapture {
    page: PageHandle,
    stop: StopSignal,
    status: watch::Receiver<PageStatus>,
    task: tokio::task::JoinHandle<Result<Capture, EngineError>>,
}

impl LiveCapture {
    /// Takes a context from `pool`, opens a tab, starts recording and, when `config.url` is
    /// not empty, navigates there. Returns once the tab is ready for commands.
    pub async fn start(
        pool: &BrowserPool,
        config: CaptureConfig,
        sink: Box<dyn CaptureSink>,
    ) -> Result<LiveCapture, EngineError> {
        if !config.url.is_empty() {
            validate_url(&config.url)?;
        }
        config.validate_rest()?;
        let lease = pool.acquire().await?;
        let stop = StopSignal::new();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (status_tx, status_rx) = watch::channel(PageStatus::default());
        let hooks = Hooks {
            stop: stop.clone(),
            ready: Some(ready_tx),
            status: Some(status_tx),
            live: true,
        };
        let task = tokio::spawn(async move {
            let mut sink = sink;
            let result = run(&lease, &config, sink.as_mut(), hooks).await;
            drop(lease);
            result
        });
        match ready_rx.await {
            Ok(page) => Ok(LiveCapture {
                page,
                stop,
                status: status_rx,
                task,
            }),
            // Setup failed: the task holds the reason.
            Err(_) => Err(match task.await {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => EngineError::NetworkCaptureFailed(
                    "the capture ended before its tab was ready".into(),
                ),
                Err(e) => EngineError::NetworkCaptureFailed(format!("the capture failed: {e}")),
            }),
        }
    }

    /// The tab being recorded.
    pub fn page(&self) -> &PageHandle {
        &self.page
    }

    /// What the capture has recorded so far.
    pub fn progress(&self) -> Progress {
        self.status.borrow().progress
    }

    /// Whether the capture has ended on its own (deadline, crash, browser gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Ends the recording and returns it.
    pub async fn stop(self) -> Result<Capture, EngineError> {
        self.stop.stop();
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(EngineError::NetworkCaptureFailed(format!(
                "the capture task failed: {e}"
            ))),
        }
    }
}

/// When a navigation counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntil {
    #[default]
    Load,
    #[serde(rename = "domcontentloaded")]
    DomContentLoaded,
    #[serde(rename = "networkidle")]
    NetworkIdle,
}

/// A tab being recorded, to send commands to. Cheap to clone.
#[derive(Clone)]
pub struct PageHandle {
    conn: Connection,
    session_id: String,
    target_id: String,
    status: watch::Receiver<PageStatus>,
}

impl PageHandle {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The page's state as the capture sees it.
    pub fn status(&self) -> PageStatus {
        self.status.borrow().clone()
    }

    /// Sends a raw CDP command to the tab.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, EngineError> {
        Ok(self
            .conn
            .execute_raw(Some(&self.session_id), method, params)
            .await?)
    }

    /// Evaluates `expression` in the page and returns its value; an exception thrown by
    /// the script is an `InvalidParams` error naming `script`.
    pub async fn evaluate(&self, expression: &str) -> Result<Value, EngineError> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(exception) = answer.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or(exception["text"].as_str())
                .unwrap_or("the script threw");
            return Err(EngineError::invalid(
                "script",
                format!("the script threw: {text}"),
            ));
        }
        Ok(answer["result"]["value"].clone())
    }

    /// The centre of the element `selector` matches, scrolled into view, waiting up to
    /// `timeout` for it to be there and visible (a navigation in between is waited out).
    pub async fn element_center(
        &self,
        selector: &str,
        timeout: Duration,
    ) -> Result<(f64, f64), EngineError> {
        let quoted = serde_json::to_string(selector)
            .map_err(|e| EngineError::invalid("selector", e.to_string()))?;
        let expr = format!(
            "(() => {{ const e = document.querySelector({quoted}); if (!e) return null; \
             e.scrollIntoView({{block: 'center', inline: 'center'}}); const r = e.getBoundingClientRect(); \
             if (r.width === 0 && r.height === 0) return null; \
             return {{x: r.left + r.width / 2, y: r.top + r.height / 2}}; }})()"
        );
        let deadline = Instant::now() + timeout;
        loop {
            match self.evaluate(&expr).await {
                Ok(v) => {
                    if let (Some(x), Some(y)) = (v["x"].as_f64(), v["y"].as_f64()) {
                        return Ok((x, y));
                    }
                }
                // A bad selector throws: no wait makes it match.
                Err(e @ EngineError::InvalidParams { .. }) => {
                    return Err(EngineError::invalid("selector", e.to_string()));
                }
                // The document is being replaced: that is waiting too.
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(EngineError::invalid(
                    "selector",
                    format!("{selector:?} matches no visible element"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the centre of the element `selector` matches with real mouse input (moved,
    /// pressed, released), waiting up to `timeout` for the element.
    pub async fn click(&self, selector: &str, timeout: Duration) -> Result<(), EngineError> {
        let (x, y) = self.element_center(selector, timeout).await?;
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await?;
        }
        Ok(())
    }

    /// Types `text` into the focused element as one input event (`Input.insertText`).
    pub async fn insert_text(&self, text: &str) -> Result<(), EngineError> {
        self.call("Input.insertText", json!({ "text": text }))
            .await
            .map(|_| ())
    }

    /// Presses and releases one key with real key events: `key` and `code` as DOM
    /// `KeyboardEvent` names them, `key_code` the Windows virtual key code, and `text` what
    /// the key types, if anything (a key that types sends `keyDown`, one that does not
    /// `rawKeyDown`, as a real keyboard does).
    pub async fn press_key(
        &self,
        key: &str,
        code: &str,
        key_code: u32,
        text: Option<&str>,
    ) -> Result<(), EngineError> {
        self.press_key_with_modifiers(key, code, key_code, text, 0)
            .await
    }

    /// [`PageHandle::press_key`] with modifiers held: `modifiers` is CDP's bitmask (Alt 1,
    /// Control 2, Meta 4, Shift 8), sent with both events so the page sees `ctrlKey` and the
    /// rest set.
    pub async fn press_key_with_modifiers(
        &self,
        key: &str,
        code: &str,
        key_code: u32,
        text: Option<&str>,
        modifiers: u32,
    ) -> Result<(), EngineError> {
        let mut down = json!({
            "type": if text.is_some() { "keyDown" } else { "rawKeyDown" },
            "key": key, "code": code, "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
            "modifiers": modifiers,
        });
        if let Some(t) = text {
            down["text"] = json!(t);
            down["unmodifiedText"] = json!(t);
        }
        self.call("Input.dispatchKeyEvent", down).await?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code, "modifiers": modifiers }),
        )
        .await?;
        Ok(())
    }

    /// Navigates and waits until `until`, at most `timeout`.
    pub async fn navigate(
        &self,
        url: &str,
        until: WaitUntil,
        timeout: Duration,
    ) -> Result<(), EngineError> {
        validate_url(url)?;
        let before = self.status();
        let answer = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = answer["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(EngineError::NetworkCaptureFailed(format!(
                "navigating to {url} failed: {error}"
            )));
        }
        // A same-document navigation fires no load event.
        if answer["loaderId"].is_null() {
            return Ok(());
        }
        self.wait_until(until, &before, timeout, url).await
    }

    /// Waits until the page has loaded after `before` and, for [`WaitUntil::NetworkIdle`],
    /// nothing was in flight for 500 ms.
    pub async fn wait_until(
        &self,
        until: WaitUntil,
        before: &PageStatus,
        timeout: Duration,
        what: &str,
    ) -> Result<(), EngineError> {
        let mut status = self.status.clone();
        let idle = Duration::from_millis(500);
        let wait = async {
            loop {
                let done = {
                    let now = status.borrow_and_update();
                    if now.ended {
                        return Err(EngineError::NetworkCaptureFailed(
                            "the capture ended while waiting for the page".into(),
                        ));
                    }
                    match until {
                        WaitUntil::Load => now.loads > before.loads,
                        WaitUntil::DomContentLoaded => {
                            now.dom_content_loads > before.dom_content_loads
                                || now.loads > before.loads
                        }
                        WaitUntil::NetworkIdle => {
                            now.loads > before.loads
                                && now.in_flight == 0
                                && now
                                    .last_network_activity
                                    .is_none_or(|t| t.elapsed() >= idle)
                        }
                    }
                };
                if done {
                    return Ok(());
                }
                // Network idleness changes with time, not only with events.
                let _ = tokio::time::timeout(Duration::from_millis(100), status.changed()).await;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| EngineError::Timeout {
                what: format!("waiting for {what}"),
                secs: timeout.as_secs_f64(),
                partial: None,
            })?
    }

    /// Takes a screenshot of the tab now.
    pub async fn screenshot(&self, opts: &ScreenshotOptions) -> Result<Screenshot, EngineError> {
        let url = self.status().url;
        screenshot::take(&self.conn, &self.session_id, opts, "tool", &url).await
    }
}

struct Session<'a> {
    conn: &'a Connection,
    config: &'a CaptureConfig,
    route: Route,
    page_session: String,
    target_id: String,
    network: NetworkRecorder,
    console: ConsoleRecorder,
    actions: Vec<Action>,
    screenshots: Vec<Screenshot>,
    /// Raw events not yet handed to the sink (level 4): at most one tick's worth.
    raw: Option<Vec<u8>>,
    done_tx: mpsc::UnboundedSender<Done>,
    pending: usize,
    fetch_permits: Arc<Semaphore>,
    last_activity: Instant,
    status: PageStatus,
    crashed: bool,
    closed: bool,
}

async fn run(
    lease: &ContextLease,
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
    hooks: Hooks,
) -> Result<Capture, EngineError> {
    let conn = lease.connection();
    let started = Instant::now();
    let deadline = started + config.timeout;
    let started_at = iso8601(now_epoch());
    let (route, mut events) = conn.open_route(DEFAULT_ROUTE_CAPACITY);
    route.add_context(lease.context_id());

    let OpenTab {
        target_id,
        session_id: page_session,
        prepared,
    } = open_tab(lease, &route).await?;
    let close_tab = || async {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            conn.execute_raw(None, "Target.closeTarget", json!({ "targetId": target_id })),
        )
        .await;
    };

    let setup = async {
        let s = Some(page_session.as_str());
        // Apply state before the Network domain is on, so the placeholder pages are not
        // part of the recording.
        if !config.state.is_empty() {
            if prepared.is_some() {
                // Set up again below, after the state's placeholder pages.
                conn.execute_raw(s, "Network.disable", json!({})).await?;
            }
            conn.execute_raw(s, "Page.enable", json!({})).await?;
            let origin_url = if config.url.is_empty() {
                "http://127.0.0.1/"
            } else {
                config.url.as_str()
            };
            state::apply(conn, &page_session, &mut events, &config.state, origin_url).await?;
        }
        let (width, height) = match &config.screenshots {
            Some(s) => (s.width, s.height),
            None => (config.viewport.width, config.viewport.height),
        };
        let ua = config.user_agent.clone().or_else(|| {
            config
                .screenshots
                .as_ref()
                .and_then(|s| s.user_agent.clone())
        });
        // A tab the pool set up needs only what differs from that set-up; for a capture with
        // the default viewport and no state, nothing: its navigation goes at once.
        let intercept = config.answers.is_some();
        let mut commands = Vec::new();
        if prepared
            .as_ref()
            .is_none_or(|p| p.viewport != Viewport { width, height })
        {
            commands.push(emulation_step(width, height));
        }
        if let Some(ua) = &ua {
            commands.push(Step::must(
                "Emulation.setUserAgentOverride",
                json!({ "userAgent": ua }),
            ));
        }
        if prepared.is_none() || !config.state.is_empty() {
            commands.extend(domain_steps(true, intercept));
        } else if intercept {
            commands.push(fetch_step());
        }
        if prepared.is_none() {
            set_up_recording(conn, &page_session, commands).await?;
        } else if !commands.is_empty() {
            run_steps(conn, s, commands).await?;
        }
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
    let mut console = ConsoleRecorder::new(config.level);
    console.set_memory_limit(config.max_console_entries);
    let mut session = Session {
        conn,
        config,
        route,
        page_session: page_session.clone(),
        target_id: target_id.clone(),
        network,
        console,
        actions: Vec::new(),
        screenshots: Vec::new(),
        raw: (config.level == CaptureLevel::Forensic).then(Vec::new),
        done_tx,
        pending: 0,
        fetch_permits: Arc::new(Semaphore::new(MAX_BODY_FETCHES)),
        last_activity: Instant::now(),
        status: PageStatus {
            url: config.url.clone(),
            ..PageStatus::default()
        },
        crashed: false,
        closed: false,
    };

    // Navigate without waiting: events flow meanwhile, and a navigation that hangs must not
    // stop the loop from noticing the deadline.
    let navigation = (!config.url.is_empty()).then(|| {
        session.actions.push(Action {
            kind: "navigate".into(),
            value: Some(config.url.clone()),
            timestamp: iso8601(now_epoch()),
            url: Some(config.url.clone()),
            ..Action::default()
        });
        sink.actions(&session.actions);
        let nav_conn = conn.clone();
        let nav_session = page_session.clone();
        let nav_url = config.url.clone();
        let tx = session.done_tx.clone();
        tokio::spawn(async move {
            let sent = nav_conn
                .execute_raw(
                    Some(&nav_session),
                    "Page.navigate",
                    json!({ "url": nav_url }),
                )
                .await;
            // A navigation that fails loads an error page and says so in its answer, and a
            // slow server only delays the answer (the deadline is the capture's to keep); a
            // refused command or a closed connection means there is no tab to record.
            if let Err(e @ (CdpError::Protocol { .. } | CdpError::Closed)) = sent {
                let _ = tx.send(Done::TabGone(e.to_string()));
            }
        })
    });
    let status_tx = hooks.status;
    if let Some(ready) = hooks.ready {
        let status = match &status_tx {
            Some(tx) => tx.subscribe(),
            None => watch::channel(PageStatus::default()).1,
        };
        let _ = ready.send(PageHandle {
            conn: conn.clone(),
            session_id: page_session.clone(),
            target_id: target_id.clone(),
            status,
        });
    }

    let stop_notify = hooks.stop;
    // Checks for the stop rules run often enough to resolve the idle window.
    let tick_every = (config.idle / 5).clamp(Duration::from_millis(10), Duration::from_millis(100));
    let mut tick = tokio::time::interval(tick_every);
    let mut last_progress = Instant::now();
    let mut wait_for_ok = config.wait_for.is_none();
    let mut wait_for_asked = false;
    // The page's title when it last said it was done: a capture that ends on that answer
    // needs no further round trip for it.
    let mut done_title: Option<String> = None;
    let deadline_sleep = tokio::time::sleep_until(deadline.into());
    tokio::pin!(deadline_sleep);
    let reason = loop {
        // Biased: the stop signal, the deadline and the stop rules come before more events,
        // so no flood of events can keep the capture from ending on time.
        tokio::select! {
            biased;
            _ = stop_notify.0.notified() => break StopReason::Stopped,
            _ = &mut deadline_sleep => break StopReason::Timeout,
            _ = tick.tick() => {
                session.flush(sink);
                if last_progress.elapsed() > Duration::from_millis(200) {
                    let progress = session.progress(started);
                    sink.progress(&progress);
                    session.status.progress = progress;
                    last_progress = Instant::now();
                }
                session.publish(&status_tx);
                if hooks.live {
                    continue;
                }
                let settled = session.settled(config.idle);
                // Bodies still being fetched do not hold up asking the page, only ending.
                let quiet = settled && session.pending == 0;
                if settled && !wait_for_ok && !wait_for_asked {
                    // Asked off the loop: a page busy with script may take its time to answer.
                    wait_for_asked = true;
                    session.spawn_wait_for(config.wait_for.as_deref().unwrap_or("true"));
                }
                if quiet && wait_for_ok {
                    break StopReason::NetworkIdle;
                }
            },
            done = done_rx.recv() => if let Some(done) = done {
                if let Done::TabGone(why) = &done {
                    tracing::warn!("the capture's tab is gone: {why}");
                    break StopReason::BrowserClosed;
                }
                if let Done::WaitFor(answer) = &done {
                    let ok = answer.is_some();
                    wait_for_asked = false;
                    wait_for_ok = ok;
                    done_title.clone_from(answer);
                    if !ok {
                        // The page is still working in ways the network does not show.
                        session.last_activity = Instant::now() - config.idle / 2;
                    }
                }
                session.on_done(done, sink);
                if session.pending == 0 {
                    // The last body is in: check the stop rules now rather than at the next
                    // tick, so a finished page does not wait out the interval.
                    tick.reset_immediately();
                }
            },
            event = events.recv() => match event {
                Some(event) => {
                    session.on_event(event, sink);
                    if session.crashed {
                        break StopReason::Crashed;
                    }
                    if session.closed {
                        break StopReason::BrowserClosed;
                    }
                    // The event that settles the page (its last response, its load) has the
                    // stop rules checked now rather than at the next tick, when they would
                    // act: ask the page, or end.
                    if !hooks.live
                        && !wait_for_asked
                        && (!wait_for_ok || session.pending == 0)
                        && session.settled(config.idle)
                    {
                        tick.reset_immediately();
                    }
                }
                None => break StopReason::BrowserClosed,
            },
        }
    };
    if let Some(navigation) = navigation {
        navigation.abort();
    }
    let aborted = matches!(reason, StopReason::Crashed | StopReason::BrowserClosed);

    // Let fetches already asked for finish, within a bound; after a deadline only briefly,
    // so that a timeout is reported when it happens; after a crash not at all.
    let page_loaded = session.network.page_loaded();
    let timed_out = reason == StopReason::Timeout;
    let grace = if timed_out {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(5)
    };
    let drain_until = Instant::now() + grace;
    while !aborted && session.pending > 0 && Instant::now() < drain_until {
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
    // After a deadline only the title is asked for, briefly: the capture is due.
    if !aborted && page_loaded {
        if let Some(opts) = config.screenshots.as_ref().filter(|_| !timed_out) {
            let url = session.status.url.clone();
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
        let patience = if timed_out {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(2)
        };
        let title = match done_title.filter(|_| reason == StopReason::NetworkIdle) {
            Some(title) => Some(title),
            None => session.evaluate_string("document.title", patience).await,
        };
        if let Some(title) = title {
            session.network.set_page_title(&title);
        }
    }
    let user_agent = match config.user_agent.clone() {
        Some(ua) => ua,
        None => lease.browser_version().user_agent.clone(),
    };
    session.flush(sink);
    session.status.ended = true;
    session.publish(&status_tx);

    let (width, height) = match &config.screenshots {
        Some(s) => (s.width, s.height),
        None => (config.viewport.width, config.viewport.height),
    };
    let mut rest = session.network.take_remaining();
    if !rest.is_empty() {
        tag_with_actions(&mut rest, &session.actions);
        sink.entries(&rest);
    }
    let dropped_events = session.route.dropped();
    if dropped_events > 0 {
        tracing::warn!("{dropped_events} events were lost: the capture could not keep up");
    }
    let Session {
        network,
        console,
        actions,
        screenshots,
        ..
    } = session;
    let (pages, mut entries) = network.finish();
    tag_with_actions(&mut entries, &actions);
    let product = &lease.browser_version().product;
    let mut har = Har::new_spool();
    har.log.browser = Some(spool_model::har::Creator {
        name: product.split('/').next().unwrap_or("Chromium").to_string(),
        version: product.split('/').nth(1).unwrap_or("").to_string(),
        ..Default::default()
    });
    har.log.pages = pages;
    har.log.entries = entries;
    let console_dropped = console.dropped();
    let capture = Capture {
        har,
        console: console.into_entries(),
        console_dropped,
        screenshots,
        actions,
        browser: BrowserInfo {
            user_agent,
            product: product.clone(),
            viewport: Viewport { width, height },
        },
        level: config.level,
        stop_reason: reason,
        started_at,
        ended_at: iso8601(now_epoch()),
    };
    match reason {
        StopReason::Crashed | StopReason::BrowserClosed => Err(EngineError::CaptureAborted {
            reason: if reason == StopReason::Crashed {
                "the page's renderer crashed".into()
            } else {
                "the tab or the browser went away".into()
            },
            partial: Some(Box::new(capture)),
        }),
        StopReason::Timeout if !page_loaded && !hooks.live => Err(EngineError::Timeout {
            what: format!("loading {}", config.url),
            secs: config.timeout.as_secs_f64(),
            partial: Some(Box::new(capture)),
        }),
        _ => Ok(capture),
    }
}

/// A tab the pool set up to be recorded ahead of time ([`crate::SpareTab::Recording`]): the
/// capture's own set-up, done between requests, for the default viewport and no state.
#[derive(Debug, Clone)]
pub struct PreparedTab {
    /// The CDP session attached to the tab, with the recording domains on.
    pub session_id: String,
    /// The viewport the tab emulates.
    pub viewport: Viewport,
    /// The identifier of the action recorder's script, to take it off again.
    recorder_script: String,
}

/// Attaches to the blank tab `target` and sets it up as a capture with the default viewport
/// sets up its tab: the recording domains, auto-attach, the action recorder, and the
/// browser's target discovery. Run by the pool for its spare tab. A set-up that fails or
/// takes longer than `patience` is undone (the session detached): half set up, the tab
/// would record along with whoever attaches next, and hold its children for a debugger.
pub(crate) async fn prepare_tab(
    conn: &Connection,
    target: &str,
    patience: Duration,
) -> Result<PreparedTab, EngineError> {
    let attach = conn.execute_for_string(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target, "flatten": true }),
        "sessionId",
    );
    let session = tokio::time::timeout(patience, attach).await.map_err(|_| {
        EngineError::NetworkCaptureFailed("attaching to the spare tab timed out".into())
    })??;
    let viewport = Viewport::default();
    let mut steps = vec![emulation_step(viewport.width, viewport.height)];
    steps.extend(domain_steps(true, false));
    let set_up = async {
        Ok::<_, EngineError>(PreparedTab {
            session_id: session.clone(),
            viewport,
            recorder_script: set_up_recording(conn, &session, steps).await?,
        })
    };
    let prepared = tokio::time::timeout(patience, set_up)
        .await
        .unwrap_or_else(|_| {
            Err(EngineError::NetworkCaptureFailed(
                "setting the spare tab up timed out".into(),
            ))
        });
    if prepared.is_err() {
        let _ = conn
            .execute_raw(
                None,
                "Target.detachFromTarget",
                json!({ "sessionId": session }),
            )
            .await;
    }
    prepared
}

/// Sends a tab's set-up `steps` together with what recording adds to them: the action
/// recorder's binding and script, and the browser's target discovery (popups of the tab are
/// announced as new targets of its context). One round trip for all of it. Returns the
/// recorder script's identifier, to take it off again.
async fn set_up_recording(
    conn: &Connection,
    session: &str,
    mut steps: Vec<Step>,
) -> Result<String, EngineError> {
    let s = Some(session);
    steps.push(Step::must("Runtime.addBinding", json!({ "name": BINDING })));
    let script = conn.execute_for_string(
        s,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": ACTION_RECORDER_JS }),
        "identifier",
    );
    let discover = conn.execute_raw(
        None,
        "Target.setDiscoverTargets",
        json!({ "discover": true }),
    );
    let (steps, script, discover) = tokio::join!(run_steps(conn, s, steps), script, discover);
    steps?;
    discover?;
    Ok(script?)
}

/// What turns a prepared tab's recording off, for a caller that only wants the page: the
/// Network and Log domains, the action recorder, and the viewport the pool emulated (the
/// page renders as in a tab nobody set up).
pub(crate) fn recording_off_steps(prepared: &PreparedTab) -> Vec<Step> {
    vec![
        Step::must("Network.disable", json!({})),
        Step::may("Emulation.clearDeviceMetricsOverride", json!({})),
        Step::may("Log.disable", json!({})),
        Step::must(
            "Page.removeScriptToEvaluateOnNewDocument",
            json!({ "identifier": prepared.recorder_script }),
        ),
        Step::may("Runtime.removeBinding", json!({ "name": BINDING })),
    ]
}

/// The tab a capture records: its target, its CDP session, and how the pool set it up.
pub(crate) struct OpenTab {
    pub(crate) target_id: String,
    pub(crate) session_id: String,
    pub(crate) prepared: Option<PreparedTab>,
}

/// Opens the capture's tab and attaches to it: the blank tab a warm pool opened ahead of
/// time (already attached when the pool set it up for recording) when it still answers,
/// else a new one (which waits for its renderer to start).
pub(crate) async fn open_tab(lease: &ContextLease, route: &Route) -> Result<OpenTab, EngineError> {
    let conn = lease.connection();
    if let (Some(ready), Some(prepared)) = (lease.ready_page(), lease.prepared_tab()) {
        // Nothing to ask: the pool attached it and set it up, between requests.
        route.add_target(ready);
        route.add_session(&prepared.session_id);
        return Ok(OpenTab {
            target_id: ready.to_string(),
            session_id: prepared.session_id.clone(),
            prepared: Some(prepared.clone()),
        });
    }
    let unprepared = |(target_id, session_id)| OpenTab {
        target_id,
        session_id,
        prepared: None,
    };
    let attach = |target: String| async move {
        route.add_target(&target);
        let session = conn
            .execute_for_string(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
                "sessionId",
            )
            .await?;
        route.add_session(&session);
        Ok::<_, EngineError>((target, session))
    };
    if let Some(ready) = lease.ready_page() {
        let tried = async {
            let (target, session) = attach(ready.to_string()).await?;
            conn.execute_raw(Some(&session), "Page.enable", json!({}))
                .await?;
            Ok::<_, EngineError>((target, session))
        };
        match tokio::time::timeout(Duration::from_secs(2), tried).await {
            Ok(Ok(tab)) => return Ok(unprepared(tab)),
            // Its renderer may have died while it waited (a crash, a kill): use a new tab.
            _ => {
                tracing::debug!("the pool's ready tab did not answer; opening another");
                let _ = conn
                    .execute_raw(None, "Target.closeTarget", json!({ "targetId": ready }))
                    .await;
            }
        }
    }
    let target = lease.context().create_page("about:blank").await?;
    attach(target).await.map(unprepared)
}

/// The viewport a capture's tab emulates.
fn emulation_step(width: u32, height: u32) -> Step {
    Step::must(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
    )
}

/// Enables the domains a capture listens to on one target, and auto-attach for its children.
async fn enable_domains(
    conn: &Connection,
    session: Option<&str>,
    page: bool,
    intercept: bool,
) -> Result<(), EngineError> {
    run_steps(conn, session, domain_steps(page, intercept)).await
}

/// One setup command, and whether the capture fails without it.
pub(crate) struct Step {
    method: &'static str,
    params: Value,
    required: bool,
}

impl Step {
    pub(crate) fn must(method: &'static str, params: Value) -> Step {
        Step {
            method,
            params,
            required: true,
        }
    }

    pub(crate) fn may(method: &'static str, params: Value) -> Step {
        Step {
            method,
            params,
            required: false,
        }
    }
}

/// The domains a capture listens to on one target, and auto-attach for its children; with
/// `intercept`, every request of the target pauses (`Fetch`) to be answered from a recording.
fn domain_steps(page: bool, intercept: bool) -> Vec<Step> {
    let mut steps = vec![Step::must(
        "Network.enable",
        json!({ "maxTotalBufferSize": 256 << 20, "maxResourceBufferSize": 64 << 20, "maxPostDataSize": 1 << 20 }),
    )];
    if intercept {
        steps.push(fetch_step());
    }
    if page {
        steps.push(Step::must("Page.enable", json!({})));
    }
    steps.push(Step::must("Runtime.enable", json!({})));
    // Not every target type has a Log domain (workers do, service workers may not).
    steps.push(Step::may("Log.enable", json!({})));
    steps.push(Step::may(
        "Target.setAutoAttach",
        json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
    ));
    steps
}

/// Every request of a target pauses (`Fetch`), to be answered from a recording.
pub(crate) fn fetch_step() -> Step {
    Step::must(
        "Fetch.enable",
        json!({ "patterns": [{ "urlPattern": "*" }] }),
    )
}

/// Sends setup commands to one target all at once and waits for every answer: the browser
/// handles a session's commands in the order they were sent, so this keeps their order and
/// costs one round trip instead of one per command.
pub(crate) async fn run_steps(
    conn: &Connection,
    session: Option<&str>,
    steps: Vec<Step>,
) -> Result<(), EngineError> {
    let sent = steps.into_iter().map(|step| async move {
        let answer = conn.execute_raw(session, step.method, step.params).await;
        match answer {
            Err(e) if step.required => Err(EngineError::from(e)),
            _ => Ok(()),
        }
    });
    futures_util::future::try_join_all(sent).await?;
    Ok(())
}

impl Session<'_> {
    /// Loaded, nothing in flight, and no activity for `idle`: the page has gone quiet.
    fn settled(&self, idle: Duration) -> bool {
        // Cheapest first: this runs after every event once the page has loaded, and
        // counting what is in flight walks every request seen.
        self.last_activity.elapsed() >= idle
            && self.network.page_loaded()
            && self.network.in_flight() == 0
    }

    fn on_event(&mut self, event: CdpEvent, sink: &mut dyn CaptureSink) {
        if let Some(raw) = &mut self.raw {
            let mut line = json!({ "method": event.method, "params": event.params });
            if let Some(s) = &event.session_id {
                line["sessionId"] = json!(s);
            }
            serde_json::to_writer(&mut *raw, &line).ok();
            raw.push(b'\n');
        }
        // The router hands us only our tab, the targets attached under it and browser-level
        // events about our context.
        let method = event.method.as_str();
        let session_id = event.session_id.as_deref();
        let on_page = session_id == Some(self.page_session.as_str());
        if method.starts_with("Network.") {
            self.last_activity = Instant::now();
            self.status.last_network_activity = Some(self.last_activity);
        }
        match method {
            "Inspector.targetCrashed" if on_page => self.crashed = true,
            "Target.targetCrashed" if event.params["targetId"] == self.target_id.as_str() => {
                self.crashed = true
            }
            "Inspector.detached" if on_page => self.closed = true,
            "Target.detachedFromTarget"
                if session_id.is_none()
                    && event.params["sessionId"] == self.page_session.as_str() =>
            {
                self.closed = true
            }
            "Target.targetDestroyed" if event.params["targetId"] == self.target_id.as_str() => {
                self.closed = true
            }
            "Page.domContentEventFired" if on_page => self.status.dom_content_loads += 1,
            "Page.loadEventFired" if on_page => {
                self.status.loads += 1;
                if let Some(opts) = &self.config.screenshots {
                    self.spawn_screenshot(opts.clone(), "navigation");
                }
            }
            "Target.attachedToTarget" => self.on_attached(&event.params),
            "Target.targetCreated" => self.on_target_created(&event.params),
            "Fetch.requestPaused" => {
                if let Some(answers) = &self.config.answers {
                    answers.answer(self.conn, &event);
                }
            }
            "Runtime.bindingCalled" if event.params["name"] == BINDING => {
                if let Some(payload) = event.params["payload"].as_str()
                    && let Ok(v) = serde_json::from_str::<Value>(payload)
                {
                    let action = recorded_action(&v);
                    // A person acting on the page is activity, network or not: a recording
                    // ends on quiet only when neither the page nor the person does anything.
                    self.last_activity = Instant::now();
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
                    self.status.url = url.to_string();
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
            sink.console(&new_console);
        }
    }

    fn on_attached(&mut self, params: &Value) {
        let Some(child) = params["sessionId"].as_str() else {
            return;
        };
        // Our own tab's attach is reported too; it is set up already.
        if child == self.page_session {
            return;
        }
        let kind = params["targetInfo"]["type"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let conn = self.conn.clone();
        let child = child.to_string();
        let tx = self.done_tx.clone();
        let intercept = self.config.answers.is_some();
        self.pending += 1;
        tokio::spawn(async move {
            let s = Some(child.as_str());
            let is_frame = matches!(kind.as_str(), "iframe" | "page");
            if matches!(
                kind.as_str(),
                "iframe" | "page" | "worker" | "shared_worker" | "service_worker"
            ) {
                if let Err(e) = enable_domains(&conn, s, is_frame, intercept).await {
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
        let permits = self.fetch_permits.clone();
        self.pending += 1;
        match fetch {
            Fetch::ResponseBody {
                request_id,
                session_id,
            } => {
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
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
                    let _permit = permits.acquire_owned().await;
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
        let url = self.status.url.clone();
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
            Done::ChildReady | Done::WaitFor(_) | Done::TabGone(_) => {}
        }
    }

    /// Hands completed entries and new raw events to the sink.
    fn flush(&mut self, sink: &mut dyn CaptureSink) {
        let mut done = self.network.take_completed();
        if !done.is_empty() {
            tag_with_actions(&mut done, &self.actions);
            sink.entries(&done);
        }
        if let Some(raw) = &mut self.raw
            && !raw.is_empty()
        {
            sink.raw_events(raw);
            raw.clear();
        }
    }

    /// Tells whoever watches the page (a [`PageHandle`]) what it is doing.
    fn publish(&mut self, tx: &Option<watch::Sender<PageStatus>>) {
        if let Some(tx) = tx {
            self.status.in_flight = self.network.in_flight();
            tx.send_replace(self.status.clone());
        }
    }

    fn spawn_wait_for(&mut self, expression: &str) {
        let conn = self.conn.clone();
        let session = self.page_session.clone();
        let tx = self.done_tx.clone();
        // The page checks the expression itself for a while and answers as soon as it
        // holds: at once after each change to the DOM (a title set, a result shown), and
        // every few milliseconds for anything else. One round trip, and no polling interval
        // between the page being done and the capture knowing it.
        // The expression is a function made at the script's top level, so the names it
        // uses are the page's, never the checker's own.
        let expression = format!(
            "((expression) => new Promise((answer) => {{\n\
               const until = performance.now() + {WAIT_FOR_WINDOW_MS};\n\
               let done = false, timer = 0, observer = null;\n\
               const check = () => {{\n\
                 if (done) return;\n\
                 let ok = false;\n\
                 try {{ ok = !!expression(); }} catch (e) {{}}\n\
                 if (ok || performance.now() >= until) {{\n\
                   done = true;\n\
                   clearTimeout(timer);\n\
                   if (observer) observer.disconnect();\n\
                   answer([ok, document.title]);\n\
                 }} else {{\n\
                   clearTimeout(timer);\n\
                   timer = setTimeout(check, 4);\n\
                 }}\n\
               }};\n\
               check();\n\
               if (!done) {{\n\
                 observer = new MutationObserver(check);\n\
                 observer.observe(document, {{ subtree: true, childList: true, characterData: true, attributes: true }});\n\
               }}\n\
             }}))(() => ({expression}\n))"
        );
        self.pending += 1;
        tokio::spawn(async move {
            let answer = tokio::time::timeout(
                Duration::from_secs(2),
                conn.execute_raw(
                    Some(&session),
                    "Runtime.evaluate",
                    json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
                ),
            )
            .await;
            let title = match answer {
                Ok(Ok(v)) if v["result"]["value"][0] == Value::Bool(true) => Some(
                    v["result"]["value"][1]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
                _ => None,
            };
            let _ = tx.send(Done::WaitFor(title));
        });
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

    async fn evaluate(&self, expression: &str, patience: Duration) -> Option<Value> {
        let v = tokio::time::timeout(
            patience,
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

    async fn evaluate_string(&self, expression: &str, patience: Duration) -> Option<String> {
        self.evaluate(expression, patience)
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
