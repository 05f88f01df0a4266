//! Prints the analysis of a HAR file as JSON, or a generated script:
//! `cargo run -p spool-analyzer --example analyze_har -- FILE.har [json|python|curl|plan|openapi] [TASK]`
//! Inputs come from `SPOOL_INPUTS="name=value,name=value"`.

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: analyze_har FILE.har [json|python|curl|plan|openapi] [TASK]");
    let what = args.next().unwrap_or_else(|| "json".into());
    let task = args.next();
    let bytes = std::fs::read(&path).expect("readable HAR");
    let user_inputs = std::env::var("SPOOL_INPUTS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| spool_analyzer::UserInput {
            name: k.into(),
            value: v.into(),
        })
        .collect();
    let input = spool_analyzer::AnalyzeInput {
        har_json: &bytes,
        task: task.as_deref(),
        target: None,
        user_inputs,
    };
    match spool_analyzer::analyze(&input, &spool_analyzer::AnalysisConfig::default()) {
        Ok(a) => match what.as_str() {
            "python" => print!("{}", spool_analyzer::generate_python(&a)),
            "curl" => print!("{}", spool_analyzer::generate_curl(&a)),
            "plan" => println!(
                "{}",
                serde_json::to_string_pretty(&spool_analyzer::plan(&a)).unwrap()
            ),
            "openapi" => println!(
                "{}",
                serde_json::to_string_pretty(&spool_analyzer::openapi(&a)).unwrap()
            ),
            _ => println!("{}", serde_json::to_string_pretty(&a).unwrap()),
        },
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            std::process::exit(1);
        }
    }
}
