//! # Spool analyzer
//!
//! Pure analysis of a recorded browser session (HAR 1.2 JSON, with Chrome's `_resourceType`,
//! `_initiator` and `_webSocketMessages` when present): which web API calls a task really
//! needs, how they depend on each other, how hard they are to run without a browser, which
//! modality to use, and code that runs them. Deterministic and explainable, no LLM.
//!
//! ```no_run
//! use spool_analyzer::{analyze, generate_python, AnalyzeInput, AnalysisConfig, UserInput};
//! let har = std::fs::read("session.har").unwrap();
//! let input = AnalyzeInput {
//!     har_json: &har,
//!     task: Some("log in and order the first item"),
//!     target: None,
//!     user_inputs: vec![UserInput { name: "username".into(), value: "alice".into() }],
//! };
//! let a = analyze(&input, &AnalysisConfig::default()).unwrap();
//! println!("{:?} {} — {}", a.recommended_modality, a.confidence, a.reasoning);
//! println!("{}", generate_python(&a));
//! ```
//!
//! ## Pipeline
//!
//! Each stage is a private module (`pipeline.rs` calls them in order; the benches time them
//! one by one through the hidden `stages` feature):
//!
//! 1. **parse** (`har.rs`): lean zero-copy views of the HAR; strings borrow from the input,
//!    response bodies stay raw ([`serde_json::value::RawValue`]) until a later stage reads
//!    them. Errors name where the HAR breaks (`log.entries[3].request`, line and column).
//! 2. **filter** (`filter.rs`): keep documents, XHR/fetch, JSON/form/GraphQL/text; drop static
//!    assets, analytics/ads/telemetry hosts and beacons (data lists in `analyzer/data/`),
//!    each with its reason; order entries in time.
//! 3. **index** (`index.rs`): every request value (path segment, query, form field, JSON
//!    leaf, header incl. `Bearer`, cookie) in its decoded forms (plain, URL, JSON-escaped,
//!    base64, JWT claims, tokens) becomes a pattern of one Aho–Corasick automaton; every
//!    response value (JSON leaf by pointer, header, `Set-Cookie`, `Location`, HTML hidden
//!    input, meta tag, inline-script literal, WebSocket frame) is run through it once, in
//!    time order, keeping each pattern's earliest producer. Captcha/bot/OTP/WebAuthn
//!    markers are found here too.
//! 4. **endpoints** (`endpoints.rs`): templated paths (`{id}`, `{uuid}`, `{hex}`, `{date}`,
//!    `{token}`, and `{slug}` for siblings whose samples agree), grouped by method + origin +
//!    template (GraphQL by operation), with query/form/body keys and JSON types; exported
//!    as OpenAPI 3.1 by [`openapi()`].
//! 5. **graph** (`graph.rs`): each request value's earliest earlier producer is a typed edge
//!    (`json->header`, `set-cookie->cookie`, ...) with evidence in a `petgraph` graph;
//!    values nothing produced are user inputs (typed text, task, explicit inputs, credential
//!    fields), browser state (cookies), computed in the page (timestamps, UUIDs, or
//!    high-entropy signatures/nonces) or constants. The target (`target.rs`: explicit pattern,
//!    task words, else the last state-changing request) and its ancestors are the chain;
//!    `apiDepth` is the longest path into the target, in edges.
//! 6. **assemble** (`scoring.rs`, `recommend.rs`, `assemble.rs`): complexity,
//!    `authenticationRequired`, `dynamicContent`, the modality (`visible_browser` on markers, `headless_cdp` on
//!    page-computed values, else `integuru`; `null` when there is no API call), confidence,
//!    estimated time from recorded timings, reasoning citing the evidence; the chain as an
//!    [`ApiPlan`] and as Python ([`generate_python`]) and curl+jq ([`generate_curl`]) scripts.
//!
//! ## Invariants
//!
//! - Pure: no I/O, no clock, no randomness; the same input gives byte-identical output
//!   (ordered maps and sorted lists everywhere). The one parallel step, the index scan, runs
//!   on rayon's pool in time-ordered ranges and merges them in that order, so the result does
//!   not depend on how many threads ran it.
//! - Depends on no other Spool crate but `spool-model` (the one definition of a secret, the
//!   HTML attribute scanner, the percent codec and the cookie parser).
//! - Bounded: HAR size and entry count ([`AnalysisConfig`]), JSON depth, body size and
//!   values per body; over a bound the analysis notes it (or fails with a coded error),
//!   never panics.
//! - Secrets are what `spool_model::secret` says (the definition export redaction uses): a
//!   recorded value in a secret place (cookies, auth headers, secret-named fields and hidden
//!   inputs) is masked wherever the analysis shows it, and becomes an input without a default
//!   instead of a literal in generated code. An analysis never shows what an export redacts.
//! - Errors: one enum, [`AnalyzeError`], with stable codes ([`AnalyzeError::code`]).

// The public API is what a caller needs: `analyze`, the code renderers, `openapi`, and the
// model types below. Every stage module is private; tests reach them through that API or by
// unit tests inside the crate.
mod assemble;
mod codegen;
mod config;
mod decode;
mod endpoints;
mod error;
mod filter;
mod graph;
mod har;
mod html;
mod index;
mod json;
mod lists;
mod model;
mod openapi;
mod pipeline;
mod plan;
mod recommend;
mod scoring;
mod target;
mod urls;
mod value_class;

pub use config::AnalysisConfig;
pub use error::AnalyzeError;
pub use model::*;
pub use openapi::openapi;
pub use plan::{
    ApiPlan, Encoding, Extraction, JsonSet, Part, PlanBody, PlanField, PlanInput, PlanStep,
    PlanValue,
};

/// The pipeline's stages one by one, for the benches that time each. Not a stable API: only
/// built with the `stages` feature, which nothing but `spool-benches` turns on.
#[cfg(feature = "stages")]
#[doc(hidden)]
pub mod stages {
    pub use crate::filter::Filtered;
    pub use crate::har::Har;
    pub use crate::index::Index;
    pub use crate::pipeline::{Built, assemble, filter, graph, index, parse};
}

/// What to analyze.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeInput<'a> {
    /// HAR 1.2 JSON text.
    pub har_json: &'a [u8],
    /// The task in words (chooses the target; values it quotes are user inputs).
    pub task: Option<&'a str>,
    /// An explicit target: `[METHOD ]pattern`, `*` matching any run, against the URL,
    /// path, endpoint template or endpoint id.
    pub target: Option<&'a str>,
    /// Text typed during the session (from the action stream) and explicit inputs.
    pub user_inputs: Vec<UserInput>,
}

/// A value the person typed or supplies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct UserInput {
    pub name: String,
    pub value: String,
}

/// Analyzes a HAR.
pub fn analyze(
    input: &AnalyzeInput<'_>,
    config: &AnalysisConfig,
) -> Result<Analysis, AnalyzeError> {
    validate(input, config)?;
    let har = pipeline::parse(input.har_json, config)?;
    let filtered = pipeline::filter(&har);
    let index = pipeline::index(&har, &filtered, config)?;
    let built = pipeline::graph(&har, &filtered, &index, input, config)?;
    Ok(pipeline::assemble(&har, &filtered, &index, built, input))
}

fn validate(input: &AnalyzeInput<'_>, cfg: &AnalysisConfig) -> Result<(), AnalyzeError> {
    if let Some(t) = input.task
        && t.chars().count() > cfg.max_task_chars
    {
        return Err(AnalyzeError::invalid_params(
            "task",
            format!("at most {} characters", cfg.max_task_chars),
        ));
    }
    if let Some(t) = input.target {
        if t.trim().is_empty() {
            return Err(AnalyzeError::invalid_params("target", "must not be empty"));
        }
        if t.len() > 2048 {
            return Err(AnalyzeError::invalid_params(
                "target",
                "at most 2048 characters",
            ));
        }
    }
    if input.user_inputs.len() > cfg.max_user_inputs {
        return Err(AnalyzeError::invalid_params(
            "user_inputs",
            format!("at most {} inputs", cfg.max_user_inputs),
        ));
    }
    for (i, u) in input.user_inputs.iter().enumerate() {
        if u.name.trim().is_empty() {
            return Err(AnalyzeError::invalid_params(
                &format!("user_inputs[{i}].name"),
                "must not be empty",
            ));
        }
    }
    Ok(())
}

/// The chain as a runnable Python script (`requests`); inputs are `--flags`.
pub fn generate_python(a: &Analysis) -> String {
    codegen::generate_python(a)
}

/// The chain as a runnable shell script (`curl` + `jq`); inputs are `--flags`.
pub fn generate_curl(a: &Analysis) -> String {
    codegen::generate_curl(a)
}

/// The chain as a JSON plan the engine can execute natively.
pub fn plan(a: &Analysis) -> ApiPlan {
    a.plan.clone()
}
