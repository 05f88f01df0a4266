//! `spool har-from-events`: recorded CDP event logs to HAR, several logs on all cores.

use crate::exit::CodedError;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `spool har-from-events LOG... [--out-dir DIR]`: one log's HAR goes to stdout; several
/// logs go to stdout as JSON Lines (one compact HAR per line, in the order given), or with
/// `--out-dir` to `DIR/<log name>.har` each. The logs are converted on all cores.
pub fn run(logs: &[PathBuf], out_dir: Option<&Path>) -> anyhow::Result<()> {
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| CodedError::invalid(format!("cannot create {}: {e}", dir.display())))?;
    }
    let outputs = convert_all(logs, |i, har| {
        let mut bytes = serde_json::to_vec(&har)?;
        bytes.push(b'\n');
        let Some(dir) = out_dir else {
            return Ok(bytes);
        };
        let log = &logs[i];
        // `www.google.com.json` → `www.google.com.har`: only the last extension is replaced.
        let stem = log.file_stem().unwrap_or(log.as_os_str()).to_string_lossy();
        let target = dir.join(format!("{stem}.har"));
        std::fs::write(&target, &bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(Vec::new())
    })?;
    if out_dir.is_some() {
        eprintln!("{} HAR file(s) written", logs.len());
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    for bytes in outputs {
        lock.write_all(&bytes)?;
    }
    lock.flush()?;
    Ok(())
}

/// Converts every log on all cores (rayon's pool takes the next log as a core frees up), and
/// returns what `finish` made of each, in the order given. The first failing log (in that
/// order) fails the whole run.
fn convert_all(
    logs: &[PathBuf],
    finish: impl Fn(usize, spool_store::Har) -> anyhow::Result<Vec<u8>> + Sync,
) -> anyhow::Result<Vec<Vec<u8>>> {
    use rayon::prelude::*;
    logs.par_iter()
        .enumerate()
        .map(|(i, log)| convert_log(log).and_then(|har| finish(i, har)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

fn convert_log(log: &Path) -> anyhow::Result<spool_store::Har> {
    let bytes = std::fs::read(log)
        .map_err(|e| CodedError::invalid(format!("cannot read {}: {e}", log.display())))?;
    spool_engine::har_from_events(&bytes).with_context(|| format!("in {}", log.display()))
}
