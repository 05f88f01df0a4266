//! Live events: what a session records, as it records it, to whoever watches.
//!
//! Every recording the server runs (`capture-and-analyze`, `record-session`, the browser
//! tools' live sessions) publishes into an [`EventHub`] topic named by its session id:
//! `status` (RECORDING when it starts, how it ended when it ends), `action`, `network`
//! (one per completed HAR entry: method, URL, status, timing, the action that caused it),
//! `console` and `screenshot` events, in the order the recording saw them. Clients read a
//! topic as Server-Sent Events (`GET /api/v1/sessions/{id}/events`) or over the WebSocket at
//! `/ws` (`{"type": "subscribe", "topic": "browser.events", "sessionId": …}`, answered by
//! `{"type": "browser.event", "sessionId": …, "event": {…}}` messages).
//!
//! Publishing never waits: a topic is a bounded `broadcast` channel, and a subscriber that
//! falls more than [`TOPIC_CAPACITY`] events behind is dropped (told so in a last
//! `dropped` event) rather than slowing the recording.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt as _, Stream, StreamExt as _};
use serde_json::{Value, json};
use spool_model::har::Entry;
use spool_model::session::{Action, ConsoleEntry, Screenshot};
use spool_model::sink::CaptureSink;
use spool_store::{SessionStatus, Uuid};
use tokio::sync::broadcast;

use super::error::ApiError;
use super::state::AppState;

/// Events a subscriber may fall behind by before it is dropped.
pub const TOPIC_CAPACITY: usize = 1024;

/// The topics of the recordings running now, by session id.
#[derive(Default)]
pub struct EventHub {
    topics: Mutex<HashMap<Uuid, broadcast::Sender<Value>>>,
}

impl EventHub {
    /// Opens the topic of a recording that starts now, and says so on it.
    pub fn publisher(&self, id: Uuid) -> EventPublisher {
        let (tx, _) = broadcast::channel(TOPIC_CAPACITY);
        if let Ok(mut topics) = self.topics.lock() {
            topics.insert(id, tx.clone());
        }
        let publisher = EventPublisher { id, tx };
        publisher.publish(json!({ "kind": "status", "status": "RECORDING" }));
        publisher
    }

    /// Says how the recording ended and closes its topic: subscribers get that last event,
    /// then their stream ends.
    pub fn finish(&self, id: Uuid, status: SessionStatus) {
        let tx = self.topics.lock().ok().and_then(|mut t| t.remove(&id));
        if let Some(tx) = tx {
            let _ = tx.send(event(
                id,
                json!({ "kind": "status", "status": status.as_str() }),
            ));
        }
    }

    fn subscribe(&self, id: Uuid) -> Option<broadcast::Receiver<Value>> {
        self.topics
            .lock()
            .ok()
            .and_then(|t| t.get(&id).map(broadcast::Sender::subscribe))
    }
}

/// A recording's side of its topic; also a [`CaptureSink`], to be teed with the store's.
#[derive(Clone)]
pub struct EventPublisher {
    id: Uuid,
    tx: broadcast::Sender<Value>,
}

impl EventPublisher {
    fn publish(&self, body: Value) {
        // No subscriber is no error: events are for whoever watches now.
        let _ = self.tx.send(event(self.id, body));
    }
}

fn event(id: Uuid, body: Value) -> Value {
    json!({
        "type": "browser.event",
        "sessionId": id,
        "timestamp": jiff::Timestamp::now().to_string(),
        "event": body,
    })
}

impl CaptureSink for EventPublisher {
    fn entries(&mut self, entries: &[Entry]) {
        for e in entries {
            self.publish(json!({
                "kind": "network",
                "method": e.request.method,
                "url": e.request.url,
                "status": e.response.status,
                "startedDateTime": e.started_date_time,
                "time": e.time,
                "action": e.custom.get("_action"),
            }));
        }
    }
    fn console(&mut self, entries: &[ConsoleEntry]) {
        for c in entries {
            self.publish(json!({ "kind": "console", "level": c.level, "text": c.text, "timestamp": c.timestamp }));
        }
    }
    fn actions(&mut self, actions: &[Action]) {
        for a in actions {
            let mut body = serde_json::to_value(a).unwrap_or(Value::Null);
            if let Some(obj) = body.as_object_mut() {
                obj.insert("kind".into(), json!("action"));
                obj.insert("action".into(), json!(a.kind));
            }
            self.publish(body);
        }
    }
    fn screenshot(&mut self, shot: &Screenshot) {
        self.publish(json!({ "kind": "screenshot", "reason": shot.reason, "url": shot.url, "timestamp": shot.timestamp }));
    }
}

/// A subscription's stream: the topic's events until it closes, or one `dropped` event for
/// a subscriber that fell too far behind.
fn follow(id: Uuid, rx: broadcast::Receiver<Value>) -> impl Stream<Item = Value> {
    futures_util::stream::unfold(Some(rx), move |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Ok(v) => Some((v, Some(rx))),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some((
                event(
                    id,
                    json!({ "kind": "dropped", "reason": format!("this subscriber fell {missed} events behind and was dropped") }),
                ),
                None,
            )),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// The events of session `id` from now on; for a session that is not recording, its one
/// final `status` event; for an unknown one, SessionNotFound.
fn open_stream(
    state: &AppState,
    id: Uuid,
) -> Result<futures_util::stream::BoxStream<'static, Value>, ApiError> {
    if let Some(rx) = state.events.subscribe(id) {
        return Ok(follow(id, rx).boxed());
    }
    let meta = state.store.metadata(id)?;
    let last = event(
        id,
        json!({ "kind": "status", "status": meta.status.as_str() }),
    );
    Ok(futures_util::stream::iter([last]).boxed())
}

/// `GET /api/v1/sessions/{id}/events`: Server-Sent Events (`event: browser.event`).
pub async fn sse(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = super::tools::parse_session_id(&id)?;
    let stream = open_stream(&state, id)?
        .map(|v| Ok(Event::default().event("browser.event").data(v.to_string())));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /ws`: the WebSocket. Each `subscribe` message adds a session's events to the
/// socket; a bad message gets an `error` message and the socket stays open.
pub async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .on_upgrade(move |socket| serve_socket(state, socket))
        .into_response()
}

async fn serve_socket(state: AppState, socket: WebSocket) {
    let (mut writer, mut reader) = socket.split();
    // Every subscription forwards into this channel; a full one drops that subscription.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(TOPIC_CAPACITY);
    let forward = tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if writer
                .send(Message::Text(v.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut subscriptions = Vec::new();
    while let Some(Ok(message)) = reader.next().await {
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        match subscription(&state, &text) {
            Ok((id, mut stream)) => {
                let tx = tx.clone();
                subscriptions.push(tokio::spawn(async move {
                    let _ = tx
                        .send(json!({ "type": "subscribed", "sessionId": id }))
                        .await;
                    while let Some(v) = stream.next().await {
                        if tx.try_send(v).is_err() {
                            let _ = tx
                                .send(event(id, json!({ "kind": "dropped", "reason": "this socket fell too far behind and its subscription was dropped" })))
                                .await;
                            break;
                        }
                    }
                }));
            }
            Err(e) => {
                let _ = tx
                    .send(json!({ "type": "error", "error": { "code": e.code.number(), "message": e.message } }))
                    .await;
            }
        }
    }
    for s in subscriptions {
        s.abort();
    }
    drop(tx);
    let _ = forward.await;
}

fn subscription(
    state: &AppState,
    text: &str,
) -> Result<(Uuid, futures_util::stream::BoxStream<'static, Value>), ApiError> {
    let message: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::invalid("message", format!("not JSON: {e}")))?;
    if message["type"] != "subscribe" {
        return Err(ApiError::invalid(
            "type",
            "the only message is {\"type\": \"subscribe\", \"topic\": \"browser.events\", \"sessionId\": ...}",
        ));
    }
    if !message["topic"].is_null() && message["topic"] != "browser.events" {
        return Err(ApiError::invalid(
            "topic",
            "the only topic is browser.events",
        ));
    }
    let id = message["sessionId"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("sessionId", "a subscribe message names a sessionId"))?;
    let id = super::tools::parse_session_id(id)?;
    Ok((id, open_stream(state, id)?))
}
