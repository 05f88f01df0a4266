//! Live captures of every fixture flow at every capture level, in real headless Chromium,
//! against the fixture app on 127.0.0.1. Each test checks what a user would look for in the
//! HAR and the console stream.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::assert_valid_har;
use spool_engine::{
    Browser, BrowserSource, BrowserState, Capture, CaptureConfig, LaunchConfig, NoSink,
    har_from_events,
};
use spool_fixtures::FixtureServer;
use spool_model::har::{Entry, Har, header};
use spool_model::session::{CaptureLevel, ConsoleLevel, ConsoleSource};
use std::time::Duration;

const LEVELS: [CaptureLevel; 4] = [
    CaptureLevel::Metadata,
    CaptureLevel::Api,
    CaptureLevel::Full,
    CaptureLevel::Forensic,
];

async fn capture_flow(server: &FixtureServer, path: &str, level: CaptureLevel) -> Capture {
    capture_flow_raw(server, path, level).await.0
}

/// A capture and the raw CDP events it handed to its sink (level 4 only).
async fn capture_flow_raw(
    server: &FixtureServer,
    path: &str,
    level: CaptureLevel,
) -> (Capture, Vec<u8>) {
    let mut config = CaptureConfig::new(server.url(path));
    config.level = level;
    config.timeout = Duration::from_secs(40);
    config.wait_for = Some("document.title === 'done'".into());
    let mut raw = common::RawEvents::default();
    let capture = common::capture_with(&config, &mut raw)
        .await
        .unwrap_or_else(|e| panic!("capture of {path} at level {level} failed: {e}"));
    assert_eq!(
        capture.stop_reason,
        spool_engine::StopReason::NetworkIdle,
        "{path} at level {level} did not finish (title never became 'done')"
    );
    assert_valid_har(&capture.har, &format!("{path} level {level}"));
    (capture, raw.0)
}

fn find<'a>(har: &'a Har, method: &str, path_and_query: &str) -> &'a Entry {
    har.log
        .entries
        .iter()
        .find(|e| {
            e.request.method == method
                && url::Url::parse(&e.request.url)
                    .map(|u| {
                        let pq = match u.query() {
                            Some(q) => format!("{}?{q}", u.path()),
                            None => u.path().to_string(),
                        };
                        pq == path_and_query
                    })
                    .unwrap_or(false)
        })
        .unwrap_or_else(|| {
            let seen: Vec<String> = har
                .log
                .entries
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {}",
                        e.request.method, e.request.url, e.response.status
                    )
                })
                .collect();
            panic!(
                "no {method} {path_and_query} in the HAR; entries:\n{}",
                seen.join("\n")
            )
        })
}

fn body(e: &Entry) -> Option<&str> {
    e.response.content.text.as_deref()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_flow_at_every_level() {
    for level in LEVELS {
        let server = FixtureServer::start().await.unwrap();
        let (cap, raw) = capture_flow_raw(&server, "/shop/?auto=1", level).await;
        let har = &cap.har;

        let page = find(har, "GET", "/shop/?auto=1");
        assert_eq!(page.response.status, 200);
        assert_eq!(page.custom_str("_resourceType"), Some("document"));
        let login = find(har, "POST", "/api/login");
        assert_eq!(login.response.status, 200);
        let posted = login.request.post_data.as_ref().expect("login has a body");
        assert!(
            posted
                .text
                .as_deref()
                .unwrap()
                .contains("\"username\":\"alice\"")
        );
        assert!(
            login
                .response
                .cookies
                .iter()
                .any(|c| c.name == "session" && c.http_only == Some(true)),
            "login sets an HttpOnly session cookie"
        );
        let items = find(har, "GET", "/api/items");
        assert_eq!(items.response.status, 200);
        assert!(
            header(&items.request.headers, "authorization")
                .unwrap()
                .starts_with("Bearer ")
        );
        assert!(
            items.request.cookies.iter().any(|c| c.name == "session"),
            "the session cookie went with /api/items: {:?}",
            items.request.cookies
        );
        assert_eq!(find(har, "GET", "/api/items/40712").response.status, 200);
        let order = find(har, "POST", "/api/orders");
        assert_eq!(order.response.status, 201);
        assert_eq!(
            server.orders().len(),
            1,
            "the page placed exactly one order"
        );

        let logo = find(har, "GET", "/shop/logo.png");
        match level {
            CaptureLevel::Metadata => {
                assert!(
                    har.log
                        .entries
                        .iter()
                        .all(|e| e.response.content.text.is_none()),
                    "level 1 keeps no bodies"
                );
            }
            CaptureLevel::Api => {
                assert!(body(login).unwrap().contains("token"));
                assert!(body(items).unwrap().contains("40712"));
                assert!(body(order).unwrap().contains("confirmed"));
                assert!(body(page).is_some(), "documents keep their body at level 2");
                assert!(body(logo).is_none(), "images are not kept at level 2");
            }
            CaptureLevel::Full | CaptureLevel::Forensic => {
                assert!(body(order).unwrap().contains("confirmed"));
                assert_eq!(logo.response.content.encoding.as_deref(), Some("base64"));
                assert!(body(logo).is_some(), "level 3 keeps every body");
            }
        }
        // Timings are HAR timings: non-negative phases adding up to `time`.
        for e in &har.log.entries {
            let t = &e.timings;
            assert!(t.send >= 0.0 && t.wait >= 0.0 && t.receive >= 0.0);
            assert!(
                (e.time - t.total()).abs() < 0.01,
                "time {} != sum {}",
                e.time,
                t.total()
            );
        }
        assert_eq!(har.log.pages.len(), 1);
        assert!(har.log.pages[0].page_timings.on_load > 0.0);
        assert!(
            har.log
                .entries
                .iter()
                .all(|e| e.pageref.as_deref() == Some("page_1"))
        );

        if level == CaptureLevel::Forensic {
            // The raw CDP events rebuild the same network log.
            assert!(!raw.is_empty(), "level 4 hands out raw events");
            let rebuilt = har_from_events(&raw).unwrap();
            let urls = |h: &Har| {
                let mut v: Vec<(String, String, i64)> = h
                    .log
                    .entries
                    .iter()
                    .map(|e| {
                        (
                            e.request.method.clone(),
                            e.request.url.clone(),
                            e.response.status,
                        )
                    })
                    .collect();
                v.sort();
                v
            };
            assert_eq!(urls(&rebuilt), urls(har));
            assert_valid_har(&rebuilt, "the HAR rebuilt from level-4 events");
        } else {
            assert!(raw.is_empty(), "only level 4 hands out raw events");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noisy_flow_at_every_level() {
    let server = FixtureServer::start().await.unwrap();
    for level in LEVELS {
        let cap = capture_flow(&server, "/noisy/", level).await;
        let har = &cap.har;

        // The redirect chain: one entry per hop, each pointing at the next.
        let r1 = find(har, "GET", "/noisy/r1");
        assert_eq!(r1.response.status, 302);
        assert!(
            r1.response.redirect_url.ends_with("/noisy/r2"),
            "{}",
            r1.response.redirect_url
        );
        let r2 = find(har, "GET", "/noisy/r2");
        assert_eq!(r2.response.status, 301);
        assert!(r2.response.redirect_url.ends_with("/noisy/r3"));
        assert_eq!(find(har, "GET", "/noisy/r3").response.status, 200);
        assert!(r1.response.content.text.is_none(), "redirects have no body");

        assert_eq!(find(har, "GET", "/noisy/missing").response.status, 404);

        let refused = har
            .log
            .entries
            .iter()
            .find(|e| e.request.url.ends_with("/closed"))
            .expect("the request to the closed port is in the HAR");
        assert_eq!(refused.response.status, 0);
        let error = refused
            .response
            .custom
            .get("_error")
            .and_then(|v| v.as_str())
            .unwrap();
        assert!(error.contains("ERR_CONNECTION_REFUSED"), "{error}");

        // The cross-origin iframe is its own target; its requests are captured too.
        let frame_data = har
            .log
            .entries
            .iter()
            .find(|e| e.request.url.contains("/api/noisy/frame-data"))
            .expect("the iframe's fetch is captured");
        assert!(frame_data.request.url.starts_with("http://localhost:"));
        assert_eq!(frame_data.response.status, 200);

        let ws = har
            .log
            .entries
            .iter()
            .find(|e| e.custom_str("_resourceType") == Some("websocket"))
            .expect("the WebSocket is an entry");
        assert_eq!(ws.response.status, 101);
        let messages = ws.custom.get("_webSocketMessages");
        if level >= CaptureLevel::Full {
            let messages = messages
                .and_then(|m| m.as_array())
                .expect("frames kept at level 3");
            let sent: Vec<&str> = messages
                .iter()
                .filter(|m| m["type"] == "send")
                .filter_map(|m| m["data"].as_str())
                .collect();
            let received: Vec<&str> = messages
                .iter()
                .filter(|m| m["type"] == "receive")
                .filter_map(|m| m["data"].as_str())
                .collect();
            assert_eq!(sent, ["ping-1", "ping-2"]);
            assert_eq!(received, ["ping-1", "ping-2"]);
        } else {
            assert!(messages.is_none(), "no frames below level 3");
        }

        let console = &cap.console;
        let texts: Vec<&str> = console.iter().map(|c| c.text.as_str()).collect();
        let exception = console
            .iter()
            .find(|c| c.source == ConsoleSource::Exception)
            .unwrap_or_else(|| panic!("the uncaught exception is recorded: {texts:?}"));
        assert!(exception.text.contains("noisy-boom"), "{}", exception.text);
        assert_eq!(exception.level, ConsoleLevel::Error);
        assert!(texts.contains(&"noisy-error"));
        if level == CaptureLevel::Metadata {
            assert!(
                console.iter().all(|c| c.level == ConsoleLevel::Error),
                "level 1 keeps errors only: {texts:?}"
            );
        } else {
            for (text, lvl) in [
                ("noisy-debug", ConsoleLevel::Debug),
                ("noisy-log", ConsoleLevel::Log),
                ("noisy-info", ConsoleLevel::Info),
                ("noisy-warn", ConsoleLevel::Warning),
                ("noisy-error", ConsoleLevel::Error),
            ] {
                let entry = console
                    .iter()
                    .find(|c| c.text == text)
                    .unwrap_or_else(|| panic!("{text} missing: {texts:?}"));
                assert_eq!(entry.level, lvl);
                assert!(
                    entry.url.as_deref().unwrap_or("").contains("/noisy/"),
                    "{entry:?}"
                );
            }
            assert!(
                texts.contains(&"frame-log"),
                "the iframe's console is captured: {texts:?}"
            );
        }
        if level == CaptureLevel::Forensic {
            assert!(!exception.stack.is_empty(), "stack traces at level 4");
        } else {
            assert!(exception.stack.is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_signed_and_captcha_flows_at_every_level() {
    let server = FixtureServer::start().await.unwrap();
    for level in LEVELS {
        let cap = capture_flow(&server, "/static/", level).await;
        let har = &cap.har;
        let kinds: Vec<&str> = har
            .log
            .entries
            .iter()
            .filter_map(|e| e.custom_str("_resourceType"))
            .collect();
        for kind in ["document", "stylesheet", "script", "image", "font"] {
            assert!(
                kinds.contains(&kind),
                "{kind} missing at level {level}: {kinds:?}"
            );
        }
        let css = har
            .log
            .entries
            .iter()
            .find(|e| e.custom_str("_resourceType") == Some("stylesheet"))
            .unwrap();
        assert_eq!(
            header(&css.response.headers, "content-encoding"),
            Some("gzip")
        );
        let transfer = css
            .response
            .custom
            .get("_transferSize")
            .and_then(|v| v.as_i64())
            .unwrap();
        assert!(transfer > 0);
        if level >= CaptureLevel::Full {
            // Bodies are decoded: the gzip on the wire is not what is stored.
            assert!(body(css).unwrap().contains('{'));
            assert!(
                css.response.content.size > css.response.body_size,
                "decoded size beats wire size"
            );
        }

        let signed = capture_flow(&server, "/signed/", level).await;
        let profile = find(&signed.har, "GET", "/api/signed/profile");
        assert_eq!(profile.response.status, 200);
        assert!(header(&profile.request.headers, "x-signature").is_some());
        assert_eq!(
            find(&signed.har, "POST", "/api/signed/report")
                .response
                .status,
            201
        );

        let captcha = capture_flow(&server, "/captcha/?auto=1", level).await;
        let submit = find(&captcha.har, "POST", "/api/captcha/submit");
        assert!(
            submit.response.status < 300,
            "captcha submit answered {}",
            submit.response.status
        );
        let form = submit.request.post_data.as_ref().unwrap();
        assert!(
            form.text
                .as_deref()
                .unwrap()
                .contains("g-recaptcha-response")
        );
    }
}

/// The `wait_for` expression sees the page's names, never those of the checker the capture
/// runs in the page: a page global called `done` or `check` must not be hidden by them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_sees_the_pages_names_not_the_checkers() {
    let server = FixtureServer::start().await.unwrap();
    let mut config = CaptureConfig::new(server.url("/shop/?auto=1"));
    config.level = CaptureLevel::Api;
    config.timeout = Duration::from_secs(20);
    // None of these is a global of the shop page.
    config.wait_for = Some(
        "document.title === 'done' && typeof done === 'undefined' && typeof check === 'undefined' \
         && typeof until === 'undefined' && typeof timer === 'undefined' \
         && typeof observer === 'undefined' && typeof answer === 'undefined'"
            .into(),
    );
    let cap = common::capture_alone(&config).await.unwrap();
    assert_eq!(
        cap.stop_reason,
        spool_engine::StopReason::NetworkIdle,
        "the expression saw names the page does not have"
    );
    assert_eq!(cap.har.log.pages[0].title, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_state_is_visible_to_the_page() {
    let server = FixtureServer::start().await.unwrap();
    let origin = server.base_url();
    let state: BrowserState = serde_json::from_value(serde_json::json!({
        "cookies": [{ "name": "prefs", "value": "dark-mode" }],
        "localStorage": { "theme": "dark" },
        "sessionStorage": { origin.clone(): { "draft": "hello" } },
    }))
    .unwrap();
    let mut config = CaptureConfig::new(server.url("/state/"));
    config.level = CaptureLevel::Api;
    config.timeout = Duration::from_secs(30);
    config.state = state;
    // The capture only ends on idle once the page itself sees every item.
    config.wait_for = Some(
        "document.title === 'done' && (() => { const s = JSON.parse(document.getElementById('state').textContent); \
         return s.localStorage.theme === 'dark' && s.sessionStorage.draft === 'hello' && s.cookie.includes('prefs=dark-mode'); })()"
            .into(),
    );
    let cap = common::capture_alone(&config).await.unwrap();
    assert_eq!(
        cap.stop_reason,
        spool_engine::StopReason::NetworkIdle,
        "the page never saw the state"
    );
    let page = find(&cap.har, "GET", "/state/");
    assert!(
        page.request
            .cookies
            .iter()
            .any(|c| c.name == "prefs" && c.value == "dark-mode")
    );
    let echoed = find(&cap.har, "GET", "/api/state/cookies");
    assert!(
        body(echoed).unwrap().contains("dark-mode"),
        "the server received the cookie"
    );
    // The placeholder pages used to write storage are not part of the recording.
    assert!(
        cap.har
            .log
            .entries
            .iter()
            .all(|e| !e.request.url.contains("__spool_state__"))
    );
    // Nor is anything those pages fetched on their own (a favicon, sent with the
    // placeholder as its Referer).
    assert!(
        cap.har
            .log
            .entries
            .iter()
            .flat_map(|e| &e.request.headers)
            .all(|h| !h.value.contains("__spool_state__")),
        "a placeholder page's own request was recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_follow_the_options() {
    use spool_engine::ScreenshotOptions;
    use spool_model::session::ImageFormat;
    let server = FixtureServer::start().await.unwrap();
    for (format, magic) in [
        (ImageFormat::Png, &b"\x89PNG"[..]),
        (ImageFormat::Jpeg, &b"\xff\xd8\xff"[..]),
        (ImageFormat::Webp, &b"RIFF"[..]),
    ] {
        let mut config = CaptureConfig::new(server.url("/static/"));
        config.level = CaptureLevel::Api;
        config.wait_for = Some("document.title === 'done'".into());
        config.screenshots = Some(ScreenshotOptions {
            format,
            width: 800,
            height: 600,
            ..Default::default()
        });
        let cap = common::capture_alone(&config).await.unwrap();
        let reasons: Vec<&str> = cap.screenshots.iter().map(|s| s.reason.as_str()).collect();
        assert!(
            reasons.contains(&"navigation") && reasons.contains(&"final"),
            "{reasons:?}"
        );
        for shot in &cap.screenshots {
            assert!(
                shot.data.starts_with(magic),
                "{format:?} screenshot has the wrong encoding"
            );
            assert_eq!((shot.width, shot.height), (800, 600));
        }
        if format == ImageFormat::Png {
            let (w, h) = png_size(&cap.screenshots[0].data);
            assert_eq!((w, h), (800, 600), "the viewport is the screenshot size");
        }
    }
    // One element by selector wins over full page.
    let mut config = CaptureConfig::new(server.url("/static/"));
    config.level = CaptureLevel::Metadata;
    config.wait_for = Some("document.title === 'done'".into());
    config.screenshots = Some(ScreenshotOptions {
        format: ImageFormat::Png,
        full_page: true,
        selector: Some("h1".into()),
        ..Default::default()
    });
    let cap = common::capture_alone(&config).await.unwrap();
    let last = cap.screenshots.last().unwrap();
    let (w, h) = png_size(&last.data);
    assert!(h < 200 && w > 0, "the h1 alone is {w}x{h}");
}

fn png_size(png: &[u8]) -> (u32, u32) {
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (w, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_records_a_running_browser() {
    // A browser "a person runs": launched here, then recorded through its DevTools URL.
    let person = Browser::launch(&LaunchConfig::default()).await.unwrap();
    let server = FixtureServer::start().await.unwrap();
    let mut config = CaptureConfig::new(server.url("/shop/?auto=1"));
    config.wait_for = Some("document.title === 'done'".into());
    let source = BrowserSource::Attach(person.ws_url().to_string());
    let cap = common::capture_from(source, &config, &mut NoSink)
        .await
        .unwrap();
    assert!(
        cap.har
            .log
            .entries
            .iter()
            .any(|e| e.request.url.ends_with("/api/orders"))
    );
    // The attached browser is left running.
    let again = Browser::attach(person.ws_url()).await;
    assert!(again.is_ok(), "the person's browser still runs");
    // Attach over http://host:port too.
    let port = url::Url::parse(person.ws_url()).unwrap().port().unwrap();
    assert!(
        Browser::attach(&format!("http://127.0.0.1:{port}"))
            .await
            .is_ok()
    );
    let err = Browser::attach("ftp://nowhere").await.err().unwrap();
    assert_eq!(err.code(), -32602);
}
