//! The one error type of the server: an [`ErrorCode`], a message and structured details.
//!
//! REST answers it as `{"error": {"code", "name", "message", "details"}}` with the code's
//! HTTP status; MCP answers it as an `isError` tool result whose JSON carries the spec's
//! `code`, `message`, `details`, `tool` and `timestamp`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use spool_analyzer::AnalyzeError;
use spool_engine::EngineError;
use spool_model::ErrorCode;
use spool_store::StoreError;

/// Seconds a client should wait before retrying when every browser is busy.
const BUSY_RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// A parameter broke a rule: the message and the details name both.
    pub fn invalid(field: &str, rule: impl Into<String>) -> ApiError {
        let rule = rule.into();
        ApiError::new(ErrorCode::InvalidParams, format!("invalid {field}: {rule}"))
            .with_details(json!({ "field": field, "rule": rule }))
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(ErrorCode::InternalError, message.to_string())
    }

    /// The body of an error as REST sends it.
    pub fn rest_body(&self) -> Value {
        json!({ "error": {
            "code": self.code.number(),
            "name": self.code.name(),
            "message": self.message,
            "details": self.details,
        }})
    }

    /// The JSON of a failed MCP tool call, in the spec's error response format.
    pub fn mcp_body(&self, tool: &str) -> Value {
        json!({
            "success": false,
            "error": {
                "code": self.code.number(),
                "name": self.code.name(),
                "message": self.message,
                "details": self.details,
                "tool": tool,
                "timestamp": jiff::Timestamp::now().to_string(),
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.rest_body())).into_response();
        if self.code == ErrorCode::BrowserPoolBusy {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(BUSY_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let details = match &e {
            StoreError::SessionNotFound(id) => json!({ "sessionId": id }),
            StoreError::InvalidParams { field, rule } => json!({ "field": field, "rule": rule }),
            StoreError::HarFileInvalid {
                path, line, column, ..
            } => json!({ "path": path, "line": line, "column": column }),
            StoreError::TooLarge { size, limit, .. } => json!({ "size": size, "limit": limit }),
            _ => Value::Null,
        };
        ApiError::new(e.code(), e.to_string()).with_details(details)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let details = match &e {
            EngineError::BrowserLaunchFailed { path, reason } => {
                json!({ "executablePath": path, "error": reason })
            }
            EngineError::InvalidParams { field, rule } => json!({ "field": field, "rule": rule }),
            _ => Value::Null,
        };
        ApiError::new(e.code(), e.to_string()).with_details(details)
    }
}

impl From<AnalyzeError> for ApiError {
    fn from(e: AnalyzeError) -> ApiError {
        let details = match &e {
            AnalyzeError::HarFileInvalid { location, .. } => json!({ "location": location }),
            AnalyzeError::InvalidParams { field, rule } => json!({ "field": field, "rule": rule }),
            _ => Value::Null,
        };
        ApiError::new(e.code(), e.to_string()).with_details(details)
    }
}
