//! One module per CLI command. Each exposes its clap arguments and a `run`; `main.rs` only
//! dispatches.

pub mod analyze;
pub mod capture;
pub mod demo;
pub mod execute;
pub mod fixture_site;
pub mod har_from_events;
pub mod replay;
pub mod report;
pub mod sessions;
