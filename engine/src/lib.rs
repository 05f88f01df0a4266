//! Spool's engine: everything that talks to a browser.
//!
//! - [`cdp`]: our low-level CDP client (one WebSocket, typed commands, flattened sessions).
//! - [`browser`]: launch a headless Chromium we own, or attach to one a person runs.
//! - [`capture`]: drive a tab and record HAR, console, actions and screenshots at a
//!   [`CaptureLevel`](spool_model::session::CaptureLevel).
//! - [`network`] and [`console`]: the recorders that turn CDP events into HAR entries and
//!   console entries. They are pure state machines, shared by live capture and by
//!   [`event_log`] (recorded event logs → HAR), so both paths produce the same HAR.
//! - [`screenshot`] and [`state`]: screenshot options and browser state (cookies, storage).
//!
//! Errors are one [`EngineError`] with the stable codes of docs/errors.md.

pub mod browser;
pub mod capture;
pub mod cdp;
pub mod console;
pub mod error;
pub mod event_log;
mod events;
pub mod network;
pub mod screenshot;
pub mod state;
pub mod store_sink;

pub use browser::{Browser, LaunchConfig};
pub use capture::{
    BrowserSource, Capture, CaptureConfig, CaptureSink, NoSink, Progress, StopReason, StopSignal,
    capture, capture_in,
};
pub use error::EngineError;
pub use event_log::har_from_events;
pub use screenshot::ScreenshotOptions;
pub use state::BrowserState;
pub use store_sink::StoreSink;
