//! `spool sessions list|show|delete|export|import|stats`: the session store from the shell.
//!
//! `main.rs` opens the store from `--data DIR` (else `SPOOL_DATA`, else the platform data
//! dir) and calls [`run`]. Errors are `anyhow::Error`s wrapping `spool_store::StoreError`
//! where the store failed, so `exit::report` finds the stable code.

use anyhow::{Context, Result, bail};
use spool_store::{
    ExportOptions, SessionMetadata, SessionQuery, SessionStatus, Store, StoreError, Uuid,
    parse_date_bound,
};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// HAR 1.2: pages and entries, custom `_` fields kept.
    Har,
    /// Metadata and every stream in one JSON document.
    Json,
}

#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// List stored sessions, newest first.
    List {
        /// Only sessions whose task description contains all these words (any case).
        #[arg(long, alias = "words")]
        task: Option<String>,
        /// Only sessions started on or after this date (YYYY-MM-DD, UTC) or RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// Only sessions started on or before this date (the whole day) or RFC 3339 time.
        #[arg(long)]
        to: Option<String>,
        /// Only sessions with this status: recording, completed, stopped, error, interrupted.
        #[arg(long)]
        status: Option<String>,
        /// Sessions per page (1..=1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Sessions to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Print the page as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one session's metadata.
    Show {
        /// Session id (or a unique prefix of it).
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a session and all its data.
    Delete {
        /// Session id (or a unique prefix of it).
        id: String,
    },
    /// Export a session as HAR 1.2 or JSON. Secrets are redacted unless --include-secrets.
    Export {
        /// Session id (or a unique prefix of it).
        id: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Har)]
        format: ExportFormat,
        /// Keep Authorization, cookies, tokens and passwords as recorded.
        #[arg(long)]
        include_secrets: bool,
        /// Leave screenshots out (JSON export).
        #[arg(long)]
        no_screenshots: bool,
        /// Leave pages, HAR entries and raw events out.
        #[arg(long)]
        no_network: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Import a HAR file (Chrome DevTools, Playwright, Firefox, chrome-har, ...) as a session.
    Import {
        file: PathBuf,
        /// The task description to store with it.
        #[arg(long)]
        task: Option<String>,
    },
    /// Totals: sessions, entries, bytes before and after compression.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(store: &Store, cmd: SessionsCommand) -> Result<()> {
    match run_inner(store, cmd) {
        // `spool sessions export ID | head` closes the pipe early: not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn run_inner(store: &Store, cmd: SessionsCommand) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        SessionsCommand::List {
            task,
            from,
            to,
            status,
            limit,
            offset,
            json,
        } => {
            let query = SessionQuery {
                limit,
                offset,
                words: task,
                from: from.map(|s| parse_date_bound(&s, false)).transpose()?,
                to: to.map(|s| parse_date_bound(&s, true)).transpose()?,
                status: status.map(|s| s.parse::<SessionStatus>()).transpose()?,
            };
            let page = store.list(&query)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
                return Ok(());
            }
            if page.sessions.is_empty() {
                writeln!(out, "no sessions (of {} matching)", page.total)?;
                return Ok(());
            }
            print_table(&mut out, &page.sessions)?;
            let shown_to = page.offset + page.sessions.len();
            writeln!(
                out,
                "\n{}-{} of {} session(s){}",
                page.offset + 1,
                shown_to,
                page.total,
                if shown_to < page.total {
                    format!("; next page: --offset {shown_to}")
                } else {
                    String::new()
                }
            )?;
        }
        SessionsCommand::Show { id, json } => {
            let id = resolve_id(store, &id)?;
            let m = store.metadata(id)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&m)?)?;
            } else {
                print_details(&mut out, &m)?;
            }
        }
        SessionsCommand::Delete { id } => {
            let id = resolve_id(store, &id)?;
            store.delete(id)?;
            writeln!(out, "deleted session {id}")?;
        }
        SessionsCommand::Export {
            id,
            format,
            include_secrets,
            no_screenshots,
            no_network,
            out: file,
        } => {
            let id = resolve_id(store, &id)?;
            let opts = ExportOptions {
                include_screenshots: !no_screenshots,
                include_network: !no_network,
                include_secrets,
            };
            let doc = match format {
                ExportFormat::Har => serde_json::to_vec_pretty(&store.export_har(id, &opts)?)?,
                ExportFormat::Json => serde_json::to_vec_pretty(&store.export_json(id, &opts)?)?,
            };
            match file {
                Some(path) => {
                    std::fs::write(&path, &doc)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "exported session {id} to {} ({} bytes{})",
                        path.display(),
                        doc.len(),
                        if include_secrets {
                            ", secrets included"
                        } else {
                            ", secrets redacted"
                        }
                    );
                }
                None => {
                    out.write_all(&doc)?;
                    writeln!(out)?;
                }
            }
        }
        SessionsCommand::Import { file, task } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let id = store
                .import_har(&bytes, task.as_deref())
                .with_context(|| format!("cannot import {}", file.display()))?;
            let m = store.metadata(id)?;
            writeln!(
                out,
                "imported {} as session {id}: {}, {}, \"{}\"",
                file.display(),
                plural(m.network_event_count, "entry", "entries"),
                plural(m.page_count, "page", "pages"),
                m.task_description
            )?;
        }
        SessionsCommand::Stats { json } => {
            let s = store.stats()?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
                return Ok(());
            }
            writeln!(out, "store        {}", s.path)?;
            let by_status: Vec<String> = s
                .by_status
                .iter()
                .map(|(st, n)| format!("{n} {}", st.as_str().to_lowercase()))
                .collect();
            writeln!(
                out,
                "sessions     {}{}",
                s.sessions,
                if by_status.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", by_status.join(", "))
                }
            )?;
            writeln!(out, "entries      {}", s.network_entries)?;
            writeln!(out, "screenshots  {}", s.screenshots)?;
            writeln!(out, "raw          {}", human_bytes(s.raw_bytes))?;
            writeln!(
                out,
                "stored       {} ({:.1}x smaller)",
                human_bytes(s.stored_bytes),
                s.compression_ratio
            )?;
            writeln!(out, "on disk      {}", human_bytes(s.disk_bytes))?;
        }
    }
    Ok(())
}

/// A full UUID, or a prefix that matches exactly one stored session.
pub fn resolve_id(store: &Store, text: &str) -> Result<Uuid> {
    let text = text.trim();
    if let Ok(id) = Uuid::parse_str(text) {
        return Ok(id);
    }
    let prefix = text.to_ascii_lowercase();
    if prefix.len() < 4 || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        bail!(StoreError::InvalidParams {
            field: "sessionId".into(),
            rule: format!(
                "must be a session UUID or a prefix of at least 4 hex digits, got {text:?}"
            ),
        });
    }
    let mut found = Vec::new();
    let mut offset = 0;
    loop {
        let page = store.list(&SessionQuery {
            limit: 1000,
            offset,
            ..Default::default()
        })?;
        found.extend(
            page.sessions
                .iter()
                .map(|m| m.session_id)
                .filter(|id| id.to_string().starts_with(&prefix)),
        );
        offset += page.sessions.len();
        if page.sessions.is_empty() || offset >= page.total || offset > 1_000_000 - 1000 {
            break;
        }
    }
    match found.as_slice() {
        [id] => Ok(*id),
        [] => bail!(StoreError::InvalidParams {
            field: "sessionId".into(),
            rule: format!("no session id starts with {text:?}"),
        }),
        many => bail!(StoreError::InvalidParams {
            field: "sessionId".into(),
            rule: format!(
                "{text:?} matches {} sessions; give more of the id",
                many.len()
            ),
        }),
    }
}

fn print_table(out: &mut impl Write, sessions: &[SessionMetadata]) -> Result<()> {
    writeln!(
        out,
        "{:<36}  {:<11}  {:<20}  {:>9}  {:>7}  {:>7}  TASK",
        "ID", "STATUS", "STARTED (UTC)", "DURATION", "ENTRIES", "ACTIONS"
    )?;
    for m in sessions {
        writeln!(
            out,
            "{:<36}  {:<11}  {:<20}  {:>9}  {:>7}  {:>7}  {}",
            m.session_id,
            m.status.as_str(),
            short_time(&m.start_time.to_string()),
            human_duration(m.duration),
            m.network_event_count,
            m.action_count,
            truncate(&m.task_description, 48)
        )?;
    }
    Ok(())
}

fn print_details(out: &mut impl Write, m: &SessionMetadata) -> Result<()> {
    let row = |out: &mut dyn Write, k: &str, v: String| writeln!(out, "{k:<14} {v}");
    row(out, "session", m.session_id.to_string())?;
    row(out, "status", m.status.to_string())?;
    row(out, "task", m.task_description.clone())?;
    row(out, "started", m.start_time.to_string())?;
    row(
        out,
        "ended",
        m.end_time
            .map_or_else(|| "-".to_string(), |t| t.to_string()),
    )?;
    row(out, "duration", human_duration(m.duration))?;
    row(out, "capture level", m.capture_level.to_string())?;
    row(out, "source", format!("{:?}", m.source).to_lowercase())?;
    if let Some(u) = &m.start_url {
        row(out, "start url", u.clone())?;
    }
    let b = &m.browser_info;
    row(
        out,
        "browser",
        format!(
            "{} ({}x{})",
            if b.product.is_empty() {
                "-"
            } else {
                &b.product
            },
            b.viewport.width,
            b.viewport.height
        ),
    )?;
    if !b.user_agent.is_empty() {
        row(out, "user agent", b.user_agent.clone())?;
    }
    row(out, "pages", m.page_count.to_string())?;
    row(out, "entries", m.network_event_count.to_string())?;
    row(out, "console", m.console_entry_count.to_string())?;
    row(out, "actions", m.action_count.to_string())?;
    row(out, "screenshots", m.screenshot_count.to_string())?;
    if m.raw_event_bytes > 0 {
        row(out, "raw events", human_bytes(m.raw_event_bytes))?;
    }
    row(
        out,
        "size",
        format!(
            "{} stored, {} raw",
            human_bytes(m.stored_bytes),
            human_bytes(m.raw_bytes)
        ),
    )?;
    if let Some(e) = &m.error {
        row(out, "error", e.clone())?;
    }
    Ok(())
}

/// `2024-05-14T09:21:03.512Z` -> `2024-05-14 09:21:03`.
fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..19).unwrap_or(rfc3339).replacen('T', " ", 1)
}

fn human_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{}m{:02}s", (secs / 60.0) as u64, secs as u64 % 60)
    } else {
        format!(
            "{}h{:02}m",
            (secs / 3600.0) as u64,
            (secs as u64 % 3600) / 60
        )
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
