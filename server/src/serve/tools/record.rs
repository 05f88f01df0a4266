//! `record-session`, `get-recording-status` and `stop-recording`: a recording a caller
//! starts and a person or an agent drives (through the browser tools, with the returned
//! `sessionId`), watched while it runs and stopped by hand, after `inactivityTimeoutSeconds`
//! without actions or traffic (`autoStop`), or at `timeoutMinutes`.
//!
//! A recording is a live browser session (see [`super::browser`]) with stop rules: the
//! browser tools' idle timeout does not apply to it, the watcher in
//! [`super::browser::close_idle_sessions`] applies its own. Manual and inactivity stops end
//! it COMPLETED, the time limit STOPPED.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::browser::{LiveOptions, RecordingRules, close, open};
use super::{HTTP_URL_PATTERN, SESSION_ID_PATTERN, parse_session_id, session_uri};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spool_engine::{ScreenshotOptions, WaitUntil};
use spool_model::ErrorCode;
use spool_model::session::{CaptureLevel, ImageFormat};
use spool_store::{SessionMetadata, SessionStatus, Uuid};
use std::time::Duration;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordSessionInput {
    /// Description of the task being recorded.
    #[schemars(length(min = 10, max = 1000))]
    pub task_description: String,
    /// Session ID (auto-generated if not provided).
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: Option<String>,
    /// Capture level (1-4, higher = more detailed).
    #[serde(default = "default_level")]
    #[schemars(range(min = 1, max = 4), extend("enum" = [1, 2, 3, 4]))]
    pub capture_level: u8,
    /// Include screenshots in recording (on navigation and after every action).
    #[serde(default = "yes")]
    pub include_screenshots: bool,
    /// Automatically stop recording on inactivity.
    #[serde(default = "yes")]
    pub auto_stop: bool,
    /// Maximum recording time in minutes.
    #[serde(default = "default_timeout_minutes")]
    #[schemars(range(min = 5, max = 180))]
    pub timeout_minutes: f64,
    /// Inactivity timeout in seconds: no action, request or console message for this long.
    #[serde(default = "default_inactivity")]
    #[schemars(range(min = 30, max = 600))]
    pub inactivity_timeout_seconds: f64,
    /// Capture network activity.
    #[serde(default = "yes")]
    pub capture_network: bool,
    /// Capture console output.
    #[serde(default = "yes")]
    pub capture_console: bool,
    /// The page to open when the recording starts (else the tab stays blank until a
    /// `navigate` with this `sessionId`).
    #[schemars(url, regex(pattern = HTTP_URL_PATTERN))]
    pub url: Option<String>,
}

fn default_level() -> u8 {
    3
}
fn yes() -> bool {
    true
}
fn default_timeout_minutes() -> f64 {
    30.0
}
fn default_inactivity() -> f64 {
    120.0
}

/// The spec's `RecordSessionResponse`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordSessionResponse {
    pub session_id: String,
    /// RECORDING, COMPLETED, STOPPED or ERROR.
    pub status: String,
    /// Seconds.
    pub duration: f64,
    pub action_count: u64,
    pub screenshot_count: u64,
    pub network_event_count: u64,
    pub console_entry_count: u64,
    /// Where the session is: its MCP resource URI (`spool://sessions/{id}`).
    pub session_path: String,
    pub metadata: RecordingMetadata,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingMetadata {
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub task_description: String,
    pub capture_level: u8,
    pub browser_info: Value,
    /// Why the recording failed, for ERROR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingIdInput {
    /// The recording's session id.
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
}

pub async fn record_session(
    state: AppState,
    input: RecordSessionInput,
    _ctx: CallContext,
) -> Result<Reply<RecordSessionResponse>, ApiError> {
    let level = CaptureLevel::try_from(input.capture_level)
        .map_err(|e| ApiError::invalid("captureLevel", e.to_string()))?;
    let session_id = input
        .session_id
        .as_deref()
        .map(parse_session_id)
        .transpose()?;
    let rules = RecordingRules {
        inactivity: input
            .auto_stop
            .then(|| Duration::from_secs_f64(input.inactivity_timeout_seconds)),
        deadline: Duration::from_secs_f64(input.timeout_minutes * 60.0),
    };
    let session = open(
        &state,
        LiveOptions {
            session_id,
            task: input.task_description.clone(),
            level,
            url: input.url.clone(),
            screenshots: input.include_screenshots.then(|| ScreenshotOptions {
                format: ImageFormat::Png,
                ..ScreenshotOptions::default()
            }),
            capture_network: input.capture_network,
            capture_console: input.capture_console,
            rules: Some(rules),
        },
    )
    .await?;
    if let Some(url) = &input.url
        && let Err(e) = session
            .page
            .navigate(url, WaitUntil::Load, Duration::from_secs(30))
            .await
    {
        let _ = close(&state, session.id, SessionStatus::Completed).await;
        return Err(e.into());
    }
    Ok(status_of(&state, session.id).await?.into())
}

pub async fn get_recording_status(
    state: AppState,
    input: RecordingIdInput,
    _ctx: CallContext,
) -> Result<Reply<RecordSessionResponse>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    Ok(status_of(&state, id).await?.into())
}

pub async fn stop_recording(
    state: AppState,
    input: RecordingIdInput,
    _ctx: CallContext,
) -> Result<Reply<RecordSessionResponse>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    // A recording that already stopped on its own answers with how it ended; one that is
    // stopping on its own right now (its inactivity timeout) is waited for in `status_of`.
    if state.live.peek(id).is_some()
        && let Err(e) = close(&state, id, SessionStatus::Completed).await
        && e.code != ErrorCode::SessionNotFound
    {
        return Err(e);
    }
    Ok(status_of(&state, id).await?.into())
}

/// The recording's state: live counts while it records, the stored session's after. A
/// recording being stopped this moment answers once it is stored, with how it ended.
async fn status_of(state: &AppState, id: Uuid) -> Result<RecordSessionResponse, ApiError> {
    let read = || {
        state
            .store
            .metadata(id)
            .map_err(|e| ApiError::from(e).with_details(json!({ "sessionId": id })))
    };
    let live = state.live.peek(id);
    let progress = match &live {
        Some(live) => live.live_progress().await,
        None => None,
    };
    let (Some(live), Some(progress)) = (live, progress) else {
        state.live.wait_until_closed(id).await;
        let meta = read()?;
        if meta.status == SessionStatus::Recording {
            return Err(ApiError::new(
                ErrorCode::SessionNotFound,
                format!("session {id} is being recorded by another call, not by record-session"),
            ));
        }
        return Ok(response_from(&meta));
    };
    let mut response = response_from(&read()?);
    response.status = "RECORDING".into();
    response.duration = live.started.elapsed().as_secs_f64();
    response.action_count = progress.actions as u64;
    response.screenshot_count = progress.screenshots as u64;
    response.network_event_count = progress.entries as u64;
    response.console_entry_count = progress.console as u64;
    // The browser is known before the recording ends: ask the page.
    if let Ok(answer) = live
        .page
        .call(
            "Runtime.evaluate",
            json!({
                "expression": "({userAgent: navigator.userAgent, viewport: {width: innerWidth, height: innerHeight}})",
                "returnByValue": true,
            }),
        )
        .await
    {
        response.metadata.browser_info = answer["result"]["value"].clone();
    }
    Ok(response)
}

fn response_from(meta: &SessionMetadata) -> RecordSessionResponse {
    let id = meta.session_id.to_string();
    RecordSessionResponse {
        session_path: session_uri(&id),
        session_id: id,
        status: meta.status.as_str().to_string(),
        duration: meta.duration,
        action_count: meta.action_count,
        screenshot_count: meta.screenshot_count,
        network_event_count: meta.network_event_count,
        console_entry_count: meta.console_entry_count,
        metadata: RecordingMetadata {
            start_time: meta.start_time.to_string(),
            end_time: meta.end_time.map(|t| t.to_string()),
            task_description: meta.task_description.clone(),
            capture_level: meta.capture_level.as_u8(),
            browser_info: json!({
                "userAgent": meta.browser_info.user_agent,
                "viewport": {
                    "width": meta.browser_info.viewport.width,
                    "height": meta.browser_info.viewport.height,
                },
            }),
            error: meta.error.clone(),
        },
    }
}
