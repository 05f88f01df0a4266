//! Spool engine.
