//! The OpenAPI 3.1 document of the REST surface, generated from the route table below and
//! the tools' own schemas, so a changed tool changes the document with it.

use super::registry::Registry;
use serde_json::{Map, Value, json};

/// One REST route: method, path, the tool it calls (whose schemas describe it), a summary.
struct Route {
    method: &'static str,
    path: &'static str,
    tool: Option<&'static str>,
    summary: &'static str,
    parameters: &'static [(&'static str, &'static str, &'static str, bool)],
    body: Body,
    response: Response,
}

enum Body {
    None,
    /// Any JSON object (a tool's arguments).
    AnyJson,
    /// A HAR document.
    Har,
}

enum Response {
    /// The tool's output schema.
    ToolOutput,
    /// A JSON object described in words.
    Json,
    /// A document download (HAR or JSON).
    Download,
    /// Prometheus text.
    Metrics,
    /// Server-Sent Events.
    EventStream,
    /// The session report: one self-contained HTML page.
    Html,
    /// A recorded body or screenshot as it was recorded (redacted as exports redact).
    Bytes,
}

const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/health",
        tool: None,
        summary: "Server health: status, version, uptime, browser and store counts",
        parameters: &[],
        body: Body::None,
        response: Response::Json,
    },
    Route {
        method: "get",
        path: "/api/tools",
        tool: None,
        summary: "Tool discovery: every tool with its input and output schemas",
        parameters: &[],
        body: Body::None,
        response: Response::Json,
    },
    Route {
        method: "get",
        path: "/api/tools/status",
        tool: None,
        summary: "Per tool: calls, successes, failures, average time; recent executions",
        parameters: &[],
        body: Body::None,
        response: Response::Json,
    },
    Route {
        method: "post",
        path: "/api/tools/{name}/call",
        tool: None,
        summary: "Call any tool; the body is its arguments, validated against its input schema",
        parameters: &[("name", "path", "The tool's name", true)],
        body: Body::AnyJson,
        response: Response::Json,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions",
        tool: Some("list-sessions"),
        summary: "Stored sessions, newest first",
        parameters: &[
            (
                "limit",
                "query",
                "Sessions per page (1-1000, default 50)",
                false,
            ),
            ("offset", "query", "Sessions to skip (default 0)", false),
            (
                "task",
                "query",
                "Words that must appear in the task description",
                false,
            ),
            (
                "from",
                "query",
                "Started on or after (YYYY-MM-DD or RFC 3339)",
                false,
            ),
            (
                "to",
                "query",
                "Started on or before (YYYY-MM-DD or RFC 3339)",
                false,
            ),
            (
                "status",
                "query",
                "RECORDING, COMPLETED, STOPPED, ERROR or INTERRUPTED",
                false,
            ),
        ],
        body: Body::None,
        response: Response::ToolOutput,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}",
        tool: Some("get-session"),
        summary: "A stored session's metadata",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::None,
        response: Response::ToolOutput,
    },
    Route {
        method: "delete",
        path: "/api/v1/sessions/{id}",
        tool: Some("delete-session"),
        summary: "Delete a stored session",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::None,
        response: Response::ToolOutput,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}/export",
        tool: Some("export-session"),
        summary: "Download a session as HAR 1.2 or as the whole session in JSON",
        parameters: &[
            ("id", "path", "The session id", true),
            ("format", "query", "har or json (default json)", false),
            (
                "includeScreenshots",
                "query",
                "true or false (default true)",
                false,
            ),
            (
                "includeNetworkData",
                "query",
                "true or false (default true)",
                false,
            ),
            (
                "includeSecrets",
                "query",
                "true or false (default false)",
                false,
            ),
        ],
        body: Body::None,
        response: Response::Download,
    },
    Route {
        method: "post",
        path: "/api/v1/analyze",
        tool: Some("analyze-har"),
        summary: "Analyze an uploaded HAR document",
        parameters: &[
            ("task", "query", "What the task is, in words", false),
            (
                "target",
                "query",
                "The request the task is about: [METHOD ]pattern",
                false,
            ),
        ],
        body: Body::Har,
        response: Response::ToolOutput,
    },
    Route {
        method: "post",
        path: "/api/v1/execute",
        tool: Some("execute-optimally"),
        summary: "Execute a recorded task by the cheapest modality that works",
        parameters: &[],
        body: Body::AnyJson,
        response: Response::ToolOutput,
    },
    Route {
        method: "post",
        path: "/api/v1/batch",
        tool: Some("batch-execute"),
        summary: "Run several tool calls (usually execute-optimally) in one, in order or in parallel (maxConcurrency), each with its own result or error",
        parameters: &[],
        body: Body::AnyJson,
        response: Response::ToolOutput,
    },
    Route {
        method: "post",
        path: "/api/v1/sessions/{id}/replay",
        tool: Some("replay-automation"),
        summary: "Replay a stored session's recorded actions in a headless browser",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::AnyJson,
        response: Response::ToolOutput,
    },
    Route {
        method: "post",
        path: "/api/v1/sessions",
        tool: Some("record-session"),
        summary: "Start a recording: a browser session recorded until stopped, idle or out of time",
        parameters: &[],
        body: Body::AnyJson,
        response: Response::ToolOutput,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}/recording",
        tool: Some("get-recording-status"),
        summary: "A recording's status: duration and counts while it records, how it ended after",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::None,
        response: Response::ToolOutput,
    },
    Route {
        method: "post",
        path: "/api/v1/sessions/{id}/stop",
        tool: Some("stop-recording"),
        summary: "Stop a recording and store it",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::None,
        response: Response::ToolOutput,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}/events",
        tool: None,
        summary: "Live events of a recording as Server-Sent Events (also over the WebSocket at /ws)",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::None,
        response: Response::EventStream,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}/report",
        tool: None,
        summary: "The session report (HTML): action timeline with screenshots, network waterfall, console, analysis; also at /sessions/{id}/report",
        parameters: &[("id", "path", "The session id", true)],
        body: Body::None,
        response: Response::Html,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}/entries/{index}/body",
        tool: None,
        summary: "One HAR entry's request or response body, secrets redacted as in exports (the report loads bodies it left out from here)",
        parameters: &[
            ("id", "path", "The session id", true),
            (
                "index",
                "path",
                "The entry's index in the exported HAR",
                true,
            ),
            ("part", "query", "response (default) or request", false),
        ],
        body: Body::None,
        response: Response::Bytes,
    },
    Route {
        method: "get",
        path: "/api/v1/sessions/{id}/screenshots/{index}",
        tool: None,
        summary: "One screenshot of the session, as recorded (the report loads screenshots it left out from here)",
        parameters: &[
            ("id", "path", "The session id", true),
            (
                "index",
                "path",
                "The screenshot's index in the session",
                true,
            ),
        ],
        body: Body::None,
        response: Response::Bytes,
    },
    Route {
        method: "get",
        path: "/metrics",
        tool: None,
        summary: "Prometheus metrics: tool calls, errors by code, latency histograms, pool, store",
        parameters: &[],
        body: Body::None,
        response: Response::Metrics,
    },
    Route {
        method: "get",
        path: "/api/openapi.json",
        tool: None,
        summary: "This document",
        parameters: &[],
        body: Body::None,
        response: Response::Json,
    },
];

/// The document. Tool schemas are placed under `components/schemas` with their `$defs`
/// lifted next to them, so every `$ref` resolves inside the document.
pub fn document(registry: &Registry) -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "integer", "description": "The spec's numeric error code" },
                    "name": { "type": "string" },
                    "message": { "type": "string" },
                    "details": {}
                }
            }}
        }),
    );
    // Lift each schema's `$defs` into components and point its refs there.
    let mut components = Map::new();
    for tool in registry.tools() {
        let base = schema_name(tool.name);
        for (suffix, schema) in [
            ("Input", &tool.input_schema),
            ("Output", &tool.output_schema),
        ] {
            let name = format!("{base}{suffix}");
            let (main, defs) = lift(schema, &name);
            for (def_name, def) in defs {
                components.insert(def_name, def);
            }
            components.insert(name, main);
        }
    }
    components.extend(schemas);

    let mut paths = Map::new();
    for route in ROUTES {
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert(
            "operationId".into(),
            json!(format!(
                "{}{}",
                route.method,
                route
                    .path
                    .split(['/', '{', '}', '.'])
                    .filter(|s| !s.is_empty())
                    .map(capitalize)
                    .collect::<String>()
            )),
        );
        if !route.parameters.is_empty() {
            let params: Vec<Value> = route
                .parameters
                .iter()
                .map(|(name, place, description, required)| {
                    json!({
                        "name": name,
                        "in": place,
                        "description": description,
                        "required": required,
                        "schema": { "type": "string" },
                    })
                })
                .collect();
            op.insert("parameters".into(), Value::Array(params));
        }
        let tool_ref = |suffix: &str| {
            route
                .tool
                .map(|t| json!({ "$ref": format!("#/components/schemas/{}{suffix}", schema_name(t)) }))
                .unwrap_or_else(|| json!({ "type": "object" }))
        };
        match route.body {
            Body::None => {}
            Body::AnyJson => {
                op.insert(
                    "requestBody".into(),
                    json!({ "required": false, "content": { "application/json": { "schema": { "type": "object" } } } }),
                );
            }
            Body::Har => {
                op.insert(
                    "requestBody".into(),
                    json!({ "required": true, "description": "A HAR 1.2 document", "content": { "application/json": { "schema": { "type": "object", "required": ["log"] } } } }),
                );
            }
        }
        let ok = match route.response {
            Response::ToolOutput => json!({
                "description": "OK",
                "content": { "application/json": { "schema": tool_ref("Output") } }
            }),
            Response::Json => json!({
                "description": "OK",
                "content": { "application/json": { "schema": { "type": "object" } } }
            }),
            Response::Download => json!({
                "description": "The exported document",
                "content": {
                    "application/har+json": { "schema": { "type": "object" } },
                    "application/json": { "schema": { "type": "object" } }
                }
            }),
            Response::Metrics => json!({
                "description": "The Prometheus text exposition format",
                "content": { "text/plain": { "schema": { "type": "string" } } }
            }),
            Response::EventStream => json!({
                "description": "Server-Sent Events named browser.event, each data line a JSON {type, sessionId, timestamp, event {kind: status|action|network|console|screenshot|dropped, ...}}; the stream ends after the recording's last status",
                "content": { "text/event-stream": { "schema": { "type": "string" } } }
            }),
            Response::Html => json!({
                "description": "One self-contained HTML page (inline CSS, JavaScript and data)",
                "content": { "text/html": { "schema": { "type": "string" } } }
            }),
            Response::Bytes => json!({
                "description": "The bytes as recorded, with their recorded content type",
                "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } }
            }),
        };
        let error = json!({
            "description": "An error: the spec's code, its name, a message naming the field and rule, details",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        });
        op.insert("responses".into(), json!({ "200": ok, "default": error }));
        if route.path == "/health" {
            // The one route open without credentials (load balancers probe it).
            op.insert("security".into(), json!([]));
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.into(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Spool",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Record browser sessions, store them, and find the API calls a task needs. MCP (streamable HTTP) is served at /mcp."
        },
        "paths": paths,
        // Needed only when the server has credentials configured (always off loopback);
        // either scheme lets a request in.
        "security": [{ "apiKey": [] }, { "bearer": [] }],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A static token, or a JWT (HS256 or RS256, `exp` required)"
                },
            },
        },
    })
}

/// `capture-and-analyze` → `CaptureAndAnalyze`.
fn schema_name(tool: &str) -> String {
    tool.split('-').map(capitalize).collect()
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Splits a schema's `$defs` off as components named `{owner}{Def}` and rewrites its refs.
fn lift(schema: &Map<String, Value>, owner: &str) -> (Value, Vec<(String, Value)>) {
    let mut main = schema.clone();
    main.remove("title");
    let defs = match main.remove("$defs") {
        Some(Value::Object(d)) => d,
        _ => Map::new(),
    };
    let rename = |def: &str| format!("{owner}{def}");
    let mut main = Value::Object(main);
    rewrite_refs(&mut main, &rename);
    let lifted = defs
        .into_iter()
        .map(|(name, mut def)| {
            rewrite_refs(&mut def, &rename);
            (rename(&name), def)
        })
        .collect();
    (main, lifted)
}

fn rewrite_refs(value: &mut Value, rename: &dyn Fn(&str) -> String) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(def) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{}", rename(def));
            }
            for v in map.values_mut() {
                rewrite_refs(v, rename);
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite_refs(v, rename);
            }
        }
        _ => {}
    }
}
