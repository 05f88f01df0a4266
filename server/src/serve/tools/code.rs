//! `integuruCode`: a Python script a caller sends to `execute-optimally`, run only when the
//! server was started with `--allow-integuru-code true` (it is code from the network, run
//! with the server's rights).
//!
//! The script runs as `python3 script.py` in a fresh temporary directory (its working
//! directory, removed afterwards), in its own process group. The task's inputs arrive as a
//! JSON object on stdin and in the `SPOOL_INPUTS` variable. Its stdout is the result
//! (parsed when it is JSON), its exit status says whether it succeeded. At the deadline, or
//! when the call is cancelled, the whole process group is killed, so nothing the script
//! started outlives it; the group is killed after a normal exit too, for the same reason.

use super::super::error::ApiError;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// The most of stdout and of stderr kept; the rest is read and dropped so the script never
/// blocks on a full pipe.
const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CodeOutcome {
    /// Exit status 0.
    Exited,
    /// A non-zero exit status or a signal.
    Failed,
    /// The deadline passed; the process group was killed.
    TimedOut,
    /// The call was cancelled; the process group was killed.
    Cancelled,
}

/// What the script did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeRun {
    pub outcome: CodeOutcome,
    /// The exit code, when the script exited on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Stdout, parsed when it is JSON, else its text.
    pub stdout: Value,
    /// The end of stderr (at most 4 KiB), for the error message.
    pub stderr: String,
    /// Milliseconds.
    pub duration: f64,
}

/// Runs `code` with `python3`. `Err` only when the script could not be started (no
/// `python3`, no temporary directory).
pub async fn run_python(
    code: &str,
    inputs: &BTreeMap<String, String>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<CodeRun, ApiError> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("spool-code-")
        .tempdir()
        .map_err(ApiError::internal)?;
    let script = dir.path().join("script.py");
    tokio::fs::write(&script, code)
        .await
        .map_err(ApiError::internal)?;
    let inputs_json = serde_json::to_string(inputs).map_err(ApiError::internal)?;
    let mut child = tokio::process::Command::new("python3")
        .arg(&script)
        .current_dir(dir.path())
        .env("SPOOL_INPUTS", &inputs_json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so one signal reaches everything the script starts.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            ApiError::new(
                spool_model::ErrorCode::InternalError,
                format!("python3 could not be started: {e}"),
            )
        })?;
    let group = child.id().and_then(|pid| i32::try_from(pid).ok());
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A script that never reads its stdin closes the pipe: that is not an error.
            let _ = stdin.write_all(inputs_json.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
    };
    let run = async {
        let (_, out, err, status) =
            tokio::join!(feed, read_capped(stdout), read_capped(stderr), child.wait());
        (out, err, status)
    };
    let ended = tokio::select! {
        r = tokio::time::timeout(timeout, run) => r.map_err(|_| CodeOutcome::TimedOut),
        _ = cancel.cancelled() => Err(CodeOutcome::Cancelled),
    };
    // Whatever happened, nothing of the script's group survives the call.
    kill_group(group);
    let run = match ended {
        Ok((out, err, status)) => {
            let status = status.map_err(ApiError::internal)?;
            CodeRun {
                outcome: if status.success() {
                    CodeOutcome::Exited
                } else {
                    CodeOutcome::Failed
                },
                exit_code: status.code(),
                stdout: parse_output(&out),
                stderr: tail(&err),
                duration: ms(started.elapsed()),
            }
        }
        Err(outcome) => {
            // The group is killed; reap the script so it leaves no zombie.
            let _ = child.kill().await;
            CodeRun {
                outcome,
                exit_code: None,
                stdout: Value::Null,
                stderr: String::new(),
                duration: ms(started.elapsed()),
            }
        }
    };
    drop(dir);
    Ok(run)
}

/// Sends SIGKILL to the process group `group` (the script's pid, its group's id).
fn kill_group(group: Option<i32>) {
    if let Some(pgid) = group.filter(|p| *p > 1) {
        // SAFETY: killpg(2) with the id of a group this process created; no memory involved.
        #[allow(unsafe_code)] // libc::killpg: no safe API signals a process group.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

fn parse_output(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).trim_end().to_string()))
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    let start = text.char_indices().rev().nth(4095).map_or(0, |(i, _)| i);
    text[start..].to_string()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_script_gets_its_inputs_and_its_output_is_the_result() {
        let inputs = BTreeMap::from([("name".to_string(), "carol".to_string())]);
        let code = "import json, os, sys\n\
                    data = json.load(sys.stdin)\n\
                    env = json.loads(os.environ['SPOOL_INPUTS'])\n\
                    print(json.dumps({'hello': data['name'], 'same': data == env, 'cwd': os.getcwd()}))\n";
        let run = run_python(
            code,
            &inputs,
            Duration::from_secs(20),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(run.outcome, CodeOutcome::Exited, "{run:?}");
        assert_eq!(run.stdout["hello"], "carol");
        assert_eq!(run.stdout["same"], true);
        let cwd = run.stdout["cwd"].as_str().unwrap().to_string();
        assert!(cwd.contains("spool-code-"), "{cwd}");
        assert!(
            !std::path::Path::new(&cwd).exists(),
            "the scratch directory is left"
        );

        let run = run_python(
            "import sys\nprint('half done')\nsys.exit('the site said no')\n",
            &inputs,
            Duration::from_secs(20),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(run.outcome, CodeOutcome::Failed);
        assert_eq!(run.exit_code, Some(1));
        assert_eq!(run.stdout, "half done");
        assert!(run.stderr.contains("the site said no"), "{}", run.stderr);
    }

    #[tokio::test]
    async fn the_deadline_kills_the_script_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        // The script starts a child that would outlive it, notes its pid, then hangs.
        let code = format!(
            "import subprocess, time\n\
             p = subprocess.Popen(['sleep', '300'])\n\
             open({:?}, 'w').write(str(p.pid))\n\
             time.sleep(300)\n",
            pid_file.display().to_string()
        );
        let run = run_python(
            &code,
            &BTreeMap::new(),
            // Long enough for python3 to start and note the pid on a loaded machine.
            Duration::from_secs(10),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(run.outcome, CodeOutcome::TimedOut);
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        // Killed: gone, or a zombie waiting for its new parent to reap it.
        let mut alive = true;
        for _ in 0..50 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = state
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            if !matches!(state, Some(Some(c)) if c != 'Z') {
                alive = false;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!alive, "the script's child {pid} survived the deadline");
    }
}
