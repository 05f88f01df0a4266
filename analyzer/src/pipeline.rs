//! The stages, callable one by one (the benches time each): parse, filter, index, then
//! endpoints, graph, target and chain; stage 6 is [`crate::assemble`].

use crate::AnalyzeInput;
use crate::config::AnalysisConfig;
use crate::endpoints::{self, Inventory};
use crate::error::AnalyzeError;
use crate::filter::{self, Filtered};
use crate::graph::{self, DepGraph};
use crate::har::{self, Har};
use crate::index::{self, Index};
use crate::model::Analysis;
use crate::target::{self, Pick};

/// Stage 1: parse (with the size limits).
pub fn parse<'a>(bytes: &'a [u8], cfg: &AnalysisConfig) -> Result<Har<'a>, AnalyzeError> {
    if bytes.len() > cfg.max_har_bytes {
        return Err(AnalyzeError::TooLarge {
            what: "HAR".into(),
            size: bytes.len(),
            limit: cfg.max_har_bytes,
        });
    }
    let h = har::parse(bytes)?;
    if h.log.entries.len() > cfg.max_entries {
        return Err(AnalyzeError::TooLarge {
            what: "HAR entry count".into(),
            size: h.log.entries.len(),
            limit: cfg.max_entries,
        });
    }
    Ok(h)
}

/// Stage 2: filter.
pub fn filter(h: &Har<'_>) -> Filtered {
    filter::filter(h)
}

/// Stage 3: index request and response values.
pub fn index(h: &Har<'_>, f: &Filtered, cfg: &AnalysisConfig) -> Result<Index, AnalyzeError> {
    index::build(h, f, cfg)
}

/// What stage 4/5 produce.
#[derive(Debug)]
pub struct Built {
    pub inventory: Inventory,
    pub graph: DepGraph,
    pub target: Option<Pick>,
    /// Chain entries in time order.
    pub chain: Vec<usize>,
    /// The longest path into the target (entries).
    pub longest: Vec<usize>,
}

/// Stages 4 and 5: endpoints, dependency graph, target and chain.
pub fn graph(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    input: &AnalyzeInput<'_>,
    cfg: &AnalysisConfig,
) -> Result<Built, AnalyzeError> {
    let inventory = endpoints::build(h, f, idx, cfg);
    let g = graph::build(h, f, idx, &inventory, &input.user_inputs, input.task, cfg);
    let target = target::pick(h, f, &inventory, idx, input.target, input.task)?;
    let (chain, longest) = match &target {
        Some(t) => {
            let mut c: Vec<usize> = g.ancestors(t.entry).into_iter().collect();
            c.sort_by_key(|&e| f.rank[e]);
            (c, g.longest_path_to(t.entry, &f.rank))
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(Built {
        inventory,
        graph: g,
        target,
        chain,
        longest,
    })
}

/// Stage 6: score, recommend, explain, plan and generate code.
pub fn assemble(
    h: &Har<'_>,
    f: &Filtered,
    idx: &Index,
    built: Built,
    input: &AnalyzeInput<'_>,
) -> Analysis {
    crate::assemble::assemble(h, f, idx, built, &input.user_inputs)
}
