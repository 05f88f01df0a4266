//! The report benchmark's pieces: a large session synthesized from a real capture, and the
//! load time a report page measures for itself in headless Chromium.

use serde_json::{Value, json};
use spool_engine::Browser;
use spool_model::har::Har;
use spool_model::session::{Action, ConsoleEntry, ConsoleLevel, ConsoleSource};
use spool_report::ReportSource;
use std::time::Duration;

/// A session of `entries` HAR entries: the captured shop flow (`fixtures/har/flows/
/// shop.l3.har`, bodies included) repeated, each copy shifted 2 s later, with one click
/// action and one console message per copy, so the timeline and its filter have work too.
pub fn synthetic_shop_session(entries: usize) -> ReportSource {
    let path = spool_fixtures::captured_har("shop", 3);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let base: Har = serde_json::from_slice(&bytes).unwrap();
    let start: jiff::Timestamp = base.log.entries[0].started_date_time.parse().unwrap();
    let mut har = base.clone();
    har.log.entries.clear();
    let mut actions = Vec::new();
    let mut console = Vec::new();
    let mut copy = 0i64;
    while har.log.entries.len() < entries {
        let shift = jiff::SignedDuration::from_secs(2 * copy);
        let at = |ts: &str| {
            let t: jiff::Timestamp = ts.parse().unwrap();
            (t + shift).to_string()
        };
        actions.push(Action {
            kind: "click".into(),
            target: Some("#login-button".into()),
            timestamp: at(&(start - jiff::SignedDuration::from_millis(5)).to_string()),
            ..Action::default()
        });
        console.push(ConsoleEntry {
            level: ConsoleLevel::Log,
            source: ConsoleSource::ConsoleApi,
            text: format!("copy {copy} loaded"),
            url: None,
            line: None,
            timestamp: at(&base.log.entries[0].started_date_time),
            stack: Vec::new(),
        });
        for e in &base.log.entries {
            if har.log.entries.len() == entries {
                break;
            }
            let mut e = e.clone();
            e.started_date_time = at(&e.started_date_time);
            har.log.entries.push(e);
        }
        copy += 1;
    }
    let metadata = serde_json::from_value(json!({
        "sessionId": "00000000-0000-4000-8000-000000001000",
        "status": "COMPLETED",
        "startTime": (start - jiff::SignedDuration::from_millis(10)).to_string(),
        "taskDescription": "log in and order the first item",
        "captureLevel": 3,
        "browserInfo": { "userAgent": "HeadlessChrome", "viewport": { "width": 1280, "height": 720 } },
        "duration": (2 * copy) as f64,
        "actionCount": actions.len(),
        "screenshotCount": 0,
        "networkEventCount": har.log.entries.len(),
        "consoleEntryCount": console.len()
    }))
    .unwrap();
    ReportSource {
        metadata,
        har,
        console,
        actions,
        screenshots: Vec::new(),
    }
}

/// What a report page measured of its own load (`window.spoolReport.timing`, from
/// `performance.now()`, milliseconds since navigation start).
#[derive(Debug, Clone, Copy)]
pub struct ReportLoad {
    /// DOMContentLoaded to the waterfall built and laid out.
    pub to_waterfall: Duration,
    /// DOMContentLoaded to the first frame after every section rendered.
    pub to_painted: Duration,
    /// Navigation start to that frame (HTML parsing of the inline data included).
    pub navigation_to_painted: Duration,
}

/// Opens `url` in a new tab, waits until the report says it rendered and returns what it
/// measured. The tab is closed again.
pub async fn load_report(browser: &Browser, url: &str) -> ReportLoad {
    let conn = browser.connection();
    let (target, session) = crate::page_load::open_tab(browser).await;
    let s = Some(session.as_str());
    conn.execute_raw(s, "Page.navigate", json!({ "url": url }))
        .await
        .unwrap();
    let timing: Value = loop {
        let v = conn
            .execute_raw(
                s,
                "Runtime.evaluate",
                json!({ "expression": "window.spoolReport && window.spoolReport.ready ? window.spoolReport.timing : null", "returnByValue": true }),
            )
            .await
            .unwrap();
        let value = v["result"]["value"].clone();
        if !value.is_null() {
            break value;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    conn.execute_raw(None, "Target.closeTarget", json!({ "targetId": target }))
        .await
        .unwrap();
    let ms = |k: &str| timing[k].as_f64().unwrap();
    let dur = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1000.0);
    ReportLoad {
        to_waterfall: dur(ms("waterfallRendered") - ms("domContentLoaded")),
        to_painted: dur(ms("painted") - ms("domContentLoaded")),
        navigation_to_painted: dur(ms("painted")),
    }
}
