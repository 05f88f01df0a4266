//! `spool`: record browser sessions over CDP, analyze, store and replay them.
//!
//! This file only parses arguments, dispatches to a command module and maps errors to exit
//! codes; the work lives in the library crates.

mod cmd;
mod exit;
mod serve;

use clap::{Parser, Subcommand};

// Event-log conversion and analysis allocate many small strings; mimalloc makes that, and
// returning the memory, markedly cheaper than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "spool",
    version,
    about = "Record, analyze, store and replay browser sessions over CDP"
)]
struct Cli {
    /// Where the session store lives (default: $SPOOL_DATA, else ~/.local/share/spool).
    #[arg(long, global = true, env = "SPOOL_DATA")]
    data: Option<PathBuf>,
    /// Log what happens (repeat for more detail); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Capture a page in headless Chromium (or an attached browser) at a capture level.
    Capture(cmd::capture::CaptureArgs),
    /// Convert recorded CDP event logs (JSON array or JSON Lines of {method, params}) to HAR:
    /// one log to stdout; several to stdout as JSON Lines (one HAR per line), or into --out-dir.
    HarFromEvents {
        /// The event log file(s).
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Write each log's HAR to DIR/<log name>.har instead of stdout.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Serve the fixture web app (the flows Spool is tested against) on 127.0.0.1.
    FixtureSite(cmd::fixture_site::FixtureSiteArgs),
    /// Start the fixture app, capture its shop flow at level 3 and print the summary.
    Demo(cmd::demo::DemoArgs),
    /// Analyze a stored session or a HAR file: endpoints, the API chain, the recommended
    /// modality with reasons, generated code.
    Analyze(cmd::analyze::AnalyzeArgs),
    /// Serve every tool over MCP (stdio or streamable HTTP at /mcp) and REST.
    Serve(serve::config::ServeArgs),
    /// Call one of the server's tools in this process and print its JSON result.
    Tool(serve::ToolArgs),
    /// Kills what a `spool serve` started once it is gone (started by the server itself).
    #[command(hide = true)]
    ReapOrphans,
    /// Measure how fast stored sessions replay on the browser pool: replays per minute and
    /// p50/p95/p99 per replay, offline or live, at a chosen concurrency.
    BenchReplay(cmd::bench_replay::BenchReplayArgs),
    /// Record a session a person drives (headless, `--headed`, or `--attach` to a running
    /// browser) until Ctrl-C, inactivity or the time limit.
    Record(cmd::record::RecordArgs),
    /// Export a session's actions as a Chrome DevTools Recorder recording, or import one.
    Actions {
        #[command(subcommand)]
        command: cmd::actions::ActionsCommand,
    },
    /// List, show, delete, export, import stored sessions, and show store totals.
    Sessions {
        #[command(subcommand)]
        command: cmd::sessions::SessionsCommand,
    },
    /// Run a task from a recorded session: analyze it, then send its API plan as plain HTTP
    /// (`integuru`; no browser starts), or replay it in a headless browser (`--modality
    /// headless_cdp`).
    Execute(cmd::execute::ExecuteArgs),
    /// Replay a recorded session: `--network offline` loads its page with every request
    /// answered from the recording and reports unmatched and unused requests.
    Replay(cmd::replay::ReplayArgs),
    /// Write a session's report: one self-contained HTML file with the action timeline and
    /// screenshots, the network waterfall, the console and the analysis.
    Report(cmd::report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        serve::reaper::mark_instance();
    }
    init_tracing(cli.verbose, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let data_flag = cli.data.clone();
    let data = cli.data.unwrap_or_else(spool_store::Store::default_dir);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Capture(args) => cmd::capture::run(args, &data).await,
            Command::HarFromEvents { logs, out_dir } => {
                cmd::har_from_events::run(&logs, out_dir.as_deref())
            }
            Command::FixtureSite(args) => cmd::fixture_site::run(args).await,
            Command::Demo(args) => cmd::demo::run(args, &data).await,
            Command::Analyze(args) => analyze(&args, &data),
            Command::Serve(args) => serve::run(args, data_flag.as_deref()).await,
            Command::ReapOrphans => serve::reaper::run_watcher(),
            Command::Tool(args) => serve::run_tool(args, data_flag.as_deref()).await,
            Command::Record(args) => cmd::record::run(args, &data).await,
            Command::BenchReplay(args) => cmd::bench_replay::run(args, &data).await,
            Command::Actions { command } => {
                open_store(&data).and_then(|store| cmd::actions::run(&store, command))
            }
            Command::Sessions { command } => {
                open_store(&data).and_then(|store| cmd::sessions::run(&store, command))
            }
            Command::Execute(args) => cmd::execute::run(args, &data).await,
            Command::Replay(args) => cmd::replay::run(args, &data).await,
            Command::Report(args) => {
                open_store(&data).and_then(|store| cmd::report::run(&store, &args))
            }
        }
    });
    // Dropping a runtime waits without end for blocking tasks still running; a command that
    // has finished its work must not hang on one (a store read nobody waits for any more).
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}

/// `spool analyze`: a HAR file as it is, or a stored session with its secrets (analysis needs
/// the real values to trace them; generated code turns them into inputs).
fn analyze(args: &cmd::analyze::AnalyzeArgs, data: &std::path::Path) -> anyhow::Result<()> {
    let har = match cmd::analyze::read_har_file(&args.source) {
        Some(bytes) => bytes?,
        None => {
            let store = open_store(data)?;
            let id = cmd::sessions::resolve_id(&store, &args.source)?;
            let options = spool_store::ExportOptions {
                include_secrets: true,
                ..Default::default()
            };
            serde_json::to_vec(&store.export_har(id, &options)?)?
        }
    };
    cmd::analyze::run_on_har(&har, args)
}

/// Opens the session store, saying where it is when that fails.
pub fn open_store(dir: &std::path::Path) -> anyhow::Result<spool_store::Store> {
    spool_store::Store::open(dir).map_err(anyhow::Error::new)
}

/// `serving` turns on the audit log (`spool::audit`, one line per tool call) and the
/// request spans by default: an operator of `spool serve` wants both.
fn init_tracing(verbose: u8, serving: bool) {
    let default = match (verbose, serving) {
        (0, false) => "warn",
        (0, true) => "warn,spool::audit=info,spool::request=info",
        (1, _) => "info,spool=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only on a terminal: a log collected from a pipe (a service manager, a
    // test) stays plain text that tools can search.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
