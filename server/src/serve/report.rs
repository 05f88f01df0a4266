//! The session report served by `spool serve`: `GET /api/v1/sessions/{id}/report` (also at
//! `/sessions/{id}/report`), and the two routes it loads what it left out from: an entry's
//! body and a screenshot.
//!
//! These are pages and bytes for a person's browser, not tool calls, so they read the store
//! directly instead of going through the registry; they sit behind the same layers as every
//! REST route (request id, CORS, authentication, rate limit, timeout), in `rest.rs::app`.

use super::error::ApiError;
use super::state::AppState;
use super::tools::parse_session_id;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use spool_report::{ReportConfig, ReportSource};
use spool_store::ExportOptions;

/// The report page may run only its own inline script and style, show inline images and
/// images of this server, and fetch from this server: whatever a recorded body holds, it
/// is text in the page, never code.
pub const REPORT_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: 'self'; connect-src 'self'";

/// The URL path of a session's report, as `get-session` links it.
pub fn report_path(id: &str) -> String {
    format!("/api/v1/sessions/{id}/report")
}

pub async fn session_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_session_id(&id)?;
    let store = state.store.clone();
    let html = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let session = store.get(id)?;
        let config = ReportConfig {
            served_from: Some(format!("/api/v1/sessions/{id}")),
            ..ReportConfig::default()
        };
        spool_report::session_report(&ReportSource::from_session(&session), &config)
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, REPORT_CSP),
        ],
        html,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct BodyQuery {
    part: Option<String>,
}

/// One entry's request or response body, redacted as `export-session` redacts it (the
/// export itself is read). Text goes out as `text/plain` and binary as
/// `application/octet-stream` (images as their type), under a sandboxing CSP, so a
/// recorded page never runs in this server's origin; the recorded type is in
/// `x-recorded-content-type`.
pub async fn entry_body(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, usize)>,
    Query(q): Query<BodyQuery>,
) -> Result<Response, ApiError> {
    let id = parse_session_id(&id)?;
    let request_part = match q.part.as_deref() {
        None | Some("response") => false,
        Some("request") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "part",
                format!("must be request or response, got {other:?}"),
            ));
        }
    };
    let store = state.store.clone();
    let har = tokio::task::spawn_blocking(move || store.export_har(id, &ExportOptions::default()))
        .await
        .map_err(ApiError::internal)??;
    let count = har.log.entries.len();
    let entry = har.log.entries.into_iter().nth(index).ok_or_else(|| {
        ApiError::invalid(
            "index",
            format!("session {id} has {count} entries; there is no entry {index}"),
        )
    })?;
    let (text, encoding, mime) = if request_part {
        let pd = entry.request.post_data.unwrap_or_default();
        (pd.text, None, pd.mime_type)
    } else {
        let c = entry.response.content;
        (c.text, c.encoding, c.mime_type)
    };
    let Some(text) = text else {
        return Err(ApiError::invalid(
            "part",
            format!(
                "entry {index} of session {id} has no recorded {} body",
                if request_part { "request" } else { "response" }
            ),
        ));
    };
    let binary = encoding.is_some_and(|e| e.eq_ignore_ascii_case("base64"));
    let (bytes, content_type) = if binary {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(ApiError::internal)?;
        let image = mime.to_ascii_lowercase().starts_with("image/") && !mime.contains("svg");
        (
            bytes,
            if image {
                mime.clone()
            } else {
                "application/octet-stream".into()
            },
        )
    } else {
        (text.into_bytes(), "text/plain; charset=utf-8".to_string())
    };
    Ok(bytes_response(bytes, &content_type, &mime))
}

pub async fn screenshot(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, usize)>,
) -> Result<Response, ApiError> {
    let id = parse_session_id(&id)?;
    let store = state.store.clone();
    let session = tokio::task::spawn_blocking(move || store.get(id))
        .await
        .map_err(ApiError::internal)??;
    let count = session.screenshots.len();
    let shot = session.screenshots.into_iter().nth(index).ok_or_else(|| {
        ApiError::invalid(
            "index",
            format!("session {id} has {count} screenshots; there is no screenshot {index}"),
        )
    })?;
    let mime = shot.format.mime_type();
    Ok(bytes_response(shot.data, mime, mime))
}

fn bytes_response(bytes: Vec<u8>, content_type: &str, recorded: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(recorded) {
        headers.insert("x-recorded-content-type", v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    response
}
