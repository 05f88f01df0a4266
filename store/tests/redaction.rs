//! Secrets are redacted by default in every export, and kept on request.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;

use common::*;
use spool_store::har::{self, Header};
use spool_store::{ExportOptions, SessionEnd, Store};

const SECRETS: &[&str] = &[
    "s3cr3t-sid",
    "hunter2",
    "abc123",
    "Zx81kLm",
    "n3w-sid",
    "eyJhbGciOiJIUzI1NiJ9",
    "K-998877",
    "eyJ0eXAiOiJKV1Qi",
    "T0k3n",
    "ff00aa11bb22",
    "Azerty123",
    "99zz88yy",
    "tok=abc",
];

#[test]
fn fixture_secrets_are_redacted_by_default_and_kept_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let imports = workspace_root().join("fixtures/har/imports");
    for name in ["chrome-devtools.har", "playwright.har", "firefox.har"] {
        let bytes = std::fs::read(imports.join(name)).unwrap();
        let id = store.import_har(&bytes, None).unwrap();
        let original = String::from_utf8(bytes).unwrap();
        let present: Vec<_> = SECRETS.iter().filter(|s| original.contains(**s)).collect();
        assert!(!present.is_empty(), "{name} has secrets to redact");

        let red = serde_json::to_string(&store.export_har(id, &ExportOptions::default()).unwrap())
            .unwrap();
        for s in &present {
            assert!(!red.contains(**s), "{name}: {s} survived redaction");
        }
        assert!(red.contains("[REDACTED]"));
        let red_json =
            serde_json::to_string(&store.export_json(id, &ExportOptions::default()).unwrap())
                .unwrap();
        for s in &present {
            assert!(
                !red_json.contains(**s),
                "{name}: {s} survived in JSON export"
            );
        }

        let kept = serde_json::to_string(
            &store
                .export_har(
                    id,
                    &ExportOptions {
                        include_secrets: true,
                        ..Default::default()
                    },
                )
                .unwrap(),
        )
        .unwrap();
        for s in &present {
            assert!(kept.contains(**s), "{name}: {s} lost with include_secrets");
        }
        assert!(!kept.contains("[REDACTED]"));
    }
}

fn redacted_entry() -> har::Entry {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.begin_session(new_session("secrets")).unwrap();
    let mut e = entry(3);
    e.request.url = "https://x.test/api?user=bob&access_token=AT1&page=2".into();
    e.request.query_string = vec![
        har::QueryParam {
            name: "user".into(),
            value: "bob".into(),
            ..Default::default()
        },
        har::QueryParam {
            name: "access_token".into(),
            value: "AT1".into(),
            ..Default::default()
        },
    ];
    e.request.headers = vec![
        Header::new("Authorization", "Basic dXNlcjpwYXNz"),
        Header::new("Proxy-Authorization", "Negotiate abc"),
        Header::new("Cookie", "sid=S1; prefs=P1"),
        Header::new("X-Api-Key", "KEY1"),
        Header::new("Accept", "text/html"),
    ];
    e.request.cookies = vec![har::Cookie {
        name: "sid".into(),
        value: "S1".into(),
        ..Default::default()
    }];
    e.request.post_data = Some(har::PostData {
        mime_type: "application/x-www-form-urlencoded".into(),
        text: Some("user=bob&password=PW1&client_secret=CS1".into()),
        params: vec![
            har::Param {
                name: "user".into(),
                value: Some("bob".into()),
                ..Default::default()
            },
            har::Param {
                name: "password".into(),
                value: Some("PW1".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    e.response.headers = vec![
        Header::new("Set-Cookie", "sid=S2; Path=/; HttpOnly"),
        Header::new("Location", "https://x.test/cb?code=1&token=TK2"),
    ];
    e.response.cookies = vec![har::Cookie {
        name: "sid".into(),
        value: "S2".into(),
        http_only: Some(true),
        ..Default::default()
    }];
    e.response.content.text =
        Some(r#"{"user":{"name":"bob","apiKey":"AK3"},"refresh_token":"RT3","n":1}"#.into());
    w.append_entries(&[e]).unwrap();
    let id = w.id();
    w.finish(SessionEnd::completed()).unwrap();
    let har = store.export_har(id, &ExportOptions::default()).unwrap();
    har.log.entries.into_iter().next().unwrap()
}

#[test]
fn headers_cookies_query_form_and_json_bodies() {
    let e = redacted_entry();
    let h = |hs: &[Header], n: &str| har::header(hs, n).unwrap().to_string();
    // Headers: scheme and cookie names stay, values go.
    assert_eq!(h(&e.request.headers, "authorization"), "Basic [REDACTED]");
    assert_eq!(
        h(&e.request.headers, "proxy-authorization"),
        "Negotiate [REDACTED]"
    );
    assert_eq!(
        h(&e.request.headers, "cookie"),
        "sid=[REDACTED]; prefs=[REDACTED]"
    );
    assert_eq!(h(&e.request.headers, "x-api-key"), "[REDACTED]");
    assert_eq!(h(&e.request.headers, "accept"), "text/html");
    assert_eq!(
        h(&e.response.headers, "set-cookie"),
        "sid=[REDACTED]; Path=/; HttpOnly"
    );
    assert_eq!(
        h(&e.response.headers, "location"),
        "https://x.test/cb?code=1&token=[REDACTED]"
    );
    // Cookies.
    assert_eq!(e.request.cookies[0].value, "[REDACTED]");
    assert_eq!(e.response.cookies[0].value, "[REDACTED]");
    assert_eq!(e.response.cookies[0].http_only, Some(true));
    // Query string, in the URL and the list.
    assert_eq!(
        e.request.url,
        "https://x.test/api?user=bob&access_token=[REDACTED]&page=2"
    );
    assert_eq!(e.request.query_string[0].value, "bob");
    assert_eq!(e.request.query_string[1].value, "[REDACTED]");
    // Form body, text and params.
    let pd = e.request.post_data.unwrap();
    assert_eq!(
        pd.text.as_deref(),
        Some("user=bob&password=[REDACTED]&client_secret=[REDACTED]")
    );
    assert_eq!(pd.params[0].value.as_deref(), Some("bob"));
    assert_eq!(pd.params[1].value.as_deref(), Some("[REDACTED]"));
    // JSON body at any depth.
    let body: serde_json::Value =
        serde_json::from_str(e.response.content.text.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"user":{"name":"bob","apiKey":"[REDACTED]"},"refresh_token":"[REDACTED]","n":1})
    );
}
