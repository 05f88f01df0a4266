//! `spool capture` killed with SIGKILL mid-capture: no destructor runs, yet no Chromium
//! process it started survives it, and the session it was recording reopens as INTERRUPTED
//! with what was written before the kill.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every process whose parent chain leads to `root`.
fn descendants(root: u32) -> Vec<u32> {
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.into_iter()
        .filter(|&pid| {
            let mut p = pid;
            for _ in 0..64 {
                match parent_of(p) {
                    Some(parent) if parent == root => return true,
                    Some(parent) if parent > 1 => p = parent,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_killed_with_sigkill_leaves_no_browser_and_an_interrupted_session() {
    let server = spool_fixtures::FixtureServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spool"))
        .arg("--data")
        .arg(data.path())
        .args([
            "capture",
            "--level",
            "2",
            "--timeout",
            "120",
            "--wait-for",
            "false",
        ])
        .arg("--url")
        .arg(server.url("/noisy/"))
        .env_remove("SPOOL_DATA")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let spool_pid = child.id();

    // Wait until Chromium runs and the page has been recording for a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    let browsers = loop {
        let found: Vec<u32> = descendants(spool_pid)
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("spool-chromium-"))
                    .unwrap_or(false)
            })
            .collect();
        if found.len() >= 3 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            // Renderers started since count too.
            break descendants(spool_pid);
        }
        assert!(
            Instant::now() < deadline,
            "Chromium never started under spool capture"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = Instant::now();
    let mut left: Vec<u32> = browsers.clone();
    while !left.is_empty() && killed.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left.retain(|&pid| alive(pid));
    }
    assert!(
        left.is_empty(),
        "Chromium processes outlived the killed spool by 3 s: {left:?} of {browsers:?}"
    );

    // The store reopens with the session INTERRUPTED and its entries so far.
    let out = Command::new(env!("CARGO_BIN_EXE_spool"))
        .arg("--data")
        .arg(data.path())
        .args(["sessions", "list", "--json"])
        .env_remove("SPOOL_DATA")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sessions = list["sessions"]
        .as_array()
        .or_else(|| list.as_array())
        .unwrap_or_else(|| panic!("no session list in {list}"));
    assert_eq!(sessions.len(), 1, "{list}");
    let session = &sessions[0];
    assert_eq!(session["status"], "INTERRUPTED", "{session}");
    assert!(
        session["networkEventCount"].as_u64().unwrap_or(0) > 0,
        "entries written before the kill are kept: {session}"
    );
}
