//! `spool report SESSION [--out FILE.html]`: the session viewer as one HTML file (see
//! docs/report.md). The page is made by the `spool-report` crate; this command resolves the
//! session, writes the file and prints its path.

use anyhow::{Context, Result};
use clap::Args;
use spool_report::{ReportConfig, ReportSource, session_report};
use spool_store::Store;
use std::path::PathBuf;

/// `spool report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Session id (or a unique prefix of it).
    pub session: String,
    /// Where to write the report (default: `<session-id>.html` in the current directory).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Bodies longer than this many bytes are left out of the file with a note.
    #[arg(long, value_name = "BYTES", default_value_t = spool_report::ReportConfig::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Screenshots larger than this many bytes are left out of the file with a note.
    #[arg(long, value_name = "BYTES", default_value_t = spool_report::ReportConfig::default().max_screenshot_bytes)]
    pub max_screenshot_bytes: usize,
}

pub fn run(store: &Store, args: &ReportArgs) -> Result<()> {
    let id = super::sessions::resolve_id(store, &args.session)?;
    let session = store.get(id)?;
    let config = ReportConfig {
        max_body_bytes: args.max_body_bytes,
        max_screenshot_bytes: args.max_screenshot_bytes,
        served_from: None,
    };
    let html = session_report(&ReportSource::from_session(&session), &config)?;
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{id}.html")));
    std::fs::write(&path, &html).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

/// The regression report of `spool replay --check --report`: the recorded session's report
/// with the check's findings beside it (recorded vs replayed per step, the requests and
/// console errors that changed, the screenshot differences).
pub fn regression_report(
    recorded: &spool_store::Session,
    check: &spool_engine::replay::CheckReport,
) -> Result<String> {
    let source = ReportSource::from_session(recorded);
    let analysis = spool_report::analyze_source(&source).map_err(|e| e.to_string());
    Ok(spool_report::regression_report(
        &source,
        analysis.as_ref().map_err(String::as_str),
        regression_data(check, None),
        &ReportConfig::default(),
    )?)
}

/// The check's findings as the report's regression section.
pub fn regression_data(
    check: &spool_engine::replay::CheckReport,
    replayed_session: Option<String>,
) -> spool_report::RegressionData {
    use spool_engine::replay::StepStatus;
    use spool_report::{
        RegressionData, RegressionDifference, RegressionLine, RegressionStep, RegressionStepStatus,
        ScreenshotComparison,
    };
    let request = |d: &spool_engine::replay::check::RequestDiff| RegressionDifference {
        subject: format!("{} {}", d.method, d.path),
        recorded: d.recorded_status.map(|s| s.to_string()),
        replayed: d.replayed_status.map(|s| s.to_string()),
    };
    let kind = |k: &spool_engine::replay::RegressionKind| match serde_json::to_value(k) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{k:?}"),
    };
    RegressionData {
        passed: check.passed,
        replayed_session,
        regressions: check
            .regressions
            .iter()
            .map(|r| RegressionLine {
                kind: kind(&r.kind),
                step: r.step.clone(),
                message: r.message.clone(),
            })
            .collect(),
        steps: check
            .steps
            .iter()
            .map(|s| RegressionStep {
                action: s.index,
                name: s.name.clone(),
                status: match s.status {
                    StepStatus::Failed => RegressionStepStatus::Failed,
                    StepStatus::Skipped => RegressionStepStatus::Skipped,
                    StepStatus::Success if !s.passed() => RegressionStepStatus::Changed,
                    StepStatus::Success => RegressionStepStatus::Passed,
                },
                message: s.error.clone(),
                selectors_tried: s.selectors_tried.clone(),
                requests: s
                    .missing_requests
                    .iter()
                    .chain(&s.changed_status)
                    .map(request)
                    .collect(),
                recorded_screenshot: None,
                replayed_screenshot: None,
            })
            .collect(),
        network: check.new_requests.iter().map(request).collect(),
        console: check
            .new_console_errors
            .iter()
            .map(|text| RegressionDifference {
                subject: text.clone(),
                recorded: None,
                replayed: Some("logged".into()),
            })
            .collect(),
        screenshots: check
            .screenshots
            .iter()
            .map(|c| ScreenshotComparison {
                name: c.name.clone(),
                difference: c.difference,
                passed: c.passed,
                note: c.note.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::regression_data;
    use spool_engine::replay::StepStatus;
    use spool_engine::replay::check::{CheckReport, RequestDiff, StepCheck};
    use spool_engine::replay::{Regression, RegressionKind};
    use spool_report::RegressionStepStatus;

    #[test]
    fn a_check_with_a_changed_status_becomes_a_changed_step_and_its_regression() {
        let changed = RequestDiff {
            method: "POST".into(),
            path: "/api/orders".into(),
            recorded_status: Some(201),
            replayed_status: Some(409),
        };
        let check = CheckReport {
            passed: false,
            steps: vec![StepCheck {
                index: Some(5),
                name: "click #login-button".into(),
                status: StepStatus::Success,
                error: None,
                selectors_tried: Vec::new(),
                missing_requests: Vec::new(),
                changed_status: vec![changed],
            }],
            new_requests: Vec::new(),
            new_console_errors: vec!["TypeError: x".into()],
            screenshots: Vec::new(),
            regressions: vec![Regression {
                kind: RegressionKind::StatusChanged,
                step: "click #login-button".into(),
                message: "POST /api/orders: status 201 → 409".into(),
            }],
        };
        let data = regression_data(&check, None);
        assert!(!data.passed);
        assert_eq!(data.steps[0].status, RegressionStepStatus::Changed);
        assert_eq!(data.steps[0].action, Some(5));
        assert_eq!(data.steps[0].requests[0].subject, "POST /api/orders");
        assert_eq!(data.steps[0].requests[0].replayed.as_deref(), Some("409"));
        assert_eq!(data.regressions[0].kind, "statusChanged");
        assert_eq!(data.console[0].subject, "TypeError: x");
    }
}
