//! The no-capture baseline for the capture-overhead bench: open a tab, navigate, wait until
//! the page says it is done, close the tab, with only the Page domain on. This is what a
//! plain browser automation does, so the difference to a capture is what recording costs.

use serde_json::json;
use spool_engine::Browser;
use std::time::{Duration, Instant};

/// Opens a blank tab in `browser` and attaches to it: its target id and CDP session id.
pub async fn open_tab(browser: &Browser) -> (String, String) {
    let conn = browser.connection();
    let created = conn
        .execute_raw(None, "Target.createTarget", json!({ "url": "about:blank" }))
        .await
        .unwrap();
    let target = created["targetId"].as_str().unwrap().to_string();
    let attached = conn
        .execute_raw(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        )
        .await
        .unwrap();
    let session = attached["sessionId"].as_str().unwrap().to_string();
    (target, session)
}

/// Loads `url` in a new tab of `browser` and waits for `done_expression` to be true.
pub async fn load_without_capture(browser: &Browser, url: &str, done_expression: &str) -> Duration {
    let conn = browser.connection();
    let start = Instant::now();
    let (target, session) = open_tab(browser).await;
    let s = Some(session.as_str());
    conn.execute_raw(s, "Page.enable", json!({})).await.unwrap();
    conn.execute_raw(s, "Page.navigate", json!({ "url": url }))
        .await
        .unwrap();
    let expression = format!("!!({done_expression})");
    loop {
        let v = conn
            .execute_raw(
                s,
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await
            .unwrap();
        if v["result"]["value"] == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = start.elapsed();
    conn.execute_raw(None, "Target.closeTarget", json!({ "targetId": target }))
        .await
        .unwrap();
    elapsed
}
