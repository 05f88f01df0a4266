//! `spool record` as a person runs it: the recording opens the fixture's polling page in
//! headless Chromium, the person presses Ctrl-C (SIGINT here), and the session is stored
//! COMPLETED with what the page did; no Chromium outlives it. Bad input names its field
//! before any browser starts.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

mod common;
use common::fails;
#[path = "common/processes.rs"]
mod processes;

use serde_json::Value;
use spool_fixtures::FixtureServer;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const SPOOL: &str = env!("CARGO_BIN_EXE_spool");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_stops_on_ctrl_c_and_is_stored() {
    let app = FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let marker = format!("spool-record-{}", uuid::Uuid::new_v4());
    let mut child = Command::new(SPOOL)
        .arg("--data")
        .arg(data.path())
        .args([
            "record",
            "--url",
            &app.url("/poll/"),
            "--task",
            "watch the job finish",
            "--json",
        ])
        .env("SPOOL_TEST_MARKER", &marker)
        .env_remove("SPOOL_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Give the page time to poll its job to the end, as a person would watch it.
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    // SAFETY: a signal to the recording process this test started.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT)
    };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = reader.join().unwrap().join("\n");
    processes::assert_no_marked_processes(&marker);
    assert!(out.status.success(), "{stderr}");
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(meta["status"], "COMPLETED", "{meta:#}");
    assert_eq!(meta["taskDescription"], "watch the job finish");
    assert!(
        meta["networkEventCount"].as_u64().unwrap() >= 4,
        "the page and its polls: {meta:#}"
    );
    assert!(meta["screenshotCount"].as_u64().unwrap() >= 1, "{meta:#}");
    // The stored session is there for the next command.
    let id = meta["sessionId"].as_str().unwrap();
    let shown = Command::new(SPOOL)
        .arg("--data")
        .arg(data.path())
        .args(["sessions", "show", id])
        .env_remove("SPOOL_DATA")
        .output()
        .unwrap();
    assert!(shown.status.success());
    assert!(String::from_utf8_lossy(&shown.stdout).contains("COMPLETED"));
}

#[test]
fn bad_record_input_names_its_field() {
    let data = tempfile::tempdir().unwrap();
    for (args, field) in [
        (vec!["--inactivity", "5"], "inactivity"),
        (vec!["--timeout-minutes", "200"], "timeoutMinutes"),
        (vec!["--url", "file:///etc/passwd"], "url"),
    ] {
        let mut all = vec!["record"];
        if !args.contains(&"--url") {
            all.extend(["--url", "http://127.0.0.1:9/"]);
        }
        all.extend(args.iter().copied());
        let out = Command::new(SPOOL)
            .arg("--data")
            .arg(data.path())
            .args(&all)
            .env_remove("SPOOL_DATA")
            .output()
            .unwrap();
        let message = fails(&out, 2, -32602, &all.join(" "));
        assert!(message.contains(field), "{message}");
    }
    let out = Command::new(SPOOL)
        .arg("--data")
        .arg(data.path())
        .args(["record", "--url", "http://127.0.0.1:9/", "--headed"])
        .env_remove("SPOOL_DATA")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let message = fails(&out, 2, -32602, "--headed without a display");
    assert!(message.contains("DISPLAY"), "{message}");
}
