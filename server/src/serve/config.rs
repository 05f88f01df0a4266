//! `spool serve` settings: flags, else `SPOOL_*` variables, else a TOML file, else
//! defaults. They are printed at start, secrets masked.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// Address for REST and MCP over streamable HTTP (default 127.0.0.1:3000; port 0 picks
    /// a free one).
    #[arg(long, env = "SPOOL_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Serve MCP over stdin/stdout instead of HTTP (for desktop agents).
    #[arg(long)]
    pub stdio: bool,
    /// A TOML file of settings (the same names as the flags, with underscores).
    #[arg(long, env = "SPOOL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Browsers that may run at once (default 5).
    #[arg(long, env = "SPOOL_MAX_BROWSERS")]
    pub max_browsers: Option<usize>,
    /// Seconds a call waits for a free browser before it is refused as busy (default 30).
    #[arg(long, env = "SPOOL_ACQUIRE_TIMEOUT")]
    pub acquire_timeout: Option<u64>,
    /// Largest request body in bytes (default 50 MiB); larger ones get 413.
    #[arg(long, env = "SPOOL_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Allow the `evaluate` browser tool (runs caller JavaScript in the page).
    #[arg(long, env = "SPOOL_ALLOW_EVALUATE")]
    pub allow_evaluate: Option<bool>,
    /// When set, every route but /health needs `Authorization: Bearer TOKEN`.
    #[arg(long, env = "SPOOL_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Seconds shutdown waits for running captures to stop and be stored (default 10).
    #[arg(long, env = "SPOOL_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
}

/// The TOML file: every field optional.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    addr: Option<SocketAddr>,
    data: Option<PathBuf>,
    max_browsers: Option<usize>,
    acquire_timeout: Option<u64>,
    max_body_bytes: Option<usize>,
    allow_evaluate: Option<bool>,
    api_token: Option<String>,
    shutdown_grace: Option<u64>,
}

/// The settings in force.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub stdio: bool,
    pub data: PathBuf,
    pub max_browsers: usize,
    pub acquire_timeout: Duration,
    pub max_body_bytes: usize,
    pub allow_evaluate: bool,
    pub api_token: Option<String>,
    pub shutdown_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            stdio: false,
            data: spool_store::Store::default_dir(),
            max_browsers: 5,
            acquire_timeout: Duration::from_secs(30),
            max_body_bytes: 50 * 1024 * 1024,
            allow_evaluate: false,
            api_token: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServeConfig {
    /// Flags and variables first, then the file, then defaults. `data` is the global
    /// `--data`/`SPOOL_DATA` when given.
    pub fn resolve(args: &ServeArgs, data: Option<&Path>) -> anyhow::Result<ServeConfig> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    crate::exit::CodedError::invalid(format!(
                        "cannot read --config {}: {e}",
                        path.display()
                    ))
                })?;
                toml::from_str::<FileSettings>(&text).map_err(|e| {
                    crate::exit::CodedError::invalid(format!(
                        "invalid settings in {}: {e}",
                        path.display()
                    ))
                })?
            }
            None => FileSettings::default(),
        };
        let d = ServeConfig::default();
        let config = ServeConfig {
            addr: args.addr.or(file.addr).unwrap_or(d.addr),
            stdio: args.stdio,
            data: data.map(Path::to_path_buf).or(file.data).unwrap_or(d.data),
            max_browsers: args
                .max_browsers
                .or(file.max_browsers)
                .unwrap_or(d.max_browsers),
            acquire_timeout: args
                .acquire_timeout
                .or(file.acquire_timeout)
                .map(Duration::from_secs)
                .unwrap_or(d.acquire_timeout),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(d.max_body_bytes),
            allow_evaluate: args
                .allow_evaluate
                .or(file.allow_evaluate)
                .unwrap_or(d.allow_evaluate),
            api_token: args.api_token.clone().or(file.api_token),
            shutdown_grace: args
                .shutdown_grace
                .or(file.shutdown_grace)
                .map(Duration::from_secs)
                .unwrap_or(d.shutdown_grace),
        };
        if config.max_browsers == 0 {
            return Err(crate::exit::CodedError::invalid(
                "invalid max_browsers: must be at least 1",
            ));
        }
        Ok(config)
    }

    /// The settings as printed at start; the API token is masked.
    pub fn describe(&self) -> String {
        let token = match &self.api_token {
            Some(_) => "****",
            None => "(none)",
        };
        format!(
            "addr = {}\nstdio = {}\ndata = {}\nmax_browsers = {}\nacquire_timeout = {} s\nmax_body_bytes = {}\nallow_evaluate = {}\napi_token = {token}\nshutdown_grace = {} s",
            self.addr,
            self.stdio,
            self.data.display(),
            self.max_browsers,
            self.acquire_timeout.as_secs(),
            self.max_body_bytes,
            self.allow_evaluate,
            self.shutdown_grace.as_secs()
        )
    }
}
