//! The seam for the regression report of `spool replay --check`: the check fills a
//! [`RegressionData`] (recorded vs replayed per action, screenshot differences, network
//! and console differences) and [`regression_report`] renders it on top of the recorded
//! session's report. The page draws the section whenever the data carries one.

use serde::{Deserialize, Serialize};
use spool_analyzer::Analysis;

use crate::ReportError;
use crate::data::{ReportConfig, ReportSource, build};
use crate::render::render;

/// What a replay check found, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionData {
    /// The replayed session, when the replay was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_session: Option<String>,
    /// One step per recorded action, in order.
    pub steps: Vec<RegressionStep>,
    /// Requests that answered differently (status, missing, new).
    pub network: Vec<RegressionDifference>,
    /// Console messages that appeared or went away.
    pub console: Vec<RegressionDifference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum RegressionStepStatus {
    /// The step did the same thing.
    #[default]
    Passed,
    /// The step ran but something it caused differs (status, screenshot).
    Changed,
    /// The step could not be performed.
    Failed,
    /// Not run, because an earlier step failed.
    Skipped,
}

/// One action, recorded vs replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionStep {
    /// Index into the recorded session's actions.
    pub action: usize,
    pub status: RegressionStepStatus,
    /// Why the step failed or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The recorded and replayed screenshots after the step, as `data:` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_screenshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_screenshot: Option<String>,
    /// The changed pixels (a `data:` URL of the same size, changed pixels opaque), and their
    /// share of the image, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot_diff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_pixels: Option<f64>,
}

/// One difference between the recording and the replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegressionDifference {
    /// The step it happened in, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
    /// What it is about: `GET /api/items`, a console message.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<String>,
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
