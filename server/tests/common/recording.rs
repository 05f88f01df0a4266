//! Recording the fixture app's flows in real headless Chromium for the CLI tests: the shop
//! order driven by mouse and keyboard input (a screenshot after every action), the polling
//! page, and the capture written into a store as `spool capture` would. Included by the
//! test binaries that need it with `#[path = "common/recording.rs"] mod recording;`.

#![allow(dead_code)] // Each including test binary uses a part.

use serde_json::{Value, json};
use spool_engine::{
    BrowserPool, Capture, CaptureConfig, LiveCapture, NoSink, PageHandle, ScreenshotOptions,
    WaitUntil,
};
use spool_fixtures::FixtureServer;
use spool_model::session::ImageFormat;
use spool_store::{NewSession, SessionEnd, Store, Uuid};
use std::time::Duration;

/// The expression's value; `Null` while a navigation replaces the document.
async fn eval(page: &PageHandle, expression: &str) -> Value {
    page.evaluate(expression).await.unwrap_or(Value::Null)
}

/// Clicks the centre of `selector` with real mouse input, then pauses as a person would.
async fn click(page: &PageHandle, selector: &str) {
    page.click(selector, Duration::from_secs(5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn type_into(page: &PageHandle, selector: &str, text: &str) {
    click(page, selector).await;
    page.insert_text(text).await.unwrap();
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
pub async fn record_shop(pool: &BrowserPool, app: &FixtureServer) -> Capture {
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
pub async fn record_poll(pool: &BrowserPool, app: &FixtureServer) -> Capture {
    let live = LiveCapture::start(pool, recording_config(app.url("/poll/")), Box::new(NoSink))
        .await
        .unwrap();
    let done = wait_for_title(live.page(), "done").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let capture = live.stop().await.unwrap();
    assert!(done, "the recorded polling page never finished");
    capture
}

pub fn store_capture(store: &Store, task: &str, url: String, capture: &Capture) -> Uuid {
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
    writer.finish(SessionEnd::completed()).unwrap().session_id
}
