//! `analyze-har`, and the analysis part of every response that carries one, with the
//! spec's field names; Spool's own findings (chain, graph, plan) sit under `spool`.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use super::{SESSION_ID_PATTERN, parse_session_id};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spool_model::ErrorCode;
use std::collections::BTreeMap;

/// How the task should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Plain HTTP requests, no browser.
    Integuru,
    /// A headless browser (values computed in the page).
    HeadlessCdp,
    /// A person must act (captcha, 2FA, bot challenge).
    VisibleBrowser,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Complexity {
    /// 0 (trivial) to 1 (hard without a browser).
    pub score: f64,
    /// Longest dependency path into the target, in requests.
    pub api_depth: u64,
    pub authentication_required: bool,
    pub dynamic_content: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    pub url: String,
    pub method: String,
    pub parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InteguruAnalysis {
    pub confidence: f64,
    pub complexity: Complexity,
    /// A Python (`requests`) script, when the recommendation is `integuru`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_code: Option<String>,
    pub api_endpoints: Vec<ApiEndpoint>,
}

/// Spool's analysis beyond the spec's fields.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpoolAnalysis {
    /// Counts: entries, kept, dropped, documents, API calls, bodies, duration.
    pub summary: Value,
    /// The request the task is about, and why it was chosen.
    pub target: Value,
    /// The target and the requests it depends on, in time order.
    pub chain: Value,
    /// Every kept request and the value flows between them.
    pub graph: Value,
    /// The chain as an executable plan.
    pub plan: Value,
    /// Request values no earlier response produced (inputs, secrets, computed values).
    pub unresolved: Value,
    /// Captcha, 2FA and bot-challenge evidence.
    pub markers: Value,
    pub warnings: Vec<String>,
}

/// The spec's analysis fields plus Spool's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisResult {
    pub integuru_analysis: InteguruAnalysis,
    /// Always one of the three.
    pub recommended_modality: Modality,
    pub confidence: f64,
    /// Seconds the task takes, from the recorded timings.
    pub estimated_time: f64,
    pub reasoning: String,
    pub spool: SpoolAnalysis,
}

/// Analyzes HAR bytes off the async threads. Typed values (from the action stream) count
/// as user inputs.
pub async fn analyze(
    har: Vec<u8>,
    task: Option<String>,
    target: Option<String>,
    user_inputs: Vec<spool_analyzer::UserInput>,
) -> Result<AnalysisResult, ApiError> {
    tokio::task::spawn_blocking(move || {
        let input = spool_analyzer::AnalyzeInput {
            har_json: &har,
            task: task.as_deref(),
            target: target.as_deref(),
            user_inputs,
        };
        let analysis = spool_analyzer::analyze(&input, &spool_analyzer::AnalysisConfig::default())?;
        convert(&analysis)
    })
    .await
    .map_err(ApiError::internal)?
}

fn convert(a: &spool_analyzer::Analysis) -> Result<AnalysisResult, ApiError> {
    let integuru_analysis: InteguruAnalysis = serde_json::from_value(
        serde_json::to_value(&a.integuru_analysis).map_err(ApiError::internal)?,
    )
    .map_err(ApiError::internal)?;
    let (recommended_modality, reasoning) = match a.recommended_modality {
        Some(spool_analyzer::Modality::Integuru) => (Modality::Integuru, a.reasoning.clone()),
        Some(spool_analyzer::Modality::HeadlessCdp) => (Modality::HeadlessCdp, a.reasoning.clone()),
        Some(spool_analyzer::Modality::VisibleBrowser) => {
            (Modality::VisibleBrowser, a.reasoning.clone())
        }
        // Nothing to call directly: the task can only be done by driving a page.
        None => (
            Modality::HeadlessCdp,
            format!(
                "{} No API call to run was found, so the task needs a browser.",
                a.reasoning
            )
            .trim()
            .to_string(),
        ),
    };
    Ok(AnalysisResult {
        integuru_analysis,
        recommended_modality,
        confidence: a.confidence,
        estimated_time: a.estimated_time,
        reasoning,
        spool: SpoolAnalysis {
            summary: v(&a.summary),
            target: v(&a.target),
            chain: v(&a.chain),
            graph: v(&a.graph),
            plan: v(&a.plan),
            unresolved: v(&a.unresolved),
            markers: v(&a.markers),
            warnings: a.warnings.clone(),
        },
    })
}

/// Any analyzer part as JSON; these types always serialize.
fn v<T: Serialize>(x: &T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeHarInput {
    /// A stored session to analyze (give this or `har`).
    #[schemars(regex(pattern = SESSION_ID_PATTERN))]
    pub session_id: Option<String>,
    /// A HAR 1.2 document to analyze, as JSON or as its text (give this or `sessionId`).
    pub har: Option<Value>,
    /// What the task is, in words; picks the request the task is about.
    #[schemars(length(max = 1000))]
    pub task_description: Option<String>,
    /// The request the task is about: `[METHOD ]URL-or-path pattern`.
    #[schemars(length(max = 1000))]
    pub target: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeHarOutput {
    /// The analyzed session, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(flatten)]
    pub analysis: AnalysisResult,
}

pub async fn analyze_har(
    state: AppState,
    input: AnalyzeHarInput,
    _ctx: CallContext,
) -> Result<Reply<AnalyzeHarOutput>, ApiError> {
    let (har, task, session_id) = match (&input.session_id, &input.har) {
        (Some(id), None) => {
            let uuid = parse_session_id(id)?;
            let store = state.store.clone();
            // Analysis traces the real values; generated code turns secrets into inputs.
            let (har, task) = tokio::task::spawn_blocking(move || {
                let meta = store.metadata(uuid)?;
                let options = spool_store::ExportOptions {
                    include_secrets: true,
                    ..Default::default()
                };
                let har = serde_json::to_vec(&store.export_har(uuid, &options)?)
                    .map_err(ApiError::internal)?;
                Ok::<_, ApiError>((har, meta.task_description))
            })
            .await
            .map_err(ApiError::internal)??;
            let task = input
                .task_description
                .clone()
                .or(Some(task).filter(|t| !t.trim().is_empty()));
            (har, task, Some(id.clone()))
        }
        (None, Some(har)) => {
            let bytes = match har {
                Value::String(text) => text.clone().into_bytes(),
                other => serde_json::to_vec(other).map_err(ApiError::internal)?,
            };
            (bytes, input.task_description.clone(), None)
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidParams,
                "invalid sessionId: give exactly one of sessionId and har",
            )
            .with_details(serde_json::json!({ "field": "sessionId", "rule": "oneOf" })));
        }
    };
    let analysis = analyze(har, task, input.target.clone(), Vec::new()).await?;
    Ok(AnalyzeHarOutput {
        session_id,
        analysis,
    }
    .into())
}
