//! Processes a test's `spool` carries a marker for: every process it starts (Chromium among
//! them) inherits `SPOOL_TEST_MARKER=<marker>` in its environment, so a test can tell
//! whether any outlived it and kill what did. Included with
//! `#[path = "common/processes.rs"] mod processes;`.

#![allow(dead_code)] // Each including test binary uses a part.

use std::time::Duration;

/// Processes (Chromium among them) started by a server carrying `marker` in their
/// environment.
pub fn marked_processes(marker: &str) -> Vec<u32> {
    let needle = format!("SPOOL_TEST_MARKER={marker}");
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|b| *b == 0).any(|v| v == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

pub fn kill_marked(marker: &str) {
    for pid in marked_processes(marker) {
        // SAFETY: a signal to a pid just read from /proc.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL)
        };
    }
}

/// Waits until no process carries the marker (zombies take a moment to be reaped).
pub fn assert_no_marked_processes(marker: &str) {
    for _ in 0..100 {
        if marked_processes(marker).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<String> = marked_processes(marker)
        .iter()
        .map(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default()
        })
        .collect();
    panic!("processes outlived the server: {left:?}");
}
