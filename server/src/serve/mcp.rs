//! MCP over `rmcp`: the registry's tools, and stored sessions as resources
//! (`spool://sessions/{id}`, `…/har`, `…/screenshots/{n}`). The same handler serves stdio
//! and streamable HTTP.
//!
//! Results carry `structuredContent` (matching the tool's output schema) and the same JSON
//! as text; images and documents follow as image and embedded-resource content. Failures are
//! `isError` results whose JSON holds the spec's `code`, `message`, `details`, `tool` and
//! `timestamp`. A call with a progress token gets progress notifications; a cancelled call
//! stops its work and keeps what was captured.

use super::auth::ClientIdentity;
use super::error::ApiError;
use super::registry::{CallContext, ProgressUpdate, ToolOutput};
use super::state::AppState;
use super::tools::sessions::{ExportFormat, export_document};
use base64::Engine as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorCode as McpCode, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use spool_model::ErrorCode;
use spool_store::{ExportOptions, SessionQuery, Uuid};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Sessions `resources/list` shows (newest first); older ones stay readable by URI.
const LISTED_SESSIONS: usize = 100;

#[derive(Clone)]
pub struct McpServer {
    state: AppState,
}

impl McpServer {
    pub fn new(state: AppState) -> McpServer {
        McpServer { state }
    }
}

/// MCP over streamable HTTP, mounted at `/mcp`. It stops taking requests on shutdown.
pub fn http_service(state: AppState) -> StreamableHttpService<McpServer, LocalSessionManager> {
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = state.shutdown.child_token();
    config.max_request_body_bytes = state.config.max_body_bytes;
    // The Host/Origin allow-list is checked in front of this service by
    // `auth::check_host_and_origin`, which answers in the server's one error shape.
    config = config.disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(McpServer::new(state.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// A result built from its JSON form (the wire format is the stable contract).
fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

fn success(output: &ToolOutput) -> Result<CallToolResult, ErrorData> {
    let mut content = vec![json!({
        "type": "text",
        "text": serde_json::to_string(&output.structured).unwrap_or_default(),
    })];
    for image in &output.images {
        content.push(json!({ "type": "image", "data": image.data, "mimeType": image.mime_type }));
    }
    for doc in &output.resources {
        content.push(json!({
            "type": "resource",
            "resource": { "uri": doc.uri, "mimeType": doc.mime_type, "text": doc.text },
        }));
    }
    from_json(json!({
        "content": content,
        "structuredContent": output.structured,
        "isError": false,
    }))
}

fn failure(error: &ApiError, tool: &str) -> Result<CallToolResult, ErrorData> {
    from_json(json!({
        "content": [{ "type": "text", "text": error.mcp_body(tool).to_string() }],
        "isError": true,
    }))
}

fn resource_error(error: ApiError) -> ErrorData {
    ErrorData::new(
        McpCode(error.code.number()),
        error.message.clone(),
        Some(error.rest_body()["error"].clone()),
    )
}

/// `spool://sessions/{id}[/har | /screenshots/{n}]`.
enum ResourcePath {
    Session(Uuid),
    Har(Uuid),
    Screenshot(Uuid, usize),
}

fn parse_uri(uri: &str) -> Result<ResourcePath, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidParams,
            format!("invalid uri: {uri:?} is not spool://sessions/{{id}}[/har|/screenshots/{{n}}]"),
        )
    };
    let rest = uri.strip_prefix("spool://sessions/").ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let id = parts
        .next()
        .and_then(|p| Uuid::parse_str(p).ok())
        .ok_or_else(bad)?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Ok(ResourcePath::Session(id)),
        (Some("har"), None, _) => Ok(ResourcePath::Har(id)),
        (Some("screenshots"), Some(n), None) => {
            Ok(ResourcePath::Screenshot(id, n.parse().map_err(|_| bad())?))
        }
        _ => Err(bad()),
    }
}

impl McpServer {
    fn read(&self, uri: &str) -> Result<Value, ApiError> {
        let state = &self.state;
        let redacted = ExportOptions::default();
        let content = match parse_uri(uri)? {
            ResourcePath::Session(id) => {
                let options = ExportOptions {
                    include_screenshots: false,
                    ..redacted
                };
                let (text, mime) = export_document(state, id, ExportFormat::Json, &options)?;
                json!({ "uri": uri, "mimeType": mime, "text": text })
            }
            ResourcePath::Har(id) => {
                let (text, mime) = export_document(state, id, ExportFormat::Har, &redacted)?;
                json!({ "uri": uri, "mimeType": mime, "text": text })
            }
            ResourcePath::Screenshot(id, n) => {
                let session = state.store.get(id)?;
                let shot = session.screenshots.get(n).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidParams,
                        format!(
                            "invalid uri: session {id} has {} screenshots",
                            session.screenshots.len()
                        ),
                    )
                })?;
                json!({
                    "uri": uri,
                    "mimeType": format!("image/{}", shot.format.extension()),
                    "blob": base64::engine::general_purpose::STANDARD.encode(&shot.data),
                })
            }
        };
        Ok(json!({ "contents": [content] }))
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        );
        info.server_info = Implementation::new("spool", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Spool records browser sessions and finds the API calls a task needs. Call \
             capture-and-analyze with a targetUrl and a taskDescription; the returned sessionId \
             works with get-session, export-session and analyze-har. Stored sessions are \
             resources at spool://sessions/{id} (and /har)."
                .into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools: Vec<Value> = self
            .state
            .registry
            .tools()
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "inputSchema": t.input_schema,
                    "outputSchema": t.output_schema,
                })
            })
            .collect();
        from_json(json!({ "tools": tools }))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let args = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        // Over HTTP, rmcp hands over the request's parts, where authentication left the
        // caller's identity; over stdio there is none (the local user).
        let client = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<ClientIdentity>())
            .cloned();
        let mut ctx = CallContext {
            cancel: context.ct.clone(),
            progress: None,
            client,
            surface: "mcp",
        };
        let forwarder = context.meta.get_progress_token().map(|token| {
            let (tx, mut rx) = mpsc::unbounded_channel::<ProgressUpdate>();
            ctx.progress = Some(tx);
            let peer = context.peer.clone();
            tokio::spawn(async move {
                while let Some(update) = rx.recv().await {
                    let mut param = ProgressNotificationParam::new(token.clone(), update.progress)
                        .with_message(update.message);
                    if let Some(total) = update.total {
                        param = param.with_total(total);
                    }
                    if peer.notify_progress(param).await.is_err() {
                        break;
                    }
                }
            })
        });
        let result = self
            .state
            .registry
            .call(&self.state, &name, args, ctx)
            .await;
        if let Some(task) = forwarder {
            // The sender is gone with the context; let the last updates go out first.
            let _ = task.await;
        }
        let result = match result {
            Ok(output) => success(&output)?,
            Err(error) => failure(&error, &name)?,
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let store = self.state.store.clone();
        let page = tokio::task::spawn_blocking(move || {
            store.list(&SessionQuery {
                limit: LISTED_SESSIONS,
                ..Default::default()
            })
        })
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
        .map_err(|e| resource_error(e.into()))?;
        let mut resources = Vec::new();
        for m in &page.sessions {
            let uri = super::tools::session_uri(&m.session_id.to_string());
            let title = if m.task_description.is_empty() {
                m.start_url.clone().unwrap_or_default()
            } else {
                m.task_description.clone()
            };
            resources.push(json!({
                "uri": uri,
                "name": format!("session {}", m.session_id),
                "description": format!("{title} ({}, {} requests)", m.status.as_str(), m.network_event_count),
                "mimeType": "application/json",
            }));
            resources.push(json!({
                "uri": format!("{uri}/har"),
                "name": format!("session {} HAR", m.session_id),
                "description": format!("{title}: HAR 1.2, credentials redacted"),
                "mimeType": "application/har+json",
            }));
        }
        from_json(json!({ "resources": resources }))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        from_json(json!({ "resourceTemplates": [
            { "uriTemplate": "spool://sessions/{id}", "name": "session",
              "description": "A stored session as JSON (metadata, HAR, console, actions)",
              "mimeType": "application/json" },
            { "uriTemplate": "spool://sessions/{id}/har", "name": "session HAR",
              "description": "A stored session as HAR 1.2", "mimeType": "application/har+json" },
            { "uriTemplate": "spool://sessions/{id}/screenshots/{n}", "name": "screenshot",
              "description": "The n-th screenshot of a session (from 0)" },
        ]}))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let server = self.clone();
        let uri = request.uri.clone();
        let contents = tokio::task::spawn_blocking(move || server.read(&uri))
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
            .map_err(resource_error)?;
        let result: ReadResourceResult = from_json(contents)?;
        Ok(result.into())
    }
}
