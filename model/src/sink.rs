//! Where a recording goes while it runs.
//!
//! The engine hands a [`CaptureSink`] every chunk of a recording as it happens (completed
//! HAR entries, console entries, actions, screenshots, raw CDP events). The store implements
//! it to write sessions durably while they record; the CLI wraps it to show progress; live
//! event streams wrap it to tell subscribers. The trait lives here so that neither the
//! engine nor the store has to depend on the other.

use crate::har::Entry;
use crate::session::{Action, ConsoleEntry, Screenshot};
use std::time::Duration;

/// Progress of a running recording, for progress bars and status calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// HAR entries completed so far.
    pub entries: usize,
    /// Requests still running.
    pub in_flight: usize,
    /// Console entries so far.
    pub console: usize,
    /// Actions so far.
    pub actions: usize,
    /// Screenshots so far.
    pub screenshots: usize,
    /// Time since the recording started.
    pub elapsed: Duration,
}

/// Receives a recording while it runs, chunk by chunk. Every method has a do-nothing
/// default, and none may block for long: the recording waits while a method runs.
pub trait CaptureSink: Send {
    fn entries(&mut self, _entries: &[Entry]) {}
    fn console(&mut self, _entries: &[ConsoleEntry]) {}
    fn screenshot(&mut self, _shot: &Screenshot) {}
    fn actions(&mut self, _actions: &[Action]) {}
    /// Raw CDP events as JSON Lines (capture level 4), handed over as they arrive.
    fn raw_events(&mut self, _jsonl: &[u8]) {}
    fn progress(&mut self, _progress: &Progress) {}
}

/// A sink that keeps nothing.
pub struct NoSink;
impl CaptureSink for NoSink {}

/// Hands every chunk to two sinks, the first one first (e.g. the store, then a live-events
/// broadcaster).
pub struct Tee<'a>(pub &'a mut dyn CaptureSink, pub &'a mut dyn CaptureSink);

impl CaptureSink for Tee<'_> {
    fn entries(&mut self, entries: &[Entry]) {
        self.0.entries(entries);
        self.1.entries(entries);
    }
    fn console(&mut self, entries: &[ConsoleEntry]) {
        self.0.console(entries);
        self.1.console(entries);
    }
    fn screenshot(&mut self, shot: &Screenshot) {
        self.0.screenshot(shot);
        self.1.screenshot(shot);
    }
    fn actions(&mut self, actions: &[Action]) {
        self.0.actions(actions);
        self.1.actions(actions);
    }
    fn raw_events(&mut self, jsonl: &[u8]) {
        self.0.raw_events(jsonl);
        self.1.raw_events(jsonl);
    }
    fn progress(&mut self, progress: &Progress) {
        self.0.progress(progress);
        self.1.progress(progress);
    }
}
