//! `spool report SESSION [--out FILE.html]`: the session viewer as one HTML file (see
//! docs/report.md). The page is made by the `spool-report` crate; this command resolves the
//! session, writes the file and prints its path.

use anyhow::{Context, Result};
use clap::Args;
use spool_report::{ReportConfig, ReportSource, session_report};
use spool_store::Store;
use std::path::PathBuf;

/// `spool report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Session id (or a unique prefix of it).
    pub session: String,
    /// Where to write the report (default: `<session-id>.html` in the current directory).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Bodies longer than this many bytes are left out of the file with a note.
    #[arg(long, value_name = "BYTES", default_value_t = spool_report::ReportConfig::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Screenshots larger than this many bytes are left out of the file with a note.
    #[arg(long, value_name = "BYTES", default_value_t = spool_report::ReportConfig::default().max_screenshot_bytes)]
    pub max_screenshot_bytes: usize,
}

pub fn run(store: &Store, args: &ReportArgs) -> Result<()> {
    let id = super::sessions::resolve_id(store, &args.session)?;
    let session = store.get(id)?;
    let config = ReportConfig {
        max_body_bytes: args.max_body_bytes,
        max_screenshot_bytes: args.max_screenshot_bytes,
        served_from: None,
    };
    let html = session_report(&ReportSource::from_session(&session), &config)?;
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{id}.html")));
    std::fs::write(&path, &html).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}
