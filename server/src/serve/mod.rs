//! `spool serve`: every tool over MCP (stdio, or streamable HTTP at `/mcp`) and REST, from
//! one registry. Also `spool tool`, which calls the same handlers from the command line.
//!
//! The server holds the session store for as long as it runs; CLI commands that need the
//! store meanwhile are told so. On SIGTERM or Ctrl-C it stops every running capture (each
//! is stored as STOPPED with what it recorded), waits for them up to the grace period,
//! and exits; every browser is closed with its capture.

pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod limits;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod reaper;
pub mod registry;
pub mod report;
pub mod rest;
pub mod state;
pub mod tools;

use anyhow::Context;
use config::{ServeArgs, ServeConfig};
use registry::CallContext;
use rmcp::ServiceExt;
use state::AppState;
use std::path::Path;
use std::time::Duration;

pub async fn run(args: ServeArgs, data: Option<&Path>) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(&args, data)?;
    eprintln!(
        "spool {} serve, settings:\n  {}",
        env!("CARGO_PKG_VERSION"),
        config.describe().replace('\n', "\n  ")
    );
    let store = crate::open_store(&config.data)?;
    // Held until the server returns: its stdin closing is the watcher's cue.
    let _watcher = reaper::start_watcher().context("starting the browser watcher")?;
    let state = AppState::new(store, config)?;
    tokio::spawn(tools::browser::close_idle_sessions(state.clone()));
    let result = if state.config.stdio {
        run_stdio(state.clone()).await
    } else {
        run_http(state.clone()).await
    };
    // Every browser closes with the pool; live sessions are stored first. Each step is
    // bounded and says what it does, so a shutdown that takes long shows where.
    let grace = state.config.shutdown_grace;
    if tokio::time::timeout(grace, tools::browser::close_all(&state))
        .await
        .is_err()
    {
        eprintln!("open browser sessions did not close in time; they reopen as INTERRUPTED");
    }
    eprintln!("shutting down: closing browsers");
    state.pool.shutdown().await;
    eprintln!("shutting down: writing what is queued to the store");
    let writer = state.writer.clone();
    let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
    eprintln!("stopped");
    result
}

async fn run_http(state: AppState) -> anyhow::Result<()> {
    let addr = state.config.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!("listening on http://{local} (REST under /api, MCP at /mcp)");
    let app = rest::app(state.clone());
    let stopping = state.shutdown.clone();
    let server = tokio::spawn(async move {
        // The peer address tells anonymous clients apart for the rate limits.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(stopping.cancelled_owned())
            .await
    });
    shutdown_signal().await;
    eprintln!("shutting down: stopping running captures");
    state.stop_all_captures();
    let grace = state.config.shutdown_grace;
    wait_for_captures(&state, grace).await;
    match tokio::time::timeout(Duration::from_secs(1), server).await {
        Ok(Ok(result)) => result?,
        // Open MCP streams may hold connections; the captures are stored, so stop here.
        Ok(Err(e)) => tracing::warn!("server task failed: {e}"),
        Err(_) => tracing::info!("closing the remaining connections"),
    }
    Ok(())
}

async fn run_stdio(state: AppState) -> anyhow::Result<()> {
    let service = mcp::McpServer::new(state.clone())
        .serve(rmcp::transport::stdio())
        .await
        .context("starting MCP over stdio")?;
    let token = service.cancellation_token();
    tokio::select! {
        quit = service.waiting() => {
            tracing::info!("MCP client left: {quit:?}");
        }
        _ = shutdown_signal() => {
            eprintln!("shutting down: stopping running captures");
            token.cancel();
        }
    }
    state.stop_all_captures();
    wait_for_captures(&state, state.config.shutdown_grace).await;
    Ok(())
}

/// Waits until every running capture has stopped and been stored, or `grace` passed.
async fn wait_for_captures(state: &AppState, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while state.running_captures() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = state.running_captures();
    if left > 0 {
        eprintln!("{left} capture(s) did not stop in time; they reopen as INTERRUPTED");
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `spool tool NAME [ARGS_JSON]`: calls a tool in this process, through the same registry,
/// validation and handler as MCP and REST, and prints its JSON.
#[derive(clap::Args)]
pub struct ToolArgs {
    /// The tool's name (`spool tool --list` shows them).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// The arguments as a JSON object (default `{}`).
    args: Option<String>,
    /// List the tools with their input schemas.
    #[arg(long)]
    list: bool,
    /// Allow execute-optimally's `integuruCode` (runs the Python it is given), as
    /// `spool serve --allow-integuru-code true` does.
    #[arg(long)]
    allow_integuru_code: bool,
    /// Call the tool this many times and print the handler's latency on stderr (the
    /// baseline for the MCP and REST overhead in BENCHMARKS.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
}

pub async fn run_tool(args: ToolArgs, data: Option<&Path>) -> anyhow::Result<()> {
    let serve_args = ServeArgs {
        allow_integuru_code: args.allow_integuru_code.then_some(true),
        ..ServeArgs::default()
    };
    let config = ServeConfig::resolve(&serve_args, data)?;
    let store = crate::open_store(&config.data)?;
    let state = AppState::new(store, config)?;
    if args.list {
        for tool in state.registry.tools() {
            println!("{}: {}", tool.name, tool.description);
            println!(
                "  input: {}",
                serde_json::to_string(&tool.input_schema).unwrap_or_default()
            );
        }
        return Ok(());
    }
    let name = args.name.unwrap_or_default();
    let input: serde_json::Value = match &args.args {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| crate::exit::CodedError::invalid(format!("invalid arguments: {e}")))?,
        None => serde_json::json!({}),
    };
    let mut took = Vec::with_capacity(args.repeat as usize);
    let mut output = None;
    for _ in 0..args.repeat {
        let started = std::time::Instant::now();
        let result = state
            .registry
            .call(&state, &name, input.clone(), CallContext::default())
            .await;
        took.push(started.elapsed());
        output = Some(result.map_err(|e| {
            anyhow::Error::new(crate::exit::CodedError {
                code: e.code,
                message: e.message.clone(),
            })
        })?);
    }
    if args.repeat > 1 {
        took.sort();
        let mean = took.iter().sum::<Duration>() / args.repeat;
        let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
        eprintln!(
            "{} calls of {name}: mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
            args.repeat,
            mean.as_secs_f64() * 1e6,
            at(0.5).as_secs_f64() * 1e6,
            at(0.99).as_secs_f64() * 1e6
        );
    }
    if let Some(output) = output {
        println!("{}", serde_json::to_string_pretty(&output.structured)?);
    }
    Ok(())
}
