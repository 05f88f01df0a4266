//! The report's data and HTML built from files in fixtures/: a real capture of the shop flow
//! (`fixtures/har/flows/shop.l3.har`) with the hand-written streams of
//! `fixtures/report/shop-streams.json` (metadata, actions, console, screenshots timed
//! against its entries). No browser: what the page is given, checked as the page reads it.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

use serde_json::Value;
use spool_model::har::Har;
use spool_model::session::{Action, ConsoleEntry, Screenshot};
use spool_report::{
    RegressionData, RegressionDifference, RegressionLine, RegressionStep, RegressionStepStatus,
    ReportConfig, ReportData, ReportSource, analyze_source, build, regression_report, render,
};
use spool_store::SessionMetadata;
use std::path::PathBuf;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    let p = fixture(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", p.display()))
}

/// The shop session; screenshot `i` gets `shot_sizes[i]` bytes of image data.
fn shop_source(shot_sizes: [usize; 3]) -> ReportSource {
    let streams: Value = serde_json::from_slice(&read("report/shop-streams.json")).unwrap();
    let har: Har = serde_json::from_slice(&read("har/flows/shop.l3.har")).unwrap();
    let metadata: SessionMetadata = serde_json::from_value(streams["metadata"].clone()).unwrap();
    let actions: Vec<Action> = serde_json::from_value(streams["actions"].clone()).unwrap();
    let console: Vec<ConsoleEntry> = serde_json::from_value(streams["console"].clone()).unwrap();
    let mut screenshots: Vec<Screenshot> =
        serde_json::from_value(streams["screenshots"].clone()).unwrap();
    for (shot, size) in screenshots.iter_mut().zip(shot_sizes) {
        shot.data = vec![7u8; size];
    }
    ReportSource {
        metadata,
        har,
        console,
        actions,
        screenshots,
    }
}

/// The secrets recorded in shop.l3.har: the CSRF value of the login page, the bearer token
/// the login answers with, the `session` cookie it sets.
const RECORDED_SECRETS: [&str; 3] = [
    "3d96291a402f99cefac724af1f8e7ec0",
    "baJMVsmexngaYYrvimTARprM9ZSQ24FaXwlchjok",
    "ae50660dfa50020f17706a6d7eccc74b",
];

fn data(source: &ReportSource, config: &ReportConfig) -> ReportData {
    let analysis = analyze_source(source).unwrap();
    build(source, Ok(&analysis), config)
}

#[test]
fn entries_console_and_screenshots_belong_to_the_action_they_follow() {
    let source = shop_source([100, 100, 100]);
    let d = data(&source, &ReportConfig::default());

    assert_eq!(d.entries.len(), source.har.log.entries.len());
    assert_eq!(d.actions.len(), 4);
    assert_eq!(d.console.len(), 2);
    assert_eq!(d.screenshots.len(), 3);

    // The page and its assets load after the navigation; the click causes the four API
    // calls and the favicon.
    let caused: Vec<Option<usize>> = d.entries.iter().map(|e| e.action).collect();
    assert_eq!(
        caused,
        vec![
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(3),
            Some(3),
            Some(3),
            Some(3),
            Some(3)
        ]
    );
    let counts: Vec<(usize, usize)> = d
        .actions
        .iter()
        .map(|a| (a.entry_count, a.console_count))
        .collect();
    assert_eq!(counts, vec![(4, 1), (0, 0), (0, 0), (5, 1)]);
    // The navigation screenshot follows the navigation; the others follow the click.
    let shots: Vec<Vec<usize>> = d.actions.iter().map(|a| a.screenshots.clone()).collect();
    assert_eq!(shots, vec![vec![0], vec![], vec![], vec![1, 2]]);
    assert_eq!(d.console[1].stack.len(), 2);
    assert_eq!(d.console[1].level, "error");
}

#[test]
fn a_request_that_starts_just_before_its_action_timestamp_is_still_the_actions() {
    // The recorder timestamps an action when it hears of it, a few ms after the page
    // acted: here the sign-in click is stamped 8 ms after the login request started.
    let mut source = shop_source([10, 10, 10]);
    source.actions[3].timestamp = "2026-11-23T11:40:33.125Z".into();
    let d = data(&source, &ReportConfig::default());
    assert_eq!(
        d.entries[4].action,
        Some(3),
        "the login belongs to the click"
    );
    assert_eq!(d.entries[3].action, Some(0), "the logo does not");
}

#[test]
fn timings_types_and_status_classes_come_from_the_har() {
    let source = shop_source([10, 10, 10]);
    let d = data(&source, &ReportConfig::default());
    let order = &d.entries[7];
    assert_eq!(order.method, "POST");
    assert!(order.url.ends_with("/api/orders"));
    assert_eq!(order.status, 201);
    assert_eq!(order.status_class, "2xx");
    assert_eq!(order.resource_type, "fetch");
    assert_eq!(order.timings.wait, 5.928);
    assert_eq!(d.entries[0].timings.dns, -1.0, "absent phases stay -1");
    let types: Vec<&str> = d.entries.iter().map(|e| e.resource_type.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "document",
            "stylesheet",
            "script",
            "image",
            "fetch",
            "fetch",
            "fetch",
            "fetch",
            "other"
        ]
    );
    // Offsets count from the session's start, the earliest recorded moment here.
    assert_eq!(d.entries[0].offset_ms, 59.0);
}

#[test]
fn secrets_are_redacted_as_exports_redact_them() {
    let source = shop_source([10, 10, 10]);
    let html = render(&data(&source, &ReportConfig::default())).unwrap();
    for secret in RECORDED_SECRETS {
        assert!(
            !html.contains(secret),
            "the report shows the recorded secret {secret}"
        );
    }
    // The typed password and the start URL's token never reach the page either.
    let d = data(&source, &ReportConfig::default());
    assert_eq!(d.actions[2].value.as_deref(), Some("[REDACTED]"));
    assert_eq!(d.actions[1].value.as_deref(), Some("alice"));
    assert!(!html.contains("start-url-secret"));
    let login = d.entries[4].request_body.as_ref().unwrap();
    assert!(
        login
            .text
            .as_ref()
            .unwrap()
            .contains("\"password\":\"[REDACTED]\""),
        "{login:?}"
    );
    // Headers keep their names with the values redacted, as in an export.
    let set_cookie = d.entries[4]
        .response_headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .unwrap();
    assert_eq!(
        set_cookie.1,
        "session=[REDACTED]; Path=/; HttpOnly; SameSite=Lax"
    );
}

#[test]
fn bodies_and_screenshots_over_the_limits_are_left_out_with_a_note() {
    let source = shop_source([100, 3_000, 2_300_000]);
    let config = ReportConfig {
        max_body_bytes: 1_000,
        max_screenshot_bytes: 2_000,
        served_from: None,
    };
    let d = data(&source, &config);
    // shop.js (2,378 bytes) is over 1,000; the login response (86 bytes) is not.
    let script = d.entries[2].response_body.as_ref().unwrap();
    assert_eq!(script.text, None);
    assert_eq!(
        script.omitted.as_deref(),
        Some("body of 2.4 kB left out; open the report from `spool serve` to load it")
    );
    assert_eq!(script.lazy_url, None);
    assert!(d.entries[4].response_body.as_ref().unwrap().text.is_some());

    assert!(
        d.screenshots[0]
            .data_url
            .as_ref()
            .unwrap()
            .starts_with("data:image/webp;base64,")
    );
    assert_eq!(d.screenshots[1].data_url, None);
    assert_eq!(
        d.screenshots[2].omitted.as_deref(),
        Some("screenshot of 2.3 MB left out; open the report from `spool serve` to load it")
    );
    let html = render(&d).unwrap();
    assert!(
        html.len() < 200_000,
        "the big screenshot stayed out: {}",
        html.len()
    );

    // Served, the same parts load from the server's routes.
    let served = ReportConfig {
        served_from: Some("/api/v1/sessions/ID".into()),
        ..config
    };
    let d = data(&source, &served);
    assert_eq!(
        d.entries[2]
            .response_body
            .as_ref()
            .unwrap()
            .lazy_url
            .as_deref(),
        Some("/api/v1/sessions/ID/entries/2/body?part=response")
    );
    assert_eq!(
        d.screenshots[2].lazy_url.as_deref(),
        Some("/api/v1/sessions/ID/screenshots/2")
    );
}

#[test]
fn the_analysis_section_holds_the_chain_its_value_flows_and_the_code() {
    let source = shop_source([10, 10, 10]);
    let analysis = analyze_source(&source).unwrap();
    let d = build(&source, Ok(&analysis), &ReportConfig::default());
    let a = &d.analysis;
    assert_eq!(a.error, None);
    assert_eq!(a.nodes.len(), analysis.chain.len());
    assert!(a.nodes.len() >= 2, "the order depends on earlier calls");
    let target = a.nodes.iter().find(|n| n.is_target).unwrap();
    assert!(target.url.ends_with("/api/orders"));
    assert!(target.depth > 0);
    assert!(!a.edges.is_empty());
    for e in &a.edges {
        assert!(a.nodes.iter().any(|n| n.entry == e.from));
        assert!(a.nodes.iter().any(|n| n.entry == e.to));
        assert!(!e.from_location.is_empty() && !e.to_location.is_empty());
    }
    assert_eq!(
        a.modality.as_deref(),
        analysis.recommended_modality.map(|m| m.as_str())
    );
    assert!(!a.reasons.is_empty());
    assert!(a.python.contains("requests"));
    assert!(a.curl.contains("curl"));
}

#[test]
fn a_failed_analysis_leaves_the_rest_of_the_report() {
    let source = shop_source([10, 10, 10]);
    let d = build(&source, Err("no API call"), &ReportConfig::default());
    assert_eq!(d.analysis.error.as_deref(), Some("no API call"));
    assert_eq!(d.entries.len(), 9);
}

#[test]
fn recorded_markup_cannot_end_the_data_block() {
    let mut source = shop_source([10, 10, 10]);
    source.console[0].text = "</script><script>alert(1)</script>".into();
    let html = render(&build(&source, Err("skipped"), &ReportConfig::default())).unwrap();
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "the template's two scripts only"
    );
    let start = html.find("id=\"spool-data\">").unwrap() + "id=\"spool-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let back: ReportData = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(back.console[0].text, "</script><script>alert(1)</script>");
}

#[test]
fn the_regression_seam_renders_its_steps_into_the_page() {
    let source = shop_source([10, 10, 10]);
    let regression = RegressionData {
        passed: false,
        regressions: vec![RegressionLine {
            kind: "statusChanged".into(),
            step: "click #login-button".into(),
            message: "POST /api/orders answered 409, recorded 201".into(),
        }],
        steps: vec![
            RegressionStep {
                action: None,
                name: "page load".into(),
                ..Default::default()
            },
            RegressionStep {
                action: Some(3),
                name: "click #login-button".into(),
                status: RegressionStepStatus::Changed,
                requests: vec![RegressionDifference {
                    subject: "POST /api/orders".into(),
                    recorded: Some("201".into()),
                    replayed: Some("409".into()),
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let html = regression_report(
        &source,
        Err("skipped"),
        regression,
        &ReportConfig::default(),
    )
    .unwrap();
    assert!(html.contains("\"status\":\"changed\""));
    assert!(html.contains("answered 409, recorded 201"));
}
