//! The CDP router on hand-written frame sequences (fixtures/cdp/router): which route gets
//! which event, what is dropped and counted, and that no frame can stop it. No browser.

use serde::Deserialize;
use serde_json::Value;
use spool_engine::cdp::{Router, RouterStats};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Deserialize)]
struct Case {
    routes: BTreeMap<String, Registrations>,
    frames: Vec<Value>,
    expect: BTreeMap<String, Vec<String>>,
    stats: Stats,
}

#[derive(Deserialize)]
struct Registrations {
    sessions: Vec<String>,
    contexts: Vec<String>,
    targets: Vec<String>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Stats {
    routed: u64,
    unrouted: u64,
    dropped: u64,
    unclaimed_replies: u64,
    malformed: u64,
}

fn case(name: &str) -> Case {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cdp/router")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn run(name: &str) {
    let case = case(name);
    let router = Arc::new(Router::new());
    let mut receivers = BTreeMap::new();
    let mut routes = Vec::new();
    for (owner, reg) in &case.routes {
        let (route, rx) = router.open_route(64);
        for s in &reg.sessions {
            route.add_session(s);
        }
        for c in &reg.contexts {
            route.add_context(c);
        }
        for t in &reg.targets {
            route.add_target(t);
        }
        routes.push(route);
        receivers.insert(owner.clone(), rx);
    }
    let mut browser = router.take_browser_events().unwrap();
    for frame in &case.frames {
        let bytes = match frame {
            Value::String(raw) => raw.clone().into_bytes(),
            other => serde_json::to_vec(other).unwrap(),
        };
        router.dispatch(&bytes).await;
    }
    for (owner, expected) in &case.expect {
        let rx = match owner.as_str() {
            "browser" => &mut browser,
            name => receivers.get_mut(name).unwrap(),
        };
        let mut got = Vec::new();
        while let Ok(event) = rx.try_recv() {
            got.push(event.method);
        }
        assert_eq!(&got, expected, "{name}: events of route {owner}");
    }
    let RouterStats {
        routed,
        unrouted,
        dropped,
        unclaimed_replies,
        malformed,
    } = router.stats();
    assert_eq!(
        Stats {
            routed,
            unrouted,
            dropped,
            unclaimed_replies,
            malformed
        },
        case.stats,
        "{name}: router counters"
    );
}

#[tokio::test]
async fn two_captures_see_only_their_own_targets() {
    run("two_captures.json").await;
}

#[tokio::test]
async fn garbage_unknown_sessions_and_detaches_are_survived() {
    run("detach_and_garbage.json").await;
}

#[tokio::test]
async fn dropping_a_route_unregisters_it_and_ends_nothing_else() {
    let router = Arc::new(Router::new());
    let (a, mut rx_a) = router.open_route(8);
    let (b, mut rx_b) = router.open_route(8);
    a.add_session("S-A");
    b.add_session("S-B");
    drop(a);
    let event =
        |s: &str| format!(r#"{{"method":"Page.loadEventFired","sessionId":"{s}","params":{{}}}}"#);
    router.dispatch(event("S-A").as_bytes()).await;
    router.dispatch(event("S-B").as_bytes()).await;
    assert!(
        rx_a.recv().await.is_none(),
        "a dropped route's receiver ends"
    );
    assert_eq!(rx_b.recv().await.unwrap().method, "Page.loadEventFired");
    assert_eq!(router.stats().unrouted, 1);
}

#[tokio::test]
async fn a_full_route_holds_back_then_drops_without_growing() {
    let router = Arc::new(Router::new());
    let (route, mut rx) = router.open_route(2);
    route.add_session("S");
    let event = br#"{"method":"Runtime.consoleAPICalled","sessionId":"S","params":{}}"#;
    router.dispatch(event).await;
    router.dispatch(event).await;
    // The third waits for room: a reader that catches up gets it.
    let reader = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
            if n == 3 {
                break;
            }
        }
        (n, rx)
    });
    router.dispatch(event).await;
    let (n, mut rx) = reader.await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(router.stats().dropped, 0);
    // A reader that never comes back costs one event per back-pressure limit, not memory.
    router.dispatch(event).await;
    router.dispatch(event).await;
    router.dispatch(event).await;
    let stats = router.stats();
    assert_eq!(stats.dropped, 1, "{stats:?}");
    assert_eq!(route.dropped(), 1);
    let mut kept = 0;
    while rx.try_recv().is_ok() {
        kept += 1;
    }
    assert_eq!(kept, 2, "the route never holds more than its capacity");
}

#[tokio::test]
async fn a_closed_connection_fails_waiters_and_ends_routes() {
    let router = Arc::new(Router::new());
    let (_route, mut rx) = router.open_route(8);
    let reply = router.expect_reply(7).unwrap();
    router.close();
    assert!(
        reply.await.is_err(),
        "a waiting command learns the connection closed"
    );
    assert!(rx.recv().await.is_none());
    assert!(router.expect_reply(8).is_err());
}
