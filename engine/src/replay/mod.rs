//! Replay of recorded sessions.
//!
//! - [`network`]: which recorded entry answers a request (matching, normalization, repeats
//!   in recorded order, near misses, unused entries). Pure: no browser, no I/O.
//! - [`offline`]: a page loaded in a pool context with every request answered from the
//!   recording through the `Fetch` domain, and the report of what was served.
//! - [`actions`]: a session's recorded actions performed again through CDP input, each on
//!   the first selector alternative that finds the recorded element.

pub mod actions;
pub mod network;
pub mod offline;

pub use actions::{
    ActionReplayConfig, ActionReplayReport, ActionReplayStatus, StepResult, StepStatus,
    replay_actions,
};
pub use network::{
    Answer, Difference, MatchConfig, NearMiss, RecordedNetwork, ReplayRequest, ReplayResponse,
    UnusedEntry, VolatileFields, volatile_fields,
};
pub use offline::{
    NetworkReplayReport, ReplayNetworkConfig, ServedRequest, UnmatchedPolicy, UnmatchedRequest,
    replay_network,
};
