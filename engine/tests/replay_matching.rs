//! Which recorded entry answers which request, without a browser: the matching rules of
//! offline replay on real captures (`fixtures/har/flows/`, `fixtures/replay/poll.l3.har`) and
//! on a hand-written recording of cases one capture does not hold together
//! (`fixtures/replay/edge-cases.har`).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use spool_engine::replay::{
    Answer, Difference, MatchConfig, RecordedNetwork, ReplayRequest, volatile_fields,
};
use spool_model::har::Har;
use std::path::Path;

fn load(path: &Path) -> Har {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    Har::from_slice(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn captured(flow: &str, level: u8) -> Har {
    load(&spool_fixtures::captured_har(flow, level))
}

fn replay_fixture(name: &str) -> Har {
    load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/replay")
            .join(name),
    )
}

fn get(url: &str) -> ReplayRequest {
    ReplayRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("Accept".into(), "*/*".into())],
        body: None,
    }
}

fn body_text(answer: &Answer) -> String {
    match answer {
        Answer::Recorded { response, .. } => String::from_utf8(response.body.clone()).unwrap(),
        other => panic!("expected a recorded answer, got {other:?}"),
    }
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    match answer {
        Answer::Recorded { response, .. } | Answer::Preflight { response } => response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str()),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn every_request_of_a_capture_is_answered_by_its_own_entry_and_none_is_left_unused() {
    for flow in ["static", "shop", "noisy"] {
        let har = captured(flow, 3);
        let mut network = RecordedNetwork::new(&har, MatchConfig::default());
        for (index, entry) in har.log.entries.iter().enumerate() {
            let request = ReplayRequest::from_entry(entry);
            match network.answer(&request) {
                Answer::Recorded { entry, response } => {
                    assert_eq!(entry, index, "{flow}: {} {}", request.method, request.url);
                    assert_eq!(
                        i64::from(response.status),
                        har.log.entries[index].response.status
                    );
                }
                Answer::Failed { entry, .. } => assert_eq!(entry, index),
                other => panic!("{flow}: {} {} got {other:?}", request.method, request.url),
            }
        }
        assert_eq!(network.unused(), vec![], "{flow}: entries left unused");
    }
}

#[test]
fn a_replayed_body_carries_headers_that_agree_with_it() {
    // The static page's CSS and JS were served gzip-compressed; the HAR holds them decoded.
    let har = captured("static", 3);
    let css = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/static/site.css"))
        .unwrap();
    assert!(
        spool_model::har::header(&css.response.headers, "content-encoding").is_some(),
        "the fixture capture should show the CSS was compressed on the wire"
    );
    let mut network = RecordedNetwork::new(&har, MatchConfig::default());
    let answer = network.answer(&ReplayRequest::from_entry(css));
    let body = body_text(&answer);
    assert_eq!(Some(body.as_str()), css.response.content.text.as_deref());
    assert_eq!(header(&answer, "content-encoding"), None);
    assert_eq!(
        header(&answer, "content-length"),
        Some(body.len().to_string().as_str())
    );

    // A binary body (base64 in the HAR) is served as its bytes.
    let png = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/static/pixel.png"))
        .unwrap();
    match network.answer(&ReplayRequest::from_entry(png)) {
        Answer::Recorded { response, .. } => {
            assert_eq!(&response.body[..8], b"\x89PNG\r\n\x1a\n");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_polling_endpoint_replays_its_recorded_answers_in_order_then_repeats_the_last() {
    let har = replay_fixture("poll.l3.har");
    let mut network = RecordedNetwork::new(&har, MatchConfig::default());
    let status = get("http://127.0.0.1:18931/api/poll/status?job=7");
    let answers: Vec<String> = (0..5)
        .map(|_| body_text(&network.answer(&status)))
        .collect();
    let steps: Vec<&str> = answers
        .iter()
        .map(|a| {
            if a.contains("\"step\":1") {
                "1 pending"
            } else if a.contains("\"step\":2") {
                "2 pending"
            } else if a.contains("\"step\":3") {
                "3 ready"
            } else {
                "?"
            }
        })
        .collect();
    assert_eq!(
        steps,
        ["1 pending", "2 pending", "3 ready", "3 ready", "3 ready"]
    );
    let polls: Vec<usize> = (0..har.log.entries.len())
        .filter(|i| har.log.entries[*i].request.url.contains("/api/poll/status"))
        .collect();
    assert_eq!(polls.len(), 3);
    let served: Vec<usize> = polls.iter().map(|i| network.times_served(*i)).collect();
    assert_eq!(served, [1, 1, 3]);
}

#[test]
fn a_redirect_replays_as_its_status_with_a_location_and_a_refused_connection_as_a_failure() {
    let mut network =
        RecordedNetwork::new(&replay_fixture("edge-cases.har"), MatchConfig::default());
    let answer = network.answer(&get("http://127.0.0.1:18931/poll/old"));
    match &answer {
        Answer::Recorded { response, .. } => assert_eq!(response.status, 302),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        header(&answer, "location"),
        Some("http://127.0.0.1:18931/poll/")
    );

    match network.answer(&get("http://127.0.0.1:9/unreachable")) {
        Answer::Failed { error, .. } => assert_eq!(error, "net::ERR_CONNECTION_REFUSED"),
        other => panic!("{other:?}"),
    }

    // The document was recorded gzip-compressed with a length that no longer holds.
    let page = network.answer(&get("http://127.0.0.1:18931/poll/"));
    assert_eq!(header(&page, "content-encoding"), None);
    let len = body_text(&page).len().to_string();
    assert_eq!(header(&page, "content-length"), Some(len.as_str()));
}

#[test]
fn a_cors_preflight_the_recording_lacks_is_allowed_for_what_it_asks() {
    let mut network = RecordedNetwork::new(&captured("shop", 3), MatchConfig::default());
    let preflight = ReplayRequest {
        method: "OPTIONS".into(),
        url: "http://127.0.0.1:18931/api/orders".into(),
        headers: vec![
            ("Origin".into(), "http://localhost:18931".into()),
            ("Access-Control-Request-Method".into(), "POST".into()),
            (
                "Access-Control-Request-Headers".into(),
                "authorization,content-type".into(),
            ),
        ],
        body: None,
    };
    let answer = network.answer(&preflight);
    assert!(matches!(answer, Answer::Preflight { .. }), "{answer:?}");
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some("http://localhost:18931")
    );
    assert_eq!(
        header(&answer, "access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        header(&answer, "access-control-allow-headers"),
        Some("authorization,content-type")
    );
}

#[test]
fn a_changed_request_gets_its_nearest_entry_and_every_difference() {
    let har = captured("shop", 3);
    let login = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/api/login"))
        .unwrap();
    let mut changed = ReplayRequest::from_entry(login);
    let body = changed.body.take().unwrap();
    changed.body = Some(body.replace("wonderland", "looking-glass"));
    changed.url.push_str("?lang=en");

    let mut network = RecordedNetwork::new(&har, MatchConfig::default());
    let Answer::Unmatched {
        near_miss: Some(near),
    } = network.answer(&changed)
    else {
        panic!("a changed login must not match");
    };
    assert_eq!(near.url, login.request.url);
    assert_eq!(near.method, "POST");
    assert_eq!(
        near.differences,
        vec![
            Difference::QueryParam {
                name: "lang".into(),
                recorded: None,
                requested: Some("en".into()),
            },
            Difference::BodyPath {
                path: "password".into(),
                recorded: Some("\"wonderland\"".into()),
                requested: Some("\"looking-glass\"".into()),
            },
        ]
    );
    assert_eq!(
        near.differences[1].to_string(),
        r#"body path password: recorded "wonderland", requested "looking-glass""#
    );

    // Another method on a recorded path is nearest to that path's entry.
    let mut put = ReplayRequest::from_entry(login);
    put.method = "PUT".into();
    let near = network.nearest(&put).unwrap();
    assert_eq!(near.url, login.request.url);
    assert!(near.differences.contains(&Difference::Method {
        recorded: "POST".into(),
        requested: "PUT".into()
    }));

    // Nothing was served, so everything is unused.
    assert_eq!(network.unused().len(), har.log.entries.len());
}

#[test]
fn ignored_query_params_headers_and_body_paths_do_not_decide_a_match() {
    let har = replay_fixture("edge-cases.har");
    let search = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/api/poll/search"))
        .unwrap();
    let mut request = ReplayRequest::from_entry(search);
    request.url.push_str("?_=1733000000");
    request.body = Some("page=1&q=teal&nonce=b2".into());
    request.headers.push(("X-Request-Id".into(), "abc".into()));

    let mut strict = RecordedNetwork::new(&har, MatchConfig::default());
    let Answer::Unmatched {
        near_miss: Some(near),
    } = strict.answer(&request)
    else {
        panic!("the changed search must not match without normalization");
    };
    let names: Vec<String> = near
        .differences
        .iter()
        .map(|d| match d {
            Difference::QueryParam { name, .. } => format!("query {name}"),
            Difference::Header { name, .. } => format!("header {name}"),
            Difference::BodyPath { path, .. } => format!("body {path}"),
            other => format!("{other}"),
        })
        .collect();
    assert_eq!(names, ["query _", "header x-request-id", "body nonce"]);

    let config = MatchConfig {
        ignore_query_params: ["_".to_string()].into(),
        ignore_headers: ["X-Request-Id".to_string()].into(),
        ignore_body_paths: ["nonce".to_string()].into(),
    };
    let mut relaxed = RecordedNetwork::new(&har, config);
    assert!(matches!(
        relaxed.answer(&request),
        Answer::Recorded { entry: 3, .. }
    ));
}

#[test]
fn volatile_fields_of_two_recordings_of_the_shop_make_one_replay_the_other() {
    // Two captures of the shop flow against two fixture servers: the CSRF value and the
    // bearer token are new each time, everything else is the same.
    let (first, second) = (captured("shop", 2), captured("shop", 3));
    let volatile = volatile_fields(&first, &second);
    assert!(volatile.query_params.is_empty(), "{volatile:?}");
    assert_eq!(
        volatile.body_paths,
        ["csrf".to_string()].into(),
        "{volatile:?}"
    );
    assert_eq!(
        volatile.headers,
        ["authorization".to_string()].into(),
        "{volatile:?}"
    );

    // Without normalization the second recording's login is not the first's.
    let login = second
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/api/login"))
        .unwrap();
    let mut strict = RecordedNetwork::new(&first, MatchConfig::default());
    assert!(matches!(
        strict.answer(&ReplayRequest::from_entry(login)),
        Answer::Unmatched { .. }
    ));

    // Ignoring what differs, every request of one recording is answered by the other.
    let mut network = RecordedNetwork::new(&first, MatchConfig::default().ignoring(&volatile));
    for entry in &second.log.entries {
        let request = ReplayRequest::from_entry(entry);
        assert!(
            matches!(network.answer(&request), Answer::Recorded { .. }),
            "{} {} unmatched: {:?}",
            request.method,
            request.url,
            network.nearest(&request)
        );
    }
    assert_eq!(network.unused(), vec![]);
}

#[test]
fn a_json_path_written_with_a_dollar_or_naming_a_parent_is_ignored_too() {
    let har = captured("shop", 3);
    let order = har
        .log
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/api/orders"))
        .unwrap();
    let mut request = ReplayRequest::from_entry(order);
    let mut body: serde_json::Value =
        serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    body["offer"] = "off_other".into();
    body["csrf"] = "other".into();
    request.body = Some(body.to_string());

    let config = MatchConfig {
        ignore_body_paths: ["$.offer".to_string(), "csrf".to_string()].into(),
        ..MatchConfig::default()
    };
    let mut network = RecordedNetwork::new(&har, config);
    assert!(matches!(network.answer(&request), Answer::Recorded { .. }));
}

#[test]
fn during_an_action_the_answer_that_action_caused_is_preferred() {
    let mut network =
        RecordedNetwork::new(&replay_fixture("action-tagged.har"), MatchConfig::default());
    let cart = get("http://127.0.0.1:18931/api/cart");
    // The page load, before any action: the recorded order.
    assert_eq!(
        body_text(&network.answer_during(&cart, None)),
        r#"{"items":0}"#
    );
    // Action 4 gets what it caused in the recording, although action 2's answer comes
    // first in recorded order (the replay may have skipped a request of action 2).
    assert_eq!(
        body_text(&network.answer_during(&cart, Some(4))),
        r#"{"items":2}"#
    );
    assert_eq!(
        body_text(&network.answer_during(&cart, Some(2))),
        r#"{"items":1}"#
    );
    // Without an action, `answer` keeps the recorded order.
    let mut plain =
        RecordedNetwork::new(&replay_fixture("action-tagged.har"), MatchConfig::default());
    let in_order: Vec<String> = (0..3).map(|_| body_text(&plain.answer(&cart))).collect();
    assert_eq!(
        in_order,
        [r#"{"items":0}"#, r#"{"items":1}"#, r#"{"items":2}"#]
    );
}
