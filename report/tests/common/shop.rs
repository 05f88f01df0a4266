//! The shop flow recorded with mouse and keyboard input into a store, as a person would
//! record it: shared by the browser test and the example that makes the README's
//! screenshot (`scripts/report-screenshot.sh`).

use serde_json::{Value, json};
use spool_engine::{
    BrowserPool, BrowserSource, CaptureConfig, LaunchConfig, LiveCapture, NoSink, PageHandle,
    PoolConfig, ScreenshotOptions,
};
use spool_fixtures::FixtureServer;
use spool_model::session::CaptureLevel;
use spool_store::{NewSession, Session, SessionEnd, Store};
use std::time::Duration;

/// Credentials no fixture file holds, so finding them in the page can only mean a leak.
pub const USERNAME: &str = "carol";
pub const PASSWORD: &str = "Tr0ub4dor-report-7";

async fn eval(page: &PageHandle, expression: &str) -> Value {
    page.evaluate(expression).await.unwrap()
}

async fn click(page: &PageHandle, selector: &str) {
    page.click(selector, Duration::from_secs(5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
}

async fn type_text(page: &PageHandle, text: &str) {
    page.insert_text(text).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Records the shop flow with input events into `store` and returns the stored session.
pub async fn record_shop_session(store: &Store, server: &FixtureServer) -> Session {
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let recorded = async {
        let mut config = CaptureConfig::new(server.url("/shop/"));
        config.level = CaptureLevel::Forensic;
        config.timeout = Duration::from_secs(60);
        config.screenshots = Some(ScreenshotOptions {
            quality: 40,
            ..ScreenshotOptions::default()
        });
        let live = LiveCapture::start(&pool, config, Box::new(NoSink))
            .await
            .unwrap();
        let page = live.page().clone();
        page.wait_until(
            spool_engine::WaitUntil::Load,
            &Default::default(),
            Duration::from_secs(15),
            "the shop",
        )
        .await
        .unwrap();
        // Something for the console, with a stack trace (level 4 keeps them).
        eval(
            &page,
            "console.warn('report test: about to sign in'); (function signIn() { console.error(new Error('report test: a logged error').stack); })()",
        )
        .await;
        click(&page, "#username").await;
        type_text(&page, USERNAME).await;
        click(&page, "#password").await;
        type_text(&page, PASSWORD).await;
        click(&page, "#login-button").await;
        let mut done = false;
        for _ in 0..100 {
            if eval(&page, "document.title").await == json!("done") {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The binding's last reports and the last screenshot arrive after the title.
        tokio::time::sleep(Duration::from_millis(800)).await;
        (live.stop().await, done)
    };
    let (capture, done) = tokio::time::timeout(Duration::from_secs(120), recorded)
        .await
        .expect("recording the shop flow took longer than 2 minutes");
    pool.shutdown().await;
    let capture = capture.unwrap();
    assert!(done, "the recorded shop flow never placed its order");

    let mut writer = store
        .begin_session(NewSession {
            task_description: "log in and order the first item".into(),
            capture_level: capture.level,
            browser: capture.browser.clone(),
            start_url: Some(server.url("/shop/")),
            ..NewSession::default()
        })
        .unwrap();
    writer.append_pages(&capture.har.log.pages).unwrap();
    writer.append_entries(&capture.har.log.entries).unwrap();
    writer.append_console(&capture.console).unwrap();
    writer.append_actions(&capture.actions).unwrap();
    for shot in &capture.screenshots {
        writer.append_screenshot(shot).unwrap();
    }
    let id = writer.id();
    writer.finish(SessionEnd::completed()).unwrap();
    store.get(id).unwrap()
}
