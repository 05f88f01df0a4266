//! `list-sessions`, `get-session`, `delete-session`, `export-session`.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply, ResourceContent};
use super::super::state::AppState;
use super::{SESSION_ID_PATTERN, parse_session_id, session_uri};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spool_store::{ExportOptions, SessionMetadata, SessionQuery, SessionStatus};

/// A stored session's metadata, as every session tool and route returns it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub session_id: String,
    /// RECORDING, COMPLETED, STOPPED, ERROR or INTERRUPTED.
    pub status: String,
    pub start_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub task_description: String,
    pub capture_level: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// Seconds.
    pub duration: f64,
    pub action_count: u64,
    pub screenshot_count: u64,
    /// HAR entries.
    pub network_event_count: u64,
    pub console_entry_count: u64,
    #[serde(default)]
    pub page_count: u64,
    #[serde(default)]
    pub browser_info: Value,
    /// Why the capture failed, for ERROR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The session as an MCP resource (`spool://sessions/{id}`; add `/har` for the HAR).
    #[serde(default)]
    pub uri: String,
    /// The session's report page on this server (`/api/v1/sessions/{id}/report`, a path
    /// relative to the server's address): action timeline with screenshots, network
    /// waterfall, console and analysis, in one HTML file.
    #[serde(default)]
    pub report_url: String,
}

impl SessionSummary {
    pub fn from_metadata(meta: &SessionMetadata) -> Result<SessionSummary, ApiError> {
        let mut value = serde_json::to_value(meta).map_err(ApiError::internal)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "uri".into(),
                session_uri(&meta.session_id.to_string()).into(),
            );
            obj.insert(
                "reportUrl".into(),
                super::super::report::report_path(&meta.session_id.to_string()).into(),
            );
        }
        serde_json::from_value(value).map_err(ApiError::internal)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionsInput {
    /// Sessions per page.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: u32,
    /// Sessions to skip.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub offset: u32,
    /// Words that must all appear in the task description (any case).
    #[schemars(length(max = 1000))]
    pub task_description: Option<String>,
    /// Sessions that started on or after this date (YYYY-MM-DD or RFC 3339).
    pub start_date: Option<String>,
    /// Sessions that started on or before this date (YYYY-MM-DD, the whole day, or RFC 3339).
    pub end_date: Option<String>,
    /// Only sessions with this status.
    pub status: Option<StatusFilter>,
}

fn default_limit() -> u32 {
    50
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusFilter {
    Recording,
    Completed,
    Stopped,
    Error,
    Interrupted,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionsOutput {
    pub sessions: Vec<SessionSummary>,
    /// Sessions matching the filters, over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

pub async fn list_sessions(
    state: AppState,
    input: ListSessionsInput,
    _ctx: CallContext,
) -> Result<Reply<ListSessionsOutput>, ApiError> {
    let query = SessionQuery {
        limit: input.limit as usize,
        offset: input.offset as usize,
        words: input
            .task_description
            .clone()
            .filter(|w| !w.trim().is_empty()),
        from: input
            .start_date
            .as_deref()
            .map(|d| parse_date("startDate", d, false))
            .transpose()?,
        to: input
            .end_date
            .as_deref()
            .map(|d| parse_date("endDate", d, true))
            .transpose()?,
        status: input.status.map(|s| match s {
            StatusFilter::Recording => SessionStatus::Recording,
            StatusFilter::Completed => SessionStatus::Completed,
            StatusFilter::Stopped => SessionStatus::Stopped,
            StatusFilter::Error => SessionStatus::Error,
            StatusFilter::Interrupted => SessionStatus::Interrupted,
        }),
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.list(&query))
        .await
        .map_err(ApiError::internal)??;
    Ok(ListSessionsOutput {
        sessions: page
            .sessions
            .iter()
            .map(SessionSummary::from_metadata)
            .collect::<Result<_, _>>()?,
        total: page.total as u64,
        limit: page.limit as u32,
        offset: page.offset as u32,
    }
    .into())
}

/// `2025-01-31` (the start of the day, or its end for `endDate`) or an RFC 3339 time.
fn parse_date(field: &str, text: &str, end_of_day: bool) -> Result<jiff::Timestamp, ApiError> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| ApiError::invalid(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let time = if end_of_day {
        jiff::civil::Time::constant(23, 59, 59, 999_999_999)
    } else {
        jiff::civil::Time::midnight()
    };
    date.to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionIdInput {
    /// The session's id (a UUID).
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
}

pub async fn get_session(
    state: AppState,
    input: SessionIdInput,
    _ctx: CallContext,
) -> Result<Reply<SessionSummary>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    let meta = state.store.metadata(id)?;
    Ok(SessionSummary::from_metadata(&meta)?.into())
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSessionOutput {
    pub session_id: String,
    pub deleted: bool,
}

pub async fn delete_session(
    state: AppState,
    input: SessionIdInput,
    _ctx: CallContext,
) -> Result<Reply<DeleteSessionOutput>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.delete(id))
        .await
        .map_err(ApiError::internal)??;
    Ok(DeleteSessionOutput {
        session_id: id.to_string(),
        deleted: true,
    }
    .into())
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// HAR 1.2 (network data only).
    Har,
    /// The whole session: metadata, HAR, console, actions, screenshots.
    #[default]
    Json,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportSessionInput {
    /// The session's id (a UUID).
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: String,
    /// `har` or `json`.
    #[serde(default)]
    pub format: ExportFormat,
    /// Screenshots, base64 (JSON export only).
    #[serde(default = "yes")]
    pub include_screenshots: bool,
    /// Pages and HAR entries.
    #[serde(default = "yes")]
    pub include_network_data: bool,
    /// Keep credentials (Authorization, cookies, password and token fields); they are
    /// redacted by default.
    #[serde(default)]
    pub include_secrets: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportSessionOutput {
    pub session_id: String,
    pub format: ExportFormat,
    /// The resource URI of the export; its content is embedded in the MCP result.
    pub uri: String,
    pub mime_type: String,
    /// Size of the exported document in bytes.
    pub size: u64,
}

/// The exported document: its text and its MIME type.
pub fn export_document(
    state: &AppState,
    id: spool_store::Uuid,
    format: ExportFormat,
    options: &ExportOptions,
) -> Result<(String, &'static str), ApiError> {
    Ok(match format {
        ExportFormat::Har => (
            serde_json::to_string(&state.store.export_har(id, options)?)
                .map_err(ApiError::internal)?,
            "application/har+json",
        ),
        ExportFormat::Json => (
            serde_json::to_string(&state.store.export_json(id, options)?)
                .map_err(ApiError::internal)?,
            "application/json",
        ),
    })
}

pub async fn export_session(
    state: AppState,
    input: ExportSessionInput,
    _ctx: CallContext,
) -> Result<Reply<ExportSessionOutput>, ApiError> {
    let id = parse_session_id(&input.session_id)?;
    let options = ExportOptions {
        include_screenshots: input.include_screenshots,
        include_network: input.include_network_data,
        include_secrets: input.include_secrets,
    };
    let format = input.format;
    let worker = state.clone();
    let (text, mime) =
        tokio::task::spawn_blocking(move || export_document(&worker, id, format, &options))
            .await
            .map_err(ApiError::internal)??;
    let uri = match format {
        ExportFormat::Har => format!("{}/har", session_uri(&id.to_string())),
        ExportFormat::Json => session_uri(&id.to_string()),
    };
    Ok(Reply {
        value: ExportSessionOutput {
            session_id: id.to_string(),
            format,
            uri: uri.clone(),
            mime_type: mime.to_string(),
            size: text.len() as u64,
        },
        images: Vec::new(),
        resources: vec![ResourceContent {
            uri,
            mime_type: mime.to_string(),
            text,
        }],
    })
}
