//! A recorded session holds secrets: a CSRF token (handed out in a hidden input, sent back in
//! JSON bodies), a bearer token (from the login response, sent in `Authorization`), a session
//! cookie and the password the person typed. Exports redact them (`spool_model::secret`);
//! the analysis must not show them either: not in its JSON, its reasoning, the generated
//! Python and curl scripts, the plan or the OpenAPI document.
//!
//! The session is the shop flow's Chromium capture (`fixtures/har/flows/shop.l3.har`).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use serde_json::Value;
use spool_analyzer::{
    AnalysisConfig, AnalyzeInput, UserInput, analyze, generate_curl, generate_python, openapi, plan,
};

/// The recorded secrets of the shop capture: (what, value).
fn recorded_secrets(har: &Value) -> Vec<(&'static str, String)> {
    let entries = har["log"]["entries"].as_array().unwrap();
    let login = entries
        .iter()
        .find(|e| {
            e["request"]["url"]
                .as_str()
                .unwrap()
                .ends_with("/api/login")
        })
        .expect("the capture has the login request");
    let body: Value =
        serde_json::from_str(login["request"]["postData"]["text"].as_str().unwrap()).unwrap();
    let bearer = entries
        .iter()
        .flat_map(|e| e["request"]["headers"].as_array().unwrap())
        .find(|h| {
            h["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("authorization")
        })
        .and_then(|h| h["value"].as_str()?.strip_prefix("Bearer "))
        .expect("the capture sends a bearer token")
        .to_string();
    let session = entries
        .iter()
        .flat_map(|e| e["request"]["cookies"].as_array().unwrap())
        .find(|c| c["name"] == "session")
        .and_then(|c| c["value"].as_str())
        .expect("the capture sends a session cookie")
        .to_string();
    vec![
        ("csrf token", body["csrf"].as_str().unwrap().to_string()),
        ("password", body["password"].as_str().unwrap().to_string()),
        ("bearer token", bearer),
        ("session cookie", session),
    ]
}

/// Everything a user can see of one analysis, by name.
fn everything_shown(har: &[u8], user_inputs: Vec<UserInput>) -> Vec<(&'static str, String)> {
    let input = AnalyzeInput {
        har_json: har,
        task: Some("log in and order the first item"),
        target: None,
        user_inputs,
    };
    let a = analyze(&input, &AnalysisConfig::default()).unwrap();
    vec![
        ("analysis JSON", serde_json::to_string_pretty(&a).unwrap()),
        ("reasoning", a.reasoning.clone()),
        ("Python script", generate_python(&a)),
        ("curl script", generate_curl(&a)),
        ("plan", serde_json::to_string(&plan(&a)).unwrap()),
        ("OpenAPI", serde_json::to_string(&openapi(&a)).unwrap()),
    ]
}

fn assert_no_secret_shown(shown: &[(&str, String)], secrets: &[(&str, String)]) {
    let mut leaks = Vec::new();
    for (what, value) in secrets {
        assert!(
            value.len() >= 8,
            "{what} is too short to search for: {value:?}"
        );
        for (place, text) in shown {
            if text.contains(value.as_str()) {
                leaks.push(format!("the {what} appears in the {place}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn an_analysis_shows_none_of_the_recorded_secrets() {
    let path = spool_fixtures::captured_har("shop", 3);
    let bytes = std::fs::read(&path).unwrap();
    let har: Value = serde_json::from_slice(&bytes).unwrap();
    let secrets = recorded_secrets(&har);
    // Without inputs the analyzer must find the password field by its name alone.
    assert_no_secret_shown(&everything_shown(&bytes, Vec::new()), &secrets);
}

#[test]
fn a_password_given_as_input_is_not_shown_either() {
    let path = spool_fixtures::captured_har("shop", 3);
    let bytes = std::fs::read(&path).unwrap();
    let har: Value = serde_json::from_slice(&bytes).unwrap();
    let secrets = recorded_secrets(&har);
    let password = secrets[1].1.clone();
    let inputs = vec![
        UserInput {
            name: "username".into(),
            value: "alice".into(),
        },
        UserInput {
            name: "password".into(),
            value: password,
        },
    ];
    assert_no_secret_shown(&everything_shown(&bytes, inputs), &secrets);
}
