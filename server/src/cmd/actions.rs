//! `spool actions export SESSION` and `spool actions import FILE`: a session's actions as a
//! Chrome DevTools Recorder recording (the `@puppeteer/replay` JSON schema), and a DevTools
//! recording stored as a session whose actions `spool replay SESSION --actions` performs.
//! The conversion rules are in [`spool_engine::replay::devtools`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use spool_engine::EngineError;
use spool_engine::replay::devtools::{self, ExportConfig};
use spool_store::{NewSession, SessionEnd, Store};

/// `spool actions`.
#[derive(Debug, Clone, Subcommand)]
pub enum ActionsCommand {
    /// Write a session's actions as a DevTools Recorder recording (JSON).
    Export {
        /// A stored session id (or a unique prefix of it).
        session: String,
        /// Where to write it (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The value of a withheld input slot, such as a password field (repeatable);
        /// without it the recording types an empty value there.
        #[arg(long = "input", value_name = "SLOT=VALUE")]
        inputs: Vec<String>,
    },
    /// Store a DevTools Recorder recording as a session, for `spool replay ID --actions`.
    Import {
        /// The recording (JSON, as the DevTools Recorder exports it).
        file: PathBuf,
        /// The session's task (default: the recording's title).
        #[arg(long)]
        task: Option<String>,
    },
}

pub fn run(store: &Store, command: ActionsCommand) -> anyhow::Result<()> {
    match command {
        ActionsCommand::Export {
            session,
            out,
            inputs,
        } => export(store, &session, out.as_deref(), &inputs),
        ActionsCommand::Import { file, task } => import(store, &file, task),
    }
}

fn export(
    store: &Store,
    session: &str,
    out: Option<&Path>,
    given: &[String],
) -> anyhow::Result<()> {
    let mut inputs = BTreeMap::new();
    for g in given {
        let (slot, value) = g.split_once('=').ok_or_else(|| {
            EngineError::invalid("input", format!("must be SLOT=VALUE, got {g:?}"))
        })?;
        inputs.insert(slot.to_string(), value.to_string());
    }
    let id = crate::cmd::sessions::resolve_id(store, session)?;
    let session = store.get(id)?;
    if session.actions.is_empty() {
        return Err(EngineError::invalid(
            "session",
            format!("session {id} recorded no actions to export"),
        )
        .into());
    }
    for slot in devtools::missing_inputs(&session.actions, &inputs) {
        eprintln!(
            "warning: the value typed into {slot:?} is never stored; the recording types an empty value there (give it with --input {slot}=VALUE)"
        );
    }
    let title = if session.metadata.task_description.is_empty() {
        format!("spool session {id}")
    } else {
        session.metadata.task_description.clone()
    };
    let recording = devtools::export(
        &session.actions,
        &ExportConfig {
            title,
            viewport: Some(session.metadata.browser_info.viewport),
            inputs,
        },
    );
    let text = serde_json::to_string_pretty(&recording)?;
    match out {
        Some(path) => {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "wrote {} ({} actions)",
                path.display(),
                session.actions.len()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

fn import(store: &Store, file: &Path, task: Option<String>) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        EngineError::invalid("file", format!("{} is not JSON: {e}", file.display()))
    })?;
    let imported = devtools::import(&value)?;
    if imported.actions.is_empty() {
        return Err(
            EngineError::invalid("steps", "the recording has no step Spool can replay").into(),
        );
    }
    let start_url = imported
        .actions
        .iter()
        .find(|a| a.kind == "navigate")
        .and_then(|a| a.value.clone());
    let mut writer = store.begin_session(NewSession {
        task_description: task.unwrap_or_else(|| imported.title.clone()),
        capture_level: spool_store::CaptureLevel::Metadata,
        start_url,
        browser: spool_store::BrowserInfo {
            viewport: imported.viewport.unwrap_or_default(),
            ..Default::default()
        },
        ..NewSession::default()
    })?;
    writer.append_actions(&imported.actions)?;
    let meta = writer.finish(SessionEnd::completed())?;
    println!(
        "imported {} actions from {:?} as session {}",
        imported.actions.len(),
        imported.title,
        meta.session_id
    );
    for s in &imported.skipped {
        println!("  left out {s}");
    }
    Ok(())
}
