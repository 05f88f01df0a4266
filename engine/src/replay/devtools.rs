//! Chrome DevTools Recorder recordings (the `@puppeteer/replay` JSON schema: a `title` and
//! `steps`, each with a `type` and, for element steps, `selectors`) to and from Spool's
//! actions. Pure: no browser, no I/O.
//!
//! Spool writes selectors in the Recorder's notation already (`aria/…`, `xpath/…`,
//! `text/…`, plain CSS), so a selector crosses unchanged. What does not cross:
//!
//! - **Import:** a selector that is a chain (an array of more than one part: through
//!   iframes or shadow roots) and a step in another frame or target are refused, naming
//!   the step, since Spool's replay does not enter frames or shadow roots; `setViewport`,
//!   `waitForElement`, `waitForExpression`, `hover`, `scroll`, `emulateNetworkConditions`,
//!   `close` and `customStep` are left out and listed (Spool's replay waits for elements on
//!   its own). `keyUp` is folded into its `keyDown`. Imported actions are 500 ms apart.
//! - **Export:** a password (never stored) becomes an empty `change` value unless its slot
//!   is given; a `submit` is left out, since it follows from the click or key before it;
//!   the click offset is the element's top-left corner plus one pixel, as no offset is
//!   recorded.

use crate::error::EngineError;
use serde::Serialize;
use serde_json::{Value, json};
use spool_model::session::{Action, Viewport};
use std::collections::BTreeMap;

/// Actions made from a DevTools recording, and the steps that were left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedRecording {
    pub title: String,
    pub actions: Vec<Action>,
    /// `step N: TYPE (why)` for every step not turned into an action.
    pub skipped: Vec<String>,
}

/// Reads a DevTools Recorder recording into actions, naming the step that cannot be read.
pub fn import(recording: &Value) -> Result<ImportedRecording, EngineError> {
    let invalid = |field: String, rule: &str| EngineError::invalid(&field, rule);
    let title = recording["title"]
        .as_str()
        .ok_or_else(|| invalid("title".into(), "a DevTools recording has a string title"))?
        .to_string();
    let steps = recording["steps"]
        .as_array()
        .ok_or_else(|| invalid("steps".into(), "a DevTools recording has a steps array"))?;
    let start = jiff::Timestamp::now();
    let mut actions: Vec<Action> = Vec::new();
    let mut skipped = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let field = |name: &str| format!("steps[{i}].{name}");
        let kind = step["type"]
            .as_str()
            .ok_or_else(|| invalid(field("type"), "every step has a string type"))?;
        if step["target"].as_str().is_some_and(|t| t != "main") {
            return Err(invalid(
                field("target"),
                "only steps on the main page replay (popups and other targets do not)",
            ));
        }
        if step["frame"].as_array().is_some_and(|f| !f.is_empty()) {
            return Err(invalid(
                field("frame"),
                "only steps in the top frame replay (Spool's replay does not enter iframes)",
            ));
        }
        let at = start
            .checked_add(jiff::SignedDuration::from_millis(
                500 * actions.len() as i64,
            ))
            .unwrap_or(start)
            .to_string();
        let mut action = Action {
            timestamp: at,
            ..Action::default()
        };
        match kind {
            "navigate" => {
                let url = step["url"]
                    .as_str()
                    .ok_or_else(|| invalid(field("url"), "a navigate step has a url"))?;
                action.kind = "navigate".into();
                action.value = Some(url.to_string());
                action.url = Some(url.to_string());
            }
            "click" | "doubleClick" | "change" => {
                action.selectors = selectors(step, i)?;
                action.target = action
                    .selectors
                    .iter()
                    .find(|s| is_css(s))
                    .or_else(|| action.selectors.first())
                    .cloned();
                action.kind = match kind {
                    "click" => "click",
                    "doubleClick" => "dblclick",
                    _ => "type",
                }
                .into();
                if kind == "change" {
                    let value = step["value"]
                        .as_str()
                        .ok_or_else(|| invalid(field("value"), "a change step has a value"))?;
                    action.value = Some(value.to_string());
                }
            }
            "keyDown" => {
                let key = step["key"]
                    .as_str()
                    .ok_or_else(|| invalid(field("key"), "a keyDown step has a key"))?;
                // A key goes to the focused element: the one the step before acted on.
                let Some(focused) = actions.iter().rev().find(|a| !a.selectors.is_empty()) else {
                    skipped.push(format!(
                        "step {i}: keyDown {key} (no element has focus yet)"
                    ));
                    continue;
                };
                action.kind = "key".into();
                action.value = Some(key.to_string());
                action.selectors = focused.selectors.clone();
                action.target = focused.target.clone();
            }
            "keyUp" => continue,
            other => {
                skipped.push(format!("step {i}: {other} (not replayed by Spool)"));
                continue;
            }
        }
        actions.push(action);
    }
    Ok(ImportedRecording {
        title,
        actions,
        skipped,
    })
}

/// How [`export`] writes a recording.
#[derive(Debug, Clone, Default)]
pub struct ExportConfig {
    pub title: String,
    /// The viewport the session was recorded in: the first step sets it.
    pub viewport: Option<Viewport>,
    /// Values for withheld input slots (a password field's name); others export empty.
    pub inputs: BTreeMap<String, String>,
}

/// Writes `actions` as a DevTools Recorder recording.
pub fn export(actions: &[Action], config: &ExportConfig) -> Value {
    let mut steps = Vec::new();
    if let Some(v) = &config.viewport {
        steps.push(json!({
            "type": "setViewport",
            "width": v.width,
            "height": v.height,
            "deviceScaleFactor": 1,
            "isMobile": false,
            "hasTouch": false,
            "isLandscape": false,
        }));
    }
    for action in actions {
        let selectors: Vec<Value> = action
            .selectors
            .iter()
            .cloned()
            .chain(
                action
                    .target
                    .clone()
                    .filter(|_| action.selectors.is_empty()),
            )
            .map(|s| json!([s]))
            .collect();
        let step = match action.kind.as_str() {
            "navigate" => {
                let Some(url) = &action.value else { continue };
                json!({
                    "type": "navigate",
                    "url": url,
                    "assertedEvents": [{ "type": "navigation", "url": url, "title": "" }],
                })
            }
            "click" | "dblclick" if !selectors.is_empty() => json!({
                "type": if action.kind == "click" { "click" } else { "doubleClick" },
                "target": "main",
                "selectors": selectors,
                "offsetX": 1,
                "offsetY": 1,
            }),
            "type" | "select" if !selectors.is_empty() => {
                let value = match (&action.value, &action.slot) {
                    (Some(v), _) => v.clone(),
                    (None, Some(slot)) => config.inputs.get(slot).cloned().unwrap_or_default(),
                    (None, None) => String::new(),
                };
                json!({
                    "type": "change",
                    "target": "main",
                    "selectors": selectors,
                    "value": value,
                })
            }
            "key" => {
                let Some(key) = &action.value else { continue };
                steps.push(json!({ "type": "keyDown", "target": "main", "key": key }));
                json!({ "type": "keyUp", "target": "main", "key": key })
            }
            _ => continue,
        };
        steps.push(step);
    }
    json!({ "title": config.title, "steps": steps })
}

/// The slots `export` had no value for, so a caller can warn that the recording types an
/// empty password.
pub fn missing_inputs(actions: &[Action], inputs: &BTreeMap<String, String>) -> Vec<String> {
    let mut missing: Vec<String> = actions
        .iter()
        .filter(|a| a.value.is_none())
        .filter_map(|a| a.slot.clone())
        .filter(|slot| !inputs.contains_key(slot))
        .collect();
    missing.dedup();
    missing
}

fn is_css(s: &str) -> bool {
    !(s.starts_with("aria/")
        || s.starts_with("xpath/")
        || s.starts_with("text/")
        || s.starts_with("pierce/"))
}

/// A step's selectors, each a string or a one-part array; a chain is refused.
fn selectors(step: &Value, i: usize) -> Result<Vec<String>, EngineError> {
    let field = format!("steps[{i}].selectors");
    let list = step["selectors"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| EngineError::invalid(&field, "an element step has selectors"))?;
    let mut out = Vec::new();
    for s in list {
        let one = match s {
            Value::String(s) => Some(s.clone()),
            Value::Array(parts) if parts.len() == 1 => parts[0].as_str().map(str::to_string),
            Value::Array(_) => None,
            _ => {
                return Err(EngineError::invalid(
                    &field,
                    "a selector is a string or an array of strings",
                ));
            }
        };
        // `pierce/` reaches into shadow roots, which Spool's replay does not.
        if let Some(s) = one.filter(|s| !s.starts_with("pierce/")) {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(EngineError::invalid(
            &field,
            "every selector is a chain through frames or shadow roots, which Spool's replay \
             does not follow",
        ));
    }
    Ok(out)
}
