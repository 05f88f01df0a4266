//! Chrome DevTools Recorder recordings (the `@puppeteer/replay` JSON schema: a `title` and
//! `steps`, each with a `type` and, for element steps, `selectors`) to and from Spool's
//! actions. Pure: no browser, no I/O.
//!
//! Spool writes selectors in the Recorder's notation already (`aria/…`, `xpath/…`,
//! `text/…`, plain CSS), so a selector crosses unchanged; a chain through shadow roots,
//! which Spool writes as one string joined by ` >>> `, is the Recorder's array of parts.
//! A step's `frame` (child-frame indices from the top frame) is the action's
//! [`FrameHop`] path, by index. Key actions are `keyDown`/`keyUp` pairs, modifiers pressed
//! first and released last. What does not cross:
//!
//! - **Import:** a step in another target (a popup) is refused, naming the step; a selector
//!   list of `pierce/` selectors only is refused too (Spool follows explicit chains, not a
//!   search through every shadow root). The first `setViewport`, when it comes before any
//!   other step, is the recording's viewport ([`ImportedRecording::viewport`], what a
//!   session records as the viewport it was made in); a later one is a `viewport` action.
//!   `waitForElement`, `waitForExpression`, `hover`, `emulateNetworkConditions`, `close`
//!   and `customStep` are left out and listed (Spool's replay waits for elements on its
//!   own). A `keyUp` is folded into its `keyDown`. Imported actions are 500 ms apart.
//! - **Export:** a password (never stored) becomes an empty `change` value unless its slot
//!   is given; a `submit` is left out, since it follows from the click or key before it;
//!   the click offset is the element's top-left corner plus one pixel, as no offset is
//!   recorded; a frame hop's selectors are left out (the Recorder names frames by index).

use crate::error::EngineError;
use serde::Serialize;
use serde_json::{Value, json};
use spool_model::session::{Action, FrameHop, Viewport};
use std::collections::BTreeMap;

/// Actions made from a DevTools recording, and the steps that were left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedRecording {
    pub title: String,
    pub actions: Vec<Action>,
    /// The viewport a `setViewport` before every other step set: the one the recording
    /// was made in.
    pub viewport: Option<Viewport>,
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
    let mut viewport = None;
    // Modifier keys pressed and not yet released, in the order they went down.
    let mut held: Vec<String> = Vec::new();
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
        let frame = match &step["frame"] {
            Value::Null => Vec::new(),
            Value::Array(indices) => indices
                .iter()
                .map(|i| {
                    i.as_u64()
                        .and_then(|i| usize::try_from(i).ok())
                        .map(|index| FrameHop {
                            selectors: Vec::new(),
                            index,
                        })
                        .ok_or_else(|| {
                            invalid(field("frame"), "a frame path is an array of frame indices")
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(invalid(
                    field("frame"),
                    "a frame path is an array of frame indices",
                ));
            }
        };
        let at = start
            .checked_add(jiff::SignedDuration::from_millis(
                500 * actions.len() as i64,
            ))
            .unwrap_or(start)
            .to_string();
        let mut action = Action {
            timestamp: at,
            frame,
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
                if MODIFIERS.contains(&key) {
                    if !held.iter().any(|h| h == key) {
                        held.push(key.to_string());
                    }
                    continue;
                }
                // A key goes to the focused element: the one the step before acted on.
                let Some(focused) = actions.iter().rev().find(|a| !a.selectors.is_empty()) else {
                    skipped.push(format!(
                        "step {i}: keyDown {key} (no element has focus yet)"
                    ));
                    continue;
                };
                action.kind = "key".into();
                action.value = Some(chord(&held, key));
                action.selectors = focused.selectors.clone();
                action.target = focused.target.clone();
                action.frame = focused.frame.clone();
            }
            "keyUp" => {
                if let Some(key) = step["key"].as_str() {
                    held.retain(|h| h != key);
                }
                continue;
            }
            "scroll" => {
                let coordinate = |name: &str| match &step[name] {
                    Value::Null => Ok(0.0),
                    v => v.as_f64().ok_or_else(|| {
                        invalid(field(name), "a scroll step's coordinates are numbers")
                    }),
                };
                let (x, y) = (coordinate("x")?, coordinate("y")?);
                action.kind = "scroll".into();
                action.value = Some(format!("{},{}", x.round(), y.round()));
                if !step["selectors"].is_null() {
                    action.selectors = selectors(step, i)?;
                    action.target = action.selectors.iter().find(|s| is_css(s)).cloned();
                }
            }
            "setViewport" => {
                let size = |name: &str| {
                    step[name]
                        .as_u64()
                        .and_then(|v| u32::try_from(v).ok())
                        .filter(|v| *v > 0)
                        .ok_or_else(|| {
                            invalid(field(name), "a setViewport step has a positive size")
                        })
                };
                let (width, height) = (size("width")?, size("height")?);
                if i == 0 {
                    viewport = Some(Viewport { width, height });
                    continue;
                }
                action.kind = "viewport".into();
                action.value = Some(format!("{width}x{height}"));
            }
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
        viewport,
        skipped,
    })
}

/// The modifier keys as the Recorder (and the DOM) names them, in the order Spool writes
/// them in a key action's value.
const MODIFIERS: [&str; 4] = ["Control", "Alt", "Meta", "Shift"];

/// `key` with the `held` modifiers, as a key action's value: `Control+a`.
fn chord(held: &[String], key: &str) -> String {
    let mut parts: Vec<&str> = MODIFIERS
        .iter()
        .copied()
        .filter(|m| held.iter().any(|h| h == m))
        .collect();
    parts.push(key);
    parts.join("+")
}

/// A key action's value split into its modifiers (`Control`, `Alt`, `Meta`, `Shift`) and
/// its key (`Control++` is Control and `+`). Action replay reads key values with it too.
pub(crate) fn split_chord(value: &str) -> (Vec<&str>, &str) {
    let mut modifiers = Vec::new();
    let mut rest = value;
    while let Some((name, after)) = rest.split_once('+') {
        if after.is_empty() || !MODIFIERS.contains(&name) {
            break;
        }
        modifiers.push(name);
        rest = after;
    }
    (modifiers, rest)
}

/// One Spool selector as a Recorder selector: an array of parts, more than one for a chain
/// through shadow roots.
fn recorder_selector(selector: &str) -> Value {
    json!(selector.split(" >>> ").collect::<Vec<_>>())
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
            .map(|s| recorder_selector(&s))
            .collect();
        let frame: Vec<usize> = action.frame.iter().map(|hop| hop.index).collect();
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
                let Some(value) = &action.value else { continue };
                let (modifiers, key) = split_chord(value);
                let downs = modifiers.iter().copied().chain([key]);
                let ups = std::iter::once(key).chain(modifiers.iter().rev().copied());
                for (kind, key) in downs
                    .map(|k| ("keyDown", k))
                    .chain(ups.map(|k| ("keyUp", k)))
                {
                    steps.push(with_frame(
                        json!({ "type": kind, "target": "main", "key": key }),
                        &frame,
                    ));
                }
                continue;
            }
            "scroll" => {
                let Some((x, y)) = action.value.as_deref().and_then(|v| v.split_once(',')) else {
                    continue;
                };
                let (Ok(x), Ok(y)) = (x.trim().parse::<f64>(), y.trim().parse::<f64>()) else {
                    continue;
                };
                let mut step = json!({ "type": "scroll", "target": "main", "x": x, "y": y });
                if !selectors.is_empty() {
                    step["selectors"] = json!(selectors);
                }
                step
            }
            "viewport" => {
                let Some((w, h)) = action.value.as_deref().and_then(|v| v.split_once('x')) else {
                    continue;
                };
                let (Ok(width), Ok(height)) = (w.trim().parse::<u32>(), h.trim().parse::<u32>())
                else {
                    continue;
                };
                json!({
                    "type": "setViewport",
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "isMobile": false,
                    "hasTouch": false,
                    "isLandscape": width > height,
                })
            }
            _ => continue,
        };
        // A viewport is the page's, not a frame's.
        let step = if action.kind == "viewport" {
            step
        } else {
            with_frame(step, &frame)
        };
        steps.push(step);
    }
    json!({ "title": config.title, "steps": steps })
}

/// `step` with its `frame` path, when it is in an iframe.
fn with_frame(mut step: Value, frame: &[usize]) -> Value {
    if !frame.is_empty() {
        step["frame"] = json!(frame);
    }
    step
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

/// A step's selectors, each a string or an array of parts (a chain through shadow roots,
/// joined with ` >>> `).
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
            Value::Array(parts) if !parts.is_empty() => {
                let parts: Option<Vec<&str>> = parts.iter().map(Value::as_str).collect();
                parts.map(|p| p.join(" >>> "))
            }
            _ => {
                return Err(EngineError::invalid(
                    &field,
                    "a selector is a string or an array of strings",
                ));
            }
        };
        // `pierce/` searches every shadow root; Spool follows explicit chains only.
        if let Some(s) = one.filter(|s| !s.starts_with("pierce/")) {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(EngineError::invalid(
            &field,
            "every selector is a pierce/ search through shadow roots, which Spool's replay \
             does not do",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/recorder")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The actions as JSON without their timestamps, which import makes up.
    fn untimed(actions: &[Action]) -> Value {
        let mut all = serde_json::to_value(actions).unwrap_or_default();
        for action in all.as_array_mut().into_iter().flatten() {
            if let Some(fields) = action.as_object_mut() {
                fields.remove("timestamp");
            }
        }
        all
    }

    #[test]
    fn scrolls_viewports_modifier_keys_frames_and_shadow_chains_import() {
        let imported = import(&fixture("widgets.devtools.json")).unwrap();
        assert_eq!(
            untimed(&imported.actions),
            fixture("widgets.actions.json"),
            "{:#?}",
            imported.actions
        );
        assert_eq!(
            imported.viewport,
            Some(Viewport {
                width: 1280,
                height: 720
            })
        );
        assert_eq!(
            imported.skipped,
            vec!["step 14: waitForElement (not replayed by Spool)".to_string()]
        );
    }

    #[test]
    fn the_new_steps_export_as_the_recorder_writes_them_and_import_back() {
        let imported = import(&fixture("widgets.devtools.json")).unwrap();
        let exported = export(
            &imported.actions,
            &ExportConfig {
                title: imported.title.clone(),
                viewport: imported.viewport,
                ..ExportConfig::default()
            },
        );
        let steps = exported["steps"].as_array().unwrap();
        let types: Vec<&str> = steps.iter().filter_map(|s| s["type"].as_str()).collect();
        assert_eq!(
            types,
            [
                "setViewport",
                "navigate",
                "click",
                "keyDown",
                "keyUp",
                "keyDown",
                "keyDown",
                "keyUp",
                "keyUp",
                "click",
                "click",
                "scroll",
                "setViewport",
                "scroll",
            ]
        );
        let keys: Vec<&str> = steps[3..9]
            .iter()
            .filter_map(|s| s["key"].as_str())
            .collect();
        assert_eq!(
            keys,
            ["ArrowDown", "ArrowDown", "Control", "a", "a", "Control"]
        );
        assert_eq!(
            steps[9]["selectors"],
            json!([
                ["aria/Shadow press[role=\"button\"]"],
                ["#widget", "button.press"]
            ])
        );
        assert_eq!(steps[10]["frame"], json!([0]));
        assert_eq!(steps[11]["selectors"], json!([["#list"]]));
        assert_eq!(
            (steps[11]["x"].as_f64(), steps[11]["y"].as_f64()),
            (Some(0.0), Some(240.0))
        );
        assert_eq!(
            (&steps[12]["width"], &steps[12]["height"]),
            (&json!(900), &json!(700))
        );
        assert!(steps[13].get("selectors").is_none(), "{:#}", steps[13]);
        assert!(steps[13].get("frame").is_none(), "{:#}", steps[13]);

        let back = import(&exported).unwrap();
        assert_eq!(untimed(&back.actions), untimed(&imported.actions));
        assert_eq!(back.viewport, imported.viewport);
        assert!(back.skipped.is_empty(), "{:?}", back.skipped);
    }

    #[test]
    fn a_popup_step_and_a_pierce_only_selector_are_refused_by_name() {
        let field = |recording: Value| match import(&recording) {
            Err(EngineError::InvalidParams { field, .. }) => field,
            other => panic!("expected InvalidParams, got {other:?}"),
        };
        assert_eq!(
            field(json!({ "title": "t", "steps": [
                { "type": "click", "target": "http://127.0.0.1/popup", "selectors": ["#x"], "offsetX": 1, "offsetY": 1 }
            ] })),
            "steps[0].target"
        );
        assert_eq!(
            field(json!({ "title": "t", "steps": [
                { "type": "click", "selectors": [["pierce/#x"]], "offsetX": 1, "offsetY": 1 }
            ] })),
            "steps[0].selectors"
        );
        assert_eq!(
            field(json!({ "title": "t", "steps": [
                { "type": "click", "frame": ["first"], "selectors": ["#x"], "offsetX": 1, "offsetY": 1 }
            ] })),
            "steps[0].frame"
        );
        assert_eq!(
            field(json!({ "title": "t", "steps": [{ "type": "scroll", "y": "down" }] })),
            "steps[0].y"
        );
    }
}
