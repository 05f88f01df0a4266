//! A pool of browsers that serves many sessions at once, each in its own browser context.
//!
//! [`BrowserPool::acquire`] hands out a [`ContextLease`]: an isolated browser context
//! (cookies, storage and cache of its own) on one of at most `max_browsers` browsers, each
//! serving at most `max_contexts_per_browser` contexts. A caller that finds the pool full
//! waits in a FIFO queue of at most `max_waiters` for at most `acquire_timeout`, then gets
//! [`EngineError::PoolBusy`]. `min_browsers` are kept warm; a browser idle for
//! `idle_timeout` beyond that is closed; a browser that died is dropped from the pool (its
//! leases see their connection close) and replaced when needed.
//!
//! Each browser keeps one spare context with a blank tab open, so a caller does not wait for
//! a renderer to start. With [`SpareTab::Recording`] (the default) that tab is also set up to
//! be recorded, between requests: a capture that takes it sends its navigation at once.
//!
//! Where browsers come from is a [`BrowserProvider`]: a local Chromium we launch, or a remote
//! DevTools endpoint such as a browser grid. The pool does not care which.

use crate::browser::{Browser, BrowserContext, BrowserVersion, LaunchConfig};
use crate::capture::PreparedTab;
use crate::cdp::Connection;
use crate::error::EngineError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Where browsers come from.
#[derive(Debug, Clone)]
pub enum BrowserSource {
    /// Launch a fresh headless Chromium per pooled browser, killed when it leaves the pool.
    Launch(LaunchConfig),
    /// Connect to a running Chromium or a grid (`http://host:port` or `ws://…`); it is left
    /// running when it leaves the pool.
    Attach(String),
}

/// A source of browsers, the seam for remote browser grids.
pub trait BrowserProvider: Send + Sync {
    /// Starts or connects to one browser.
    fn connect(&self) -> Pin<Box<dyn Future<Output = Result<Browser, EngineError>> + Send + '_>>;
    /// A short description for logs and `/health`.
    fn describe(&self) -> String;
}

impl BrowserProvider for BrowserSource {
    fn connect(&self) -> Pin<Box<dyn Future<Output = Result<Browser, EngineError>> + Send + '_>> {
        Box::pin(async move {
            match self {
                BrowserSource::Launch(config) => Browser::launch(config).await,
                BrowserSource::Attach(endpoint) => Browser::attach(endpoint).await,
            }
        })
    }

    fn describe(&self) -> String {
        match self {
            BrowserSource::Launch(config) => format!("launch {}", config.executable().display()),
            BrowserSource::Attach(endpoint) => format!("attach {endpoint}"),
        }
    }
}

/// How big the pool is and how long things may take. Defaults follow the spec's pooling
/// section: 5 browsers at most, 1 kept warm, 5 minutes idle, 30 s to launch.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_browsers: usize,
    /// Browsers kept running even when idle (launched when the pool starts).
    pub min_browsers: usize,
    /// An idle browser beyond `min_browsers` is closed after this long.
    pub idle_timeout: Duration,
    /// How long a browser may take to start (or to be connected to).
    pub launch_timeout: Duration,
    /// Contexts (sessions) one browser serves at once.
    pub max_contexts_per_browser: usize,
    /// Callers that may wait for a context at once; one more is told the pool is busy.
    pub max_waiters: usize,
    /// How long a caller waits for a context before it is told the pool is busy.
    pub acquire_timeout: Duration,
    pub source: BrowserSource,
    /// How the blank tab of each spare context is readied.
    pub spare_tab: SpareTab,
}

/// How the pool readies the blank tab of each spare context before a caller takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpareTab {
    /// Attached and set up as a capture with the default viewport sets up its tab (see
    /// [`PreparedTab`]), besides its renderer started. Captures, recordings and browser-tool
    /// sessions then send their navigation at once; a network replay turns off what it
    /// does not use, in the round trip it needs for its own set-up anyway.
    #[default]
    Recording,
    /// Its renderer started, nothing else: the caller attaches and sets the tab up itself.
    /// For callers that must not have recording on, such as the uncaptured baseline of the
    /// capture-overhead bench.
    Blank,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_browsers: 5,
            min_browsers: 1,
            idle_timeout: Duration::from_secs(300),
            launch_timeout: Duration::from_secs(30),
            max_contexts_per_browser: 4,
            max_waiters: 64,
            acquire_timeout: Duration::from_secs(30),
            source: BrowserSource::Launch(LaunchConfig::default()),
            spare_tab: SpareTab::default(),
        }
    }
}

impl PoolConfig {
    /// A pool of one browser serving one session: what the CLI's `capture` uses.
    pub fn single(source: BrowserSource) -> PoolConfig {
        PoolConfig {
            max_browsers: 1,
            min_browsers: 0,
            max_contexts_per_browser: 1,
            max_waiters: 0,
            source,
            ..PoolConfig::default()
        }
    }

    /// Checks the numbers, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.max_browsers == 0 {
            return Err(EngineError::invalid("maxBrowsers", "must be at least 1"));
        }
        if self.min_browsers > self.max_browsers {
            return Err(EngineError::invalid(
                "minBrowsers",
                format!("must be at most maxBrowsers ({})", self.max_browsers),
            ));
        }
        if self.max_contexts_per_browser == 0 {
            return Err(EngineError::invalid(
                "maxContextsPerBrowser",
                "must be at least 1",
            ));
        }
        if self.launch_timeout.is_zero() {
            return Err(EngineError::invalid("launchTimeoutMs", "must be positive"));
        }
        Ok(())
    }
}

/// What the pool is doing, for `/health`, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    /// Browsers running (or connected).
    pub browsers: usize,
    /// Browsers being launched right now.
    pub launching: usize,
    /// Contexts handed out and not yet returned.
    pub contexts_in_use: usize,
    /// Callers waiting for a context.
    pub waiters: usize,
    /// Contexts opened ahead of time, each with its blank tab ready.
    pub spares: usize,
    /// Browsers started since the pool began.
    pub launched_total: u64,
    /// Browsers found dead and dropped.
    pub died_total: u64,
    /// Callers told the pool was busy.
    pub busy_total: u64,
}

/// A pool of browsers. Cheap to clone; every clone is the same pool.
#[derive(Clone)]
pub struct BrowserPool {
    inner: Arc<PoolInner>,
}

/// A poisoned lock only means another thread panicked while holding it; the pool's state is
/// still consistent (every change is a single field update), so carry on with it.
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct PoolInner {
    config: PoolConfig,
    provider: Arc<dyn BrowserProvider>,
    /// One permit per context the pool can serve at once; tokio's semaphore is FIFO, which
    /// makes the wait queue fair.
    permits: Arc<Semaphore>,
    waiters: AtomicUsize,
    state: Mutex<PoolState>,
    /// Something changed: a launch finished, a browser left, a context came back.
    changed: Notify,
}

impl PoolInner {
    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        locked(&self.state)
    }
}

#[derive(Default)]
struct PoolState {
    browsers: Vec<Slot>,
    launching: usize,
    next_id: u64,
    shut_down: bool,
    stats: PoolStats,
}

struct Slot {
    id: u64,
    browser: Arc<Browser>,
    leases: usize,
    idle_since: Instant,
    /// When a caller last took a context of this browser: its page is loading for a while
    /// after, and a spare made then would take CPU from it.
    last_claimed: Option<Instant>,
    /// A context with a blank tab already open (its renderer started), handed to the next
    /// caller so a warm start does not wait for a new renderer process.
    spare: Option<Spare>,
    /// A spare is being made for this slot.
    making_spare: bool,
}

/// A ready context and the blank tab in it.
struct Spare {
    context: BrowserContext,
    page: String,
    prepared: Option<PreparedTab>,
}

impl BrowserPool {
    /// Starts a pool and, in the background, its warm browsers and its idle reaper.
    pub fn new(config: PoolConfig) -> Result<BrowserPool, EngineError> {
        BrowserPool::with_provider(config.clone(), Arc::new(config.source))
    }

    /// A pool whose browsers come from `provider` (a grid, a test double of a remote
    /// endpoint); `config.source` is then only descriptive.
    pub fn with_provider(
        config: PoolConfig,
        provider: Arc<dyn BrowserProvider>,
    ) -> Result<BrowserPool, EngineError> {
        config.validate()?;
        let permits = Arc::new(Semaphore::new(
            config.max_browsers * config.max_contexts_per_browser,
        ));
        let pool = BrowserPool {
            inner: Arc::new(PoolInner {
                config,
                provider,
                permits,
                waiters: AtomicUsize::new(0),
                state: Mutex::default(),
                changed: Notify::new(),
            }),
        };
        let weak = Arc::downgrade(&pool.inner);
        tokio::spawn(maintain(weak));
        Ok(pool)
    }

    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// Where the pool's browsers come from, in words.
    pub fn source(&self) -> String {
        self.inner.provider.describe()
    }

    pub fn stats(&self) -> PoolStats {
        let state = self.inner.state();
        let mut stats = state.stats;
        stats.browsers = state.browsers.len();
        stats.launching = state.launching;
        stats.contexts_in_use = state.browsers.iter().map(|s| s.leases).sum();
        stats.spares = state.browsers.iter().filter(|s| s.spare.is_some()).count();
        stats.waiters = self.inner.waiters.load(Ordering::Relaxed);
        stats
    }

    /// An isolated browser context, waiting in line when the pool is full.
    pub async fn acquire(&self) -> Result<ContextLease, EngineError> {
        let inner = &self.inner;
        let permit = match inner.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(EngineError::PoolShutDown),
            Err(tokio::sync::TryAcquireError::NoPermits) => self.wait_in_line().await?,
        };
        let mut claim = self.claim_slot()?;
        loop {
            let (slot_id, browser) = match claim {
                Claim::Spare(id, browser, spare) => {
                    return Ok(self.spare_lease(id, browser, spare, permit));
                }
                Claim::SpareComing(id, browser) => {
                    // A spare already on its way is ready sooner than a context made now,
                    // and making a second one at the same time would slow both.
                    match self.wait_for_spare(id).await {
                        Some(spare) => return Ok(self.spare_lease(id, browser, spare, permit)),
                        None => (id, browser),
                    }
                }
                Claim::Existing(id, browser) => (id, browser),
                Claim::Launch => self.launch_one(true).await?,
                Claim::WaitForLaunch => {
                    // Every place is taken by browsers still launching: wait for one to come
                    // up (or fail), then look again.
                    let changed = inner.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    claim = self.claim_slot()?;
                    if matches!(claim, Claim::WaitForLaunch) {
                        let _ = tokio::time::timeout(Duration::from_millis(250), changed).await;
                        claim = self.claim_slot()?;
                    }
                    continue;
                }
            };
            match browser.new_context().await {
                Ok(context) => {
                    return Ok(ContextLease {
                        pool: Arc::downgrade(inner),
                        slot_id,
                        browser,
                        context: Some(context),
                        page: None,
                        prepared: None,
                        _permit: permit,
                    });
                }
                Err(e) if !browser.is_alive() || !browser.connection().is_open() => {
                    // The browser died under us: it leaves the pool, and we try another.
                    tracing::warn!("browser {slot_id} died before it opened a context: {e}");
                    self.drop_slot(slot_id, true);
                    claim = self.claim_slot()?;
                }
                Err(e) => {
                    self.unlease(slot_id);
                    return Err(e);
                }
            }
        }
    }

    /// Closes every browser now and refuses further work. Leases still held see their
    /// connection close.
    pub async fn shutdown(&self) {
        self.inner.permits.close();
        let browsers: Vec<Arc<Browser>> = {
            let mut state = self.inner.state();
            state.shut_down = true;
            state.browsers.drain(..).map(|s| s.browser).collect()
        };
        self.inner.changed.notify_waiters();
        // Killing waits up to seconds per browser for its helpers to go: each on a blocking
        // thread of its own, so the browsers go together and no async worker stalls.
        let kills: Vec<_> = browsers
            .into_iter()
            .map(|browser| tokio::task::spawn_blocking(move || browser.kill()))
            .collect();
        for kill in kills {
            let _ = kill.await;
        }
    }

    async fn wait_in_line(&self) -> Result<OwnedSemaphorePermit, EngineError> {
        let inner = &self.inner;
        let config = &inner.config;
        let queued = inner.waiters.fetch_add(1, Ordering::AcqRel);
        let _leave = WaiterGuard(&inner.waiters);
        if queued >= config.max_waiters {
            return Err(self.busy(Duration::ZERO));
        }
        match tokio::time::timeout(
            config.acquire_timeout,
            inner.permits.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(EngineError::PoolShutDown),
            Err(_) => Err(self.busy(config.acquire_timeout)),
        }
    }

    fn busy(&self, waited: Duration) -> EngineError {
        let config = &self.inner.config;
        self.inner.state().stats.busy_total += 1;
        EngineError::PoolBusy {
            waited,
            capacity: config.max_browsers * config.max_contexts_per_browser,
            // A session takes seconds; ask to come back in about one acquire timeout.
            retry_after: config.acquire_timeout.max(Duration::from_secs(1)),
        }
    }

    fn claim_slot(&self) -> Result<Claim, EngineError> {
        let inner = &self.inner;
        let mut state = inner.state();
        if state.shut_down {
            return Err(EngineError::PoolShutDown);
        }
        let max_contexts = inner.config.max_contexts_per_browser;
        let best = state
            .browsers
            .iter_mut()
            .filter(|s| s.leases < max_contexts && s.browser.is_alive())
            // A browser with a spare ready first, then one making it, then the least busy:
            // a warm start beats spreading contexts evenly, as all browsers share the cores.
            .min_by_key(|s| (s.spare.is_none(), !s.making_spare, s.leases));
        if let Some(slot) = best {
            slot.leases += 1;
            slot.last_claimed = Some(Instant::now());
            if let Some(spare) = slot.spare.take() {
                return Ok(Claim::Spare(slot.id, slot.browser.clone(), spare));
            }
            if slot.making_spare {
                return Ok(Claim::SpareComing(slot.id, slot.browser.clone()));
            }
            return Ok(Claim::Existing(slot.id, slot.browser.clone()));
        }
        if state.browsers.len() + state.launching < inner.config.max_browsers {
            state.launching += 1;
            return Ok(Claim::Launch);
        }
        Ok(Claim::WaitForLaunch)
    }

    /// Launches (or connects to) one browser and adds it to the pool, with one lease taken
    /// when `leased`.
    async fn launch_one(&self, leased: bool) -> Result<(u64, Arc<Browser>), EngineError> {
        let inner = &self.inner;
        let launched = tokio::time::timeout(inner.config.launch_timeout, inner.provider.connect())
            .await
            .unwrap_or_else(|_| {
                Err(EngineError::BrowserLaunchFailed {
                    path: inner.provider.describe().into(),
                    reason: format!(
                        "no browser within the launch timeout of {} s",
                        inner.config.launch_timeout.as_secs()
                    ),
                })
            });
        let mut state = inner.state();
        state.launching -= 1;
        let browser = match launched {
            Ok(browser) => Arc::new(browser),
            Err(e) => {
                drop(state);
                inner.changed.notify_waiters();
                return Err(e);
            }
        };
        if state.shut_down {
            drop(state);
            browser.kill();
            return Err(EngineError::PoolShutDown);
        }
        state.next_id += 1;
        state.stats.launched_total += 1;
        let id = state.next_id;
        state.browsers.push(Slot {
            id,
            browser: browser.clone(),
            leases: usize::from(leased),
            idle_since: Instant::now(),
            last_claimed: None,
            spare: None,
            making_spare: false,
        });
        drop(state);
        inner.changed.notify_waiters();
        Ok((id, browser))
    }

    fn spare_lease(
        &self,
        slot_id: u64,
        browser: Arc<Browser>,
        spare: Spare,
        permit: OwnedSemaphorePermit,
    ) -> ContextLease {
        ContextLease {
            pool: Arc::downgrade(&self.inner),
            slot_id,
            browser,
            context: Some(spare.context),
            page: Some(spare.page),
            prepared: spare.prepared,
            _permit: permit,
        }
    }

    /// Waits, briefly, for the spare being made for slot `slot_id` and takes it; `None`
    /// when it did not come (its making failed or took too long, or another caller took it).
    async fn wait_for_spare(&self, slot_id: u64) -> Option<Spare> {
        let deadline = tokio::time::Instant::now() + SPARE_PATIENCE;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.inner.state();
                let slot = state.browsers.iter_mut().find(|s| s.id == slot_id)?;
                if let Some(spare) = slot.spare.take() {
                    return Some(spare);
                }
                if !slot.making_spare {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    fn unlease(&self, slot_id: u64) {
        let mut state = self.inner.state();
        let max_contexts = self.inner.config.max_contexts_per_browser;
        let mut make = None;
        let shut_down = state.shut_down;
        if let Some(slot) = state.browsers.iter_mut().find(|s| s.id == slot_id) {
            slot.leases = slot.leases.saturating_sub(1);
            if slot.leases == 0 {
                slot.idle_since = Instant::now();
            }
            // The next caller finds a spare sooner if it is made now, between requests,
            // rather than at the next upkeep tick.
            if !shut_down
                && slot.spare.is_none()
                && !slot.making_spare
                && slot.leases < max_contexts
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
            {
                slot.making_spare = true;
                make = Some((runtime, slot.browser.clone()));
            }
        }
        drop(state);
        if let Some((runtime, browser)) = make {
            runtime.spawn(make_spare(Arc::downgrade(&self.inner), slot_id, browser));
        }
        self.inner.changed.notify_waiters();
    }

    fn drop_slot(&self, slot_id: u64, died: bool) {
        let mut state = self.inner.state();
        if let Some(at) = state.browsers.iter().position(|s| s.id == slot_id) {
            state.browsers.remove(at);
            if died {
                state.stats.died_total += 1;
            }
        }
        drop(state);
        self.inner.changed.notify_waiters();
    }
}

/// How long after a caller took a context the upkeep tick leaves its browser's spare unmade:
/// about the time a page takes to load on a busy two-core machine.
const SPARE_AFTER_CLAIM: Duration = Duration::from_secs(1);

/// How long setting a spare tab up for recording may take before the pool hands the tab out
/// without it (the caller then sets it up itself).
const PREPARE_PATIENCE: Duration = Duration::from_secs(5);

/// How long a caller waits for a spare context already being made before it makes its own.
/// Making one takes 50–150 ms on a busy two-core machine.
const SPARE_PATIENCE: Duration = Duration::from_millis(1500);

enum Claim {
    Spare(u64, Arc<Browser>, Spare),
    /// No spare yet, but one is being made for this browser.
    SpareComing(u64, Arc<Browser>),
    Existing(u64, Arc<Browser>),
    Launch,
    WaitForLaunch,
}

struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Keeps `min_browsers` warm, closes browsers idle past `idle_timeout`, drops dead ones.
/// Ends when the pool is dropped or shut down.
async fn maintain(pool: Weak<PoolInner>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let Some(inner) = pool.upgrade() else { return };
        let pool = BrowserPool { inner };
        let (to_close, to_launch, need_spare) = {
            let mut state = pool.inner.state();
            if state.shut_down {
                return;
            }
            let config = &pool.inner.config;
            // Dead browsers leave; their leases find out through their closed connection.
            let before = state.browsers.len();
            state.browsers.retain(|s| s.browser.is_alive());
            let died = (before - state.browsers.len()) as u64;
            state.stats.died_total += died;
            // Idle ones beyond the warm minimum close, oldest idle first.
            let mut to_close = Vec::new();
            let mut count = state.browsers.len();
            state.browsers.retain(|s| {
                let idle = s.leases == 0 && s.idle_since.elapsed() >= config.idle_timeout;
                if idle && count > config.min_browsers {
                    count -= 1;
                    to_close.push(s.browser.clone());
                    false
                } else {
                    true
                }
            });
            let have = state.browsers.len() + state.launching;
            let to_launch = config.min_browsers.saturating_sub(have);
            state.launching += to_launch;
            if died > 0 || !to_close.is_empty() {
                pool.inner.changed.notify_waiters();
            }
            // Every browser with room keeps one spare context ready. Besides when a lease
            // ends, it is made here, but not right after a caller took a context: making
            // one (a renderer process starting) would slow the page that caller is loading.
            let max_contexts = config.max_contexts_per_browser;
            let mut need_spare = Vec::new();
            for slot in &mut state.browsers {
                let settled = slot
                    .last_claimed
                    .is_none_or(|at| at.elapsed() >= SPARE_AFTER_CLAIM);
                if slot.spare.is_none()
                    && !slot.making_spare
                    && slot.leases < max_contexts
                    && settled
                {
                    slot.making_spare = true;
                    need_spare.push((slot.id, slot.browser.clone()));
                }
            }
            (to_close, to_launch, need_spare)
        };
        for browser in to_close {
            tokio::task::spawn_blocking(move || browser.kill());
        }
        for (slot_id, browser) in need_spare {
            tokio::spawn(make_spare(Arc::downgrade(&pool.inner), slot_id, browser));
        }
        for _ in 0..to_launch {
            if let Err(e) = pool.launch_one(false).await {
                tracing::warn!("could not keep a warm browser: {e}");
            }
        }
    }
}

/// Has the spare tab's renderer answer once (attach, evaluate, detach), so the capture that
/// takes the tab does not wait for it to start: the first command a fresh tab answers
/// costs tens of milliseconds, the next ones a few. Failing here is no failure: the
/// capture then just waits as it would have.
async fn warm_up(conn: &crate::cdp::Connection, target: &str) {
    let warmed = async {
        let session = conn
            .execute_for_string(
                None,
                "Target.attachToTarget",
                serde_json::json!({ "targetId": target, "flatten": true }),
                "sessionId",
            )
            .await?;
        let _ = conn
            .execute_raw(
                Some(&session),
                "Runtime.evaluate",
                serde_json::json!({ "expression": "0" }),
            )
            .await;
        conn.execute_raw(
            None,
            "Target.detachFromTarget",
            serde_json::json!({ "sessionId": session }),
        )
        .await?;
        Ok::<_, crate::cdp::CdpError>(())
    };
    if let Err(e) = tokio::time::timeout(Duration::from_secs(5), warmed)
        .await
        .map_err(|_| "timed out".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        tracing::debug!("could not warm up the spare tab: {e}");
    }
}

/// Opens a spare context with a blank tab for a slot, in the background.
async fn make_spare(pool: Weak<PoolInner>, slot_id: u64, browser: Arc<Browser>) {
    let Some(tab) = pool.upgrade().map(|inner| inner.config.spare_tab) else {
        return;
    };
    let made = async {
        let context = browser.new_context().await?;
        let page = context.create_page("about:blank").await?;
        let conn = context.connection();
        let prepared = match tab {
            SpareTab::Recording => {
                match crate::capture::prepare_tab(conn, &page, PREPARE_PATIENCE).await {
                    Ok(prepared) => Some(prepared),
                    // The caller sets the tab up itself, as it would have without this.
                    Err(e) => {
                        tracing::debug!("could not set the spare tab up for recording: {e}");
                        None
                    }
                }
            }
            SpareTab::Blank => {
                warm_up(conn, &page).await;
                None
            }
        };
        Ok::<_, EngineError>(Spare {
            context,
            page,
            prepared,
        })
    }
    .await;
    let Some(inner) = pool.upgrade() else { return };
    let mut state = inner.state();
    let Some(slot) = state.browsers.iter_mut().find(|s| s.id == slot_id) else {
        // The browser left the pool meanwhile; the spare is dropped (and disposed) with it.
        return;
    };
    slot.making_spare = false;
    match made {
        Ok(spare) => slot.spare = Some(spare),
        Err(e) => tracing::debug!("could not make a spare context: {e}"),
    }
    drop(state);
    // Callers waiting for this spare (or for it to fail) look again.
    inner.changed.notify_waiters();
}

/// An isolated browser context from the pool. Dropping it disposes the context and returns
/// its place to the pool.
pub struct ContextLease {
    pool: Weak<PoolInner>,
    slot_id: u64,
    browser: Arc<Browser>,
    context: Option<BrowserContext>,
    /// A blank tab already open in the context, for the first capture to use.
    page: Option<String>,
    /// How that tab was set up, when the pool set it up for recording.
    prepared: Option<PreparedTab>,
    _permit: OwnedSemaphorePermit,
}

impl ContextLease {
    pub fn connection(&self) -> &Connection {
        self.browser.connection()
    }

    /// The browser context's id, to create targets in.
    pub fn context_id(&self) -> &str {
        self.context.as_ref().map_or("", |c| c.id())
    }

    pub fn context(&self) -> &BrowserContext {
        self.context
            .as_ref()
            .expect("a lease holds its context until dropped")
    }

    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    /// The blank tab the pool opened in this context ahead of time, if it did. With
    /// [`SpareTab::Recording`] it is already attached with recording on
    /// ([`ContextLease::prepared_tab`]): a caller that attaches a session of its own to it
    /// records along, unless it turns that off.
    pub fn ready_page(&self) -> Option<&str> {
        self.page.as_deref()
    }

    /// How the pool set the ready tab up, when it set it up for recording.
    pub fn prepared_tab(&self) -> Option<&PreparedTab> {
        self.prepared.as_ref()
    }

    pub fn browser_version(&self) -> &BrowserVersion {
        self.browser.version()
    }
}

impl Drop for ContextLease {
    fn drop(&mut self) {
        // The context disposes itself on drop (in the background).
        drop(self.context.take());
        if let Some(inner) = self.pool.upgrade() {
            BrowserPool { inner }.unlease(self.slot_id);
        }
    }
}
