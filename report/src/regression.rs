//! The seam for the regression report of `spool replay --check`: the check fills a
//! [`RegressionData`] (recorded vs replayed per action, screenshot differences, network
//! and console differences) and [`regression_report`] renders it on top of the recorded
//! session's report. The page draws the section whenever the data carries one.

use serde::{Deserialize, Serialize};
use spool_analyzer::Analysis;

use crate::ReportError;
use crate::data::{ReportConfig, ReportSource, build};
use crate::render::render;

/// What a replay check found, step by step. Shaped after the check's own report
/// (`spool_engine::replay::check::CheckReport`), so filling it is a field-by-field copy;
/// this crate does not depend on the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionData {
    /// Nothing regressed.
    pub passed: bool,
    /// The replayed session, when the replay was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_session: Option<String>,
    /// Every regression, one sentence each, in the order a person should read them.
    pub regressions: Vec<RegressionLine>,
    /// The page load, then one step per recorded action, in order.
    pub steps: Vec<RegressionStep>,
    /// Requests only the replay made.
    pub network: Vec<RegressionDifference>,
    /// Console errors only the replay logged.
    pub console: Vec<RegressionDifference>,
    /// Recorded and replayed screenshots compared pairwise.
    pub screenshots: Vec<ScreenshotComparison>,
}

/// One regression: its kind (`actionFailed`, `statusChanged`, ...), the step it belongs to,
/// and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionLine {
    pub kind: String,
    pub step: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum RegressionStepStatus {
    /// The step did the same thing.
    #[default]
    Passed,
    /// The step ran but something it caused differs (a request's status, a missing
    /// request).
    Changed,
    /// The step could not be performed.
    Failed,
    /// Not run.
    Skipped,
}

/// One recorded step (the page load, or an action), recorded vs replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionStep {
    /// Index into the recorded session's actions; `None` for the page load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
    /// `page load`, or the action as `click #login-button`.
    pub name: String,
    pub status: RegressionStepStatus,
    /// Why the step failed or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors_tried: Vec<String>,
    /// Requests the step caused in the recording that the replay did not make, or made
    /// with another status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RegressionDifference>,
    /// The recorded and replayed screenshots after the step, as `data:` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_screenshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_screenshot: Option<String>,
}

/// One difference between the recording and the replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionDifference {
    /// What it is about: `GET /api/items`, a console message.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<String>,
}

/// A recorded screenshot and the replay's at the same place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotComparison {
    /// The screenshots' reason and ordinal (`action 2`).
    pub name: String,
    /// The fraction of pixels that differ, 0 to 1.
    pub difference: f64,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The recorded session's report with the check's findings on top.
pub fn regression_report(
    recorded: &ReportSource,
    analysis: Result<&Analysis, &str>,
    regression: RegressionData,
    config: &ReportConfig,
) -> Result<String, ReportError> {
    let mut data = build(recorded, analysis, config);
    data.regression = Some(regression);
    render(&data)
}
