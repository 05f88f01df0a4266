//! Stage 6a, target: which request accomplishes the task.

use std::collections::BTreeSet;

use crate::endpoints::Inventory;
use crate::error::AnalyzeError;
use crate::filter::{EntryKind, Filtered};
use crate::har::Har;
use crate::index::Index;
use crate::lists::LISTS;

#[derive(Debug, Clone)]
pub struct Pick {
    pub entry: usize,
    pub selected_by: &'static str,
    pub reason: String,
    pub alternatives: Vec<usize>,
}

/// Lowercase words of `s`, camelCase and snake_case split, light plural stemming.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            cur.extend(ch.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter().map(|w| stem(&w)).collect()
}

fn stem(w: &str) -> String {
    if w.len() > 4 && w.ends_with("ies") {
        format!("{}y", &w[..w.len() - 3])
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        w[..w.len() - 1].to_string()
    } else {
        w.to_string()
    }
}

/// `*` matches any run; pieces must appear in order (anywhere in `text`).
pub fn glob_contains(pattern: &str, text: &str) -> bool {
    let mut rest = text;
    for piece in pattern.split('*') {
        if piece.is_empty() {
            continue;
        }
        match rest.find(piece) {
            Some(p) => rest = &rest[p + piece.len()..],
            None => return false,
        }
    }
    true
}

fn state_changing(method: &str) -> bool {
    !matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD")
}

/// Picks the target.
pub fn pick(
    har: &Har<'_>,
    f: &Filtered,
    inv: &Inventory,
    idx: &Index,
    target: Option<&str>,
    task: Option<&str>,
) -> Result<Option<Pick>, AnalyzeError> {
    let entries = &har.log.entries;
    // Kept positions, in time order.
    let api: Vec<usize> = (0..f.kept.len())
        .filter(|&k| f.kept[k].kind == EntryKind::Api)
        .collect();

    if let Some(pat) = target.map(str::trim).filter(|p| !p.is_empty()) {
        let (method, pat) = match pat.split_once(' ') {
            Some((m, rest)) if m.chars().all(|c| c.is_ascii_alphabetic()) && m.len() <= 7 => {
                (Some(m.to_ascii_uppercase()), rest.trim())
            }
            _ => (None, pat),
        };
        let matches: Vec<usize> = (0..f.kept.len())
            .filter(|&k| f.kept[k].kind != EntryKind::WebSocket)
            .filter(|&k| {
                let e = &entries[f.kept[k].entry];
                if let Some(m) = &method
                    && !e.method().eq_ignore_ascii_case(m)
                {
                    return false;
                }
                let ep = &inv.endpoints[inv.of_kept[k]];
                let u = &f.kept[k].url;
                [
                    e.url(),
                    u.path.as_str(),
                    ep.template.as_str(),
                    ep.id.as_str(),
                ]
                .iter()
                .any(|t| glob_contains(pat, t))
            })
            .collect();
        if matches.is_empty() {
            return Err(AnalyzeError::invalid_params(
                "target",
                format!(
                    "`{}` matches no kept request of the HAR",
                    target.unwrap_or("")
                ),
            ));
        }
        let chosen = matches
            .iter()
            .rev()
            .find(|&&k| state_changing(entries[f.kept[k].entry].method()))
            .or(matches.last())
            .copied()
            .expect("non-empty");
        return Ok(Some(Pick {
            entry: f.kept[chosen].entry,
            selected_by: "explicit",
            reason: format!("matches the target pattern `{}`", target.unwrap_or("")),
            alternatives: matches
                .iter()
                .filter(|&&k| k != chosen)
                .map(|&k| f.kept[k].entry)
                .take(20)
                .collect(),
        }));
    }
    if api.is_empty() {
        // No API call: the last page document (a plain GET fetches it), if any.
        let docs: Vec<usize> = (0..f.kept.len())
            .filter(|&k| f.kept[k].kind == EntryKind::Document)
            .collect();
        let ok = |k: &&usize| (200..300).contains(&entries[f.kept[**k].entry].status());
        return Ok(docs.iter().rev().find(ok).or(docs.last()).map(|&k| Pick {
            entry: f.kept[k].entry,
            selected_by: "lastDocument",
            reason: "no API call was recorded, so the page itself is the target".into(),
            alternatives: Vec::new(),
        }));
    }

    if let Some(task) = task {
        let lists = &*LISTS;
        let groups: Vec<BTreeSet<String>> = words(task)
            .into_iter()
            .filter(|w| w.len() >= 3 && !lists.stopwords.contains(w.as_str()))
            .map(|w| {
                let mut g: BTreeSet<String> = BTreeSet::new();
                if let Some(syn) = lists.synonyms.get(w.as_str()) {
                    g.extend(syn.iter().map(|s| stem(s)));
                }
                g.insert(w);
                g
            })
            .collect();
        if !groups.is_empty() {
            let mut scored: Vec<(usize, usize, Vec<String>)> = Vec::new();
            for &k in &api {
                let ep = &inv.endpoints[inv.of_kept[k]];
                let mut ew: BTreeSet<String> = BTreeSet::new();
                for seg in ep.template.split('/') {
                    if !seg.starts_with('{') {
                        ew.extend(words(seg));
                    }
                }
                for w in &idx.facts[k].words {
                    ew.extend(words(w));
                }
                if let Some(op) = &ep.operation {
                    ew.extend(words(op));
                }
                for q in ep.query.keys() {
                    ew.extend(words(q));
                }
                let hit: Vec<String> = groups
                    .iter()
                    .filter_map(|g| g.iter().find(|w| ew.contains(*w)).cloned())
                    .collect();
                if !hit.is_empty() {
                    scored.push((hit.len(), k, hit));
                }
            }
            if let Some(max) = scored.iter().map(|s| s.0).max() {
                let best: Vec<&(usize, usize, Vec<String>)> =
                    scored.iter().filter(|s| s.0 == max).collect();
                let chosen = best.last().expect("non-empty");
                return Ok(Some(Pick {
                    entry: f.kept[chosen.1].entry,
                    selected_by: "task",
                    reason: format!(
                        "its endpoint words match the task words {}",
                        chosen
                            .2
                            .iter()
                            .map(|w| format!("`{w}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    alternatives: best[..best.len() - 1]
                        .iter()
                        .map(|s| f.kept[s.1].entry)
                        .collect(),
                }));
            }
        }
    }

    let ok = |k: usize| (200..400).contains(&entries[f.kept[k].entry].status());
    let changing: Vec<usize> = api
        .iter()
        .copied()
        .filter(|&k| state_changing(entries[f.kept[k].entry].method()))
        .collect();
    if let Some(&k) = changing.iter().rev().find(|&&k| ok(k)).or(changing.last()) {
        return Ok(Some(Pick {
            entry: f.kept[k].entry,
            selected_by: "lastStateChanging",
            reason: "the last state-changing data request".into(),
            alternatives: Vec::new(),
        }));
    }
    let apiish = |k: usize| {
        let u = &f.kept[k].url;
        u.host.starts_with("api.")
            || u.segments.iter().any(|s| {
                let s = s.to_ascii_lowercase();
                s == "api" || s == "graphql" || s == "rest"
            })
    };
    let json_ok = |k: usize| ok(k) && idx.facts[k].response_mime.contains("json");
    let k = api
        .iter()
        .rev()
        .find(|&&k| json_ok(k) && apiish(k))
        .or_else(|| api.iter().rev().find(|&&k| json_ok(k)))
        .or_else(|| api.iter().rev().find(|&&k| ok(k)))
        .or(api.last())
        .copied()
        .expect("non-empty");
    Ok(Some(Pick {
        entry: f.kept[k].entry,
        selected_by: "lastDataRequest",
        reason: "the last successful data request (no state-changing request was recorded)".into(),
        alternatives: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_split() {
        assert_eq!(
            words("itemId offers_list GraphQL"),
            vec!["item", "id", "offer", "list", "graph", "ql"]
        );
        assert_eq!(words("categories"), vec!["category"]);
    }

    #[test]
    fn globs() {
        assert!(glob_contains("/api/items/*", "http://x/api/items/40712"));
        assert!(glob_contains("orders", "/api/orders"));
        assert!(!glob_contains("/api/orders/*/x", "/api/orders"));
    }
}
