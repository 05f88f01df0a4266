//! `spool record`: a recording a person drives. Spool opens the page in a browser (headless,
//! a window with `--headed`, or a new tab in a running browser with `--attach`), records
//! what happens (actions, network, console, a screenshot after every action), and stores
//! the session when the person presses Ctrl-C, after `--inactivity` seconds without actions
//! or traffic, or at `--timeout-minutes`. The session then replays with `spool replay ID
//! --actions` or `--check`, and exports with `spool actions export ID`.
//!
//! Ctrl-C and inactivity end the session COMPLETED, the time limit STOPPED.

use anyhow::Context as _;
use clap::Args;
use spool_engine::{BrowserSource, CaptureConfig, EngineError, LaunchConfig, ScreenshotOptions};
use spool_model::session::{CaptureLevel, ImageFormat};
use spool_store::SessionStatus;
use std::path::Path;
use std::time::Duration;

/// `spool record`.
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// The page to start on (http:// or https://).
    #[arg(long)]
    pub url: String,
    /// What is being recorded, in words.
    #[arg(long)]
    pub task: Option<String>,
    /// Capture level 1–4 (3, the default, keeps everything offline replay needs).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub level: u8,
    /// Show the browser window (needs a display: `DISPLAY` must be set).
    #[arg(long, conflicts_with = "attach")]
    pub headed: bool,
    /// Record in a browser that is already running (http://host:port or ws://…), in a new
    /// tab of a fresh context.
    #[arg(long, value_name = "ENDPOINT")]
    pub attach: Option<String>,
    /// Stop after this many seconds without actions or traffic (30–600).
    #[arg(long, default_value_t = 120)]
    pub inactivity: u64,
    /// Do not stop on inactivity: only Ctrl-C or the time limit end the recording.
    #[arg(long)]
    pub no_auto_stop: bool,
    /// Stop after this many minutes at the latest (5–180).
    #[arg(long, default_value_t = 30)]
    pub timeout_minutes: u64,
    /// Take no screenshots.
    #[arg(long)]
    pub no_screenshots: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: RecordArgs, data: &Path) -> anyhow::Result<()> {
    if !(30..=600).contains(&args.inactivity) {
        return Err(EngineError::invalid(
            "inactivity",
            format!("must be 30–600 seconds, got {}", args.inactivity),
        )
        .into());
    }
    if !(5..=180).contains(&args.timeout_minutes) {
        return Err(EngineError::invalid(
            "timeoutMinutes",
            format!("must be 5–180 minutes, got {}", args.timeout_minutes),
        )
        .into());
    }
    if args.headed && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return Err(EngineError::invalid(
            "headed",
            "no display: DISPLAY is not set; record headless (without --headed) or --attach \
             to a browser that has a window",
        )
        .into());
    }
    let level = CaptureLevel::try_from(args.level).map_err(crate::exit::CodedError::invalid)?;
    let timeout = Duration::from_secs(args.timeout_minutes * 60);
    let mut config = CaptureConfig::new(&args.url);
    config.task = args.task.clone();
    config.level = level;
    config.timeout = timeout;
    // The capture ends once the page is quiet this long; a person's action is activity.
    config.idle = if args.no_auto_stop {
        timeout
    } else {
        Duration::from_secs(args.inactivity)
    };
    if !args.no_screenshots {
        config.screenshots = Some(ScreenshotOptions {
            format: ImageFormat::Png,
            ..ScreenshotOptions::default()
        });
    }
    let source = match &args.attach {
        Some(endpoint) => BrowserSource::Attach(endpoint.clone()),
        None => BrowserSource::Launch(LaunchConfig {
            headed: args.headed,
            ..LaunchConfig::default()
        }),
    };
    if !args.json {
        eprintln!(
            "recording {} — press Ctrl-C when done{}",
            args.url,
            if args.no_auto_stop {
                String::new()
            } else {
                format!(
                    " (stops by itself after {} s without activity)",
                    args.inactivity
                )
            }
        );
    }
    let store = crate::open_store(data)?;
    let (capture, meta) = crate::cmd::capture::capture_into_store_as(
        &config,
        source,
        &store,
        None,
        SessionStatus::Completed,
    )
    .await
    .context("recording")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&meta)?);
        return Ok(());
    }
    println!(
        "recorded session {} ({}): {} actions, {} requests, {} console entries, {} screenshots in {:.1} s",
        meta.session_id,
        meta.status.as_str(),
        capture.actions.len(),
        capture.har.log.entries.len(),
        capture.console.len() + capture.console_dropped,
        capture.screenshots.len(),
        meta.duration
    );
    println!(
        "  replay it: spool replay {} --actions   export it: spool actions export {}",
        meta.session_id, meta.session_id
    );
    Ok(())
}
