//! Fills a session store for the server benchmarks (scripts/bench-serve.sh): N small
//! finished sessions with varied task descriptions, plus the fixture shop flow's HAR as one
//! full session whose id is printed last, for `analyze-har`.
//!
//! `cargo run --release -p spool-benches --example fill_store -- DIR [N]`

#![allow(clippy::unwrap_used)] // Test and bench code: an unwrap that fails is a failed run.

use spool_model::session::{BrowserInfo, CaptureLevel};
use spool_store::{NewSession, SessionEnd, Store};

const WORDS: [&str; 12] = [
    "shop", "cart", "login", "order", "search", "invoice", "profile", "upload", "export", "report",
    "billing", "inbox",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: fill_store DIR [N]")?;
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let store = Store::open(std::path::Path::new(&dir))?;
    for i in 0..n {
        let task = format!(
            "{} the {} {} task {i}",
            WORDS[i % 12],
            WORDS[(i / 12) % 12],
            WORDS[(i / 144) % 12]
        );
        let writer = store.begin_session(NewSession {
            id: None,
            task_description: task,
            capture_level: CaptureLevel::Api,
            browser: BrowserInfo::default(),
            start_url: Some("http://127.0.0.1/".into()),
        })?;
        writer.finish(SessionEnd::completed())?;
    }
    let shop =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/har/flows/shop.l3.har");
    let id = store.import_har(
        &std::fs::read(shop)?,
        Some("log in to the shop and order the first item"),
    )?;
    eprintln!("{n} sessions and the shop flow in {dir}");
    println!("{id}");
    Ok(())
}
