//! `spool report` and the served report as a user meets them: the CLI writes one HTML file
//! of a stored session (the captured shop flow, imported) and says where; an unknown
//! session is a coded error; `spool serve` serves the same report behind its credentials,
//! links it from `get-session`, serves the bodies the page loads lazily (redacted as
//! exports are), lists the routes in its OpenAPI document, and answers an unknown session
//! with 404 and the error code. Servers listen on 127.0.0.1, start no browser, and are
//! killed when their guard drops, also when an assertion fails.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

mod common;

use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SPOOL: &str = env!("CARGO_BIN_EXE_spool");
const API_KEY: &str = "report-key-4c1e9b7a20";
/// The bearer token and the `session` cookie recorded in fixtures/har/flows/shop.l3.har.
const RECORDED_TOKEN: &str = "baJMVsmexngaYYrvimTARprM9ZSQ24FaXwlchjok";
const RECORDED_COOKIE: &str = "ae50660dfa50020f17706a6d7eccc74b";
const RECORDED_CSRF: &str = "3d96291a402f99cefac724af1f8e7ec0";
const UNKNOWN: &str = "00000000-0000-4000-8000-00000000beef";

fn spool(data: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(SPOOL)
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(dir)
        .env_remove("SPOOL_DATA")
        .env("NO_COLOR", "1")
        .output()
        .expect("the spool binary runs")
}

fn import_shop(data: &Path) -> String {
    let har = spool_fixtures::captured_har("shop", 3);
    let out = spool(
        data,
        data.parent().unwrap(),
        &["sessions", "import", har.to_str().unwrap()],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split_whitespace()
        .map(|w| w.trim_end_matches(':'))
        .find(|w| w.len() == 36 && w.chars().filter(|c| *c == '-').count() == 4)
        .unwrap_or_else(|| panic!("no session id in the import's output: {text}"))
        .to_string()
}

fn assert_no_recorded_secret(text: &str, what: &str) {
    for secret in [RECORDED_TOKEN, RECORDED_COOKIE, RECORDED_CSRF] {
        assert!(!text.contains(secret), "{what} shows the secret {secret}");
    }
}

#[test]
fn spool_report_writes_one_html_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let id = import_shop(&data);

    // Default: <session-id>.html in the current directory, its path printed.
    let out = spool(&data, dir.path(), &["report", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.trim(), format!("{id}.html"));
    let html = std::fs::read_to_string(dir.path().join(format!("{id}.html"))).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<script type=\"application/json\" id=\"spool-data\">"));
    assert!(html.contains(&id));
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "nothing is fetched"
    );
    assert_no_recorded_secret(&html, "the report file");

    // --out, and a prefix of the id.
    let out_path = dir.path().join("shop-report.html");
    let out = spool(
        &data,
        dir.path(),
        &["report", &id[..8], "--out", out_path.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        out_path.to_str().unwrap()
    );
    assert!(out_path.exists());

    // An unknown session: SessionNotFound, exit status 5.
    let out = spool(&data, dir.path(), &["report", UNKNOWN]);
    common::fails(&out, 5, -32004, "report of an unknown session");
}

/// A running `spool serve` on 127.0.0.1 that requires an API key; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = Command::new(SPOOL)
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0", "--api-key", API_KEY])
            .env_remove("SPOOL_API_KEYS")
            .env_remove("SPOOL_API_TOKEN")
            .env_remove("SPOOL_RATE_LIMITS")
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
        // The guard exists before the wait, so a server that never answers is killed too.
        let mut server = Server {
            child,
            base: String::new(),
        };
        server.base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("spool serve did not say where it listens");
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(url: &str, key: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_report_sits_behind_the_same_credentials_and_links_from_get_session() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let id = import_shop(&data);
    let server = Server::start(&data);
    let url = |path: &str| format!("{}{path}", server.base);

    // get-session links the report.
    let (status, _, body) = get(&url(&format!("/api/v1/sessions/{id}")), Some(API_KEY)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    let report_url = session["reportUrl"].as_str().unwrap().to_string();
    assert_eq!(report_url, format!("/api/v1/sessions/{id}/report"));

    // No key, no report.
    let (status, _, body) = get(&url(&report_url), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(!body.contains("spool-data"));
    let (status, _, _) = get(&url(&format!("/sessions/{id}/report")), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // With the key: the page, served with a CSP that lets only its own script run.
    for path in [report_url.clone(), format!("/sessions/{id}/report")] {
        let (status, headers, html) = get(&url(&path), Some(API_KEY)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert!(headers.contains_key("x-request-id"));
        assert!(html.contains(&id));
        assert_no_recorded_secret(&html, "the served report");
    }

    // The body route the page loads left-out bodies from: redacted as exports redact.
    let login_body = url(&format!("/api/v1/sessions/{id}/entries/4/body"));
    let (status, _, _) = get(&login_body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = get(&login_body, Some(API_KEY)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["x-recorded-content-type"], "application/json");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(body.contains("\"token\":\"[REDACTED]\""), "{body}");
    let (status, _, body) = get(&format!("{login_body}?part=request"), Some(API_KEY)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"password\":\"[REDACTED]\""), "{body}");
    assert_no_recorded_secret(&body, "the login request body");
    let (status, _, body) = get(
        &url(&format!("/api/v1/sessions/{id}/entries/999/body")),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // An unknown session: 404 with the error code.
    let (status, _, body) = get(
        &url(&format!("/api/v1/sessions/{UNKNOWN}/report")),
        Some(API_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], -32004, "{body}");
    assert_eq!(error["error"]["name"], "SessionNotFound", "{body}");

    // The OpenAPI document lists the routes.
    let (status, _, body) = get(&url("/api/openapi.json"), Some(API_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&body).unwrap();
    for path in [
        "/api/v1/sessions/{id}/report",
        "/api/v1/sessions/{id}/entries/{index}/body",
        "/api/v1/sessions/{id}/screenshots/{index}",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(
        doc["paths"]["/api/v1/sessions/{id}/report"]["get"]["responses"]["200"]["content"]["text/html"]
            .is_object()
    );
}
