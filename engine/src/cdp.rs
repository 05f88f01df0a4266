//! Our low-level CDP client: one WebSocket, one I/O loop, typed commands, events routed to
//! their owners.
//!
//! The loop reads raw frames and hands each to the [`Router`]. A frame with an `id` answers
//! a command and goes to the waiting caller. A frame with a `method` is an event and goes,
//! undecoded, to the [`Route`] that owns its target: captures, replays and browser-tool
//! sessions each open a route and register their flattened sessions, browser contexts and
//! targets on it, so several of them share one browser without seeing each other's events.
//! Decoding happens at the consumer, so an event that does not fit its type is logged there
//! and kept raw; nothing a browser sends can stop the loop.
//!
//! Sessions are flattened (`Target.attachToTarget` / `Target.setAutoAttach` with
//! `flatten: true`): every target (pages, cross-origin iframes, workers) speaks over this one
//! socket, its frames tagged with a `sessionId`. A child attached under a routed session is
//! registered on its parent's route by the router itself, before any of the child's events
//! can arrive.
//!
//! Each route is a bounded channel. A full channel holds the loop back (back-pressure on the
//! socket) for at most [`BACK_PRESSURE_LIMIT`]; a consumer that stays stuck longer loses the
//! event, counted in [`RouterStats::dropped`], rather than stalling every other session of
//! the browser. Nothing grows without bound.

use chromiumoxide_types::Command;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long a full route may hold the I/O loop back before its event is dropped.
pub const BACK_PRESSURE_LIMIT: Duration = Duration::from_secs(2);

/// How many events a route buffers by default.
pub const DEFAULT_ROUTE_CAPACITY: usize = 4096;

/// How many unrouted (browser-level) events are kept for [`Connection::take_browser_events`].
const BROWSER_EVENTS_CAPACITY: usize = 1024;

/// An event as the browser sent it.
#[derive(Debug, Clone)]
pub struct CdpEvent {
    pub method: String,
    /// The flattened session the event belongs to; `None` for the browser target.
    pub session_id: Option<String>,
    pub params: Value,
}

impl CdpEvent {
    /// Decodes the params as `T`; on failure the caller keeps the raw event.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.params)
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CdpError {
    #[error("could not connect to the DevTools endpoint {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{method} failed: {message} (CDP error {code})")]
    Protocol {
        method: String,
        code: i64,
        message: String,
    },
    #[error("{method} got no answer within {secs} s")]
    Timeout { method: String, secs: u64 },
    #[error("the browser connection closed")]
    Closed,
    #[error("could not read the answer to {method}: {source}")]
    Decode {
        method: String,
        source: serde_json::Error,
    },
    #[error("the browser's answer to {method} has no {field}")]
    MissingField { method: String, field: &'static str },
}

/// Counters of what the router did, for tests, logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// Events handed to a route.
    pub routed: u64,
    /// Events no route owned (browser-level events, other tabs of an attached browser).
    pub unrouted: u64,
    /// Events dropped because their route stayed full past [`BACK_PRESSURE_LIMIT`].
    pub dropped: u64,
    /// Answers to commands nobody waits for any more (timed out, or never sent).
    pub unclaimed_replies: u64,
    /// Frames that are not CDP JSON, and events missing a field their routing needs.
    pub malformed: u64,
}

/// A live connection to a browser's DevTools WebSocket. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    next_id: AtomicU64,
    router: Arc<Router>,
    outgoing: mpsc::UnboundedSender<String>,
    command_timeout: Duration,
    io_task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.io_task.abort();
    }
}

impl Connection {
    /// Connects to a `ws://` DevTools URL (browser or page endpoint).
    pub async fn connect(ws_url: &str) -> Result<Connection, CdpError> {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            // Response bodies and screenshots arrive as single frames; Chromium itself caps
            // them at a few hundred MiB.
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let (ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true)
            .await
            .map_err(|e| CdpError::Connect {
                url: ws_url.to_string(),
                reason: e.to_string(),
            })?;
        let (mut sink, mut stream) = ws.split();
        let router = Arc::new(Router::new());
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();

        let loop_router = router.clone();
        let io_task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = out_rx.recv() => match msg {
                        Some(text) => {
                            if sink.send(Message::text(text)).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => loop_router.dispatch(text.as_bytes()).await,
                        Some(Ok(Message::Binary(bytes))) => loop_router.dispatch(&bytes).await,
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::debug!("DevTools socket error: {e}");
                            break;
                        }
                        None => break,
                    },
                }
            }
            // The browser is gone: fail every waiting command and end every route.
            loop_router.close();
        });

        Ok(Connection {
            inner: Arc::new(Inner {
                next_id: AtomicU64::new(1),
                router,
                outgoing: out_tx,
                command_timeout: Duration::from_secs(30),
                io_task,
            }),
        })
    }

    /// Opens a route: events of every session, context and target registered on it arrive
    /// on the returned receiver, in arrival order. Dropping the [`Route`] unregisters all.
    pub fn open_route(&self, capacity: usize) -> (Route, mpsc::Receiver<CdpEvent>) {
        self.inner.router.open_route(capacity)
    }

    /// Takes the stream of events that no route owns (browser-level `Target.*` events of
    /// other contexts, other tabs of an attached browser). Bounded: while nobody takes it,
    /// or its reader is slow, the oldest are not kept.
    pub fn take_browser_events(&self) -> Option<mpsc::Receiver<CdpEvent>> {
        self.inner.router.take_browser_events()
    }

    /// What the router has done so far.
    pub fn router_stats(&self) -> RouterStats {
        self.inner.router.stats()
    }

    /// Sends a typed command and decodes its typed response.
    pub async fn execute<C: Command>(
        &self,
        session_id: Option<&str>,
        cmd: C,
    ) -> Result<C::Response, CdpError> {
        let method = cmd.identifier().to_string();
        let params = serde_json::to_value(&cmd).map_err(|source| CdpError::Decode {
            method: method.clone(),
            source,
        })?;
        let value = self.execute_raw(session_id, &method, params).await?;
        C::response_from_value(value).map_err(|source| CdpError::Decode { method, source })
    }

    /// Sends a command by name with JSON params and returns the raw result.
    pub async fn execute_raw(
        &self,
        session_id: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut frame = serde_json::json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session_id {
            frame["sessionId"] = Value::String(session.to_string());
        }
        let rx = self.inner.router.expect_reply(id)?;
        if self.inner.outgoing.send(frame.to_string()).is_err() {
            self.inner.router.forget_reply(id);
            return Err(CdpError::Closed);
        }
        let answer = tokio::time::timeout(self.inner.command_timeout, rx).await;
        match answer {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err((code, message)))) => Err(CdpError::Protocol {
                method: method.to_string(),
                code,
                message,
            }),
            Ok(Err(_)) => Err(CdpError::Closed),
            Err(_) => {
                self.inner.router.forget_reply(id);
                Err(CdpError::Timeout {
                    method: method.to_string(),
                    secs: self.inner.command_timeout.as_secs(),
                })
            }
        }
    }

    /// Sends a command and reads one string field of its answer, which must be there.
    pub async fn execute_for_string(
        &self,
        session_id: Option<&str>,
        method: &str,
        params: Value,
        field: &'static str,
    ) -> Result<String, CdpError> {
        let answer = self.execute_raw(session_id, method, params).await?;
        answer[field]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(CdpError::MissingField {
                method: method.to_string(),
                field,
            })
    }

    /// Whether the socket is still open.
    pub fn is_open(&self) -> bool {
        !self.inner.io_task.is_finished()
    }
}

/// A registration of sessions, contexts and targets whose events one consumer receives.
/// Dropping it removes every registration; the consumer's receiver then ends.
pub struct Route {
    id: u64,
    router: Arc<Router>,
}

impl Route {
    /// Routes events of this flattened session here.
    pub fn add_session(&self, session_id: &str) {
        self.router
            .table()
            .by_session
            .insert(session_id.to_string(), self.id);
    }

    /// Routes browser-level `Target.*` events of targets in this browser context here.
    pub fn add_context(&self, context_id: &str) {
        self.router
            .table()
            .by_context
            .insert(context_id.to_string(), self.id);
    }

    /// Routes browser-level events about this target (`Target.targetCrashed`, ...) here.
    pub fn add_target(&self, target_id: &str) {
        self.router
            .table()
            .by_target
            .insert(target_id.to_string(), self.id);
    }

    /// The events this route lost to back-pressure.
    pub fn dropped(&self) -> u64 {
        self.router
            .table()
            .routes
            .get(&self.id)
            .map_or(0, |r| r.dropped)
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        let mut table = self.router.table();
        let id = self.id;
        table.routes.remove(&id);
        table.by_session.retain(|_, r| *r != id);
        table.by_context.retain(|_, r| *r != id);
        table.by_target.retain(|_, r| *r != id);
    }
}

type Reply = Result<Value, (i64, String)>;

/// Matches answers to commands and events to routes. Separate from the socket so that it can
/// be tested on hand-written frames.
pub struct Router {
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    table: Mutex<RouteTable>,
    browser_tx: Mutex<Option<mpsc::Sender<CdpEvent>>>,
    browser_events: Mutex<Option<mpsc::Receiver<CdpEvent>>>,
    next_route: AtomicU64,
    stats: Mutex<RouterStats>,
}

#[derive(Default)]
struct RouteTable {
    routes: HashMap<u64, RouteSlot>,
    by_session: HashMap<String, u64>,
    by_context: HashMap<String, u64>,
    by_target: HashMap<String, u64>,
    closed: bool,
}

struct RouteSlot {
    tx: mpsc::Sender<CdpEvent>,
    dropped: u64,
}

#[derive(Deserialize)]
struct Frame {
    id: Option<u64>,
    method: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    #[serde(default)]
    params: Value,
    result: Option<Value>,
    error: Option<FrameError>,
}

#[derive(Deserialize)]
struct FrameError {
    code: i64,
    message: String,
}

/// Where an event goes, and what it changes in the table once delivered.
struct Destination {
    route: Option<u64>,
    /// A session that ends with this event (detached, or its inspector went away).
    ends_session: Option<String>,
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    pub fn new() -> Router {
        let (tx, rx) = mpsc::channel(BROWSER_EVENTS_CAPACITY);
        Router {
            pending: Mutex::default(),
            table: Mutex::default(),
            browser_tx: Mutex::new(Some(tx)),
            browser_events: Mutex::new(Some(rx)),
            next_route: AtomicU64::new(1),
            stats: Mutex::default(),
        }
    }

    /// See [`Connection::take_browser_events`].
    pub fn take_browser_events(&self) -> Option<mpsc::Receiver<CdpEvent>> {
        self.browser_events.lock().unwrap().take()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, RouteTable> {
        self.table.lock().unwrap()
    }

    pub fn stats(&self) -> RouterStats {
        *self.stats.lock().unwrap()
    }

    fn count(&self, f: impl FnOnce(&mut RouterStats)) {
        f(&mut self.stats.lock().unwrap());
    }

    /// Opens a route (see [`Connection::open_route`]).
    pub fn open_route(self: &Arc<Self>, capacity: usize) -> (Route, mpsc::Receiver<CdpEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = self.next_route.fetch_add(1, Ordering::Relaxed);
        let mut table = self.table();
        // A closed connection gets a route whose receiver ends at once.
        if !table.closed {
            table.routes.insert(id, RouteSlot { tx, dropped: 0 });
        }
        drop(table);
        (
            Route {
                id,
                router: self.clone(),
            },
            rx,
        )
    }

    /// Registers a command id whose answer someone waits for.
    pub fn expect_reply(&self, id: u64) -> Result<oneshot::Receiver<Reply>, CdpError> {
        if self.table().closed {
            return Err(CdpError::Closed);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        Ok(rx)
    }

    fn forget_reply(&self, id: u64) {
        self.pending.lock().unwrap().remove(&id);
    }

    /// The connection is gone: every waiting command fails, every route's receiver ends.
    pub fn close(&self) {
        self.pending.lock().unwrap().clear();
        let mut table = self.table();
        table.closed = true;
        table.routes.clear();
        drop(table);
        self.browser_tx.lock().unwrap().take();
    }

    /// Handles one frame from the browser.
    pub async fn dispatch(&self, bytes: &[u8]) {
        let frame: Frame = match serde_json::from_slice(bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("ignoring a DevTools frame that is not CDP JSON: {e}");
                self.count(|s| s.malformed += 1);
                return;
            }
        };
        if let Some(id) = frame.id {
            let waiter = self.pending.lock().unwrap().remove(&id);
            match waiter {
                Some(waiter) => {
                    let answer = match frame.error {
                        Some(err) => Err((err.code, err.message)),
                        None => Ok(frame.result.unwrap_or(Value::Null)),
                    };
                    let _ = waiter.send(answer);
                }
                None => self.count(|s| s.unclaimed_replies += 1),
            }
            return;
        }
        let Some(method) = frame.method else {
            self.count(|s| s.malformed += 1);
            return;
        };
        let event = CdpEvent {
            method,
            session_id: frame.session_id,
            params: frame.params,
        };
        let destination = match self.destination(&event) {
            Ok(d) => d,
            Err(missing) => {
                tracing::warn!(
                    "dropping {} without {missing}: it cannot be routed",
                    event.method
                );
                self.count(|s| s.malformed += 1);
                return;
            }
        };
        match destination.route {
            Some(route) => self.deliver(route, event).await,
            None => self.deliver_unrouted(event),
        }
        if let Some(session) = destination.ends_session {
            self.table().by_session.remove(&session);
        }
    }

    /// Works out the owner of an event, registering child sessions on the way. `Err` names
    /// a field the event must have and does not.
    fn destination(&self, event: &CdpEvent) -> Result<Destination, &'static str> {
        let params = &event.params;
        let mut table = self.table();
        let mut ends_session = None;
        let route = match (&event.session_id, event.method.as_str()) {
            (Some(session), method) => {
                let route = table.by_session.get(session).copied();
                match method {
                    // A child of a routed session belongs to the same owner, from its first
                    // event on.
                    "Target.attachedToTarget" => {
                        let child = required(params, "sessionId")?;
                        let target = required(&params["targetInfo"], "targetId")?;
                        if let Some(route) = route {
                            table.by_session.insert(child.to_string(), route);
                            table.by_target.insert(target.to_string(), route);
                        }
                    }
                    "Target.detachedFromTarget" => {
                        ends_session = Some(required(params, "sessionId")?.to_string());
                    }
                    "Inspector.detached" => ends_session = Some(session.clone()),
                    _ => {}
                }
                route
            }
            (None, "Target.attachedToTarget") => {
                let session = required(params, "sessionId")?;
                let info = &params["targetInfo"];
                let target = required(info, "targetId")?;
                let route = table.by_target.get(target).copied().or_else(|| {
                    info["browserContextId"]
                        .as_str()
                        .and_then(|c| table.by_context.get(c).copied())
                });
                if let Some(route) = route {
                    table.by_session.insert(session.to_string(), route);
                    table.by_target.insert(target.to_string(), route);
                }
                route
            }
            (None, "Target.detachedFromTarget") => {
                let session = required(params, "sessionId")?;
                ends_session = Some(session.to_string());
                table.by_session.get(session).copied()
            }
            (None, "Target.targetCrashed" | "Target.targetDestroyed") => {
                let target = required(params, "targetId")?;
                table.by_target.get(target).copied()
            }
            (None, "Target.targetCreated" | "Target.targetInfoChanged") => {
                let info = &params["targetInfo"];
                let target = required(info, "targetId")?;
                table.by_target.get(target).copied().or_else(|| {
                    info["browserContextId"]
                        .as_str()
                        .and_then(|c| table.by_context.get(c).copied())
                })
            }
            (None, _) => None,
        };
        Ok(Destination {
            route,
            ends_session,
        })
    }

    async fn deliver(&self, route: u64, event: CdpEvent) {
        let Some(tx) = self.table().routes.get(&route).map(|r| r.tx.clone()) else {
            self.count(|s| s.unrouted += 1);
            return;
        };
        let event = match tx.try_send(event) {
            Ok(()) => {
                self.count(|s| s.routed += 1);
                return;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.count(|s| s.unrouted += 1);
                return;
            }
            Err(mpsc::error::TrySendError::Full(event)) => event,
        };
        // Back-pressure: hold the socket until the consumer catches up, within a bound.
        match tokio::time::timeout(BACK_PRESSURE_LIMIT, tx.send(event)).await {
            Ok(Ok(())) => self.count(|s| s.routed += 1),
            Ok(Err(_)) => self.count(|s| s.unrouted += 1),
            Err(_) => {
                tracing::warn!(
                    "a route stayed full for {BACK_PRESSURE_LIMIT:?}; dropping an event"
                );
                self.count(|s| s.dropped += 1);
                if let Some(slot) = self.table().routes.get_mut(&route) {
                    slot.dropped += 1;
                }
            }
        }
    }

    fn deliver_unrouted(&self, event: CdpEvent) {
        self.count(|s| s.unrouted += 1);
        if let Some(tx) = self.browser_tx.lock().unwrap().as_ref() {
            // Nobody has to read these; when the buffer is full they are not kept.
            let _ = tx.try_send(event);
        }
    }
}

fn required<'a>(params: &'a Value, field: &'static str) -> Result<&'a str, &'static str> {
    params[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(field)
}
