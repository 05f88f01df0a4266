//! Spool's engine: everything that talks to a browser.
//!
//! - [`cdp`]: our low-level CDP client (one WebSocket, typed commands, flattened sessions,
//!   events routed to the capture that owns their target).
//! - [`browser`]: launch a headless Chromium we own, or attach to one a person runs.
//! - [`pool`]: a pool of browsers serving many sessions at once, each in an isolated
//!   browser context, from a local Chromium or a remote DevTools endpoint.
//! - [`capture`]: drive a tab and record HAR, console, actions and screenshots at a
//!   [`CaptureLevel`](spool_model::session::CaptureLevel), to its end or live
//!   ([`LiveCapture`]) while a caller acts on the page.
//! - [`network`] and [`console`]: the recorders that turn CDP events into HAR entries and
//!   console entries. They are pure state machines, shared by live capture and by
//!   [`event_log`] (recorded event logs → HAR), so both paths produce the same HAR.
//! - [`plan_runner`]: run an analyzer plan (the `integuru` modality) as plain HTTP, with
//!   no browser: values flow from response to request, retries, one deadline.
//! - [`replay`]: offline network replay (a recorded page loaded with every request answered
//!   from its recording) and the pure request matching behind it; action replay (recorded
//!   actions performed again through CDP input).
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
pub mod plan_runner;
pub mod pool;
pub mod replay;
pub mod screenshot;
pub mod state;

pub use browser::{Browser, BrowserContext, LaunchConfig};
pub use capture::{
    Capture, CaptureConfig, CaptureSink, LiveCapture, NoSink, PageHandle, PageStatus, PreparedTab,
    Progress, StopReason, StopSignal, WaitUntil, capture,
};
pub use error::EngineError;
pub use event_log::har_from_events;
pub use plan_runner::{PlanRun, RetryPolicy, RunConfig, RunStatus, run_plan};
pub use pool::{
    BrowserPool, BrowserProvider, BrowserSource, ContextLease, PoolConfig, PoolStats, SpareTab,
};
pub use replay::{
    ActionReplayConfig, ActionReplayReport, NetworkReplayReport, ReplayNetworkConfig,
    replay_actions, replay_network,
};
pub use screenshot::ScreenshotOptions;
pub use state::BrowserState;
