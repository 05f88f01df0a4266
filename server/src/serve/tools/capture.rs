//! `capture-and-analyze`: open the target URL in a fresh browser, record until the page is
//! loaded and quiet (or the deadline, or a cancellation), store the session, analyze it.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::analysis::{AnalysisResult, analyze};
use super::{HTTP_URL_PATTERN, session_uri};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spool_engine::{
    BrowserState, Capture, CaptureConfig, CaptureSink, Progress, ScreenshotOptions, StopReason,
    StopSignal,
};
use spool_model::session::CaptureLevel;
use spool_model::sink::Tee;
use spool_store::SessionStatus;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureAndAnalyzeInput {
    /// Timeout in seconds for capture (default: 30)
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 5, max = 300))]
    pub timeout_seconds: f64,
    /// Description of the task to analyze
    #[schemars(length(min = 10, max = 1000))]
    pub task_description: String,
    /// Capture level (1-4, higher = more detailed)
    #[serde(default = "default_level")]
    #[schemars(range(min = 1, max = 4), extend("enum" = [1, 2, 3, 4]))]
    pub capture_level: u8,
    /// Include screenshots in capture
    #[serde(default = "yes")]
    pub include_screenshots: bool,
    /// Target URL to navigate to before capture (http or https)
    #[schemars(url, regex(pattern = HTTP_URL_PATTERN))]
    pub target_url: Option<String>,
    /// Browser state to apply before capture
    pub browser_state: Option<BrowserStateInput>,
    /// Spool: a JavaScript expression that must be true before an idle page ends the
    /// capture (for pages that work without network traffic for a while)
    #[schemars(length(max = 2000))]
    pub wait_for: Option<String>,
}

fn default_timeout() -> f64 {
    30.0
}

fn default_level() -> u8 {
    2
}

fn yes() -> bool {
    true
}

/// Cookies and storage applied before the first navigation.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrowserStateInput {
    #[serde(default)]
    pub cookies: Vec<CookieInput>,
    /// Keys and values for the target's origin.
    #[serde(default)]
    pub local_storage: BTreeMap<String, String>,
    /// Keys and values for the target's origin.
    #[serde(default)]
    pub session_storage: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct CookieInput {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureAndAnalyzeOutput {
    pub session_id: String,
    /// The captured HAR as an MCP resource; REST serves it at
    /// `/api/v1/sessions/{sessionId}/export?format=har`.
    pub har_file: String,
    #[serde(flatten)]
    pub analysis: AnalysisResult,
    /// Resource URIs of the screenshots taken (`spool://sessions/{id}/screenshots/{n}`).
    pub screenshots: Vec<String>,
    /// How the capture ended: network_idle, timeout, stopped (cancelled), browser_closed or
    /// crashed.
    pub stop_reason: String,
}

pub async fn capture_and_analyze(
    state: AppState,
    input: CaptureAndAnalyzeInput,
    ctx: CallContext,
) -> Result<Reply<CaptureAndAnalyzeOutput>, ApiError> {
    let Some(url) = input.target_url.clone() else {
        return Err(ApiError::invalid(
            "targetUrl",
            "required: Spool opens the target URL in a fresh browser to capture",
        ));
    };
    let level = CaptureLevel::try_from(input.capture_level)
        .map_err(|e| ApiError::invalid("captureLevel", e.to_string()))?;
    let mut config = CaptureConfig::new(&url);
    config.task = Some(input.task_description.clone());
    config.level = level;
    config.timeout = Duration::from_secs_f64(input.timeout_seconds);
    config.wait_for = input.wait_for.clone();
    if input.include_screenshots {
        config.screenshots = Some(ScreenshotOptions::default());
    }
    if let Some(browser_state) = &input.browser_state {
        let bytes = serde_json::to_vec(browser_state).map_err(ApiError::internal)?;
        config.state = BrowserState::from_json(&bytes)?;
    }
    config.validate()?;

    let total = config.timeout.as_secs_f64();
    ctx.report(0.0, Some(total), format!("capturing {url}"));
    let (capture, session_id) = record(&state, &config, &ctx).await?;
    ctx.report(total, Some(total), "analyzing".into());

    let har = serde_json::to_vec(&capture.har).map_err(ApiError::internal)?;
    let user_inputs = capture.typed_inputs();
    let analysis = analyze(har, config.task.clone(), None, user_inputs)
        .await
        .map_err(|e| {
            let mut details = e.details.clone();
            if let Value::Object(map) = &mut details {
                map.insert("sessionId".into(), json!(session_id));
            } else {
                details = json!({ "sessionId": session_id });
            }
            e.with_details(details)
        })?;
    let uri = session_uri(&session_id);
    Ok(CaptureAndAnalyzeOutput {
        session_id: session_id.clone(),
        har_file: format!("{uri}/har"),
        analysis,
        screenshots: (0..capture.screenshots.len())
            .map(|i| format!("{uri}/screenshots/{i}"))
            .collect(),
        stop_reason: stop_reason_name(&capture),
    }
    .into())
}

fn stop_reason_name(capture: &Capture) -> String {
    match capture.stop_reason {
        spool_engine::StopReason::NetworkIdle => "network_idle",
        spool_engine::StopReason::Timeout => "timeout",
        spool_engine::StopReason::Stopped => "stopped",
        spool_engine::StopReason::BrowserClosed => "browser_closed",
        spool_engine::StopReason::Crashed => "crashed",
    }
    .to_string()
}

/// Captures into the store while recording, the one place the server writes captures. A
/// cancelled call or a server shutdown stops the capture, which is then stored as STOPPED
/// with what it recorded; a failed capture is stored as ERROR.
async fn record(
    state: &AppState,
    config: &CaptureConfig,
    ctx: &CallContext,
) -> Result<(Capture, String), ApiError> {
    let mut sink = state
        .writer
        .begin(crate::cmd::capture::new_session(config))?;
    let id = sink.id();
    let stop = StopSignal::new();
    state.register_capture(id, stop.clone());
    let watcher = {
        let stop = stop.clone();
        let cancel = ctx.cancel.clone();
        let shutdown = state.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = shutdown.cancelled() => {}
            }
            stop.stop();
        })
    };
    let mut progress = ProgressSink {
        ctx: ctx.clone(),
        timeout: config.timeout,
    };
    let mut events = state.events.publisher(id);
    let result = spool_engine::capture(
        &state.pool,
        config,
        &mut Tee(&mut sink, &mut Tee(&mut progress, &mut events)),
        Some(stop),
    )
    .await;
    watcher.abort();
    state.unregister_capture(id);
    match result {
        Ok(capture) => {
            let status = match capture.stop_reason {
                StopReason::NetworkIdle => SessionStatus::Completed,
                _ => SessionStatus::Stopped,
            };
            let pages = capture.har.log.pages.clone();
            let browser = capture.browser.clone();
            let stored =
                tokio::task::spawn_blocking(move || sink.finish(status, pages, Some(browser)))
                    .await
                    .map_err(ApiError::internal);
            state.events.finish(id, status);
            stored??;
            Ok((capture, id.to_string()))
        }
        Err(e) => {
            let pages = e
                .partial()
                .map(|p| p.har.log.pages.clone())
                .unwrap_or_default();
            let message = e.to_string();
            let stored = tokio::task::spawn_blocking(move || sink.fail(&message, pages)).await;
            if let Ok(Err(store_err)) = stored {
                tracing::error!("could not store the failed session {id}: {store_err}");
            }
            state.events.finish(id, SessionStatus::Error);
            let mut error = ApiError::from(e);
            let mut details = match error.details.take() {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            details.insert("sessionId".into(), json!(id.to_string()));
            Err(error.with_details(Value::Object(details)))
        }
    }
}

/// Turns capture progress into MCP progress notifications: progress is elapsed seconds out
/// of the timeout.
struct ProgressSink {
    ctx: CallContext,
    timeout: Duration,
}

impl CaptureSink for ProgressSink {
    fn progress(&mut self, p: &Progress) {
        self.ctx.report(
            p.elapsed.as_secs_f64(),
            Some(self.timeout.as_secs_f64()),
            format!("{} requests, {} in flight", p.entries, p.in_flight),
        );
    }
}
