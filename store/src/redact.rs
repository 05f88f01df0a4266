//! Secret redaction for exports.
//!
//! Replaced by [`REDACTED`]:
//! - the values of `Authorization` and `Proxy-Authorization` (the scheme, e.g. `Bearer`, is
//!   kept), of `Cookie` and `Set-Cookie` (cookie names and attributes are kept), and of any
//!   header whose name looks secret (`X-Api-Key`, `X-CSRF-Token`, ...);
//! - every request and response cookie value;
//! - query parameters, form fields and JSON fields (at any depth) whose names look secret,
//!   in `queryString`, the URL itself, `redirectURL`, `Location`/`Referer` headers,
//!   `postData.params`, `postData.text` (form or JSON) and JSON response bodies.
//!
//! What is secret is decided by [`spool_model::secret`], the definition the analyzer uses
//! too, so an analysis never shows a value an export redacts.

use crate::har::{Entry, Har, Header};
use serde_json::Value;
pub use spool_model::secret::{is_secret_header, is_secret_name};

pub const REDACTED: &str = "[REDACTED]";

/// Redacts every entry of a HAR document in place.
pub fn redact_har(har: &mut Har) {
    for e in &mut har.log.entries {
        redact_entry(e);
    }
}

/// Redacts one HAR entry in place.
pub fn redact_entry(e: &mut Entry) {
    let req = &mut e.request;
    req.url = redact_url(&req.url);
    redact_headers(&mut req.headers);
    for c in &mut req.cookies {
        c.value = REDACTED.into();
    }
    for q in &mut req.query_string {
        if is_secret_name(&q.name) {
            q.value = REDACTED.into();
        }
    }
    if let Some(pd) = &mut req.post_data {
        for p in &mut pd.params {
            if is_secret_name(&p.name) && p.value.is_some() {
                p.value = Some(REDACTED.into());
            }
        }
        if let Some(text) = &pd.text
            && let Some(new) = redact_body(text, &pd.mime_type)
        {
            pd.text = Some(new);
        }
    }
    let resp = &mut e.response;
    redact_headers(&mut resp.headers);
    for c in &mut resp.cookies {
        c.value = REDACTED.into();
    }
    if !resp.redirect_url.is_empty() {
        resp.redirect_url = redact_url(&resp.redirect_url);
    }
    let content = &mut resp.content;
    if content.encoding.is_none()
        && let Some(text) = &content.text
        && let Some(new) = redact_body(text, &content.mime_type)
    {
        content.text = Some(new);
    }
}

fn redact_headers(headers: &mut [Header]) {
    for h in headers {
        let name = h.name.to_ascii_lowercase();
        h.value = match name.as_str() {
            "authorization" | "proxy-authorization" => match h.value.split_once(' ') {
                Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} {REDACTED}"),
                _ => REDACTED.into(),
            },
            "cookie" => redact_cookie_header(&h.value),
            "set-cookie" => h
                .value
                .split('\n')
                .map(redact_set_cookie)
                .collect::<Vec<_>>()
                .join("\n"),
            "location" | "referer" | "content-location" | ":path" => redact_url(&h.value),
            _ if is_secret_header(&name) => REDACTED.into(),
            _ => continue,
        };
    }
}

/// `a=1; b=2` -> `a=[REDACTED]; b=[REDACTED]`.
fn redact_cookie_header(value: &str) -> String {
    spool_model::cookie::pairs(value)
        .map(|(name, _)| {
            if name.is_empty() {
                REDACTED.to_string()
            } else {
                format!("{name}={REDACTED}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `sid=abc; Path=/; HttpOnly` -> `sid=[REDACTED]; Path=/; HttpOnly`.
fn redact_set_cookie(line: &str) -> String {
    match line.split_once(';') {
        Some((pair, attrs)) => format!("{};{attrs}", redact_cookie_header(pair)),
        None => redact_cookie_header(line),
    }
}

/// Redacts secret-named parameters of a URL's query string, keeping everything else
/// byte for byte.
pub fn redact_url(url: &str) -> String {
    let (before_frag, frag) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let Some((base, query)) = before_frag.split_once('?') else {
        return url.to_string();
    };
    let mut out = format!(
        "{base}?{}",
        redact_form(query).unwrap_or_else(|| query.into())
    );
    if let Some(f) = frag {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Redacts an `a=1&b=2` string; `None` when nothing was secret.
fn redact_form(text: &str) -> Option<String> {
    let mut changed = false;
    let parts: Vec<String> = text
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(&spool_model::percent::decode_form(name)) => {
                changed = true;
                format!("{name}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect();
    changed.then(|| parts.join("&"))
}

/// Redacts a request or response body of a form or JSON type; `None` when nothing changed.
fn redact_body(text: &str, mime: &str) -> Option<String> {
    let mime = mime.to_ascii_lowercase();
    let trimmed = text.trim_start();
    if (mime.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut v) = serde_json::from_str::<Value>(text)
    {
        return redact_json(&mut v).then(|| v.to_string());
    }
    if mime.contains("x-www-form-urlencoded") {
        return redact_form(text);
    }
    if mime.contains("html") {
        return redact_html(text);
    }
    None
}

/// Redacts the `value` of `<input>` and the `content` of `<meta>` tags whose `name` (or
/// `id`) looks secret, such as a CSRF token in a hidden input; `None` when nothing changed.
fn redact_html(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut changed = false;
    let mut pos = 0;
    while let Some(rel) = lower[pos..].find('<') {
        let start = pos + rel;
        let Some(end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        pos = end + 1;
        let tag = &lower[start..end];
        let value_attr = if tag.starts_with("<input") {
            "value"
        } else if tag.starts_with("<meta") {
            "content"
        } else {
            continue;
        };
        let attrs = html_attrs(&text[start..end]);
        let secret = attrs.iter().any(|(n, v)| {
            (n.eq_ignore_ascii_case("name") || n.eq_ignore_ascii_case("id"))
                && is_secret_name(&text[start + v.0..start + v.1])
        });
        if !secret {
            continue;
        }
        for (n, v) in attrs {
            if n.eq_ignore_ascii_case(value_attr) && v.1 > v.0 {
                out.push_str(&text[last..start + v.0]);
                out.push_str(REDACTED);
                last = start + v.1;
                changed = true;
            }
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Attributes of one tag (`<name ...`, without its closing `>`): name, and the byte range of
/// the value (without quotes) relative to the tag's start.
fn html_attrs(tag: &str) -> Vec<(&str, (usize, usize))> {
    let name_end = tag
        .char_indices()
        .find(|(_, c)| c.is_ascii_whitespace())
        .map_or(tag.len(), |(i, _)| i);
    spool_model::html::attributes(&tag[name_end..])
        .into_iter()
        .map(|a| {
            let r = a.value_range;
            (a.name, (name_end + r.start, name_end + r.end))
        })
        .collect()
}

/// Redacts, at any depth, the values of JSON object members whose names look secret.
/// Returns whether anything changed.
pub fn redact_json(v: &mut Value) -> bool {
    match v {
        Value::Object(map) => {
            let mut changed = false;
            for (k, val) in map.iter_mut() {
                if is_secret_name(k) && !val.is_null() && !is_redacted(val) {
                    if val.is_object() || val.is_array() {
                        // Containers keep their shape; every scalar inside is a secret too.
                        changed |= redact_all_scalars(val);
                    } else {
                        *val = Value::String(REDACTED.into());
                        changed = true;
                    }
                } else {
                    changed |= redact_json(val);
                }
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            for i in items {
                changed |= redact_json(i);
            }
            changed
        }
        _ => false,
    }
}

fn is_redacted(v: &Value) -> bool {
    v.as_str() == Some(REDACTED)
}

fn redact_all_scalars(v: &mut Value) -> bool {
    match v {
        Value::Object(map) => map
            .values_mut()
            .fold(false, |c, x| redact_all_scalars(x) | c),
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |c, x| redact_all_scalars(x) | c),
        Value::Null => false,
        other if is_redacted(other) => false,
        other => {
            *other = Value::String(REDACTED.into());
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "password",
            "user_password",
            "apiKey",
            "api_key",
            "X-Api-Key",
            "access_token",
            "csrfmiddlewaretoken",
            "sessionId",
            "PHPSESSID",
            "client_secret",
            "X-CSRF-Token",
            "auth",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "username",
            "q",
            "page",
            "monkey",
            "keyword",
            "author",
            "content-type",
            "passenger",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn urls_and_forms() {
        assert_eq!(
            redact_url("https://x/a?q=1&token=abc&api%5Fkey=z#frag"),
            "https://x/a?q=1&token=[REDACTED]&api%5Fkey=[REDACTED]#frag"
        );
        assert_eq!(redact_url("https://x/a"), "https://x/a");
        assert_eq!(
            redact_form("user=bob&password=hunter2").unwrap(),
            "user=bob&password=[REDACTED]"
        );
        assert!(redact_form("user=bob").is_none());
        assert_eq!(
            redact_set_cookie("sid=abc; Path=/; HttpOnly"),
            "sid=[REDACTED]; Path=/; HttpOnly"
        );
        assert_eq!(
            redact_cookie_header("a=1; b=2"),
            "a=[REDACTED]; b=[REDACTED]"
        );
    }

    #[test]
    fn html_hidden_inputs_and_meta() {
        let html = r#"<form><input type=hidden name=csrf value=Zx81><input name="user" value="bob"><input value='T2' name='authenticity_token'/></form><meta name="csrf-token" content="M3"><p>csrf value=x</p>"#;
        let out = redact_html(html).unwrap();
        assert_eq!(
            out,
            r#"<form><input type=hidden name=csrf value=[REDACTED]><input name="user" value="bob"><input value='[REDACTED]' name='authenticity_token'/></form><meta name="csrf-token" content="[REDACTED]"><p>csrf value=x</p>"#
        );
        assert!(redact_html("<input name=q value=1>").is_none());
    }

    #[test]
    fn json_bodies() {
        let mut v: Value = serde_json::json!({
            "user": "bob",
            "password": "hunter2",
            "nested": {"access_token": "t", "n": 1},
            "keys": {"secret": ["a", {"b": 1}]},
            "list": [{"apiKey": 5}]
        });
        assert!(redact_json(&mut v));
        assert_eq!(
            v,
            serde_json::json!({
                "user": "bob",
                "password": REDACTED,
                "nested": {"access_token": REDACTED, "n": 1},
                "keys": {"secret": [REDACTED, {"b": REDACTED}]},
                "list": [{"apiKey": REDACTED}]
            })
        );
    }
}
