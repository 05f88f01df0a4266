//! The analysis result, serialized with the spec's camelCase names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::endpoints::{Endpoint, ResponseShape};
pub use crate::filter::{DropCategory, Dropped, EntryKind};
use crate::plan::ApiPlan;

/// How the task should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Plain HTTP requests, no browser.
    Integuru,
    /// A headless browser (page-computed values, rendering).
    HeadlessCdp,
    /// A person must act (captcha, 2FA/OTP, WebAuthn, bot challenge).
    VisibleBrowser,
}

impl Modality {
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Integuru => "integuru",
            Modality::HeadlessCdp => "headless_cdp",
            Modality::VisibleBrowser => "visible_browser",
        }
    }
}

/// Everything `analyze` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub integuru_analysis: InteguruAnalysis,
    /// `null` when the HAR holds no API call to run.
    pub recommended_modality: Option<Modality>,
    pub confidence: f64,
    /// Seconds, from the recorded timings.
    pub estimated_time: f64,
    /// The evidence behind the recommendation.
    pub reasoning: String,
    pub summary: Summary,
    pub target: Option<Target>,
    /// The target and its ancestors in the dependency graph, in time order.
    pub chain: Vec<ChainStep>,
    /// The endpoint inventory.
    pub endpoints: Vec<Endpoint>,
    pub graph: Graph,
    /// Request values no earlier response produced.
    pub unresolved: Vec<Unresolved>,
    pub markers: Vec<Marker>,
    pub dropped: Vec<Dropped>,
    pub warnings: Vec<String>,
    /// The chain as a plan the engine can execute (also what the scripts are made from).
    pub plan: ApiPlan,
}

/// The spec's `integuruAnalysis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteguruAnalysis {
    pub confidence: f64,
    pub complexity: Complexity,
    /// The Python script, when the recommendation is `integuru`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub generated_code: Option<String>,
    pub api_endpoints: Vec<ApiEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Complexity {
    /// 0 (trivial) to 1 (hard without a browser).
    pub score: f64,
    /// Longest dependency path into the target, in edges.
    pub api_depth: usize,
    pub authentication_required: bool,
    pub dynamic_content: bool,
}

/// A chain endpoint as the spec lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    pub url: String,
    pub method: String,
    /// Location → `{ in, type, source }`.
    pub parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub entries: usize,
    pub kept: usize,
    pub dropped: usize,
    pub documents: usize,
    pub api_calls: usize,
    pub websockets: usize,
    pub response_bodies: usize,
    /// From the first request's start to the last response's end, in ms.
    pub duration_ms: f64,
}

/// The request(s) that accomplish the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub endpoint: String,
    /// `explicit`, `task`, `lastStateChanging`, `lastDataRequest` or `lastDocument`.
    pub selected_by: String,
    pub reason: String,
    /// Other entries that matched as well.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub alternatives: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainStep {
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub endpoint: String,
    /// Entries whose responses this request uses.
    pub depends_on: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A kept entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// The HAR entry index.
    pub id: usize,
    pub method: String,
    pub url: String,
    pub endpoint: String,
    pub kind: EntryKind,
    pub status: i64,
    pub in_chain: bool,
}

/// "The value at `fromLocation` of the response of `from` is used at `toLocation` of the
/// request of `to`."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub from: usize,
    pub from_location: String,
    pub to: usize,
    pub to_location: String,
    /// `json->header`, `set-cookie->cookie`, ...
    pub kind: String,
    /// A preview of the value (secrets masked).
    pub value: String,
    /// How it matched: the request value's form and exact/contained.
    pub evidence: String,
}

/// What an unresolved value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UnresolvedKind {
    /// The person typed it (action stream, task, explicit input) or the field asks for it.
    UserInput,
    /// Computed by page JavaScript.
    Computed,
    /// A cookie that no recorded response set (it was in the browser already).
    BrowserState,
    /// A literal of the page or app.
    Constant,
}

/// How a computed value can be made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ComputedKind {
    /// Current time in milliseconds.
    TimestampMs,
    /// Current time in seconds.
    TimestampS,
    /// A random UUID.
    Uuid,
    /// Opaque (signature, nonce, hash): only the page can make it.
    Opaque,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unresolved {
    pub entry: usize,
    pub location: String,
    pub kind: UnresolvedKind,
    /// The input name for `userInput` / `browserState`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub computed: Option<ComputedKind>,
    pub secret: bool,
    pub in_chain: bool,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// `captcha`, `bot_challenge`, `otp`, `webauthn`.
    pub kind: String,
    pub entry: usize,
    pub place: String,
    pub pattern: String,
    pub in_chain: bool,
}
