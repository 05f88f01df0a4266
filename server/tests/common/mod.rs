//! What the CLI test binaries share.

use std::path::Path;
use std::process::{Command, Output};

/// Asserts the exit status and the stable error code in the message.
pub fn fails(out: &Output, exit: i32, code: i32, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(exit),
        "{what}: exit status; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("error[{code}]")),
        "{what}: expected error[{code}] in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
    stderr
}

/// `spool --data DATA ARGS…` as a user runs it: no `SPOOL_DATA` from the environment, no
/// colour.
fn spool_command(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spool"));
    command
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("SPOOL_DATA")
        .env("NO_COLOR", "1");
    command
}

/// Runs `spool --data DATA ARGS…` and returns what it printed.
#[allow(dead_code)] // Used by the blocking test binaries only.
pub fn spool(data: &Path, args: &[&str]) -> Output {
    spool_command(data, args)
        .output()
        .expect("the spool binary runs")
}

/// [`spool`] off the async runtime (a test's fixture server keeps serving meanwhile).
#[allow(dead_code)] // Used by the async test binaries only.
pub async fn spool_async(data: &Path, args: &[&str]) -> Output {
    let mut command = spool_command(data, args);
    tokio::task::spawn_blocking(move || command.output().expect("the spool binary runs"))
        .await
        .expect("the spool run was not cancelled")
}
