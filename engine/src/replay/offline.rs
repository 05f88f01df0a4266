//! Offline network replay in a browser: a recorded page loaded with every request answered
//! from the recording.
//!
//! [`replay_network`] takes a context from the [`BrowserPool`], opens a tab, turns on the
//! `Fetch` domain for it (and for every frame and worker attached under it) and loads the
//! recorded page. Each paused request goes to a [`RecordedNetwork`]: a match is fulfilled
//! with the recorded status, headers and body (`Fetch.fulfillRequest`; redirects as their 3xx
//! with `Location`, so the browser follows them and asks again), a recorded network failure
//! fails the same way, a CORS preflight the recording lacks is allowed, and anything else is
//! failed (`Fetch.failRequest`) or, with [`UnmatchedPolicy::PassThrough`], sent to the
//! network, and reported with its nearest recorded entry. The replay ends when the page has
//! loaded and no request was paused for [`ReplayNetworkConfig::quiet`] (and the optional
//! `wait_for` condition holds), or at the timeout.

use crate::capture::{PreparedTab, Step};
use crate::cdp::{CdpEvent, Connection, DEFAULT_ROUTE_CAPACITY};
use crate::error::EngineError;
use crate::pool::BrowserPool;
use crate::replay::network::{
    Answer, MatchConfig, NearMiss, RecordedNetwork, ReplayRequest, ReplayResponse, UnusedEntry,
};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};
use spool_model::har::Har;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;

/// What to do with a request the recording cannot answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UnmatchedPolicy {
    /// Fail it as if blocked (`net::ERR_BLOCKED_BY_CLIENT`): the replay stays offline.
    #[default]
    Fail,
    /// Send it to the network as usual.
    PassThrough,
}

/// How an offline replay runs.
#[derive(Debug, Clone)]
pub struct ReplayNetworkConfig {
    /// How requests are matched with recorded entries.
    pub matching: MatchConfig,
    pub unmatched: UnmatchedPolicy,
    /// The page to load; by default the recording's first document request.
    pub url: Option<String>,
    /// The whole replay's deadline.
    pub timeout: Duration,
    /// How long no request may be paused, after the load event, before the page counts as
    /// settled.
    pub quiet: Duration,
    /// A JavaScript condition that must also be true before the page counts as settled.
    pub wait_for: Option<String>,
    /// A JavaScript expression evaluated once the page settled; its value is in the report
    /// (what a test or a user checks in the DOM).
    pub evaluate: Option<String>,
}

impl Default for ReplayNetworkConfig {
    fn default() -> Self {
        ReplayNetworkConfig {
            matching: MatchConfig::default(),
            unmatched: UnmatchedPolicy::Fail,
            url: None,
            timeout: Duration::from_secs(30),
            quiet: Duration::from_millis(500),
            wait_for: None,
            evaluate: None,
        }
    }
}

/// A request the recording answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServedRequest {
    pub method: String,
    pub url: String,
    /// The HAR entry that answered; `None` for a CORS preflight Spool allowed itself.
    pub entry: Option<usize>,
    /// The status served; 0 when a recorded failure was replayed.
    pub status: u16,
    /// The recorded network error replayed (`net::ERR_CONNECTION_REFUSED`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A request the recording could not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnmatchedRequest {
    pub method: String,
    pub url: String,
    /// The nearest recorded entry and what differed; `None` when the recording is empty.
    pub near_miss: Option<NearMiss>,
    /// Whether it was sent to the network ([`UnmatchedPolicy::PassThrough`]) or failed.
    pub passed_through: bool,
}

/// What an offline replay did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkReplayReport {
    /// The page loaded.
    pub url: String,
    /// The load event fired and the page settled before the timeout.
    pub loaded: bool,
    /// The document's title when the replay ended.
    pub title: String,
    /// The value of [`ReplayNetworkConfig::evaluate`], if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluated: Option<Value>,
    /// Requests answered, in the order the browser made them.
    pub served: Vec<ServedRequest>,
    /// Requests nothing recorded matched.
    pub unmatched: Vec<UnmatchedRequest>,
    /// Recorded entries no request asked for.
    pub unused: Vec<UnusedEntry>,
    pub duration_ms: u64,
}

impl NetworkReplayReport {
    /// Whether the replay is clean: the page settled and every request was answered.
    pub fn is_complete(&self) -> bool {
        self.loaded && self.unmatched.is_empty()
    }
}

/// Loads the recorded page of `har` in a context of `pool` with every request answered from
/// the recording, and reports what was served, what went unmatched and what went unused.
/// The tab is closed and the context returned to the pool, also on error.
pub async fn replay_network(
    pool: &BrowserPool,
    har: &Har,
    config: &ReplayNetworkConfig,
) -> Result<NetworkReplayReport, EngineError> {
    if config.timeout.is_zero() {
        return Err(EngineError::invalid("timeout", "must be positive"));
    }
    let url = match &config.url {
        Some(url) => url.clone(),
        None => recorded_page_url(har).ok_or_else(|| {
            EngineError::invalid("session", "the recording has no request to replay")
        })?,
    };
    let started = Instant::now();
    let lease = tokio::time::timeout(config.timeout, pool.acquire())
        .await
        .map_err(|_| EngineError::Timeout {
            what: "waiting for a browser".into(),
            secs: config.timeout.as_secs_f64(),
            partial: None,
        })??;
    let conn = lease.connection().clone();
    let (route, mut events) = conn.open_route(DEFAULT_ROUTE_CAPACITY);
    route.add_context(lease.context_id());
    let tab = crate::capture::open_tab(&lease, &route).await?;
    let mut replay = Replay {
        conn: &conn,
        answers: Answers::new(har, config.matching.clone(), config.unmatched),
        config,
        page_session: &tab.session_id,
        prepared: tab.prepared.as_ref(),
    };
    let outcome = replay
        .run(&url, &mut events, started + config.timeout)
        .await;
    // The tab is not closed here: disposing the lease's context (on drop, in the background)
    // closes it, so the report does not wait for it.
    let (loaded, title, evaluated) = outcome?;
    Ok(NetworkReplayReport {
        url,
        loaded,
        title,
        evaluated,
        unused: replay.answers.network.unused(),
        served: replay.answers.served,
        unmatched: replay.answers.unmatched,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The URL of the recording's first document request, else of its first request.
pub fn recorded_page_url(har: &Har) -> Option<String> {
    let entries = &har.log.entries;
    entries
        .iter()
        .find(|e| e.custom_str("_resourceType") == Some("document"))
        .or_else(|| entries.first())
        .map(|e| e.request.url.clone())
}

struct Replay<'a> {
    conn: &'a Connection,
    answers: Answers,
    config: &'a ReplayNetworkConfig,
    page_session: &'a str,
    /// How the pool set the tab up for recording, which the replay turns off.
    prepared: Option<&'a PreparedTab>,
}

/// Whether the page loaded and settled, its title, and the evaluated expression.
type Settled = (bool, String, Option<Value>);

impl Replay<'_> {
    async fn run(
        &mut self,
        url: &str,
        events: &mut Receiver<CdpEvent>,
        deadline: Instant,
    ) -> Result<Settled, EngineError> {
        let s = Some(self.page_session);
        let conn = self.conn;
        // Every request of the tab pauses before it is sent; children (frames, workers)
        // wait for the debugger until their own Fetch is on.
        // Sent at once, answered in order: one round trip for all of them. A tab the pool
        // set up for recording has that turned off in the same round trip.
        let mut steps = self
            .prepared
            .map(crate::capture::recording_off_steps)
            .unwrap_or_default();
        steps.extend([
            Step::must("Page.enable", json!({})),
            Step::must("Runtime.enable", json!({})),
            crate::capture::fetch_step(),
            Step::must(
                "Target.setAutoAttach",
                json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
            ),
        ]);
        crate::capture::run_steps(conn, s, steps).await?;

        // The navigation's own request pauses too, so the answer to Page.navigate arrives
        // only after we fulfil it: navigate while the loop runs.
        let navigate = conn.execute_raw(s, "Page.navigate", json!({ "url": url }));
        tokio::pin!(navigate);
        let mut navigating = true;
        let mut loaded = false;
        let mut last_request = Instant::now();
        // When the wait_for condition was false, it is asked again this much later: often
        // enough that the wait adds little to a fast page, one cheap evaluation each time.
        let poll = Duration::from_millis(5);
        let mut next_check = Instant::now();
        let settled = loop {
            let quiet_at = (last_request + self.config.quiet).max(next_check);
            tokio::select! {
                answer = &mut navigate, if navigating => {
                    navigating = false;
                    let answer = answer?;
                    if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
                        // A failed navigation (an unmatched document) still loads an error
                        // page; the report says which request was not answered.
                        tracing::debug!("navigation to {url} failed: {error}");
                    }
                }
                event = events.recv() => {
                    let Some(event) = event else {
                        return Err(EngineError::NetworkCaptureFailed(
                            "the browser went away during the replay".into(),
                        ));
                    };
                    match event.method.as_str() {
                        "Fetch.requestPaused" => {
                            last_request = Instant::now();
                            self.on_paused(&event);
                        }
                        "Page.loadEventFired" if event.session_id.as_deref() == s => loaded = true,
                        "Target.attachedToTarget" => self.on_attached(&event.params),
                        "Inspector.targetCrashed" if event.session_id.as_deref() == s => {
                            return Err(EngineError::NetworkCaptureFailed(
                                "the page crashed during the replay".into(),
                            ));
                        }
                        _ => {}
                    }
                }
                _ = tokio::time::sleep_until(quiet_at), if loaded && !navigating => {
                    if self.condition_holds().await? {
                        break true;
                    }
                    next_check = Instant::now() + poll;
                }
                _ = tokio::time::sleep_until(deadline) => break false,
            }
        };
        let title = self
            .evaluate("document.title")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let evaluated = match &self.config.evaluate {
            Some(expression) => Some(self.evaluate(expression).await?),
            None => None,
        };
        Ok((settled, title, evaluated))
    }

    /// Decides the answer now, in event order (so repeats are served in recorded order),
    /// and sends it in the background: a page asks for its resources at once, and waiting
    /// for each reply before reading the next request would answer them one by one.
    fn on_paused(&mut self, event: &CdpEvent) {
        let reply = self.answers.decide(&event.params["request"]);
        spawn_reply(self.conn, event, reply);
    }

    /// A frame or worker attached under the tab: its requests pause too.
    fn on_attached(&self, params: &Value) {
        let Some(child) = params["sessionId"].as_str() else {
            return;
        };
        if child == self.page_session {
            return;
        }
        let conn = self.conn.clone();
        let child = child.to_string();
        tokio::spawn(async move {
            let s = Some(child.as_str());
            if let Err(e) = conn
                .execute_raw(
                    s,
                    "Fetch.enable",
                    json!({ "patterns": [{ "urlPattern": "*" }] }),
                )
                .await
            {
                tracing::debug!("could not intercept a child target's requests: {e}");
            }
            let _ = conn
                .execute_raw(
                    s,
                    "Target.setAutoAttach",
                    json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
                )
                .await;
            let _ = conn
                .execute_raw(s, "Runtime.runIfWaitingForDebugger", json!({}))
                .await;
        });
    }

    async fn condition_holds(&self) -> Result<bool, EngineError> {
        match &self.config.wait_for {
            None => Ok(true),
            Some(condition) => Ok(self
                .evaluate(&format!("Boolean({condition})"))
                .await?
                .as_bool()
                .unwrap_or(false)),
        }
    }

    async fn evaluate(&self, expression: &str) -> Result<Value, EngineError> {
        let answer = self
            .conn
            .execute_raw(
                Some(self.page_session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        Ok(answer["result"]["value"].clone())
    }
}

/// Answers the requests of a capture (an action replay) from a recording: set as
/// [`crate::CaptureConfig::answers`], the capture turns on the `Fetch` domain in its tab and
/// in every frame and worker under it, and answers each paused request as
/// [`replay_network`] does. Cloning shares the state, so the caller reads what was served
/// and what went unmatched after the capture.
#[derive(Clone)]
pub struct RecordedAnswers(Arc<Mutex<Answers>>);

impl RecordedAnswers {
    pub fn new(har: &Har, matching: MatchConfig, unmatched: UnmatchedPolicy) -> RecordedAnswers {
        RecordedAnswers(Arc::new(Mutex::new(Answers::new(har, matching, unmatched))))
    }

    /// Requests answered so far, in the order the browser made them.
    pub fn served(&self) -> Vec<ServedRequest> {
        self.lock().served.clone()
    }

    /// Requests nothing recorded matched so far.
    pub fn unmatched(&self) -> Vec<UnmatchedRequest> {
        self.lock().unmatched.clone()
    }

    /// Recorded entries no request asked for so far.
    pub fn unused(&self) -> Vec<UnusedEntry> {
        self.lock().network.unused()
    }

    /// The recorded action (its index) being replayed now: requests are answered preferring
    /// the entries it caused in the recording ([`RecordedNetwork::answer_during`]).
    pub fn set_action(&self, action: Option<usize>) {
        self.lock().action = action;
    }

    /// Answers one `Fetch.requestPaused` event: decided at once, in the order events come,
    /// so repeats are served in recorded order; the reply is sent in the background, so the
    /// capture's loop does not wait for the browser.
    pub(crate) fn answer(&self, conn: &Connection, event: &CdpEvent) {
        let reply = self.lock().decide(&event.params["request"]);
        spawn_reply(conn, event, reply);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Answers> {
        // A panic while the lock was held left plain data behind; it is still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for RecordedAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let answers = self.lock();
        f.debug_struct("RecordedAnswers")
            .field("served", &answers.served.len())
            .field("unmatched", &answers.unmatched.len())
            .finish()
    }
}

/// The recording that answers, and what it answered.
struct Answers {
    network: RecordedNetwork,
    policy: UnmatchedPolicy,
    /// The action being replayed, if any.
    action: Option<usize>,
    served: Vec<ServedRequest>,
    unmatched: Vec<UnmatchedRequest>,
}

/// What the browser is told about one paused request.
enum Reply {
    Fulfil(ReplayResponse),
    Fail(&'static str),
    Continue,
}

impl Answers {
    fn new(har: &Har, matching: MatchConfig, policy: UnmatchedPolicy) -> Answers {
        Answers {
            network: RecordedNetwork::new(har, matching),
            policy,
            action: None,
            served: Vec::new(),
            unmatched: Vec::new(),
        }
    }

    /// Decides the reply to the request of a `Fetch.requestPaused` event, and notes it.
    fn decide(&mut self, request: &Value) -> Reply {
        let request = paused_request(request);
        match self.network.answer_during(&request, self.action) {
            Answer::Recorded { entry, response } => {
                self.served.push(ServedRequest {
                    method: request.method,
                    url: request.url,
                    entry: Some(entry),
                    status: response.status,
                    error: None,
                });
                Reply::Fulfil(response)
            }
            Answer::Preflight { response } => {
                self.served.push(ServedRequest {
                    method: request.method,
                    url: request.url,
                    entry: None,
                    status: response.status,
                    error: None,
                });
                Reply::Fulfil(response)
            }
            Answer::Failed { entry, error } => {
                let reason = error_reason(&error);
                self.served.push(ServedRequest {
                    method: request.method,
                    url: request.url,
                    entry: Some(entry),
                    status: 0,
                    error: Some(error),
                });
                Reply::Fail(reason)
            }
            Answer::Unmatched { near_miss } => {
                let passed_through = self.policy == UnmatchedPolicy::PassThrough;
                tracing::debug!("unmatched {} {}", request.method, request.url);
                self.unmatched.push(UnmatchedRequest {
                    method: request.method,
                    url: request.url,
                    near_miss,
                    passed_through,
                });
                if passed_through {
                    Reply::Continue
                } else {
                    Reply::Fail("BlockedByClient")
                }
            }
        }
    }
}

/// Sends `reply` to the paused request of `event` in the background. A failure to send is
/// the browser going away, which the caller learns from its closed event stream.
fn spawn_reply(conn: &Connection, event: &CdpEvent, reply: Reply) {
    let conn = conn.clone();
    let session = event.session_id.clone();
    let request_id = event.params["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    tokio::spawn(async move {
        if let Err(e) = send_reply(&conn, session.as_deref(), &request_id, &reply).await {
            tracing::debug!("could not answer a paused request: {e}");
        }
    });
}

async fn send_reply(
    conn: &Connection,
    session: Option<&str>,
    request_id: &str,
    reply: &Reply,
) -> Result<(), EngineError> {
    match reply {
        Reply::Fulfil(response) => fulfil(conn, session, request_id, response).await,
        Reply::Fail(reason) => ignore_gone(
            conn.execute_raw(
                session,
                "Fetch.failRequest",
                json!({ "requestId": request_id, "errorReason": reason }),
            )
            .await,
        ),
        Reply::Continue => ignore_gone(
            conn.execute_raw(
                session,
                "Fetch.continueRequest",
                json!({ "requestId": request_id }),
            )
            .await,
        ),
    }
}

/// The request of a `Fetch.requestPaused` event.
fn paused_request(request: &Value) -> ReplayRequest {
    let headers = request["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    // Large bodies come only as `postDataEntries` (base64 chunks).
    let body = request["postData"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            let entries = request["postDataEntries"].as_array()?;
            let mut bytes = Vec::new();
            for entry in entries {
                let chunk = entry["bytes"].as_str().unwrap_or_default();
                bytes.extend(
                    base64::engine::general_purpose::STANDARD
                        .decode(chunk)
                        .unwrap_or_default(),
                );
            }
            Some(String::from_utf8_lossy(&bytes).into_owned())
        });
    let mut url = request["url"].as_str().unwrap_or_default().to_string();
    if let Some(fragment) = request["urlFragment"].as_str() {
        url.push_str(fragment);
    }
    ReplayRequest {
        method: request["method"].as_str().unwrap_or("GET").to_string(),
        url,
        headers,
        body,
    }
}

async fn fulfil(
    conn: &Connection,
    session: Option<&str>,
    request_id: &str,
    response: &ReplayResponse,
) -> Result<(), EngineError> {
    let headers: Vec<Value> = response
        .headers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let mut params = json!({
        "requestId": request_id,
        "responseCode": response.status,
        "responseHeaders": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(&response.body),
    });
    if !response.status_text.is_empty() {
        params["responsePhrase"] = json!(response.status_text);
    }
    ignore_gone(
        conn.execute_raw(session, "Fetch.fulfillRequest", params)
            .await,
    )
}

/// A request the page cancelled meanwhile (a navigation away, a closed frame) can no longer
/// be answered; that is not a failure of the replay.
fn ignore_gone(answer: Result<Value, crate::cdp::CdpError>) -> Result<(), EngineError> {
    match answer {
        Ok(_) | Err(crate::cdp::CdpError::Protocol { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The `Network.ErrorReason` that replays a recorded `net::ERR_*` error.
fn error_reason(error: &str) -> &'static str {
    match error.trim_start_matches("net::") {
        "ERR_CONNECTION_REFUSED" => "ConnectionRefused",
        "ERR_CONNECTION_RESET" => "ConnectionReset",
        "ERR_CONNECTION_CLOSED" => "ConnectionClosed",
        "ERR_CONNECTION_FAILED" => "ConnectionFailed",
        "ERR_NAME_NOT_RESOLVED" => "NameNotResolved",
        "ERR_INTERNET_DISCONNECTED" => "InternetDisconnected",
        "ERR_ADDRESS_UNREACHABLE" => "AddressUnreachable",
        "ERR_TIMED_OUT" => "TimedOut",
        "ERR_ABORTED" => "Aborted",
        "ERR_ACCESS_DENIED" => "AccessDenied",
        "ERR_BLOCKED_BY_CLIENT" => "BlockedByClient",
        "ERR_BLOCKED_BY_RESPONSE" => "BlockedByResponse",
        _ => "Failed",
    }
}
