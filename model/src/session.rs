//! The session model: what one recording is made of, and what is persisted.
//!
//! These types are the contract between the engine (which produces them from CDP) and the
//! store (which persists them). They know nothing of CDP.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How much a capture records; see the capture-level table in docs/capture.md.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(try_from = "u8", into = "u8")]
pub enum CaptureLevel {
    /// HAR entries without response bodies; console errors only; actions.
    Metadata = 1,
    /// + bodies of documents, XHR/fetch and text-like responses (capped); all console entries.
    Api = 2,
    /// + every response body, WebSocket frames: enough to replay offline.
    Full = 3,
    /// + console stack traces and every raw CDP event.
    Forensic = 4,
}

impl CaptureLevel {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for CaptureLevel {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(CaptureLevel::Metadata),
            2 => Ok(CaptureLevel::Api),
            3 => Ok(CaptureLevel::Full),
            4 => Ok(CaptureLevel::Forensic),
            other => Err(format!("capture level must be 1, 2, 3 or 4, got {other}")),
        }
    }
}

impl From<CaptureLevel> for u8 {
    fn from(l: CaptureLevel) -> u8 {
        l as u8
    }
}

impl fmt::Display for CaptureLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u8)
    }
}

/// Severity of a console entry, normalised across `console.*`, exceptions and browser logs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleLevel {
    Debug,
    Log,
    Info,
    Warning,
    Error,
}

/// Where a console entry came from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ConsoleSource {
    /// `console.log` and friends (`Runtime.consoleAPICalled`).
    ConsoleApi,
    /// An uncaught exception (`Runtime.exceptionThrown`).
    Exception,
    /// The browser's own log (`Log.entryAdded`): network errors, violations, interventions.
    Browser,
}

/// One frame of a JavaScript stack trace (kept at capture level 4).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StackFrame {
    pub function_name: String,
    pub url: String,
    pub line_number: i64,
    pub column_number: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleEntry {
    pub level: ConsoleLevel,
    pub source: ConsoleSource,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// 1-based line number in `url`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// RFC 3339 wall-clock time.
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

/// Something the user (or a script) did to the page.
///
/// Everything after `timestamp` was added for action replay; sessions stored before it load
/// with those fields empty.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// `navigate`, `click`, `dblclick`, `type`, `select`, `key`, `submit`, `scroll`,
    /// `viewport`, `evaluate`, ...
    pub kind: String,
    /// A CSS selector or URL the action applies to, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Typed text, a chosen option's value, a key with the modifiers held (`Enter`,
    /// `ArrowDown`, `Control+a`: modifiers first, in the order `Control`, `Alt`, `Meta`,
    /// `Shift`, joined by `+`), a scroll position (`X,Y` in CSS pixels: the window's when
    /// the action has no selectors, else the element's), a window size (`WIDTHxHEIGHT`), a
    /// navigated URL or script, when the action has one. Never the text typed into a
    /// password field: see `slot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// RFC 3339 wall-clock time.
    pub timestamp: String,
    /// Ways to find the target element again, best first, written as the DevTools Recorder
    /// writes them: `aria/Sign in[role="button"]`, plain CSS (`[data-testid="buy"]`, `#id`,
    /// `form > button:nth-of-type(1)`), `xpath///form/button[1]`, `text/Sign in`. An element
    /// inside shadow roots gets a chain as well, one CSS selector per tree from the document
    /// down, joined by ` >>> `: `#widget >>> button.press` is the `button.press` inside the
    /// open shadow root of `#widget` (the DevTools Recorder writes the same chain as an
    /// array of its parts). Selectors are relative to the document of `frame`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
    /// What the target element was, so replay can tell it found the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<ElementFingerprint>,
    /// Set when the typed value was withheld (a password field): the name of the input the
    /// replay must be given a value for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The page's URL when the action happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The iframes from the top document down to the document the action happened in,
    /// outermost first; empty for the top document (and in sessions recorded before frames
    /// were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frame: Vec<FrameHop>,
}

/// One iframe on the way from the top document to an action's document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FrameHop {
    /// Ways to find the `<iframe>` element in its parent document, best first, in the
    /// notation of [`Action::selectors`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
    /// The frame's index among its parent's child frames (`window.frames`), which is how the
    /// DevTools Recorder's `frame` path counts them.
    pub index: usize,
}

/// What identifies an element beyond a selector: replay checks the element a selector
/// finds against it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ElementFingerprint {
    /// Lower-case tag name.
    pub tag: String,
    /// The explicit or implicit ARIA role, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The accessible name (aria-label, label text, alt, or text content), trimmed and
    /// shortened to 80 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Image encodings a screenshot can be taken in.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
    #[default]
    Webp,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Webp => "webp",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// A screenshot: the encoded image and what it shows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Screenshot {
    pub format: ImageFormat,
    /// Why it was taken: `navigation`, `action`, `final`, ...
    pub reason: String,
    /// The page URL when it was taken.
    pub url: String,
    /// RFC 3339 wall-clock time.
    pub timestamp: String,
    pub width: u32,
    pub height: u32,
    /// The encoded image. Not serialised with the metadata; the store keeps it as a blob.
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// The browser a session was recorded in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BrowserInfo {
    pub user_agent: String,
    #[serde(default)]
    pub product: String,
    pub viewport: Viewport,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            width: 1280,
            height: 720,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_stored_before_frames_loads_and_a_top_frame_action_writes_no_frame() {
        let old =
            r##"{"kind": "click", "target": "#go", "timestamp": "2024-05-14T09:21:00.000Z"}"##;
        let action: Action = serde_json::from_str(old).unwrap();
        assert!(action.frame.is_empty());
        assert!(!serde_json::to_string(&action).unwrap().contains("frame"));

        let framed = Action {
            frame: vec![FrameHop {
                selectors: vec!["#inner-frame".into()],
                index: 0,
            }],
            ..action
        };
        let text = serde_json::to_string(&framed).unwrap();
        assert!(
            text.contains(r##""frame":[{"selectors":["#inner-frame"],"index":0}]"##),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Action>(&text).unwrap(), framed);
    }
}
