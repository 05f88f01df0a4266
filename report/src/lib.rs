//! # Spool report: the session viewer
//!
//! One self-contained HTML file per session: a timeline of actions with their screenshots,
//! the network waterfall, the console and the analysis (the chain from the target back to
//! its sources, the recommendation and the generated code). CSS, JavaScript and data are
//! inline, so the file works opened straight from disk with no network.
//!
//! The work is split in two pure steps, so each can be tested and reused on its own:
//!
//! 1. [`build`]: a [`ReportSource`] (a stored session's streams) and its analysis become a
//!    [`ReportData`], the JSON the page reads. Secrets are redacted here, by the export's
//!    own redaction (`spool_store::redact`), and bodies and screenshots over the
//!    [`ReportConfig`] limits are left out with a note (or a URL to load them from when the
//!    report is served).
//! 2. [`render`]: a [`ReportData`] becomes the HTML file (the template `report.html` with the
//!    data in a `<script type="application/json">` block).
//!
//! [`session_report`] runs both after analyzing the session. The regression report of
//! `spool replay --check` fills a [`RegressionData`] and renders it with
//! [`regression_report`]: the same page with a regression section on top.

mod data;
mod regression;
mod render;

pub use data::{
    ActionView, AnalysisView, BodyView, ConsoleView, EntryView, GraphEdgeView, GraphNodeView,
    ReportConfig, ReportData, ReportSource, ScreenshotView, SessionView, Timings, build,
    format_bytes,
};
pub use regression::{
    RegressionData, RegressionDifference, RegressionLine, RegressionStep, RegressionStepStatus,
    ScreenshotComparison, regression_report,
};
pub use render::render;

use spool_analyzer::{Analysis, AnalysisConfig, AnalyzeError, AnalyzeInput, UserInput};

/// What can go wrong while making a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report data could not be serialized (not expected from the types here).
    #[error("cannot serialize the report data: {0}")]
    Json(#[from] serde_json::Error),
}

impl ReportError {
    /// The stable error code of this failure.
    pub fn code(&self) -> spool_model::ErrorCode {
        spool_model::ErrorCode::InternalError
    }
}

/// Analyzes a session as `spool analyze SESSION` does: its unredacted HAR (the analysis
/// needs the real values to trace them, and masks secrets wherever it shows them), the
/// session's task as the task, and the text typed during the session as user inputs.
pub fn analyze_source(source: &ReportSource) -> Result<Analysis, AnalyzeError> {
    let har_json = serde_json::to_vec(&source.har)
        .map_err(|e| AnalyzeError::AnalysisFailed(format!("cannot serialize the HAR: {e}")))?;
    let task = source.metadata.task_description.trim();
    let user_inputs = source
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == "type" && a.slot.is_none())
        .filter_map(|(i, a)| {
            let value = a.value.as_ref()?;
            Some(UserInput {
                name: a.target.clone().unwrap_or_else(|| format!("typed-{i}")),
                value: value.clone(),
            })
        })
        .take(AnalysisConfig::default().max_user_inputs)
        .collect();
    let input = AnalyzeInput {
        har_json: &har_json,
        task: (!task.is_empty()).then_some(task),
        target: None,
        user_inputs,
    };
    spool_analyzer::analyze(&input, &AnalysisConfig::default())
}

/// The whole report of a session: analysis, data, HTML. An analysis that fails does not
/// fail the report; its section says why instead.
pub fn session_report(source: &ReportSource, config: &ReportConfig) -> Result<String, ReportError> {
    let analysis = analyze_source(source).map_err(|e| e.to_string());
    render(&build(
        source,
        analysis.as_ref().map_err(String::as_str),
        config,
    ))
}
