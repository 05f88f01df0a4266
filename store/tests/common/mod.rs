//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use serde_json::{Value, json};
use spool_store::har::{self, Entry, Header, Page};
use spool_store::{
    Action, BrowserInfo, CaptureLevel, ConsoleEntry, ConsoleLevel, ConsoleSource, ImageFormat,
    NewSession, Screenshot, Viewport,
};
use std::path::{Path, PathBuf};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn new_session(task: &str) -> NewSession {
    NewSession {
        id: None,
        task_description: task.to_string(),
        capture_level: CaptureLevel::Full,
        browser: BrowserInfo {
            user_agent: "Mozilla/5.0 HeadlessChrome/124.0".into(),
            product: "HeadlessChrome/124.0.6367.0".into(),
            viewport: Viewport {
                width: 1280,
                height: 720,
            },
        },
        start_url: Some("http://127.0.0.1:8080/".into()),
    }
}

/// A plausible API entry numbered `i`, with a custom field, a JSON body and a secret.
pub fn entry(i: usize) -> Entry {
    let body = json!({"items": (0..3).map(|k| json!({"id": i * 10 + k, "name": format!("item {k}")})).collect::<Vec<_>>(), "page": i});
    let mut e = Entry {
        pageref: Some("page_1".into()),
        started_date_time: format!("2024-05-14T09:21:{:02}.{:03}Z", (i / 1000) % 60, i % 1000),
        time: 12.5 + i as f64,
        request: har::Request {
            method: if i.is_multiple_of(3) { "POST" } else { "GET" }.into(),
            url: format!("http://127.0.0.1:8080/api/items?page={i}&q=x"),
            http_version: "HTTP/1.1".into(),
            headers: vec![
                Header::new("Accept", "application/json"),
                Header::new("Authorization", format!("Bearer tok-{i}")),
            ],
            query_string: vec![
                har::QueryParam {
                    name: "page".into(),
                    value: i.to_string(),
                    ..Default::default()
                },
                har::QueryParam {
                    name: "q".into(),
                    value: "x".into(),
                    ..Default::default()
                },
            ],
            post_data: i.is_multiple_of(3).then(|| har::PostData {
                mime_type: "application/json".into(),
                text: Some(format!("{{\"n\":{i}}}")),
                ..Default::default()
            }),
            headers_size: -1,
            body_size: -1,
            ..Default::default()
        },
        response: har::Response {
            status: 200,
            status_text: "OK".into(),
            http_version: "HTTP/1.1".into(),
            headers: vec![Header::new("Content-Type", "application/json")],
            content: har::Content {
                size: body.to_string().len() as i64,
                mime_type: "application/json".into(),
                text: Some(body.to_string()),
                ..Default::default()
            },
            headers_size: -1,
            body_size: -1,
            ..Default::default()
        },
        ..Default::default()
    };
    e.custom.insert("_resourceType".into(), json!("fetch"));
    e.custom.insert("_transferSize".into(), json!(300 + i));
    e
}

pub fn page(id: &str, on_load: f64) -> Page {
    Page {
        started_date_time: "2024-05-14T09:21:00.000Z".into(),
        id: id.into(),
        title: format!("Page {id}"),
        page_timings: har::PageTimings {
            on_content_load: on_load / 2.0,
            on_load,
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn console(i: usize) -> ConsoleEntry {
    ConsoleEntry {
        level: if i.is_multiple_of(4) {
            ConsoleLevel::Error
        } else {
            ConsoleLevel::Log
        },
        source: ConsoleSource::ConsoleApi,
        text: format!("message {i}"),
        url: Some("http://127.0.0.1:8080/app.js".into()),
        line: Some(i as i64),
        timestamp: "2024-05-14T09:21:00.000Z".into(),
        stack: vec![],
    }
}

pub fn action(i: usize) -> Action {
    Action {
        kind: "click".into(),
        target: Some(format!("#button-{i}")),
        value: None,
        timestamp: "2024-05-14T09:21:00.000Z".into(),
        ..Action::default()
    }
}

pub fn screenshot(i: usize) -> Screenshot {
    Screenshot {
        format: ImageFormat::Png,
        reason: "action".into(),
        url: "http://127.0.0.1:8080/".into(),
        timestamp: "2024-05-14T09:21:00.000Z".into(),
        width: 1280,
        height: 720,
        data: (0..2048u32)
            .map(|k| (k.wrapping_mul(2654435761).wrapping_add(i as u32) >> 13) as u8)
            .collect(),
    }
}

/// Whether every member of `want` is in `got` with an equal value (numbers compared as f64;
/// a `null` timing may have become -1 or 0). Returns the first difference.
pub fn json_subset(want: &Value, got: &Value, path: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => json_subset(wv, gv, &p)?,
                    None if wv.is_null() => {}
                    None => return Err(format!("{p} missing")),
                }
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!("{path}: {} items, got {}", w.len(), g.len()));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                json_subset(wv, gv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => Ok(()),
        (Value::Null, Value::Number(g)) if g.as_f64() == Some(-1.0) || g.as_f64() == Some(0.0) => {
            Ok(())
        }
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("{path}: want {w}, got {g}")),
    }
}
