//! What every request handler shares: the store, the settings, the tool registry, the
//! running captures (so shutdown can stop them) and the browser slots.

use super::config::ServeConfig;
use super::error::ApiError;
use super::registry::Registry;
use spool_engine::StopSignal;
use spool_model::ErrorCode;
use spool_store::{Store, Uuid};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub config: ServeConfig,
    pub registry: Registry,
    pub started: Instant,
    /// Cancelled when the server shuts down: running captures stop and are stored.
    pub shutdown: CancellationToken,
    /// The stop signals of the captures running now, by session id.
    running: Mutex<HashMap<Uuid, StopSignal>>,
    /// One permit per browser the server may run at once.
    browsers: Arc<Semaphore>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Store, config: ServeConfig) -> AppState {
        let browsers = Arc::new(Semaphore::new(config.max_browsers.max(1)));
        AppState(Arc::new(Inner {
            store,
            registry: super::tools::registry(&config),
            config,
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            running: Mutex::new(HashMap::new()),
            browsers,
        }))
    }

    /// A browser slot, waiting up to the configured acquire timeout. A full server is
    /// [`ErrorCode::BrowserPoolBusy`] (HTTP 503 with `Retry-After`), not an internal error.
    pub async fn acquire_browser(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let wait = tokio::time::timeout(
            self.config.acquire_timeout,
            self.browsers.clone().acquire_owned(),
        );
        match wait.await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::new(
                ErrorCode::BrowserPoolBusy,
                format!(
                    "all {} browsers are busy; try again later",
                    self.config.max_browsers
                ),
            )),
        }
    }

    /// Browsers in use now.
    pub fn browsers_in_use(&self) -> usize {
        self.config
            .max_browsers
            .saturating_sub(self.browsers.available_permits())
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
