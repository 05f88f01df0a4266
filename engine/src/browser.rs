//! Getting a browser: launch a headless Chromium we own, or attach to one a person runs.
//!
//! A launched browser lives in its own process group with a fresh temporary user-data-dir.
//! Dropping the [`Browser`] kills the whole group and removes the directory, so no Chromium
//! process outlives a capture, whether it ended normally, failed, timed out or panicked.
//!
//! Our death ends the browser too, even by SIGKILL, where no destructor runs: Chromium is
//! started with `PR_SET_PDEATHSIG`, so the kernel kills it when the thread that started it
//! ends. That thread is a launcher thread that lives as long as the process, because the
//! signal follows the *thread*, and a runtime's worker or blocking thread may come and go.
//! The renderers and helpers of a killed browser notice their parent's pipe close and exit on
//! their own. A user-data-dir left behind that way is removed by the next launch, once the
//! process that made it is gone ([`sweep_stale_profiles`]).
//!
//! Each capture works in its own [`BrowserContext`] (`Target.createBrowserContext`): its
//! cookies, storage and cache are its own, so one browser serves several sessions at once.

#![allow(clippy::unwrap_used)] // Mutex::lock and a user-data-dir a launched browser always has.

use crate::cdp::Connection;
use crate::error::EngineError;
use serde::Deserialize;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The flags every launched Chromium gets (docs/capture.md): headless, no sandbox (we run as root
/// in CI), and nothing that reaches out to the network on its own.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-breakpad",
];

/// How to launch Chromium.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// The binary; `None` means `SPOOL_CHROME`, else `/usr/bin/chromium`.
    pub executable: Option<PathBuf>,
    /// Extra command-line flags, appended after [`CHROMIUM_FLAGS`].
    pub extra_args: Vec<String>,
    /// How long Chromium may take to open its DevTools port.
    pub startup_timeout: Duration,
    /// Show a window (for a person to drive), on the display `DISPLAY` names; otherwise
    /// headless.
    pub headed: bool,
}

impl Default for LaunchConfig {
    fn default() -> Self {
        LaunchConfig {
            executable: None,
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            headed: false,
        }
    }
}

impl LaunchConfig {
    /// The binary this config launches.
    pub fn executable(&self) -> PathBuf {
        self.executable
            .clone()
            .or_else(|| std::env::var_os("SPOOL_CHROME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
    }
}

/// What the browser says about itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserVersion {
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub protocol_version: String,
}

/// A connected browser: launched (and owned) or attached.
pub struct Browser {
    connection: Connection,
    version: BrowserVersion,
    ws_url: String,
    // Declared last so that it drops after the connection. Behind a mutex so that a shared
    // browser can be killed now (pool shutdown) while others still hold it.
    process: Mutex<Option<BrowserProcess>>,
}

impl Browser {
    /// Launches a fresh headless Chromium and connects to it.
    pub async fn launch(config: &LaunchConfig) -> Result<Browser, EngineError> {
        let path = config.executable();
        let launch_failed = |reason: String| EngineError::BrowserLaunchFailed {
            path: path.clone(),
            reason,
        };
        if !path.exists() {
            return Err(launch_failed("no such file".into()));
        }
        let user_data_dir = tempfile::Builder::new()
            .prefix("spool-chromium-")
            .tempdir()
            .map_err(|e| launch_failed(format!("could not create a user-data-dir: {e}")))?;
        let mut cmd = Command::new(&path);
        cmd.args(
            CHROMIUM_FLAGS
                .iter()
                .filter(|f| !(config.headed && **f == "--headless")),
        )
        .arg("--remote-debugging-port=0")
        .arg(format!(
            "--user-data-dir={}",
            user_data_dir.path().display()
        ))
        .args(&config.extra_args)
        .arg("about:blank")
        // Chromium's crash handlers double-fork out of our process group; pointing their
        // dump directory into the user-data-dir puts our directory on every one of their
        // command lines, so cleanup can find them too.
        .env("BREAKPAD_DUMP_LOCATION", user_data_dir.path().join("crash"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that one signal ends Chromium and all its helpers.
        .process_group(0);
        sweep_stale_profiles();
        std::fs::write(
            user_data_dir.path().join(OWNER_FILE),
            std::process::id().to_string(),
        )
        .map_err(|e| launch_failed(format!("could not write into the user-data-dir: {e}")))?;
        let mut child =
            spawn_tied(cmd).map_err(|e| launch_failed(format!("could not run it: {e}")))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut tail = tail.lock().unwrap();
                    if tail.len() == 20 {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let pgid = child.id() as i32;
        let mut process = BrowserProcess {
            child,
            pgid,
            user_data_dir: Some(user_data_dir),
        };

        let ws_url = match process.wait_for_devtools(config.startup_timeout).await {
            Ok(url) => url,
            Err(reason) => {
                let tail: Vec<String> = stderr_tail.lock().unwrap().iter().cloned().collect();
                let detail = if tail.is_empty() {
                    reason
                } else {
                    format!("{reason}; it printed: {}", tail.join(" | "))
                };
                return Err(launch_failed(detail));
            }
        };
        let connection = Connection::connect(&ws_url)
            .await
            .map_err(|e| launch_failed(e.to_string()))?;
        let version = browser_version(&connection).await;
        Ok(Browser {
            connection,
            version,
            ws_url,
            process: Mutex::new(Some(process)),
        })
    }

    /// Attaches to a running Chromium: `http://host:port` (its `/json/version` names the
    /// socket) or a `ws://…/devtools/browser/…` URL. The browser is not closed on drop.
    pub async fn attach(endpoint: &str) -> Result<Browser, EngineError> {
        let attach_failed = |reason: String| EngineError::AttachFailed {
            endpoint: endpoint.to_string(),
            reason,
        };
        let ws_url = if endpoint.starts_with("ws://") || endpoint.starts_with("wss://") {
            endpoint.to_string()
        } else if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            let version_url = format!("{}/json/version", endpoint.trim_end_matches('/'));
            let body = http_get(&version_url).await.map_err(attach_failed)?;
            #[derive(Deserialize)]
            struct JsonVersion {
                #[serde(rename = "webSocketDebuggerUrl")]
                ws: String,
            }
            serde_json::from_str::<JsonVersion>(&body)
                .map_err(|e| attach_failed(format!("{version_url} did not name a socket: {e}")))?
                .ws
        } else {
            return Err(EngineError::invalid(
                "attach",
                format!("expected http://host:port or a ws:// DevTools URL, got {endpoint:?}"),
            ));
        };
        let connection = Connection::connect(&ws_url)
            .await
            .map_err(|e| attach_failed(e.to_string()))?;
        let version = browser_version(&connection).await;
        Ok(Browser {
            connection,
            version,
            ws_url,
            process: Mutex::new(None),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn version(&self) -> &BrowserVersion {
        &self.version
    }

    /// The browser's DevTools WebSocket URL.
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The process group of a launched browser (`None` when attached).
    pub fn process_group(&self) -> Option<i32> {
        self.process.lock().unwrap().as_ref().map(|p| p.pgid)
    }

    /// The temporary user-data-dir of a launched browser.
    pub fn user_data_dir(&self) -> Option<PathBuf> {
        self.process
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|p| p.user_data_dir.as_ref())
            .map(|d| d.path().to_path_buf())
    }

    /// Whether Spool launched (and will kill) this browser.
    pub fn is_owned(&self) -> bool {
        self.process.lock().unwrap().is_some()
    }

    /// The main browser process of a launched browser.
    pub fn pid(&self) -> Option<u32> {
        self.process.lock().unwrap().as_ref().map(|p| p.child.id())
    }

    /// Kills a launched browser now, with all its processes, and removes its user-data-dir.
    /// An attached browser is only disconnected from.
    pub fn kill(&self) {
        let process = self.process.lock().unwrap().take();
        drop(process);
    }

    /// Whether the browser still answers: the socket is open and, for a launched browser,
    /// the process has not exited.
    pub fn is_alive(&self) -> bool {
        self.connection.is_open()
            && self.process.lock().unwrap().as_ref().is_none_or(|p| {
                // A zombie main process means it died; /proc tells without reaping it.
                std::fs::read_to_string(format!("/proc/{}/stat", p.child.id()))
                    .is_ok_and(|stat| is_live(&stat))
            })
    }

    /// Opens a fresh, isolated browser context: cookies, storage and cache of its own.
    pub async fn new_context(&self) -> Result<BrowserContext, EngineError> {
        let id = self
            .connection
            .execute_for_string(
                None,
                "Target.createBrowserContext",
                serde_json::json!({ "disposeOnDetach": true }),
                "browserContextId",
            )
            .await?;
        Ok(BrowserContext {
            connection: self.connection.clone(),
            id,
            disposed: false,
        })
    }

    /// Closes the browser now: politely over CDP, then by signal. Drop does the same.
    pub async fn close(self) {
        let process = self.process.lock().unwrap().take();
        if let Some(mut process) = process {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                self.connection
                    .execute_raw(None, "Browser.close", serde_json::json!({})),
            )
            .await;
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if matches!(process.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(process);
        }
    }
}

/// An isolated browser context (an incognito-like profile inside one browser). Dispose it
/// with [`BrowserContext::dispose`]; dropping it disposes it in the background.
pub struct BrowserContext {
    connection: Connection,
    id: String,
    disposed: bool,
}

impl BrowserContext {
    /// The `browserContextId` to create targets in.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Opens a tab in this context and returns its target id.
    pub async fn create_page(&self, url: &str) -> Result<String, EngineError> {
        Ok(self
            .connection
            .execute_for_string(
                None,
                "Target.createTarget",
                serde_json::json!({ "url": url, "browserContextId": self.id }),
                "targetId",
            )
            .await?)
    }

    /// Closes every tab of the context and forgets its cookies, storage and cache.
    pub async fn dispose(mut self) {
        self.disposed = true;
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.connection.execute_raw(
                None,
                "Target.disposeBrowserContext",
                serde_json::json!({ "browserContextId": self.id }),
            ),
        )
        .await;
    }
}

impl Drop for BrowserContext {
    fn drop(&mut self) {
        if self.disposed || !self.connection.is_open() {
            return;
        }
        let connection = self.connection.clone();
        let id = std::mem::take(&mut self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = connection
                    .execute_raw(
                        None,
                        "Target.disposeBrowserContext",
                        serde_json::json!({ "browserContextId": id }),
                    )
                    .await;
            });
        }
    }
}

/// The file in a launched browser's user-data-dir that names the process that launched it.
const OWNER_FILE: &str = "spool-owner.pid";

/// Starts `cmd` so that the kernel kills it when this process dies (see the module docs).
fn spawn_tied(mut cmd: Command) -> std::io::Result<Child> {
    use std::sync::OnceLock;
    use std::sync::mpsc as std_mpsc;
    type Request = (Command, std_mpsc::Sender<std::io::Result<Child>>);
    static LAUNCHER: OnceLock<Mutex<std_mpsc::Sender<Request>>> = OnceLock::new();

    let parent = std::process::id() as i32;
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit).
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // We may have died between fork and prctl: then nobody would kill it later.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let launcher = LAUNCHER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("spool-browser-launcher".into())
            .spawn(move || {
                // Lives as long as the process: the sender is in a static and never dropped.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("the launcher thread must start");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = std_mpsc::channel();
    launcher
        .lock()
        .unwrap()
        .send((cmd, reply_tx))
        .map_err(|_| std::io::Error::other("the browser launcher thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("the browser launcher thread is gone"))?
}

/// Removes user-data-dirs of browsers whose launching process is gone (killed before it could
/// clean up), with any process still naming them. Directories of live processes, and ones
/// without an owner file, are left alone.
pub fn sweep_stale_profiles() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("spool-chromium-") {
            continue;
        }
        let dir = entry.path();
        let Some(owner) = std::fs::read_to_string(dir.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let needle = dir.to_string_lossy().into_owned();
        for pid in processes_mentioning(&needle) {
            // SAFETY: sending a signal to a pid we just read from /proc.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        tracing::debug!("removing {} left by process {owner}", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

async fn browser_version(connection: &Connection) -> BrowserVersion {
    match connection
        .execute_raw(None, "Browser.getVersion", serde_json::json!({}))
        .await
    {
        Ok(v) => serde_json::from_value(v).unwrap_or_default(),
        Err(e) => {
            tracing::warn!("Browser.getVersion failed: {e}");
            BrowserVersion::default()
        }
    }
}

/// A minimal HTTP/1.1 GET for `/json/version` on loopback or LAN DevTools ports; it avoids
/// pulling an HTTP client into the engine for one request.
async fn http_get(url: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let parsed = url::Url::parse(url).map_err(|e| format!("bad URL {url}: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!("only http:// endpoints can be queried, got {url}"));
    }
    let host = parsed.host_str().ok_or("no host")?.to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    let mut stream = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("connecting to {host}:{port} timed out"))?
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n",
        parsed.path()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // Chromium keeps the connection open whatever `Connection` says: read the head, then
    // exactly `Content-Length` bytes of body.
    let read = async {
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..n]);
            if let Some(head_end) = find_head_end(&response) {
                let head = String::from_utf8_lossy(&response[..head_end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if response.len() >= head_end + 4 + length {
                    break;
                }
            }
        }
        Ok::<_, String>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| "reading /json/version timed out".to_string())??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the answer was not HTTP")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!(
            "{url} answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_string())
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

struct BrowserProcess {
    child: Child,
    pgid: i32,
    user_data_dir: Option<tempfile::TempDir>,
}

impl BrowserProcess {
    /// Waits for Chromium to write `DevToolsActivePort` into its user-data-dir, which names
    /// the port and browser socket path. Reading the file rather than stderr keeps working
    /// whatever else Chromium prints.
    async fn wait_for_devtools(&mut self, timeout: Duration) -> Result<String, String> {
        let dir = self.user_data_dir.as_ref().unwrap().path().to_path_buf();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(url) = read_active_port(&dir) {
                return Ok(url);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "it exited ({status}) before opening its DevTools port"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "it did not open its DevTools port within {} s",
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn read_active_port(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("DevToolsActivePort")).ok()?;
    let mut lines = text.lines();
    let port: u16 = lines.next()?.trim().parse().ok()?;
    let path = lines.next()?.trim();
    if path.is_empty() {
        return None;
    }
    Some(format!("ws://127.0.0.1:{port}{path}"))
}

impl Drop for BrowserProcess {
    #[allow(unsafe_code)] // libc::killpg and libc::kill: no safe API signals a process group.
    fn drop(&mut self) {
        // SAFETY: killpg only sends a signal; a stale group id at worst fails with ESRCH.
        unsafe {
            libc::killpg(self.pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = self
            .user_data_dir
            .as_ref()
            .map(|d| d.path().to_string_lossy().into_owned());
        // Helpers outside the group (crash handlers) are found by their command line. The
        // user-data-dir is removed only after they are gone, so none can recreate files in it.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let mut left = processes_in_group(self.pgid);
            if let Some(dir) = &dir {
                left.extend(processes_mentioning(dir));
            }
            if left.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in left {
                // SAFETY: sending a signal to a pid we just read from /proc.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(dir) = self.user_data_dir.take() {
            let _ = dir.close();
        }
    }
}

/// Live (non-zombie) processes of a process group.
pub fn processes_in_group(pgid: i32) -> Vec<i32> {
    live_processes()
        .filter(|(_, stat)| stat_field_pgrp(stat) == Some(pgid))
        .map(|(pid, _)| pid)
        .collect()
}

/// Live (non-zombie) processes whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    live_processes()
        .filter(|(pid, _)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// Every process whose state is not zombie, with its `/proc/PID/stat` line.
fn live_processes() -> impl Iterator<Item = (i32, String)> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(move |pid| *pid != me)
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            is_live(&stat).then_some((pid, stat))
        })
}

/// Whether a `/proc/PID/stat` line is of a process that is not a zombie (or dead).
fn is_live(stat: &str) -> bool {
    // The state follows the parenthesised command name.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state != "Z" && state != "X")
}

fn stat_field_pgrp(stat: &str) -> Option<i32> {
    // After ") ": state, ppid, pgrp.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}
