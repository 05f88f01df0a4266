//! Screenshots with the parameter set of the BrowserLoop spec (spec 002): format, quality,
//! viewport, full page, one element by selector, user agent, network idle, timeout.

use crate::cdp::Connection;
use crate::error::EngineError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use spool_model::session::{ImageFormat, Screenshot};

/// How to take screenshots. Defaults follow the spec: webp at quality 80, 1280×720.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ScreenshotOptions {
    pub format: ImageFormat,
    /// 1–100; ignored for png.
    pub quality: u8,
    /// Viewport width, 200–4000.
    pub width: u32,
    /// Viewport height, 200–4000.
    pub height: u32,
    pub full_page: bool,
    /// One element (wins over `full_page`).
    pub selector: Option<String>,
    pub user_agent: Option<String>,
    pub wait_for_network_idle: bool,
    /// Milliseconds, 1000–120000.
    pub timeout: u64,
}

impl Default for ScreenshotOptions {
    fn default() -> Self {
        ScreenshotOptions {
            format: ImageFormat::Webp,
            quality: 80,
            width: 1280,
            height: 720,
            full_page: false,
            selector: None,
            user_agent: None,
            wait_for_network_idle: true,
            timeout: 30_000,
        }
    }
}

impl ScreenshotOptions {
    /// Checks every range of the spec, naming the field that is out of it.
    pub fn validate(&self) -> Result<(), EngineError> {
        if !(1..=100).contains(&self.quality) {
            return Err(EngineError::invalid(
                "quality",
                format!("must be 1–100, got {}", self.quality),
            ));
        }
        for (field, v) in [("width", self.width), ("height", self.height)] {
            if !(200..=4000).contains(&v) {
                return Err(EngineError::invalid(
                    field,
                    format!("must be 200–4000 pixels, got {v}"),
                ));
            }
        }
        if !(1000..=120_000).contains(&self.timeout) {
            return Err(EngineError::invalid(
                "timeout",
                format!("must be 1000–120000 ms, got {}", self.timeout),
            ));
        }
        if let Some(sel) = &self.selector
            && sel.trim().is_empty()
        {
            return Err(EngineError::invalid("selector", "must not be empty"));
        }
        Ok(())
    }
}

/// Set before a screenshot beyond the viewport: Chromium resizes the page for it, and the
/// action recorder must not take those resizes for a person's (see `ACTION_RECORDER_JS`).
const QUIET_RESIZE: &str = "window.__spoolQuietResizeUntil = Infinity";
/// Set after it: the resize back fires its event after the screenshot returns.
const RESIZE_SETTLED: &str = "window.__spoolQuietResizeUntil = performance.now() + 500";

/// Runs `expression` in the page, ignoring the answer: the page may be navigating.
async fn evaluate(conn: &Connection, session: &str, expression: &str) {
    let _ = conn
        .execute_raw(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression }),
        )
        .await;
}

/// Takes one screenshot of the page in `session`.
pub(crate) async fn take(
    conn: &Connection,
    session: &str,
    opts: &ScreenshotOptions,
    reason: &str,
    url: &str,
) -> Result<Screenshot, EngineError> {
    let format = match opts.format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Webp => "webp",
    };
    let mut params = json!({ "format": format, "fromSurface": true });
    if opts.format != ImageFormat::Png {
        params["quality"] = json!(opts.quality);
    }
    let (mut width, mut height) = (opts.width, opts.height);
    if let Some(selector) = &opts.selector {
        let expr = format!(
            "(() => {{ {QUIET_RESIZE}; const e = document.querySelector({}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return {{x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}}; }})()",
            serde_json::to_string(selector).expect("a string always serializes")
        );
        let v = conn
            .execute_raw(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true }),
            )
            .await?;
        let rect = &v["result"]["value"];
        if rect.is_null() {
            return Err(EngineError::invalid(
                "selector",
                format!("{selector:?} matches no element on {url}"),
            ));
        }
        let (w, h) = (
            rect["w"].as_f64().unwrap_or(0.0),
            rect["h"].as_f64().unwrap_or(0.0),
        );
        if w < 1.0 || h < 1.0 {
            return Err(EngineError::invalid(
                "selector",
                format!("{selector:?} matches an element with no size"),
            ));
        }
        params["clip"] =
            json!({ "x": rect["x"], "y": rect["y"], "width": w, "height": h, "scale": 1 });
        params["captureBeyondViewport"] = json!(true);
        (width, height) = (w.ceil() as u32, h.ceil() as u32);
    } else if opts.full_page {
        let (metrics, _) = tokio::join!(
            conn.execute_raw(Some(session), "Page.getLayoutMetrics", json!({})),
            evaluate(conn, session, QUIET_RESIZE)
        );
        let metrics = metrics?;
        let size = &metrics["cssContentSize"];
        let w = size["width"].as_f64().unwrap_or(opts.width as f64).ceil();
        let h = size["height"].as_f64().unwrap_or(opts.height as f64).ceil();
        params["clip"] = json!({ "x": 0, "y": 0, "width": w, "height": h, "scale": 1 });
        params["captureBeyondViewport"] = json!(true);
        (width, height) = (w as u32, h as u32);
    }
    let beyond_viewport = params.get("captureBeyondViewport").is_some();
    let shot = conn
        .execute_raw(Some(session), "Page.captureScreenshot", params)
        .await;
    if beyond_viewport {
        evaluate(conn, session, RESIZE_SETTLED).await;
    }
    let shot = shot?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap_or_default())
        .map_err(|e| EngineError::NetworkCaptureFailed(format!("screenshot data: {e}")))?;
    Ok(Screenshot {
        format: opts.format,
        reason: reason.to_string(),
        url: url.to_string(),
        timestamp: jiff::Timestamp::now().to_string(),
        width,
        height,
        data,
    })
}
