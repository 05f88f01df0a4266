//! Bounds and thresholds of the analysis.

use serde::{Deserialize, Serialize};

/// Bounds and thresholds. [`Default`] gives the values the CLI, REST and MCP use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisConfig {
    /// Largest HAR accepted, in bytes (over it: `TooLarge`, code -32201).
    pub max_har_bytes: usize,
    /// Most entries accepted (over it: `TooLarge`).
    pub max_entries: usize,
    /// JSON bodies are walked to this depth; deeper values are skipped (and noted).
    pub max_json_depth: usize,
    /// Bodies larger than this are not indexed (and noted).
    pub max_body_bytes: usize,
    /// Most values taken from one body.
    pub max_values_per_body: usize,
    /// Strings shorter than this never make an edge.
    pub min_value_len: usize,
    /// Numbers with fewer characters than this never make an edge.
    pub min_number_len: usize,
    /// A request value found *inside* a longer response value (not equal to it) makes an
    /// edge only when it is at least this long and bounded by non-alphanumerics.
    pub min_contained_len: usize,
    /// Request values longer than this are not searched whole (only their tokens).
    pub max_value_len: usize,
    /// Sibling path segments collapse into `{slug}` only with at least this many distinct
    /// samples that agree (same method and response shape).
    pub min_sibling_samples: usize,
    /// Unresolved values at least this long with at least `entropy_bits` bits per
    /// character are taken as computed in the page (signatures, nonces, hashes).
    pub min_computed_len: usize,
    /// See `min_computed_len`.
    pub entropy_bits: f64,
    /// Longest task description accepted, in characters.
    pub max_task_chars: usize,
    /// Most user inputs accepted.
    pub max_user_inputs: usize,
    /// Threads that scan response bodies (large HARs only; the result does not depend on
    /// it).
    pub threads: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            max_har_bytes: 1 << 30,
            max_entries: 500_000,
            max_json_depth: 64,
            max_body_bytes: 10 << 20,
            max_values_per_body: 200_000,
            min_value_len: 4,
            min_number_len: 4,
            min_contained_len: 8,
            max_value_len: 8 << 10,
            min_sibling_samples: 3,
            min_computed_len: 16,
            entropy_bits: 3.0,
            max_task_chars: 10_000,
            max_user_inputs: 1_000,
            threads: 2,
        }
    }
}
