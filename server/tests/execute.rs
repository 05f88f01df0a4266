//! `spool execute` as a user runs it: the shop recording run as plain HTTP against a fresh
//! fixture app with credentials the recording never saw, the JSON result, and the errors a
//! bad request gets (exit status and stable code).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use spool_fixtures::{FixtureConfig, FixtureServer};

fn shop_har() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/har/flows/shop.l3.har")
}

/// Runs the binary off the runtime's threads, so the fixture server keeps answering.
async fn spool(data: &Path, args: Vec<String>) -> Output {
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_spool"))
            .arg("--data")
            .arg(&data)
            .args(&args)
            .env_remove("SPOOL_DATA")
            .output()
            .expect("the spool binary runs")
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn execute_shop(base_url: &str, extra: &[&str]) -> Vec<String> {
    let mut a = args(&[
        "execute",
        "--task",
        "log in and order the first item",
        "--har",
    ]);
    a.push(shop_har().display().to_string());
    a.push("--input".into());
    a.push(format!("baseUrl={base_url}"));
    a.extend(args(extra));
    a
}

fn assert_fails(out: &Output, exit: i32, code: i32, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("error[{code}]")),
        "stderr: {stderr}"
    );
    for w in words {
        assert!(stderr.contains(w), "`{w}` not in: {stderr}");
    }
}

#[tokio::test]
async fn the_shop_recording_runs_with_new_credentials() {
    let data = tempfile::tempdir().unwrap();
    let server = FixtureServer::start_with(
        FixtureConfig {
            username: "carol".into(),
            password: "s3cret-pass".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let out = spool(
        data.path(),
        execute_shop(
            &server.base_url(),
            &[
                "--input",
                "username=carol",
                "--input",
                "password=s3cret-pass",
            ],
        ),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SUCCESS"), "{stdout}");
    assert!(
        !stdout.contains("s3cret-pass"),
        "the password was printed: {stdout}"
    );
    let orders = server.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["username"], "carol");
    assert!(
        stdout.contains(orders[0]["orderId"].as_str().unwrap()),
        "{stdout}"
    );

    // --json: the engine's result.
    let out = spool(
        data.path(),
        execute_shop(
            &server.base_url(),
            &[
                "--input",
                "username=carol",
                "--input",
                "password=s3cret-pass",
                "--json",
            ],
        ),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "SUCCESS");
    assert_eq!(result["response"]["status"], 201);
    assert_eq!(result["steps"].as_array().unwrap().len(), 5);
    assert_eq!(server.orders().len(), 2);
}

#[tokio::test]
async fn a_refused_login_fails_with_the_replay_code() {
    let data = tempfile::tempdir().unwrap();
    let server = FixtureServer::start().await.unwrap();
    let out = spool(
        data.path(),
        execute_shop(&server.base_url(), &["--input", "password=wrong"]),
    )
    .await;
    assert_fails(&out, 1, -32005, &["s2", "401"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
    assert!(server.orders().is_empty());
}

#[tokio::test]
async fn bad_requests_get_their_codes() {
    let data = tempfile::tempdir().unwrap();
    let base = "http://127.0.0.1:9";
    let out = spool(data.path(), execute_shop(base, &["--modality", "by-hand"])).await;
    assert_fails(&out, 2, -32602, &["modality", "integuru", "headless_cdp"]);

    // A HAR file records no actions for a browser to replay.
    let out = spool(
        data.path(),
        execute_shop(base, &["--modality", "headless_cdp"]),
    )
    .await;
    assert_fails(&out, 2, -32602, &["--session"]);

    let out = spool(data.path(), execute_shop(base, &["--timeout", "5"])).await;
    assert_fails(&out, 2, -32602, &["timeout"]);

    let out = spool(data.path(), execute_shop(base, &["--retries", "11"])).await;
    assert_fails(&out, 2, -32602, &["retryPolicy.maxRetries"]);

    // The recording's password is a secret: it is never replayed, so it must be given.
    let out = spool(data.path(), execute_shop(base, &[])).await;
    assert_fails(&out, 2, -32602, &["inputs.password"]);

    let out = spool(
        data.path(),
        args(&[
            "execute",
            "--task",
            "order",
            "--session",
            "6f1b2c3d-0000-4000-8000-000000000000",
        ]),
    )
    .await;
    assert_fails(&out, 5, -32004, &["not found"]);
}

/// `spool capture` of the signed flow, then `spool execute --modality headless_cdp` on the
/// stored session against a fresh fixture app: the page signs its own calls and files the
/// report there.
#[tokio::test]
async fn the_signed_session_runs_in_a_headless_browser() {
    let data = tempfile::tempdir().unwrap();
    let recorded = FixtureServer::start().await.unwrap();
    let fresh = FixtureServer::start().await.unwrap();
    let task = "file the weekly report for the signed-in profile";
    let out = spool(
        data.path(),
        args(&[
            "capture",
            "--url",
            &recorded.url("/signed/"),
            "--task",
            task,
            "--level",
            "2",
            "--wait-for",
            "document.title === 'done'",
        ]),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = stdout
        .split("stored as session ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no session id in: {stdout}"))
        .to_string();
    let out = spool(
        data.path(),
        args(&[
            "execute",
            "--task",
            task,
            "--session",
            &id,
            "--modality",
            "headless_cdp",
            "--input",
            &format!("baseUrl={}", fresh.base_url()),
            "--json",
        ]),
    )
    .await;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "SUCCESS", "{result}");
    assert_eq!(result["modality"], "headless_cdp", "{result}");
    let reports = fresh.state().reports();
    assert_eq!(reports.len(), 1, "{result}");
    assert_eq!(result["output"]["reportId"], reports[0]["reportId"]);
}
