//! One module per CLI command. Each exposes its clap arguments and a `run`; `main.rs` only
//! dispatches.

pub mod actions;
pub mod analyze;
pub mod bench_replay;
pub mod capture;
pub mod check;
pub mod demo;
pub mod execute;
pub mod fixture_site;
pub mod har_from_events;
pub mod record;
pub mod replay;
pub mod report;
pub mod sessions;
