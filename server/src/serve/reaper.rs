//! No browser outlives the server, even when the server is killed with SIGKILL and runs no
//! cleanup of its own.
//!
//! `spool serve` marks its environment with an instance id before it starts any thread, so
//! every process it starts (Chromium and its helpers) inherits the mark. It then starts a
//! small watcher, `spool reap-orphans`, whose stdin is a pipe from the server. The pipe
//! closes however the server ends; the watcher then kills every process still carrying the
//! mark and exits.

use std::io::Read;
use std::process::{Child, Command, Stdio};

/// The variable that carries the instance id.
pub const INSTANCE_VAR: &str = "SPOOL_SERVE_INSTANCE";

/// Marks this process's environment. Must run before any thread is started (it is called
/// first thing in `main`), because changing the environment is not thread-safe.
pub fn mark_instance() {
    let id = uuid::Uuid::new_v4().to_string();
    // SAFETY: called from `main` before the async runtime or any other thread exists.
    #[allow(unsafe_code)] // No safe API sets a variable every child process inherits.
    unsafe {
        std::env::set_var(INSTANCE_VAR, id)
    };
}

/// Starts the watcher; keep the returned child (its stdin) alive as long as the server.
pub fn start_watcher() -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .arg("reap-orphans")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
}

/// `spool reap-orphans`: waits for stdin to close, then kills every process marked with
/// this instance id but itself.
pub fn run_watcher() -> anyhow::Result<()> {
    let Ok(id) = std::env::var(INSTANCE_VAR) else {
        anyhow::bail!("{INSTANCE_VAR} is not set; reap-orphans is started by `spool serve`");
    };
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    let needle = format!("{INSTANCE_VAR}={id}");
    let me = std::process::id();
    // Chromium may still be forking helpers; a few passes catch the late ones.
    for _ in 0..3 {
        let mut killed = 0;
        for pid in marked(&needle) {
            if pid != me {
                // SAFETY: kill(2) with a pid read from /proc; no memory is involved.
                #[allow(unsafe_code)] // libc::kill: no safe API signals another process.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL)
                };
                killed += 1;
            }
        }
        if killed == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(())
}

fn marked(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let env = std::fs::read(entry.path().join("environ")).ok()?;
            env.split(|b| *b == 0)
                .any(|v| v == needle.as_bytes())
                .then_some(pid)
        })
        .collect()
}
