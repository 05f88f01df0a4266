//! Per-client, per-tool rate limits (`governor`'s GCRA: requests per second plus a burst).
//!
//! The middleware finds the tool a request calls — the tool of a REST route, the `name` of
//! an MCP `tools/call` — and checks the bucket of that (client, tool) pair, so one client
//! hammering `capture-and-analyze` slows neither the other clients nor its own other tools.
//! Requests that call no tool (tool listings, the OpenAPI document, MCP handshakes) share
//! one bucket per client at the default limit; `/health` is never limited.
//!
//! Every limited response carries `X-RateLimit-Limit` (the burst), `X-RateLimit-Remaining`
//! and `X-RateLimit-Reset` (seconds until the bucket is full again); a refused one is a 429
//! `RateLimited` error with `Retry-After`.

use super::auth::ClientIdentity;
use super::config::{RateLimit, RateLimits};
use super::error::ApiError;
use super::state::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde_json::{Value, json};
use spool_model::ErrorCode;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The bucket of requests that call no tool.
pub const NO_TOOL: &str = "(no tool)";

type KeyedLimiter = RateLimiter<
    (String, String),
    DefaultKeyedStateStore<(String, String)>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One limiter per configured limit, keyed by (client, tool).
pub struct RateLimiters {
    per_tool: BTreeMap<String, (RateLimit, KeyedLimiter)>,
    default: (RateLimit, KeyedLimiter),
}

/// What a check decided, in the numbers the response headers carry.
#[derive(Debug, Clone, Copy)]
pub struct RateDecision {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    /// Set when the request is refused: seconds until it would be let in.
    pub retry_after_secs: Option<u64>,
}

fn limiter(limit: RateLimit) -> KeyedLimiter {
    let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
}

impl RateLimiters {
    pub fn new(limits: &RateLimits) -> RateLimiters {
        RateLimiters {
            per_tool: limits
                .per_tool
                .iter()
                .map(|(tool, limit)| (tool.clone(), (*limit, limiter(*limit))))
                .collect(),
            default: (limits.default, limiter(limits.default)),
        }
    }

    /// Takes one request from the (client, tool) bucket, or says how long to wait.
    pub fn check(&self, client: &ClientIdentity, tool: &str) -> RateDecision {
        let (limit, limiter) = self.per_tool.get(tool).unwrap_or(&self.default);
        let key = (client.as_str().to_string(), tool.to_string());
        let burst = limit.burst.get();
        let per_second = f64::from(limit.per_second.get());
        match limiter.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = f64::from(burst.saturating_sub(remaining));
                RateDecision {
                    limit: burst,
                    remaining,
                    reset_secs: (used / per_second).ceil() as u64,
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                let wait = whole_seconds(wait);
                RateDecision {
                    limit: burst,
                    remaining: 0,
                    reset_secs: (f64::from(burst) / per_second).ceil() as u64,
                    retry_after_secs: Some(wait),
                }
            }
        }
    }
}

/// Seconds to wait, rounded up and at least one, so a client that waits them gets in.
fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl RateDecision {
    fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_secs));
        if let Some(wait) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
    }
}

/// The tool a REST route calls (the same tool its handler runs through the registry).
fn rest_tool(method: &Method, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let tool = match (method, parts.as_slice()) {
        (_, ["api", "tools", name, "call"]) => (*name).to_string(),
        (&Method::GET, ["api", "v1", "sessions"]) => "list-sessions".into(),
        (&Method::GET, ["api", "v1", "sessions", _]) => "get-session".into(),
        (&Method::DELETE, ["api", "v1", "sessions", _]) => "delete-session".into(),
        (&Method::GET, ["api", "v1", "sessions", _, "export"]) => "export-session".into(),
        (&Method::POST, ["api", "v1", "analyze"]) => "analyze-har".into(),
        (&Method::POST, ["api", "v1", "execute"]) => "execute-optimally".into(),
        (&Method::POST, ["api", "v1", "batch"]) => "batch-execute".into(),
        (&Method::POST, ["api", "v1", "sessions", _, "replay"]) => "replay-automation".into(),
        (&Method::POST, ["api", "v1", "sessions"]) => "record-session".into(),
        (&Method::GET, ["api", "v1", "sessions", _, "recording"]) => "get-recording-status".into(),
        (&Method::POST, ["api", "v1", "sessions", _, "stop"]) => "stop-recording".into(),
        _ => return None,
    };
    Some(tool)
}

/// The tool an MCP message calls: `params.name` of a `tools/call` request.
fn mcp_tool(body: &[u8]) -> Option<String> {
    let message: Value = serde_json::from_slice(body).ok()?;
    if message.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    Some(message.pointer("/params/name")?.as_str()?.to_string())
}

/// Middleware: limits every request but `/health` by (client, tool), when limits are on.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.config.rate_limits || request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let mut client = request
        .extensions()
        .get::<ClientIdentity>()
        .cloned()
        .unwrap_or_else(ClientIdentity::anonymous);
    // Without credentials every caller is anonymous; its address keeps one caller's burst
    // from spending the others' budget.
    if client == ClientIdentity::anonymous()
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        client = ClientIdentity(format!("anonymous@{}", peer.ip()));
    }
    let (request, tool) = if request.uri().path().starts_with("/mcp") {
        // The tool is inside the JSON-RPC body: read it (bounded by the body limit, as
        // rmcp would) and hand the same bytes on.
        let (parts, body) = request.into_parts();
        let bytes = match to_bytes(body, state.config.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return ApiError::new(ErrorCode::TooLarge, "request body is over the size limit")
                    .into_response();
            }
        };
        let tool = mcp_tool(&bytes);
        (Request::from_parts(parts, Body::from(bytes)), tool)
    } else {
        let tool = rest_tool(request.method(), request.uri().path());
        (request, tool)
    };
    let tool = tool.unwrap_or_else(|| NO_TOOL.to_string());
    let decision = state.limiters.check(&client, &tool);
    if let Some(wait) = decision.retry_after_secs {
        metrics::counter!("spool_rate_limited_total", "tool" => tool.clone()).increment(1);
        let mut response = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many calls of {tool}: the limit is {} in a burst; retry in {wait} s",
                decision.limit
            ),
        )
        .with_details(json!({ "tool": tool, "retryAfter": wait, "limit": decision.limit }))
        .into_response();
        decision.write_headers(response.headers_mut());
        return response;
    }
    let mut response = next.run(request).await;
    decision.write_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_their_tools() {
        assert_eq!(
            rest_tool(&Method::POST, "/api/tools/capture-and-analyze/call").as_deref(),
            Some("capture-and-analyze")
        );
        assert_eq!(
            rest_tool(&Method::GET, "/api/v1/sessions").as_deref(),
            Some("list-sessions")
        );
        assert_eq!(rest_tool(&Method::GET, "/api/tools"), None);
        let call =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-session"}}"#;
        assert_eq!(mcp_tool(call).as_deref(), Some("get-session"));
        assert_eq!(mcp_tool(br#"{"method":"tools/list"}"#), None);
    }

    #[test]
    fn a_burst_over_the_limit_is_refused_for_that_client_and_tool_only() {
        let limiters = RateLimiters::new(&RateLimits::default());
        let alice = ClientIdentity("key:alice".into());
        let bob = ClientIdentity("key:bob".into());
        let mut refused = None;
        for _ in 0..6 {
            let d = limiters.check(&alice, "capture-and-analyze");
            if d.retry_after_secs.is_some() {
                refused = Some(d);
            }
        }
        let refused = refused.unwrap_or_else(|| panic!("the sixth call in a burst of 5 passed"));
        assert_eq!((refused.limit, refused.remaining), (5, 0));
        assert!(
            limiters
                .check(&bob, "capture-and-analyze")
                .retry_after_secs
                .is_none()
        );
        assert!(
            limiters
                .check(&alice, "list-sessions")
                .retry_after_secs
                .is_none()
        );
    }
}
