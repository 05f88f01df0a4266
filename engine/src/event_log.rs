//! Recorded CDP event logs → HAR, through the same [`NetworkRecorder`] as live capture.
//!
//! A log is a JSON array of `{"method", "params"}` objects (the format of Chrome's
//! performance log and of chrome-har's test data) or JSON Lines of the same objects (what
//! a level-4 capture writes as `events.jsonl`). Params are kept as raw JSON and decoded
//! only for the events the recorder reads, which is most of the speed of this path.

use crate::error::EngineError;
use crate::network::{NetworkRecorder, RecorderConfig};
use serde::Deserialize;
use serde_json::value::RawValue;
use spool_model::har::Har;
use spool_model::session::CaptureLevel;

#[derive(Deserialize)]
struct LoggedEvent<'a> {
    #[serde(borrow)]
    method: Option<&'a str>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "sessionId")]
    session_id: Option<&'a str>,
}

/// Converts an event log to a HAR 1.2 document.
///
/// A log that is not JSON, or an event that is not an object with a `method`, is an error
/// naming the event's index; so is an event whose params do not fit its method.
pub fn har_from_events(bytes: &[u8]) -> Result<Har, EngineError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| EngineError::EventLogUnreadable(format!("not UTF-8: {e}")))?;
    let events = parse_events(text)?;
    let mut recorder = NetworkRecorder::new(RecorderConfig::for_level(CaptureLevel::Full));
    let empty = RawValue::from_string("{}".into()).expect("{} is JSON");
    for (index, event) in events.iter().enumerate() {
        let Some(method) = event.method else {
            return Err(EngineError::EventLogInvalid {
                index,
                message: "the event has no \"method\"".into(),
            });
        };
        let params = event.params.unwrap_or(&empty);
        recorder
            .handle(method, event.session_id, params)
            .map_err(|e| EngineError::EventLogInvalid {
                index,
                message: format!("{method}: {e}"),
            })?;
    }
    let (pages, entries) = recorder.finish();
    let mut har = Har::new_spool();
    har.log.pages = pages;
    har.log.entries = entries;
    Ok(har)
}

/// Splits a log into raw events: a JSON array, or one JSON object per line.
/// The event envelopes, in one pass over the text; each event's `params` stay raw until the
/// recorder decodes the ones it needs.
fn parse_events(text: &str) -> Result<Vec<LoggedEvent<'_>>, EngineError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return serde_json::from_str::<Vec<LoggedEvent>>(text).map_err(|e| {
            // Name the event in which parsing broke: count the complete events before it.
            let index = count_events_before(text, e.line(), e.column());
            EngineError::EventLogInvalid {
                index,
                message: format!(
                    "malformed JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            }
        });
    }
    if trimmed.is_empty() {
        return Err(EngineError::EventLogUnreadable("the log is empty".into()));
    }
    let mut events = Vec::new();
    for (index, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let event: LoggedEvent =
            serde_json::from_str(line).map_err(|e| EngineError::EventLogInvalid {
                index,
                message: format!("malformed JSON line: {e}"),
            })?;
        events.push(event);
    }
    Ok(events)
}

/// How many array elements end before a byte position given as line and column: the index
/// of the element the parser was reading.
fn count_events_before(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            offset += column.saturating_sub(1).min(l.len());
            break;
        }
        offset += l.len();
    }
    let prefix = &text.as_bytes()[..offset.min(text.len())];
    // Count top-level commas outside strings.
    let (mut depth, mut in_string, mut escaped, mut count) = (0i32, false, false, 0usize);
    for &b in prefix {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b',' if depth == 1 => count += 1,
            _ => {}
        }
    }
    count
}
