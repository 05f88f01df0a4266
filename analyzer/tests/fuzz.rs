//! Property test: the analyzer never panics, is deterministic, and everything made from an
//! analysis (scripts, plan, OpenAPI) holds up. Bounded to 256 cases each.
//!
//! - Real captures, damaged: every flow's Chromium capture (`fixtures/har/flows/`, a
//!   missing one fails by name), truncated and with bytes flipped, and with entries dropped
//!   and reordered.
//! - Synthetic HAR-like documents, on purpose: wrong types (`"status": "404"`), URLs no
//!   browser sends (`weird`, `%zz`), headers and bodies in combinations a capture cannot
//!   produce. These are what a HAR from another tool, or a hand-edited one, may hold.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use proptest::prelude::*;
use serde_json::{Value, json};
use spool_analyzer::{
    AnalysisConfig, AnalyzeInput, UserInput, analyze, generate_curl, generate_python, openapi, plan,
};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9_%+/=.:-]{0,40}".prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        Just(json!("tok-ABCDEF123456")),
        Just(json!("Bearer tok-ABCDEF123456")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body_text() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        json_value().prop_map(|v| Value::from(v.to_string())),
        "\\PC{0,60}".prop_map(Value::from),
        Just(json!(
            "<html><input type=hidden name=csrf value=tok-ABCDEF123456><script>var t='tok-ABCDEF123456';</script>"
        )),
        Just(json!("{\"token\":\"tok-ABCDEF123456\",\"id\":40712}")),
        Just(json!("{\"broken\": [")),
        scalar(),
    ]
}

fn url() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "http://a.test",
            "https://b.test:8443",
            "ws://a.test",
            "data:",
            "weird",
            "http://[::1]",
            "https://www.google-analytics.com",
        ]),
        prop::collection::vec(
            prop::sample::select(vec![
                "api",
                "items",
                "40712",
                "tok-ABCDEF123456",
                "x.png",
                "%zz",
                "",
                "9f1c2d3e-1111-4222-8333-444455556666",
            ]),
            0..4,
        ),
        prop::option::of("[a-z]{1,3}=[a-zA-Z0-9%+-]{0,20}"),
    )
        .prop_map(|(o, segs, q)| {
            let mut u = format!("{o}/{}", segs.join("/"));
            if let Some(q) = q {
                u.push('?');
                u.push_str(&q);
            }
            Value::from(u)
        })
}

fn name_values() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "Authorization",
                "Cookie",
                "Set-Cookie",
                "X-Token",
                "Content-Type",
                "Location",
                ":path",
            ]),
            scalar(),
        ),
        0..4,
    )
    .prop_map(|v| {
        Value::Array(
            v.into_iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect(),
        )
    })
}

fn entry() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "OPTIONS", "", "get"]),
        url(),
        name_values(),
        name_values(),
        prop::option::of((prop::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]), body_text())),
        prop::sample::select(vec!["application/json", "text/html", "image/png", "text/plain", "", "application/javascript"]),
        body_text(),
        prop::option::of(prop::sample::select(vec!["document", "xhr", "fetch", "script", "image", "websocket", "ping", "other"])),
        prop::sample::select(vec![json!(200), json!(0), json!(302), json!("404"), json!(null), json!(101)]),
        (0u32..60, prop::bool::ANY),
    )
        .prop_map(|(method, url, rh, sh, post, mime, text, rt, status, (sec, b64))| {
            let mut e = json!({
                "startedDateTime": format!("2024-05-01T10:00:{sec:02}.000Z"),
                "time": sec,
                "request": {"method": method, "url": url, "headers": rh, "cookies": [{"name": "session", "value": "tok-ABCDEF123456"}]},
                "response": {"status": status, "headers": sh, "cookies": [], "content": {"mimeType": mime, "text": text}},
            });
            if b64 {
                e["response"]["content"]["encoding"] = json!("base64");
            }
            if let Some((m, t)) = post {
                e["request"]["postData"] = json!({"mimeType": m, "text": t});
            }
            if let Some(rt) = rt {
                e["_resourceType"] = json!(rt);
            }
            if sec % 7 == 0 {
                e["_webSocketMessages"] = json!([{"type": "receive", "opcode": 1, "data": "{\"token\":\"tok-ABCDEF123456\"}"}]);
            }
            e
        })
}

/// Every flow's Chromium capture, read once.
fn captures() -> &'static [Vec<u8>] {
    static CAPTURES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CAPTURES.get_or_init(|| {
        spool_fixtures::captured_hars()
            .iter()
            .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .collect()
    })
}

fn check(bytes: &[u8], task: Option<&str>) {
    let input = AnalyzeInput {
        har_json: bytes,
        task,
        target: None,
        user_inputs: vec![UserInput {
            name: "username".into(),
            value: "tok-ABCDEF123456".into(),
        }],
    };
    let cfg = AnalysisConfig::default();
    match analyze(&input, &cfg) {
        Ok(a) => {
            let again = analyze(&input, &cfg).expect("deterministic");
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&again).unwrap()
            );
            let _ = generate_python(&a);
            let _ = generate_curl(&a);
            let _ = openapi(&a);
            let p = plan(&a);
            let text = serde_json::to_string(&p).unwrap();
            let back: spool_analyzer::ApiPlan = serde_json::from_str(&text).unwrap();
            assert_eq!(back, p);
        }
        Err(e) => {
            assert!([-32102, -32602, -32201, -32003].contains(&e.code().number()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 200, ..ProptestConfig::default() })]

    // Synthetic on purpose: see the module comment.
    #[test]
    fn never_panics_on_har_like_input(entries in prop::collection::vec(entry(), 0..24), task in prop::option::of("[a-z ]{0,30}")) {
        let bytes = serde_json::to_vec(&json!({"log": {"entries": entries}})).unwrap();
        check(&bytes, task.as_deref());
    }

    #[test]
    fn never_panics_on_captures_with_entries_dropped_and_reordered(which in 0usize..10, keep in prop::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let captures = captures();
        let mut har: Value = serde_json::from_slice(&captures[which % captures.len()]).unwrap();
        let entries = har["log"]["entries"].as_array().cloned().unwrap_or_default();
        if !entries.is_empty() {
            let picked: Vec<Value> = keep.iter().map(|i| entries[i.index(entries.len())].clone()).collect();
            har["log"]["entries"] = Value::Array(picked);
        }
        check(&serde_json::to_vec(&har).unwrap(), None);
    }

    #[test]
    fn never_panics_on_mutated_bytes(which in 0usize..10, cut in 0usize..60_000, flips in prop::collection::vec((0usize..60_000, any::<u8>()), 0..8)) {
        let captures = captures();
        let mut bytes = captures[which % captures.len()].clone();
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = b;
            }
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        check(&bytes, None);
    }
}
