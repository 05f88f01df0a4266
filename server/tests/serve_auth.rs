//! `spool serve` run for a team, as its clients and operators see it: credentials (API keys,
//! static bearer tokens, HS256 and RS256 JWTs), the refusal to serve off loopback without
//! them, per-client rate limits, the `/mcp` Host/Origin allow-list, `/metrics` read by the
//! reference Prometheus parser, request ids and the audit log. Every server listens on
//! 127.0.0.1, starts no browser, and is stopped when its guard drops, also when an
//! assertion fails.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const SPOOL: &str = env!("CARGO_BIN_EXE_spool");
const API_KEY: &str = "team-key-7f3a9c51e2";
const OTHER_API_KEY: &str = "team-key-b04d66a8c7";
const BEARER: &str = "static-token-5e1f0a9d";
const HS256_SECRET: &str = "hs256-secret-for-tests-0c9b2f";
/// Every variable that could hand the server a credential the test did not mean to give.
const CREDENTIAL_VARIABLES: [&str; 6] = [
    "SPOOL_API_KEYS",
    "SPOOL_API_TOKEN",
    "SPOOL_JWT_HS256_SECRET",
    "SPOOL_JWT_RS256_PUBLIC_KEY",
    "SPOOL_RATE_LIMITS",
    "SPOOL_RATE_LIMIT",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/auth")
        .join(name)
}

/// A running `spool serve` on 127.0.0.1 and everything it wrote to stderr; killed on drop.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(SPOOL);
        command
            .arg("--data")
            .arg(data.path())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for variable in CREDENTIAL_VARIABLES {
            command.env_remove(variable);
        }
        let mut child = command.spawn().expect("spawning spool serve");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[serve] {line}");
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("spool serve did not say where it listens");
            }
        };
        Server {
            child,
            base,
            stderr: lines,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The stderr lines so far, after waiting for one that contains `needle` (the server
    /// writes the audit line of a call just after answering it).
    fn stderr_with(&self, needle: &str) -> Vec<String> {
        for _ in 0..100 {
            let lines = self.stderr.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains(needle)) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn jwt(algorithm: Algorithm, key: &EncodingKey, subject: &str, expires_in_secs: i64) -> String {
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({ "sub": subject, "exp": now + expires_in_secs, "iat": now });
    jsonwebtoken::encode(&Header::new(algorithm), &claims, key).unwrap()
}

fn rsa_key(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&std::fs::read(fixture(name)).unwrap()).unwrap()
}

/// Status, headers and JSON body of a GET with the given extra headers.
async fn get(
    url: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// Asserts a 401 in the server's one error shape with the given reason.
fn assert_unauthorized(status: StatusCode, body: &Value, reason: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], -32301, "{body}");
    assert_eq!(body["error"]["name"], "Unauthorized", "{body}");
    assert_eq!(body["error"]["details"]["reason"], reason, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().len() > 10,
        "{body}"
    );
}

#[test]
fn refuses_to_serve_off_loopback_without_credentials() {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(SPOOL);
    command
        .arg("--data")
        .arg(data.path())
        .args(["serve", "--addr", "0.0.0.0:0"]);
    for variable in CREDENTIAL_VARIABLES {
        command.env_remove(variable);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refusing to serve on 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("--api-key"), "{stderr}");
    assert!(stderr.contains("SPOOL_API_KEYS"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_kind_is_checked() {
    let public_key = fixture("rs256-public.pem");
    let server = Server::start(&[
        "--api-key",
        API_KEY,
        "--api-token",
        BEARER,
        "--jwt-hs256-secret",
        HS256_SECRET,
        "--jwt-rs256-public-key",
        public_key.to_str().unwrap(),
    ]);
    let sessions = server.url("/api/v1/sessions");

    // The settings are printed with every secret masked.
    let banner = server.stderr_with("api_keys =").join("\n");
    assert!(banner.contains("api_keys = 1 × ****"), "{banner}");
    for secret in [API_KEY, BEARER, HS256_SECRET] {
        assert!(!banner.contains(secret), "a secret was printed: {banner}");
    }

    // /health stays open.
    let (status, headers, body) = get(&server.url("/health"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers.contains_key("x-request-id"));

    let (status, headers, body) = get(&sessions, &[]).await;
    assert_unauthorized(status, &body, "missing_credentials");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert!(
        headers.contains_key("x-request-id"),
        "401s carry the request id too"
    );

    let (status, _, body) = get(&sessions, &[("x-api-key", "not-the-key")]).await;
    assert_unauthorized(status, &body, "invalid_api_key");
    let (status, _, body) = get(&sessions, &[("x-api-key", API_KEY)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions"], json!([]), "{body}");

    let bearer = format!("Bearer {BEARER}");
    let (status, _, body) = get(&sessions, &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = get(&sessions, &[("authorization", "Bearer wrong-token")]).await;
    assert_unauthorized(status, &body, "invalid_token");

    // JWTs: HS256 and RS256 accepted while valid; expired or signed with another key refused.
    let hs = EncodingKey::from_secret(HS256_SECRET.as_bytes());
    let cases = [
        (jwt(Algorithm::HS256, &hs, "alice", 600), None),
        (
            jwt(Algorithm::RS256, &rsa_key("rs256-private.pem"), "bob", 600),
            None,
        ),
        (
            jwt(Algorithm::HS256, &hs, "alice", -3600),
            Some("token_expired"),
        ),
        (
            jwt(
                Algorithm::HS256,
                &EncodingKey::from_secret(b"another secret"),
                "mallory",
                600,
            ),
            Some("invalid_signature"),
        ),
        (
            jwt(
                Algorithm::RS256,
                &rsa_key("other-rs256-private.pem"),
                "mallory",
                600,
            ),
            Some("invalid_signature"),
        ),
    ];
    for (token, refusal) in cases {
        let header = format!("Bearer {token}");
        let (status, _, body) = get(&sessions, &[("authorization", &header)]).await;
        match refusal {
            None => assert_eq!(status, StatusCode::OK, "{body}"),
            Some(reason) => assert_unauthorized(status, &body, reason),
        }
    }

    // MCP needs credentials as well.
    let response = reqwest::Client::new()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The audit log names the credential by id and the JWT by subject, never a secret.
    let lines = server.stderr_with("client=\"jwt:bob\"");
    let audit: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("spool::audit"))
        .collect();
    assert!(
        audit.iter().any(|l| l.contains("client=\"key:")
            && l.contains("tool=\"list-sessions\"")
            && l.contains("outcome=\"ok\"")
            && l.contains("duration_ms=")),
        "no audit line for the API key's call: {audit:#?}"
    );
    assert!(
        audit.iter().any(|l| l.contains("client=\"jwt:alice\"")),
        "{audit:#?}"
    );
    let everything = lines.join("\n");
    for secret in [API_KEY, BEARER, HS256_SECRET] {
        assert!(!everything.contains(secret), "a secret reached the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_limit_is_refused_for_that_client_and_tool_only() {
    let server = Server::start(&[
        "--api-key",
        API_KEY,
        "--api-key",
        OTHER_API_KEY,
        "--rate-limit",
        "list-sessions=1/3",
    ]);
    let sessions = server.url("/api/v1/sessions");
    let mut refused = None;
    for _ in 0..10 {
        let (status, headers, body) = get(&sessions, &[("x-api-key", API_KEY)]).await;
        assert_eq!(headers["x-ratelimit-limit"], "3", "{body}");
        assert!(headers.contains_key("x-ratelimit-remaining"));
        assert!(headers.contains_key("x-ratelimit-reset"));
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((headers, body));
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (headers, body) = refused.expect("ten calls at a limit of 1/s burst 3 were all let in");
    assert_eq!(body["error"]["code"], -32303, "{body}");
    assert_eq!(body["error"]["name"], "RateLimited", "{body}");
    assert_eq!(body["error"]["details"]["tool"], "list-sessions", "{body}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "Retry-After {retry}");

    // Another client, and another tool of the same client, are unaffected.
    let (status, _, body) = get(&sessions, &[("x-api-key", OTHER_API_KEY)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, body) = get(&server.url("/api/tools"), &[("x-api-key", API_KEY)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers["x-ratelimit-limit"], "50",
        "the default limit's burst"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_refuses_foreign_hosts_and_origins() {
    let server = Server::start(&["--cors-origin", "https://dashboard.example"]);
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "test", "version": "1" },
        },
    });
    let post = |headers: Vec<(&'static str, &'static str)>| {
        let mut request = reqwest::Client::new()
            .post(server.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    for (headers, which) in [
        (vec![("host", "rebound.evil.example")], "host"),
        (vec![("origin", "http://rebound.evil.example")], "origin"),
    ] {
        let response = post(headers).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32302, "{body}");
        assert_eq!(body["error"]["details"]["header"], which, "{body}");
    }
    for headers in [vec![], vec![("origin", "https://dashboard.example")]] {
        let response = post(headers).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// The samples of `/metrics` as the reference parser reads them.
async fn scrape(server: &Server) -> BTreeMap<String, f64> {
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_metrics.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/setup.sh installs prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_as_calls_are_made() {
    let server = Server::start(&[]);
    let calls = "spool_tool_calls_total{tool=list-sessions}";
    let not_found = "spool_tool_errors_total{code=SessionNotFound,tool=get-session}";
    let before = scrape(&server).await;
    assert_eq!(
        sample(&before, "spool_store_sessions{}"),
        0.0,
        "{before:#?}"
    );
    assert_eq!(sample(&before, "spool_pool_waiters{}"), 0.0, "{before:#?}");
    assert!(
        before.contains_key("spool_pool_max_browsers{}"),
        "{before:#?}"
    );
    assert!(before.contains_key("spool_live_sessions{}"), "{before:#?}");

    for _ in 0..2 {
        let (status, headers, _) = get(&server.url("/api/v1/sessions"), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.contains_key("x-request-id"));
    }
    let missing = server.url("/api/v1/sessions/00000000-0000-4000-8000-000000000000");
    let (status, _, _) = get(&missing, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let after = scrape(&server).await;
    assert_eq!(
        sample(&after, calls) - sample(&before, calls),
        2.0,
        "{after:#?}"
    );
    assert_eq!(
        sample(&after, not_found) - sample(&before, not_found),
        1.0,
        "{after:#?}"
    );
    assert_eq!(
        sample(
            &after,
            "spool_tool_duration_seconds_count{tool=list-sessions}"
        ),
        sample(&after, calls),
        "{after:#?}"
    );
    assert!(
        after.contains_key("spool_tool_duration_seconds_bucket{le=+Inf,tool=list-sessions}"),
        "latency is a histogram: {after:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_made_or_kept_and_returned() {
    let server = Server::start(&[]);
    let (_, headers, _) = get(&server.url("/api/tools"), &[]).await;
    let made = headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
    let (_, headers, _) = get(&server.url("/api/tools"), &[("x-request-id", "trace-42")]).await;
    assert_eq!(headers["x-request-id"], "trace-42");
    let (_, headers, _) = get(
        &server.url("/api/v1/sessions"),
        &[("x-request-id", "trace-44")],
    )
    .await;
    assert_eq!(headers["x-request-id"], "trace-44");
    // The audit line of the call runs inside the request's span, so it carries the id.
    let lines = server.stderr_with("request_id=\"trace-44\"");
    assert!(
        lines.iter().any(|l| l.contains("request_id=\"trace-44\"")
            && l.contains("spool::audit")
            && l.contains("tool=\"list-sessions\"")),
        "{lines:#?}"
    );
    let (status, headers, _) = get(
        &server.url("/no/such/route"),
        &[("x-request-id", "trace-43")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-request-id"], "trace-43");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_calls_are_authenticated_limited_and_audited() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let server = Server::start(&["--api-token", BEARER, "--rate-limit", "get-session=1/2"]);
    let connect = |token: Option<&str>| {
        let mut config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"));
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        ().serve(StreamableHttpClientTransport::from_config(config))
    };
    assert!(
        connect(None).await.is_err(),
        "an MCP client without credentials got in"
    );
    assert!(connect(Some("wrong-token")).await.is_err());

    let client = connect(Some(BEARER)).await.unwrap();
    let listed = client
        .call_tool(CallToolRequestParams::new("list-sessions"))
        .await
        .unwrap();
    assert_ne!(listed.is_error, Some(true), "{listed:?}");
    // A burst of get-session over MCP meets its limit; list-sessions is still served.
    let missing = json!({ "sessionId": "00000000-0000-4000-8000-000000000000" });
    let mut refused = false;
    for _ in 0..10 {
        let args = missing.as_object().unwrap().clone();
        let call = CallToolRequestParams::new("get-session").with_arguments(args);
        if client.call_tool(call).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "ten get-session calls at 1/s burst 2 were all let in"
    );
    let again = client
        .call_tool(CallToolRequestParams::new("list-sessions"))
        .await
        .unwrap();
    assert_ne!(again.is_error, Some(true), "{again:?}");

    let lines = server.stderr_with("outcome=\"SessionNotFound\"");
    let audit: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("spool::audit") && l.contains("surface=\"mcp\""))
        .collect();
    assert!(
        audit.iter().any(|l| l.contains("client=\"token:")
            && l.contains("tool=\"get-session\"")
            && l.contains("session=\"00000000-0000-4000-8000-000000000000\"")
            && l.contains("outcome=\"SessionNotFound\"")),
        "{audit:#?}"
    );
    let _ = client.cancel().await;
}
