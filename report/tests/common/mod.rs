//! A report page opened in headless Chromium through the engine's CDP client, for the
//! browser test: navigate, wait until the page says it rendered, evaluate JavaScript.

pub mod shop;

use serde_json::{Value, json};
use spool_engine::Browser;
use std::time::Duration;

/// One tab showing a report.
pub struct ReportTab<'b> {
    browser: &'b Browser,
    target: String,
    session: String,
}

impl<'b> ReportTab<'b> {
    /// Opens `url` in a new tab and waits until the report has rendered
    /// (`window.spoolReport.ready`), at most 30 s.
    pub async fn open(browser: &'b Browser, url: &str) -> ReportTab<'b> {
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
        let tab = ReportTab {
            browser,
            target,
            session: attached["sessionId"].as_str().unwrap().to_string(),
        };
        tab.call("Page.enable", json!({})).await;
        tab.call("Page.navigate", json!({ "url": url })).await;
        for _ in 0..300 {
            if tab
                .eval("!!(window.spoolReport && window.spoolReport.ready)")
                .await
                == json!(true)
            {
                return tab;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = tab
            .eval("window.spoolReport ? String(window.spoolReport.error) : document.body.innerText.slice(0, 500)")
            .await;
        panic!("the report at {url} never finished rendering: {error}");
    }

    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.browser
            .connection()
            .execute_raw(Some(&self.session), method, params)
            .await
            .unwrap()
    }

    /// The value of a JavaScript expression (awaited when it is a promise).
    pub async fn eval(&self, expression: &str) -> Value {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = answer.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        answer["result"]["value"].clone()
    }

    /// How many elements match `selector` and are shown (not `hidden`, not in a hidden
    /// ancestor).
    pub async fn visible(&self, selector: &str) -> usize {
        let expression = format!(
            "Array.from(document.querySelectorAll({})).filter(e => e.offsetParent !== null || e.getClientRects().length > 0).length",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&expression).await.as_u64().unwrap() as usize
    }

    pub async fn count(&self, selector: &str) -> usize {
        let expression = format!(
            "document.querySelectorAll({}).length",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&expression).await.as_u64().unwrap() as usize
    }

    /// Clicks the first element matching `selector` (a DOM click, as a person's click
    /// dispatches it).
    pub async fn click(&self, selector: &str) {
        let expression = format!(
            "document.querySelector({}).click()",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&expression).await;
    }

    pub async fn close(self) {
        let _ = self
            .browser
            .connection()
            .execute_raw(
                None,
                "Target.closeTarget",
                json!({ "targetId": self.target }),
            )
            .await;
    }
}
