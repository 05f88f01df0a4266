//! HAR 1.2 with every custom field kept.
//!
//! The `har` crate models HAR 1.2 faithfully but drops fields it does not know, and Chrome,
//! chrome-har, Playwright and Spool itself put real information into `_`-prefixed fields
//! (`_resourceType`, `_initiator`, `_transferSize`, `_error`, `_webSocketMessages`, ...).
//! These types mirror the spec object by object and add a flattened [`Custom`] map at every
//! level, so an imported file exports again with nothing lost. The `har` crate is still used in
//! tests as an independent reader of what we write.
//!
//! Parsing is lenient where real-world files commonly omit required fields (arrays, sizes,
//! `httpVersion`, `cache`, `timings`), and strict where an entry would be meaningless without
//! the field (`request.method`, `request.url`, `response.status`). [`Har::from_slice`] names
//! the path of the first error, e.g. `log.entries[3].request.url`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Fields a HAR object carries beyond the spec, kept verbatim (usually `_`-prefixed).
pub type Custom = BTreeMap<String, Value>;

/// A whole HAR document: `{"log": {...}}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Har {
    pub log: Log,
    #[serde(flatten)]
    pub custom: Custom,
}

/// Why a HAR document could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid HAR at {path}: {message}")]
pub struct HarParseError {
    /// Where the problem is, as a path into the document (`log.entries[3].request.url`).
    pub path: String,
    /// What serde said was wrong there.
    pub message: String,
    /// Line and column in the input, when known.
    pub line: usize,
    pub column: usize,
}

impl Har {
    /// Parses a HAR document, naming the path of the first problem on failure.
    pub fn from_slice(bytes: &[u8]) -> Result<Har, HarParseError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let result: Result<Har, _> = serde_path_to_error::deserialize(&mut de);
        let har = result.map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            HarParseError {
                path: if path == "." {
                    "the document".into()
                } else {
                    path
                },
                message: inner.to_string(),
                line: inner.line(),
                column: inner.column(),
            }
        })?;
        de.end().map_err(|e| HarParseError {
            path: "the document".into(),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        Ok(har)
    }

    /// A new, empty HAR 1.2 log created by Spool.
    pub fn new_spool() -> Har {
        Har {
            log: Log {
                version: "1.2".into(),
                creator: Creator {
                    name: "spool".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            custom: Custom::new(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default)]
    pub creator: Creator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Creator>,
    #[serde(default)]
    pub pages: Vec<Page>,
    pub entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

fn default_version() -> String {
    "1.2".into()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Creator {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub started_date_time: String,
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub page_timings: PageTimings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

/// Page load milestones in milliseconds since the page's `startedDateTime`; -1 when unknown.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PageTimings {
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub on_content_load: f64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub on_load: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

impl Default for PageTimings {
    fn default() -> Self {
        PageTimings {
            on_content_load: -1.0,
            on_load: -1.0,
            comment: None,
            custom: Custom::new(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pageref: Option<String>,
    pub started_date_time: String,
    /// Total elapsed time of the request in milliseconds (the sum of the non-negative timings).
    #[serde(default, deserialize_with = "null_as_zero")]
    pub time: f64,
    pub request: Request,
    pub response: Response,
    #[serde(default)]
    pub cache: Cache,
    #[serde(default)]
    pub timings: Timings,
    #[serde(
        default,
        rename = "serverIPAddress",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub query_string: Vec<QueryParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    #[serde(default = "minus_one_i64")]
    pub headers_size: i64,
    #[serde(default = "minus_one_i64")]
    pub body_size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: i64,
    #[serde(default)]
    pub status_text: String,
    #[serde(default)]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub content: Content,
    #[serde(default, rename = "redirectURL")]
    pub redirect_url: String,
    #[serde(default = "minus_one_i64")]
    pub headers_size: i64,
    #[serde(default = "minus_one_i64")]
    pub body_size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(default)]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<i64>,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `"base64"` when `text` holds base64 of a binary body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Header {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
            ..Default::default()
        }
    }
}

/// One `name=value` pair of a URL's query string.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct QueryParam {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    #[serde(default)]
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

/// One field of a posted form.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Param {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Cache {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

/// Phases of a request in milliseconds, as HAR 1.2 defines them: `ssl` is included in
/// `connect`, and -1 marks a phase that does not apply.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Timings {
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub blocked: f64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub dns: f64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub connect: f64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub send: f64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub wait: f64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub receive: f64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub ssl: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub custom: Custom,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            blocked: -1.0,
            dns: -1.0,
            connect: -1.0,
            send: 0.0,
            wait: 0.0,
            receive: 0.0,
            ssl: -1.0,
            comment: None,
            custom: Custom::new(),
        }
    }
}

impl Timings {
    /// The entry's total time: the sum of every phase that applies, `ssl` excluded because
    /// it is already part of `connect`.
    pub fn total(&self) -> f64 {
        [
            self.blocked,
            self.dns,
            self.connect,
            self.send,
            self.wait,
            self.receive,
        ]
        .iter()
        .filter(|v| **v > 0.0)
        .sum()
    }
}

impl Entry {
    /// The value of a custom field such as `_resourceType`.
    pub fn custom_str(&self, key: &str) -> Option<&str> {
        self.custom.get(key).and_then(Value::as_str)
    }
}

/// The first header with this name, compared case-insensitively.
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn minus_one() -> f64 {
    -1.0
}

fn minus_one_i64() -> i64 {
    -1
}

fn null_as_minus_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(-1.0))
}

fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(0.0))
}
