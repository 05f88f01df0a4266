//! A small, forgiving HTML scanner: hidden inputs, meta tags and inline-script literals.
//! Not a full parser; it never fails and never allocates per byte.

use std::borrow::Cow;

/// A value found in HTML.
#[derive(Debug, Clone, PartialEq)]
pub enum HtmlValue<'x> {
    /// `<input type="hidden" name=N value=V>`
    Input {
        name: Cow<'x, str>,
        value: Cow<'x, str>,
    },
    /// `<meta name|property|http-equiv=N content=V>`
    Meta {
        name: Cow<'x, str>,
        content: Cow<'x, str>,
    },
    /// A string or number literal in an inline `<script>`, with the byte range of its text
    /// in the scanned source (for context).
    ScriptLiteral(Cow<'x, str>, usize, usize),
    /// The text of an inline `<script type="application/json">` (or `ld+json`).
    ScriptJson(&'x str),
}

/// Attributes of one tag (the text after its name), names lowercased, values
/// entity-decoded.
pub fn attributes(tag: &str) -> Vec<(String, Cow<'_, str>)> {
    spool_model::html::attributes(tag)
        .into_iter()
        .map(|a| (a.name.to_ascii_lowercase(), decode_entities(a.value)))
        .collect()
}

pub use spool_model::html::decode_entities;

fn attr<'a>(attrs: &'a [(String, Cow<'a, str>)], name: &str) -> Option<&'a Cow<'a, str>> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || from >= h.len() {
        return None;
    }
    (from..=h.len().saturating_sub(n.len())).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Calls `f` for each hidden input, meta tag and inline-script literal, in document order.
pub fn scan(html: &str, min_literal_len: usize, f: &mut dyn FnMut(HtmlValue<'_>)) {
    let b = html.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr(b'<', &b[i..]) {
        i += off + 1;
        if html[i..].starts_with("!--") {
            i = html[i..].find("-->").map(|p| i + p + 3).unwrap_or(b.len());
            continue;
        }
        let name_end = b[i..]
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .map(|p| i + p)
            .unwrap_or(b.len());
        if name_end == i {
            continue;
        }
        let tag_name = &html[i..name_end];
        let Some(close) = tag_end(b, name_end) else {
            break;
        };
        let tag_body = &html[name_end..close];
        i = close + 1;
        if tag_name.eq_ignore_ascii_case("input") {
            let a = attributes(tag_body);
            let hidden = attr(&a, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden"));
            if let (true, Some(n), Some(v)) = (hidden, attr(&a, "name"), attr(&a, "value"))
                && !n.is_empty()
                && !v.is_empty()
            {
                f(HtmlValue::Input {
                    name: Cow::Owned(n.to_string()),
                    value: Cow::Owned(v.to_string()),
                });
            }
        } else if tag_name.eq_ignore_ascii_case("meta") {
            let a = attributes(tag_body);
            let n = attr(&a, "name")
                .or_else(|| attr(&a, "property"))
                .or_else(|| attr(&a, "http-equiv"));
            if let (Some(n), Some(c)) = (n, attr(&a, "content"))
                && !n.is_empty()
                && !c.is_empty()
            {
                f(HtmlValue::Meta {
                    name: Cow::Owned(n.to_string()),
                    content: Cow::Owned(c.to_string()),
                });
            }
        } else if tag_name.eq_ignore_ascii_case("script") {
            let a = attributes(tag_body);
            let end = find_ci(html, i, "</script").unwrap_or(b.len());
            let content = &html[i..end];
            i = end;
            if attr(&a, "src").is_some() {
                continue;
            }
            let ty = attr(&a, "type").map(|t| t.to_ascii_lowercase());
            let base = end - content.len();
            let mut shifted = |v: HtmlValue<'_>| match v {
                HtmlValue::ScriptLiteral(s, a, b) => {
                    f(HtmlValue::ScriptLiteral(s, a + base, b + base))
                }
                other => f(other),
            };
            match ty.as_deref() {
                Some(t) if t.contains("json") => f(HtmlValue::ScriptJson(content)),
                None | Some("") | Some("module") => {
                    script_literals(content, min_literal_len, &mut shifted)
                }
                Some(t) if t.contains("javascript") || t.contains("ecmascript") => {
                    script_literals(content, min_literal_len, &mut shifted)
                }
                _ => {}
            }
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

/// The index of the `>` that ends a tag starting at `from`, honoring quoted attributes.
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut q: Option<u8> = None;
    for (j, &c) in b.iter().enumerate().skip(from) {
        match q {
            Some(qc) if c == qc => q = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => q = Some(c),
            None if c == b'>' => return Some(j),
            None => {}
        }
    }
    None
}

/// String and number literals of JavaScript source.
pub fn script_literals(js: &str, min_len: usize, f: &mut dyn FnMut(HtmlValue<'_>)) {
    let b = js.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            i = memchr(b'\n', &b[i..]).map(|p| i + p).unwrap_or(b.len());
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = js[i + 2..]
                .find("*/")
                .map(|p| i + 2 + p + 2)
                .unwrap_or(b.len());
        } else if c == b'"' || c == b'\'' || c == b'`' {
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' {
                    escaped = true;
                    j += 1;
                }
                if c != b'`' && b[j.min(b.len() - 1)] == b'\n' {
                    break;
                }
                j += 1;
            }
            let end = j.min(b.len());
            let lit = &js[start..end.max(start)];
            if lit.len() >= min_len {
                let v = if escaped {
                    Cow::Owned(unescape_js(lit))
                } else {
                    Cow::Borrowed(lit)
                };
                f(HtmlValue::ScriptLiteral(v, start, end.max(start)));
            }
            i = end + 1;
        } else if c.is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric()
                    || b[i - 1] == b'_'
                    || b[i - 1] == b'$'
                    || b[i - 1] == b'.'))
        {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i - start >= min_len
                && !(i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_'))
            {
                f(HtmlValue::ScriptLiteral(
                    Cow::Borrowed(&js[start..i]),
                    start,
                    i,
                ));
            }
        } else {
            i += 1;
        }
        // Stay on a char boundary.
        while i < b.len() && !js.is_char_boundary(i) {
            i += 1;
        }
    }
}

fn unescape_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(html: &str) -> Vec<HtmlValue<'static>> {
        let mut out = Vec::new();
        scan(html, 4, &mut |v| {
            out.push(match v {
                HtmlValue::Input { name, value } => HtmlValue::Input {
                    name: Cow::Owned(name.into_owned()),
                    value: Cow::Owned(value.into_owned()),
                },
                HtmlValue::Meta { name, content } => HtmlValue::Meta {
                    name: Cow::Owned(name.into_owned()),
                    content: Cow::Owned(content.into_owned()),
                },
                HtmlValue::ScriptLiteral(s, _, _) => {
                    HtmlValue::ScriptLiteral(Cow::Owned(s.into_owned()), 0, 0)
                }
                HtmlValue::ScriptJson(_) => HtmlValue::ScriptJson(""),
            })
        });
        out
    }

    #[test]
    fn finds_hidden_inputs_meta_and_literals() {
        let html = r#"<html><head><meta name="csrf-token" content="m&amp;1234">
            <!-- <input type=hidden name=x value=commented> -->
            <script>var k = "abcd1234"; // "ignored"
            var n = 40712; var s = 'it\'s ok';</script></head>
            <body><form><input name=csrf type=hidden value='tok-5678'><input name=q value=visible>
            <input type="hidden" value="noname"></form></body></html>"#;
        let v = all(html);
        assert_eq!(
            v,
            vec![
                HtmlValue::Meta {
                    name: "csrf-token".into(),
                    content: "m&1234".into()
                },
                HtmlValue::ScriptLiteral("abcd1234".into(), 0, 0),
                HtmlValue::ScriptLiteral("40712".into(), 0, 0),
                HtmlValue::ScriptLiteral("it's ok".into(), 0, 0),
                HtmlValue::Input {
                    name: "csrf".into(),
                    value: "tok-5678".into()
                },
            ]
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        for s in [
            "<",
            "<input",
            "<script>'unterminated",
            "<a b='>",
            "<meta name=é content=\"ü",
            "<<<>>>\"'`",
        ] {
            all(s);
        }
    }
}
