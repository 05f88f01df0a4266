//! The REST surface: health, tool discovery and calls, tool statistics, sessions, analysis,
//! the OpenAPI document; MCP over streamable HTTP is mounted at `/mcp` in the same router.
//!
//! Every session and analysis route calls the same tool through the registry that MCP
//! calls, so a route and its tool answer the same JSON and validate the same way.

use super::error::ApiError;
use super::registry::{CallContext, ToolOutput};
use super::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use spool_model::ErrorCode;

/// The router of `spool serve`.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let mcp = super::mcp::http_service(state.clone());
    Router::new()
        .route("/health", get(health))
        .route("/api/tools", get(list_tools))
        .route("/api/tools/status", get(tools_status))
        .route("/api/tools/{name}/call", post(call_tool))
        .route("/api/v1/sessions", get(list_sessions))
        .route(
            "/api/v1/sessions/{id}",
            get(get_session).delete(delete_session),
        )
        .route("/api/v1/sessions/{id}/export", get(export_session))
        .route("/api/v1/sessions/{id}/replay", post(replay_session))
        .route("/api/v1/analyze", post(analyze))
        .route("/api/v1/execute", post(execute))
        .route("/api/openapi.json", get(openapi))
        .nest_service("/mcp", mcp)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// With an API token configured, every route but `/health` needs `Authorization: Bearer`.
async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = &state.config.api_token else {
        return next.run(request).await;
    };
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": {
            "code": ErrorCode::InvalidParams.number(),
            "name": "AuthenticationRequired",
            "message": "this server needs `Authorization: Bearer TOKEN`",
            "details": null,
        }})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotFound,
        format!("no route {} {}", request.method(), request.uri().path()),
    )
}

/// Runs a tool for a REST route.
async fn run(state: &AppState, tool: &str, args: Value) -> Result<ToolOutput, ApiError> {
    state
        .registry
        .call(state, tool, args, CallContext::default())
        .await
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let query = spool_store::SessionQuery {
        limit: 1,
        ..Default::default()
    };
    let sessions = tokio::task::spawn_blocking(move || store.list(&query).map(|p| p.total))
        .await
        .map_err(ApiError::internal)??;
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
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let args = json_body(body)?;
    let started = std::time::Instant::now();
    let output = run(&state, &name, args).await?;
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
    Ok(Json(run(&state, "list-sessions", args).await?.structured))
}

async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        run(&state, "get-session", json!({ "sessionId": id }))
            .await?
            .structured,
    ))
}

async fn delete_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        run(&state, "delete-session", json!({ "sessionId": id }))
            .await?
            .structured,
    ))
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
    let output = run(&state, "export-session", args).await?;
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
    Ok(Json(run(&state, "analyze-har", args).await?.structured))
}

/// The body is the `execute-optimally` tool's arguments.
async fn execute(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let args = json_body(body)?;
    Ok(Json(
        run(&state, "execute-optimally", args).await?.structured,
    ))
}

/// The body is the `replay-automation` tool's arguments but `sessionId`, which is the path's.
async fn replay_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut args = json_body(body)?;
    let Value::Object(map) = &mut args else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    map.insert("sessionId".into(), json!(id));
    Ok(Json(
        run(&state, "replay-automation", args).await?.structured,
    ))
}

async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(super::openapi::document(&state.registry))
}
