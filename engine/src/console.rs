//! Console events → [`ConsoleEntry`]s: `Runtime.consoleAPICalled`, `Runtime.exceptionThrown`
//! and `Log.entryAdded`, filtered and detailed by capture level (errors only at level 1,
//! stack traces at level 4).

use crate::events::*;
use crate::network::iso8601;
use spool_model::session::{CaptureLevel, ConsoleEntry, ConsoleLevel, ConsoleSource, StackFrame};

pub struct ConsoleRecorder {
    level: CaptureLevel,
    /// Entries kept for [`ConsoleRecorder::into_entries`], at most `limit`.
    entries: Vec<ConsoleEntry>,
    /// Entries recorded since the last [`ConsoleRecorder::take_new`].
    fresh: Vec<ConsoleEntry>,
    limit: usize,
    dropped: usize,
    total: usize,
}

impl ConsoleRecorder {
    pub fn new(level: CaptureLevel) -> ConsoleRecorder {
        ConsoleRecorder {
            level,
            entries: Vec::new(),
            fresh: Vec::new(),
            limit: usize::MAX,
            dropped: 0,
            total: 0,
        }
    }

    /// Keeps at most `limit` entries in memory for [`ConsoleRecorder::into_entries`];
    /// [`ConsoleRecorder::take_new`] still hands out every entry once.
    pub fn set_memory_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Entries recorded but not kept in memory.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Feeds one event; other methods are ignored.
    pub fn handle<P: EventParams + ?Sized>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<(), serde_json::Error> {
        let entry = match method {
            "Runtime.consoleAPICalled" => {
                let e: ConsoleApiCalled = params.decode()?;
                let text = e
                    .args
                    .iter()
                    .map(RemoteObject::display)
                    .collect::<Vec<_>>()
                    .join(" ");
                let first = e.stack_trace.as_ref().and_then(|s| s.call_frames.first());
                ConsoleEntry {
                    level: match e.kind.as_str() {
                        "debug" => ConsoleLevel::Debug,
                        "info" => ConsoleLevel::Info,
                        "warning" => ConsoleLevel::Warning,
                        "error" | "assert" => ConsoleLevel::Error,
                        _ => ConsoleLevel::Log,
                    },
                    source: ConsoleSource::ConsoleApi,
                    text,
                    url: first.map(|f| f.url.clone()).filter(|u| !u.is_empty()),
                    line: first.map(|f| f.line_number + 1),
                    timestamp: iso8601(e.timestamp / 1000.0),
                    stack: self.stack(e.stack_trace.as_ref()),
                }
            }
            "Runtime.exceptionThrown" => {
                let e: ExceptionThrown = params.decode()?;
                let d = &e.exception_details;
                let description = d.exception.as_ref().and_then(|x| {
                    x.description
                        .clone()
                        .or_else(|| x.value.as_ref().map(|v| v.to_string()))
                });
                // "Uncaught" + the first line of the description, as DevTools shows it.
                let text = match description.as_deref().and_then(|s| s.lines().next()) {
                    Some(first) => format!("{} {}", d.text.trim_end_matches(':'), first),
                    None => d.text.clone(),
                };
                ConsoleEntry {
                    level: ConsoleLevel::Error,
                    source: ConsoleSource::Exception,
                    text,
                    url: d.url.clone().filter(|u| !u.is_empty()),
                    line: Some(d.line_number + 1),
                    timestamp: iso8601(e.timestamp / 1000.0),
                    stack: self.stack(d.stack_trace.as_ref()),
                }
            }
            "Log.entryAdded" => {
                let e: LogEntryAdded = params.decode()?;
                let x = e.entry;
                ConsoleEntry {
                    level: match x.level.as_str() {
                        "verbose" => ConsoleLevel::Debug,
                        "info" => ConsoleLevel::Info,
                        "warning" => ConsoleLevel::Warning,
                        "error" => ConsoleLevel::Error,
                        _ => ConsoleLevel::Log,
                    },
                    source: ConsoleSource::Browser,
                    text: x.text,
                    url: x.url.filter(|u| !u.is_empty()),
                    line: x.line_number.map(|l| l + 1),
                    timestamp: iso8601(x.timestamp / 1000.0),
                    stack: self.stack(x.stack_trace.as_ref()),
                }
            }
            _ => return Ok(()),
        };
        if self.level == CaptureLevel::Metadata && entry.level != ConsoleLevel::Error {
            return Ok(());
        }
        self.total += 1;
        if self.entries.len() < self.limit {
            self.entries.push(entry.clone());
        } else {
            self.dropped += 1;
        }
        self.fresh.push(entry);
        Ok(())
    }

    fn stack(&self, trace: Option<&StackTrace>) -> Vec<StackFrame> {
        if self.level < CaptureLevel::Forensic {
            return Vec::new();
        }
        trace
            .map(|t| {
                t.call_frames
                    .iter()
                    .map(|f| StackFrame {
                        function_name: f.function_name.clone(),
                        url: f.url.clone(),
                        line_number: f.line_number + 1,
                        column_number: f.column_number + 1,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Entries recorded since the last call.
    pub fn take_new(&mut self) -> Vec<ConsoleEntry> {
        std::mem::take(&mut self.fresh)
    }

    /// How many entries were recorded.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn into_entries(self) -> Vec<ConsoleEntry> {
        self.entries
    }
}
