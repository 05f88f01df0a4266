//! The one error vocabulary: every error that reaches a user carries an [`ErrorCode`].
//!
//! A code is the JSON-RPC style number that MCP clients see, a stable name, the HTTP status
//! REST answers with, and the exit status of the `spool` command. Each library crate keeps
//! its own typed error and maps it to one of these; nothing else invents a number.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable error code. The numbers follow the primary spec's table; codes Spool added
/// (a busy pool, a store held by another process, a damaged store) sit next to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A parameter broke its rule; the message names the field and the rule.
    InvalidParams,
    /// No tool or route of that name.
    MethodNotFound,
    /// A bug or an unexpected failure on our side.
    InternalError,
    /// The work did not finish within its deadline.
    Timeout,
    /// Chromium could not be launched or attached to.
    BrowserLaunchFailed,
    /// The analysis could not be made (e.g. a HAR with no requests).
    AnalysisFailed,
    /// No stored session has that id.
    SessionNotFound,
    /// A replay step could not be carried out.
    ReplayFailed,
    /// Every browser of the pool is busy and the wait queue is full or timed out.
    BrowserPoolBusy,
    /// The session store is held open by another process.
    StoreInUse,
    /// Stored data failed its checksum or could not be decoded.
    StoreDamaged,
    /// The browser's network capture failed (the connection broke, the target crashed).
    NetworkCaptureFailed,
    /// A HAR document could not be read; the message names where.
    HarFileInvalid,
    /// An input is over a size or memory limit.
    TooLarge,
    /// The disk is full.
    DiskSpaceExhausted,
    /// The request carries no credentials, or ones the server does not accept (a wrong key,
    /// an expired JWT, a JWT signed with another key).
    Unauthorized,
    /// The request is refused whoever sends it (a `Host` or `Origin` not on the allow-list).
    Forbidden,
    /// The client called a tool more often than its rate limit allows; retry after the
    /// `Retry-After` seconds.
    RateLimited,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidParams,
        ErrorCode::MethodNotFound,
        ErrorCode::InternalError,
        ErrorCode::Timeout,
        ErrorCode::BrowserLaunchFailed,
        ErrorCode::AnalysisFailed,
        ErrorCode::SessionNotFound,
        ErrorCode::ReplayFailed,
        ErrorCode::BrowserPoolBusy,
        ErrorCode::StoreInUse,
        ErrorCode::StoreDamaged,
        ErrorCode::NetworkCaptureFailed,
        ErrorCode::HarFileInvalid,
        ErrorCode::TooLarge,
        ErrorCode::DiskSpaceExhausted,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
    ];

    /// The number MCP and JSON error bodies carry.
    pub const fn number(self) -> i32 {
        match self {
            ErrorCode::InvalidParams => -32602,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InternalError => -32603,
            ErrorCode::Timeout => -32604,
            ErrorCode::BrowserLaunchFailed => -32001,
            ErrorCode::AnalysisFailed => -32003,
            ErrorCode::SessionNotFound => -32004,
            ErrorCode::ReplayFailed => -32005,
            ErrorCode::BrowserPoolBusy => -32006,
            ErrorCode::StoreInUse => -32007,
            ErrorCode::StoreDamaged => -32008,
            ErrorCode::NetworkCaptureFailed => -32101,
            ErrorCode::HarFileInvalid => -32102,
            ErrorCode::TooLarge => -32201,
            ErrorCode::DiskSpaceExhausted => -32202,
            ErrorCode::Unauthorized => -32301,
            ErrorCode::Forbidden => -32302,
            ErrorCode::RateLimited => -32303,
        }
    }

    /// The stable name, as in the spec's enum.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidParams => "InvalidParams",
            ErrorCode::MethodNotFound => "MethodNotFound",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::Timeout => "Timeout",
            ErrorCode::BrowserLaunchFailed => "BrowserLaunchFailed",
            ErrorCode::AnalysisFailed => "InteguruAnalysisFailed",
            ErrorCode::SessionNotFound => "SessionNotFound",
            ErrorCode::ReplayFailed => "ReplayFailed",
            ErrorCode::BrowserPoolBusy => "BrowserPoolBusy",
            ErrorCode::StoreInUse => "StoreInUse",
            ErrorCode::StoreDamaged => "StoreDamaged",
            ErrorCode::NetworkCaptureFailed => "NetworkCaptureFailed",
            ErrorCode::HarFileInvalid => "HarFileInvalid",
            ErrorCode::TooLarge => "InsufficientMemory",
            ErrorCode::DiskSpaceExhausted => "DiskSpaceExhausted",
            ErrorCode::Unauthorized => "Unauthorized",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::RateLimited => "RateLimited",
        }
    }

    /// The HTTP status REST answers with.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidParams => 400,
            ErrorCode::MethodNotFound => 404,
            ErrorCode::InternalError => 500,
            ErrorCode::Timeout => 504,
            ErrorCode::BrowserLaunchFailed => 503,
            ErrorCode::AnalysisFailed => 422,
            ErrorCode::SessionNotFound => 404,
            ErrorCode::ReplayFailed => 500,
            ErrorCode::BrowserPoolBusy => 503,
            ErrorCode::StoreInUse => 409,
            ErrorCode::StoreDamaged => 500,
            ErrorCode::NetworkCaptureFailed => 502,
            ErrorCode::HarFileInvalid => 422,
            ErrorCode::TooLarge => 413,
            ErrorCode::DiskSpaceExhausted => 507,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::RateLimited => 429,
        }
    }

    /// The exit status of the `spool` command: 2 bad input, 3 timeout, 4 no browser,
    /// 5 not found, 6 busy or rate limited (try again later), 7 refused credentials, 1
    /// anything else.
    pub const fn exit_status(self) -> u8 {
        match self {
            ErrorCode::InvalidParams | ErrorCode::MethodNotFound | ErrorCode::HarFileInvalid => 2,
            ErrorCode::Timeout => 3,
            ErrorCode::BrowserLaunchFailed => 4,
            ErrorCode::SessionNotFound => 5,
            ErrorCode::BrowserPoolBusy | ErrorCode::StoreInUse | ErrorCode::RateLimited => 6,
            ErrorCode::Unauthorized | ErrorCode::Forbidden => 7,
            _ => 1,
        }
    }

    /// The code with this number, if it is one of ours.
    pub fn from_number(number: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.number() == number)
    }
}

/// Lets a test or a client compare a code with the spec's number directly
/// (`assert_eq!(err.code(), -32602)`).
impl PartialEq<i32> for ErrorCode {
    fn eq(&self, number: &i32) -> bool {
        self.number() == *number
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_unique() {
        let mut numbers: Vec<i32> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), ErrorCode::ALL.len());
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn every_number_maps_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_number(code.number()), Some(code));
        }
        assert_eq!(ErrorCode::from_number(0), None);
    }
}
