//! What every Spool crate shares, and nothing that does I/O.
//!
//! - [`har`]: HAR 1.2 types that keep every custom field, used everywhere a HAR is read or
//!   written.
//! - [`session`]: a session's streams (console entries, actions, screenshots) and the
//!   capture level: the contract between the engine, which records them, and the store,
//!   which persists them.
//! - [`CaptureSink`]: where a recording goes while it runs (the store, a progress bar, live
//!   subscribers).
//! - [`cookie`]: the one parser of `Cookie` and `Set-Cookie` header values.
//! - [`html`]: the attributes of an HTML tag, for redaction and analysis alike.
//! - [`percent`]: the one percent codec (URL components, form fields).
//! - [`secret`]: what counts as a secret, for export redaction, analysis and generated code.
//! - [`ErrorCode`]: the one error vocabulary (number, name, HTTP status, exit status) that
//!   every crate's typed errors map to.
//!
//! The crate exists so that a crate that records (the engine) or analyses (the analyzer)
//! does not have to compile a database to name a HAR entry.

pub mod cookie;
pub mod error_code;
pub mod har;
pub mod html;
pub mod percent;
pub mod secret;
pub mod session;
pub mod sink;

pub use error_code::ErrorCode;
pub use har::Har;
pub use session::{
    Action, BrowserInfo, CaptureLevel, ConsoleEntry, ConsoleLevel, ConsoleSource, ImageFormat,
    Screenshot, Viewport,
};
pub use sink::{CaptureSink, NoSink, Progress, Tee};
