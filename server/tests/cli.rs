//! The `spool` binary as a user runs it: sessions import / list / show / export / delete /
//! stats, analyze on a file and on a stored session, and the error codes and exit statuses
//! bad input gets. No browser is needed here; captures are tested in engine/tests.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

mod common;
use common::{fails, spool};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn sessions_lifecycle_through_the_cli() {
    let data = tempfile::tempdir().unwrap();
    let har_path = workspace().join("fixtures/har/flows/shop.l3.har");
    let original = json(&std::fs::read_to_string(&har_path).unwrap());

    let out = spool(
        data.path(),
        &[
            "sessions",
            "import",
            har_path.to_str().unwrap(),
            "--task",
            "Order an item",
        ],
    );
    let printed = ok(&out, "import");
    // The import prints the new session's id.
    let id = printed
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '-'))
        .find(|w| uuid_like(w))
        .unwrap_or_else(|| panic!("no session id in the import output:\n{printed}"))
        .to_string();

    let list = json(&ok(
        &spool(
            data.path(),
            &["sessions", "list", "--json", "--task", "order"],
        ),
        "list",
    ));
    let listed = list.to_string();
    assert!(
        listed.contains(&id),
        "the imported session is listed: {listed}"
    );
    let none = json(&ok(
        &spool(
            data.path(),
            &["sessions", "list", "--json", "--task", "nothing-like-it"],
        ),
        "list filtered",
    ));
    assert!(
        !none.to_string().contains(&id),
        "the word filter excludes it"
    );

    let show = ok(
        &spool(data.path(), &["sessions", "show", &id, "--json"]),
        "show",
    );
    assert!(show.contains("Order an item"), "{show}");

    // Export with secrets is the imported HAR's entries, in order.
    let exported = json(&ok(
        &spool(
            data.path(),
            &["sessions", "export", &id, "--include-secrets"],
        ),
        "export",
    ));
    let urls = |h: &Value| -> Vec<String> {
        h["log"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {}", e["request"]["method"], e["request"]["url"]))
            .collect()
    };
    assert_eq!(urls(&exported), urls(&original));
    assert_eq!(exported["log"]["entries"], original["log"]["entries"]);

    // The default export redacts the bearer token of the order.
    let redacted = ok(
        &spool(data.path(), &["sessions", "export", &id]),
        "export redacted",
    );
    assert!(redacted.contains("[REDACTED]"));
    let token = original["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["request"]["headers"].as_array().unwrap())
        .find(|h| {
            h["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("authorization")
        })
        .and_then(|h| h["value"].as_str()?.strip_prefix("Bearer "))
        .expect("the shop HAR has a bearer token")
        .to_string();
    assert!(
        !redacted.contains(&token),
        "the token leaked into the default export"
    );

    // JSON export to a file, without network data.
    let out_file = data.path().join("session.json");
    ok(
        &spool(
            data.path(),
            &[
                "sessions",
                "export",
                &id,
                "--format",
                "json",
                "--no-network",
                "--out",
                out_file.to_str().unwrap(),
            ],
        ),
        "export json",
    );
    let doc = json(&std::fs::read_to_string(&out_file).unwrap());
    assert_eq!(doc["metadata"]["sessionId"], Value::String(id.clone()));
    assert!(
        doc.get("har").is_none_or(Value::is_null),
        "--no-network leaves the HAR out"
    );

    let stats = json(&ok(
        &spool(data.path(), &["sessions", "stats", "--json"]),
        "stats",
    ));
    assert_eq!(stats["sessions"], 1, "{stats}");

    // Analyze the stored session: the shop's order chain, recommended as direct API calls.
    let analysis = json(&ok(
        &spool(data.path(), &["analyze", &id, "--json"]),
        "analyze session",
    ));
    assert_eq!(analysis["recommendedModality"], "integuru", "{analysis:#}");

    ok(&spool(data.path(), &["sessions", "delete", &id]), "delete");
    fails(
        &spool(data.path(), &["sessions", "show", &id]),
        5,
        -32004,
        "show after delete",
    );
    let stats = json(&ok(
        &spool(data.path(), &["sessions", "stats", "--json"]),
        "stats",
    ));
    assert_eq!(stats["sessions"], 0, "{stats}");
}

fn uuid_like(w: &str) -> bool {
    w.len() == 36 && w.matches('-').count() == 4
}

#[test]
fn bad_input_gets_coded_errors_and_exit_statuses() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();

    // An unknown session id.
    fails(
        &spool(
            dir,
            &["sessions", "show", "00000000-0000-4000-8000-000000000000"],
        ),
        5,
        -32004,
        "unknown id",
    );
    fails(
        &spool(
            dir,
            &["sessions", "export", "00000000-0000-4000-8000-000000000000"],
        ),
        5,
        -32004,
        "export of an unknown id",
    );

    // A truncated HAR: named where, and nothing stored.
    let bad = dir.join("truncated.har");
    let good = std::fs::read(workspace().join("fixtures/har/imports/playwright.har")).unwrap();
    std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
    let stderr = fails(
        &spool(dir, &["sessions", "import", bad.to_str().unwrap()]),
        2,
        -32102,
        "truncated HAR",
    );
    assert!(stderr.contains("line"), "the error says where: {stderr}");
    let stats = json(&ok(&spool(dir, &["sessions", "stats", "--json"]), "stats"));
    assert_eq!(stats["sessions"], 0, "nothing half-written: {stats}");

    // A JSON document that is not a HAR.
    let not_har = dir.join("not.har");
    std::fs::write(&not_har, br#"{"log": {"entries": "no"}}"#).unwrap();
    fails(
        &spool(dir, &["sessions", "import", not_har.to_str().unwrap()]),
        2,
        -32102,
        "not a HAR",
    );

    // Paging out of range.
    fails(
        &spool(dir, &["sessions", "list", "--limit", "0"]),
        2,
        -32602,
        "limit 0",
    );
    fails(
        &spool(dir, &["sessions", "list", "--status", "sleeping"]),
        2,
        -32602,
        "unknown status",
    );

    // analyze on a file that is not a HAR, and on a missing file.
    fails(
        &spool(dir, &["analyze", not_har.to_str().unwrap()]),
        2,
        -32102,
        "analyze a non-HAR",
    );
    let missing = spool(dir, &["analyze", dir.join("missing.har").to_str().unwrap()]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("missing.har"), "names the file: {stderr}");

    // A capture of a URL that is not http(s) fails before any browser starts.
    fails(
        &spool(dir, &["capture", "--url", "file:///etc/passwd"]),
        2,
        -32602,
        "file: URL",
    );
}

#[test]
fn har_from_events_converts_several_logs_in_order() {
    let data = tempfile::tempdir().unwrap();
    let perflogs = workspace().join("fixtures/perflogs");
    let logs = ["www.google.com.json", "response-blocked-cookies.json"];
    let paths: Vec<String> = logs
        .iter()
        .map(|l| perflogs.join(l).to_str().unwrap().to_string())
        .collect();
    let args: Vec<&str> = std::iter::once("har-from-events")
        .chain(paths.iter().map(String::as_str))
        .collect();

    // Several logs: one HAR per line, in the order given, each the same as converting alone.
    let lines = ok(&spool(data.path(), &args), "har-from-events, two logs");
    let hars: Vec<Value> = lines.lines().map(json).collect();
    assert_eq!(hars.len(), 2);
    for (path, har) in paths.iter().zip(&hars) {
        let alone = json(&ok(
            &spool(data.path(), &["har-from-events", path]),
            "one log",
        ));
        assert_eq!(&alone["log"]["entries"], &har["log"]["entries"], "{path}");
        assert!(
            !har["log"]["entries"].as_array().unwrap().is_empty(),
            "{path}"
        );
    }

    // --out-dir: one file per log, named after it.
    let out = data.path().join("hars");
    let mut with_dir = args.clone();
    with_dir.extend(["--out-dir", out.to_str().unwrap()]);
    ok(&spool(data.path(), &with_dir), "har-from-events --out-dir");
    for (log, har) in logs.iter().zip(&hars) {
        let file = out.join(log.replace(".json", ".har"));
        let written = json(&std::fs::read_to_string(&file).unwrap());
        assert_eq!(&written["log"]["entries"], &har["log"]["entries"]);
    }

    // A malformed log among good ones fails the run, naming the file and the event.
    let bad = data.path().join("bad.json");
    std::fs::write(
        &bad,
        br#"[{"method":"Page.loadEventFired","params":{}}, 42]"#,
    )
    .unwrap();
    let mut with_bad = args.clone();
    with_bad.push(bad.to_str().unwrap());
    let stderr = fails(&spool(data.path(), &with_bad), 2, -32602, "a malformed log");
    assert!(stderr.contains("bad.json"), "names the file: {stderr}");
    assert!(stderr.contains("event 1"), "names the event: {stderr}");
}
