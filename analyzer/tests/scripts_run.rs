//! The generated Python and curl scripts really run: each is made from a shop HAR recorded
//! against another server (alice / wonderland) and run against a fresh fixture app with new
//! credentials (bob / builder) and its base URL passed as inputs; each must place an order.
//!
//! Needs `python3` with `requests`, `curl` and `jq` (installed by `scripts/setup.sh`).

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use std::path::{Path, PathBuf};
use std::process::Command;

use spool_analyzer::{
    AnalysisConfig, AnalyzeInput, Modality, UserInput, analyze, generate_curl, generate_python,
};
use spool_fixtures::{FixtureConfig, FixtureServer};

/// The shop flow's Chromium captures; a missing one fails the test by name.
fn shop_hars() -> Vec<PathBuf> {
    vec![
        spool_fixtures::captured_har("shop", 3),
        spool_fixtures::captured_har("shop", 2),
    ]
}

fn analysis_of(path: &Path) -> spool_analyzer::Analysis {
    let bytes = std::fs::read(path).unwrap();
    let input = AnalyzeInput {
        har_json: &bytes,
        task: Some("log in and order the first item"),
        target: None,
        user_inputs: vec![
            UserInput {
                name: "username".into(),
                value: "alice".into(),
            },
            UserInput {
                name: "password".into(),
                value: "wonderland".into(),
            },
        ],
    };
    let a = analyze(&input, &AnalysisConfig::default()).unwrap();
    assert_eq!(
        a.recommended_modality,
        Some(Modality::Integuru),
        "{}",
        a.reasoning
    );
    a
}

fn write_script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spool-analyzer-scripts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(program: &str, script: &Path, base: &str) -> (bool, String) {
    let out = Command::new(program)
        .arg(script)
        .args([
            "--base-url",
            base,
            "--username",
            "bob",
            "--password",
            "builder",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (run scripts/setup.sh)"));
    (
        out.status.success(),
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_scripts_place_an_order_with_new_credentials() {
    let hars = shop_hars();
    assert!(!hars.is_empty());
    let server = FixtureServer::start_with(
        FixtureConfig {
            username: "bob".into(),
            password: "builder".into(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let base = server.base_url();
    for (i, har) in hars.iter().enumerate() {
        let a = analysis_of(har);
        let python = generate_python(&a);
        let curl = generate_curl(&a);
        {
            let secret = "wonderland";
            assert!(
                !python.contains(secret),
                "python script bakes in a recorded secret"
            );
            assert!(
                !curl.contains(secret),
                "curl script bakes in a recorded secret"
            );
        }
        for (program, name, text) in [("python3", "shop.py", &python), ("bash", "shop.sh", &curl)] {
            let before = server.orders().len();
            let script = write_script(&format!("{i}-{name}"), text);
            let base2 = base.clone();
            let program2 = program.to_string();
            let (ok, output) = tokio::task::spawn_blocking(move || run(&program2, &script, &base2))
                .await
                .unwrap();
            assert!(
                ok,
                "{program} script from {} failed:\n{output}",
                har.display()
            );
            let orders = server.orders();
            assert_eq!(
                orders.len(),
                before + 1,
                "{program}: no new order\n{output}"
            );
            let last = orders.last().unwrap();
            assert_eq!(last["username"], "bob");
            assert_eq!(last["itemId"], 40712);
            assert!(output.contains("confirmed"), "{output}");
        }
    }
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("spool-analyzer-scripts-{}", std::process::id())),
    );
}
