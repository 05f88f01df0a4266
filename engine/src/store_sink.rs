//! Writing a capture into the session store while it runs.
//!
//! [`StoreSink`] turns every chunk the capture hands over (completed entries, console
//! entries, actions, screenshots, raw events) into one durable append, so a process killed
//! mid-recording loses at most the chunk in flight; the store marks such a session
//! INTERRUPTED when it is next opened. [`StoreSink::finish`] writes the pages and the final
//! metadata.

use crate::capture::{Capture, CaptureSink, StopReason};
use spool_model::har::Entry;
use spool_model::session::{Action, ConsoleEntry, Screenshot};
use spool_store::{SessionEnd, SessionMetadata, SessionStatus, SessionWriter, StoreError};

pub struct StoreSink<'a> {
    writer: SessionWriter,
    /// The first store error; later chunks are not attempted once writing failed.
    error: Option<StoreError>,
    /// Also shown progress, e.g. a spinner.
    inner: Option<&'a mut dyn CaptureSink>,
}

impl<'a> StoreSink<'a> {
    pub fn new(writer: SessionWriter, inner: Option<&'a mut dyn CaptureSink>) -> StoreSink<'a> {
        StoreSink {
            writer,
            error: None,
            inner,
        }
    }

    pub fn id(&self) -> spool_store::Uuid {
        self.writer.id()
    }

    fn record(&mut self, result: Result<(), StoreError>) {
        if let Err(e) = result {
            tracing::error!("writing the session to the store failed: {e}");
            self.error.get_or_insert(e);
        }
    }

    /// Ends the session: pages, browser info and status from the finished capture. A store
    /// error during recording is returned here.
    pub fn finish(mut self, capture: &Capture) -> Result<SessionMetadata, StoreError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.set_pages(&capture.har.log.pages)?;
        let status = match capture.stop_reason {
            StopReason::NetworkIdle => SessionStatus::Completed,
            StopReason::Timeout | StopReason::Stopped | StopReason::BrowserClosed => {
                SessionStatus::Stopped
            }
        };
        let mut end = SessionEnd::new(status);
        end.browser = Some(capture.browser.clone());
        self.writer.finish(end)
    }

    /// Ends the session as failed, keeping what was written.
    pub fn fail(
        self,
        error: &str,
        partial: Option<&Capture>,
    ) -> Result<SessionMetadata, StoreError> {
        let mut writer = self.writer;
        if let Some(capture) = partial {
            writer.set_pages(&capture.har.log.pages)?;
        }
        let mut end = SessionEnd::new(SessionStatus::Error);
        end.error = Some(error.to_string());
        writer.finish(end)
    }
}

impl CaptureSink for StoreSink<'_> {
    fn entries(&mut self, entries: &[Entry]) {
        if self.error.is_none() {
            let r = self.writer.append_entries(entries);
            self.record(r);
        }
    }
    fn console(&mut self, entries: &[ConsoleEntry]) {
        if self.error.is_none() {
            let r = self.writer.append_console(entries);
            self.record(r);
        }
    }
    fn screenshot(&mut self, shot: &Screenshot) {
        if self.error.is_none() {
            let r = self.writer.append_screenshot(shot);
            self.record(r);
        }
    }
    fn actions(&mut self, actions: &[Action]) {
        if self.error.is_none() {
            let r = self.writer.append_actions(actions);
            self.record(r);
        }
    }
    fn raw_events(&mut self, jsonl: &[u8]) {
        if self.error.is_none() {
            let r = self.writer.append_raw_events(jsonl);
            self.record(r);
        }
    }
    fn progress(&mut self, progress: &spool_model::Progress) {
        if let Some(inner) = self.inner.as_deref_mut() {
            inner.progress(progress);
        }
    }
}
