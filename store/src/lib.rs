//! Spool's session model and its persistence.
//!
//! - [`har`]: HAR 1.2 types that keep every custom field, used everywhere a HAR is read or
//!   written.
//! - [`model`]: a session's streams (console entries, actions, screenshots) and the capture
//!   level, the contract between the engine and the store.
//!
//! This crate knows nothing of CDP.

pub mod har;
pub mod model;
