//! The analyzer's one error type and its stable codes (docs/errors.md).

use spool_model::ErrorCode;

/// Everything [`crate::analyze`] can fail with. Each variant maps to one stable code via
/// [`AnalyzeError::code`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyzeError {
    /// The HAR text is not JSON, or not shaped like a HAR; `location` names where
    /// (`log.entries[3].request` and/or `line 1 column 7`).
    #[error("HAR file invalid at {location}: {message}")]
    HarFileInvalid { location: String, message: String },

    /// A caller-supplied parameter breaks a rule; names the field and the rule.
    #[error("invalid parameter `{field}`: {rule}")]
    InvalidParams { field: String, rule: String },

    /// An input is over one of the configured size limits.
    #[error("{what} is {size} but the limit is {limit}")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },

    /// The analysis could not be completed (an internal limit of a stage was hit).
    #[error("analysis failed: {0}")]
    AnalysisFailed(String),
}

impl AnalyzeError {
    /// The stable error code a user sees (number, name, HTTP status, exit status; see docs/errors.md).
    pub fn code(&self) -> ErrorCode {
        match self {
            AnalyzeError::HarFileInvalid { .. } => ErrorCode::HarFileInvalid,
            AnalyzeError::InvalidParams { .. } => ErrorCode::InvalidParams,
            AnalyzeError::TooLarge { .. } => ErrorCode::TooLarge,
            AnalyzeError::AnalysisFailed(_) => ErrorCode::AnalysisFailed,
        }
    }

    /// The name that goes with [`AnalyzeError::code`].
    pub fn code_name(&self) -> &'static str {
        self.code().name()
    }

    pub(crate) fn invalid_params(field: &str, rule: impl Into<String>) -> Self {
        AnalyzeError::InvalidParams {
            field: field.to_string(),
            rule: rule.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_design_table() {
        let e = AnalyzeError::HarFileInvalid {
            location: "log".into(),
            message: "missing".into(),
        };
        assert_eq!(e.code(), -32102);
        assert_eq!(
            AnalyzeError::invalid_params("task", "too long").code(),
            -32602
        );
        let e = AnalyzeError::TooLarge {
            what: "HAR".into(),
            size: 2,
            limit: 1,
        };
        assert_eq!(e.code(), -32201);
        assert_eq!(AnalyzeError::AnalysisFailed("x".into()).code(), -32003);
    }
}
