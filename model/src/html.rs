//! Reading the attributes of an HTML tag: the one scanner export redaction (which replaces
//! secret `<input>` and `<meta>` values in place) and the analyzer (which reads them as
//! values a later request may use) share, so both see the same attributes. Forgiving: it
//! never fails, whatever the markup.

use std::borrow::Cow;
use std::ops::Range;

/// One attribute of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The name as written (HTML names are case-insensitive; compare with
    /// `eq_ignore_ascii_case`).
    pub name: &'a str,
    /// The value as written, without quotes, entities not decoded ([`decode_entities`]);
    /// empty for an attribute without a value.
    pub value: &'a str,
    /// Where `value` sits in the text given to [`attributes`].
    pub value_range: Range<usize>,
}

/// The attributes of one tag: `tag` is the text after the tag name, up to but not including
/// its closing `>` (a `>` inside it ends an unquoted value).
pub fn attributes(tag: &str) -> Vec<Attribute<'_>> {
    let b = tag.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name = &tag[start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let (vs, ve, next) = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let mut j = vs;
                while j < b.len() && b[j] != q {
                    j += 1;
                }
                (vs, j, (j + 1).min(b.len()))
            } else {
                let mut j = i;
                while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                    j += 1;
                }
                (i, j, j)
            };
            let vs = vs.min(ve);
            out.push(Attribute {
                name,
                value: &tag[vs..ve],
                value_range: vs..ve,
            });
            i = next;
        } else {
            out.push(Attribute {
                name,
                value: "",
                value_range: i..i,
            });
        }
    }
    out
}

/// Decodes the common named entities and numeric character references.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_quoted_unquoted_and_bare() {
        let tag = r#" type=hidden NAME="csrf" value='a&amp;b' disabled"#;
        let a = attributes(tag);
        let pairs: Vec<(&str, &str)> = a.iter().map(|a| (a.name, a.value)).collect();
        assert_eq!(
            pairs,
            vec![
                ("type", "hidden"),
                ("NAME", "csrf"),
                ("value", "a&amp;b"),
                ("disabled", "")
            ]
        );
        assert_eq!(&tag[a[2].value_range.clone()], "a&amp;b");
        assert_eq!(decode_entities(a[2].value), "a&b");
    }

    #[test]
    fn broken_markup_does_not_fail() {
        assert_eq!(
            attributes(r#" value="never closed"#)[0].value,
            "never closed"
        );
        assert!(attributes("").is_empty());
        assert_eq!(decode_entities("&#x41;&#66;&bogus;"), "AB&bogus;");
    }
}
