//! `spool capture`: one page captured into the store, with a summary and its analysis. The
//! capture-into-store path, the summary and the printed analysis are shared with `spool demo`.

use crate::exit::CodedError;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use spool_engine::{
    BrowserPool, BrowserSource, BrowserState, Capture, CaptureConfig, CaptureSink, EngineError,
    LaunchConfig, PoolConfig, Progress, ScreenshotOptions, StopReason, StopSignal,
};
use spool_model::session::{CaptureLevel, ConsoleLevel};
use spool_model::sink::{NoSink, Tee};
use spool_store::{SessionStatus, StoreWriter};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct CaptureArgs {
    /// The page to open (http:// or https://).
    #[arg(long)]
    url: String,
    /// What the session is for, in words (used by analysis).
    #[arg(long)]
    task: Option<String>,
    /// Capture level 1–4 (see README): 1 metadata, 2 API bodies, 3 everything for offline
    /// replay, 4 forensic (raw CDP events, stacks).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=4))]
    level: u8,
    /// Stop after this many seconds at the latest.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Take screenshots (on navigation, after actions at level 3+, and at the end).
    #[arg(long)]
    screenshots: bool,
    /// Screenshot format.
    #[arg(long, default_value = "webp", value_parser = ["webp", "png", "jpeg"])]
    screenshot_format: String,
    /// A JSON file of browser state to apply first: {cookies, localStorage, sessionStorage}.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Record a browser that is already running (http://host:port or ws://…) instead of
    /// launching one.
    #[arg(long)]
    attach: Option<String>,
    /// A JavaScript expression that must be true before an idle page ends the capture.
    #[arg(long)]
    wait_for: Option<String>,
    /// Write session.har, console.json, actions.json, screenshots/ and events.jsonl here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(args: CaptureArgs, data: &Path) -> anyhow::Result<()> {
    let level = CaptureLevel::try_from(args.level).map_err(CodedError::invalid)?;
    let mut config = CaptureConfig::new(&args.url);
    config.task = args.task.clone();
    config.level = level;
    config.timeout = Duration::from_secs(args.timeout);
    config.wait_for = args.wait_for.clone();
    if args.screenshots {
        config.screenshots = Some(ScreenshotOptions {
            format: match args.screenshot_format.as_str() {
                "png" => spool_model::session::ImageFormat::Png,
                "jpeg" => spool_model::session::ImageFormat::Jpeg,
                _ => spool_model::session::ImageFormat::Webp,
            },
            ..Default::default()
        });
    }
    if let Some(path) = &args.state {
        let bytes = std::fs::read(path).map_err(|e| {
            CodedError::invalid(format!("cannot read --state {}: {e}", path.display()))
        })?;
        config.state = BrowserState::from_json(&bytes)?;
    }
    let source = match &args.attach {
        Some(endpoint) => BrowserSource::Attach(endpoint.clone()),
        None => BrowserSource::Launch(LaunchConfig::default()),
    };
    let store = crate::open_store(data)?;
    let (capture, meta) = capture_into_store(&config, source, &store, args.out.as_deref()).await?;
    if let Some(out) = &args.out {
        write_outputs(&capture, out)?;
    }
    print_summary(&capture, &config, args.out.as_deref());
    println!(
        "  stored as session {} ({:?}) in {}",
        meta.session_id,
        meta.status,
        store.dir().display()
    );
    print_analysis(&capture, config.task.as_deref());
    Ok(())
}

/// Captures while writing the session into the store chunk by chunk, in a browser from a
/// pool of one. A failed capture is stored too, as ERROR, with what was captured before the
/// failure. At level 4 with `out`, raw events go to `out/events.jsonl` as they arrive.
pub async fn capture_into_store(
    config: &CaptureConfig,
    source: BrowserSource,
    store: &spool_store::Store,
    out: Option<&Path>,
) -> anyhow::Result<(Capture, spool_store::SessionMetadata)> {
    capture_into_store_as(config, source, store, out, SessionStatus::Stopped).await
}

/// [`capture_into_store`], with the status a capture ended by Ctrl-C or its deadline is
/// stored as: STOPPED for a capture (it was cut short), COMPLETED for `spool record`
/// (Ctrl-C is how a person says they are done).
pub async fn capture_into_store_as(
    config: &CaptureConfig,
    source: BrowserSource,
    store: &spool_store::Store,
    out: Option<&Path>,
    stopped: SessionStatus,
) -> anyhow::Result<(Capture, spool_store::SessionMetadata)> {
    config.validate()?;
    let writer = StoreWriter::spawn(store.clone())?;
    let mut sink = writer.begin(new_session(config))?;
    let mut events_file = match out.filter(|_| config.level == CaptureLevel::Forensic) {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join("events.jsonl");
            let file = std::fs::File::create(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            Some(RawEventsFile(std::io::BufWriter::new(file)))
        }
        None => None,
    };
    let pool = BrowserPool::new(PoolConfig::single(source))?;
    let bar = spinner(&config.url);
    let mut spinner_sink = SpinnerSink { bar: bar.clone() };
    let mut no_file = NoSink;
    let file_sink: &mut dyn CaptureSink = match events_file.as_mut() {
        Some(f) => f,
        None => &mut no_file,
    };
    let mut watchers = Tee(&mut spinner_sink, file_sink);
    let result = run_capture(&pool, config, &mut Tee(&mut sink, &mut watchers)).await;
    pool.shutdown().await;
    bar.finish_and_clear();
    if let Some(mut f) = events_file {
        f.0.flush().context("writing events.jsonl")?;
    }
    let outcome = match result {
        Ok(capture) => {
            let status = match capture.stop_reason {
                StopReason::NetworkIdle => SessionStatus::Completed,
                StopReason::Stopped => stopped,
                _ => SessionStatus::Stopped,
            };
            let meta = sink.finish(
                status,
                capture.har.log.pages.clone(),
                Some(capture.browser.clone()),
            )?;
            Ok((capture, meta))
        }
        Err(e) => {
            let partial = e.partial();
            if let Some(p) = partial {
                eprintln!(
                    "{e}; captured so far: {} requests, {} console entries",
                    p.har.log.entries.len(),
                    p.console.len() + p.console_dropped
                );
            }
            let pages = partial.map(|p| p.har.log.pages.clone()).unwrap_or_default();
            match sink.fail(&e.to_string(), pages) {
                Ok(meta) => eprintln!(
                    "what was captured is stored as session {} (ERROR)",
                    meta.session_id
                ),
                Err(store_err) => eprintln!("could not store the failed session: {store_err}"),
            }
            Err(e.into())
        }
    };
    writer.shutdown();
    outcome
}

/// Level-4 raw events written to a file as they arrive.
struct RawEventsFile(std::io::BufWriter<std::fs::File>);

impl CaptureSink for RawEventsFile {
    fn raw_events(&mut self, jsonl: &[u8]) {
        if let Err(e) = self.0.write_all(jsonl) {
            tracing::warn!("writing events.jsonl failed: {e}");
        }
    }
}

async fn run_capture(
    pool: &BrowserPool,
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
) -> Result<Capture, EngineError> {
    let stop = StopSignal::new();
    let ctrl_c = stop.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            ctrl_c.stop();
        }
    });
    let result = spool_engine::capture(pool, config, sink, Some(stop)).await;
    watcher.abort();
    result
}

/// The store's record of a capture about to start, for the CLI and `spool serve` alike.
pub fn new_session(config: &CaptureConfig) -> spool_store::NewSession {
    spool_store::NewSession {
        id: None,
        task_description: config.task.clone().unwrap_or_default(),
        capture_level: config.level,
        browser: Default::default(),
        start_url: Some(config.url.clone()),
    }
}

fn spinner(url: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("capturing {url} …"));
    bar
}

struct SpinnerSink {
    bar: ProgressBar,
}

impl CaptureSink for SpinnerSink {
    fn progress(&mut self, p: &Progress) {
        self.bar.set_message(format!(
            "{:.1} s: {} requests, {} in flight",
            p.elapsed.as_secs_f64(),
            p.entries,
            p.in_flight
        ));
    }
}

/// Writes a capture's files into `dir`.
pub fn write_outputs(capture: &Capture, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write("session.har", &serde_json::to_vec_pretty(&capture.har)?)?;
    write(
        "console.json",
        &serde_json::to_vec_pretty(&capture.console)?,
    )?;
    write(
        "actions.json",
        &serde_json::to_vec_pretty(&capture.actions)?,
    )?;
    if !capture.screenshots.is_empty() {
        let shots = dir.join("screenshots");
        std::fs::create_dir_all(&shots)?;
        for (i, shot) in capture.screenshots.iter().enumerate() {
            let name = format!("{:03}-{}.{}", i + 1, shot.reason, shot.format.extension());
            std::fs::write(shots.join(&name), &shot.data)
                .with_context(|| format!("writing screenshot {name}"))?;
        }
    }
    Ok(())
}

pub fn print_summary(capture: &Capture, config: &CaptureConfig, out: Option<&Path>) {
    let entries = &capture.har.log.entries;
    let failed = entries
        .iter()
        .filter(|e| e.response.custom.contains_key("_error"))
        .count();
    let bodies = entries
        .iter()
        .filter(|e| e.response.content.text.is_some())
        .count();
    let errors = capture
        .console
        .iter()
        .filter(|c| c.level == ConsoleLevel::Error)
        .count();
    println!(
        "Captured {} at level {} ({:?}, {} → {})",
        config.url, capture.level, capture.stop_reason, capture.started_at, capture.ended_at
    );
    println!(
        "  {} requests ({} failed, {} with bodies), {} pages, {} console entries ({} errors), {} actions, {} screenshots",
        entries.len(),
        failed,
        bodies,
        capture.har.log.pages.len(),
        capture.console.len(),
        errors,
        capture.actions.len(),
        capture.screenshots.len()
    );
    for e in entries.iter().take(40) {
        let kind = e.custom_str("_resourceType").unwrap_or("other");
        let status = match e.response.custom.get("_error") {
            Some(err) => format!("ERR {}", err.as_str().unwrap_or("")),
            None => e.response.status.to_string(),
        };
        println!(
            "  {:<6} {:<8} {:<10} {}",
            e.request.method, status, kind, e.request.url
        );
    }
    if entries.len() > 40 {
        println!("  … and {} more", entries.len() - 40);
    }
    if let Some(out) = out {
        println!("  files in {}", out.display());
    }
}

/// Analyzes what was just captured and prints the report. Typed values from the action
/// stream count as user inputs. An analysis failure is a note, not a capture failure.
pub fn print_analysis(capture: &Capture, task: Option<&str>) {
    let har = match serde_json::to_vec(&capture.har) {
        Ok(h) => h,
        Err(e) => return eprintln!("analysis skipped: {e}"),
    };
    let user_inputs = capture.typed_inputs();
    let input = spool_analyzer::AnalyzeInput {
        har_json: &har,
        task,
        target: None,
        user_inputs,
    };
    match spool_analyzer::analyze(&input, &spool_analyzer::AnalysisConfig::default()) {
        Ok(analysis) => {
            println!();
            print!("{}", crate::cmd::analyze::report(&analysis));
        }
        Err(e) => eprintln!("analysis failed: error[{}]: {e}", e.code()),
    }
}
