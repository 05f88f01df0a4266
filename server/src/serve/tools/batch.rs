//! `batch-execute` and `parallel-execute`: many tool calls in one, the spec's `batchExecute`
//! and `parallelExecute`. Each operation names a tool and its parameters (usually
//! `execute-optimally`); it is called through the registry like any other call (validated
//! against the tool's schema, counted in the metrics and the audit log) and gets its own
//! result or error, so one failing operation never fails the others.
//!
//! Operations start in the order given, at most `maxConcurrency` at a time (capped by the
//! server's `max_concurrency` setting), and their results come back in that order.
//! `batch-execute` runs one at a time unless asked for more; `parallel-execute` runs as many
//! as the server allows unless asked for fewer. `timeout` bounds the whole batch: when it
//! passes, the calls still running are cancelled and those not started are not started; each
//! of them reports a Timeout error. A batch cannot contain another batch.

use super::super::error::ApiError;
use super::super::registry::{CallContext, Reply};
use super::super::state::AppState;
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use spool_model::ErrorCode;
use std::time::{Duration, Instant};

/// The tools that run batches; a batch may not call them.
const BATCH_TOOLS: [&str; 2] = ["batch-execute", "parallel-execute"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchOperation {
    /// The tool to call, e.g. `execute-optimally` (any tool but the batch tools).
    #[schemars(length(min = 1, max = 100))]
    pub tool: String,
    /// The tool's arguments, checked against its input schema.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchInput {
    /// The calls, started in this order.
    #[schemars(length(min = 1, max = 100))]
    pub operations: Vec<BatchOperation>,
    /// Calls running at once (1–64; capped by the server's max_concurrency). Default: 1 for
    /// batch-execute (one after another), the server's max_concurrency for parallel-execute.
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrency: Option<u32>,
    /// Seconds the whole batch may take (1–3600); calls still running then are cancelled.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout: f64,
}

fn default_timeout() -> f64 {
    600.0
}

/// One operation's outcome.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationResult {
    /// The operation's position in `operations` (0-based).
    pub index: usize,
    pub tool: String,
    /// The call returned a result (for execute-optimally, read `result.status` for how the
    /// task went).
    pub success: bool,
    /// The tool's result, as the tool alone would answer it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error the tool alone would answer: `{code, name, message, details}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Milliseconds from the call's start (0 when it never started).
    pub execution_time: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutput {
    /// One per operation, in the order given.
    pub results: Vec<OperationResult>,
    pub succeeded: usize,
    pub failed: usize,
    /// The calls that ran at once, at most.
    pub max_concurrency: usize,
    /// Milliseconds for the whole batch.
    pub execution_time: f64,
}

pub async fn batch_execute(
    state: AppState,
    input: BatchInput,
    ctx: CallContext,
) -> Result<Reply<BatchOutput>, ApiError> {
    run_batch(state, input, ctx, 1).await
}

pub async fn parallel_execute(
    state: AppState,
    input: BatchInput,
    ctx: CallContext,
) -> Result<Reply<BatchOutput>, ApiError> {
    let default = state.config.max_concurrency;
    run_batch(state, input, ctx, default).await
}

async fn run_batch(
    state: AppState,
    input: BatchInput,
    ctx: CallContext,
    default_concurrency: usize,
) -> Result<Reply<BatchOutput>, ApiError> {
    let started = Instant::now();
    if let Some((i, op)) = input
        .operations
        .iter()
        .enumerate()
        .find(|(_, op)| BATCH_TOOLS.contains(&op.tool.as_str()))
    {
        return Err(ApiError::invalid(
            &format!("operations[{i}].tool"),
            format!("{} cannot run inside a batch", op.tool),
        ));
    }
    let concurrency = input
        .max_concurrency
        .map_or(default_concurrency, |n| n as usize)
        .clamp(1, state.config.max_concurrency.max(1));
    // The batch's own token: cancelled at the deadline, and when the batch call is.
    let cancel = ctx.cancel.child_token();
    let timer = {
        let cancel = cancel.clone();
        let timeout = Duration::from_secs_f64(input.timeout);
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            cancel.cancel();
        })
    };
    let timeout_secs = input.timeout;
    let calls = input.operations.into_iter().enumerate().map(|(index, op)| {
        let state = state.clone();
        let cancel = cancel.clone();
        let sub = CallContext {
            cancel: cancel.clone(),
            progress: None,
            client: ctx.client.clone(),
            surface: ctx.surface,
        };
        async move {
            let timed_out = || {
                ApiError::new(
                    ErrorCode::Timeout,
                    format!("the batch's {timeout_secs} s timeout passed before this call finished"),
                )
            };
            if cancel.is_cancelled() {
                return (index, op.tool, Err(timed_out()), 0.0);
            }
            let call_started = Instant::now();
            let tool = op.tool.clone();
            // Each call in its own task: a panic in one is that call's error only.
            let task = tokio::spawn(async move {
                let args = Value::Object(op.parameters);
                state.registry.call(&state, &op.tool, args, sub).await
            });
            let result = tokio::select! {
                joined = task => joined.unwrap_or_else(|e| Err(ApiError::internal(format!("the call failed: {e}")))),
                _ = cancel.cancelled() => Err(timed_out()),
            };
            (index, tool, result, ms(call_started.elapsed()))
        }
    });
    let finished: Vec<_> = futures_util::stream::iter(calls)
        .buffered(concurrency)
        .collect()
        .await;
    timer.abort();
    if ctx.cancel.is_cancelled() {
        return Err(ApiError::new(ErrorCode::Timeout, "the batch was cancelled"));
    }
    let results: Vec<OperationResult> = finished
        .into_iter()
        .map(|(index, tool, result, took)| match result {
            Ok(output) => OperationResult {
                index,
                tool,
                success: true,
                result: Some(output.structured),
                error: None,
                execution_time: took,
            },
            Err(e) => OperationResult {
                index,
                tool,
                success: false,
                result: None,
                error: Some(e.rest_body()["error"].clone()),
                execution_time: took,
            },
        })
        .collect();
    let succeeded = results.iter().filter(|r| r.success).count();
    Ok(BatchOutput {
        failed: results.len() - succeeded,
        succeeded,
        results,
        max_concurrency: concurrency,
        execution_time: ms(started.elapsed()),
    }
    .into())
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}
