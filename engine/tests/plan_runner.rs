//! The plan runner against the real fixture app on 127.0.0.1: the shop task with credentials
//! the recording never saw, retries with backoff, a 400 that is not retried, a hung endpoint
//! ended by the deadline with nothing left running, and bad configurations.
//!
//! Each fixture server runs on a runtime of its own thread, so the test's runtime only holds
//! what the runner itself spawned and a leftover task would show in its count.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use spool_analyzer::ApiPlan;
use spool_analyzer::PlanValue;
use spool_analyzer::{AnalysisConfig, AnalyzeInput, analyze};
use spool_engine::EngineError;
use spool_engine::plan_runner::{FailureKind, RetryPolicy, RunConfig, RunStatus, run_plan};
use spool_fixtures::{AppState, FixtureConfig, FixtureServer};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A fixture server on its own thread and runtime; stopped when dropped.
struct ServerThread {
    base_url: String,
    state: AppState,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    fn start(config: FixtureConfig) -> ServerThread {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime for the fixture server");
            let server = runtime
                .block_on(FixtureServer::start_with(config, 0))
                .expect("the fixture server starts");
            ready_tx
                .send((server.base_url(), server.state().clone()))
                .expect("the test waits for the server");
            // Wait for the stop (or for the test to go away), then stop the server inside
            // its runtime.
            let _ = stop_rx.recv();
            runtime.block_on(async move { drop(server) });
        });
        let (base_url, state) = ready_rx.recv().expect("the fixture server started");
        ServerThread {
            base_url,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn plan_file(name: &str) -> ApiPlan {
    let text = std::fs::read_to_string(fixtures().join("plans").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn shop_plan() -> ApiPlan {
    let har = std::fs::read(fixtures().join("har/flows/shop.l3.har")).unwrap();
    let input = AnalyzeInput {
        har_json: &har,
        task: Some("log in and order the first item"),
        ..AnalyzeInput::default()
    };
    analyze(&input, &AnalysisConfig::default()).unwrap().plan
}

fn config(base_url: &str) -> RunConfig {
    RunConfig {
        base_url: Some(base_url.to_string()),
        timeout: Duration::from_secs(30),
        ..RunConfig::default()
    }
}

/// Processes descended from this test process whose command line names Chromium.
fn our_chromium_processes() -> Vec<u32> {
    let mut parent_of = BTreeMap::new();
    let mut cmdline = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let Some(after) = stat.rsplit_once(')').map(|x| x.1) else {
            continue;
        };
        let Some(ppid) = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        parent_of.insert(pid, ppid);
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        cmdline.insert(pid, String::from_utf8_lossy(&cmd).to_lowercase());
    }
    let me = std::process::id();
    parent_of
        .keys()
        .copied()
        .filter(|&pid| {
            let mut at = pid;
            while let Some(&p) = parent_of.get(&at) {
                if p == me {
                    return cmdline.get(&pid).is_some_and(|c| c.contains("chromium"));
                }
                if p <= 1 || p == at {
                    break;
                }
                at = p;
            }
            false
        })
        .collect()
}

#[tokio::test]
async fn shop_task_runs_with_new_credentials_and_no_browser() {
    let server = ServerThread::start(FixtureConfig {
        username: "bob".into(),
        password: "correct horse battery".into(),
        ..Default::default()
    });
    let mut cfg = config(&server.base_url);
    cfg.inputs = BTreeMap::from([
        ("username".to_string(), "bob".to_string()),
        ("password".to_string(), "correct horse battery".to_string()),
    ]);
    let run = run_plan(&shop_plan(), &cfg).await.unwrap();
    assert_eq!(run.status, RunStatus::Success, "{:#?}", run.failure);
    assert!(
        our_chromium_processes().is_empty(),
        "a Chromium was started"
    );

    // The order exists on the server, made by the new user, and is the one reported.
    let orders = server.state.orders();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["username"], "bob");
    let response = run.response.expect("the target's response");
    assert_eq!(response.status, 201);
    assert_eq!(response.body["orderId"], orders[0]["orderId"]);
    assert_eq!(response.body["status"], "confirmed");

    // Every step reports what it used, with the secrets masked.
    assert_eq!(run.steps.len(), 5);
    assert!(run.steps.iter().all(|s| s.ok && s.attempts.len() == 1));
    let login = &run.steps[1];
    let password = login.values.iter().find(|v| v.name == "password").unwrap();
    assert!(password.secret);
    assert!(!password.value.contains("horse"), "{password:?}");
    let username = login.values.iter().find(|v| v.name == "username").unwrap();
    assert_eq!(username.value, "bob");
    let order = &run.steps[4];
    let token = order.values.iter().find(|v| v.name == "token").unwrap();
    assert_eq!(token.from_step.as_deref(), Some("s2"));
    assert!(token.secret && token.value.starts_with("***"));
    let json = serde_json::to_string(&run.steps).unwrap();
    assert!(!json.contains("horse"), "a secret leaked into the report");

    assert_eq!(run.resources.requests, 5);
    assert!(run.resources.bytes_received > 0 && run.resources.bytes_sent > 0);
}

#[tokio::test]
async fn wrong_credentials_fail_as_unauthorized() {
    let server = ServerThread::start(FixtureConfig::default());
    let mut cfg = config(&server.base_url);
    cfg.inputs = BTreeMap::from([("password".to_string(), "not-it".to_string())]);
    let run = run_plan(&shop_plan(), &cfg).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let failure = run.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::Unauthorized);
    assert_eq!(failure.step, "s2");
    assert_eq!(failure.status, Some(401));
    // A 401 is not retried, and nothing after the login was sent.
    assert_eq!(run.steps.len(), 2);
    assert_eq!(run.steps[1].attempts.len(), 1);
    assert!(server.state.orders().is_empty());
}

#[tokio::test]
async fn a_503_is_retried_with_exponential_backoff() {
    let server = ServerThread::start(FixtureConfig::default());
    let mut cfg = config(&server.base_url);
    cfg.retry = RetryPolicy {
        max_retries: 2,
        backoff: Duration::from_millis(1000),
    };
    let run = run_plan(&plan_file("flaky.json"), &cfg).await.unwrap();
    assert_eq!(run.status, RunStatus::Success, "{:#?}", run.failure);
    let step = &run.steps[0];
    let statuses: Vec<_> = step.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![Some(503), Some(503), Some(200)]);
    let backoffs: Vec<_> = step.attempts.iter().map(|a| a.backoff_ms).collect();
    assert_eq!(backoffs, vec![0, 1000, 2000]);
    assert_eq!(run.response.unwrap().body["calls"], 3);
    assert_eq!(run.resources.requests, 3);

    // One retry is not enough for the next key: the run fails on the 503.
    let mut plan = plan_file("flaky.json");
    plan.steps[0].path = PlanValue::lit("/api/flaky/one-retry");
    cfg.retry.max_retries = 1;
    let run = run_plan(&plan, &cfg).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let failure = run.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::UnexpectedStatus);
    assert_eq!(failure.status, Some(503));
    assert_eq!(run.steps[0].attempts.len(), 2);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = ServerThread::start(FixtureConfig::default());
    let mut cfg = config(&server.base_url);
    cfg.retry.max_retries = 5;
    let run = run_plan(&plan_file("bad-request.json"), &cfg)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.steps[0].attempts.len(), 1);
    let failure = run.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::UnexpectedStatus);
    assert_eq!(failure.status, Some(400));
    assert!(failure.message.contains("400"), "{}", failure.message);
    // The error body is still there for whoever acts on the failure.
    assert_eq!(run.steps[0].status, Some(400));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // The fixture app's closed port refuses every connection.
    let server = ServerThread::start(FixtureConfig::default());
    let closed = format!("http://127.0.0.1:{}", server.state.closed_port());
    let mut cfg = config(&closed);
    cfg.retry.max_retries = 1;
    let run = run_plan(&plan_file("bad-request.json"), &cfg)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.failure.unwrap().kind, FailureKind::Connection);
    let attempts = &run.steps[0].attempts;
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts
            .iter()
            .all(|a| a.status.is_none() && a.error.is_some())
    );
}

// Paused time: the runtime's clock jumps to the deadline once nothing else can happen, so
// the 30 s minimum costs no real time. The server runs in real time on its own thread.
#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_hung_endpoint_with_nothing_left_running() {
    let server = ServerThread::start(FixtureConfig::default());
    let handle = tokio::runtime::Handle::current();
    let tasks_before = handle.metrics().num_alive_tasks();
    let cfg = config(&server.base_url);
    let run = run_plan(&plan_file("hang.json"), &cfg).await.unwrap();
    assert_eq!(run.status, RunStatus::Timeout);
    let failure = run.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert_eq!(failure.step, "s1");
    assert!(run.response.is_none());
    assert_eq!(run.steps[0].status, None);
    // The request's connection task goes away with the dropped request; give it a few
    // turns of the runtime.
    for _ in 0..100 {
        if handle.metrics().num_alive_tasks() <= tasks_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handle.metrics().num_alive_tasks(), tasks_before);
    assert!(our_chromium_processes().is_empty());
}

fn invalid_field(err: EngineError) -> String {
    match err {
        EngineError::InvalidParams { field, .. } => field,
        other => panic!("expected InvalidParams, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_configurations_name_the_field() {
    let plan = plan_file("bad-request.json");
    let base = "http://127.0.0.1:9";
    let mut cfg = config(base);
    cfg.timeout = Duration::from_secs(29);
    let err = run_plan(&plan, &cfg).await.unwrap_err();
    assert_eq!(err.code(), -32602);
    assert_eq!(invalid_field(err), "timeout");
    cfg.timeout = Duration::from_secs(1801);
    assert_eq!(
        invalid_field(run_plan(&plan, &cfg).await.unwrap_err()),
        "timeout"
    );

    let mut cfg = config(base);
    cfg.retry.max_retries = 11;
    assert_eq!(
        invalid_field(run_plan(&plan, &cfg).await.unwrap_err()),
        "retryPolicy.maxRetries"
    );
    let mut cfg = config(base);
    cfg.retry.backoff = Duration::from_millis(999);
    assert_eq!(
        invalid_field(run_plan(&plan, &cfg).await.unwrap_err()),
        "retryPolicy.backoffMs"
    );
    let mut cfg = config(base);
    cfg.base_url = Some("not a url".into());
    assert_eq!(
        invalid_field(run_plan(&plan, &cfg).await.unwrap_err()),
        "baseUrl"
    );
}

#[tokio::test]
async fn a_missing_required_input_is_named() {
    let plan = plan_file("missing-input.json");
    let mut cfg = config("http://127.0.0.1:9");
    let err = run_plan(&plan, &cfg).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(invalid_field(err), "inputs.itemId");
    assert!(message.contains("itemId"), "{message}");

    cfg.inputs.insert("itemId".into(), "40712".into());
    let err = run_plan(&plan, &cfg).await.unwrap_err();
    assert!(err.to_string().contains("a secret"), "{err}");
    assert_eq!(invalid_field(err), "inputs.apiKey");
}

#[tokio::test]
async fn an_extraction_that_finds_nothing_is_reported() {
    let server = ServerThread::start(FixtureConfig::default());
    // `/noisy/r3` answers JSON without a `token`.
    let mut plan = plan_file("flaky.json");
    plan.steps[0].path = PlanValue::lit("/noisy/r3");
    plan.steps[0].extract = vec![spool_analyzer::Extraction {
        var: "token".into(),
        location: "json:/token".into(),
        before: None,
        after: None,
    }];
    let run = run_plan(&plan, &config(&server.base_url)).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let failure = run.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::ExtractionFailed);
    assert!(
        failure.message.contains("json:/token"),
        "{}",
        failure.message
    );
    // The response that lacked the value is kept for whoever acts on the failure.
    assert_eq!(run.steps[0].status, Some(200));
}
