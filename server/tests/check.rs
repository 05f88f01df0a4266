//! `spool replay --check` as a QA pipeline runs it: two sessions recorded in real headless
//! Chromium on the fixture app (the shop order, driven by mouse and keyboard input with a
//! screenshot after every action, and the polling page) are checked against a fresh copy of
//! the app, which passes, and against a variant with one changed API status and one broken
//! button, which fails with a JUnit file naming both. `--shard 1/2` and `2/2` together check
//! every session once. The recording browser is shut down before anything is checked, and
//! every `spool` run closes its own.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

mod common;
use common::{fails, spool_async as spool};
#[path = "common/recording.rs"]
mod recording;
use recording::{record_poll, record_shop, store_capture};

use serde_json::Value;
use spool_engine::{BrowserPool, BrowserSource, LaunchConfig, PoolConfig};
use spool_fixtures::{FixtureConfig, FixtureServer, Regressions};
use spool_store::Store;
use std::path::Path;
use std::process::Output;

/// Records both sessions on a fixture app that is gone afterwards.
async fn record_suite(data: &Path) {
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let app = FixtureServer::start().await.unwrap();
    let shop = record_shop(&pool, &app).await;
    let poll = record_poll(&pool, &app).await;
    pool.shutdown().await;
    assert!(
        shop.actions.iter().any(|a| a.kind == "click"),
        "{:#?}",
        shop.actions
    );
    assert!(
        shop.screenshots.iter().any(|s| s.reason == "action"),
        "no screenshot after an action"
    );
    // Each request is tagged with the action that caused it: the sign-in click.
    let click = shop
        .actions
        .iter()
        .position(|a| a.kind == "click" && a.target.as_deref() == Some("#login-button"))
        .unwrap();
    for path in ["/api/login", "/api/orders"] {
        let entry = shop
            .har
            .log
            .entries
            .iter()
            .find(|e| e.request.url.ends_with(path))
            .unwrap();
        assert_eq!(
            entry.custom.get("_action"),
            Some(&serde_json::json!(click)),
            "{path} is tagged with the click at {click}: {:#?}",
            shop.actions
        );
    }
    let store = Store::open(data).unwrap();
    store_capture(&store, "shop order", app.url("/shop/"), &shop);
    store_capture(&store, "poll job", app.url("/poll/"), &poll);
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `spool replay --all --check` against `app`, returning the run and its JSON report.
async fn check_all(data: &Path, app: &FixtureServer, extra: &[&str]) -> (Output, Value) {
    let report = data.join("check.json");
    let base = app.base_url();
    let mut args = vec![
        "replay",
        "--all",
        "--check",
        "--base-url",
        &base,
        "--input",
        "password=wonderland",
        "--speed",
        "5",
        "--json-report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = spool(data, &args).await;
    let json = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let _ = std::fs::remove_file(&report);
    (out, json)
}

fn session_ids(report: &Value) -> Vec<String> {
    report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_app_fails_the_check_naming_the_changed_status_and_the_broken_button() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    record_suite(dir).await;

    // The unchanged app (a fresh copy, on another port) passes.
    let app = FixtureServer::start().await.unwrap();
    let (out, report) = check_all(dir, &app, &[]).await;
    assert!(
        out.status.success(),
        "the unchanged app must pass:\n{}\n{}\n{report:#}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(session_ids(&report).len(), 2);
    for session in report["sessions"].as_array().unwrap() {
        assert!(
            session["regressions"].as_array().unwrap().is_empty(),
            "{session:#}"
        );
    }
    let shop = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["task"] == "shop order")
        .unwrap();
    assert!(
        !shop["screenshots"].as_array().unwrap().is_empty(),
        "the shop's screenshots were compared: {shop:#}"
    );
    assert!(app.orders().len() == 1, "the replay placed the order");
    drop(app);

    // Shards 1/2 and 2/2 together check every session exactly once.
    let app = FixtureServer::start().await.unwrap();
    let (first, one) = check_all(dir, &app, &["--shard", "1/2"]).await;
    let (second, two) = check_all(dir, &app, &["--shard", "2/2"]).await;
    for (out, report) in [(&first, &one), (&second, &two)] {
        assert!(
            out.status.success(),
            "{}\n{}\n{report:#}",
            stdout(out),
            stderr(out)
        );
    }
    let (mut a, b) = (session_ids(&one), session_ids(&two));
    assert_eq!(a.len() + b.len(), 2, "{one:#}\n{two:#}");
    a.extend(b);
    a.sort();
    a.dedup();
    assert_eq!(a.len(), 2, "no session in both shards");
    drop(app);

    // A variant with one changed API status and one broken button fails, and the JUnit
    // file names both.
    let variant = FixtureServer::start_with(
        FixtureConfig {
            regressions: Regressions {
                status_overrides: vec![("/api/poll/status".into(), 503)],
                broken_login_button: true,
            },
            ..FixtureConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let junit = dir.join("junit.xml");
    let reports = dir.join("reports");
    let (out, report) = check_all(
        dir,
        &variant,
        &[
            "--junit",
            junit.to_str().unwrap(),
            "--report",
            reports.to_str().unwrap(),
        ],
    )
    .await;
    fails(&out, 1, -32005, "the check of the broken app");
    assert_eq!(report["passed"], false, "{report:#}");
    assert!(variant.orders().is_empty());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuites"), "{xml}");
    let failures: Vec<&str> = xml
        .split("<testcase")
        .skip(1)
        .filter(|case| case.contains("<failure"))
        .collect();
    assert!(
        failures
            .iter()
            .any(|case| case.contains("click #login-button") && case.contains("POST /api/login")),
        "the broken button is named with the requests it no longer makes:\n{xml}"
    );
    assert!(
        failures
            .iter()
            .any(|case| case.contains("/api/poll/status") && case.contains("200 → 503")),
        "the changed status is named:\n{xml}"
    );
    let text = stdout(&out);
    assert!(text.contains("FAIL"), "{text}");

    // The HTML regression report of each session names what changed and the failing step.
    let html_of = |task: &str| {
        let id = report["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["task"] == task)
            .unwrap()["sessionId"]
            .as_str()
            .unwrap()
            .to_string();
        std::fs::read_to_string(reports.join(format!("{id}.html"))).unwrap()
    };
    let poll = html_of("poll job");
    assert!(
        poll.contains("200 → 503"),
        "the poll report names the changed status"
    );
    let shop = html_of("shop order");
    assert!(
        shop.contains("action 5: click #login-button") && shop.contains("POST /api/login"),
        "the shop report names the failing step and what it no longer did"
    );
    // The sign-in request's password is redacted (the fixture's own script mentions its
    // default password in a comment, which is no leak).
    for leak in [r#"\"password\":\"wonderland"#, "password=wonderland"] {
        assert!(!shop.contains(leak), "the report leaks {leak}");
    }
    drop(variant);

    // Offline, with no app running at all, the recorded back end answers every request of
    // the replayed actions: the check passes.
    let offline = |password: &'static str| {
        let report = dir.join("offline.json");
        async move {
            let out = spool(
                dir,
                &[
                    "replay",
                    "--all",
                    "--check",
                    "--network",
                    "offline",
                    "--input",
                    password,
                    "--speed",
                    "5",
                    "--json-report",
                    report.to_str().unwrap(),
                ],
            )
            .await;
            let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
            (out, json)
        }
    };
    let (out, report) = offline("password=wonderland").await;
    assert!(
        out.status.success(),
        "offline, the recorded app answers:\n{}\n{}\n{report:#}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(session_ids(&report).len(), 2, "{report:#}");
    // A sign-in the recording never saw is not answered: it fails, and the check says so.
    let (out, report) = offline("password=not-the-recorded-one").await;
    fails(&out, 1, -32005, "the offline check with another password");
    let regressions = |task: &str| {
        report["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["task"] == task)
            .unwrap()["regressions"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert!(regressions("poll job").is_empty(), "{report:#}");
    assert!(
        regressions("shop order")
            .iter()
            .any(|r| r.to_string().contains("POST /api/login")),
        "the unanswered sign-in is named: {report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_check_input_gets_coded_errors() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let cases: [(&[&str], i32, i32, &str); 6] = [
        (
            &["replay", "--all", "--check", "--shard", "3/2"],
            2,
            -32602,
            "shard",
        ),
        (
            &["replay", "--all", "--check", "--base-url", "ftp://x"],
            2,
            -32602,
            "baseUrl",
        ),
        (
            &[
                "replay",
                "--all",
                "--check",
                "--network",
                "offline",
                "--base-url",
                "http://127.0.0.1:1",
            ],
            2,
            -32602,
            "baseUrl",
        ),
        (
            &["replay", "--all", "--check", "--network", "sideways"],
            2,
            -32602,
            "network",
        ),
        (
            &["replay", "--all", "--check", "--screenshot-threshold", "2"],
            2,
            -32602,
            "screenshotThreshold",
        ),
        (
            &["replay", "00000000-0000-4000-8000-000000000000", "--check"],
            5,
            -32004,
            "",
        ),
    ];
    for (args, exit, code, field) in cases {
        let out = spool(dir, args).await;
        let message = fails(&out, exit, code, &args.join(" "));
        assert!(message.contains(field), "{message}");
    }
    // An empty store has nothing to check.
    let out = spool(dir, &["replay", "--all", "--check"]).await;
    let message = fails(&out, 5, -32004, "an empty store");
    assert!(message.contains("nothing to check"), "{message}");
}
