//! Our low-level CDP client: one WebSocket, one event loop, typed commands.
//!
//! The loop reads raw frames. A frame with an `id` answers a command and is matched to the
//! waiting caller; a frame with a `method` is an event and goes, undecoded, to the single
//! event receiver in arrival order. Decoding happens at the consumer, so an event that does
//! not fit its type is logged there and kept raw; nothing a browser sends can stop the loop.
//!
//! Sessions are flattened (`Target.attachToTarget` / `Target.setAutoAttach` with
//! `flatten: true`): every target (pages, cross-origin iframes, workers) speaks over this one
//! socket, its frames tagged with a `sessionId`.

#![allow(clippy::unwrap_used)] // Mutex::lock: poisoned only after a panic elsewhere (the lead's rewrite may drop this).

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
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, (i64, String)>>>>>;

/// A live connection to a browser's DevTools WebSocket. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    next_id: AtomicU64,
    pending: Pending,
    outgoing: mpsc::UnboundedSender<String>,
    events: Mutex<Option<mpsc::UnboundedReceiver<CdpEvent>>>,
    command_timeout: Duration,
    io_task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.io_task.abort();
    }
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
        let pending: Pending = Arc::default();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel::<CdpEvent>();

        let loop_pending = pending.clone();
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
                        Some(Ok(Message::Text(text))) => dispatch(text.as_bytes(), &loop_pending, &ev_tx),
                        Some(Ok(Message::Binary(bytes))) => dispatch(&bytes, &loop_pending, &ev_tx),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::debug!("DevTools socket error: {e}");
                            break;
                        }
                        None => break,
                    },
                }
            }
            // Fail every command still waiting: the browser is gone.
            loop_pending.lock().unwrap().clear();
        });

        Ok(Connection {
            inner: Arc::new(Inner {
                next_id: AtomicU64::new(1),
                pending,
                outgoing: out_tx,
                events: Mutex::new(Some(ev_rx)),
                command_timeout: Duration::from_secs(30),
                io_task,
            }),
        })
    }

    /// Takes the event stream. There is one receiver, so that no event is ever dropped for a
    /// slow subscriber; the capture owns it.
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<CdpEvent>> {
        self.inner.events.lock().unwrap().take()
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
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().unwrap().insert(id, tx);
        if self.inner.outgoing.send(frame.to_string()).is_err() {
            self.inner.pending.lock().unwrap().remove(&id);
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
                self.inner.pending.lock().unwrap().remove(&id);
                Err(CdpError::Timeout {
                    method: method.to_string(),
                    secs: self.inner.command_timeout.as_secs(),
                })
            }
        }
    }

    /// Whether the socket is still open.
    pub fn is_open(&self) -> bool {
        !self.inner.io_task.is_finished()
    }
}

fn dispatch(bytes: &[u8], pending: &Pending, events: &mpsc::UnboundedSender<CdpEvent>) {
    let frame: Frame = match serde_json::from_slice(bytes) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("ignoring a DevTools frame that is not CDP JSON: {e}");
            return;
        }
    };
    if let Some(id) = frame.id {
        let waiter = pending.lock().unwrap().remove(&id);
        if let Some(waiter) = waiter {
            let answer = match frame.error {
                Some(err) => Err((err.code, err.message)),
                None => Ok(frame.result.unwrap_or(Value::Null)),
            };
            let _ = waiter.send(answer);
        }
    } else if let Some(method) = frame.method {
        let _ = events.send(CdpEvent {
            method,
            session_id: frame.session_id,
            params: frame.params,
        });
    }
}
