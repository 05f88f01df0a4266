//! Lenient views of the CDP events the recorders read.
//!
//! `chromiumoxide_cdp`'s event types follow one protocol revision exactly and fail on a
//! missing required field. Event logs come from many Chrome versions (the perflogs lack
//! fields that today's protocol requires), and a capture must never lose an entry because a
//! field was renamed or added. So the recorders read these views instead: every field they
//! need, optional where any real browser may leave it out, borrowing strings from the input.
//! Some fields are read only by tests and future consumers; they document the event's shape.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Event params that can be decoded into a view: a parsed [`Value`] (live events) or a
/// [`serde_json::value::RawValue`] (event logs, decoded only for the events we read).
pub trait EventParams {
    fn decode<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T>;
}

impl EventParams for Value {
    fn decode<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        T::deserialize(self)
    }
}

impl EventParams for serde_json::value::RawValue {
    fn decode<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(self.get())
    }
}

pub type Headers<'a> = BTreeMap<Cow<'a, str>, HeaderValue<'a>>;

/// Header values are strings, but some old logs carry numbers.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum HeaderValue<'a> {
    #[serde(borrow)]
    Text(Cow<'a, str>),
    Other(Value),
}

impl HeaderValue<'_> {
    pub fn to_text(&self) -> String {
        match self {
            HeaderValue::Text(t) => t.to_string(),
            HeaderValue::Other(Value::String(s)) => s.clone(),
            HeaderValue::Other(v) => v.to_string(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RequestWillBeSent<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub loader_id: Option<Cow<'a, str>>,
    pub request: RequestData<'a>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default)]
    pub wall_time: Option<f64>,
    #[serde(default)]
    pub initiator: Option<Value>,
    #[serde(default)]
    pub redirect_response: Option<ResponseData<'a>>,
    #[serde(default, rename = "type", borrow)]
    pub resource_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub frame_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RequestData<'a> {
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    #[serde(default, borrow)]
    pub url_fragment: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    #[serde(default, borrow)]
    pub headers: Headers<'a>,
    #[serde(default, borrow)]
    pub post_data: Option<Cow<'a, str>>,
    #[serde(default)]
    pub has_post_data: bool,
    #[serde(default)]
    pub post_data_entries: Vec<PostDataEntry>,
    #[serde(default, borrow)]
    pub initial_priority: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug)]
pub struct PostDataEntry {
    /// Base64 of the bytes of one part of the body.
    #[serde(default)]
    pub bytes: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResponseData<'a> {
    #[serde(default, borrow)]
    pub url: Cow<'a, str>,
    #[serde(default)]
    pub status: f64,
    #[serde(default, borrow)]
    pub status_text: Cow<'a, str>,
    #[serde(default, borrow)]
    pub headers: Headers<'a>,
    #[serde(default, borrow)]
    pub headers_text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub mime_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub request_headers: Option<Headers<'a>>,
    #[serde(default, borrow)]
    pub request_headers_text: Option<Cow<'a, str>>,
    #[serde(default)]
    pub connection_id: Option<f64>,
    #[serde(default, rename = "remoteIPAddress", borrow)]
    pub remote_ip_address: Option<Cow<'a, str>>,
    #[serde(default)]
    pub from_disk_cache: bool,
    #[serde(default)]
    pub from_service_worker: bool,
    #[serde(default)]
    pub from_prefetch_cache: bool,
    #[serde(default)]
    pub encoded_data_length: Option<f64>,
    #[serde(default)]
    pub timing: Option<ResourceTiming>,
    #[serde(default, borrow)]
    pub protocol: Option<Cow<'a, str>>,
}

/// `Network.ResourceTiming`: `request_time` in seconds (monotonic), the rest in milliseconds
/// after it, -1 when a phase did not happen.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTiming {
    pub request_time: f64,
    #[serde(default = "minus_one")]
    pub dns_start: f64,
    #[serde(default = "minus_one")]
    pub dns_end: f64,
    #[serde(default = "minus_one")]
    pub connect_start: f64,
    #[serde(default = "minus_one")]
    pub connect_end: f64,
    #[serde(default = "minus_one")]
    pub ssl_start: f64,
    #[serde(default = "minus_one")]
    pub ssl_end: f64,
    #[serde(default = "minus_one")]
    pub send_start: f64,
    #[serde(default = "minus_one")]
    pub send_end: f64,
    #[serde(default = "minus_one")]
    pub receive_headers_end: f64,
}

fn minus_one() -> f64 {
    -1.0
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ResponseReceived<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default, rename = "type", borrow)]
    pub resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub response: ResponseData<'a>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DataReceived<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub data_length: f64,
    #[serde(default)]
    pub encoded_data_length: f64,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct LoadingFinished<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default)]
    pub encoded_data_length: Option<f64>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct LoadingFailed<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default, borrow)]
    pub error_text: Cow<'a, str>,
    #[serde(default)]
    pub canceled: bool,
    #[serde(default, borrow)]
    pub blocked_reason: Option<Cow<'a, str>>,
    #[serde(default, rename = "type", borrow)]
    pub resource_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RequestId<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RequestExtraInfo<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub headers: Headers<'a>,
    #[serde(default)]
    pub associated_cookies: Vec<AssociatedCookie>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedCookie {
    #[serde(default)]
    pub blocked_reasons: Vec<String>,
    #[serde(default)]
    pub exemption_reason: Option<String>,
    pub cookie: Option<CdpCookie>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CdpCookie {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub expires: Option<f64>,
    #[serde(default)]
    pub http_only: Option<bool>,
    #[serde(default)]
    pub secure: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ResponseExtraInfo<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub headers: Headers<'a>,
    #[serde(default, borrow)]
    pub headers_text: Option<Cow<'a, str>>,
    #[serde(default)]
    pub status_code: Option<f64>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketCreated<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    #[serde(default)]
    pub initiator: Option<Value>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketHandshakeRequest<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default)]
    pub wall_time: Option<f64>,
    #[serde(default, borrow)]
    pub request: Option<WebSocketHeaders<'a>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketHeaders<'a> {
    #[serde(default)]
    pub status: Option<f64>,
    #[serde(default, borrow)]
    pub status_text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub headers: Headers<'a>,
    #[serde(default, borrow)]
    pub headers_text: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketHandshakeResponse<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default, borrow)]
    pub response: WebSocketHeaders<'a>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketFrame<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default, borrow)]
    pub response: Option<WebSocketFrameData<'a>>,
    #[serde(default, borrow)]
    pub error_message: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketFrameData<'a> {
    #[serde(default)]
    pub opcode: f64,
    #[serde(default, borrow)]
    pub payload_data: Cow<'a, str>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Timestamped {
    #[serde(default)]
    pub timestamp: f64,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct FrameNavigated<'a> {
    #[serde(borrow)]
    pub frame: FrameInfo<'a>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct FrameInfo<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub parent_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub url: Cow<'a, str>,
    #[serde(default, borrow)]
    pub loader_id: Cow<'a, str>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct FrameAttached<'a> {
    #[serde(borrow)]
    pub frame_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub parent_frame_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleApiCalled {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub args: Vec<RemoteObject>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default)]
    pub stack_trace: Option<StackTrace>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RemoteObject {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub unserializable_value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl RemoteObject {
    /// How DevTools prints the object in a console line.
    pub fn display(&self) -> String {
        match (&self.value, &self.unserializable_value, &self.description) {
            (Some(Value::String(s)), _, _) => s.clone(),
            (Some(v), _, _) if !v.is_null() || self.kind == "object" => v.to_string(),
            (_, Some(u), _) => u.clone(),
            (_, _, Some(d)) => d.clone(),
            _ => self.kind.clone(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct StackTrace {
    #[serde(default)]
    pub call_frames: Vec<CallFrame>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CallFrame {
    #[serde(default)]
    pub function_name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub line_number: i64,
    #[serde(default)]
    pub column_number: i64,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionThrown {
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: f64,
    pub exception_details: ExceptionDetails,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionDetails {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub line_number: i64,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub exception: Option<RemoteObject>,
    #[serde(default)]
    pub stack_trace: Option<StackTrace>,
}

#[derive(Deserialize, Debug)]
pub struct LogEntryAdded {
    pub entry: LogEntry,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub text: String,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub line_number: Option<i64>,
    #[serde(default)]
    pub stack_trace: Option<StackTrace>,
}
