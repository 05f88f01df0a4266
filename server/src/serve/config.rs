//! `spool serve` settings: flags, else `SPOOL_*` variables, else a TOML file, else
//! defaults. They are printed at start, secrets masked.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
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
    /// Seconds an idle browser stays open before it is closed (default 300).
    #[arg(long, env = "SPOOL_BROWSER_IDLE_TIMEOUT")]
    pub browser_idle_timeout: Option<u64>,
    /// Sessions one browser serves at once, each in its own isolated context (default 4;
    /// 1 gives every session a browser process of its own).
    #[arg(long, env = "SPOOL_CONTEXTS_PER_BROWSER")]
    pub contexts_per_browser: Option<usize>,
    /// Largest request body in bytes (default 50 MiB); larger ones get 413.
    #[arg(long, env = "SPOOL_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Allow the `evaluate` browser tool (runs caller JavaScript in the page).
    #[arg(long, env = "SPOOL_ALLOW_EVALUATE")]
    pub allow_evaluate: Option<bool>,
    /// Allow `execute-optimally`'s `integuruCode` (runs caller Python with `python3`).
    #[arg(long, env = "SPOOL_ALLOW_INTEGURU_CODE")]
    pub allow_integuru_code: Option<bool>,
    /// Tool calls a `batch-execute` or `parallel-execute` call runs at once, at most
    /// (default 4); a call asking for more gets this many.
    #[arg(long, env = "SPOOL_MAX_CONCURRENCY")]
    pub max_concurrency: Option<usize>,
    /// An API key clients send as `X-API-Key` (repeat the flag, or comma-separate the
    /// variable, for several). With any credential set, every route but /health needs one.
    #[arg(
        long = "api-key",
        env = "SPOOL_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// A static bearer token clients send as `Authorization: Bearer TOKEN` (repeatable).
    #[arg(
        long = "api-token",
        env = "SPOOL_API_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_tokens: Vec<String>,
    /// Accept JWTs signed with this HS256 secret as bearer tokens (`exp` required).
    #[arg(long, env = "SPOOL_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,
    /// Accept JWTs signed with the RSA key of this PEM public key file (RS256).
    #[arg(long, env = "SPOOL_JWT_RS256_PUBLIC_KEY")]
    pub jwt_rs256_public_key: Option<PathBuf>,
    /// When set, a JWT's `iss` must be this.
    #[arg(long, env = "SPOOL_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// When set, a JWT's `aud` must contain this.
    #[arg(long, env = "SPOOL_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// A host name `/mcp` answers to besides the loopback names (repeatable); guards
    /// against DNS rebinding.
    #[arg(
        long = "allowed-host",
        env = "SPOOL_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// A browser origin allowed by CORS and on `/mcp` (repeatable; `*` for any).
    #[arg(
        long = "cors-origin",
        env = "SPOOL_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Enforce per-client, per-tool rate limits (default: on when credentials are set).
    #[arg(long, env = "SPOOL_RATE_LIMITS")]
    pub rate_limits: Option<bool>,
    /// A tool's limit as `TOOL=PER_SECOND/BURST` (repeatable); `default=…` sets the limit
    /// of every tool not named.
    #[arg(long = "rate-limit", env = "SPOOL_RATE_LIMIT", value_delimiter = ',')]
    pub rate_limit: Vec<String>,
    /// Seconds a route that reads (sessions, tools, metrics) may take (default 30).
    #[arg(long, env = "SPOOL_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,
    /// Seconds a tool call over REST may take before 504 (default 600).
    #[arg(long, env = "SPOOL_TOOL_TIMEOUT")]
    pub tool_timeout: Option<u64>,
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
    browser_idle_timeout: Option<u64>,
    contexts_per_browser: Option<usize>,
    max_body_bytes: Option<usize>,
    allow_evaluate: Option<bool>,
    allow_integuru_code: Option<bool>,
    max_concurrency: Option<usize>,
    /// One bearer token (older files); `api_tokens` takes several.
    api_token: Option<String>,
    #[serde(default)]
    api_tokens: Vec<String>,
    #[serde(default)]
    api_keys: Vec<String>,
    jwt_hs256_secret: Option<String>,
    jwt_rs256_public_key: Option<PathBuf>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    cors_origins: Vec<String>,
    rate_limits: Option<bool>,
    /// `TOOL = "PER_SECOND/BURST"`.
    #[serde(default)]
    rate_limit: BTreeMap<String, String>,
    request_timeout: Option<u64>,
    tool_timeout: Option<u64>,
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
    pub browser_idle_timeout: Duration,
    pub contexts_per_browser: usize,
    pub max_body_bytes: usize,
    pub allow_evaluate: bool,
    pub allow_integuru_code: bool,
    pub max_concurrency: usize,
    pub api_keys: Vec<String>,
    pub api_tokens: Vec<String>,
    pub jwt_hs256_secret: Option<String>,
    pub jwt_rs256_public_key: Option<PathBuf>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub cors_origins: Vec<String>,
    pub rate_limits: bool,
    pub limits: RateLimits,
    pub request_timeout: Duration,
    pub tool_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// Requests per second and burst of one tool, per client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl RateLimit {
    const fn of(per_second: u32, burst: u32) -> RateLimit {
        match (NonZeroU32::new(per_second), NonZeroU32::new(burst)) {
            (Some(per_second), Some(burst)) => RateLimit { per_second, burst },
            _ => panic!("a rate limit is at least 1/1"),
        }
    }

    /// `PER_SECOND/BURST`, both at least 1.
    fn parse(text: &str) -> Option<RateLimit> {
        let (rate, burst) = text.trim().split_once('/')?;
        Some(RateLimit {
            per_second: rate.trim().parse().ok()?,
            burst: burst.trim().parse().ok()?,
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.per_second, self.burst)
    }
}

/// The limit of every tool: the named ones, and the default for the rest (and for requests
/// that call no tool, such as `/api/tools` or an MCP `tools/list`).
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub per_tool: BTreeMap<String, RateLimit>,
    pub default: RateLimit,
}

impl Default for RateLimits {
    /// The spec's limits for the two expensive tools; a generous default for the rest.
    fn default() -> Self {
        RateLimits {
            per_tool: BTreeMap::from([
                ("capture-and-analyze".to_string(), RateLimit::of(1, 5)),
                ("execute-optimally".to_string(), RateLimit::of(2, 10)),
                // A batch may hold many executions: it is limited like one at least.
                ("batch-execute".to_string(), RateLimit::of(2, 10)),
                ("parallel-execute".to_string(), RateLimit::of(2, 10)),
            ]),
            default: RateLimit::of(20, 50),
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            stdio: false,
            data: spool_store::Store::default_dir(),
            max_browsers: 5,
            acquire_timeout: Duration::from_secs(30),
            browser_idle_timeout: Duration::from_secs(300),
            contexts_per_browser: 4,
            max_body_bytes: 50 * 1024 * 1024,
            allow_evaluate: false,
            allow_integuru_code: false,
            max_concurrency: 4,
            api_keys: Vec::new(),
            api_tokens: Vec::new(),
            jwt_hs256_secret: None,
            jwt_rs256_public_key: None,
            jwt_issuer: None,
            jwt_audience: None,
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            rate_limits: false,
            limits: RateLimits::default(),
            request_timeout: Duration::from_secs(30),
            tool_timeout: Duration::from_secs(600),
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
        let either = |flag: &Vec<String>, file: Vec<String>| {
            if flag.is_empty() { file } else { flag.clone() }
        };
        let mut api_tokens = either(&args.api_tokens, file.api_tokens);
        if api_tokens.is_empty() {
            api_tokens.extend(file.api_token);
        }
        let mut limits = RateLimits::default();
        let mut limit_texts: Vec<(String, String)> = file.rate_limit.into_iter().collect();
        for item in &args.rate_limit {
            let (tool, text) = item.split_once('=').ok_or_else(|| {
                crate::exit::CodedError::invalid(format!(
                    "invalid rate_limit {item:?}: expected TOOL=PER_SECOND/BURST"
                ))
            })?;
            limit_texts.push((tool.trim().to_string(), text.to_string()));
        }
        for (tool, text) in limit_texts {
            let limit = RateLimit::parse(&text).ok_or_else(|| {
                crate::exit::CodedError::invalid(format!(
                    "invalid rate_limit for {tool}: {text:?} is not PER_SECOND/BURST with both at least 1"
                ))
            })?;
            if tool == "default" {
                limits.default = limit;
            } else {
                limits.per_tool.insert(tool, limit);
            }
        }
        let api_keys = either(&args.api_keys, file.api_keys);
        let jwt_hs256_secret = args.jwt_hs256_secret.clone().or(file.jwt_hs256_secret);
        let jwt_rs256_public_key = args
            .jwt_rs256_public_key
            .clone()
            .or(file.jwt_rs256_public_key);
        let has_credentials = !api_keys.is_empty()
            || !api_tokens.is_empty()
            || jwt_hs256_secret.is_some()
            || jwt_rs256_public_key.is_some();
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
            browser_idle_timeout: args
                .browser_idle_timeout
                .or(file.browser_idle_timeout)
                .map(Duration::from_secs)
                .unwrap_or(d.browser_idle_timeout),
            contexts_per_browser: args
                .contexts_per_browser
                .or(file.contexts_per_browser)
                .unwrap_or(d.contexts_per_browser),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(d.max_body_bytes),
            allow_evaluate: args
                .allow_evaluate
                .or(file.allow_evaluate)
                .unwrap_or(d.allow_evaluate),
            allow_integuru_code: args
                .allow_integuru_code
                .or(file.allow_integuru_code)
                .unwrap_or(d.allow_integuru_code),
            max_concurrency: args
                .max_concurrency
                .or(file.max_concurrency)
                .unwrap_or(d.max_concurrency),
            api_keys,
            api_tokens,
            jwt_hs256_secret,
            jwt_rs256_public_key,
            jwt_issuer: args.jwt_issuer.clone().or(file.jwt_issuer),
            jwt_audience: args.jwt_audience.clone().or(file.jwt_audience),
            allowed_hosts: either(&args.allowed_hosts, file.allowed_hosts),
            cors_origins: either(&args.cors_origins, file.cors_origins),
            rate_limits: args
                .rate_limits
                .or(file.rate_limits)
                .unwrap_or(has_credentials),
            limits,
            request_timeout: args
                .request_timeout
                .or(file.request_timeout)
                .map(Duration::from_secs)
                .unwrap_or(d.request_timeout),
            tool_timeout: args
                .tool_timeout
                .or(file.tool_timeout)
                .map(Duration::from_secs)
                .unwrap_or(d.tool_timeout),
            shutdown_grace: args
                .shutdown_grace
                .or(file.shutdown_grace)
                .map(Duration::from_secs)
                .unwrap_or(d.shutdown_grace),
        };
        if config.max_concurrency == 0 {
            return Err(crate::exit::CodedError::invalid(
                "invalid max_concurrency: must be at least 1",
            ));
        }
        if config.max_browsers == 0 {
            return Err(crate::exit::CodedError::invalid(
                "invalid max_browsers: must be at least 1",
            ));
        }
        if !(1..=64).contains(&config.contexts_per_browser) {
            return Err(crate::exit::CodedError::invalid(format!(
                "invalid contexts_per_browser: must be 1–64, got {}",
                config.contexts_per_browser
            )));
        }
        if !config.stdio && !config.addr.ip().is_loopback() && !has_credentials {
            return Err(crate::exit::CodedError::invalid(
                super::auth::refuse_unprotected(config.addr),
            ));
        }
        Ok(config)
    }

    /// The settings as printed at start; secrets are masked, only their count shows.
    pub fn describe(&self) -> String {
        let masked = |n: usize| match n {
            0 => "(none)".to_string(),
            n => format!("{n} × ****"),
        };
        let secret = |s: &Option<String>| if s.is_some() { "****" } else { "(none)" };
        let list = |l: &[String]| {
            if l.is_empty() {
                "(none)".to_string()
            } else {
                l.join(", ")
            }
        };
        let limits: Vec<String> = self
            .limits
            .per_tool
            .iter()
            .map(|(tool, limit)| format!("{tool}={limit}"))
            .chain([format!("default={}", self.limits.default)])
            .collect();
        let lines = [
            format!("addr = {}", self.addr),
            format!("stdio = {}", self.stdio),
            format!("data = {}", self.data.display()),
            format!("max_browsers = {}", self.max_browsers),
            format!("acquire_timeout = {} s", self.acquire_timeout.as_secs()),
            format!(
                "browser_idle_timeout = {} s",
                self.browser_idle_timeout.as_secs()
            ),
            format!("contexts_per_browser = {}", self.contexts_per_browser),
            format!("max_body_bytes = {}", self.max_body_bytes),
            format!("allow_evaluate = {}", self.allow_evaluate),
            format!("allow_integuru_code = {}", self.allow_integuru_code),
            format!("max_concurrency = {}", self.max_concurrency),
            format!("api_keys = {}", masked(self.api_keys.len())),
            format!("api_tokens = {}", masked(self.api_tokens.len())),
            format!("jwt_hs256_secret = {}", secret(&self.jwt_hs256_secret)),
            format!(
                "jwt_rs256_public_key = {}",
                self.jwt_rs256_public_key
                    .as_ref()
                    .map_or("(none)".to_string(), |p| p.display().to_string())
            ),
            format!(
                "jwt_issuer = {}",
                self.jwt_issuer.as_deref().unwrap_or("(any)")
            ),
            format!(
                "jwt_audience = {}",
                self.jwt_audience.as_deref().unwrap_or("(any)")
            ),
            format!("allowed_hosts = {}", list(&self.allowed_hosts)),
            format!("cors_origins = {}", list(&self.cors_origins)),
            format!("rate_limits = {}", self.rate_limits),
            format!("rate_limit = {}", limits.join(", ")),
            format!("request_timeout = {} s", self.request_timeout.as_secs()),
            format!("tool_timeout = {} s", self.tool_timeout.as_secs()),
            format!("shutdown_grace = {} s", self.shutdown_grace.as_secs()),
        ];
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_file(toml: &str) -> anyhow::Result<ServeConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("spool.toml");
        std::fs::write(&path, toml)?;
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        ServeConfig::resolve(&args, Some(dir.path()))
    }

    #[test]
    fn rate_limits_come_from_the_file_over_the_spec_defaults() {
        let config = resolve_file(
            "api_keys = [\"k\"]\n[rate_limit]\n\"capture-and-analyze\" = \"2/8\"\ndefault = \"5/5\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(config.rate_limits, "credentials turn the limits on");
        let limits = &config.limits;
        assert_eq!(limits.per_tool["capture-and-analyze"].to_string(), "2/8");
        assert_eq!(limits.per_tool["execute-optimally"].to_string(), "2/10");
        assert_eq!(limits.default.to_string(), "5/5");
        let shown = config.describe();
        assert!(shown.contains("api_keys = 1 × ****"), "{shown}");
        assert!(!shown.contains("\"k\""), "{shown}");
    }

    #[test]
    fn a_broken_rate_limit_names_the_tool() {
        let error = resolve_file("[rate_limit]\n\"list-sessions\" = \"fast\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("list-sessions"), "{error}");
        assert!(error.contains("PER_SECOND/BURST"), "{error}");
    }
}
