//! The engine's one error type, and the stable codes of docs/errors.md.

use crate::capture::Capture;
use crate::cdp::CdpError;
use spool_model::ErrorCode;
use std::path::PathBuf;

/// Every way an engine operation can fail. [`EngineError::code`] gives the stable code a
/// user sees over the CLI, REST and MCP.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "could not start Chromium at {path}: {reason}. Install it with `apt-get update && apt-get install -y --no-install-recommends chromium` (or run scripts/setup.sh), or point SPOOL_CHROME at a Chromium binary"
    )]
    BrowserLaunchFailed { path: PathBuf, reason: String },

    #[error("could not attach to the browser at {endpoint}: {reason}")]
    AttachFailed { endpoint: String, reason: String },

    #[error("invalid {field}: {rule}")]
    InvalidParams { field: String, rule: String },

    /// The deadline passed before the work was done. `partial` holds what was captured so far.
    #[error("{what} timed out after {secs} s")]
    Timeout {
        what: String,
        secs: f64,
        partial: Option<Box<Capture>>,
    },

    #[error("network capture failed: {0}")]
    NetworkCaptureFailed(String),

    /// The page's renderer crashed or the browser went away mid-capture. `partial` holds what
    /// was captured until then.
    #[error("the capture was cut short: {reason}")]
    CaptureAborted {
        reason: String,
        partial: Option<Box<Capture>>,
    },

    /// Every browser context of the pool is taken and the wait queue is full, or the wait
    /// ran out. Come back after `retry_after`.
    #[error(
        "the browser pool is busy: all {capacity} sessions are in use (waited {:.1} s); try again in {} s",
        waited.as_secs_f64(),
        retry_after.as_secs()
    )]
    PoolBusy {
        waited: std::time::Duration,
        capacity: usize,
        retry_after: std::time::Duration,
    },

    /// The pool was shut down (the server is stopping).
    #[error("the browser pool is shut down")]
    PoolShutDown,

    /// An action replay step failed: its element never appeared or did not match, or the
    /// input could not be performed.
    #[error("replay failed at action {step} ({kind}): {reason}")]
    ReplayFailed {
        step: usize,
        kind: String,
        reason: String,
        selectors_tried: Vec<String>,
    },

    #[error("invalid CDP event log: event {index}: {message}")]
    EventLogInvalid { index: usize, message: String },

    #[error("invalid CDP event log: {0}")]
    EventLogUnreadable(String),

    #[error(transparent)]
    Cdp(#[from] CdpError),

    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl EngineError {
    /// The stable error code a user sees (number, name, HTTP status, exit status; see docs/errors.md).
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::BrowserLaunchFailed { .. } | EngineError::AttachFailed { .. } => {
                ErrorCode::BrowserLaunchFailed
            }
            EngineError::InvalidParams { .. }
            | EngineError::EventLogInvalid { .. }
            | EngineError::EventLogUnreadable(_) => ErrorCode::InvalidParams,
            EngineError::Timeout { .. } => ErrorCode::Timeout,
            EngineError::ReplayFailed { .. } => ErrorCode::ReplayFailed,
            EngineError::NetworkCaptureFailed(_) | EngineError::CaptureAborted { .. } => {
                ErrorCode::NetworkCaptureFailed
            }
            EngineError::PoolBusy { .. } | EngineError::PoolShutDown => ErrorCode::BrowserPoolBusy,
            EngineError::Cdp(CdpError::Timeout { .. }) => ErrorCode::Timeout,
            EngineError::Cdp(_) => ErrorCode::NetworkCaptureFailed,
            EngineError::Io(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ErrorCode::DiskSpaceExhausted
            }
            EngineError::Io(_) => ErrorCode::InternalError,
        }
    }

    /// What was captured before the error, if anything.
    pub fn partial(&self) -> Option<&Capture> {
        match self {
            EngineError::Timeout { partial, .. } | EngineError::CaptureAborted { partial, .. } => {
                partial.as_deref()
            }
            _ => None,
        }
    }

    /// Bad input: `field` (as the API names it) breaks `rule`.
    pub fn invalid(field: &str, rule: impl Into<String>) -> EngineError {
        EngineError::InvalidParams {
            field: field.to_string(),
            rule: rule.into(),
        }
    }
}
