//! What the CLI test binaries share.

use std::process::Output;

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
