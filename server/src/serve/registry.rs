//! The one tool registry. MCP, REST and the CLI call tools through [`Registry::call`], so
//! the three surfaces share names, schemas, validation and handlers and cannot drift.
//!
//! A tool is a name, a description, an input and an output schema generated from its Rust
//! types with `schemars`, and one async handler. Input is validated against the input
//! schema before the handler runs; a failure names the field and the rule it broke.

use super::auth::ClientIdentity;
use super::error::ApiError;
use super::state::AppState;
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use spool_model::ErrorCode;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many finished calls `/api/tools/status` shows.
const RECENT_EXECUTIONS: usize = 50;

/// What a running tool may use besides its input: a cancellation token (MCP
/// `notifications/cancelled`, a client that went away, server shutdown) and a channel for
/// progress updates (MCP progress notifications).
#[derive(Clone, Default)]
pub struct CallContext {
    pub cancel: CancellationToken,
    pub progress: Option<mpsc::UnboundedSender<ProgressUpdate>>,
    /// Who called, for the audit log: the credential's identity over HTTP, none from the
    /// command line or stdio (the local user).
    pub client: Option<ClientIdentity>,
    /// How the call arrived (`rest`, `mcp`, `cli`), for the audit log.
    pub surface: &'static str,
}

impl CallContext {
    pub fn report(&self, progress: f64, total: Option<f64>, message: String) {
        if let Some(tx) = &self.progress {
            let _ = tx.send(ProgressUpdate {
                progress,
                total,
                message,
            });
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProgressUpdate {
    pub progress: f64,
    pub total: Option<f64>,
    pub message: String,
}

/// An image a tool returns besides its JSON (MCP image content).
#[derive(Debug, Clone)]
pub struct ImageContent {
    pub mime_type: String,
    /// Base64.
    pub data: String,
}

/// A document a tool returns besides its JSON (MCP embedded resource).
#[derive(Debug, Clone)]
pub struct ResourceContent {
    pub uri: String,
    pub mime_type: String,
    pub text: String,
}

/// A handler's answer: the typed value (the structured content, which matches the output
/// schema) and any images or documents that go with it.
pub struct Reply<O> {
    pub value: O,
    pub images: Vec<ImageContent>,
    pub resources: Vec<ResourceContent>,
}

impl<O> From<O> for Reply<O> {
    fn from(value: O) -> Reply<O> {
        Reply {
            value,
            images: Vec::new(),
            resources: Vec::new(),
        }
    }
}

/// A tool's answer as the transports see it.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub structured: Value,
    pub images: Vec<ImageContent>,
    pub resources: Vec<ResourceContent>,
}

type Handler = Arc<
    dyn Fn(AppState, Value, CallContext) -> BoxFuture<'static, Result<ToolOutput, ApiError>>
        + Send
        + Sync,
>;

/// One tool.
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Map<String, Value>,
    pub output_schema: Map<String, Value>,
    validator: jsonschema::Validator,
    handler: Handler,
}

impl Tool {
    /// A tool whose input is `I` and whose structured output is `O`; both schemas come from
    /// the types.
    pub fn new<I, O, F, Fut>(name: &'static str, description: &'static str, handler: F) -> Tool
    where
        I: JsonSchema + DeserializeOwned + Send + 'static,
        O: JsonSchema + Serialize + Send + 'static,
        F: Fn(AppState, I, CallContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply<O>, ApiError>> + Send + 'static,
    {
        let input_schema = schema_of::<I>();
        let output_schema = schema_of::<O>();
        let validator = jsonschema::validator_for(&Value::Object(input_schema.clone()))
            .unwrap_or_else(|e| panic!("the input schema of {name} is not a valid schema: {e}"));
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |state, args, ctx| {
            let handler = handler.clone();
            Box::pin(async move {
                let input: I = serde_json::from_value(args).map_err(|e| {
                    ApiError::new(ErrorCode::InvalidParams, format!("invalid arguments: {e}"))
                })?;
                let reply = handler(state, input, ctx).await?;
                let structured = serde_json::to_value(&reply.value).map_err(ApiError::internal)?;
                Ok(ToolOutput {
                    structured,
                    images: reply.images,
                    resources: reply.resources,
                })
            })
        });
        Tool {
            name,
            description,
            input_schema,
            output_schema,
            validator,
            handler: erased,
        }
    }

    /// Checks `args` against the input schema. The first broken rule becomes the error: the
    /// field (a JSON pointer into the arguments, or the missing property) and the keyword.
    pub fn validate(&self, args: &Value) -> Result<(), ApiError> {
        let Some(error) = self.validator.iter_errors(args).next() else {
            return Ok(());
        };
        let keyword = error
            .schema_path()
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let pointer = error.instance_path().as_str().to_string();
        let mut field = pointer.trim_start_matches('/').replace('/', ".");
        if keyword == "required"
            && let jsonschema::error::ValidationErrorKind::Required { property } = error.kind()
        {
            let name = property.as_str().unwrap_or_default();
            field = if field.is_empty() {
                name.to_string()
            } else {
                format!("{field}.{name}")
            };
        }
        if field.is_empty() {
            field = "arguments".into();
        }
        let rule = self.rule_text(&keyword, &error.to_string(), error.schema_path().as_str());
        Err(
            ApiError::new(ErrorCode::InvalidParams, format!("invalid {field}: {rule}"))
                .with_details(json!({
                    "field": field,
                    "rule": keyword,
                    "message": error.to_string(),
                })),
        )
    }

    /// The broken rule in words, with the schema's limit: `"abc" is shorter than 10
    /// characters (minLength 10)`.
    fn rule_text(&self, keyword: &str, message: &str, schema_path: &str) -> String {
        let limit = Value::Object(self.input_schema.clone())
            .pointer(schema_path)
            .cloned();
        match limit {
            Some(limit) if !matches!(keyword, "required" | "type" | "additionalProperties") => {
                format!("{message} ({keyword} {limit})")
            }
            _ => message.to_string(),
        }
    }
}

/// A tool's schema as a JSON object, without the meta-schema line clients do not need.
fn schema_of<T: JsonSchema>() -> Map<String, Value> {
    let schema = schemars::schema_for!(T);
    let mut value = schema.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
        if !obj.contains_key("type") {
            obj.insert("type".into(), json!("object"));
        }
        return obj.clone();
    }
    Map::new()
}

/// One finished tool call as the audit log records it.
struct AuditEntry<'a> {
    client: &'a str,
    surface: &'static str,
    tool: &'static str,
    session: Option<&'a str>,
    error: Option<&'a ApiError>,
    took: Duration,
}

/// Writes one line under the `spool::audit` tracing target: who (the credential's id, never
/// the secret), which tool, which session, the outcome (`ok` or the error code's name) and
/// how long it took.
fn audit(entry: &AuditEntry<'_>) {
    let outcome = entry.error.map_or("ok", |e| e.code.name());
    tracing::info!(
        target: "spool::audit",
        client = entry.client,
        surface = entry.surface,
        tool = entry.tool,
        session = entry.session.unwrap_or("-"),
        outcome,
        duration_ms = entry.took.as_secs_f64() * 1000.0,
        "tool call"
    );
}

/// The tools and what happened to them.
pub struct Registry {
    tools: Vec<Tool>,
    stats: Mutex<Stats>,
}

#[derive(Default)]
struct Stats {
    per_tool: BTreeMap<&'static str, ToolStats>,
    recent: VecDeque<Execution>,
    next_id: u64,
}

#[derive(Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolStats {
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    /// Milliseconds.
    pub average_time: f64,
    pub last_called: Option<String>,
    #[serde(skip)]
    total_time: Duration,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub tool_name: String,
    pub timestamp: String,
    pub success: bool,
    /// Milliseconds.
    pub execution_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
}

impl Registry {
    pub fn new(tools: Vec<Tool>) -> Registry {
        let mut stats = Stats::default();
        for t in &tools {
            stats.per_tool.insert(t.name, ToolStats::default());
        }
        Registry {
            tools,
            stats: Mutex::new(stats),
        }
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Looks the tool up, validates `args`, runs the handler and records the outcome.
    pub async fn call(
        &self,
        state: &AppState,
        name: &str,
        args: Value,
        ctx: CallContext,
    ) -> Result<ToolOutput, ApiError> {
        let Some(tool) = self.get(name) else {
            return Err(ApiError::new(
                ErrorCode::MethodNotFound,
                format!("no tool named {name:?}"),
            )
            .with_details(json!({
                "tool": name,
                "available": self.tools.iter().map(|t| t.name).collect::<Vec<_>>(),
            })));
        };
        let args = match args {
            Value::Null => Value::Object(Map::new()),
            other => other,
        };
        let started = Instant::now();
        let client = ctx.client.clone();
        let surface = ctx.surface;
        let argument_session = args
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let result = match tool.validate(&args) {
            Ok(()) => (tool.handler)(state.clone(), args, ctx).await,
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        self.record(tool.name, took, result.as_ref().err());
        super::metrics::record_call(tool.name, took, result.as_ref().err());
        // A new capture's id is in its answer; other tools name the session they were given.
        let session = argument_session.or_else(|| {
            result.as_ref().ok().and_then(|o| {
                o.structured
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        });
        audit(&AuditEntry {
            client: client.as_ref().map_or("local", |c| c.as_str()),
            surface: if surface.is_empty() { "cli" } else { surface },
            tool: tool.name,
            session: session.as_deref(),
            error: result.as_ref().err(),
            took,
        });
        result
    }

    fn record(&self, name: &'static str, took: Duration, error: Option<&ApiError>) {
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        let now = jiff::Timestamp::now().to_string();
        stats.next_id += 1;
        let id = format!("exec-{}", stats.next_id);
        let entry = stats.per_tool.entry(name).or_default();
        entry.calls += 1;
        if error.is_some() {
            entry.failures += 1;
        } else {
            entry.successes += 1;
        }
        entry.total_time += took;
        entry.average_time = entry.total_time.as_secs_f64() * 1000.0 / entry.calls as f64;
        entry.last_called = Some(now.clone());
        stats.recent.push_front(Execution {
            id,
            tool_name: name.to_string(),
            timestamp: now,
            success: error.is_none(),
            execution_time: took.as_secs_f64() * 1000.0,
            error_code: error.map(|e| e.code.number()),
        });
        stats.recent.truncate(RECENT_EXECUTIONS);
    }

    /// Per-tool counters and the most recent executions, newest first.
    pub fn status(&self) -> (BTreeMap<&'static str, ToolStats>, Vec<Execution>) {
        match self.stats.lock() {
            Ok(s) => (s.per_tool.clone(), s.recent.iter().cloned().collect()),
            Err(_) => Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::ServeConfig;
    use super::super::tools;
    use serde_json::json;

    /// The field and the keyword of the first broken rule, as a caller sees them.
    fn broken(tool: &str, args: serde_json::Value) -> (String, String, String) {
        let registry = tools::registry(&ServeConfig::default());
        let e = registry.get(tool).unwrap().validate(&args).unwrap_err();
        assert_eq!(e.code, spool_model::ErrorCode::InvalidParams);
        (
            e.details["field"].as_str().unwrap().to_string(),
            e.details["rule"].as_str().unwrap().to_string(),
            e.message,
        )
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        let url = "https://shop.example/";
        let (field, rule, message) = broken(
            "capture-and-analyze",
            json!({ "taskDescription": "short", "targetUrl": url }),
        );
        assert_eq!(
            (field.as_str(), rule.as_str()),
            ("taskDescription", "minLength")
        );
        assert!(message.contains("(minLength 10)"), "{message}");
        let (field, _, _) = broken(
            "capture-and-analyze",
            json!({ "taskDescription": "order the first item", "captureLevel": 7 }),
        );
        assert_eq!(field, "captureLevel");
        let (field, rule, _) = broken(
            "capture-and-analyze",
            json!({ "taskDescription": "order the first item", "timeoutSeconds": 301 }),
        );
        assert_eq!(
            (field.as_str(), rule.as_str()),
            ("timeoutSeconds", "maximum")
        );
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,x",
        ] {
            let (field, rule, _) = broken(
                "capture-and-analyze",
                json!({ "taskDescription": "order the first item", "targetUrl": bad }),
            );
            assert_eq!((field.as_str(), rule.as_str()), ("targetUrl", "pattern"));
        }
        let (field, rule, _) = broken("capture-and-analyze", json!({}));
        assert_eq!(
            (field.as_str(), rule.as_str()),
            ("taskDescription", "required")
        );
        let (field, rule, _) = broken("get-session", json!({ "sessionId": "nope" }));
        assert_eq!((field.as_str(), rule.as_str()), ("sessionId", "pattern"));
        let (field, _, _) = broken(
            "screenshot",
            json!({ "sessionId": "00000000-0000-4000-8000-000000000000", "width": 100 }),
        );
        assert_eq!(field, "width");
    }

    #[test]
    fn defaults_and_constraints_are_in_the_schemas() {
        let registry = tools::registry(&ServeConfig::default());
        let schema = &registry.get("capture-and-analyze").unwrap().input_schema;
        let p = &schema["properties"];
        assert_eq!(p["captureLevel"]["default"], 2);
        assert_eq!(p["captureLevel"]["enum"], json!([1, 2, 3, 4]));
        assert_eq!(p["timeoutSeconds"]["default"], 30.0);
        assert_eq!(p["includeScreenshots"]["default"], true);
        let shot = &registry.get("screenshot").unwrap().input_schema["properties"];
        assert_eq!(shot["width"]["minimum"], 200);
        assert_eq!(shot["timeout"]["maximum"], 120000);
        assert_eq!(shot["format"]["default"], "webp");
    }
}
