//! DevTools Recorder interchange as a user runs it: a recording written by hand following
//! the `@puppeteer/replay` schema (fixtures/recorder/) is imported and replayed against the
//! fixture app; a session recorded by Spool in real headless Chromium is exported, the
//! export passes `@puppeteer/replay`'s own parser (installed by scripts/setup.sh), and it
//! imports and replays back in Spool. Every `spool` run closes its own browser; the
//! recording pool is shut down before anything is checked.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

mod common;
use common::{fails, spool_async as spool};
#[path = "common/recording.rs"]
mod recording;

use spool_engine::{BrowserPool, BrowserSource, LaunchConfig, PoolConfig};
use spool_fixtures::FixtureServer;
use spool_store::Store;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path)
}

/// The session id `spool actions import` printed.
fn imported_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .split_whitespace()
        .find(|w| w.len() == 36 && w.chars().filter(|c| *c == '-').count() == 4)
        .unwrap_or_else(|| panic!("no session id in: {stdout}"))
        .to_string()
}

/// `node devtools_validate.js FILE` with `@puppeteer/replay` from setup.sh's directory.
fn validate_with_puppeteer_replay(file: &Path) -> Output {
    let modules =
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/spool-node/node_modules");
    assert!(
        modules.join("@puppeteer/replay").exists(),
        "@puppeteer/replay is not installed in {}: run scripts/setup.sh",
        modules.display()
    );
    Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/devtools_validate.js"))
        .arg(file)
        .env("NODE_PATH", modules)
        .output()
        .expect("node runs")
}

/// Replays session `id` against `app` (its first navigation pointed at the app) and waits
/// for the order.
async fn replay_orders(data: &Path, id: &str, app: &FixtureServer) -> Output {
    let start = format!("action-0.value={}", app.url("/shop/"));
    let out = spool(
        data,
        &[
            "replay",
            id,
            "--actions",
            "--speed",
            "5",
            "--override",
            &start,
        ],
    )
    .await;
    for _ in 0..30 {
        if !app.orders().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devtools_recording_imports_and_replays() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let file = fixture("recorder/shop.devtools.json");
    let valid = validate_with_puppeteer_replay(&file);
    assert!(
        valid.status.success(),
        "the fixture follows the schema: {}",
        text(&valid)
    );
    // The engine's unit tests import this one: it must be what the Recorder reads too.
    let widgets = validate_with_puppeteer_replay(&fixture("recorder/widgets.devtools.json"));
    assert!(
        widgets.status.success(),
        "the fixture follows the schema: {}",
        text(&widgets)
    );

    let out = spool(dir, &["actions", "import", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    // The leading setViewport is the session's viewport, not a step left out.
    assert!(!printed.contains("setViewport"), "{printed}");
    assert!(printed.contains("waitForElement"), "{printed}");
    let id = imported_id(&out);
    let out = spool(dir, &["sessions", "show", &id, "--json"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 1024 x 768, not the default 1280 x 720 an import without a setViewport gets.
    assert_eq!(
        shown["browserInfo"]["viewport"],
        serde_json::json!({ "width": 1024, "height": 768 }),
        "{shown:#}"
    );

    let app = FixtureServer::start().await.unwrap();
    let out = replay_orders(dir, &id, &app).await;
    assert!(out.status.success(), "{}", text(&out));
    let orders = app.orders();
    assert_eq!(orders.len(), 1, "{}", text(&out));
    assert_eq!(orders[0]["username"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_session_exports_as_a_valid_devtools_recording_that_replays_back() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let app = FixtureServer::start().await.unwrap();
    let shop = recording::record_shop(&pool, &app).await;
    pool.shutdown().await;
    let id = {
        let store = Store::open(dir).unwrap();
        recording::store_capture(&store, "shop order", app.url("/shop/"), &shop).to_string()
    };
    drop(app);

    // Without the password the export warns that it types an empty value.
    let out = spool(dir, &["actions", "export", &id]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--input password=VALUE"),
        "{}",
        text(&out)
    );

    let exported = dir.join("shop.json");
    let out = spool(
        dir,
        &[
            "actions",
            "export",
            &id,
            "--input",
            "password=wonderland",
            "--out",
            exported.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let valid = validate_with_puppeteer_replay(&exported);
    assert!(valid.status.success(), "{}", text(&valid));
    let recording: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    let types: Vec<&str> = recording["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "setViewport", "{types:?}");
    assert!(
        types.contains(&"navigate") && types.contains(&"change"),
        "{types:?}"
    );
    assert!(
        recording["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["type"] == "click" && s["selectors"].to_string().contains("#login-button")),
        "{recording:#}"
    );

    let out = spool(dir, &["actions", "import", exported.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out));
    let back = imported_id(&out);
    let app = FixtureServer::start().await.unwrap();
    let out = replay_orders(dir, &back, &app).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(app.orders().len(), 1, "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_recordings_get_coded_errors_naming_the_step() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let cases = [
        ("not json", "{", "file"),
        ("no title", r#"{"steps": []}"#, "title"),
        (
            "only pierce/ searches",
            r##"{"title": "t", "steps": [{"type": "click", "selectors": [["pierce/#x"]], "offsetX": 1, "offsetY": 1}]}"##,
            "steps[0].selectors",
        ),
        (
            "another target",
            r##"{"title": "t", "steps": [{"type": "click", "target": "http://127.0.0.1/popup", "selectors": ["#x"], "offsetX": 1, "offsetY": 1}]}"##,
            "steps[0].target",
        ),
        (
            "a frame path that is not indices",
            r##"{"title": "t", "steps": [{"type": "click", "frame": ["first"], "selectors": ["#x"], "offsetX": 1, "offsetY": 1}]}"##,
            "steps[0].frame",
        ),
        (
            "nothing to replay: the viewport it was made in and a wait",
            r##"{"title": "t", "steps": [{"type": "setViewport", "width": 1, "height": 1, "deviceScaleFactor": 1, "isMobile": false, "hasTouch": false, "isLandscape": false}, {"type": "waitForElement", "selectors": ["#x"]}]}"##,
            "steps",
        ),
    ];
    for (what, json, field) in cases {
        let file = dir.join("bad.json");
        std::fs::write(&file, json).unwrap();
        let out = spool(dir, &["actions", "import", file.to_str().unwrap()]).await;
        let message = fails(&out, 2, -32602, what);
        assert!(message.contains(field), "{what}: {message}");
    }
    let out = spool(
        dir,
        &["actions", "export", "00000000-0000-4000-8000-000000000000"],
    )
    .await;
    fails(&out, 5, -32004, "an unknown session");
}
