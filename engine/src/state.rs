//! Browser state applied before the first navigation: cookies, localStorage and
//! sessionStorage.
//!
//! Storage belongs to an origin, and a page can only write its own origin's storage, so for
//! each origin Spool navigates the tab to a placeholder URL of that origin, answers the
//! request itself through `Fetch` (nothing reaches the site), writes the items, and only then
//! starts recording. sessionStorage survives because the tab stays the same.

use crate::cdp::{CdpEvent, Connection};
use crate::error::EngineError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

/// State to apply, in the shape of the spec's `browserState`. `localStorage` and
/// `sessionStorage` map keys to values for the target URL's origin, or, when the values are
/// objects, origins (`http://host:port`) to such maps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BrowserState {
    #[serde(default)]
    pub cookies: Vec<StateCookie>,
    #[serde(default)]
    pub local_storage: BTreeMap<String, Value>,
    #[serde(default)]
    pub session_storage: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StateCookie {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
}

impl BrowserState {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty() && self.local_storage.is_empty() && self.session_storage.is_empty()
    }

    /// Reads a state file (JSON), naming what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<BrowserState, EngineError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            EngineError::invalid(&format!("state.{}", e.path()), e.inner().to_string())
        })
    }

    /// Storage items per origin, with flat maps assigned to `default_origin`.
    fn storage_by_origin(
        map: &BTreeMap<String, Value>,
        default_origin: &str,
        field: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, EngineError> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (key, value) in map {
            match value {
                Value::Object(items) => {
                    let origin = origin_of(key).ok_or_else(|| {
                        EngineError::invalid(
                            &format!("{field}.{key}"),
                            "an object value must be keyed by an origin like http://host:port",
                        )
                    })?;
                    let slot = out.entry(origin).or_default();
                    for (k, v) in items {
                        slot.insert(k.clone(), value_text(v));
                    }
                }
                other => {
                    out.entry(default_origin.to_string())
                        .or_default()
                        .insert(key.clone(), value_text(other));
                }
            }
        }
        Ok(out)
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `http://host:port/path` → `http://host:port`.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        url::Origin::Tuple(..) => Some(parsed.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Applies the state in the tab of `session`, before recording starts. Events that arrive
/// meanwhile belong to no recording and are dropped.
pub(crate) async fn apply(
    conn: &Connection,
    session: &str,
    events: &mut Receiver<CdpEvent>,
    state: &BrowserState,
    target_url: &str,
) -> Result<(), EngineError> {
    let default_origin =
        origin_of(target_url).ok_or_else(|| EngineError::invalid("url", "has no origin"))?;
    if !state.cookies.is_empty() {
        let cookies: Vec<Value> = state
            .cookies
            .iter()
            .map(|c| {
                let mut v = json!({ "name": c.name, "value": c.value, "path": c.path.clone().unwrap_or_else(|| "/".into()) });
                match (&c.domain, &c.url) {
                    (_, Some(url)) => v["url"] = json!(url),
                    (Some(domain), None) => v["domain"] = json!(domain),
                    (None, None) => v["url"] = json!(target_url),
                }
                if let Some(s) = c.secure {
                    v["secure"] = json!(s);
                }
                if let Some(h) = c.http_only {
                    v["httpOnly"] = json!(h);
                }
                v
            })
            .collect();
        conn.execute_raw(
            Some(session),
            "Network.setCookies",
            json!({ "cookies": cookies }),
        )
        .await?;
    }
    let local =
        BrowserState::storage_by_origin(&state.local_storage, &default_origin, "localStorage")?;
    let sessions =
        BrowserState::storage_by_origin(&state.session_storage, &default_origin, "sessionStorage")?;
    let mut origins: Vec<&String> = local.keys().chain(sessions.keys()).collect();
    origins.sort();
    origins.dedup();
    if origins.is_empty() {
        return Ok(());
    }
    conn.execute_raw(
        Some(session),
        "Fetch.enable",
        json!({ "patterns": [{ "urlPattern": "*/__spool_state__*" }] }),
    )
    .await?;
    for origin in origins {
        let placeholder = format!("{origin}/__spool_state__");
        let navigate = conn.execute_raw(
            Some(session),
            "Page.navigate",
            json!({ "url": placeholder }),
        );
        let fulfil = async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let event = tokio::time::timeout_at(deadline, events.recv())
                    .await
                    .map_err(|_| EngineError::NetworkCaptureFailed(format!(
                        "the placeholder page of {origin} was never requested while applying browser state"
                    )))?
                    .ok_or(EngineError::Cdp(crate::cdp::CdpError::Closed))?;
                if event.method == "Fetch.requestPaused"
                    && event.session_id.as_deref() == Some(session)
                {
                    let id = event.params["requestId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let body = base64::engine::general_purpose::STANDARD
                        .encode("<!doctype html><title>spool state</title>");
                    conn.execute_raw(
                        Some(session),
                        "Fetch.fulfillRequest",
                        json!({
                            "requestId": id,
                            "responseCode": 200,
                            "responseHeaders": [{ "name": "Content-Type", "value": "text/html" }],
                            "body": body,
                        }),
                    )
                    .await?;
                    return Ok::<(), EngineError>(());
                }
            }
        };
        let (navigated, fulfilled) = tokio::join!(navigate, fulfil);
        fulfilled?;
        navigated?;
        let script = format!(
            "(() => {{ const l = {}; const s = {}; for (const [k, v] of Object.entries(l)) localStorage.setItem(k, v); for (const [k, v] of Object.entries(s)) sessionStorage.setItem(k, v); return true; }})()",
            serde_json::to_string(&local.get(origin).cloned().unwrap_or_default())
                .expect("a map of strings always serializes"),
            serde_json::to_string(&sessions.get(origin).cloned().unwrap_or_default())
                .expect("a map of strings always serializes"),
        );
        let result = conn
            .execute_raw(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": script, "returnByValue": true }),
            )
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            return Err(EngineError::NetworkCaptureFailed(format!(
                "could not write storage for {origin}: {details}"
            )));
        }
    }
    // Leave the last placeholder page: once recording starts, its document could still
    // fetch things of its own (a favicon) that would end up in the recording.
    conn.execute_raw(
        Some(session),
        "Page.navigate",
        json!({ "url": "about:blank" }),
    )
    .await?;
    conn.execute_raw(Some(session), "Fetch.disable", json!({}))
        .await?;
    // Drop whatever the placeholder pages produced.
    while events.try_recv().is_ok() {}
    Ok(())
}
