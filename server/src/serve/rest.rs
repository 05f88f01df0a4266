//! The REST surface: health, tool discovery and calls, tool statistics, sessions, analysis,
//! the OpenAPI document; MCP over streamable HTTP is mounted at `/mcp` in the same router.
//!
//! Every session and analysis route calls the same tool through the registry that MCP
//! calls, so a route and its tool answer the same JSON and validate the same way.

use super::auth::ClientIdentity;
use super::error::ApiError;
use super::registry::{CallContext, ToolOutput};
use super::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use spool_model::ErrorCode;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The router of `spool serve`.
///
/// A request passes, outermost first: a request id (`x-request-id`, made when the client
/// sent none) and its tracing span, CORS for the configured origins, authentication, the
/// rate limit, then the route's own timeout and body limit. The id is returned on every
/// response, errors from the outer layers included.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let mcp = super::mcp::http_service(state.clone());
    let quick = Router::new()
        .route("/api/tools", get(list_tools))
        .route("/api/tools/status", get(tools_status))
        .route("/api/v1/sessions", get(list_sessions))
        .route(
            "/api/v1/sessions/{id}",
            get(get_session).delete(delete_session),
        )
        .route("/api/v1/sessions/{id}/export", get(export_session))
        .route(
            "/api/v1/sessions/{id}/report",
            get(super::report::session_report),
        )
        .route("/sessions/{id}/report", get(super::report::session_report))
        .route(
            "/api/v1/sessions/{id}/entries/{index}/body",
            get(super::report::entry_body),
        )
        .route(
            "/api/v1/sessions/{id}/screenshots/{index}",
            get(super::report::screenshot),
        )
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(super::metrics::render))
        .route_layer(middleware::from_fn_with_state(
            state.config.request_timeout,
            time_limit,
        ));
    let tools = Router::new()
        .route("/api/tools/{name}/call", post(call_tool))
        .route("/api/v1/analyze", post(analyze))
        .route("/api/v1/execute", post(execute))
        .route("/api/v1/batch", post(batch))
        .route("/api/v1/sessions/{id}/replay", post(replay_session))
        .route("/api/v1/sessions", post(record_session))
        .route("/api/v1/sessions/{id}/recording", get(recording_status))
        .route("/api/v1/sessions/{id}/stop", post(stop_recording))
        .route_layer(middleware::from_fn_with_state(
            state.config.tool_timeout,
            time_limit,
        ));
    // Streams: no route timeout (a subscriber follows a recording for as long as it runs).
    let streams = Router::new()
        .route("/api/v1/sessions/{id}/events", get(super::events::sse))
        .route("/ws", get(super::events::websocket));
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::auth::check_host_and_origin,
        ));
    let request_id = HeaderName::from_static(REQUEST_ID);
    Router::new()
        .route("/health", get(health))
        .merge(quick)
        .merge(tools)
        .merge(streams)
        .merge(mcp)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::limits::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::auth::authenticate,
        ))
        .layer(cors(&state.config.cors_origins))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The header that carries a request's id, both ways.
const REQUEST_ID: &str = "x-request-id";

/// The tracing span of one request; every log line of the request (its audit line too)
/// carries its id. `spool serve` enables the target `spool::request` by default.
fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        target: "spool::request",
        "request",
        request_id = id,
        method = %request.method(),
        path = request.uri().path(),
    )
}

/// CORS for the configured browser origins (`*` allows any); none configured, no CORS
/// headers are sent and browsers keep pages of other sites out.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
        ])
        .expose_headers([
            HeaderName::from_static(REQUEST_ID),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("mcp-session-id"),
            header::RETRY_AFTER,
        ]);
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(list))
}

/// A route's deadline. tower-http's `TimeoutLayer` answers with an empty body; this one
/// answers with the server's `Timeout` error, so every error has the same shape.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::Timeout,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// The caller's identity as authentication left it in the request.
struct Caller(Option<ClientIdentity>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, Self::Rejection> {
        Ok(Caller(parts.extensions.get::<ClientIdentity>().cloned()))
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotFound,
        format!("no route {} {}", request.method(), request.uri().path()),
    )
}

/// Runs a tool for a REST route, on behalf of the caller.
async fn run(
    state: &AppState,
    caller: Caller,
    tool: &str,
    args: Value,
) -> Result<ToolOutput, ApiError> {
    let ctx = CallContext {
        client: caller.0,
        surface: "rest",
        ..CallContext::default()
    };
    state.registry.call(state, tool, args, ctx).await
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let sessions = state.store.session_count();
    Ok(Json(json!({
        "status": "healthy",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime": state.started.elapsed().as_secs_f64(),
        "timestamp": jiff::Timestamp::now().to_string(),
        "pool": {
            "maxBrowsers": state.config.max_browsers,
            "stats": state.pool.stats(),
            "runningCaptures": state.running_captures(),
            "liveSessions": state.live.len(),
        },
        "store": {
            "path": state.store.dir(),
            "sessions": sessions,
        },
    })))
}

async fn list_tools(State(state): State<AppState>) -> Json<Value> {
    let (stats, _) = state.registry.status();
    let tools: Vec<Value> = state
        .registry
        .tools()
        .iter()
        .map(|t| {
            let s = stats.get(t.name).cloned().unwrap_or_default();
            json!({
                "name": t.name,
                "description": t.description,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
                "callCount": s.calls,
                "lastCalled": s.last_called,
            })
        })
        .collect();
    Json(json!({
        "protocol": "MCP",
        "server": "spool",
        "version": env!("CARGO_PKG_VERSION"),
        "toolCount": tools.len(),
        "tools": tools,
        "timestamp": jiff::Timestamp::now().to_string(),
    }))
}

async fn tools_status(State(state): State<AppState>) -> Json<Value> {
    let (stats, recent) = state.registry.status();
    let total: u64 = stats.values().map(|s| s.calls).sum();
    let usage: Vec<Value> = stats
        .iter()
        .map(|(name, s)| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert("name".into(), json!(name));
            }
            v
        })
        .collect();
    Json(json!({
        "protocolStatus": {
            "version": env!("CARGO_PKG_VERSION"),
            "healthy": true,
            "lastActivity": recent.first().map(|e| e.timestamp.clone()),
        },
        "executionStats": {
            "totalTools": stats.len(),
            "totalExecutions": total,
            "toolUsage": usage,
            "recentExecutions": recent,
        },
        "timestamp": jiff::Timestamp::now().to_string(),
    }))
}

/// A JSON body, or the error the spec gives: 413 over the limit, 400 when not JSON.
fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(body_error)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidParams,
            format!("invalid request body: not JSON ({e})"),
        )
    })
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::TooLarge, "request body is over the size limit")
    } else {
        ApiError::new(
            ErrorCode::InvalidParams,
            format!("unreadable request body: {rejection}"),
        )
    }
}

async fn call_tool(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let args = json_body(body)?;
    let started = std::time::Instant::now();
    let output = run(&state, caller, &name, args).await?;
    Ok(Json(json!({
        "success": true,
        "toolName": name,
        "timestamp": jiff::Timestamp::now().to_string(),
        "executionTime": started.elapsed().as_secs_f64() * 1000.0,
        "result": output.structured,
    })))
}

/// Query parameters arrive as text; numbers and booleans become JSON numbers and booleans
/// so the tool's schema judges them (a word where a number belongs is named as such).
fn query_args(pairs: &[(&str, Option<&String>)]) -> Value {
    let mut args = Map::new();
    for (name, value) in pairs {
        let Some(value) = value else { continue };
        let parsed = if let Ok(n) = value.parse::<i64>() {
            json!(n)
        } else if let Ok(b) = value.parse::<bool>() {
            json!(b)
        } else {
            json!(value)
        };
        args.insert((*name).to_string(), parsed);
    }
    Value::Object(args)
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    task: Option<String>,
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
}

async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut args = query_args(&[("limit", q.limit.as_ref()), ("offset", q.offset.as_ref())]);
    if let Value::Object(map) = &mut args {
        for (name, value) in [
            ("taskDescription", &q.task),
            ("startDate", &q.from),
            ("endDate", &q.to),
            ("status", &q.status),
        ] {
            if let Some(v) = value {
                map.insert(name.into(), json!(v));
            }
        }
    }
    Ok(Json(
        run(&state, caller, "list-sessions", args).await?.structured,
    ))
}

async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    session_tool(&state, caller, "get-session", &id).await
}

async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    session_tool(&state, caller, "delete-session", &id).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportQuery {
    format: Option<String>,
    include_screenshots: Option<String>,
    include_network_data: Option<String>,
    include_secrets: Option<String>,
}

/// The exported document itself, as a download.
async fn export_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let mut args = query_args(&[
        ("includeScreenshots", q.include_screenshots.as_ref()),
        ("includeNetworkData", q.include_network_data.as_ref()),
        ("includeSecrets", q.include_secrets.as_ref()),
    ]);
    if let Value::Object(map) = &mut args {
        map.insert("sessionId".into(), json!(id));
        if let Some(f) = &q.format {
            map.insert("format".into(), json!(f));
        }
    }
    let output = run(&state, caller, "export-session", args).await?;
    let Some(doc) = output.resources.into_iter().next() else {
        return Err(ApiError::internal("the export produced no document"));
    };
    let extension = if doc.mime_type.contains("har") {
        "har"
    } else {
        "json"
    };
    let disposition = format!("attachment; filename=\"{id}.{extension}\"");
    Ok((
        [
            (header::CONTENT_TYPE, doc.mime_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        doc.text,
    )
        .into_response())
}

#[derive(Deserialize)]
struct AnalyzeQuery {
    task: Option<String>,
    target: Option<String>,
}

/// The body is a HAR document; `?task=` and `?target=` steer the analysis.
async fn analyze(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AnalyzeQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let bytes = body.map_err(body_error)?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
        ApiError::new(
            ErrorCode::HarFileInvalid,
            format!("invalid HAR: not UTF-8 text ({e})"),
        )
    })?;
    let mut args = json!({ "har": text });
    if let Some(task) = q.task {
        args["taskDescription"] = json!(task);
    }
    if let Some(target) = q.target {
        args["target"] = json!(target);
    }
    Ok(Json(
        run(&state, caller, "analyze-har", args).await?.structured,
    ))
}

/// The body is the `execute-optimally` tool's arguments.
async fn execute(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    body_tool(&state, caller, "execute-optimally", body).await
}

/// The body is the `batch-execute` tool's arguments (`maxConcurrency` above 1 runs the
/// operations in parallel).
async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    body_tool(&state, caller, "batch-execute", body).await
}

/// The body is the `replay-automation` tool's arguments but `sessionId`, which is the path's.
async fn replay_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut args = json_body(body)?;
    let Value::Object(map) = &mut args else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    map.insert("sessionId".into(), json!(id));
    Ok(Json(
        run(&state, caller, "replay-automation", args)
            .await?
            .structured,
    ))
}

/// `POST /api/v1/sessions`: starts a recording (`record-session`).
async fn record_session(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    body_tool(&state, caller, "record-session", body).await
}

/// `GET /api/v1/sessions/{id}/recording`: a recording's status (`get-recording-status`).
async fn recording_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    session_tool(&state, caller, "get-recording-status", &id).await
}

/// `POST /api/v1/sessions/{id}/stop`: stops a recording (`stop-recording`).
async fn stop_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    session_tool(&state, caller, "stop-recording", &id).await
}

/// A route whose JSON body is the tool's arguments.
async fn body_tool(
    state: &AppState,
    caller: Caller,
    tool: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let args = json_body(body)?;
    Ok(Json(run(state, caller, tool, args).await?.structured))
}

/// A route whose only argument is the session id in its path.
async fn session_tool(
    state: &AppState,
    caller: Caller,
    tool: &str,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    let args = json!({ "sessionId": id });
    Ok(Json(run(state, caller, tool, args).await?.structured))
}

async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(super::openapi::document(&state.registry))
}
