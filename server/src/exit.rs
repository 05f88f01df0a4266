//! Errors → a message on stderr and an exit status.
//!
//! Every error that reaches the user carries its [`ErrorCode`] (`error[-32602]: …`, listed in docs/errors.md); the
//! exit status comes from the code: 2 bad input, 3 timeout, 4 no browser, 5 not found,
//! 6 busy (a busy browser pool, a store held by another process, a rate limit), 7 refused
//! credentials, 1 anything else.

use spool_engine::EngineError;
use spool_model::ErrorCode;
use std::process::ExitCode;

/// The code of an error, looked up through the library error types it may wrap.
pub fn code_of(err: &anyhow::Error) -> ErrorCode {
    if let Some(e) = err.downcast_ref::<EngineError>() {
        return e.code();
    }
    if let Some(e) = err.downcast_ref::<CodedError>() {
        return e.code;
    }
    if let Some(e) = err.downcast_ref::<spool_store::StoreError>() {
        return e.code();
    }
    if let Some(e) = err.downcast_ref::<spool_analyzer::AnalyzeError>() {
        return e.code();
    }
    if let Some(e) = err.downcast_ref::<crate::serve::auth::AuthConfigError>() {
        return e.code();
    }
    ErrorCode::InternalError
}

/// An error raised by the binary itself with a stable code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CodedError {
    pub code: ErrorCode,
    pub message: String,
}

impl CodedError {
    pub fn invalid(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(CodedError {
            code: ErrorCode::InvalidParams,
            message: message.into(),
        })
    }
}

pub fn report(err: &anyhow::Error) -> ExitCode {
    let code = code_of(err);
    eprintln!("error[{code}]: {err:#}");
    if code == ErrorCode::StoreInUse {
        eprintln!(
            "hint: a running `spool serve` holds the store; use its REST API or MCP tools, or stop it first"
        );
    }
    ExitCode::from(code.exit_status())
}
