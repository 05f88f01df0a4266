//! Bad input: clear results or coded errors, never a panic.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use serde_json::{Value, json};
use spool_analyzer::{
    AnalysisConfig, AnalyzeError, AnalyzeInput, UserInput, analyze, generate_curl, generate_python,
    openapi,
};

fn run(har: &[u8]) -> Result<spool_analyzer::Analysis, AnalyzeError> {
    run_with(har, None, None)
}

fn run_with(
    har: &[u8],
    task: Option<&str>,
    target: Option<&str>,
) -> Result<spool_analyzer::Analysis, AnalyzeError> {
    let input = AnalyzeInput {
        har_json: har,
        task,
        target,
        user_inputs: vec![],
    };
    let a = analyze(&input, &AnalysisConfig::default())?;
    // Everything downstream of an analysis must hold up too.
    let _ = generate_python(&a);
    let _ = generate_curl(&a);
    let _ = openapi(&a);
    let _ = serde_json::to_string(&a).unwrap();
    Ok(a)
}

fn entry(method: &str, url: &str, rtype: &str, mime: &str, body: Option<Value>) -> Value {
    let mut content = json!({"size": 0, "mimeType": mime});
    if let Some(b) = body {
        content["text"] = b;
    }
    json!({
        "startedDateTime": "2024-05-01T10:00:00.000Z",
        "time": 12,
        "request": {"method": method, "url": url, "headers": [], "cookies": []},
        "response": {"status": 200, "headers": [{"name": "Content-Type", "value": mime}], "cookies": [], "content": content},
        "_resourceType": rtype,
    })
}

fn har(entries: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"log": {"version": "1.2", "entries": entries}})).unwrap()
}

#[test]
fn empty_input_is_a_coded_error() {
    let e = run(b"").unwrap_err();
    assert_eq!(e.code(), -32102);
    assert!(e.to_string().contains("line 1"), "{e}");
    for text in [
        &b"   "[..],
        b"null",
        b"[]",
        b"{}",
        b"{\"log\": 5}",
        b"{\"log\":{\"entries\":[{}]}}",
    ] {
        assert_eq!(
            run(text).unwrap_err().code(),
            -32102,
            "{}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn errors_name_where() {
    let e = run(br#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a/"}},{"request":"GET /"}]}}"#).unwrap_err();
    match &e {
        AnalyzeError::HarFileInvalid { location, .. } => {
            assert!(location.contains("log.entries[1].request"), "{location}")
        }
        other => panic!("{other:?}"),
    }
    let e = run(br#"{"log":{"entries":[ {"request": {"url": "http://a/"}, } ]}}"#).unwrap_err();
    assert_eq!(e.code(), -32102);
}

#[test]
fn empty_har_recommends_nothing() {
    let a = run(&har(vec![])).unwrap();
    assert_eq!(a.recommended_modality, None);
    assert_eq!(a.confidence, 0.0);
    assert_eq!(a.integuru_analysis.confidence, 0.0);
    assert!(a.reasoning.contains("No API calls"), "{}", a.reasoning);
    assert!(a.plan.steps.is_empty());
    assert!(generate_python(&a).contains("nothing to do"));
}

#[test]
fn har_of_static_assets_and_analytics_says_no_api_calls() {
    let a = run(&har(vec![
        entry("GET", "http://a.test/logo.png", "image", "image/png", None),
        entry(
            "GET",
            "http://a.test/site.css",
            "stylesheet",
            "text/css",
            Some(json!("body{}")),
        ),
        entry(
            "GET",
            "http://a.test/app.js",
            "script",
            "application/javascript",
            Some(json!("var x = 1;")),
        ),
        entry(
            "POST",
            "https://www.google-analytics.com/g/collect?v=2",
            "ping",
            "text/plain",
            None,
        ),
        entry(
            "GET",
            "data:image/png;base64,AAAA",
            "image",
            "image/png",
            None,
        ),
    ]))
    .unwrap();
    assert_eq!(a.recommended_modality, None);
    assert_eq!(a.confidence, 0.0);
    assert!(
        a.reasoning.contains("No API calls found"),
        "{}",
        a.reasoning
    );
    assert_eq!(a.dropped.len(), 5);
    assert!(a.dropped.iter().all(|d| !d.reason.is_empty()));
}

#[test]
fn malformed_and_binary_bodies_are_noted() {
    let mut bin = entry(
        "GET",
        "http://a.test/api/blob",
        "fetch",
        "application/json",
        Some(json!("AAECAwQFBgcICQ==")),
    );
    bin["response"]["content"]["encoding"] = json!("base64");
    let mut bad_req = entry(
        "POST",
        "http://a.test/api/save",
        "fetch",
        "application/json",
        Some(json!("{}")),
    );
    bad_req["request"]["postData"] =
        json!({"mimeType": "application/json", "text": "{\"a\": [1, 2"});
    let a = run(&har(vec![
        entry(
            "GET",
            "http://a.test/api/broken",
            "fetch",
            "application/json",
            Some(json!("{\"token\": \"abc")),
        ),
        bin,
        bad_req,
        entry(
            "GET",
            "http://a.test/api/nul",
            "fetch",
            "text/plain",
            Some(json!("a\u{0}b\u{0}c")),
        ),
    ]))
    .unwrap();
    let w = a.warnings.join("\n");
    assert!(w.contains("not valid JSON"), "{w}");
    assert!(w.contains("binary response body"), "{w}");
    assert!(a.recommended_modality.is_some());
}

#[test]
fn ten_megabyte_body_is_indexed_within_bounds() {
    let mut items = Vec::new();
    let mut size = 0;
    let mut i = 0u64;
    while size < 10_000_000 {
        let it =
            json!({"id": 100_000 + i, "name": format!("item number {i}"), "blurb": "x".repeat(80)});
        size += it.to_string().len() + 1;
        items.push(it);
        i += 1;
    }
    let body = json!({"items": items}).to_string();
    assert!(body.len() >= 10_000_000);
    let mut detail = entry(
        "GET",
        "http://a.test/api/items/100007",
        "fetch",
        "application/json",
        Some(json!("{}")),
    );
    detail["startedDateTime"] = json!("2024-05-01T10:00:01.000Z");
    let a = run(&har(vec![
        entry(
            "GET",
            "http://a.test/api/items",
            "fetch",
            "application/json",
            Some(json!(body)),
        ),
        detail,
    ]))
    .unwrap();
    assert!(
        a.graph
            .edges
            .iter()
            .any(|e| e.from_location == "json:/items/7/id" && e.to_location == "path:2"),
        "{:?}",
        a.graph.edges
    );
    // Over the configured body limit: noted, not indexed, no error.
    let small = AnalysisConfig {
        max_body_bytes: 1 << 20,
        ..AnalysisConfig::default()
    };
    let bytes = har(vec![entry(
        "GET",
        "http://a.test/api/items",
        "fetch",
        "application/json",
        Some(json!(body)),
    )]);
    let a = analyze(
        &AnalyzeInput {
            har_json: &bytes,
            ..AnalyzeInput::default()
        },
        &small,
    )
    .unwrap();
    assert!(
        a.warnings.join(" ").contains("over the"),
        "{:?}",
        a.warnings
    );
}

#[test]
fn deeply_nested_json_is_bounded() {
    let deep = format!("{}\"x\"{}", "[".repeat(100_000), "]".repeat(100_000));
    let a = run(&har(vec![entry(
        "GET",
        "http://a.test/api/deep",
        "fetch",
        "application/json",
        Some(json!(deep)),
    )]))
    .unwrap();
    assert!(!a.warnings.is_empty(), "a deep body is noted");
    let medium = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    let a = run(&har(vec![entry(
        "GET",
        "http://a.test/api/deep",
        "fetch",
        "application/json",
        Some(json!(medium)),
    )]))
    .unwrap();
    assert!(
        a.warnings.join(" ").contains("deeper than 64"),
        "{:?}",
        a.warnings
    );
    // A HAR nested deep is skipped without recursion (or is a coded error): never a stack
    // overflow.
    let nested_har = format!(
        "{{\"log\":{{\"entries\":[],\"x\":{}0{}}}}}",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    assert!(run(nested_har.as_bytes()).is_ok());
    let nested_entry = format!(
        "{{\"log\":{{\"entries\":[{{\"request\":{{\"method\":{}0{}}}}}]}}}}",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    if let Err(e) = run(nested_entry.as_bytes()) {
        assert_eq!(e.code(), -32102);
    }
}

#[test]
fn duplicate_request_ids_are_kept_apart() {
    let mut a1 = entry(
        "GET",
        "http://a.test/api/one",
        "fetch",
        "application/json",
        Some(json!("{\"t\":\"tok-123456789\"}")),
    );
    a1["_requestId"] = json!("42.1");
    let mut a2 = entry(
        "GET",
        "http://a.test/api/two?t=tok-123456789",
        "fetch",
        "application/json",
        Some(json!("{}")),
    );
    a2["_requestId"] = json!("42.1");
    a2["startedDateTime"] = json!("2024-05-01T10:00:02.000Z");
    let a = run(&har(vec![a1.clone(), a2, a1])).unwrap();
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("duplicate _requestId")),
        "{:?}",
        a.warnings
    );
    assert_eq!(a.graph.nodes.len(), 3);
    assert!(a.graph.edges.iter().any(|e| e.to_location == "query:t"));
}

#[test]
fn invalid_parameters_are_coded() {
    let bytes = har(vec![entry(
        "GET",
        "http://a.test/api/x",
        "fetch",
        "application/json",
        Some(json!("{}")),
    )]);
    let long = "x".repeat(20_000);
    assert_eq!(
        run_with(&bytes, Some(&long), None).unwrap_err().code(),
        -32602
    );
    assert_eq!(
        run_with(&bytes, None, Some("  ")).unwrap_err().code(),
        -32602
    );
    let e = run_with(&bytes, None, Some("POST /nothing/*")).unwrap_err();
    assert_eq!(e.code(), -32602);
    assert!(e.to_string().contains("target"));
    let input = AnalyzeInput {
        har_json: &bytes,
        user_inputs: vec![UserInput {
            name: " ".into(),
            value: "v".into(),
        }],
        ..AnalyzeInput::default()
    };
    assert_eq!(
        analyze(&input, &AnalysisConfig::default())
            .unwrap_err()
            .code(),
        -32602
    );
}

#[test]
fn size_limits_are_coded() {
    let bytes = har(vec![entry(
        "GET",
        "http://a.test/api/x",
        "fetch",
        "application/json",
        Some(json!("{}")),
    )]);
    let input = AnalyzeInput {
        har_json: &bytes,
        ..AnalyzeInput::default()
    };
    let cfg = AnalysisConfig {
        max_har_bytes: 10,
        ..AnalysisConfig::default()
    };
    assert_eq!(analyze(&input, &cfg).unwrap_err().code(), -32201);
    let cfg = AnalysisConfig {
        max_entries: 0,
        ..AnalysisConfig::default()
    };
    assert_eq!(analyze(&input, &cfg).unwrap_err().code(), -32201);
}

#[test]
fn lenient_about_types_other_tools_write() {
    let text = br#"{"log":{"entries":[{"startedDateTime":"nope","time":null,
        "request":{"method":"POST","url":"http://a.test/api/x","headers":[{"name":"X-N","value":5}],"postData":{"mimeType":"application/x-www-form-urlencoded","text":"a=1&b=hello%20world&c"}},
        "response":{"status":"201","headers":null,"content":{"mimeType":null,"text":null}}}]}}"#;
    let a = run(text).unwrap();
    assert_eq!(a.target.as_ref().map(|t| t.entry), Some(0));
}

#[test]
fn output_is_deterministic() {
    let bytes = std::fs::read(spool_fixtures::captured_har("shop", 3)).unwrap();
    let one = serde_json::to_string(&run(&bytes).unwrap()).unwrap();
    let two = serde_json::to_string(&run(&bytes).unwrap()).unwrap();
    assert_eq!(one, two);
}
