//! Spool analyzer (see issue 4). Pure functions, no I/O, no dependency on other Spool crates.
