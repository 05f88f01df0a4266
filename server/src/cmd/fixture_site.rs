//! `spool fixture-site`: the fixture web app on 127.0.0.1, until Ctrl-C. `--status` and
//! `--break-login-button` serve a broken variant of it, the way a regression looks to
//! `spool replay --check`.

use anyhow::Context;
use clap::Args;
use spool_engine::EngineError;
use spool_fixtures::{FixtureConfig, Regressions};

/// `spool fixture-site`.
#[derive(Debug, Clone, Args)]
pub struct FixtureSiteArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Answer PATH with STATUS and a JSON error instead of its usual answer (repeatable),
    /// e.g. `--status /api/poll/status=503`.
    #[arg(long = "status", value_name = "PATH=STATUS")]
    pub status: Vec<String>,
    /// Make the shop's sign-in button a plain button that no longer submits the form.
    #[arg(long)]
    pub break_login_button: bool,
}

pub async fn run(args: FixtureSiteArgs) -> anyhow::Result<()> {
    let mut regressions = Regressions {
        broken_login_button: args.break_login_button,
        ..Regressions::default()
    };
    for given in &args.status {
        regressions.status_overrides.push(parse_status(given)?);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    println!(
        "fixture app on http://{addr}/ (flows: /shop/?auto=1 /signed/ /captcha/?auto=1 /static/ /noisy/ /state/ /poll/); Ctrl-C stops it"
    );
    let config = FixtureConfig {
        regressions,
        ..FixtureConfig::default()
    };
    spool_fixtures::serve_listener(listener, config).await?;
    Ok(())
}

/// `/api/poll/status=503` → (`/api/poll/status`, 503).
fn parse_status(given: &str) -> Result<(String, u16), EngineError> {
    let invalid = || EngineError::InvalidParams {
        field: "status".into(),
        rule: format!(
            "must be PATH=STATUS with a path starting with / and a status 100–599, got {given:?}"
        ),
    };
    let (path, status) = given.split_once('=').ok_or_else(invalid)?;
    let status: u16 = status.parse().map_err(|_| invalid())?;
    if !path.starts_with('/') || !(100..=599).contains(&status) {
        return Err(invalid());
    }
    Ok((path.to_string(), status))
}
