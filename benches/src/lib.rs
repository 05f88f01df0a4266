//! Helpers shared by the benches.

pub mod page_load;
pub mod synthetic;
