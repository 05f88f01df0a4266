//! Network events → HAR 1.2 entries and pages.
//!
//! [`NetworkRecorder`] is a synchronous state machine fed one CDP event at a time, by the
//! live capture and by [`crate::event_log`] alike, so both produce the same HAR from the same
//! events. It does no I/O: when it wants a response body it says so ([`Fetch`]) and the live
//! capture calls `Network.getResponseBody` and hands the answer back with
//! [`NetworkRecorder::set_body`].
//!
//! Pairing rules (the protocol's quirks, see docs/capture.md):
//! - one HAR entry per hop: a `requestWillBeSent` carrying `redirectResponse` for a known
//!   request id closes the previous hop (its response is the redirect) and opens a new one;
//! - `*ExtraInfo` events carry the headers and cookies that went over the wire and may come
//!   before or after their partner: they are buffered per request id and applied in order,
//!   the n-th extra info to the n-th hop;
//! - `loadingFinished`/`loadingFailed` without a request, or a request that never finishes,
//!   are kept as well as they can be, never dropped silently;
//! - wall-clock times come only with `requestWillBeSent`; every other event carries the
//!   monotonic clock, converted with the offset learnt from the latest `wallTime`.

use crate::events::*;
use base64::Engine as _;
use serde_json::{Value, json};
use spool_model::har::{
    self, Content, Cookie, Entry, Header, Page, PageTimings, Param, PostData, QueryParam, Request,
    Response, Timings,
};
use spool_model::session::CaptureLevel;
use std::collections::HashMap;

/// What the recorder keeps, derived from the capture level.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub level: CaptureLevel,
    /// Bodies larger than this are not kept at level 2 (default 2 MiB).
    pub api_body_cap: usize,
    /// A safety bound on any one body at levels 3–4 (default 64 MiB).
    pub max_body: usize,
}

impl RecorderConfig {
    pub fn for_level(level: CaptureLevel) -> RecorderConfig {
        RecorderConfig {
            level,
            api_body_cap: 2 << 20,
            max_body: 64 << 20,
        }
    }
}

/// I/O the recorder asks the live capture to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    /// Call `Network.getResponseBody` now, while the resource is still buffered.
    ResponseBody {
        request_id: String,
        session_id: Option<String>,
    },
    /// Call `Network.getRequestPostData`: the body was too large to ride on the event.
    RequestPostData {
        request_id: String,
        session_id: Option<String>,
    },
}

/// A response body as `Network.getResponseBody` returns it.
#[derive(Debug, Clone)]
pub struct Body {
    pub text: String,
    pub base64_encoded: bool,
}

#[derive(Debug, Default)]
enum BodyState {
    #[default]
    NotWanted,
    Pending,
    Kept(Body),
    Skipped(String),
}

#[derive(Debug, Default)]
struct ExtraRequest {
    headers: Vec<Header>,
    cookies: Vec<Cookie>,
}

#[derive(Debug, Default)]
struct ExtraResponse {
    headers: Vec<Header>,
    headers_text: Option<String>,
    status: Option<i64>,
}

#[derive(Debug)]
struct WsMessage {
    kind: &'static str,
    time: f64,
    opcode: f64,
    data: String,
}

/// One hop of one request, until it becomes a HAR entry.
#[derive(Debug, Default)]
struct Hop {
    request_id: String,
    session_id: Option<String>,
    /// The frame and the document (loader) that sent the request.
    frame_id: Option<String>,
    loader_id: Option<String>,
    seq: usize,
    url: String,
    method: String,
    headers: Vec<Header>,
    post_data: Option<String>,
    post_data_pending: bool,
    wall_time: f64,
    timestamp: f64,
    resource_type: Option<String>,
    initiator: Option<Value>,
    priority: Option<String>,
    pageref: Option<String>,
    request_extra: Option<ExtraRequest>,
    request_headers_text: Option<String>,
    response: Option<ResponseView>,
    response_extra: Option<ExtraResponse>,
    response_timestamp: Option<f64>,
    data_length: i64,
    encoded_body_length: i64,
    transfer_size: Option<i64>,
    end_timestamp: Option<f64>,
    error: Option<String>,
    from_cache: Option<&'static str>,
    body: BodyState,
    redirect_url: Option<String>,
    closed: bool,
    /// The position in which `take_completed` / `take_remaining` handed this entry out; a
    /// streamed recording is stored in that order.
    emitted: Option<usize>,
    ws_messages: Option<Vec<WsMessage>>,
}

/// The parts of a CDP response the entry needs, owned.
#[derive(Debug, Default, Clone)]
struct ResponseView {
    status: i64,
    status_text: String,
    headers: Vec<Header>,
    headers_text: Option<String>,
    mime_type: String,
    request_headers: Option<Vec<Header>>,
    request_headers_text: Option<String>,
    connection_id: Option<String>,
    remote_ip: Option<String>,
    protocol: Option<String>,
    timing: Option<ResourceTiming>,
    from_service_worker: bool,
    encoded_data_length: Option<f64>,
}

impl ResponseView {
    fn from_data(r: &ResponseData<'_>) -> ResponseView {
        ResponseView {
            status: r.status as i64,
            status_text: r.status_text.to_string(),
            headers: headers_from_map(&r.headers),
            headers_text: r.headers_text.as_ref().map(|s| s.to_string()),
            mime_type: r.mime_type.to_string(),
            request_headers: r.request_headers.as_ref().map(headers_from_map),
            request_headers_text: r.request_headers_text.as_ref().map(|s| s.to_string()),
            connection_id: r.connection_id.map(|c| format!("{}", c as i64)),
            remote_ip: r
                .remote_ip_address
                .as_ref()
                .map(|s| s.trim_matches(['[', ']']).to_string())
                .filter(|s| !s.is_empty()),
            protocol: r.protocol.as_ref().map(|s| s.to_string()),
            timing: r.timing,
            from_service_worker: r.from_service_worker,
            encoded_data_length: r.encoded_data_length,
        }
    }
}

#[derive(Debug)]
struct PageState {
    page: Page,
    /// Monotonic time the page started, to turn load events into `pageTimings`.
    start_timestamp: f64,
    /// The request of the document that started the page.
    document_request: String,
    /// That request failed: no load event may come for this page (an aborted navigation,
    /// such as Chromium's automatic reload of an error page failing again, commits nothing
    /// and leaves the previous document), and nothing more will load for it.
    document_failed: bool,
}

/// Turns network and page events into HAR entries and pages.
pub struct NetworkRecorder {
    config: RecorderConfig,
    hops: Vec<Hop>,
    /// Request id → index in `hops` of its current (latest) hop.
    current: HashMap<String, usize>,
    /// Request id → indices in `hops` of all its hops, in order (redirect chains).
    hops_by_id: HashMap<String, Vec<usize>>,
    /// Extra-info events that arrived before their hop, per request id, in order.
    early_request_extra: HashMap<String, Vec<ExtraRequest>>,
    early_response_extra: HashMap<String, Vec<ExtraResponse>>,
    /// How many extra infos each request id has consumed, to give the n-th to the n-th hop.
    request_extra_seen: HashMap<String, usize>,
    response_extra_seen: HashMap<String, usize>,
    pages: Vec<PageState>,
    main_frame: Option<String>,
    /// The loader of the document the main frame shows now, and those of the documents it
    /// showed before. Chromium does not always report the end of a request whose document
    /// was replaced (a favicon fetch cut off by the next navigation gets no
    /// `loadingFailed`), so such requests must not keep the page from counting as idle.
    main_loader: Option<String>,
    replaced_loaders: std::collections::HashSet<String>,
    child_frames: std::collections::HashSet<String>,
    /// `wallTime - timestamp` from the latest `requestWillBeSent`.
    clock_offset: Option<f64>,
    /// Only page events from this session shape `pages` (None: the browser-less event log).
    page_session: Option<String>,
    next_seq: usize,
    /// The URL of the first same-document navigation, titling a page made up at the end when
    /// no document request started one (a recording that began mid-page).
    same_document_url: Option<String>,
    /// Number of entries handed out by `take_completed` and `take_remaining`.
    emitted: usize,
}

impl NetworkRecorder {
    pub fn new(config: RecorderConfig) -> NetworkRecorder {
        NetworkRecorder {
            config,
            hops: Vec::new(),
            current: HashMap::new(),
            hops_by_id: HashMap::new(),
            early_request_extra: HashMap::new(),
            early_response_extra: HashMap::new(),
            request_extra_seen: HashMap::new(),
            response_extra_seen: HashMap::new(),
            pages: Vec::new(),
            main_frame: None,
            main_loader: None,
            replaced_loaders: Default::default(),
            child_frames: Default::default(),
            clock_offset: None,
            page_session: None,
            next_seq: 0,
            same_document_url: None,
            emitted: 0,
        }
    }

    /// Page events from other sessions (iframes, workers) do not start pages.
    pub fn set_page_session(&mut self, session: Option<String>) {
        self.page_session = session;
    }

    /// Sets the main frame explicitly (a live page's frame id is its target id).
    pub fn set_main_frame(&mut self, frame_id: &str) {
        self.main_frame = Some(frame_id.to_string());
    }

    /// Feeds one event. Returns the I/O to do for it (body fetches), usually nothing.
    /// Events of other domains are ignored; an event whose params do not fit is an error
    /// the caller reports with the event's position, without losing earlier entries.
    pub fn handle<P: EventParams + ?Sized>(
        &mut self,
        method: &str,
        session_id: Option<&str>,
        params: &P,
    ) -> Result<Vec<Fetch>, serde_json::Error> {
        let mut fetches = Vec::new();
        match method {
            "Network.requestWillBeSent" => {
                let e: RequestWillBeSent = params.decode()?;
                self.request_will_be_sent(e, session_id, &mut fetches);
            }
            "Network.requestWillBeSentExtraInfo" => {
                let e: RequestExtraInfo = params.decode()?;
                self.request_extra(e);
            }
            "Network.responseReceived" => {
                let e: ResponseReceived = params.decode()?;
                if self.is_stale_response(&e) {
                    return Ok(fetches);
                }
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    hop.response = Some(ResponseView::from_data(&e.response));
                    hop.response_timestamp = Some(e.timestamp);
                    if hop.resource_type.is_none() {
                        hop.resource_type = e.resource_type.as_deref().map(lower);
                    }
                    if e.response.from_disk_cache {
                        hop.from_cache = Some("disk");
                    } else if e.response.from_prefetch_cache {
                        hop.from_cache = Some("prefetch");
                    }
                }
            }
            "Network.responseReceivedExtraInfo" => {
                let e: ResponseExtraInfo = params.decode()?;
                self.response_extra(e);
            }
            "Network.dataReceived" => {
                let e: DataReceived = params.decode()?;
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    hop.data_length += e.data_length as i64;
                    hop.encoded_body_length += e.encoded_data_length as i64;
                }
            }
            "Network.requestServedFromCache" => {
                let e: RequestId = params.decode()?;
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    hop.from_cache = Some("memory");
                }
            }
            "Network.loadingFinished" => {
                let e: LoadingFinished = params.decode()?;
                self.loading_finished(e, session_id, &mut fetches);
            }
            "Network.loadingFailed" => {
                let e: LoadingFailed = params.decode()?;
                self.loading_failed(e);
            }
            "Network.webSocketCreated" => {
                let e: WebSocketCreated = params.decode()?;
                self.websocket_created(e, session_id);
            }
            "Network.webSocketWillSendHandshakeRequest" => {
                let e: WebSocketHandshakeRequest = params.decode()?;
                if let Some(wall) = e.wall_time {
                    self.clock_offset = Some(wall - e.timestamp);
                }
                let wall = self.wall(e.timestamp);
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    hop.timestamp = e.timestamp;
                    hop.wall_time = e.wall_time.unwrap_or(wall);
                    if let Some(req) = &e.request {
                        hop.headers = headers_from_map(&req.headers);
                    }
                }
            }
            "Network.webSocketHandshakeResponseReceived" => {
                let e: WebSocketHandshakeResponse = params.decode()?;
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    let r = &e.response;
                    hop.response = Some(ResponseView {
                        status: r.status.unwrap_or(101.0) as i64,
                        status_text: r
                            .status_text
                            .as_deref()
                            .unwrap_or("Switching Protocols")
                            .to_string(),
                        headers: headers_from_map(&r.headers),
                        headers_text: r.headers_text.as_ref().map(|s| s.to_string()),
                        protocol: Some("http/1.1".into()),
                        ..Default::default()
                    });
                    hop.response_timestamp = Some(e.timestamp);
                }
            }
            "Network.webSocketFrameSent" | "Network.webSocketFrameReceived" => {
                let e: WebSocketFrame = params.decode()?;
                let time = self.wall(e.timestamp);
                let keep = self.config.level >= CaptureLevel::Full;
                if let (Some(hop), Some(frame)) = (self.hop_mut(&e.request_id), e.response)
                    && keep
                {
                    hop.ws_messages
                        .get_or_insert_with(Vec::new)
                        .push(WsMessage {
                            kind: if method.ends_with("Sent") {
                                "send"
                            } else {
                                "receive"
                            },
                            time,
                            opcode: frame.opcode,
                            data: frame.payload_data.into_owned(),
                        });
                }
            }
            "Network.webSocketFrameError" => {
                let e: WebSocketFrame = params.decode()?;
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    hop.error = e.error_message.map(|m| m.into_owned());
                }
            }
            "Network.webSocketClosed" => {
                let e: WebSocketFrame = params.decode()?;
                if let Some(hop) = self.hop_mut(&e.request_id) {
                    hop.end_timestamp = Some(e.timestamp);
                    hop.closed = true;
                }
            }
            "Page.frameAttached" => {
                let e: FrameAttached = params.decode()?;
                if e.parent_frame_id.is_some() {
                    self.child_frames.insert(e.frame_id.into_owned());
                }
            }
            "Page.frameNavigated" => {
                let e: FrameNavigated = params.decode()?;
                if e.frame.parent_id.is_some() {
                    self.child_frames.insert(e.frame.id.into_owned());
                } else if self.is_page_session(session_id) {
                    if self.main_frame.is_none() {
                        self.main_frame = Some(e.frame.id.into_owned());
                    }
                    let loader = e.frame.loader_id.into_owned();
                    if !loader.is_empty()
                        && self.main_loader.as_ref() != Some(&loader)
                        && let Some(old) = self.main_loader.replace(loader)
                    {
                        self.replaced_loaders.insert(old);
                    }
                }
            }
            "Page.navigatedWithinDocument" => {
                if self.is_page_session(session_id)
                    && self.same_document_url.is_none()
                    && let Ok(v) = params.decode::<Value>()
                {
                    self.same_document_url = v["url"].as_str().map(str::to_string);
                }
            }
            "Page.domContentEventFired" | "Page.loadEventFired" => {
                if !self.is_page_session(session_id) {
                    return Ok(fetches);
                }
                let e: Timestamped = params.decode()?;
                if let Some(page) = self.pages.last_mut() {
                    let ms = ((e.timestamp - page.start_timestamp) * 1000.0).max(0.0);
                    let timings = &mut page.page.page_timings;
                    if method == "Page.loadEventFired" {
                        if timings.on_load < 0.0 {
                            timings.on_load = round3(ms);
                        }
                    } else if timings.on_content_load < 0.0 {
                        timings.on_content_load = round3(ms);
                    }
                }
            }
            _ => {}
        }
        Ok(fetches)
    }

    /// Hands a fetched response body to its entry.
    pub fn set_body(&mut self, request_id: &str, body: Body) {
        let cap = self.body_cap_for(request_id);
        if let Some(hop) = self.hop_mut(request_id) {
            hop.body = if body.text.len() > cap {
                BodyState::Skipped(format!("body over the {cap}-byte cap of this level"))
            } else {
                BodyState::Kept(body)
            };
        }
    }

    /// Records that a body could not be fetched (evicted, or the target went away).
    pub fn set_body_error(&mut self, request_id: &str, reason: String) {
        if let Some(hop) = self.hop_mut(request_id) {
            hop.body = BodyState::Skipped(reason);
        }
    }

    /// Hands a fetched request body (`Network.getRequestPostData`) to its entry.
    pub fn set_post_data(&mut self, request_id: &str, post_data: Option<String>) {
        if let Some(hop) = self.hop_mut(request_id) {
            hop.post_data_pending = false;
            if post_data.is_some() {
                hop.post_data = post_data;
            }
        }
    }

    /// Requests in flight: not finished, failed or closed.
    pub fn in_flight(&self) -> usize {
        self.current
            .values()
            .filter(|&&i| {
                let h = &self.hops[i];
                !h.closed
                    && h.ws_messages.is_none()
                    && h.resource_type.as_deref() != Some("websocket")
                    && !self.is_of_replaced_document(h)
            })
            .count()
    }

    /// Whether the main document of the latest page has loaded, or failed to (then nothing
    /// more loads for it: the error page, or the previous document, stays).
    pub fn page_loaded(&self) -> bool {
        self.pages
            .last()
            .is_some_and(|p| p.page.page_timings.on_load >= 0.0 || p.document_failed)
    }

    /// Sets the title of the latest page (read from the live document at the end).
    pub fn set_page_title(&mut self, title: &str) {
        if let Some(p) = self.pages.last_mut()
            && !title.is_empty()
        {
            p.page.title = title.to_string();
        }
    }

    /// Entries that became complete since the last call, in completion order: finished or
    /// failed, with their body fetched. Used to write a recording while it runs.
    pub fn take_completed(&mut self) -> Vec<Entry> {
        let mut out = Vec::new();
        for i in 0..self.hops.len() {
            let hop = &self.hops[i];
            if hop.emitted.is_some() || !hop.closed || matches!(hop.body, BodyState::Pending) {
                continue;
            }
            if hop.post_data_pending {
                continue;
            }
            out.push(self.entry(i));
            self.hops[i].emitted = Some(self.emitted);
            self.emitted += 1;
        }
        out
    }

    /// How many entries (hops) have been seen so far.
    pub fn snapshot_len(&self) -> usize {
        self.hops.len()
    }

    /// At the end of a recording: entries not yet handed out by `take_completed` (still
    /// running, or waiting for a body that will not come now), so a streamed recording ends
    /// up with every entry.
    pub fn take_remaining(&mut self) -> Vec<Entry> {
        let mut out = Vec::new();
        for i in 0..self.hops.len() {
            if self.hops[i].emitted.is_some() {
                continue;
            }
            if matches!(self.hops[i].body, BodyState::Pending) {
                self.hops[i].body =
                    BodyState::Skipped("capture stopped before the body arrived".into());
            }
            self.hops[i].post_data_pending = false;
            out.push(self.entry(i));
            self.hops[i].emitted = Some(self.emitted);
            self.emitted += 1;
        }
        out
    }

    /// Pages seen so far.
    pub fn pages(&self) -> Vec<Page> {
        self.pages.iter().map(|p| p.page.clone()).collect()
    }

    /// Ends the recording: every entry (complete or not), sorted by start time, and the pages.
    /// Requests that never finished are kept with what is known and `_incomplete: true`.
    pub fn finish(mut self) -> (Vec<Page>, Vec<Entry>) {
        for hop in &mut self.hops {
            if matches!(hop.body, BodyState::Pending) {
                hop.body = BodyState::Skipped("capture stopped before the body arrived".into());
            }
            hop.post_data_pending = false;
        }
        let mut entries = self.entries_in_har_order();
        let mut pages = self.pages();
        if pages.is_empty() && !entries.is_empty() {
            // No document started a page (the recording began mid-page): one page spans all.
            let title = self
                .same_document_url
                .clone()
                .unwrap_or_else(|| entries[0].request.url.clone());
            pages.push(Page {
                started_date_time: entries[0].started_date_time.clone(),
                id: "page_1".into(),
                title,
                ..Default::default()
            });
            for e in &mut entries {
                e.pageref = Some("page_1".into());
            }
        }
        (pages, entries)
    }

    /// All entries built so far, sorted by start time, without ending the recording.
    pub fn snapshot(&self) -> (Vec<Page>, Vec<Entry>) {
        (self.pages(), self.entries_in_har_order())
    }

    /// Every entry, sorted by `startedDateTime` as written (millisecond precision); entries
    /// that start in the same millisecond keep the order they were handed out in, then the
    /// order their requests were sent. This is the order the store gives a streamed
    /// recording back in, so a stored session exports exactly the HAR the capture returned.
    fn entries_in_har_order(&self) -> Vec<Entry> {
        let mut keyed: Vec<(Entry, Option<usize>, usize)> = (0..self.hops.len())
            .map(|i| (self.entry(i), self.hops[i].emitted, self.hops[i].seq))
            .collect();
        // Entries not handed out yet (a snapshot mid-recording) sort after those that were.
        let key = |k: &(Entry, Option<usize>, usize)| (k.1.unwrap_or(usize::MAX), k.2);
        keyed.sort_by(|a, b| {
            (&a.0.started_date_time, key(a)).cmp(&(&b.0.started_date_time, key(b)))
        });
        keyed.into_iter().map(|(e, _, _)| e).collect()
    }

    /// A response for an earlier hop of a redirected request (Chrome sometimes repeats the
    /// redirect response after the redirect): it must not become the new hop's response.
    fn is_stale_response(&self, e: &ResponseReceived<'_>) -> bool {
        let Some(&current) = self.current.get(e.request_id.as_ref()) else {
            return false;
        };
        let hop = &self.hops[current];
        let url = e.response.url.as_ref();
        if url.is_empty() || url == hop.url {
            return false;
        }
        self.hops_by_id
            .get(e.request_id.as_ref())
            .into_iter()
            .flatten()
            .filter(|&&i| i != current)
            .any(|&i| self.hops[i].url == url && self.hops[i].redirect_url.is_some())
    }

    /// A request the main frame's earlier document sent and that document is gone.
    fn is_of_replaced_document(&self, hop: &Hop) -> bool {
        hop.frame_id.is_some()
            && hop.frame_id == self.main_frame
            && self.is_page_session(hop.session_id.as_deref())
            && hop
                .loader_id
                .as_ref()
                .is_some_and(|l| self.replaced_loaders.contains(l))
    }

    fn is_page_session(&self, session_id: Option<&str>) -> bool {
        self.page_session.as_deref() == session_id || self.page_session.is_none()
    }

    fn hop_mut(&mut self, request_id: &str) -> Option<&mut Hop> {
        let i = *self.current.get(request_id)?;
        self.hops.get_mut(i)
    }

    fn wall(&self, timestamp: f64) -> f64 {
        match self.clock_offset {
            Some(offset) => timestamp + offset,
            None => timestamp,
        }
    }

    fn body_cap_for(&self, request_id: &str) -> usize {
        let Some(&i) = self.current.get(request_id) else {
            return self.config.max_body;
        };
        match self.config.level {
            CaptureLevel::Api => self.config.api_body_cap,
            _ => {
                let _ = i;
                self.config.max_body
            }
        }
    }

    fn request_will_be_sent(
        &mut self,
        e: RequestWillBeSent<'_>,
        session_id: Option<&str>,
        fetches: &mut Vec<Fetch>,
    ) {
        if let Some(wall) = e.wall_time {
            self.clock_offset = Some(wall - e.timestamp);
        }
        let request_id = e.request_id.to_string();
        // A redirect: the current hop of this id ends with the redirect response.
        if let Some(redirect) = &e.redirect_response
            && let Some(&i) = self.current.get(&request_id)
        {
            let hop = &mut self.hops[i];
            hop.response = Some(ResponseView::from_data(redirect));
            hop.response_timestamp = Some(e.timestamp);
            hop.end_timestamp = Some(e.timestamp);
            hop.transfer_size = redirect.encoded_data_length.map(|v| v as i64);
            hop.redirect_url = Some(e.request.url.to_string());
            hop.closed = true;
        }
        // HAR URLs exclude the fragment (HAR 1.2, `request.url`), so `urlFragment` is dropped.
        let url = e.request.url.to_string();
        if url.starts_with("data:") || url.starts_with("blob:") {
            // DevTools' own HAR export leaves these out: they never touch the network.
            return;
        }
        let resource_type = e.resource_type.as_deref().map(lower);
        let is_document = resource_type.as_deref() == Some("document");
        let frame_id = e.frame_id.as_deref().map(str::to_string);
        let wall_time = e.wall_time.unwrap_or_else(|| self.wall(e.timestamp));
        if is_document && e.redirect_response.is_none() {
            self.maybe_start_page(&e, frame_id.as_deref(), session_id, wall_time, &url);
        }
        let pageref = self.pages.last().map(|p| p.page.id.clone());

        let mut post_data = e.request.post_data.as_ref().map(|s| s.to_string());
        if post_data.is_none() && !e.request.post_data_entries.is_empty() {
            let mut bytes = Vec::new();
            for part in &e.request.post_data_entries {
                if let Some(b64) = &part.bytes
                    && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64)
                {
                    bytes.extend(decoded);
                }
            }
            post_data = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        let post_data_pending = post_data.is_none() && e.request.has_post_data;
        if post_data_pending {
            fetches.push(Fetch::RequestPostData {
                request_id: request_id.clone(),
                session_id: session_id.map(str::to_string),
            });
        }

        let seq = self.next_seq;
        self.next_seq += 1;
        let hop = Hop {
            request_id: request_id.clone(),
            session_id: session_id.map(str::to_string),
            frame_id,
            loader_id: e.loader_id.as_deref().map(str::to_string),
            seq,
            url,
            method: e.request.method.to_string(),
            headers: headers_from_map(&e.request.headers),
            post_data,
            post_data_pending,
            wall_time,
            timestamp: e.timestamp,
            resource_type,
            initiator: e.initiator,
            priority: e.request.initial_priority.as_ref().map(|s| s.to_string()),
            pageref,
            ..Default::default()
        };
        self.hops.push(hop);
        let index = self.hops.len() - 1;
        self.current.insert(request_id.clone(), index);
        self.hops_by_id
            .entry(request_id.clone())
            .or_default()
            .push(index);
        // Extra infos that came first.
        if let Some(queue) = self.early_request_extra.get_mut(&request_id)
            && !queue.is_empty()
        {
            let extra = queue.remove(0);
            *self
                .request_extra_seen
                .entry(request_id.clone())
                .or_default() += 1;
            self.hops[index].request_extra = Some(extra);
        }
        self.apply_early_response_extra(&request_id);
    }

    fn maybe_start_page(
        &mut self,
        e: &RequestWillBeSent<'_>,
        frame_id: Option<&str>,
        session_id: Option<&str>,
        wall_time: f64,
        url: &str,
    ) {
        if !self.is_page_session(session_id) {
            return;
        }
        if let Some(frame) = frame_id {
            if self.child_frames.contains(frame) {
                return;
            }
            match &self.main_frame {
                Some(main) if main != frame => return,
                None => self.main_frame = Some(frame.to_string()),
                _ => {}
            }
        }
        let id = format!("page_{}", self.pages.len() + 1);
        self.pages.push(PageState {
            page: Page {
                started_date_time: iso8601(wall_time),
                id,
                title: url.to_string(),
                page_timings: PageTimings::default(),
                ..Default::default()
            },
            start_timestamp: e.timestamp,
            document_request: e.request_id.to_string(),
            document_failed: false,
        });
    }

    fn request_extra(&mut self, e: RequestExtraInfo<'_>) {
        let extra = ExtraRequest {
            headers: headers_from_map(&e.headers),
            cookies: e
                .associated_cookies
                .iter()
                .filter(|c| c.blocked_reasons.is_empty())
                .filter_map(|c| c.cookie.as_ref())
                .map(|c| Cookie {
                    name: c.name.clone(),
                    value: c.value.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        let id = e.request_id.to_string();
        let seen = self.request_extra_seen.get(&id).copied().unwrap_or(0);
        // The n-th extra info belongs to the n-th hop of this id.
        if let Some(index) = self.nth_hop(&id, seen)
            && self.hops[index].request_extra.is_none()
        {
            self.hops[index].request_extra = Some(extra);
            *self.request_extra_seen.entry(id).or_default() += 1;
        } else {
            self.early_request_extra.entry(id).or_default().push(extra);
        }
    }

    fn response_extra(&mut self, e: ResponseExtraInfo<'_>) {
        let extra = ExtraResponse {
            headers: headers_from_map(&e.headers),
            headers_text: e.headers_text.map(|s| s.into_owned()),
            status: e.status_code.map(|s| s as i64),
        };
        let id = e.request_id.to_string();
        self.early_response_extra
            .entry(id.clone())
            .or_default()
            .push(extra);
        self.apply_early_response_extra(&id);
    }

    fn apply_early_response_extra(&mut self, id: &str) {
        loop {
            let seen = self.response_extra_seen.get(id).copied().unwrap_or(0);
            let Some(index) = self.nth_hop(id, seen) else {
                return;
            };
            let Some(queue) = self.early_response_extra.get_mut(id) else {
                return;
            };
            if queue.is_empty() {
                return;
            }
            let extra = queue.remove(0);
            self.hops[index].response_extra = Some(extra);
            *self.response_extra_seen.entry(id.to_string()).or_default() += 1;
        }
    }

    /// The index of the n-th hop (0-based) of a request id.
    fn nth_hop(&self, request_id: &str, n: usize) -> Option<usize> {
        self.hops_by_id.get(request_id)?.get(n).copied()
    }

    fn loading_finished(
        &mut self,
        e: LoadingFinished<'_>,
        session_id: Option<&str>,
        fetches: &mut Vec<Fetch>,
    ) {
        let level = self.config.level;
        let Some(hop) = self.hop_mut(&e.request_id) else {
            return;
        };
        hop.end_timestamp = Some(e.timestamp);
        hop.transfer_size = e.encoded_data_length.map(|v| v as i64);
        hop.closed = true;
        if wants_body(level, hop) {
            hop.body = BodyState::Pending;
            fetches.push(Fetch::ResponseBody {
                request_id: e.request_id.to_string(),
                session_id: session_id
                    .map(str::to_string)
                    .or_else(|| hop.session_id.clone()),
            });
        }
    }

    fn loading_failed(&mut self, e: LoadingFailed<'_>) {
        if let Some(page) = self.pages.last_mut()
            && page.document_request == *e.request_id
        {
            page.document_failed = true;
        }
        let Some(hop) = self.hop_mut(&e.request_id) else {
            return;
        };
        hop.end_timestamp = Some(e.timestamp);
        hop.closed = true;
        let mut error = e.error_text.to_string();
        if let Some(reason) = &e.blocked_reason {
            error = format!("{error} (blocked: {reason})");
        }
        if e.canceled && error.is_empty() {
            error = "canceled".into();
        }
        hop.error = Some(error);
        if hop.resource_type.is_none() {
            hop.resource_type = e.resource_type.as_deref().map(lower);
        }
    }

    fn websocket_created(&mut self, e: WebSocketCreated<'_>, session_id: Option<&str>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let pageref = self.pages.last().map(|p| p.page.id.clone());
        let hop = Hop {
            request_id: e.request_id.to_string(),
            session_id: session_id.map(str::to_string),
            seq,
            url: e.url.to_string(),
            method: "GET".into(),
            resource_type: Some("websocket".into()),
            initiator: e.initiator,
            pageref,
            ws_messages: if self.config.level >= CaptureLevel::Full {
                Some(Vec::new())
            } else {
                None
            },
            ..Default::default()
        };
        self.hops.push(hop);
        let index = self.hops.len() - 1;
        self.current.insert(e.request_id.to_string(), index);
        self.hops_by_id
            .entry(e.request_id.to_string())
            .or_default()
            .push(index);
    }

    /// Builds the HAR entry of one hop from everything known about it.
    fn entry(&self, i: usize) -> Entry {
        let hop = &self.hops[i];
        let extra_req = hop.request_extra.as_ref();
        let response = hop.response.as_ref();
        let extra_resp = hop.response_extra.as_ref();

        // Headers that went over the wire beat the provisional ones on the event.
        let request_headers = match (extra_req, response.and_then(|r| r.request_headers.as_ref())) {
            (Some(x), _) if !x.headers.is_empty() => x.headers.clone(),
            (_, Some(h)) if !h.is_empty() => h.clone(),
            _ => hop.headers.clone(),
        };
        let request_cookies = match har::header(&request_headers, "cookie") {
            Some(cookie) => parse_cookie_header(cookie),
            None => extra_req.map(|x| x.cookies.clone()).unwrap_or_default(),
        };
        let http_version = response
            .and_then(|r| r.protocol.as_deref())
            .map(http_version)
            .unwrap_or_else(|| String::from("HTTP/1.1"));
        let request_headers_size = response
            .and_then(|r| r.request_headers_text.as_ref())
            .or(hop.request_headers_text.as_ref())
            .map(|t| t.len() as i64)
            .unwrap_or(-1);

        let post_data = hop.post_data.as_ref().map(|text| {
            let mime = har::header(&request_headers, "content-type")
                .unwrap_or("")
                .to_string();
            let params = if mime.starts_with("application/x-www-form-urlencoded") {
                url::form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| Param {
                        name: k.into_owned(),
                        value: Some(v.into_owned()),
                        ..Default::default()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            PostData {
                mime_type: mime,
                params,
                text: Some(text.clone()),
                ..Default::default()
            }
        });
        let request = Request {
            method: hop.method.clone(),
            url: hop.url.clone(),
            http_version: http_version.clone(),
            cookies: request_cookies,
            headers: request_headers,
            query_string: query_string(&hop.url),
            body_size: hop.post_data.as_ref().map(|p| p.len() as i64).unwrap_or(0),
            post_data,
            headers_size: request_headers_size,
            ..Default::default()
        };

        let mut entry_custom = har::Custom::new();
        let mut response_custom = har::Custom::new();
        let har_response = match response {
            Some(r) => {
                let headers = match extra_resp {
                    Some(x) if !x.headers.is_empty() => x.headers.clone(),
                    _ => r.headers.clone(),
                };
                let headers_text = extra_resp
                    .and_then(|x| x.headers_text.as_ref())
                    .or(r.headers_text.as_ref());
                let headers_size = headers_text.map(|t| t.len() as i64).unwrap_or(-1);
                let status = extra_resp.and_then(|x| x.status).unwrap_or(r.status);
                let cookies = headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
                    .filter_map(|h| parse_set_cookie(&h.value))
                    .collect();
                let transfer = hop
                    .transfer_size
                    .unwrap_or_else(|| r.encoded_data_length.map(|v| v as i64).unwrap_or(0));
                let from_cache = hop.from_cache.is_some();
                let body_size = if from_cache || hop.redirect_url.is_some() {
                    0
                } else if hop.encoded_body_length > 0 {
                    hop.encoded_body_length
                } else if headers_size >= 0 {
                    (transfer - headers_size).max(0)
                } else {
                    transfer
                };
                let mut content = Content {
                    size: hop.data_length,
                    mime_type: r.mime_type.clone(),
                    ..Default::default()
                };
                match &hop.body {
                    BodyState::Kept(body) => {
                        if body.base64_encoded {
                            content.encoding = Some("base64".into());
                            let decoded_len = base64::engine::general_purpose::STANDARD
                                .decode(&body.text)
                                .map(|b| b.len() as i64)
                                .unwrap_or(0);
                            content.size = content.size.max(decoded_len);
                        } else {
                            content.size = content.size.max(body.text.len() as i64);
                        }
                        content.text = Some(body.text.clone());
                    }
                    BodyState::Skipped(reason) => {
                        content.comment = Some(format!("body not kept: {reason}"));
                    }
                    BodyState::NotWanted | BodyState::Pending => {}
                }
                if transfer > 0 || !from_cache {
                    response_custom.insert("_transferSize".into(), json!(transfer));
                }
                if r.from_service_worker {
                    response_custom.insert("_fetchedViaServiceWorker".into(), json!(true));
                }
                Response {
                    status,
                    status_text: r.status_text.clone(),
                    http_version: http_version.clone(),
                    cookies,
                    redirect_url: hop
                        .redirect_url
                        .clone()
                        .or_else(|| har::header(&headers, "location").map(|l| resolve(&hop.url, l)))
                        .unwrap_or_default(),
                    headers,
                    content,
                    headers_size,
                    body_size,
                    custom: har::Custom::new(),
                    ..Default::default()
                }
            }
            None => Response {
                status: 0,
                status_text: String::new(),
                http_version: String::new(),
                headers_size: -1,
                body_size: -1,
                content: Content {
                    size: 0,
                    mime_type: "x-unknown".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        let mut har_response = har_response;
        if let Some(error) = &hop.error {
            response_custom.insert("_error".into(), json!(error));
        } else if !hop.closed && hop.resource_type.as_deref() != Some("websocket") {
            response_custom.insert(
                "_error".into(),
                json!("the request had not finished when the capture stopped"),
            );
            entry_custom.insert("_incomplete".into(), json!(true));
        }
        har_response.custom.extend(response_custom);

        let timings = self.timings(hop);
        if let Some(rt) = &hop.resource_type {
            entry_custom.insert("_resourceType".into(), json!(rt));
        }
        if let Some(initiator) = &hop.initiator {
            entry_custom.insert("_initiator".into(), initiator.clone());
        }
        if let Some(priority) = &hop.priority {
            entry_custom.insert("_priority".into(), json!(priority));
        }
        if let Some(kind) = hop.from_cache {
            entry_custom.insert("_fromCache".into(), json!(kind));
        }
        if let Some(messages) = &hop.ws_messages {
            entry_custom.insert(
                "_webSocketMessages".into(),
                Value::Array(
                    messages
                        .iter()
                        .map(|m| {
                            json!({"type": m.kind, "time": m.time, "opcode": m.opcode, "data": m.data})
                        })
                        .collect(),
                ),
            );
        }
        entry_custom.insert("_requestId".into(), json!(hop.request_id));
        Entry {
            pageref: hop.pageref.clone(),
            started_date_time: iso8601(hop.wall_time),
            time: round3(timings.total()),
            request,
            response: har_response,
            cache: Default::default(),
            timings,
            server_ip_address: response.and_then(|r| r.remote_ip.clone()),
            connection: response.and_then(|r| r.connection_id.clone()),
            comment: None,
            custom: entry_custom,
        }
    }

    /// HAR timings from Chrome's `ResourceTiming`, as the HAR spec defines them: `blocked`
    /// covers queueing until the first network activity, `ssl` lies inside `connect`, and -1
    /// marks a phase that did not happen.
    fn timings(&self, hop: &Hop) -> Timings {
        let response = hop.response.as_ref();
        let end = hop.end_timestamp;
        let mut t = Timings::default();
        match response.and_then(|r| r.timing) {
            Some(rt) if rt.request_time > 0.0 => {
                let queue = ((rt.request_time - hop.timestamp) * 1000.0).max(0.0);
                let first = [rt.dns_start, rt.connect_start, rt.send_start]
                    .into_iter()
                    .find(|v| *v >= 0.0)
                    .unwrap_or(0.0);
                t.blocked = round3(queue + first);
                if rt.dns_start >= 0.0 && rt.dns_end >= rt.dns_start {
                    t.dns = round3(rt.dns_end - rt.dns_start);
                }
                if rt.connect_start >= 0.0 && rt.connect_end >= rt.connect_start {
                    t.connect = round3(rt.connect_end - rt.connect_start);
                }
                if rt.ssl_start >= 0.0 && rt.ssl_end >= rt.ssl_start {
                    t.ssl = round3(rt.ssl_end - rt.ssl_start);
                }
                t.send = round3((rt.send_end - rt.send_start).max(0.0));
                t.wait = round3((rt.receive_headers_end - rt.send_end).max(0.0));
                t.receive = match end {
                    Some(end) => {
                        round3(((end - rt.request_time) * 1000.0 - rt.receive_headers_end).max(0.0))
                    }
                    None => 0.0,
                };
            }
            _ => {
                // No network timing (cache, service worker, failure): split what we know.
                let start = hop.timestamp;
                if let Some(resp) = hop.response_timestamp {
                    t.wait = round3(((resp - start) * 1000.0).max(0.0));
                    if let Some(end) = end {
                        t.receive = round3(((end - resp) * 1000.0).max(0.0));
                    }
                } else if let Some(end) = end {
                    t.wait = round3(((end - start) * 1000.0).max(0.0));
                }
            }
        }
        t
    }
}

/// Which responses keep their body at a level (the capture-level table of docs/capture.md).
fn wants_body(level: CaptureLevel, hop: &Hop) -> bool {
    if hop.redirect_url.is_some() || hop.error.is_some() {
        return false;
    }
    if hop
        .response
        .as_ref()
        .is_some_and(|r| r.status == 204 || r.status == 304)
    {
        return false;
    }
    match level {
        CaptureLevel::Metadata => false,
        CaptureLevel::Api => {
            let api_type = matches!(
                hop.resource_type.as_deref(),
                Some("document" | "xhr" | "fetch" | "eventsource")
            );
            let mime = hop
                .response
                .as_ref()
                .map(|r| r.mime_type.as_str())
                .unwrap_or("");
            api_type || is_text_like(mime)
        }
        CaptureLevel::Full | CaptureLevel::Forensic => true,
    }
}

/// JSON, text, HTML, XML and form responses: what level 2 keeps regardless of resource type.
pub fn is_text_like(mime: &str) -> bool {
    let mime = mime.to_ascii_lowercase();
    mime.contains("json")
        || mime.starts_with("text/plain")
        || mime.starts_with("text/html")
        || mime.contains("xml")
        || mime.starts_with("application/x-www-form-urlencoded")
        || mime.contains("graphql")
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn http_version(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "h2" | "http/2" | "http/2.0" => "HTTP/2.0".into(),
        "h3" | "http/3" | "h3-29" => "HTTP/3.0".into(),
        "http/1.1" => "HTTP/1.1".into(),
        "http/1.0" => "HTTP/1.0".into(),
        "" => "HTTP/1.1".into(),
        other => other.to_string(),
    }
}

/// Header maps from CDP join repeated headers with `\n`; HAR lists each separately.
fn headers_from_map(map: &Headers<'_>) -> Vec<Header> {
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let value = value.to_text();
        for part in value.split('\n') {
            out.push(Header::new(name.as_ref(), part));
        }
    }
    out
}

fn query_string(url: &str) -> Vec<QueryParam> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    parsed
        .query_pairs()
        .map(|(k, v)| QueryParam {
            name: k.into_owned(),
            value: v.into_owned(),
            ..Default::default()
        })
        .collect()
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| location.to_string())
}

/// `a=1; b=2` → cookies.
pub fn parse_cookie_header(header: &str) -> Vec<Cookie> {
    spool_model::cookie::pairs(header)
        .map(|(name, value)| Cookie {
            name: name.to_string(),
            value: value.to_string(),
            ..Default::default()
        })
        .collect()
}

/// One `Set-Cookie` header value → a HAR cookie with its attributes.
pub fn parse_set_cookie(header: &str) -> Option<Cookie> {
    let parsed = spool_model::cookie::set_cookie(header)?;
    let mut cookie = Cookie {
        name: parsed.name.to_string(),
        value: parsed.value.to_string(),
        ..Default::default()
    };
    for (key, val) in parsed.attributes {
        match key.to_ascii_lowercase().as_str() {
            "path" => cookie.path = Some(val.to_string()),
            "domain" => cookie.domain = Some(val.to_string()),
            "expires" => match http_date_to_iso(val) {
                Some(iso) => cookie.expires = Some(iso),
                // HAR wants ISO 8601; keep an unreadable date where a person can still see it.
                None => {
                    cookie.custom.insert("_expiresRaw".into(), json!(val));
                }
            },
            "httponly" => cookie.http_only = Some(true),
            "secure" => cookie.secure = Some(true),
            "samesite" => {
                cookie.custom.insert("sameSite".into(), json!(val));
            }
            _ => {}
        }
    }
    Some(cookie)
}

/// An HTTP cookie date (RFC 1123, RFC 850 with two-digit years, or asctime-like dashes) →
/// ISO 8601 in UTC.
pub fn http_date_to_iso(date: &str) -> Option<String> {
    let normalized = date
        .trim()
        .replace(" GMT", " +0000")
        .replace(" UTC", " +0000");
    const FORMATS: [&str; 4] = [
        "%a, %d %b %Y %H:%M:%S %z",
        // Two-digit years first: `%Y` would read "20" as the year 20.
        "%a, %d-%b-%y %H:%M:%S %z",
        "%a, %d-%b-%Y %H:%M:%S %z",
        "%A, %d-%b-%y %H:%M:%S %z",
    ];
    FORMATS.iter().find_map(|f| {
        jiff::Timestamp::strptime(f, &normalized)
            .ok()
            .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    })
}

/// Seconds since the epoch → ISO 8601 with milliseconds, in UTC.
pub fn iso8601(epoch_seconds: f64) -> String {
    let millis = (epoch_seconds * 1000.0).round() as i64;
    match jiff::Timestamp::from_millisecond(millis) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".into(),
    }
}
