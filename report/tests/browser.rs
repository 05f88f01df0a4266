//! The report of a real session, opened from disk in real headless Chromium.
//!
//! The shop flow of the fixture app is signed into and ordered from with mouse and keyboard
//! input while a live capture records it (level 4: screenshots after actions, console stack
//! traces), the capture is stored, and its report is written to a file and loaded from a
//! `file://` URL. The checks read the page's DOM as a person would see it: the timeline,
//! waterfall, console and chain with the counts of the stored session, an action's click
//! filtering the network list to what it caused, and none of the session's secrets
//! anywhere in the page. Browsers are closed before anything is checked, so a failed check
//! leaves no Chromium behind.

#![allow(clippy::unwrap_used)] // Test code: an unwrap that fails is a failed run.

mod common;

use common::ReportTab;
use common::shop::{PASSWORD, USERNAME, record_shop_session};
use serde_json::{Value, json};
use spool_engine::{Browser, LaunchConfig};
use spool_fixtures::{FixtureConfig, FixtureServer};
use spool_report::{
    RegressionData, RegressionLine, RegressionStep, RegressionStepStatus, ReportConfig,
    ReportSource, analyze_source, build, regression_report, session_report,
};
use spool_store::{Session, Store};
use std::time::Duration;

/// The secrets the session recorded: the typed password, the CSRF value the login sent,
/// the bearer token it answered with and the `session` cookie it set.
fn recorded_secrets(session: &Session) -> Vec<String> {
    let login = session
        .entries
        .iter()
        .find(|e| e.request.url.ends_with("/api/login"))
        .expect("the session recorded the login");
    let sent: Value = serde_json::from_str(
        login
            .request
            .post_data
            .as_ref()
            .unwrap()
            .text
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let answer: Value =
        serde_json::from_str(login.response.content.text.as_ref().unwrap()).unwrap();
    let cookie = login
        .response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("set-cookie"))
        .map(|h| {
            let pair = h.value.split(';').next().unwrap();
            pair.split_once('=').unwrap().1.to_string()
        })
        .expect("the login set the session cookie");
    let secrets = vec![
        PASSWORD.to_string(),
        sent["csrf"].as_str().unwrap().to_string(),
        answer["token"].as_str().unwrap().to_string(),
        cookie,
    ];
    for s in &secrets {
        assert!(s.len() >= 8, "a recorded secret looks wrong: {s:?}");
    }
    assert_eq!(
        sent["password"],
        json!(PASSWORD),
        "the login sent the password"
    );
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_of_a_captured_shop_session_shows_it_all_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let server = FixtureServer::start_with(
        FixtureConfig {
            username: USERNAME.into(),
            password: PASSWORD.into(),
            ..FixtureConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let session = record_shop_session(&store, &server).await;
    drop(server);

    let source = ReportSource::from_session(&session);
    let config = ReportConfig::default();
    let html = session_report(&source, &config).unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, &html).unwrap();
    // What the page should show, from the same data.
    let analysis = analyze_source(&source).unwrap();
    let expected = build(&source, Ok(&analysis), &config);
    // The action that signed in: the sign-in click, or the form submit it caused.
    let click_action = expected
        .entries
        .iter()
        .find(|e| e.url.ends_with("/api/login"))
        .and_then(|e| e.action)
        .expect("the login request follows an action");
    let kinds: Vec<&str> = expected.actions.iter().map(|a| a.kind.as_str()).collect();
    // The screenshots after each action resize the page for a moment; the window itself
    // never changed size, so no viewport action was recorded.
    assert!(!kinds.contains(&"viewport"), "{kinds:?}");
    assert!(
        ["click", "submit"].contains(&kinds[click_action]),
        "the login followed {kinds:?}[{click_action}]"
    );
    let caused: Vec<usize> = expected
        .entries
        .iter()
        .filter(|e| e.action == Some(click_action))
        .map(|e| e.index)
        .collect();

    // The regression seam: the same session with a check's findings on top.
    let regression = RegressionData {
        passed: false,
        regressions: vec![RegressionLine {
            kind: "actionFailed".into(),
            step: "click #login-button".into(),
            message: "no recorded selector found the element".into(),
        }],
        steps: vec![
            RegressionStep {
                name: "page load".into(),
                ..Default::default()
            },
            RegressionStep {
                action: Some(click_action),
                name: "click #login-button".into(),
                status: RegressionStepStatus::Failed,
                message: Some("no recorded selector found the element".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let regression_path = dir.path().join("regression.html");
    std::fs::write(
        &regression_path,
        regression_report(&source, Ok(&analysis), regression, &config).unwrap(),
    )
    .unwrap();

    // Open the file and read everything out of the page before checking any of it.
    let browser = Browser::launch(&LaunchConfig::default()).await.unwrap();
    let url = format!("file://{}", path.display());
    let seen = tokio::time::timeout(Duration::from_secs(90), async {
        let tab = ReportTab::open(&browser, &url).await;
        let mut seen = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            seen.insert(k.to_string(), v);
        };
        put("actions", json!(tab.count("#actions .action[data-index]:not(.page-load)").await));
        put("shots", json!(tab.count("#actions .shot img").await));
        put("rows", json!(tab.visible("#waterfall tbody tr.entry").await));
        put("messages", json!(tab.visible("#messages .message").await));
        put("frames", json!(tab.count("#messages .stack .frame").await));
        put("nodes", json!(tab.count("#chain-graph svg .node").await));
        put("target_nodes", json!(tab.count("#chain-graph svg .node.target").await));
        put("edge_labels", json!(tab.count("#chain-graph svg .edge-label").await));
        put("flows", json!(tab.count("#flows tr.flow").await));
        put("modality", tab.eval("document.getElementById('modality').textContent").await);
        put("code", tab.eval("document.getElementById('code').textContent").await);
        put("html_before", tab.eval("document.documentElement.outerHTML").await);

        tab.click(&format!("#actions .action[data-index=\"{click_action}\"]")).await;
        put("rows_after_click", json!(tab.visible("#waterfall tbody tr.entry").await));
        put(
            "shown_after_click",
            tab.eval("Array.from(document.querySelectorAll('#waterfall tbody tr.entry')).filter(r => !r.hidden).map(r => Number(r.dataset.index))").await,
        );
        put("filter_label", tab.eval("document.getElementById('action-filter').textContent").await);
        put("messages_after_click", json!(tab.visible("#messages .message").await));

        // The login's details, as a person opens them.
        let login = expected
            .entries
            .iter()
            .find(|e| e.url.ends_with("/api/login"))
            .unwrap()
            .index;
        tab.click(&format!("#waterfall tr.entry[data-index=\"{login}\"]")).await;
        put("details", tab.eval("document.getElementById('details').innerText").await);

        tab.click("#show-all").await;
        put("rows_after_show_all", json!(tab.visible("#waterfall tbody tr.entry").await));

        // Type and status filters.
        tab.eval("(() => { const s = document.getElementById('filter-type'); s.value = 'fetch'; s.dispatchEvent(new Event('change')); })()").await;
        put("fetch_rows", json!(tab.visible("#waterfall tbody tr.entry").await));
        put("html_after", tab.eval("document.documentElement.outerHTML").await);
        tab.close().await;

        let tab = ReportTab::open(&browser, &format!("file://{}", regression_path.display())).await;
        put("regression_steps", json!(tab.visible("#regression-steps tr.step").await));
        put("regression_failed", json!(tab.visible("#regression-steps tr.step-failed").await));
        put("regression_lines", tab.eval("document.getElementById('regressions').innerText").await);
        tab.close().await;
        seen
    })
    .await;
    browser.close().await;
    let seen = seen.expect("the report took longer than 90 s to check");

    // The timeline, waterfall, console and chain, with the stored session's counts.
    assert_eq!(seen["actions"], json!(session.actions.len()));
    assert!(session.actions.len() >= 5, "{:#?}", session.actions);
    assert_eq!(seen["shots"], json!(session.screenshots.len()));
    assert!(!session.screenshots.is_empty());
    assert_eq!(seen["rows"], json!(session.entries.len()));
    assert_eq!(seen["messages"], json!(session.console.len()));
    assert!(session.console.len() >= 2, "{:#?}", session.console);
    assert!(
        seen["frames"].as_u64().unwrap() >= 1,
        "a stack trace is shown"
    );
    assert_eq!(seen["nodes"], json!(analysis.chain.len()));
    assert!(analysis.chain.len() >= 2);
    assert_eq!(seen["target_nodes"], json!(1));
    assert_eq!(seen["flows"], json!(expected.analysis.edges.len()));
    assert!(seen["edge_labels"].as_u64().unwrap() >= 1);
    assert_eq!(
        seen["modality"],
        json!(
            analysis
                .recommended_modality
                .map(|m| m.as_str())
                .unwrap_or("none")
        )
    );
    assert!(seen["code"].as_str().unwrap().contains("import requests"));

    // Clicking the sign-in click shows what it caused: fewer rows, the API calls among them.
    let shown: Vec<usize> = serde_json::from_value(seen["shown_after_click"].clone()).unwrap();
    assert_eq!(shown, caused);
    assert!(shown.len() < session.entries.len());
    assert_eq!(seen["rows_after_click"], json!(caused.len()));
    let shown_urls: Vec<&str> = shown
        .iter()
        .map(|i| expected.entries[*i].url.as_str())
        .collect();
    for api in ["/api/login", "/api/items", "/api/orders"] {
        assert!(
            shown_urls.iter().any(|u| u.contains(api)),
            "{api} is not among {shown_urls:?}; actions {:?}; entries {:?}",
            expected
                .actions
                .iter()
                .map(|a| (&a.kind, &a.timestamp, &a.target))
                .collect::<Vec<_>>(),
            expected
                .entries
                .iter()
                .map(|e| (&e.url, e.offset_ms, e.action))
                .collect::<Vec<_>>()
        );
    }
    assert!(!shown_urls.iter().any(|u| u.ends_with("/shop/shop.css")));
    assert!(
        seen["filter_label"]
            .as_str()
            .unwrap()
            .contains(kinds[click_action])
    );
    let caused_messages = expected
        .console
        .iter()
        .filter(|c| c.action == Some(click_action))
        .count();
    assert_eq!(seen["messages_after_click"], json!(caused_messages));
    assert!(
        caused_messages < session.console.len(),
        "the console is filtered too"
    );
    assert_eq!(seen["rows_after_show_all"], json!(session.entries.len()));
    let fetches = expected
        .entries
        .iter()
        .filter(|e| e.resource_type == "fetch")
        .count();
    assert_eq!(seen["fetch_rows"], json!(fetches));

    // The regression report shows its steps, the failing one marked.
    assert_eq!(seen["regression_steps"], json!(2));
    assert_eq!(seen["regression_failed"], json!(1));
    assert!(
        seen["regression_lines"]
            .as_str()
            .unwrap()
            .contains("no recorded selector found the element")
    );

    // Secrets: redacted in the details, and nowhere in the page or the file.
    let details = seen["details"].as_str().unwrap();
    assert!(details.contains("[REDACTED]"), "{details}");
    for secret in recorded_secrets(&session) {
        for (what, text) in [
            ("the file", html.as_str()),
            ("the page", seen["html_before"].as_str().unwrap()),
            (
                "the page after clicks",
                seen["html_after"].as_str().unwrap(),
            ),
            ("the details", details),
        ] {
            assert!(!text.contains(&secret), "{what} shows the secret {secret}");
        }
    }
}
