//! `spool replay --check` as a QA pipeline runs it: two sessions recorded in real headless
//! Chromium on the fixture app (the shop order, driven by mouse and keyboard input with a
//! screenshot after every action, and the polling page) are checked against a fresh copy of
//! the app, which passes, and against a variant with one changed API status and one broken
//! button, which fails with a JUnit file naming both. `--shard 1/2` and `2/2` together check
//! every session once. The recording browser is shut down before anything is checked, and
//! every `spool` run closes its own.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

mod common;
use common::fails;

use serde_json::{Value, json};
use spool_engine::{
    BrowserPool, BrowserSource, Capture, CaptureConfig, LaunchConfig, LiveCapture, NoSink,
    PageHandle, PoolConfig, ScreenshotOptions, WaitUntil,
};
use spool_fixtures::{FixtureConfig, FixtureServer, Regressions};
use spool_model::session::ImageFormat;
use spool_store::{NewSession, SessionEnd, Store};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// The expression's value; `Null` while a navigation replaces the document.
async fn eval(page: &PageHandle, expression: &str) -> Value {
    match page
        .call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        )
        .await
    {
        Ok(answer) => answer["result"]["value"].clone(),
        Err(_) => Value::Null,
    }
}

/// Clicks the centre of `selector` with real mouse input, then pauses as a person would.
async fn click(page: &PageHandle, selector: &str) {
    let centre = eval(
        page,
        &format!(
            "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            serde_json::to_string(selector).unwrap()
        ),
    )
    .await;
    for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
        page.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": centre[0], "y": centre[1], "button": "left", "clickCount": 1 }),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn type_into(page: &PageHandle, selector: &str, text: &str) {
    click(page, selector).await;
    page.call("Input.insertText", json!({ "text": text }))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn wait_for_title(page: &PageHandle, title: &str) -> bool {
    for _ in 0..100 {
        if eval(page, "document.title").await == json!(title) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn recording_config(url: String) -> CaptureConfig {
    let mut config = CaptureConfig::new(url);
    config.timeout = Duration::from_secs(60);
    config.screenshots = Some(ScreenshotOptions {
        format: ImageFormat::Png,
        width: 800,
        height: 600,
        ..ScreenshotOptions::default()
    });
    config.viewport.width = 800;
    config.viewport.height = 600;
    config
}

/// Signs in and orders in the shop with mouse and keyboard input while a live capture
/// records.
async fn record_shop(pool: &BrowserPool, app: &FixtureServer) -> Capture {
    let live = LiveCapture::start(pool, recording_config(app.url("/shop/")), Box::new(NoSink))
        .await
        .unwrap();
    let page = live.page().clone();
    page.wait_until(
        WaitUntil::Load,
        &Default::default(),
        Duration::from_secs(15),
        "the shop",
    )
    .await
    .unwrap();
    type_into(&page, "#username", "alice").await;
    type_into(&page, "#password", "wonderland").await;
    click(&page, "#login-button").await;
    let done = wait_for_title(&page, "done").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let capture = live.stop().await.unwrap();
    assert!(done, "the recorded shop flow never placed its order");
    capture
}

/// Loads the polling page until its job is ready.
async fn record_poll(pool: &BrowserPool, app: &FixtureServer) -> Capture {
    let live = LiveCapture::start(pool, recording_config(app.url("/poll/")), Box::new(NoSink))
        .await
        .unwrap();
    let done = wait_for_title(live.page(), "done").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let capture = live.stop().await.unwrap();
    assert!(done, "the recorded polling page never finished");
    capture
}

fn store_capture(store: &Store, task: &str, url: String, capture: &Capture) {
    let mut writer = store
        .begin_session(NewSession {
            task_description: task.into(),
            capture_level: capture.level,
            browser: capture.browser.clone(),
            start_url: Some(url),
            ..NewSession::default()
        })
        .unwrap();
    writer.set_pages(&capture.har.log.pages).unwrap();
    writer.append_entries(&capture.har.log.entries).unwrap();
    writer.append_console(&capture.console).unwrap();
    writer.append_actions(&capture.actions).unwrap();
    for shot in &capture.screenshots {
        writer.append_screenshot(shot).unwrap();
    }
    writer.finish(SessionEnd::completed()).unwrap();
}

/// Records both sessions on a fixture app that is gone afterwards.
async fn record_suite(data: &Path) {
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let app = FixtureServer::start().await.unwrap();
    let shop = record_shop(&pool, &app).await;
    let poll = record_poll(&pool, &app).await;
    pool.shutdown().await;
    assert!(
        shop.actions.iter().any(|a| a.kind == "click"),
        "{:#?}",
        shop.actions
    );
    assert!(
        shop.screenshots.iter().any(|s| s.reason == "action"),
        "no screenshot after an action"
    );
    let store = Store::open(data).unwrap();
    store_capture(&store, "shop order", app.url("/shop/"), &shop);
    store_capture(&store, "poll job", app.url("/poll/"), &poll);
}

async fn spool(data: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spool"));
    command
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("SPOOL_DATA")
        .env("NO_COLOR", "1");
    tokio::task::spawn_blocking(move || command.output().expect("the spool binary runs"))
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `spool replay --all --check` against `app`, returning the run and its JSON report.
async fn check_all(data: &Path, app: &FixtureServer, extra: &[&str]) -> (Output, Value) {
    let report = data.join("check.json");
    let base = app.base_url();
    let mut args = vec![
        "replay",
        "--all",
        "--check",
        "--base-url",
        &base,
        "--input",
        "password=wonderland",
        "--speed",
        "5",
        "--json-report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = spool(data, &args).await;
    let json = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let _ = std::fs::remove_file(&report);
    (out, json)
}

fn session_ids(report: &Value) -> Vec<String> {
    report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_app_fails_the_check_naming_the_changed_status_and_the_broken_button() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    record_suite(dir).await;

    // The unchanged app (a fresh copy, on another port) passes.
    let app = FixtureServer::start().await.unwrap();
    let (out, report) = check_all(dir, &app, &[]).await;
    assert!(
        out.status.success(),
        "the unchanged app must pass:\n{}\n{}\n{report:#}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(session_ids(&report).len(), 2);
    for session in report["sessions"].as_array().unwrap() {
        assert!(
            session["regressions"].as_array().unwrap().is_empty(),
            "{session:#}"
        );
    }
    let shop = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["task"] == "shop order")
        .unwrap();
    assert!(
        !shop["screenshots"].as_array().unwrap().is_empty(),
        "the shop's screenshots were compared: {shop:#}"
    );
    assert!(app.orders().len() == 1, "the replay placed the order");
    drop(app);

    // Shards 1/2 and 2/2 together check every session exactly once.
    let app = FixtureServer::start().await.unwrap();
    let (first, one) = check_all(dir, &app, &["--shard", "1/2"]).await;
    let (second, two) = check_all(dir, &app, &["--shard", "2/2"]).await;
    for (out, report) in [(&first, &one), (&second, &two)] {
        assert!(
            out.status.success(),
            "{}\n{}\n{report:#}",
            stdout(out),
            stderr(out)
        );
    }
    let (mut a, b) = (session_ids(&one), session_ids(&two));
    assert_eq!(a.len() + b.len(), 2, "{one:#}\n{two:#}");
    a.extend(b);
    a.sort();
    a.dedup();
    assert_eq!(a.len(), 2, "no session in both shards");
    drop(app);

    // A variant with one changed API status and one broken button fails, and the JUnit
    // file names both.
    let variant = FixtureServer::start_with(
        FixtureConfig {
            regressions: Regressions {
                status_overrides: vec![("/api/poll/status".into(), 503)],
                broken_login_button: true,
            },
            ..FixtureConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let junit = dir.join("junit.xml");
    let (out, report) = check_all(dir, &variant, &["--junit", junit.to_str().unwrap()]).await;
    fails(&out, 1, -32005, "the check of the broken app");
    assert_eq!(report["passed"], false, "{report:#}");
    assert!(variant.orders().is_empty());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuites"), "{xml}");
    let failures: Vec<&str> = xml
        .split("<testcase")
        .skip(1)
        .filter(|case| case.contains("<failure"))
        .collect();
    assert!(
        failures
            .iter()
            .any(|case| case.contains("click #login-button") && case.contains("POST /api/login")),
        "the broken button is named with the requests it no longer makes:\n{xml}"
    );
    assert!(
        failures
            .iter()
            .any(|case| case.contains("/api/poll/status") && case.contains("200 → 503")),
        "the changed status is named:\n{xml}"
    );
    let text = stdout(&out);
    assert!(text.contains("FAIL"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_check_input_gets_coded_errors() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let cases: [(&[&str], i32, i32, &str); 5] = [
        (
            &["replay", "--all", "--check", "--shard", "3/2"],
            2,
            -32602,
            "shard",
        ),
        (
            &["replay", "--all", "--check", "--base-url", "ftp://x"],
            2,
            -32602,
            "baseUrl",
        ),
        (
            &["replay", "--all", "--check", "--network", "offline"],
            2,
            -32602,
            "network",
        ),
        (
            &["replay", "--all", "--check", "--screenshot-threshold", "2"],
            2,
            -32602,
            "screenshotThreshold",
        ),
        (
            &["replay", "00000000-0000-4000-8000-000000000000", "--check"],
            5,
            -32004,
            "",
        ),
    ];
    for (args, exit, code, field) in cases {
        let out = spool(dir, args).await;
        let message = fails(&out, exit, code, &args.join(" "));
        assert!(message.contains(field), "{message}");
    }
    // An empty store has nothing to check.
    let out = spool(dir, &["replay", "--all", "--check"]).await;
    let message = fails(&out, 5, -32004, "an empty store");
    assert!(message.contains("nothing to check"), "{message}");
}
