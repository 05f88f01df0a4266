//! The store's one error type, and the stable codes it maps to (see docs/errors.md).

use spool_model::ErrorCode;
use std::path::PathBuf;
use uuid::Uuid;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No session with this id (never stored, or deleted).
    #[error("session {0} not found")]
    SessionNotFound(Uuid),

    /// An imported HAR could not be read; `path` names where (`log.entries[3].request.url`).
    #[error("invalid HAR at {path}: {message}")]
    HarFileInvalid {
        path: String,
        message: String,
        line: usize,
        column: usize,
    },

    /// An input is over a configured size limit; nothing was written.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { what: String, size: u64, limit: u64 },

    /// A parameter is out of range; names the field and the rule.
    #[error("invalid {field}: {rule}")]
    InvalidParams { field: String, rule: String },

    /// The disk is full (ENOSPC). What was flushed before is intact.
    #[error("disk space exhausted: {0}")]
    DiskFull(String),

    /// Another process holds the store open.
    #[error("store {} is in use by PID {}", dir.display(), pid.map_or_else(|| "unknown".to_string(), |p| p.to_string()))]
    InUse { dir: PathBuf, pid: Option<u32> },

    /// One session's data failed its checksum or could not be decoded. Other sessions are
    /// unaffected.
    #[error("session {id} is damaged: {what}")]
    Damaged { id: Uuid, what: String },

    /// The store on disk was written by a newer Spool with a format this one cannot read.
    #[error(
        "store format {found} is newer than this Spool understands (up to {supported}); upgrade Spool"
    )]
    FormatTooNew { found: u32, supported: u32 },

    /// A file-system error outside the database (lock file, directory).
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// The embedded database failed.
    #[error("store database error: {0}")]
    Db(String),
}

impl StoreError {
    /// The stable error code a user sees. A store held by another process and damaged or
    /// unreadable stored data have codes of their own, distinct from an internal error.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::SessionNotFound(_) => ErrorCode::SessionNotFound,
            StoreError::HarFileInvalid { .. } => ErrorCode::HarFileInvalid,
            StoreError::TooLarge { .. } => ErrorCode::TooLarge,
            StoreError::InvalidParams { .. } => ErrorCode::InvalidParams,
            StoreError::DiskFull(_) => ErrorCode::DiskSpaceExhausted,
            StoreError::InUse { .. } => ErrorCode::StoreInUse,
            StoreError::Damaged { .. } | StoreError::FormatTooNew { .. } => ErrorCode::StoreDamaged,
            StoreError::Io(e) if is_enospc(e) => ErrorCode::DiskSpaceExhausted,
            StoreError::Io(_) | StoreError::Db(_) => ErrorCode::InternalError,
        }
    }

    /// The REST status that goes with [`StoreError::code`].
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }

    pub(crate) fn invalid(field: impl Into<String>, rule: impl Into<String>) -> StoreError {
        StoreError::InvalidParams {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub(crate) fn damaged(id: Uuid, what: impl Into<String>) -> StoreError {
        StoreError::Damaged {
            id,
            what: what.into(),
        }
    }
}

fn is_enospc(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
        match e {
            sled::Error::Io(io) if is_enospc(&io) => StoreError::DiskFull(io.to_string()),
            other => StoreError::Db(other.to_string()),
        }
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> StoreError {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}

impl From<crate::har::HarParseError> for StoreError {
    fn from(e: crate::har::HarParseError) -> StoreError {
        StoreError::HarFileInvalid {
            path: e.path,
            message: e.message,
            line: e.line,
            column: e.column,
        }
    }
}
