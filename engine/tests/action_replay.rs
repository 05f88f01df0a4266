//! Action recording and replay in real headless Chromium: the shop flow is driven through
//! CDP input while a live capture records it, and the recorded actions are replayed against
//! fresh fixture apps with other credentials. The browser pool is shut down before anything
//! is checked, so a failed check leaves no Chromium behind.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

use serde_json::{Value, json};
use spool_engine::replay::{ActionReplayStatus, StepStatus};
use spool_engine::{
    ActionReplayConfig, ActionReplayReport, BrowserPool, BrowserSource, CaptureConfig,
    LaunchConfig, LiveCapture, NoSink, PageHandle, PoolConfig, replay_actions,
};
use spool_fixtures::{FixtureConfig, FixtureServer};
use spool_model::ErrorCode;
use spool_model::session::Action;
use std::collections::BTreeMap;
use std::time::Duration;

async fn eval(page: &PageHandle, expression: &str) -> Value {
    page.evaluate(expression).await.unwrap()
}

/// Clicks the centre of `selector` with real mouse input.
async fn click(page: &PageHandle, selector: &str) {
    page.click(selector, Duration::from_secs(5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn type_text(page: &PageHandle, text: &str) {
    page.insert_text(text).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn wait_for_title(page: &PageHandle, title: &str) -> bool {
    for _ in 0..100 {
        if eval(page, "document.title").await == json!(title) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Starts a live capture of `url` and waits for the page to load: the capture and its page.
async fn start_recording(pool: &BrowserPool, url: &str, what: &str) -> (LiveCapture, PageHandle) {
    let mut config = CaptureConfig::new(url);
    config.timeout = Duration::from_secs(60);
    let live = LiveCapture::start(pool, config, Box::new(NoSink))
        .await
        .unwrap();
    let page = live.page().clone();
    page.wait_until(
        spool_engine::WaitUntil::Load,
        &Default::default(),
        Duration::from_secs(15),
        what,
    )
    .await
    .unwrap();
    (live, page)
}

/// Signs in and orders in the shop of `server` with mouse and keyboard input while a live
/// capture records, and returns the recorded actions.
async fn record_shop_flow(pool: &BrowserPool, server: &FixtureServer) -> Vec<Action> {
    let (live, page) = start_recording(pool, &server.url("/shop/"), "the shop").await;
    click(&page, "#username").await;
    type_text(&page, "alice").await;
    click(&page, "#password").await;
    type_text(&page, "wonderland").await;
    click(&page, "#login-button").await;
    let done = wait_for_title(&page, "done").await;
    // The binding's last reports arrive with the events that follow them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let capture = live.stop().await.unwrap();
    assert!(done, "the recorded shop flow never placed its order");
    capture.actions
}

fn overrides(pairs: &[(usize, &str)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(i, v)| (format!("action-{i}"), json!({ "value": v })))
        .collect()
}

/// A fresh shop that only accepts bob / builder, and the overrides that point the recorded
/// flow at it.
async fn fresh_app() -> (FixtureServer, BTreeMap<String, Value>) {
    let server = FixtureServer::start_with(
        FixtureConfig {
            username: "bob".into(),
            password: "builder".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let parameters = overrides(&[
        (0, server.url("/shop/").as_str()),
        (2, "bob"),
        (4, "builder"),
    ]);
    (server, parameters)
}

/// Orders placed in `server`, waiting a little for one still on its way.
async fn orders_after_replay(server: &FixtureServer, expect_any: bool) -> Vec<Value> {
    for _ in 0..30 {
        let orders = server.orders();
        if !orders.is_empty() || !expect_any {
            return orders;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.orders()
}

struct Outcomes {
    recorded: Vec<Action>,
    full: ActionReplayReport,
    full_orders: Vec<Value>,
    fast: ActionReplayReport,
    fast_orders: Vec<Value>,
    dry: ActionReplayReport,
    dry_orders: Vec<Value>,
    single: ActionReplayReport,
    single_orders: Vec<Value>,
    missing: ActionReplayReport,
    missing_orders: Vec<Value>,
}

async fn run_everything(pool: &BrowserPool) -> Outcomes {
    let recording_app = FixtureServer::start().await.unwrap();
    let recorded = record_shop_flow(pool, &recording_app).await;
    drop(recording_app);

    let (app, parameters) = fresh_app().await;
    let config = ActionReplayConfig {
        override_parameters: parameters,
        ..ActionReplayConfig::default()
    };
    let full = replay_actions(pool, &recorded, &config).await.unwrap();
    let full_orders = orders_after_replay(&app, true).await;

    let (app, parameters) = fresh_app().await;
    let config = ActionReplayConfig {
        override_parameters: parameters,
        speed_multiplier: 5.0,
        ..ActionReplayConfig::default()
    };
    let fast = replay_actions(pool, &recorded, &config).await.unwrap();
    let fast_orders = orders_after_replay(&app, true).await;

    let (app, parameters) = fresh_app().await;
    let config = ActionReplayConfig {
        override_parameters: parameters,
        dry_run: true,
        ..ActionReplayConfig::default()
    };
    let dry = replay_actions(pool, &recorded, &config).await.unwrap();
    let dry_orders = orders_after_replay(&app, false).await;

    let (app, parameters) = fresh_app().await;
    let config = ActionReplayConfig {
        override_parameters: parameters,
        action_index: Some(2),
        ..ActionReplayConfig::default()
    };
    let single = replay_actions(pool, &recorded, &config).await.unwrap();
    let single_orders = orders_after_replay(&app, false).await;

    // The sign-in button is renamed in this app's page: no recorded selector finds it.
    let (app, parameters) = fresh_app().await;
    let mut broken = recorded.clone();
    let button = broken
        .iter_mut()
        .find(|a| a.kind == "click" && a.target.as_deref() == Some("#login-button"))
        .unwrap();
    button.selectors = vec!["#no-such-button".into(), "xpath//html/body/nav[7]".into()];
    let config = ActionReplayConfig {
        override_parameters: parameters,
        element_timeout: Duration::from_secs(1),
        ..ActionReplayConfig::default()
    };
    let missing = replay_actions(pool, &broken, &config).await.unwrap();
    let missing_orders = orders_after_replay(&app, false).await;

    Outcomes {
        recorded,
        full,
        full_orders,
        fast,
        fast_orders,
        dry,
        dry_orders,
        single,
        single_orders,
        missing,
        missing_orders,
    }
}

fn statuses(report: &ActionReplayReport) -> Vec<StepStatus> {
    report.steps.iter().map(|s| s.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorded_shop_flow_replays_on_a_fresh_app_with_other_credentials() {
    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let outcomes = tokio::time::timeout(Duration::from_secs(240), run_everything(&pool)).await;
    pool.shutdown().await;
    let o = outcomes.expect("the recording and replays took longer than 4 minutes");

    // The recording: what was done, in order, with selectors that find the elements again.
    let kinds: Vec<(&str, Option<&str>, Option<&str>)> = o
        .recorded
        .iter()
        .map(|a| (a.kind.as_str(), a.target.as_deref(), a.value.as_deref()))
        .collect();
    assert_eq!(
        &kinds[1..],
        &[
            ("click", Some("#username"), None),
            ("type", Some("#username"), Some("alice")),
            ("click", Some("#password"), None),
            ("type", Some("#password"), None),
            ("click", Some("#login-button"), None),
            ("submit", Some("#login-form"), None),
        ],
        "recorded actions: {:#?}",
        o.recorded
    );
    assert_eq!(o.recorded[0].kind, "navigate");
    let username = &o.recorded[1];
    assert_eq!(
        username.selectors,
        vec![
            r#"aria/Username[role="textbox"]"#.to_string(),
            "#username".into(),
            r#"input[name="username"]"#.into(),
            "xpath//html[1]/body[1]/form[1]/label[1]/input[1]".into(),
        ]
    );
    let fingerprint = username.fingerprint.as_ref().unwrap();
    assert_eq!(
        (
            fingerprint.tag.as_str(),
            fingerprint.role.as_deref(),
            fingerprint.name.as_deref()
        ),
        ("input", Some("textbox"), Some("Username"))
    );
    let button = &o.recorded[5];
    assert_eq!(button.selectors[0], r#"aria/Sign in[role="button"]"#);
    assert_eq!(button.selectors.last().unwrap(), "text/Sign in");
    // The password never reaches the recording: only its slot does.
    let password = &o.recorded[4];
    assert_eq!(password.slot.as_deref(), Some("password"));
    assert!(
        !serde_json::to_string(&o.recorded)
            .unwrap()
            .contains("wonderland")
    );

    // A full replay against the fresh app places bob's order.
    assert_eq!(
        o.full.status,
        ActionReplayStatus::Completed,
        "{:#?}",
        o.full
    );
    assert!(statuses(&o.full).iter().all(|s| *s == StepStatus::Success));
    assert_eq!(
        o.full.steps[1].selector_used.as_deref(),
        Some(r#"aria/Username[role="textbox"]"#)
    );
    assert_eq!(o.full_orders.len(), 1, "orders: {:?}", o.full_orders);
    assert_eq!(o.full_orders[0]["username"], "bob");
    // The overridden password is not in the report either.
    assert!(!serde_json::to_string(&o.full).unwrap().contains("builder"));

    // Five times the speed waits a fifth of the recorded think time, and still orders.
    assert_eq!(
        o.fast.status,
        ActionReplayStatus::Completed,
        "{:#?}",
        o.fast
    );
    assert_eq!(o.fast_orders.len(), 1);
    for (normal, fast) in o.full.steps.iter().zip(&o.fast.steps).skip(1) {
        assert!(normal.think_time_ms > 0 || normal.action.kind == "submit");
        assert!(
            fast.think_time_ms.abs_diff(normal.think_time_ms / 5) <= 1,
            "step {}: {} ms at speed 5 vs {} ms at speed 1",
            normal.index,
            fast.think_time_ms,
            normal.think_time_ms
        );
    }

    // A dry run finds every element but places no order.
    assert_eq!(o.dry.status, ActionReplayStatus::Completed, "{:#?}", o.dry);
    assert!(o.dry.dry_run);
    assert!(statuses(&o.dry).iter().all(|s| *s == StepStatus::Success));
    assert!(
        o.dry.steps[1..]
            .iter()
            .filter(|s| s.action.kind != "submit")
            .all(|s| s.selector_used.is_some())
    );
    assert_eq!(o.dry_orders, Vec::<Value>::new());

    // actionIndex 2 types the username and does nothing else.
    let expected: Vec<StepStatus> = (0..o.recorded.len())
        .map(|i| {
            if i == 2 {
                StepStatus::Success
            } else {
                StepStatus::Skipped
            }
        })
        .collect();
    assert_eq!(statuses(&o.single), expected, "{:#?}", o.single);
    assert_eq!(o.single_orders, Vec::<Value>::new());

    // A button no selector finds fails its step after the wait, naming what was tried.
    assert_eq!(o.missing.status, ActionReplayStatus::Failed);
    let failed = &o.missing.steps[5];
    assert_eq!(failed.status, StepStatus::Failed);
    assert_eq!(
        failed.selectors_tried,
        vec![
            "#no-such-button".to_string(),
            "xpath//html/body/nav[7]".into()
        ]
    );
    assert_eq!(o.missing.steps[6].status, StepStatus::Skipped);
    let error = o.missing.failure().unwrap();
    assert_eq!(error.code(), ErrorCode::ReplayFailed);
    assert!(error.to_string().contains("#no-such-button"), "{error}");
    assert!(error.to_string().contains("action 5"), "{error}");
    assert_eq!(o.missing_orders, Vec::<Value>::new());
}

/// Replays `recorded` with the sign-in button's selectors broken and `pause_on_error`:
/// it pauses at that click with nothing ordered.
async fn paused_at_the_button(
    pool: &BrowserPool,
    recorded: &[Action],
) -> (FixtureServer, spool_engine::replay::ActionReplay, usize) {
    let (app, parameters) = fresh_app().await;
    let mut broken = recorded.to_vec();
    let index = broken
        .iter()
        .position(|a| a.kind == "click" && a.target.as_deref() == Some("#login-button"))
        .unwrap();
    broken[index].selectors = vec!["#no-such-button".into()];
    broken[index].fingerprint = None;
    let config = ActionReplayConfig {
        override_parameters: parameters,
        element_timeout: Duration::from_secs(1),
        speed_multiplier: 5.0,
        pause_on_error: true,
        ..ActionReplayConfig::default()
    };
    let mut replay =
        spool_engine::replay::ActionReplay::start(pool, &broken, &config, &Default::default())
            .await
            .unwrap();
    replay.run().await.unwrap();
    let report = replay.report();
    assert_eq!(report.status, ActionReplayStatus::Paused, "{report:#?}");
    assert_eq!(report.paused_at, Some(index));
    assert_eq!(report.steps[index].status, StepStatus::Failed);
    assert_eq!(
        report.steps[index].selectors_tried,
        vec!["#no-such-button".to_string()]
    );
    assert!(orders_after_replay(&app, false).await.is_empty());
    (app, replay, index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_on_error_waits_for_a_retry_a_skip_or_a_cancel() {
    let pool = BrowserPool::new(PoolConfig {
        max_browsers: 1,
        max_contexts_per_browser: 2,
        ..PoolConfig::single(BrowserSource::Launch(LaunchConfig::default()))
    })
    .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        let recording_app = FixtureServer::start().await.unwrap();
        let recorded = record_shop_flow(&pool, &recording_app).await;
        drop(recording_app);

        // Retry after a person fixed the page: the button now has the id the step looks for.
        let (app, mut replay, index) = paused_at_the_button(&pool, &recorded).await;
        eval(
            replay.page(),
            "document.getElementById('login-button').id = 'no-such-button'",
        )
        .await;
        replay
            .resume(spool_engine::replay::Resume::Retry)
            .await
            .unwrap();
        let (retried, _) = replay.finish(true).await;
        let retried_orders = orders_after_replay(&app, true).await;
        assert_eq!(
            retried.status,
            ActionReplayStatus::Completed,
            "{retried:#?}"
        );
        assert_eq!(retried.steps[index].status, StepStatus::Success);
        assert_eq!(retried_orders.len(), 1, "the retried click ordered");

        // Skip: the failed click is left out, the replay goes on to its end, nothing is
        // ordered.
        let (app, mut replay, index) = paused_at_the_button(&pool, &recorded).await;
        replay
            .resume(spool_engine::replay::Resume::Skip)
            .await
            .unwrap();
        let (skipped, _) = replay.finish(true).await;
        assert_eq!(
            skipped.status,
            ActionReplayStatus::Completed,
            "{skipped:#?}"
        );
        assert_eq!(skipped.steps[index].status, StepStatus::Skipped);
        assert!(
            skipped.steps[index]
                .error
                .as_deref()
                .unwrap()
                .starts_with("skipped after it failed"),
            "{skipped:#?}"
        );
        assert!(orders_after_replay(&app, false).await.is_empty());

        // Cancel: the replay ends CANCELLED where it stood.
        let (app, replay, index) = paused_at_the_button(&pool, &recorded).await;
        let cancelled = replay.cancel().await;
        assert_eq!(cancelled.status, ActionReplayStatus::Cancelled);
        assert!(
            cancelled.steps[index + 1..]
                .iter()
                .all(|s| s.status == StepStatus::Skipped
                    && s.error.as_deref() == Some("the replay was cancelled")),
            "{cancelled:#?}"
        );
        assert!(orders_after_replay(&app, false).await.is_empty());
    })
    .await;
    pool.shutdown().await;
    outcome.expect("the pause replays took longer than 3 minutes");
}

/// The centre, in the top viewport, of the element `expression` evaluates to: in the top
/// document, in an open shadow root or in a same-origin iframe. The element is scrolled
/// into view first, as a person would before clicking it.
async fn centre_of(page: &PageHandle, expression: &str) -> (f64, f64) {
    let js = format!(
        "(() => {{ const e = {expression}; e.scrollIntoView({{block: 'center'}}); \
         const r = e.getBoundingClientRect(); let x = r.left + r.width / 2, y = r.top + r.height / 2; \
         for (let w = e.ownerDocument.defaultView; w !== w.top; w = w.parent) {{ \
           const f = w.frameElement; const b = f.getBoundingClientRect(); \
           x += b.left + f.clientLeft; y += b.top + f.clientTop; }} \
         return [x, y]; }})()"
    );
    let at = eval(page, &js).await;
    (at[0].as_f64().unwrap(), at[1].as_f64().unwrap())
}

/// Clicks the element `expression` evaluates to with real mouse input.
async fn click_element(page: &PageHandle, expression: &str) {
    let (x, y) = centre_of(page, expression).await;
    for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
        page.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Turns the mouse wheel `delta_y` pixels at (`x`, `y`), then waits past the recorder's
/// 250 ms scroll debounce.
async fn wheel(page: &PageHandle, x: f64, y: f64, delta_y: f64) {
    page.call(
        "Input.dispatchMouseEvent",
        json!({ "type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": delta_y }),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
}

/// What the widgets page shows: the keys that reached the key pad, the shadow and frame
/// buttons' press counts, the list's and the window's scroll positions and the window size.
async fn widgets_state(page: &PageHandle) -> Value {
    eval(
        page,
        "({ keys: document.getElementById('key-log').textContent, \
            shadow: document.getElementById('shadow-count').textContent, \
            frame: document.getElementById('frame-count').textContent, \
            name: document.getElementById('widget').shadowRoot.querySelector('input').value, \
            list: document.getElementById('list').scrollTop, \
            window: Math.round(scrollY), \
            size: document.getElementById('size').textContent })",
    )
    .await
}

/// Presses keys, clicks a button in a shadow root and one in an iframe, scrolls the list,
/// resizes the viewport and scrolls the window on the widgets page of `server`, all with
/// real CDP input while a live capture records; returns the recorded actions and the
/// page's state at the end.
async fn record_widgets(pool: &BrowserPool, server: &FixtureServer) -> (Vec<Action>, Value) {
    let (live, page) = start_recording(pool, &server.url("/widgets/"), "the widgets page").await;
    click(&page, "[data-testid=\"key-pad\"]").await;
    page.press_key("ArrowDown", "ArrowDown", 40, None)
        .await
        .unwrap();
    // Control+A, as a keyboard sends it: the shortcut types nothing.
    page.press_key_with_modifiers("a", "KeyA", 65, None, 2)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    click_element(
        &page,
        "document.getElementById('widget').shadowRoot.querySelector('button')",
    )
    .await;
    click_element(
        &page,
        "document.getElementById('inner-frame').contentDocument.getElementById('frame-button')",
    )
    .await;
    // Typed into a field in the shadow root, left by a click on the shadow button.
    click_element(
        &page,
        "document.getElementById('widget').shadowRoot.querySelector('input')",
    )
    .await;
    type_text(&page, "zed").await;
    click_element(
        &page,
        "document.getElementById('widget').shadowRoot.querySelector('button')",
    )
    .await;
    let (x, y) = centre_of(&page, "document.getElementById('list')").await;
    // Bringing the list into view scrolls the window; that scroll is not the person's, and
    // must be over before the wheel turns, or it would count as the wheel's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    wheel(&page, x, y, 240.0).await;
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 900, "height": 700, "deviceScaleFactor": 1, "mobile": false }),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Right of every widget: over the page itself.
    wheel(&page, 700.0, 300.0, 400.0).await;
    let state = widgets_state(&page).await;
    let capture = live.stop().await.unwrap();
    (capture.actions, state)
}

/// Replays `actions` on the widgets page of a fresh fixture app and returns the page's
/// state at the end, with the report.
async fn replay_widgets(pool: &BrowserPool, actions: &[Action]) -> (ActionReplayReport, Value) {
    let app = FixtureServer::start().await.unwrap();
    let config = ActionReplayConfig {
        override_parameters: overrides(&[(0, app.url("/widgets/").as_str())]),
        speed_multiplier: 5.0,
        ..ActionReplayConfig::default()
    };
    let mut replay =
        spool_engine::replay::ActionReplay::start(pool, actions, &config, &Default::default())
            .await
            .unwrap();
    replay.run().await.unwrap();
    let state = widgets_state(replay.page()).await;
    let (report, _) = replay.finish(false).await;
    (report, state)
}

/// `node server/tests/devtools_validate.js FILE` with `@puppeteer/replay` from setup.sh's
/// directory: the Recorder's own parser reads the export.
fn puppeteer_replay_parses(recording: &Value) -> Result<(), String> {
    let modules = std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".cache/spool-node/node_modules");
    assert!(
        modules.join("@puppeteer/replay").exists(),
        "@puppeteer/replay is not installed in {}: run scripts/setup.sh",
        modules.display()
    );
    let file = std::env::temp_dir().join(format!("spool-widgets-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec_pretty(recording).unwrap()).unwrap();
    let out = std::process::Command::new("node")
        .arg(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../server/tests/devtools_validate.js"),
        )
        .arg(&file)
        .env("NODE_PATH", modules)
        .output()
        .expect("node runs");
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_shadow_roots_iframes_scrolls_and_resizes_record_replay_and_cross_devtools() {
    use spool_engine::replay::devtools;
    use spool_model::session::{FrameHop, Viewport};

    let pool = BrowserPool::new(PoolConfig::single(BrowserSource::Launch(
        LaunchConfig::default(),
    )))
    .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(240), async {
        let app = FixtureServer::start().await.unwrap();
        let (recorded, recorded_state) = record_widgets(&pool, &app).await;
        drop(app);
        let (replayed, replayed_state) = replay_widgets(&pool, &recorded).await;
        // The same without the aria/ and text/ alternatives, so the CSS ones (the shadow
        // chain, the selectors inside the iframe) must find the elements themselves.
        let css_only: Vec<Action> = recorded
            .iter()
            .cloned()
            .map(|mut a| {
                a.selectors
                    .retain(|s| !s.starts_with("aria/") && !s.starts_with("text/"));
                a
            })
            .collect();
        let (by_css, by_css_state) = replay_widgets(&pool, &css_only).await;
        let exported = devtools::export(
            &recorded,
            &devtools::ExportConfig {
                title: "widgets".into(),
                viewport: Some(Viewport {
                    width: 1280,
                    height: 720,
                }),
                ..Default::default()
            },
        );
        let imported = devtools::import(&exported).unwrap();
        let (reimported, reimported_state) = replay_widgets(&pool, &imported.actions).await;
        (
            recorded,
            recorded_state,
            replayed,
            replayed_state,
            (by_css, by_css_state),
            exported,
            imported,
            reimported,
            reimported_state,
        )
    })
    .await;
    pool.shutdown().await;
    let (
        recorded,
        recorded_state,
        replayed,
        replayed_state,
        (by_css, by_css_state),
        exported,
        imported,
        reimported,
        reimported_state,
    ) = outcome.expect("recording and replaying the widgets took longer than 4 minutes");

    // What the person did, as the page saw it.
    assert_eq!(
        recorded_state["keys"], "ArrowDown Control+a",
        "{recorded_state}"
    );
    assert_eq!(recorded_state["shadow"], "2");
    assert_eq!(recorded_state["name"], "zed");
    assert_eq!(recorded_state["frame"], "1");
    assert_eq!(recorded_state["size"], "900x700");
    let list = recorded_state["list"].as_f64().unwrap();
    let window = recorded_state["window"].as_f64().unwrap();
    assert!(list > 0.0 && window > 0.0, "{recorded_state}");

    // What the recorder made of it.
    let kinds: Vec<(&str, Option<&str>)> = recorded
        .iter()
        .map(|a| (a.kind.as_str(), a.value.as_deref()))
        .collect();
    let list_at = format!("0,{list}");
    let window_at = format!("0,{window}");
    assert_eq!(
        &kinds[1..],
        &[
            ("click", None),
            ("key", Some("ArrowDown")),
            ("key", Some("Control+a")),
            ("click", None),
            ("click", None),
            ("click", None),
            ("type", Some("zed")),
            ("click", None),
            ("scroll", Some(list_at.as_str())),
            ("viewport", Some("900x700")),
            ("scroll", Some(window_at.as_str())),
        ],
        "recorded actions: {recorded:#?}"
    );
    assert!(
        recorded[2]
            .selectors
            .contains(&r#"[data-testid="key-pad"]"#.to_string())
    );
    let shadow = &recorded[4];
    assert_eq!(
        shadow.selectors.first().map(String::as_str),
        Some(r#"aria/Shadow press[role="button"]"#)
    );
    assert!(
        shadow
            .selectors
            .contains(&"#widget >>> button:nth-of-type(1)".to_string()),
        "{shadow:#?}"
    );
    assert!(shadow.frame.is_empty());
    let in_frame = &recorded[5];
    assert!(
        in_frame.selectors.contains(&"#frame-button".to_string()),
        "{in_frame:#?}"
    );
    assert_eq!(in_frame.frame.len(), 1, "{in_frame:#?}");
    assert_eq!(in_frame.frame[0].index, 0);
    assert!(
        in_frame.frame[0]
            .selectors
            .contains(&"#inner-frame".to_string())
    );
    assert!(
        recorded[7]
            .selectors
            .contains(&"#widget >>> input:nth-of-type(1)".to_string()),
        "{:#?}",
        recorded[7]
    );
    assert!(
        recorded[9].selectors.contains(&"#list".to_string()),
        "{:#?}",
        recorded[9]
    );
    assert!(
        recorded[11].selectors.is_empty(),
        "a window scroll names no element"
    );

    // The replay on a fresh app ends where the recording did.
    assert_eq!(
        replayed.status,
        ActionReplayStatus::Completed,
        "{replayed:#?}"
    );
    assert_eq!(replayed_state, recorded_state, "{replayed:#?}");
    assert_eq!(
        replayed.steps[4].selector_used.as_deref(),
        Some(r#"aria/Shadow press[role="button"]"#)
    );

    assert_eq!(by_css.status, ActionReplayStatus::Completed, "{by_css:#?}");
    assert_eq!(by_css_state, recorded_state, "{by_css:#?}");
    assert_eq!(
        by_css.steps[4].selector_used.as_deref(),
        Some("#widget >>> button:nth-of-type(1)")
    );
    assert_eq!(
        by_css.steps[5].selector_used.as_deref(),
        Some("#frame-button")
    );

    // The DevTools export: the Recorder's parser reads it, the new steps are there, and
    // it imports and replays back to the same end state.
    puppeteer_replay_parses(&exported).unwrap();
    let steps = exported["steps"].as_array().unwrap();
    let of_type = |t: &str| steps.iter().filter(|s| s["type"] == t).collect::<Vec<_>>();
    assert_eq!(of_type("scroll").len(), 2, "{exported:#}");
    assert_eq!(of_type("setViewport").len(), 2, "{exported:#}");
    let keys: Vec<(&str, &str)> = steps
        .iter()
        .filter(|s| s["type"] == "keyDown" || s["type"] == "keyUp")
        .map(|s| (s["type"].as_str().unwrap(), s["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("keyDown", "ArrowDown"),
            ("keyUp", "ArrowDown"),
            ("keyDown", "Control"),
            ("keyDown", "a"),
            ("keyUp", "a"),
            ("keyUp", "Control"),
        ]
    );
    assert!(
        steps
            .iter()
            .any(|s| s["type"] == "click" && s["frame"] == json!([0])),
        "{exported:#}"
    );
    assert!(
        steps.iter().any(|s| s["type"] == "click"
            && s["selectors"]
                .as_array()
                .unwrap()
                .contains(&json!(["#widget", "button:nth-of-type(1)"]))),
        "{exported:#}"
    );
    assert_eq!(
        imported.viewport,
        Some(Viewport {
            width: 1280,
            height: 720
        })
    );
    assert_eq!(imported.actions.len(), recorded.len(), "{imported:#?}");
    assert_eq!(
        imported.actions[5].frame,
        vec![FrameHop {
            selectors: Vec::new(),
            index: 0
        }]
    );
    assert_eq!(
        reimported.status,
        ActionReplayStatus::Completed,
        "{reimported:#?}"
    );
    assert_eq!(reimported_state, recorded_state, "{reimported:#?}");
}
