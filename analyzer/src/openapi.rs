//! The endpoint inventory as an OpenAPI 3.1 document.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::Analysis;

/// OpenAPI 3.1 of the endpoint inventory (API endpoints and documents alike).
pub fn openapi(a: &Analysis) -> Value {
    // The most common origin is the server; the others are per-path servers.
    let mut origins: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &a.endpoints {
        *origins.entry(e.origin.as_str()).or_default() += e.entries.len();
    }
    let main = origins
        .iter()
        .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
        .map(|(o, _)| o.to_string());
    let mut paths: Map<String, Value> = Map::new();
    let mut used_ops: BTreeSet<String> = BTreeSet::new();
    for ep in &a.endpoints {
        // Unique placeholder names: {id}, {id_2}, ...
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut params = Vec::new();
        let segs: Vec<String> = ep
            .template
            .split('/')
            .map(|seg| {
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let n = seen.entry(name.to_string()).or_insert(0);
                    *n += 1;
                    let unique = if *n == 1 {
                        name.to_string()
                    } else {
                        format!("{name}_{n}")
                    };
                    let schema = match name {
                        "id" => json!({"type": "integer"}),
                        "uuid" => json!({"type": "string", "format": "uuid"}),
                        "date" => json!({"type": "string", "format": "date"}),
                        _ => json!({"type": "string"}),
                    };
                    params.push(
                        json!({"name": unique, "in": "path", "required": true, "schema": schema}),
                    );
                    format!("{{{unique}}}")
                } else {
                    seg.to_string()
                }
            })
            .collect();
        let mut path = segs.join("/");
        if path.is_empty() {
            path = "/".into();
        }
        if main.as_deref() != Some(ep.origin.as_str()) && paths.contains_key(&path) {
            // Same path on another origin: keep both apart.
            path = format!("{path}#{}", ep.origin);
        }
        for (k, types) in &ep.query {
            let ty = types.first().cloned().unwrap_or_else(|| "string".into());
            params
                .push(json!({"name": k, "in": "query", "required": false, "schema": {"type": ty}}));
        }
        let method = ep.method.to_ascii_lowercase();
        let mut op_id: String = format!("{method}{}", ep.template)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if let Some(opn) = &ep.operation {
            op_id = format!("{op_id}_{opn}");
        }
        while !used_ops.insert(op_id.clone()) {
            op_id.push('_');
        }
        let mut op = Map::new();
        op.insert("operationId".into(), json!(op_id));
        op.insert(
            "summary".into(),
            json!(format!(
                "{} {} ({} recorded)",
                ep.method,
                ep.template,
                ep.entries.len()
            )),
        );
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(opn) = &ep.operation {
            op.insert("x-graphql-operation".into(), json!(opn));
        }
        if let Some(mime) = &ep.request_mime_type {
            let schema = if let Some(s) = &ep.request_schema {
                s.clone()
            } else if !ep.form.is_empty() {
                let props: Map<String, Value> = ep
                    .form
                    .iter()
                    .map(|(k, t)| {
                        (
                            k.clone(),
                            json!({"type": t.first().cloned().unwrap_or_else(|| "string".into())}),
                        )
                    })
                    .collect();
                json!({"type": "object", "properties": props})
            } else {
                json!({})
            };
            op.insert(
                "requestBody".into(),
                json!({"content": {mime.clone(): {"schema": schema}}}),
            );
        }
        let mut responses = Map::new();
        for (status, shape) in &ep.responses {
            let mut r = Map::new();
            r.insert("description".into(), json!(format!("recorded {status}")));
            if !shape.mime_types.is_empty() {
                let content: Map<String, Value> = shape
                    .mime_types
                    .iter()
                    .map(|m| {
                        let schema = if m.contains("json") {
                            shape.schema.clone().unwrap_or_else(|| json!({}))
                        } else {
                            json!({})
                        };
                        (m.clone(), json!({"schema": schema}))
                    })
                    .collect();
                r.insert("content".into(), Value::Object(content));
            }
            let code = if status == "0" {
                "default".to_string()
            } else {
                status.clone()
            };
            responses.insert(code, Value::Object(r));
        }
        if responses.is_empty() {
            responses.insert("default".into(), json!({"description": "not recorded"}));
        }
        op.insert("responses".into(), Value::Object(responses));
        let item = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            if main.as_deref() != Some(ep.origin.as_str()) {
                item.insert("servers".into(), json!([{"url": ep.origin}]));
            }
            if !item.contains_key(&method) {
                item.insert(method, Value::Object(op));
            }
        }
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "API inventory recorded by Spool",
            "version": "1.0.0",
            "description": format!("{} endpoints from {} recorded entries", a.endpoints.len(), a.summary.entries),
        },
        "paths": Value::Object(paths),
    });
    if let Some(m) = main {
        doc["servers"] = json!([{"url": m}]);
    }
    doc
}
