//! Replay of recorded sessions.
//!
//! - [`network`]: which recorded entry answers a request (matching, normalization, repeats
//!   in recorded order, near misses, unused entries). Pure: no browser, no I/O.
//! - [`offline`]: a page loaded in a pool context with every request answered from the
//!   recording through the `Fetch` domain, and the report of what was served.
//! - [`actions`]: a session's recorded actions performed again through CDP input, each on
//!   the first selector alternative that finds the recorded element; with
//!   [`replay_actions_recorded`], the replay's own network, console and screenshots too.
//! - [`check`]: the regression check, a replay compared with its recording. Pure.
//! - [`devtools`]: Chrome DevTools Recorder recordings to and from actions. Pure.

pub mod actions;
pub mod check;
pub mod devtools;
pub mod network;
pub mod offline;

pub use actions::{
    ActionReplay, ActionReplayConfig, ActionReplayReport, ActionReplayStatus, ReplayRecording,
    Resume, StepResult, StepStatus, replay_actions, replay_actions_recorded,
};
pub use check::{CheckConfig, CheckReport, Recording, Regression, RegressionKind};
pub use network::{
    Answer, Difference, MatchConfig, NearMiss, RecordedNetwork, ReplayRequest, ReplayResponse,
    UnusedEntry, VolatileFields, volatile_fields,
};
pub use offline::{
    NetworkReplayReport, RecordedAnswers, ReplayNetworkConfig, ServedRequest, UnmatchedPolicy,
    UnmatchedRequest, replay_network,
};
