//! Errors → a message on stderr and an exit code.
//!
//! Every error that reaches the user carries its stable code from docs/errors.md
//! (`error[-32602]: …`). Exit codes: 2 bad input, 3 timeout, 4 no browser, 5 not found,
//! 1 anything else.

use spool_engine::EngineError;
use std::process::ExitCode;

/// The stable code of an error, looked up through the library error types it may wrap.
pub fn code_of(err: &anyhow::Error) -> i32 {
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
    -32603
}

/// An error raised by the binary itself with a stable code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CodedError {
    pub code: i32,
    pub message: String,
}

impl CodedError {
    pub fn invalid(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(CodedError {
            code: -32602,
            message: message.into(),
        })
    }
}

pub fn report(err: &anyhow::Error) -> ExitCode {
    let code = code_of(err);
    eprintln!("error[{code}]: {err:#}");
    ExitCode::from(match code {
        -32602 | -32102 => 2,
        -32604 => 3,
        -32001 => 4,
        -32004 => 5,
        _ => 1,
    })
}
