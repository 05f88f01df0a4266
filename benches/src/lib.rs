//! Helpers shared by the benches.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

pub mod cpu;
pub mod page_load;
pub mod report_view;
pub mod synthetic;
