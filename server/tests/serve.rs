//! `spool serve` end to end, as its users reach it: REST and MCP over streamable HTTP on a
//! real socket, MCP over stdio, `rmcp`'s client and the Python `mcp` SDK, against the
//! fixture shop flow in real headless Chromium. Every server is stopped (SIGTERM, then
//! SIGKILL) when its guard drops, also when an assertion fails.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

#[path = "common/processes.rs"]
mod processes;
use processes::{assert_no_marked_processes, kill_marked, marked_processes};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Map, Value, json};
use spool_fixtures::FixtureServer;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SPOOL: &str = env!("CARGO_BIN_EXE_spool");
const SHOP_TASK: &str = "log in to the shop and order the first item";
/// The body limit the HTTP test server runs with, so the 413 test sends little.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// A running `spool serve` on 127.0.0.1; SIGTERM and wait on drop.
struct Server {
    child: Child,
    base: String,
    marker: String,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Server {
        let marker = format!("spool-test-{}", uuid::Uuid::new_v4());
        let mut child = Command::new(SPOOL)
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("SPOOL_TEST_MARKER", &marker)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning spool serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[serve] {line}");
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("spool serve did not say where it listens");
        Server {
            child,
            base,
            marker,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit status (SIGKILL after 30 s).
    fn terminate(&mut self) -> Option<i32> {
        // SAFETY: a signal to the server process this test started.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM)
        };
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("spool serve did not exit within 30 s of SIGTERM; its threads:");
        let tasks = format!("/proc/{}/task", self.child.id());
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            let read = |file: &str| std::fs::read_to_string(task.path().join(file));
            eprintln!(
                "  {} {} waiting in {}",
                read("comm").unwrap_or_default().trim(),
                read("stat").unwrap_or_default().trim(),
                read("wchan").unwrap_or_default()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
        kill_marked(&self.marker);
    }
}

fn shop_args(fixture: &FixtureServer) -> Value {
    json!({
        "targetUrl": fixture.url("/shop/?auto=1"),
        "taskDescription": SHOP_TASK,
        "captureLevel": 3,
        "timeoutSeconds": 60,
        "waitFor": "document.title === 'done'",
    })
}

/// Checks the spec's response shape of capture-and-analyze.
fn assert_capture_response(r: &Value) {
    for key in [
        "sessionId",
        "harFile",
        "integuruAnalysis",
        "recommendedModality",
        "confidence",
        "estimatedTime",
        "reasoning",
        "screenshots",
        "spool",
    ] {
        assert!(r.get(key).is_some(), "no {key} in {r}");
    }
    let ia = &r["integuruAnalysis"];
    for key in ["confidence", "complexity", "apiEndpoints"] {
        assert!(ia.get(key).is_some(), "no integuruAnalysis.{key}");
    }
    for key in [
        "score",
        "apiDepth",
        "authenticationRequired",
        "dynamicContent",
    ] {
        assert!(ia["complexity"].get(key).is_some(), "no complexity.{key}");
    }
    assert!(
        ia["generatedCode"]
            .as_str()
            .is_some_and(|c| c.contains("requests"))
    );
    assert_eq!(r["recommendedModality"], "integuru", "{}", r["reasoning"]);
    assert!(
        r["spool"]["chain"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
}

/// Checks the spec's constraints and defaults in a capture-and-analyze input schema.
fn assert_capture_schema(schema: &Value) {
    let p = &schema["properties"];
    assert_eq!(p["taskDescription"]["minLength"], 10);
    assert_eq!(p["taskDescription"]["maxLength"], 1000);
    assert_eq!(p["timeoutSeconds"]["minimum"], 5.0);
    assert_eq!(p["timeoutSeconds"]["maximum"], 300.0);
    assert_eq!(p["timeoutSeconds"]["default"], 30.0);
    assert_eq!(p["captureLevel"]["enum"], json!([1, 2, 3, 4]));
    assert_eq!(p["captureLevel"]["default"], 2);
    assert_eq!(p["includeScreenshots"]["default"], true);
    assert!(p["targetUrl"].get("pattern").is_some());
    assert!(p.get("browserState").is_some());
    assert_eq!(schema["required"], json!(["taskDescription"]));
}

/// `spool serve --stdio` on the store in `data`, its processes marked with `marker`, as the
/// transport of an MCP client.
fn stdio_server(data: &Path, marker: &str) -> TokioChildProcess {
    let command = tokio::process::Command::new(SPOOL).configure(|cmd| {
        cmd.arg("--data")
            .arg(data)
            .args(["serve", "--stdio"])
            .env("SPOOL_TEST_MARKER", marker);
    });
    TokioChildProcess::new(command).unwrap()
}

fn args_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

async fn mcp_call(
    client: &rmcp::service::Peer<rmcp::RoleClient>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args_map(args)))
        .await
        .unwrap_or_else(|e| panic!("{tool} over MCP: {e}"))
}

/// The JSON of an MCP result: structuredContent, or the error JSON of an isError result.
fn mcp_json(result: &CallToolResult) -> Value {
    let text = serde_json::to_value(&result.content[0]).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    serde_json::from_str(&text).unwrap()
}

/// Bad input over MCP: an isError result with the spec's code, naming the field.
async fn assert_mcp_error(
    client: &rmcp::service::Peer<rmcp::RoleClient>,
    tool: &str,
    args: Value,
    code: i32,
    field: Option<&str>,
) {
    let r = mcp_call(client, tool, args.clone()).await;
    assert_eq!(r.is_error, Some(true), "{tool} {args} did not fail");
    let body = mcp_json(&r);
    let e = &body["error"];
    assert_eq!(e["code"], code, "{tool} {args}: {body}");
    assert_eq!(e["tool"], tool);
    assert!(e["timestamp"].as_str().is_some());
    if let Some(field) = field {
        assert_eq!(e["details"]["field"], field, "{body}");
        assert!(e["message"].as_str().unwrap().contains(field));
    }
}

/// The bad inputs every transport must refuse with the spec's errors.
fn bad_inputs(fixture: &FixtureServer) -> Vec<(&'static str, Value, i32, Option<&'static str>)> {
    let url = fixture.url("/shop/?auto=1");
    vec![
        ("no-such-tool", json!({}), -32601, None),
        (
            "capture-and-analyze",
            json!({ "taskDescription": "short", "targetUrl": url }),
            -32602,
            Some("taskDescription"),
        ),
        (
            "capture-and-analyze",
            json!({ "taskDescription": SHOP_TASK, "targetUrl": url, "captureLevel": 7 }),
            -32602,
            Some("captureLevel"),
        ),
        (
            "capture-and-analyze",
            json!({ "taskDescription": SHOP_TASK, "targetUrl": url, "timeoutSeconds": 301 }),
            -32602,
            Some("timeoutSeconds"),
        ),
        (
            "capture-and-analyze",
            json!({ "taskDescription": SHOP_TASK, "targetUrl": "file:///etc/passwd" }),
            -32602,
            Some("targetUrl"),
        ),
        (
            "capture-and-analyze",
            json!({ "taskDescription": SHOP_TASK, "targetUrl": "javascript:alert(1)" }),
            -32602,
            Some("targetUrl"),
        ),
        (
            "get-session",
            json!({ "sessionId": "not-a-session" }),
            -32602,
            Some("sessionId"),
        ),
        (
            "get-session",
            json!({ "sessionId": "00000000-0000-4000-8000-000000000000" }),
            -32004,
            None,
        ),
        (
            "analyze-har",
            json!({ "har": "{\"log\": {\"entries\": 5}}" }),
            -32102,
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_server_serves_rest_and_mcp() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let limit = BODY_LIMIT.to_string();
    let mut server = Server::start(data.path(), &["--max-body-bytes", &limit]);
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(server.url(path)).send();

    // Health and discovery.
    let health: Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["store"]["sessions"], 0);
    let tools: Value = get("/api/tools").await.unwrap().json().await.unwrap();
    let capture_tool = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "capture-and-analyze")
        .expect("capture-and-analyze is listed");
    assert_capture_schema(&capture_tool["inputSchema"]);

    // The shop flow through /api/tools/{name}/call, then the direct routes.
    let response = http
        .post(server.url("/api/tools/capture-and-analyze/call"))
        .json(&shop_args(&fixture))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    let captured = &body["result"];
    assert_capture_response(captured);
    let id = captured["sessionId"].as_str().unwrap().to_string();
    assert_eq!(fixture.orders().len(), 1, "the shop order was placed");

    let session: Value = get(&format!("/api/v1/sessions/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["sessionId"], id.as_str());
    assert!(session["networkEventCount"].as_u64().unwrap() >= 5);
    let list: Value = get("/api/v1/sessions?limit=10&task=shop")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let export = get(&format!("/api/v1/sessions/{id}/export?format=har"))
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    let har = export.bytes().await.unwrap();
    let parsed: Value = serde_json::from_slice(&har).unwrap();
    assert!(parsed["log"]["entries"].as_array().unwrap().len() >= 5);
    let analyzed: Value = http
        .post(server.url(&format!(
            "/api/v1/analyze?task={}",
            SHOP_TASK.replace(' ', "%20")
        )))
        .body(har.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(analyzed.get("integuruAnalysis").is_some(), "{analyzed}");
    let by_id: Value = http
        .post(server.url("/api/tools/analyze-har/call"))
        .json(&json!({ "sessionId": id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["result"]["recommendedModality"], "integuru");

    // Bad input over REST: the spec's code and the right status, the server still serving.
    for (tool, args, code, field) in bad_inputs(&fixture) {
        let r = http
            .post(server.url(&format!("/api/tools/{tool}/call")))
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{tool} {args}: {body}");
        let expected = spool_model::ErrorCode::from_number(code)
            .unwrap()
            .http_status();
        assert_eq!(status, expected, "{tool} {args}");
        if let Some(field) = field {
            assert_eq!(body["error"]["details"]["field"], field, "{body}");
        }
    }
    let r = get("/api/v1/sessions/not-a-uuid").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = get("/api/v1/sessions/00000000-0000-4000-8000-000000000000")
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(server.url("/api/v1/analyze"))
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32102);
    let r = http
        .post(server.url("/api/v1/analyze"))
        .body(vec![b' '; BODY_LIMIT + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32201);

    // Statistics count what happened.
    let status: Value = get("/api/tools/status")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let usage = status["executionStats"]["toolUsage"].as_array().unwrap();
    let capture_stats = usage
        .iter()
        .find(|u| u["name"] == "capture-and-analyze")
        .unwrap();
    assert!(capture_stats["successes"].as_u64().unwrap() >= 1);
    assert!(capture_stats["failures"].as_u64().unwrap() >= 5);

    // The OpenAPI document lists every route and validates.
    let doc: Value = get("/api/openapi.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/health",
        "/api/tools",
        "/api/tools/status",
        "/api/tools/{name}/call",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/export",
        "/api/v1/analyze",
        "/api/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    let doc_file = data.path().join("openapi.json");
    std::fs::write(&doc_file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&doc_file)
        .output()
        .expect("python3 -m openapi_spec_validator (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "OpenAPI document invalid: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // MCP over streamable HTTP with rmcp's client.
    let transport = StreamableHttpClientTransport::from_uri(server.url("/mcp"));
    let client = ().serve(transport).await.expect("MCP over HTTP connects");
    let listed = client.list_all_tools().await.unwrap();
    let tool = listed
        .iter()
        .find(|t| t.name == "capture-and-analyze")
        .unwrap();
    assert_capture_schema(&Value::Object((*tool.input_schema).clone()));
    assert!(tool.output_schema.is_some());
    let r = mcp_call(&client, "capture-and-analyze", shop_args(&fixture)).await;
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    let structured = r.structured_content.clone().unwrap();
    assert_eq!(
        structured,
        mcp_json(&r),
        "structuredContent and text differ"
    );
    assert_capture_response(&structured);
    let mcp_id = structured["sessionId"].as_str().unwrap().to_string();
    let r = mcp_call(&client, "get-session", json!({ "sessionId": mcp_id })).await;
    assert_eq!(r.structured_content.unwrap()["sessionId"], mcp_id.as_str());
    let r = mcp_call(
        &client,
        "export-session",
        json!({ "sessionId": mcp_id, "format": "har" }),
    )
    .await;
    let content = serde_json::to_value(&r.content).unwrap();
    let resource = &content[1]["resource"];
    assert_eq!(content[1]["type"], "resource");
    let exported: Value = serde_json::from_str(resource["text"].as_str().unwrap()).unwrap();
    assert!(exported["log"]["entries"].as_array().unwrap().len() >= 5);
    let r = mcp_call(&client, "analyze-har", json!({ "sessionId": mcp_id })).await;
    assert_eq!(
        r.structured_content.unwrap()["recommendedModality"],
        "integuru"
    );
    let resources = client.list_all_resources().await.unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r.uri == format!("spool://sessions/{mcp_id}/har"))
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "spool://sessions/{mcp_id}/har"
        )))
        .await
        .unwrap();
    let read = serde_json::to_value(&read).unwrap();
    assert!(
        read["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"log\"")
    );
    for (tool, args, code, field) in bad_inputs(&fixture) {
        assert_mcp_error(&client, tool, args, code, field).await;
    }
    client.cancel().await.unwrap();

    // A third-party client: the Python MCP SDK over streamable HTTP.
    let py = python_client(&["http", &server.url("/mcp"), &fixture.url("/shop/?auto=1")]);
    assert_python_result(&py);

    // The CLI is told the store is in use while the server holds it.
    let out = Command::new(SPOOL)
        .arg("--data")
        .arg(data.path())
        .args(["sessions", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));

    // Still serving after all of that; then SIGTERM stops it and every browser with it.
    let health: Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(health["store"]["sessions"], 3);
    let marker = server.marker.clone();
    assert_eq!(server.terminate(), Some(0));
    assert_no_marked_processes(&marker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_server_serves_mcp() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let marker = format!("spool-test-{}", uuid::Uuid::new_v4());
    let client =
        ().serve(stdio_server(data.path(), &marker))
            .await
            .expect("MCP over stdio connects");
    let tools = client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "capture-and-analyze")
        .unwrap();
    assert_capture_schema(&Value::Object((*tool.input_schema).clone()));
    let r = mcp_call(&client, "capture-and-analyze", shop_args(&fixture)).await;
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    let structured = r.structured_content.clone().unwrap();
    assert_capture_response(&structured);
    let id = structured["sessionId"].as_str().unwrap().to_string();
    let r = mcp_call(&client, "get-session", json!({ "sessionId": id })).await;
    assert_eq!(r.structured_content.unwrap()["status"], "COMPLETED");
    let r = mcp_call(&client, "analyze-har", json!({ "sessionId": id })).await;
    assert_eq!(
        r.structured_content.unwrap()["recommendedModality"],
        "integuru"
    );
    for (tool, args, code, field) in bad_inputs(&fixture) {
        assert_mcp_error(&client, tool, args, code, field).await;
    }
    let r = mcp_call(&client, "list-sessions", json!({})).await;
    assert_eq!(r.structured_content.unwrap()["total"], 1);
    client.cancel().await.unwrap();
    assert_no_marked_processes(&marker);

    // The Python MCP SDK starts its own stdio server on the same store.
    let py = python_client(&[
        "stdio",
        SPOOL,
        data.path().to_str().unwrap(),
        &fixture.url("/shop/?auto=1"),
    ]);
    assert_python_result(&py);
    kill_marked(&marker);
}

fn python_client(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs (scripts/setup.sh installs the mcp SDK)");
    assert!(
        out.status.success(),
        "the Python MCP client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!("the Python MCP client printed no JSON ({e}): {text}");
    })
}

fn assert_python_result(py: &Value) {
    assert!(
        py["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("capture-and-analyze"))
    );
    assert_eq!(py["taskDescription"]["minLength"], 10);
    assert_eq!(py["recommendedModality"], "integuru");
    assert!(py["sessionId"].as_str().is_some());
    assert_eq!(py["badInputError"]["error"]["code"], -32602);
}

/// A server killed with SIGKILL runs no cleanup; its watcher still closes every browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_outlives_a_killed_server_and_a_restart_finds_every_session() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &[]);
    let http = reqwest::Client::new();
    // One session finished before the kill.
    let done: Value = http
        .post(server.url("/api/tools/capture-and-analyze/call"))
        .json(&json!({
            "targetUrl": fixture.url("/static/"),
            "taskDescription": "a capture that finished before the kill",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let done_id = done["result"]["sessionId"].as_str().unwrap().to_string();
    let before: Value = http
        .get(server.url(&format!("/api/v1/sessions/{done_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A capture that keeps recording: its wait-for condition never becomes true.
    let request = http
        .post(server.url("/api/tools/capture-and-analyze/call"))
        .json(&json!({
            "targetUrl": fixture.url("/static/"),
            "taskDescription": "a capture that is still running",
            "timeoutSeconds": 120,
            "waitFor": "false",
        }))
        .send();
    let pending = tokio::spawn(request);
    let mut browser_seen = false;
    for _ in 0..300 {
        let running = marked_processes(&server.marker).iter().any(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("chrom"))
                .unwrap_or(false)
        });
        if running {
            browser_seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(browser_seen, "the capture never started a browser");
    // Let the page load, so the interrupted session has recorded something.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert_no_marked_processes(&server.marker);
    pending.abort();

    // A new server on the same store: the finished session as it was, the interrupted one
    // INTERRUPTED with what it recorded before the kill.
    let server = Server::start(data.path(), &[]);
    let list: Value = http
        .get(server.url("/api/v1/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list:#}");
    let after: Value = http
        .get(server.url(&format!("/api/v1/sessions/{done_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "status",
        "networkEventCount",
        "consoleEntryCount",
        "startTime",
        "endTime",
    ] {
        assert_eq!(after[field], before[field], "{field}: {after:#}");
    }
    let interrupted = sessions
        .iter()
        .find(|s| s["sessionId"] != done_id.as_str())
        .unwrap();
    assert_eq!(interrupted["status"], "INTERRUPTED", "{interrupted:#}");
    let id = interrupted["sessionId"].as_str().unwrap();
    let har: Value = http
        .get(server.url(&format!("/api/v1/sessions/{id}/export?format=har")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        har["log"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["request"]["url"].as_str().unwrap().ends_with("/static/")),
        "the interrupted session keeps its page: {har:#}"
    );
}

/// The latency of `tools/call` over MCP (stdio, rmcp's client) for a cheap tool; compare
/// with `spool tool list-sessions '{"limit":1}' --repeat 2000` (the handler alone) for the
/// overhead in BENCHMARKS.md. Measures, asserts nothing about time: run it by name with
/// `--ignored --nocapture` on a release build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn mcp_tools_call_latency() {
    let data = tempfile::tempdir().unwrap();
    let marker = format!("spool-test-{}", uuid::Uuid::new_v4());
    let client = ().serve(stdio_server(data.path(), &marker)).await.unwrap();
    let mut took = Vec::new();
    for _ in 0..2000 {
        let started = std::time::Instant::now();
        let r = mcp_call(&client, "list-sessions", json!({ "limit": 1 })).await;
        took.push(started.elapsed());
        assert_ne!(r.is_error, Some(true));
    }
    took.sort();
    let mean = took.iter().sum::<Duration>() / took.len() as u32;
    println!(
        "MCP stdio tools/call list-sessions: mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
        mean.as_secs_f64() * 1e6,
        took[took.len() / 2].as_secs_f64() * 1e6,
        took[took.len() * 99 / 100].as_secs_f64() * 1e6
    );
    client.cancel().await.unwrap();
}

/// A live browser session driven by the browser tools completes the shop order and is
/// stored with its network entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_tools_complete_the_shop_order() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &[]);
    let transport = StreamableHttpClientTransport::from_uri(server.url("/mcp"));
    let client = ().serve(transport).await.expect("MCP over HTTP connects");
    let ok = |r: &CallToolResult| {
        assert_ne!(r.is_error, Some(true), "{:?}", r.content);
        r.structured_content.clone().unwrap()
    };
    let opened = ok(&mcp_call(
        &client,
        "navigate",
        json!({
            "url": fixture.url("/shop/"),
            "waitUntil": "networkidle",
            "taskDescription": SHOP_TASK,
        }),
    )
    .await);
    let id = opened["sessionId"].as_str().unwrap().to_string();
    for (selector, text) in [("#username", "alice"), ("#password", "wonderland")] {
        ok(&mcp_call(
            &client,
            "type",
            json!({ "sessionId": id, "selector": selector, "text": text }),
        )
        .await);
    }
    ok(&mcp_call(
        &client,
        "click",
        json!({ "sessionId": id, "selector": "#login-button" }),
    )
    .await);
    let mut confirmed = String::new();
    for _ in 0..100 {
        let r = mcp_call(
            &client,
            "get-text",
            json!({ "sessionId": id, "selector": "#result" }),
        )
        .await;
        if r.is_error != Some(true) {
            confirmed = r.structured_content.unwrap()["text"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if confirmed.contains("Order confirmed") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        confirmed.contains("Order confirmed"),
        "result: {confirmed:?}"
    );
    assert_eq!(fixture.orders().len(), 1);
    let shot = mcp_call(
        &client,
        "screenshot",
        json!({ "sessionId": id, "format": "png", "width": 800, "height": 600 }),
    )
    .await;
    let meta = ok(&shot);
    assert_eq!(meta["mimeType"], "image/png");
    let content = serde_json::to_value(&shot.content).unwrap();
    assert_eq!(content[1]["type"], "image");
    let png = base64_decode(content[1]["data"].as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"));
    let refused = mcp_call(
        &client,
        "evaluate",
        json!({ "sessionId": id, "script": "document.title" }),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    let closed = ok(&mcp_call(&client, "close-session", json!({ "sessionId": id })).await);
    assert_eq!(closed["status"], "COMPLETED");
    assert!(closed["screenshotCount"].as_u64().unwrap() >= 1);
    let stored = ok(&mcp_call(&client, "get-session", json!({ "sessionId": id })).await);
    assert!(
        stored["networkEventCount"].as_u64().unwrap() >= 5,
        "{stored}"
    );
    let r = mcp_call(
        &client,
        "export-session",
        json!({ "sessionId": id, "format": "har" }),
    )
    .await;
    let content = serde_json::to_value(&r.content).unwrap();
    let har: Value =
        serde_json::from_str(content[1]["resource"]["text"].as_str().unwrap()).unwrap();
    let urls: Vec<&str> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["request"]["url"].as_str())
        .collect();
    assert!(urls.iter().any(|u| u.ends_with("/api/orders")), "{urls:?}");

    // The recorded actions replay against a fresh shop that only knows bob: it is the start
    // URL, and the username and the withheld password are given as overrides.
    let r = mcp_call(
        &client,
        "export-session",
        json!({ "sessionId": id, "format": "json", "includeNetworkData": false }),
    )
    .await;
    let content = serde_json::to_value(&r.content).unwrap();
    let doc: Value =
        serde_json::from_str(content[1]["resource"]["text"].as_str().unwrap()).unwrap();
    let actions = doc["actions"].as_array().unwrap().clone();
    let index_of = |kind: &str, target: &str| {
        actions
            .iter()
            .position(|a| a["kind"] == kind && a["target"] == target)
            .unwrap_or_else(|| panic!("no {kind} {target} in {actions:#?}"))
    };
    let (username, password) = (index_of("type", "#username"), index_of("type", "#password"));
    assert_eq!(actions[password].get("value"), None, "{actions:#?}");
    let fresh = FixtureServer::start_with(
        spool_fixtures::FixtureConfig {
            username: "bob".into(),
            password: "builder".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let mut overrides = Map::new();
    overrides.insert(format!("action-{username}"), json!({ "value": "bob" }));
    overrides.insert(format!("action-{password}"), json!({ "value": "builder" }));
    let replayed = ok(&mcp_call(
        &client,
        "replay-automation",
        json!({
            "sessionId": id,
            "startUrl": fresh.url("/shop/"),
            "speedMultiplier": 5,
            "overrideParameters": overrides,
        }),
    )
    .await);
    assert_eq!(replayed["status"], "COMPLETED", "{replayed:#}");
    assert_eq!(replayed["failureCount"], 0, "{replayed:#}");
    assert_eq!(replayed["summary"]["totalActions"], actions.len());
    let mut orders = fresh.orders();
    for _ in 0..30 {
        if !orders.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        orders = fresh.orders();
    }
    assert_eq!(orders.len(), 1, "{replayed:#}");
    assert_eq!(orders[0]["username"], "bob");

    // Offline, over REST, the recording answers every request: the order is placed in the
    // replayed page, and neither app hears of it.
    let http = reqwest::Client::new();
    let mut password_only = Map::new();
    password_only.insert(
        format!("action-{password}"),
        json!({ "value": "wonderland" }),
    );
    let response = http
        .post(server.url(&format!("/api/v1/sessions/{id}/replay")))
        .json(&json!({
            "network": "offline",
            "speedMultiplier": 5,
            "overrideParameters": password_only,
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let offline: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{offline:#}");
    assert_eq!(offline["status"], "COMPLETED", "{offline:#}");
    assert_eq!(offline["failureCount"], 0, "{offline:#}");
    assert_eq!(
        fixture.orders().len(),
        1,
        "the recording app got no new order"
    );
    assert_eq!(fresh.orders().len(), 1, "the fresh app got no new order");

    // Over REST, bad input names its field before any browser work.
    let response = http
        .post(server.url(&format!("/api/v1/sessions/{id}/replay")))
        .json(&json!({ "actionIndex": 999 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("actionIndex"), "{body}");
    let response = http
        .post(server.url("/api/v1/sessions/00000000-0000-4000-8000-000000000000/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    client.cancel().await.unwrap();
    let marker = server.marker.clone();
    assert_eq!(server.terminate(), Some(0));
    assert_no_marked_processes(&marker);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// An MCP client that passes on the progress notifications it receives.
struct ProgressWatcher(tokio::sync::mpsc::UnboundedSender<rmcp::model::ProgressNotificationParam>);

impl rmcp::ClientHandler for ProgressWatcher {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

/// A long `capture-and-analyze` reports progress while it runs; cancelling the call stops the
/// capture and keeps what it recorded, stored as STOPPED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_capture_reports_progress_and_stops_on_cancel() {
    use rmcp::model::{CallToolRequest, ClientRequest};
    use rmcp::service::PeerRequestOptions;

    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let marker = format!("spool-test-{}", uuid::Uuid::new_v4());
    let (tx, mut progress) = tokio::sync::mpsc::unbounded_channel();
    let client = ProgressWatcher(tx)
        .serve(stdio_server(data.path(), &marker))
        .await
        .expect("MCP over stdio connects");

    // The shop page loads, then waits for a condition that never holds: only the deadline
    // (five minutes away) or a cancellation ends this capture.
    let mut args = shop_args(&fixture);
    args["targetUrl"] = json!(fixture.url("/shop/"));
    args["timeoutSeconds"] = json!(300);
    args["waitFor"] = json!("false");
    let handle = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(
                CallToolRequestParams::new("capture-and-analyze").with_arguments(args_map(args)),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let token = handle.progress_token.clone();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let update = tokio::time::timeout(Duration::from_secs(60), progress.recv())
            .await
            .expect("no progress notification within a minute")
            .unwrap();
        assert_eq!(update.progress_token, token, "progress for another request");
        assert_eq!(
            update.total,
            Some(300.0),
            "progress counts towards the timeout"
        );
        seen.push(update.progress);
    }
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress went backwards: {seen:?}"
    );
    handle
        .cancel(Some("the test is done waiting".into()))
        .await
        .unwrap();

    // The cancelled capture is stored, STOPPED, with the shop page it recorded.
    let mut stored = Value::Null;
    for _ in 0..300 {
        let r = mcp_call(&client, "list-sessions", json!({})).await;
        let list = r.structured_content.unwrap();
        if let Some(s) = list["sessions"].as_array().and_then(|s| s.first())
            && s["status"] != "RECORDING"
        {
            stored = s.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored["status"], "STOPPED", "{stored}");
    let id = stored["sessionId"].as_str().unwrap().to_string();
    let r = mcp_call(
        &client,
        "export-session",
        json!({ "sessionId": id, "format": "har" }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    let har_text = serde_json::to_string(&r.content).unwrap();
    assert!(
        har_text.contains("/shop/"),
        "the stopped session lost the page it recorded"
    );
    client.cancel().await.unwrap();
    assert_no_marked_processes(&marker);
}

/// `execute-optimally`: a recorded shop task runs again as plain HTTP against a fresh app with
/// credentials the recording never saw, over REST and MCP, without a browser; failures fall
/// back and say so; bad input is refused with the spec's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_optimally_runs_the_recorded_shop_task() {
    let data = tempfile::tempdir().unwrap();
    // A recording of the shop flow, placed in the data directory as a user would import it.
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/har/flows/shop.l3.har");
    std::fs::copy(&har, data.path().join("shop.har")).unwrap();
    let fresh = FixtureServer::start_with(
        spool_fixtures::FixtureConfig {
            username: "dana".into(),
            password: "n3w-pass".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let mut server = Server::start(data.path(), &[]);
    let http = reqwest::Client::new();
    let execute = |args: Value| {
        let http = http.clone();
        let url = server.url("/api/v1/execute");
        async move {
            let response = http.post(url).json(&args).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let task = "log in to the shop and order the first item";
    let inputs = json!({ "baseUrl": fresh.base_url(), "username": "dana", "password": "n3w-pass" });

    // REST: the plan runs as plain HTTP and places the order.
    let (status, r) = execute(json!({
        "taskDescription": task,
        "harFile": "shop.har",
        "inputs": inputs,
        "retryPolicy": { "maxRetries": 0, "backoffMs": 1000 },
    }))
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "SUCCESS", "{r}");
    assert_eq!(r["modality"], "integuru");
    assert_eq!(r["details"]["attempts"].as_array().unwrap().len(), 1);
    let orders = fresh.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["username"], "dana");
    assert_eq!(r["output"]["orderId"], orders[0]["orderId"], "{r}");
    assert!(
        r["details"]["resources"]["networkRequests"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert!(
        !r.to_string().contains("n3w-pass"),
        "the password came back: {r}"
    );
    let steps = r["details"]["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["status"] == "SUCCESS"), "{r}");
    // No browser started for it.
    let health: Value = http
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["pool"]["stats"]["launchedTotal"], 0, "{health}");

    // A wrong password: the plan fails on the login, the heavier modalities are tried and
    // the task is handed to a person, with every attempt reported.
    let (status, r) = execute(json!({
        "taskDescription": task,
        "harFile": "shop.har",
        "inputs": { "baseUrl": fresh.base_url(), "username": "dana", "password": "wrong" },
        "retryPolicy": { "maxRetries": 0, "backoffMs": 1000 },
    }))
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "REQUIRES_USER", "{r}");
    assert_eq!(r["modality"], "visible_browser");
    let attempts = r["details"]["attempts"].as_array().unwrap();
    let tried: Vec<&str> = attempts
        .iter()
        .map(|a| a["modality"].as_str().unwrap())
        .collect();
    assert_eq!(
        tried,
        ["integuru", "headless_cdp", "visible_browser"],
        "{r}"
    );
    assert_eq!(attempts[0]["status"], "FAILED");
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("401"),
        "{r}"
    );
    assert!(
        r["details"]["instructions"]
            .as_str()
            .unwrap()
            .contains(task)
    );
    assert_eq!(fresh.orders().len(), 1, "a failed run placed an order");

    // MCP over HTTP: the same tool, forced to the browser modalities.
    let transport = StreamableHttpClientTransport::from_uri(server.url("/mcp"));
    let client = ().serve(transport).await.expect("MCP over HTTP connects");
    let r = mcp_call(
        &client,
        "execute-optimally",
        json!({ "taskDescription": task, "harFile": "shop.har", "forceModality": "headless_cdp" }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    let out = r.structured_content.unwrap();
    assert_eq!(out["status"], "REQUIRES_USER", "{out}");
    assert_eq!(out["details"]["attempts"][0]["modality"], "headless_cdp");

    // Bad input, each with the spec's error naming the field.
    let outside = tempfile::NamedTempFile::new().unwrap();
    let bad = [
        (
            json!({ "taskDescription": task, "sessionId": "not-a-uuid" }),
            -32602,
            "sessionId",
        ),
        (
            json!({ "taskDescription": task, "harFile": outside.path() }),
            -32602,
            "harFile",
        ),
        (
            json!({ "taskDescription": task, "harFile": "../../etc/passwd" }),
            -32602,
            "harFile",
        ),
        (
            json!({ "taskDescription": task, "harFile": "shop.har", "timeout": 10 }),
            -32602,
            "timeout",
        ),
        (
            json!({ "taskDescription": task, "harFile": "shop.har", "integuruCode": "print(1)" }),
            -32602,
            "integuruCode",
        ),
    ];
    for (args, code, field) in bad {
        assert_mcp_error(&client, "execute-optimally", args, code, Some(field)).await;
    }
    let unknown = json!({ "taskDescription": task, "sessionId": uuid::Uuid::new_v4().to_string() });
    let r = mcp_call(&client, "execute-optimally", unknown).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(mcp_json(&r)["error"]["code"], -32004, "{:?}", r.content);
    client.cancel().await.unwrap();
    assert_eq!(server.terminate(), Some(0));
}

/// `record-session` over MCP: the recording opens the shop, the browser tools drive it,
/// `get-recording-status` counts what was recorded while it runs, `stop-recording` stores
/// it (and the stored actions replay); over REST a second recording with `autoStop` ends
/// on its own after its inactivity timeout, and bad input names its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_session_records_until_stopped_or_inactive() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &[]);
    let transport = StreamableHttpClientTransport::from_uri(server.url("/mcp"));
    let client = ().serve(transport).await.expect("MCP over HTTP connects");
    let ok = |r: &CallToolResult| {
        assert_ne!(r.is_error, Some(true), "{:?}", r.content);
        r.structured_content.clone().unwrap()
    };
    let started = ok(&mcp_call(
        &client,
        "record-session",
        json!({ "taskDescription": SHOP_TASK, "url": fixture.url("/shop/"), "captureLevel": 3 }),
    )
    .await);
    assert_eq!(started["status"], "RECORDING", "{started:#}");
    let id = started["sessionId"].as_str().unwrap().to_string();
    assert_eq!(started["sessionPath"], format!("spool://sessions/{id}"));
    assert_eq!(started["metadata"]["taskDescription"], SHOP_TASK);
    assert!(
        started["metadata"]["browserInfo"]["userAgent"]
            .as_str()
            .unwrap()
            .contains("Chrome"),
        "{started:#}"
    );
    for (selector, text) in [("#username", "alice"), ("#password", "wonderland")] {
        ok(&mcp_call(
            &client,
            "type",
            json!({ "sessionId": id, "selector": selector, "text": text }),
        )
        .await);
    }
    ok(&mcp_call(
        &client,
        "click",
        json!({ "sessionId": id, "selector": "#login-button" }),
    )
    .await);
    let mut status = Value::Null;
    for _ in 0..100 {
        status = ok(&mcp_call(&client, "get-recording-status", json!({ "sessionId": id })).await);
        if status["networkEventCount"].as_u64().unwrap() >= 8 && fixture.orders().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "RECORDING", "{status:#}");
    assert!(status["actionCount"].as_u64().unwrap() >= 3, "{status:#}");
    assert!(
        status["screenshotCount"].as_u64().unwrap() >= 1,
        "{status:#}"
    );
    assert!(status["duration"].as_f64().unwrap() > 0.0, "{status:#}");
    assert_eq!(fixture.orders().len(), 1);

    let stopped = ok(&mcp_call(&client, "stop-recording", json!({ "sessionId": id })).await);
    assert_eq!(stopped["status"], "COMPLETED", "{stopped:#}");
    assert!(stopped["actionCount"].as_u64().unwrap() >= 3, "{stopped:#}");
    assert!(
        stopped["networkEventCount"].as_u64().unwrap() >= 8,
        "{stopped:#}"
    );
    assert!(stopped["metadata"]["endTime"].is_string(), "{stopped:#}");
    // Stopping again answers with how it ended.
    let again = ok(&mcp_call(&client, "stop-recording", json!({ "sessionId": id })).await);
    assert_eq!(again["status"], "COMPLETED");

    // The recording replays against a fresh shop (the password is never stored).
    let fresh = FixtureServer::start().await.unwrap();
    let exported = mcp_call(
        &client,
        "export-session",
        json!({ "sessionId": id, "format": "json", "includeNetworkData": false }),
    )
    .await;
    let content = serde_json::to_value(&exported.content).unwrap();
    let doc: Value =
        serde_json::from_str(content[1]["resource"]["text"].as_str().unwrap()).unwrap();
    let password = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| a["kind"] == "type" && a["target"] == "#password")
        .unwrap();
    let replayed = ok(&mcp_call(
        &client,
        "replay-automation",
        json!({
            "sessionId": id,
            "startUrl": fresh.url("/shop/"),
            "speedMultiplier": 5,
            "overrideParameters": { format!("action-{password}"): { "value": "wonderland" } },
        }),
    )
    .await);
    assert_eq!(replayed["status"], "COMPLETED", "{replayed:#}");

    // On a page without the recorded form the replay pauses at the first missing element
    // (pauseOnError is on by default), and waits for resume-replay.
    let paused = ok(&mcp_call(
        &client,
        "replay-automation",
        json!({
            "sessionId": id,
            "startUrl": fresh.url("/static/"),
            "speedMultiplier": 5,
            "overrideParameters": { format!("action-{password}"): { "value": "wonderland" } },
        }),
    )
    .await);
    assert_eq!(paused["status"], "PAUSED", "{paused:#}");
    let at = paused["pausedAt"].as_u64().unwrap() as usize;
    assert_eq!(paused["results"][at]["status"], "FAILED", "{paused:#}");
    let replay_id = paused["replayId"].as_str().unwrap().to_string();
    let cancelled = ok(&mcp_call(
        &client,
        "resume-replay",
        json!({ "replayId": replay_id, "action": "cancel" }),
    )
    .await);
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled:#}");
    let gone = mcp_call(
        &client,
        "resume-replay",
        json!({ "replayId": replay_id, "action": "retry" }),
    )
    .await;
    assert_eq!(
        gone.is_error,
        Some(true),
        "a cancelled replay cannot be resumed"
    );
    assert_eq!(mcp_json(&gone)["error"]["code"], -32004);

    // Over REST: a recording nobody drives stops itself after its inactivity timeout.
    let http = reqwest::Client::new();
    let response = http
        .post(server.url("/api/v1/sessions"))
        .json(&json!({
            "taskDescription": "open the static page and wait",
            "url": fixture.url("/static/"),
            "inactivityTimeoutSeconds": 30,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "RECORDING", "{body:#}");
    let idle = body["sessionId"].as_str().unwrap().to_string();
    let mut ended = Value::Null;
    for _ in 0..90 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ended = http
            .get(server.url(&format!("/api/v1/sessions/{idle}/recording")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ended["status"] != "RECORDING" {
            break;
        }
    }
    assert_eq!(ended["status"], "COMPLETED", "{ended:#}");
    let duration = ended["duration"].as_f64().unwrap();
    assert!(
        duration >= 30.0,
        "it stopped only after 30 s without activity: {ended:#}"
    );
    assert!(
        ended["networkEventCount"].as_u64().unwrap() >= 3,
        "{ended:#}"
    );

    // Bad input names its field.
    for (body, field) in [
        (json!({ "taskDescription": "short" }), "taskDescription"),
        (
            json!({ "taskDescription": SHOP_TASK, "timeoutMinutes": 1 }),
            "timeoutMinutes",
        ),
        (
            json!({ "taskDescription": SHOP_TASK, "inactivityTimeoutSeconds": 5 }),
            "inactivityTimeoutSeconds",
        ),
        (
            json!({ "taskDescription": SHOP_TASK, "captureLevel": 7 }),
            "captureLevel",
        ),
    ] {
        let response = http
            .post(server.url("/api/v1/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], -32602, "{error:#}");
        assert!(error.to_string().contains(field), "{field}: {error:#}");
    }
    let unknown = http
        .get(server.url("/api/v1/sessions/00000000-0000-4000-8000-000000000000/recording"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    drop(client);
    assert_eq!(server.terminate(), Some(0));
}

/// Reads Server-Sent Events with curl (a third-party client) until the stream ends, each
/// `data:` line as JSON.
fn sse_reader(url: String) -> (Child, std::thread::JoinHandle<Vec<Value>>) {
    let mut child = Command::new("curl")
        .args(["-sN", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl runs");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("data:").map(|d| d.trim().to_string()))
            .filter_map(|d| serde_json::from_str(&d).ok())
            .collect()
    });
    (child, reader)
}

/// The kinds and summaries of live events, for order checks: `action click #login-button`,
/// `network POST /api/login`, `status COMPLETED`.
fn event_lines(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|m| {
            let e = &m["event"];
            match e["kind"].as_str().unwrap_or_default() {
                "action" => format!(
                    "action {} {}",
                    e["action"].as_str().unwrap_or_default(),
                    e["target"].as_str().unwrap_or_default()
                ),
                "network" => format!(
                    "network {} {}",
                    e["method"].as_str().unwrap_or_default(),
                    url_path(e["url"].as_str().unwrap_or_default())
                ),
                kind => format!("{kind} {}", e["status"].as_str().unwrap_or_default()),
            }
        })
        .collect()
}

fn url_path(url: &str) -> String {
    url.splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default()
}

fn assert_in_order(lines: &[String], wanted: &[&str], what: &str) {
    let mut at = 0;
    for w in wanted {
        match lines[at..].iter().position(|l| l == w) {
            Some(i) => at += i + 1,
            None => panic!("{what}: {w:?} missing or out of order in {lines:#?}"),
        }
    }
}

/// Live events over SSE (curl) and the WebSocket: a subscriber sees the shop flow's actions
/// and requests in order, then how the recording ended; a subscriber that never reads,
/// on a page that logs 10,000 messages a second, is dropped while the recording goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_follow_a_recording_in_order_and_drop_a_subscriber_that_never_reads() {
    use futures_util::{SinkExt as _, StreamExt as _};
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &[]);
    let http = reqwest::Client::new();
    let call = |tool: &str, args: Value| {
        let request = http
            .post(server.url(&format!("/api/tools/{tool}/call")))
            .json(&args);
        let tool = tool.to_string();
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{tool}: {body:#}");
            body["result"].clone()
        }
    };
    let started = call(
        "record-session",
        json!({ "taskDescription": SHOP_TASK, "includeScreenshots": false }),
    )
    .await;
    let id = started["sessionId"].as_str().unwrap().to_string();

    let (mut curl, sse) = sse_reader(server.url(&format!("/api/v1/sessions/{id}/events")));
    let ws_url = server.url("/ws").replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            json!({ "type": "subscribe", "topic": "browser.events", "sessionId": id }).to_string(),
        ))
        .await
        .unwrap();
    let id_for_ws = id.clone();
    let ws = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(Ok(message)) = socket.next().await {
            let Ok(text) = message.into_text() else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "subscribed" {
                assert_eq!(v["sessionId"], id_for_ws.as_str());
            }
            let done = v["event"]["kind"] == "status" && v["event"]["status"] != "RECORDING";
            events.push(v);
            if done {
                break;
            }
        }
        events
    });
    // Both subscribers are listening before the page opens.
    tokio::time::sleep(Duration::from_millis(500)).await;

    call(
        "navigate",
        json!({ "sessionId": id, "url": fixture.url("/shop/"), "waitUntil": "networkidle" }),
    )
    .await;
    for (selector, text) in [("#username", "alice"), ("#password", "wonderland")] {
        call(
            "type",
            json!({ "sessionId": id, "selector": selector, "text": text }),
        )
        .await;
    }
    call(
        "click",
        json!({ "sessionId": id, "selector": "#login-button" }),
    )
    .await;
    for _ in 0..100 {
        if !fixture.orders().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = call("stop-recording", json!({ "sessionId": id })).await;
    assert_eq!(stopped["status"], "COMPLETED");

    let sse_events = tokio::task::spawn_blocking(move || {
        let events = sse.join().unwrap();
        let _ = curl.wait();
        events
    })
    .await
    .unwrap();
    let ws_events = tokio::time::timeout(Duration::from_secs(30), ws)
        .await
        .expect("the WebSocket subscription ends with the recording")
        .unwrap();
    let wanted = [
        "network GET /shop/",
        "action type #username",
        "action type #password",
        "action click #login-button",
        "network POST /api/login",
        "network GET /api/items",
        "network POST /api/orders",
        "status COMPLETED",
    ];
    for (what, events) in [("SSE", &sse_events), ("WebSocket", &ws_events)] {
        let lines = event_lines(events);
        assert_in_order(&lines, &wanted, what);
        assert!(
            events
                .iter()
                .filter(|e| e["type"] != "subscribed")
                .all(|e| e["type"] == "browser.event" && e["sessionId"] == id.as_str()),
            "{what}: {events:#?}"
        );
    }

    // A subscriber that never reads, on a page that floods the console, is dropped; the
    // recording goes on and stops when asked.
    let flood = call(
        "record-session",
        json!({ "taskDescription": "watch a page flood its console", "includeScreenshots": false }),
    )
    .await;
    let flood_id = flood["sessionId"].as_str().unwrap().to_string();
    // The subscriber: an HTTP request on a socket with a small receive window, never read
    // until the end. (A client that reads into a pipe nobody empties, such as curl's, has
    // megabytes of socket buffers in front of it first; a slow machine's flood may not fill
    // them in the test's few seconds.)
    let mut never_reads = {
        let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET /api/v1/sessions/{flood_id}/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
        );
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        stream
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    call(
        "navigate",
        json!({ "sessionId": flood_id, "url": fixture.url("/flood/") }),
    )
    .await;
    // Enough events to fill what lies between the topic and the stalled socket (the
    // server's send buffer, up to 4 MiB, about 14,000 of these) and the 1,024 it may fall
    // behind, with room to spare: a slow machine's flood takes longer to get there.
    let mut console_counts = Vec::new();
    while console_counts.last().is_none_or(|&n| n < 40_000) && console_counts.len() < 90 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let status = call("get-recording-status", json!({ "sessionId": flood_id })).await;
        console_counts.push(status["consoleEntryCount"].as_u64().unwrap());
    }
    assert!(
        console_counts.windows(2).all(|w| w[1] > w[0]),
        "the recording kept going while a subscriber stalled: {console_counts:?}"
    );
    let stopped = call("stop-recording", json!({ "sessionId": flood_id })).await;
    assert_eq!(stopped["status"], "COMPLETED", "{stopped:#}");
    // Now read what the stalled subscriber was sent: it ends with its own dropping.
    let mut received = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut never_reads, &mut received),
    )
    .await
    .expect("the dropped subscriber's stream ends")
    .unwrap();
    let tail = String::from_utf8_lossy(&received);
    let lines: Vec<&str> = tail.lines().filter(|l| l.starts_with("data:")).collect();
    assert!(
        tail.contains("\"dropped\""),
        "the stalled subscriber was dropped: {} events, last {:?}",
        lines.len(),
        lines.last()
    );

    // An unknown session's events: 404 with the code.
    let unknown = http
        .get(server.url("/api/v1/sessions/00000000-0000-4000-8000-000000000000/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(server.terminate(), Some(0));
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn chromium_count(marker: &str) -> usize {
    marked_processes(marker)
        .iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("chrom"))
                .unwrap_or(false)
        })
        .count()
}

/// 32 `capture-and-analyze` calls at once on a pool of 4 browsers: every call finishes or
/// is refused as busy, and once the browsers have idled out the server is back to no
/// Chromium and about the memory it had before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_captures_on_a_pool_of_four_finish_or_are_refused() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &[
            "--max-browsers",
            "4",
            "--browser-idle-timeout",
            "2",
            "--acquire-timeout",
            "120",
        ],
    );
    let http = reqwest::Client::new();
    let capture = |n: usize| {
        http.post(server.url("/api/tools/capture-and-analyze/call"))
            .json(&json!({
                "targetUrl": fixture.url("/static/"),
                "taskDescription": format!("load the static page, call {n}"),
                "timeoutSeconds": 120,
            }))
            .send()
    };
    let wait_for_no_chromium = || async {
        for _ in 0..600 {
            if chromium_count(&server.marker) == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    // A first call warms the server's own code paths; the baseline is taken after its
    // browser has idled out.
    let warm = capture(0).await.unwrap();
    assert_eq!(warm.status(), 200);
    assert!(
        wait_for_no_chromium().await,
        "the warm-up browser never idled out"
    );
    let pid = server.child.id();
    let baseline = rss_kib(pid);

    let calls: Vec<_> = (1..=32).map(|n| tokio::spawn(capture(n))).collect();
    let mut finished = 0;
    let mut busy = 0;
    for call in calls {
        let response = call.await.unwrap().unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if status == 200 {
            assert!(body["result"]["sessionId"].is_string(), "{body:#}");
            finished += 1;
        } else {
            assert_eq!(status, 503, "neither done nor busy: {body:#}");
            assert_eq!(
                body["error"]["code"], -32006,
                "neither done nor busy: {body:#}"
            );
            busy += 1;
        }
    }
    assert_eq!(finished + busy, 32);
    assert!(finished > 0, "no call finished");
    assert!(
        wait_for_no_chromium().await,
        "browsers outlived their idle timeout"
    );
    let after = rss_kib(pid);
    eprintln!(
        "32 captures: {finished} finished, {busy} busy; server RSS {baseline} KiB before, {after} KiB after"
    );
    assert!(
        after <= baseline + 100 * 1024,
        "the server's memory did not come back: {baseline} KiB before, {after} KiB after"
    );
    let list: Value = http
        .get(server.url("/api/v1/sessions?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["total"],
        33 - busy,
        "every finished call is stored once"
    );
}

/// The main processes of the browsers a server started (not their renderers and helpers),
/// oldest first.
fn browser_processes(marker: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = marked_processes(marker)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c).to_string();
                    c.contains("--remote-debugging-port") && !c.contains("--type=")
                })
                .unwrap_or(false)
        })
        .collect();
    pids.sort();
    pids
}

/// One browser per session (`--contexts-per-browser 1`); the browser of one running
/// capture is killed: that capture answers NetworkCaptureFailed and is stored ERROR with
/// what it recorded, the other capture ends as it would have, and the server serves the
/// next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_fails_only_its_own_capture() {
    let fixture = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &["--contexts-per-browser", "1", "--max-browsers", "3"],
    );
    let http = reqwest::Client::new();
    let start = |task: &str, timeout: u64| {
        let request = http
            .post(server.url("/api/tools/capture-and-analyze/call"))
            .json(&json!({
                "targetUrl": fixture.url("/static/"),
                "taskDescription": task,
                "timeoutSeconds": timeout,
                "waitFor": "false",
            }))
            .send();
        tokio::spawn(async move {
            let response = request.await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        })
    };
    let wait_for_browsers = |n: usize| {
        let marker = server.marker.clone();
        async move {
            for _ in 0..300 {
                let pids = browser_processes(&marker);
                if pids.len() >= n {
                    return pids;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{n} browsers never started");
        }
    };
    // Waits until `n` captures have recorded their page (under load a browser can take
    // seconds from launch to a loaded page).
    let recording = |n: usize| {
        let url = server.url("/api/v1/sessions?status=RECORDING");
        let http = http.clone();
        async move {
            for _ in 0..600 {
                let list: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
                let loaded = list["sessions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["networkEventCount"].as_u64().unwrap_or(0) >= 1)
                    .count();
                if loaded >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{n} captures never loaded their page");
        }
    };
    let doomed = start("a capture whose browser is killed", 60);
    recording(1).await;
    let doomed_browser = wait_for_browsers(1).await[0];
    let spared = start("a capture that runs to its deadline", 8);
    recording(2).await;
    assert_eq!(
        browser_processes(&server.marker).len(),
        2,
        "one browser per capture"
    );
    // SAFETY: a signal to a browser process this test's server started.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(doomed_browser as i32, libc::SIGKILL)
    };

    let (status, body) = doomed.await.unwrap();
    assert_eq!(status, 502, "{body:#}");
    assert_eq!(body["error"]["code"], -32101, "{body:#}");
    let id = body["error"]["details"]["sessionId"].as_str().unwrap();
    let stored: Value = http
        .get(server.url(&format!("/api/v1/sessions/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "ERROR", "{stored:#}");
    assert!(
        stored["networkEventCount"].as_u64().unwrap() >= 1,
        "what it recorded before the kill is kept: {stored:#}"
    );

    let (status, body) = spared.await.unwrap();
    assert_eq!(status, 200, "the other capture is unaffected: {body:#}");
    assert!(body["result"]["sessionId"].is_string(), "{body:#}");

    let next = http
        .post(server.url("/api/tools/capture-and-analyze/call"))
        .json(&json!({
            "targetUrl": fixture.url("/static/"),
            "taskDescription": "the next capture after the kill",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200, "the server keeps serving");
}

/// POSTs `args` to `path` and returns the status and the JSON answer.
async fn post_json(server: &Server, path: &str, args: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .json(args)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.unwrap())
}

const SIGNED_TASK: &str = "file the weekly report for the signed-in profile";

#[tokio::test]
async fn execute_optimally_replays_the_signed_task_in_a_headless_browser() {
    let data = tempfile::tempdir().unwrap();
    // Recorded on one fixture app, executed against a fresh one: new credentials, new key
    // id, new profile id.
    let recorded = FixtureServer::start().await.unwrap();
    let fresh = FixtureServer::start_with(
        spool_fixtures::FixtureConfig {
            username: "erin".into(),
            password: "fr3sh-pass".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let server = Server::start(data.path(), &[]);

    let (status, captured) = post_json(
        &server,
        "/api/tools/capture-and-analyze/call",
        &json!({
            "targetUrl": recorded.url("/signed/"),
            "taskDescription": SIGNED_TASK,
            "captureLevel": 2,
            "timeoutSeconds": 60,
            "waitFor": "document.title === 'done'",
        }),
    )
    .await;
    assert_eq!(status, 200, "{captured}");
    let captured = &captured["result"];
    assert_eq!(
        captured["recommendedModality"], "headless_cdp",
        "{}",
        captured["reasoning"]
    );
    let session_id = captured["sessionId"].as_str().unwrap().to_string();
    let execute = json!({
        "taskDescription": SIGNED_TASK,
        "sessionId": session_id,
        "inputs": { "baseUrl": fresh.base_url() },
        "retryPolicy": { "maxRetries": 0, "backoffMs": 1000 },
    });

    // Recommended headless_cdp: the page is opened on the fresh app and signs its own calls.
    let (status, r) = post_json(&server, "/api/v1/execute", &execute).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "SUCCESS", "{r}");
    assert_eq!(r["modality"], "headless_cdp", "{r}");
    let attempts = r["details"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{r}");
    let reports = fresh.state().reports();
    assert_eq!(reports.len(), 1, "the fresh app got no report: {r}");
    assert_eq!(r["output"]["reportId"], reports[0]["reportId"], "{r}");
    assert_eq!(r["output"]["status"], "queued");
    assert_eq!(
        r["details"]["browserReplay"]["target"]["path"],
        "/api/signed/report"
    );
    assert!(
        r["details"]["resources"]["networkRequests"]
            .as_u64()
            .unwrap()
            >= 3,
        "{r}"
    );
    assert!(
        recorded.state().reports().len() <= 1,
        "the replay went to the recorded app"
    );

    // Forced integuru: the plan cannot sign its calls (the signature is computed in the
    // page, so the plan wants it as an input), and the browser does the task instead.
    let mut forced = execute.clone();
    forced["forceModality"] = json!("integuru");
    let r = assert_signed_falls_back(&server, &forced, &fresh, 2, "signature").await;
    assert!(r["details"]["planRun"].is_null(), "{r}");

    // Given signatures (say, copied from the recording), the fresh app refuses them (401),
    // and the browser does the task instead.
    for input in ["x_signature", "x_signature_2"] {
        forced["inputs"][input] = json!("0f".repeat(32));
    }
    let r = assert_signed_falls_back(&server, &forced, &fresh, 3, "401").await;
    assert!(r["details"]["planRun"].is_object(), "{r}");
}

/// Runs the signed task with integuru forced and checks that integuru failed with `why`,
/// headless_cdp succeeded, and the fresh app now holds `reports` reports.
async fn assert_signed_falls_back(
    server: &Server,
    args: &Value,
    fresh: &FixtureServer,
    reports: usize,
    why: &str,
) -> Value {
    let (status, r) = post_json(server, "/api/v1/execute", args).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "SUCCESS", "{r}");
    assert_eq!(r["modality"], "headless_cdp", "{r}");
    let attempts = r["details"]["attempts"].as_array().unwrap();
    let tried: Vec<&str> = attempts
        .iter()
        .map(|a| a["modality"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["integuru", "headless_cdp"], "{r}");
    assert_eq!(attempts[0]["status"], "FAILED");
    assert!(attempts[0]["error"].as_str().unwrap().contains(why), "{r}");
    assert_eq!(attempts[1]["status"], "SUCCESS");
    let stored = fresh.state().reports();
    assert_eq!(stored.len(), reports, "{r}");
    assert_eq!(
        r["output"]["reportId"],
        stored[reports - 1]["reportId"],
        "{r}"
    );
    r
}

#[tokio::test]
async fn integuru_code_is_refused_by_default_and_runs_when_allowed() {
    let data = tempfile::tempdir().unwrap();
    let script = "import json, sys\n\
                  inputs = json.load(sys.stdin)\n\
                  print(json.dumps({'greeting': 'hello ' + inputs['name'], 'task': inputs['taskDescription']}))\n";
    let args = json!({
        "taskDescription": "greet the person named in the inputs",
        "integuruCode": script,
        "inputs": { "name": "carol" },
    });
    {
        let server = Server::start(data.path(), &[]);
        let (status, r) = post_json(&server, "/api/v1/execute", &args).await;
        assert_eq!(status, 400, "{r}");
        assert_eq!(r["error"]["code"], -32602, "{r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains("integuruCode"), "{message}");
        assert!(message.contains("--allow-integuru-code"), "{message}");
    }

    let server = Server::start(data.path(), &["--allow-integuru-code", "true"]);
    let (status, r) = post_json(&server, "/api/v1/execute", &args).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "SUCCESS", "{r}");
    assert_eq!(r["output"]["greeting"], "hello carol", "{r}");
    assert_eq!(
        r["output"]["task"], "greet the person named in the inputs",
        "{r}"
    );
    assert_eq!(r["details"]["codeRun"]["exitCode"], 0, "{r}");

    // A script that fails: FAILED with its exit status and what it printed to stderr.
    let mut failing = args.clone();
    failing["integuruCode"] = json!("import sys\nsys.exit('login refused')\n");
    let (status, r) = post_json(&server, "/api/v1/execute", &failing).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "FAILED", "{r}");
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("status 1"), "{error}");
    assert!(error.contains("login refused"), "{error}");
}

/// Calls a tool over REST and returns its result, failing the test on an error.
async fn tool(server: &Server, name: &str, args: Value) -> Value {
    let (status, r) = post_json(server, &format!("/api/tools/{name}/call"), &args).await;
    assert_eq!(status, 200, "{name}: {r}");
    r["result"].clone()
}

/// A shop order recorded by hand through the browser tools, executed in a headless browser
/// against a fresh shop that only knows other credentials: the caller's inputs replace the
/// typed username and the withheld password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_optimally_replays_recorded_actions_with_the_callers_inputs() {
    let recorded = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &[]);
    let opened = tool(
        &server,
        "navigate",
        json!({ "url": recorded.url("/shop/"), "waitUntil": "networkidle", "taskDescription": SHOP_TASK }),
    )
    .await;
    let id = opened["sessionId"].as_str().unwrap().to_string();
    for (selector, text) in [("#username", "alice"), ("#password", "wonderland")] {
        tool(
            &server,
            "type",
            json!({ "sessionId": id, "selector": selector, "text": text }),
        )
        .await;
    }
    tool(
        &server,
        "click",
        json!({ "sessionId": id, "selector": "#login-button" }),
    )
    .await;
    for _ in 0..100 {
        if !recorded.orders().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(recorded.orders().len(), 1);
    // Let the page finish writing the confirmation before the recording ends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    tool(&server, "close-session", json!({ "sessionId": id })).await;

    let fresh = FixtureServer::start_with(
        spool_fixtures::FixtureConfig {
            username: "frank".into(),
            password: "n3w-secret".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let args = json!({
        "taskDescription": SHOP_TASK,
        "sessionId": id,
        "forceModality": "headless_cdp",
        "inputs": { "baseUrl": fresh.base_url(), "username": "frank", "password": "n3w-secret" },
    });
    let (status, r) = post_json(&server, "/api/v1/execute", &args).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "SUCCESS", "{r}");
    assert_eq!(r["modality"], "headless_cdp", "{r}");
    let orders = fresh.orders();
    assert_eq!(orders.len(), 1, "{r}");
    assert_eq!(orders[0]["username"], "frank");
    assert_eq!(r["output"]["orderId"], orders[0]["orderId"], "{r}");
    assert!(
        !r.to_string().contains("n3w-secret"),
        "the password came back: {r}"
    );
    let steps = r["details"]["steps"].as_array().unwrap();
    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| s["action"].as_str().unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(kinds, ["type", "type", "click", "submit"], "{r}");
    assert!(steps.iter().all(|s| s["status"] == "SUCCESS"), "{r}");

    // Without the password the typing step fails, named with its selectors, and the task
    // goes to a person.
    let mut no_password = args.clone();
    no_password["inputs"] = json!({ "baseUrl": fresh.base_url(), "username": "frank" });
    let (status, r) = post_json(&server, "/api/v1/execute", &no_password).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "REQUIRES_USER", "{r}");
    let attempt = &r["details"]["attempts"][0];
    assert_eq!(attempt["modality"], "headless_cdp", "{r}");
    assert_eq!(attempt["status"], "FAILED", "{r}");
    let error = attempt["error"].as_str().unwrap();
    assert!(error.contains("password"), "{error}");
    assert!(error.contains("action 1 (type)"), "{error}");
    assert_eq!(fresh.orders().len(), 1, "a failed replay placed an order");

    let marker = server.marker.clone();
    assert_eq!(server.terminate(), Some(0));
    assert_no_marked_processes(&marker);
}

/// `POST /api/v1/batch` and `parallel-execute`: every operation gets its own result or
/// error, in the order given; one failing never fails the others; the batch's timeout
/// cancels what still runs.
#[tokio::test]
async fn batches_run_executions_in_order_and_in_parallel() {
    let data = tempfile::tempdir().unwrap();
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/har/flows/shop.l3.har");
    std::fs::copy(&har, data.path().join("shop.har")).unwrap();
    let fresh = FixtureServer::start().await.unwrap();
    let server = Server::start(
        data.path(),
        &["--allow-integuru-code", "true", "--max-concurrency", "4"],
    );
    let order = json!({
        "tool": "execute-optimally",
        "parameters": {
            "taskDescription": SHOP_TASK,
            "harFile": "shop.har",
            "inputs": { "baseUrl": fresh.base_url(), "password": "wonderland" },
            "retryPolicy": { "maxRetries": 0, "backoffMs": 1000 },
        },
    });
    let (status, r) = post_json(
        &server,
        "/api/v1/batch",
        &json!({ "operations": [
            order,
            { "tool": "execute-optimally", "parameters": { "taskDescription": SHOP_TASK, "sessionId": "not-a-uuid" } },
            { "tool": "no-such-tool", "parameters": {} },
            order,
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["maxConcurrency"], 1, "{r}");
    assert_eq!(
        (r["succeeded"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    let results = r["results"].as_array().unwrap();
    let indexes: Vec<u64> = results
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    assert_eq!(results[1]["error"]["code"], -32602, "{r}");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sessionId")
    );
    assert_eq!(results[2]["error"]["code"], -32601, "{r}");
    let orders = fresh.orders();
    assert_eq!(orders.len(), 2, "{r}");
    // In order: the first operation placed the first order.
    assert_eq!(results[0]["result"]["status"], "SUCCESS", "{r}");
    assert_eq!(
        results[0]["result"]["output"]["orderId"],
        orders[0]["orderId"]
    );
    assert_eq!(
        results[3]["result"]["output"]["orderId"],
        orders[1]["orderId"]
    );

    // parallel-execute: eight orders, four at a time, each its own.
    let (status, r) = post_json(
        &server,
        "/api/tools/parallel-execute/call",
        &json!({ "operations": vec![order.clone(); 8] }),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let r = &r["result"];
    assert_eq!(r["maxConcurrency"], 4, "{r}");
    assert_eq!(r["succeeded"], 8, "{r}");
    let mut ids: Vec<String> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["result"]["output"]["orderId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "{r}");
    assert_eq!(fresh.orders().len(), 10);

    // A call that outlives the batch's timeout ends with Timeout; the quick one succeeds.
    let (status, r) = post_json(
        &server,
        "/api/v1/batch",
        &json!({
            "maxConcurrency": 2,
            // Ample for the quick script even on a loaded machine; far short of the slow one.
            "timeout": 15,
            "operations": [
                { "tool": "execute-optimally", "parameters": {
                    "taskDescription": "wait far longer than the batch allows",
                    "integuruCode": "import time\ntime.sleep(120)\n" } },
                { "tool": "execute-optimally", "parameters": {
                    "taskDescription": "answer at once with a small JSON document",
                    "integuruCode": "print('{\"ok\": true}')\n" } },
            ],
        }),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let results = r["results"].as_array().unwrap();
    assert_eq!(results[0]["error"]["code"], -32604, "{r}");
    assert_eq!(results[1]["result"]["output"]["ok"], true, "{r}");

    // A batch inside a batch is refused, naming the operation.
    let (status, r) = post_json(
        &server,
        "/api/v1/batch",
        &json!({ "operations": [ { "tool": "parallel-execute", "parameters": {} } ] }),
    )
    .await;
    assert_eq!(status, 400, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("operations[0].tool"),
        "{r}"
    );
}

/// The captcha task needs a person: REQUIRES_USER with instructions, and no browser starts.
#[tokio::test]
async fn the_captcha_task_is_handed_to_a_person() {
    let data = tempfile::tempdir().unwrap();
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/har/flows/captcha.l3.har");
    std::fs::copy(&har, data.path().join("captcha.har")).unwrap();
    let fresh = FixtureServer::start().await.unwrap();
    let server = Server::start(data.path(), &[]);
    let task = "send the contact message through the captcha form";
    let (status, r) = post_json(
        &server,
        "/api/v1/execute",
        &json!({
            "taskDescription": task,
            "harFile": "captcha.har",
            "inputs": { "baseUrl": fresh.base_url() },
        }),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "REQUIRES_USER", "{r}");
    assert_eq!(r["modality"], "visible_browser", "{r}");
    let attempts = r["details"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{r}");
    let instructions = r["details"]["instructions"].as_str().unwrap();
    assert!(instructions.contains(task), "{instructions}");
    assert!(instructions.contains("captcha"), "{instructions}");
    let health: Value = reqwest::get(server.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["pool"]["stats"]["launchedTotal"], 0, "{health}");
}

/// Over MCP: `capture-and-analyze` records the shop order, and `execute-optimally` with the
/// returned `sessionId` places the order again on a fresh app with other credentials, by
/// plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_then_execute_over_mcp_completes_the_shop_order() {
    let data = tempfile::tempdir().unwrap();
    let recorded = FixtureServer::start().await.unwrap();
    let fresh = FixtureServer::start_with(
        spool_fixtures::FixtureConfig {
            username: "gina".into(),
            password: "pa55-gina".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let mut server = Server::start(data.path(), &[]);
    let transport = StreamableHttpClientTransport::from_uri(server.url("/mcp"));
    let client = ().serve(transport).await.expect("MCP over HTTP connects");
    let captured = mcp_call(&client, "capture-and-analyze", shop_args(&recorded)).await;
    assert_ne!(captured.is_error, Some(true), "{:?}", captured.content);
    let captured = captured.structured_content.unwrap();
    assert_eq!(captured["recommendedModality"], "integuru", "{captured}");
    let session_id = captured["sessionId"].as_str().unwrap();
    let r = mcp_call(
        &client,
        "execute-optimally",
        json!({
            "taskDescription": SHOP_TASK,
            "sessionId": session_id,
            "inputs": { "baseUrl": fresh.base_url(), "username": "gina", "password": "pa55-gina" },
            "retryPolicy": { "maxRetries": 0, "backoffMs": 1000 },
        }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    let out = r.structured_content.unwrap();
    assert_eq!(out["status"], "SUCCESS", "{out}");
    assert_eq!(out["modality"], "integuru", "{out}");
    let orders = fresh.orders();
    assert_eq!(orders.len(), 1, "{out}");
    assert_eq!(orders[0]["username"], "gina");
    assert_eq!(out["output"]["orderId"], orders[0]["orderId"], "{out}");
    client.cancel().await.unwrap();
    let marker = server.marker.clone();
    assert_eq!(server.terminate(), Some(0));
    assert_no_marked_processes(&marker);
}
