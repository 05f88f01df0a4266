//! Every tool Spool serves. A capability that does not work yet is not listed. `replay-network` replays a stored session's network only;
//! `replay-automation` its recorded actions.

pub mod analysis;
pub mod batch;
pub mod browser;
pub mod capture;
pub mod code;
pub mod execute;
pub mod record;
pub mod replay;
pub mod sessions;

use super::config::ServeConfig;
use super::error::ApiError;
use super::registry::{Registry, Tool};
use spool_model::ErrorCode;
use spool_store::Uuid;

/// The spec's session id rule: a UUID in lower-case hex.
pub const SESSION_ID_PATTERN: &str =
    "^[a-f0-9-]{8}-[a-f0-9-]{4}-[a-f0-9-]{4}-[a-f0-9-]{4}-[a-f0-9-]{12}$";

/// Only web pages are captured: `file:`, `javascript:`, `data:` and the like are refused.
pub const HTTP_URL_PATTERN: &str = "^[hH][tT][tT][pP][sS]?://[^\\s]+$";

pub fn registry(_config: &ServeConfig) -> Registry {
    Registry::new(vec![
        Tool::new(
            "capture-and-analyze",
            "Record network activity and analyze with Integuru to determine optimal automation modality",
            capture::capture_and_analyze,
        ),
        Tool::new(
            "list-sessions",
            "List stored sessions, newest first, filtered by task words, dates and status",
            sessions::list_sessions,
        ),
        Tool::new(
            "get-session",
            "Get a stored session's metadata and counts",
            sessions::get_session,
        ),
        Tool::new(
            "delete-session",
            "Delete a stored session and everything recorded in it",
            sessions::delete_session,
        ),
        Tool::new(
            "export-session",
            "Export a stored session as HAR 1.2 or as the whole session in JSON (embedded as a resource); credentials are redacted unless includeSecrets",
            sessions::export_session,
        ),
        Tool::new(
            "analyze-har",
            "Analyze a stored session or an uploaded HAR: the API calls the task needs, how their values flow, and the recommended modality",
            analysis::analyze_har,
        ),
        Tool::new(
            "execute-optimally",
            "Execute a recorded task using the optimal modality (Integuru/CDP/Manual): the API plan as plain HTTP when it can, else a heavier modality; every attempt is reported",
            execute::execute_optimally,
        ),
        Tool::new(
            "batch-execute",
            "Run several tool calls (usually execute-optimally) in one: started in order, one at a time unless maxConcurrency asks for more, each with its own result or error (one failure never fails the others), within one overall timeout",
            batch::batch_execute,
        ),
        Tool::new(
            "parallel-execute",
            "Run several tool calls (usually execute-optimally or capture-and-analyze) at once, at most maxConcurrency at a time (default and cap: the server's max_concurrency), each with its own result or error (one failure never fails the others), within one overall timeout",
            batch::parallel_execute,
        ),
        Tool::new(
            "record-session",
            "Record complete automation session for replay: opens a recorded browser session (drive it with navigate, click, type and press-key using the returned sessionId, or let a person drive it), stopped by stop-recording, after inactivityTimeoutSeconds without actions or traffic (autoStop), or at timeoutMinutes",
            record::record_session,
        ),
        Tool::new(
            "get-recording-status",
            "Get a recording's status while it records (duration and counts of actions, screenshots, network and console entries) or how it ended",
            record::get_recording_status,
        ),
        Tool::new(
            "stop-recording",
            "Stop a recording and store it; a recording that already stopped on its own answers with how it ended",
            record::stop_recording,
        ),
        Tool::new(
            "replay-network",
            "Replay a stored session's network offline: load its recorded page in a headless browser with every request answered from the recording (no action is replayed), and report the requests served, those with no recorded answer (with the nearest recorded entry and what differed) and the recorded entries never used",
            replay::replay_network,
        ),
        Tool::new(
            "replay-automation",
            "Replay a previously recorded automation session: each recorded action performed again through real mouse and keyboard input on the first recorded selector that finds the element, with recorded think time scaled by speedMultiplier, one action (actionIndex), a dry run that only resolves elements, and overrideParameters for new values (a recorded password is never stored and must be given)",
            replay::replay_automation,
        ),
        Tool::new(
            "resume-replay",
            "Go on with a replay-automation replay that paused at a failed action (pauseOnError): retry the action, skip it, or cancel the replay",
            replay::resume_replay,
        ),
        Tool::new(
            "navigate",
            "Open a URL in a live browser session (a new one, recorded into the store, when no sessionId is given) and wait until load, domcontentloaded or networkidle",
            browser::navigate,
        ),
        Tool::new(
            "click",
            "Click the element a CSS selector matches in a live browser session",
            browser::click,
        ),
        Tool::new(
            "type",
            "Type text into the input a CSS selector matches, with an optional delay between keystrokes",
            browser::type_text,
        ),
        Tool::new(
            "press-key",
            "Press a key (Enter, Tab, Escape, arrows, ...) in a live browser session",
            browser::press_key,
        ),
        Tool::new(
            "scroll",
            "Scroll a live browser session's page by an amount or to an element",
            browser::scroll,
        ),
        Tool::new(
            "screenshot",
            "Take a screenshot of a live browser session (viewport size, png/jpeg/webp, quality, full page or one element); returned as image content with its metadata and stored with the session",
            browser::screenshot,
        ),
        Tool::new(
            "get-text",
            "The visible text of the element a CSS selector matches",
            browser::get_text,
        ),
        Tool::new(
            "get-content",
            "The page's URL, title and HTML",
            browser::get_content,
        ),
        Tool::new(
            "evaluate",
            "Evaluate a JavaScript expression in the page and return its JSON value (refused unless the server runs with --allow-evaluate true)",
            browser::evaluate,
        ),
        Tool::new(
            "close-session",
            "Close a live browser session; the recording is stored and its summary returned",
            browser::close_session,
        ),
    ])
}

/// The resource URI of a stored session.
pub fn session_uri(id: &str) -> String {
    format!("spool://sessions/{id}")
}

/// A session id that passed the schema's pattern as a UUID.
pub fn parse_session_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidParams,
            format!("invalid sessionId: {text:?} is not a UUID"),
        )
        .with_details(serde_json::json!({ "field": "sessionId", "rule": "pattern" }))
    })
}
