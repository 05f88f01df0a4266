//! `spool analyze SESSION_ID|FILE.har`: the analysis of a recorded session — endpoints, the
//! dependency chain as a tree, the recommended modality with its reasons — or, with
//! `--json`, the analysis with the spec's camelCase names; `--code python|curl|plan` prints
//! the generated script or plan, `--openapi` the endpoint inventory as OpenAPI 3.1.
//!
//! `main.rs` resolves `SESSION_ID` through the store and calls [`run_on_har`] with the HAR
//! bytes ([`read_har_file`] reads a `FILE.har` source). Analysis errors are returned as
//! [`spool_analyzer::AnalyzeError`] inside the `anyhow::Error`, so their stable code
//! (`AnalyzeError::code`) can be recovered with `downcast_ref`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use spool_analyzer::{
    Analysis, AnalysisConfig, AnalyzeInput, EntryKind, UnresolvedKind, UserInput, analyze,
    generate_curl, generate_python, openapi, plan,
};

/// Which generated artifact `--code` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodeKind {
    /// A Python script using `requests`.
    Python,
    /// A shell script using `curl` and `jq`.
    Curl,
    /// The JSON plan the engine executes natively.
    Plan,
}

/// `spool analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// A stored session id, or the path of a HAR file.
    pub source: String,
    /// The task in words: chooses the target request; values it quotes count as typed.
    #[arg(long)]
    pub task: Option<String>,
    /// The target request: `[METHOD ]PATTERN`, `*` matching anything, against URL, path or
    /// endpoint template (e.g. `POST /api/orders`).
    #[arg(long)]
    pub target: Option<String>,
    /// Print the analysis as JSON (spec field names).
    #[arg(long, conflicts_with_all = ["code", "openapi"])]
    pub json: bool,
    /// Print generated code instead of the report.
    #[arg(long, value_enum, conflicts_with = "openapi")]
    pub code: Option<CodeKind>,
    /// Print the endpoint inventory as OpenAPI 3.1 (JSON).
    #[arg(long)]
    pub openapi: bool,
    /// A value the user typed or supplies, as NAME=VALUE (repeatable).
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_input)]
    pub inputs: Vec<(String, String)>,
}

fn parse_input(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

/// The HAR bytes of `source` when it names a file (`*.har`, or any existing path); `None`
/// when it should be looked up as a session id.
pub fn read_har_file(source: &str) -> Option<anyhow::Result<Vec<u8>>> {
    let p = Path::new(source);
    if p.exists() || source.to_ascii_lowercase().ends_with(".har") {
        Some(std::fs::read(p).with_context(|| format!("cannot read HAR file {source}")))
    } else {
        None
    }
}

/// Analyzes `har_bytes` as `args` say and prints the result on stdout.
pub fn run_on_har(har_bytes: &[u8], args: &AnalyzeArgs) -> anyhow::Result<()> {
    let out = render(har_bytes, args)?;
    print!("{out}");
    Ok(())
}

/// What [`run_on_har`] prints.
pub fn render(har_bytes: &[u8], args: &AnalyzeArgs) -> anyhow::Result<String> {
    let input = AnalyzeInput {
        har_json: har_bytes,
        task: args.task.as_deref(),
        target: args.target.as_deref(),
        user_inputs: args
            .inputs
            .iter()
            .map(|(name, value)| UserInput {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    };
    let a = analyze(&input, &AnalysisConfig::default()).map_err(anyhow::Error::new)?;
    Ok(match (args.code, args.openapi, args.json) {
        (Some(CodeKind::Python), _, _) => generate_python(&a),
        (Some(CodeKind::Curl), _, _) => generate_curl(&a),
        (Some(CodeKind::Plan), _, _) => format!("{}\n", serde_json::to_string_pretty(&plan(&a))?),
        (None, true, _) => format!("{}\n", serde_json::to_string_pretty(&openapi(&a))?),
        (None, false, true) => format!("{}\n", serde_json::to_string_pretty(&a)?),
        (None, false, false) => report(&a),
    })
}

/// The readable report.
pub fn report(a: &Analysis) -> String {
    let mut o = String::new();
    let s = &a.summary;
    let _ = writeln!(
        o,
        "Spool analysis: {} entries ({} kept, {} dropped): {} API calls, {} documents{}",
        s.entries,
        s.kept,
        s.dropped,
        s.api_calls,
        s.documents,
        if s.websockets > 0 {
            format!(", {} WebSockets", s.websockets)
        } else {
            String::new()
        }
    );
    let c = &a.integuru_analysis.complexity;
    match a.recommended_modality {
        Some(m) => {
            let _ = writeln!(
                o,
                "\nRecommendation: {} (confidence {:.2}, about {:.2} s)",
                m.as_str(),
                a.confidence,
                a.estimated_time
            );
            let mut facts = vec![
                format!("complexity {:.2}", c.score),
                format!("apiDepth {}", c.api_depth),
            ];
            if c.authentication_required {
                facts.push("authentication required".into());
            }
            if c.dynamic_content {
                facts.push("dynamic values".into());
            }
            let _ = writeln!(o, "  {}", facts.join(" · "));
        }
        None => {
            let _ = writeln!(o, "\nRecommendation: none (confidence 0)");
        }
    }
    o.push_str("\nWhy:\n");
    for sentence in split_sentences(&a.reasoning) {
        let _ = writeln!(o, "  - {sentence}");
    }

    // The chain as a tree: the target, then what it depends on, recursively.
    if let Some(t) = &a.target {
        let label: BTreeMap<usize, String> = a
            .graph
            .nodes
            .iter()
            .map(|n| {
                (
                    n.id,
                    format!(
                        "{} {}  [entry {}, {}]",
                        n.method,
                        template_of(&n.endpoint),
                        n.id,
                        n.status
                    ),
                )
            })
            .collect();
        let mut into: BTreeMap<usize, BTreeMap<usize, Vec<String>>> = BTreeMap::new();
        for e in &a.graph.edges {
            into.entry(e.to)
                .or_default()
                .entry(e.from)
                .or_default()
                .push(format!("{} → {}", e.from_location, e.to_location));
        }
        let _ = writeln!(o, "\nChain (selected by {}):", t.selected_by);
        let _ = writeln!(o, "{}", label.get(&t.entry).cloned().unwrap_or_default());
        let mut shown = BTreeSet::new();
        tree(&mut o, t.entry, "", &into, &label, &mut shown, 0);
    }

    let _ = writeln!(o, "\nEndpoints ({}):", a.endpoints.len());
    for ep in &a.endpoints {
        let mut keys: Vec<String> = ep.query.keys().map(|k| format!("?{k}")).collect();
        keys.extend(ep.form.keys().map(|k| format!("form:{k}")));
        if let Some(props) = ep
            .request_schema
            .as_ref()
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.as_object())
        {
            keys.extend(props.keys().map(|k| format!("json:{k}")));
        }
        let statuses: Vec<&str> = ep.responses.keys().map(String::as_str).collect();
        let kind = match ep.kind {
            EntryKind::Document => "document",
            EntryKind::Api => "api",
            EntryKind::WebSocket => "websocket",
        };
        let _ = writeln!(
            o,
            "  {:<6} {}{}{}  {}x {} [{}]{}",
            ep.method,
            ep.origin,
            ep.template,
            ep.operation
                .as_ref()
                .map(|op| format!(" #{op}"))
                .unwrap_or_default(),
            ep.entries.len(),
            kind,
            statuses.join(","),
            if keys.is_empty() {
                String::new()
            } else {
                format!("  {}", keys.join(" "))
            }
        );
    }

    let inputs: Vec<String> = a
        .plan
        .inputs
        .iter()
        .map(|i| {
            if i.secret {
                format!("--{} (secret)", i.name.replace('_', "-"))
            } else {
                format!(
                    "--{} (default {:?})",
                    i.name.replace('_', "-"),
                    i.default.as_deref().unwrap_or("")
                )
            }
        })
        .collect();
    if !inputs.is_empty() {
        let _ = writeln!(
            o,
            "\nInputs of the generated code: --base-url, {}",
            inputs.join(", ")
        );
    }
    let computed: Vec<String> = a
        .unresolved
        .iter()
        .filter(|u| u.kind == UnresolvedKind::Computed && u.in_chain)
        .map(|u| format!("entry {} {} ({})", u.entry, u.location, u.reason))
        .collect();
    if !computed.is_empty() {
        let _ = writeln!(o, "\nComputed in the page:");
        for c in computed {
            let _ = writeln!(o, "  - {c}");
        }
    }
    if !a.markers.is_empty() {
        let _ = writeln!(o, "\nMarkers:");
        for m in &a.markers {
            let _ = writeln!(
                o,
                "  - {} `{}` at entry {} ({})",
                m.kind, m.pattern, m.entry, m.place
            );
        }
    }
    if !a.dropped.is_empty() {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for d in &a.dropped {
            *by.entry(format!("{:?}", d.category).to_lowercase())
                .or_default() += 1;
        }
        let parts: Vec<String> = by.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(
            o,
            "\nDropped {} entries: {}",
            a.dropped.len(),
            parts.join(", ")
        );
    }
    if !a.warnings.is_empty() {
        let _ = writeln!(o, "\nWarnings:");
        for w in &a.warnings {
            let _ = writeln!(o, "  - {w}");
        }
    }
    o
}

fn template_of(endpoint_id: &str) -> String {
    // `METHOD origin/template` → `/template`
    let rest = endpoint_id
        .split_once(' ')
        .map(|x| x.1)
        .unwrap_or(endpoint_id);
    match rest.find("://") {
        Some(p) => {
            let after = &rest[p + 3..];
            after
                .find('/')
                .map(|i| after[i..].to_string())
                .unwrap_or_else(|| "/".into())
        }
        None => rest.to_string(),
    }
}

fn tree(
    o: &mut String,
    node: usize,
    prefix: &str,
    into: &BTreeMap<usize, BTreeMap<usize, Vec<String>>>,
    label: &BTreeMap<usize, String>,
    shown: &mut BTreeSet<usize>,
    depth: usize,
) {
    let Some(parents) = into.get(&node) else {
        return;
    };
    let n = parents.len();
    for (i, (p, how)) in parents.iter().enumerate() {
        let last = i + 1 == n;
        let (branch, next) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let seen = !shown.insert(*p);
        let _ = writeln!(
            o,
            "{prefix}{branch}{}  via {}{}",
            label
                .get(p)
                .cloned()
                .unwrap_or_else(|| format!("entry {p}")),
            how.join(", "),
            if seen { "  (see above)" } else { "" }
        );
        if !seen && depth < 32 {
            tree(
                o,
                *p,
                &format!("{prefix}{next}"),
                into,
                label,
                shown,
                depth + 1,
            );
        }
    }
}

fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        cur.push(ch);
        let end = ch == '.'
            && chars.get(i + 1).is_some_and(|c| *c == ' ')
            && chars
                .get(i + 2)
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
        if end {
            out.push(cur.trim().to_string());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAR: &str = r#"{"log":{"entries":[
      {"startedDateTime":"2024-05-01T10:00:00.000Z","time":10,"_resourceType":"fetch",
       "request":{"method":"POST","url":"http://a.test/api/login","headers":[],"postData":{"mimeType":"application/json","text":"{\"user\":\"alice\"}"}},
       "response":{"status":200,"headers":[],"content":{"mimeType":"application/json","text":"{\"token\":\"tok_0123456789abcdef\"}"}}},
      {"startedDateTime":"2024-05-01T10:00:01.000Z","time":10,"_resourceType":"fetch",
       "request":{"method":"POST","url":"http://a.test/api/orders","headers":[{"name":"Authorization","value":"Bearer tok_0123456789abcdef"}],"postData":{"mimeType":"application/json","text":"{\"n\":1}"}},
       "response":{"status":201,"headers":[],"content":{"mimeType":"application/json","text":"{}"}}}]}}"#;

    fn args(extra: &[&str]) -> AnalyzeArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: AnalyzeArgs,
        }
        let mut v = vec!["t", "x.har"];
        v.extend_from_slice(extra);
        T::parse_from(v).a
    }

    #[test]
    fn report_json_code_openapi() {
        let r = render(HAR.as_bytes(), &args(&["--input", "user=alice"])).unwrap();
        assert!(r.contains("Recommendation: integuru"), "{r}");
        assert!(r.contains("json:/token → header:authorization"), "{r}");
        let j = render(HAR.as_bytes(), &args(&["--json"])).unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["recommendedModality"], "integuru");
        assert!(
            render(HAR.as_bytes(), &args(&["--code", "python"]))
                .unwrap()
                .contains("import requests")
        );
        assert!(
            render(HAR.as_bytes(), &args(&["--code", "curl"]))
                .unwrap()
                .contains("curl -sS")
        );
        assert!(
            render(HAR.as_bytes(), &args(&["--code", "plan"]))
                .unwrap()
                .contains("\"steps\"")
        );
        assert!(
            render(HAR.as_bytes(), &args(&["--openapi"]))
                .unwrap()
                .contains("\"openapi\": \"3.1.0\"")
        );
    }

    #[test]
    fn errors_keep_their_code() {
        let e = render(b"not json", &args(&[])).unwrap_err();
        assert_eq!(
            e.downcast_ref::<spool_analyzer::AnalyzeError>()
                .map(|e| e.code()),
            Some(spool_model::ErrorCode::HarFileInvalid)
        );
    }
}
