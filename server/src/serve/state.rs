//! What every request handler shares: the store and its writer thread, the browser pool,
//! the settings, the tool registry, the running captures (so shutdown can stop them) and the
//! live browser sessions of the browser tools.

use super::auth::Authenticator;
use super::config::ServeConfig;
use super::limits::RateLimiters;
use super::registry::Registry;
use super::tools::browser::LiveSessions;
use spool_engine::{BrowserPool, BrowserSource, LaunchConfig, PoolConfig, StopSignal};
use spool_store::{Store, StoreWriter, Uuid};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    /// Every capture writes through this one thread (group commit).
    pub writer: StoreWriter,
    pub pool: BrowserPool,
    /// Browser sessions the browser tools hold open, by session id.
    pub live: LiveSessions,
    /// The live-event topics of the recordings running now.
    pub events: super::events::EventHub,
    /// Action replays paused at a failed step, waiting for `resume-replay`.
    pub paused: super::tools::replay::PausedReplays,
    pub config: ServeConfig,
    pub registry: Registry,
    /// The configured credentials.
    pub auth: Authenticator,
    /// The per-client, per-tool rate limiters.
    pub limiters: RateLimiters,
    pub started: Instant,
    /// Cancelled when the server shuts down: running captures stop and are stored.
    pub shutdown: CancellationToken,
    /// The stop signals of the captures running now, by session id.
    running: Mutex<HashMap<Uuid, StopSignal>>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Store, config: ServeConfig) -> anyhow::Result<AppState> {
        let writer = StoreWriter::spawn(store.clone())?;
        let pool = BrowserPool::new(PoolConfig {
            max_browsers: config.max_browsers,
            min_browsers: 0,
            acquire_timeout: config.acquire_timeout,
            idle_timeout: config.browser_idle_timeout,
            max_contexts_per_browser: config.contexts_per_browser,
            source: BrowserSource::Launch(LaunchConfig::default()),
            ..PoolConfig::default()
        })?;
        Ok(AppState(Arc::new(Inner {
            store,
            writer,
            pool,
            live: LiveSessions::default(),
            events: Default::default(),
            paused: Default::default(),
            registry: super::tools::registry(&config),
            auth: Authenticator::new(&config)?,
            limiters: RateLimiters::new(&config.limits),
            config,
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            running: Mutex::new(HashMap::new()),
        })))
    }

    pub fn register_capture(&self, id: Uuid, stop: StopSignal) {
        if let Ok(mut running) = self.running.lock() {
            running.insert(id, stop);
        }
    }

    pub fn unregister_capture(&self, id: Uuid) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&id);
        }
    }

    pub fn running_captures(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Stops every running capture; each ends as STOPPED with what it recorded.
    pub fn stop_all_captures(&self) {
        self.shutdown.cancel();
        if let Ok(running) = self.running.lock() {
            for stop in running.values() {
                stop.stop();
            }
        }
    }
}
