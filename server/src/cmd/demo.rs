//! `spool demo`: the fixture app's shop flow captured at level 3, summarised and analyzed.

use super::capture::{capture_into_store, print_analysis, print_summary, write_outputs};
use anyhow::Context;
use spool_engine::CaptureConfig;
use spool_model::session::CaptureLevel;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Write the demo's files here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(args: DemoArgs, data: &Path) -> anyhow::Result<()> {
    let server = spool_fixtures::FixtureServer::start()
        .await
        .context("starting the fixture app")?;
    println!("fixture app on {}", server.base_url());
    let mut config = CaptureConfig::new(server.url("/shop/?auto=1"));
    config.task = Some("log in to the shop and order the first item".into());
    config.level = CaptureLevel::Full;
    config.timeout = Duration::from_secs(60);
    config.wait_for = Some("document.title === 'done' || document.title === 'error'".into());
    let store = crate::open_store(data)?;
    let source = spool_engine::BrowserSource::Launch(spool_engine::LaunchConfig::default());
    let (capture, meta) = capture_into_store(&config, source, &store, args.out.as_deref()).await?;
    if let Some(out) = &args.out {
        write_outputs(&capture, out)?;
    }
    print_summary(&capture, &config, args.out.as_deref());
    println!(
        "orders placed on the fixture app: {}",
        server.orders().len()
    );
    print_analysis(&capture, config.task.as_deref());
    println!(
        "stored as session {} in {} (try: spool sessions show {})",
        meta.session_id,
        store.dir().display(),
        meta.session_id
    );
    Ok(())
}
