//! The no-capture baseline for the capture-overhead bench: open a tab, navigate, wait until
//! the page says it is done, close the tab, with only the Page domain on. This is what a
//! plain browser automation does, so the difference to a capture is what recording costs.

use serde_json::json;
use spool_engine::cdp::Connection;
use spool_engine::{Browser, BrowserPool, ContextLease};
use std::time::{Duration, Instant};

/// Opens a blank tab in `browser` and attaches to it: its target id and CDP session id.
pub async fn open_tab(browser: &Browser) -> (String, String) {
    let conn = browser.connection();
    let created = conn
        .execute_raw(None, "Target.createTarget", json!({ "url": "about:blank" }))
        .await
        .unwrap();
    let target = created["targetId"].as_str().unwrap().to_string();
    let session = attach(conn, &target).await;
    (target, session)
}

/// Attaches to `target` (flattened): its CDP session id.
pub async fn attach(conn: &Connection, target: &str) -> String {
    let attached = conn
        .execute_raw(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        )
        .await
        .unwrap();
    attached["sessionId"].as_str().unwrap().to_string()
}

/// Loads `url` in a new tab of `browser` and waits for `done_expression` to be true.
pub async fn load_without_capture(browser: &Browser, url: &str, done_expression: &str) -> Duration {
    let conn = browser.connection();
    let start = Instant::now();
    let (target, session) = open_tab(browser).await;
    wait_until_done(conn, &session, url, done_expression).await;
    let elapsed = start.elapsed();
    conn.execute_raw(None, "Target.closeTarget", json!({ "targetId": target }))
        .await
        .unwrap();
    elapsed
}

/// Waits, untimed, until the pool has its spare context ready, as a server has between
/// requests: each timed load then starts as a request to a warm server does. Back to back,
/// without this wait, a load also pays for making the context it uses (`spool bench-replay`
/// measures that case).
pub async fn spare_ready(pool: &BrowserPool) {
    while pool.stats().spares == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Loads `url` uncaptured in a context of `pool`, as a capture would get it (the pool's ready
/// tab when it has one), and waits for `done_expression` to be true: the baseline that
/// isolates what recording costs from what an isolated context costs. The context is
/// disposed in the background afterwards, as a capture's is.
///
/// The time starts once the context is leased and counts what a plain automation does with
/// its blank tab: attach, enable the Page domain, navigate, wait. A tab the pool set up for
/// recording (`SpareTab::Recording`) has that session detached first, before the time
/// starts, which turns its recording off: the load is uncaptured.
pub async fn load_in_pool_context(
    pool: &BrowserPool,
    url: &str,
    done_expression: &str,
) -> Duration {
    let lease = pool.acquire().await.unwrap();
    let conn = lease.connection();
    turn_recording_off(&lease).await;
    let start = Instant::now();
    let target = ready_or_new_tab(&lease).await;
    let session = attach(conn, &target).await;
    wait_until_done(conn, &session, url, done_expression).await;
    start.elapsed()
}

/// As [`load_in_pool_context`], but the blank tab is attached and its Page domain enabled
/// before the time starts, as a capture's tab is set up by the pool before a capture starts
/// ([`spool_engine::SpareTab::Recording`]): the time is the navigation and the wait alone,
/// the strictest baseline for what recording costs.
pub async fn load_in_set_up_tab(pool: &BrowserPool, url: &str, done_expression: &str) -> Duration {
    let lease = pool.acquire().await.unwrap();
    let conn = lease.connection();
    turn_recording_off(&lease).await;
    let target = ready_or_new_tab(&lease).await;
    let session = attach(conn, &target).await;
    conn.execute_raw(Some(&session), "Page.enable", json!({}))
        .await
        .unwrap();
    let start = Instant::now();
    navigate_and_wait(conn, &session, url, done_expression).await;
    start.elapsed()
}

/// The pool's ready tab of the lease's context, else a new blank one.
async fn ready_or_new_tab(lease: &ContextLease) -> String {
    match lease.ready_page() {
        Some(page) => page.to_string(),
        None => lease.context().create_page("about:blank").await.unwrap(),
    }
}

/// Detaches the session the pool set the ready tab up for recording with, if it did: that
/// turns the recording off (domains, scripts and bindings are the session's).
async fn turn_recording_off(lease: &ContextLease) {
    if let Some(prepared) = lease.prepared_tab() {
        lease
            .connection()
            .execute_raw(
                None,
                "Target.detachFromTarget",
                json!({ "sessionId": prepared.session_id }),
            )
            .await
            .unwrap();
    }
}

/// Enables the Page domain, navigates to `url` and polls `done_expression` every 10 ms.
pub async fn wait_until_done(conn: &Connection, session: &str, url: &str, done_expression: &str) {
    conn.execute_raw(Some(session), "Page.enable", json!({}))
        .await
        .unwrap();
    navigate_and_wait(conn, session, url, done_expression).await;
}

/// Navigates to `url` and polls `done_expression` every 10 ms.
async fn navigate_and_wait(conn: &Connection, session: &str, url: &str, done_expression: &str) {
    let s = Some(session);
    conn.execute_raw(s, "Page.navigate", json!({ "url": url }))
        .await
        .unwrap();
    let expression = format!("!!({done_expression})");
    loop {
        let v = conn
            .execute_raw(
                s,
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await
            .unwrap();
        if v["result"]["value"] == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
