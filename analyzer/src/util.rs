//! Small pure helpers: URLs, decoding, value classes, entropy.

use std::borrow::Cow;

use base64::Engine;

/// The parts of a URL the analysis uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlParts {
    pub scheme: String,
    /// `scheme://host[:port]`
    pub origin: String,
    pub host: String,
    /// The path as recorded (still percent-encoded), `/` when empty.
    pub path: String,
    /// Non-empty path segments, percent-decoded.
    pub segments: Vec<String>,
    /// Query pairs, decoded (`+` as space).
    pub query: Vec<(String, String)>,
}

pub fn url_parts(raw: &str) -> Option<UrlParts> {
    let u = url::Url::parse(raw).ok()?;
    let host = u.host_str().unwrap_or("").to_string();
    let origin = match u.port() {
        Some(p) => format!("{}://{}:{}", u.scheme(), host, p),
        None => format!("{}://{}", u.scheme(), host),
    };
    let path = if u.path().is_empty() {
        "/".to_string()
    } else {
        u.path().to_string()
    };
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false).into_owned())
        .collect();
    let query = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Some(UrlParts {
        scheme: u.scheme().to_string(),
        origin,
        host,
        path,
        segments,
        query,
    })
}

/// Percent-decodes (and `+` → space when `plus`). Invalid UTF-8 is replaced lossily.
pub fn percent_decode(s: &str, plus: bool) -> Cow<'_, str> {
    if !(s.contains('%') || (plus && s.contains('+'))) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = (b[i + 1] as char).to_digit(16);
                let l = (b[i + 2] as char).to_digit(16);
                match (h, l) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Percent-encodes everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `a=1&b=2` form bodies.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn is_numeric(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|&b| b == b'.').count() <= 1
        && t.bytes().any(|b| b.is_ascii_digit())
}

pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `YYYY-MM-DD` (optionally followed by a time).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || matches!(b[10], b'T' | b' '))
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Characters that can appear in an opaque token.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=' | '%')
}

/// A long opaque token (session ids, signatures, nonces).
pub fn is_opaque_token(s: &str, min_len: usize, min_bits: f64) -> bool {
    s.len() >= min_len
        && s.chars().all(is_token_char)
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && entropy(s) >= min_bits
}

/// Decodes standard or URL-safe base64 (padding optional) into UTF-8 text, when the result
/// is mostly printable.
pub fn decode_base64_text(s: &str) -> Option<String> {
    if s.len() < 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
    {
        return None;
    }
    let trimmed = s.trim_end_matches('=');
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for e in engines {
        if let Ok(bytes) = e.decode(trimmed)
            && let Ok(text) = String::from_utf8(bytes)
        {
            let printable = text
                .chars()
                .filter(|c| !c.is_control() || c.is_whitespace())
                .count();
            if !text.is_empty() && printable * 10 >= text.chars().count() * 9 {
                return Some(text);
            }
        }
    }
    None
}

/// A JWT's decoded header and payload (JSON texts), when `s` is one.
pub fn decode_jwt(s: &str) -> Option<(String, String)> {
    let mut parts = s.split('.');
    let (h, p, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.len() < 10 {
        return None;
    }
    let header = decode_base64_text(h)?;
    if !header.trim_start().starts_with('{') || !header.contains("\"alg\"") {
        return None;
    }
    let payload = decode_base64_text(p)?;
    Some((header, payload))
}

/// A short preview of a value for reports: secrets are masked, long values elided.
pub fn preview(v: &str, secret: bool) -> String {
    let n = v.chars().count();
    if secret {
        return format!("<secret, {n} chars>");
    }
    if n <= 32 {
        return v.to_string();
    }
    let head: String = v.chars().take(16).collect();
    let tail: String = v.chars().skip(n - 8).collect();
    format!("{head}…{tail} ({n} chars)")
}

/// The char-boundary-safe slice of at most `n` bytes before `at`.
pub fn before(s: &str, at: usize, n: usize) -> &str {
    let mut start = at.saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..at]
}

/// The char-boundary-safe slice of at most `n` bytes after `at`.
pub fn after(s: &str, at: usize, n: usize) -> &str {
    let mut end = (at + n).min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[at..end]
}

/// True when the bytes around `[start, end)` in `hay` are not alphanumeric (a token match).
pub fn bounded(hay: &str, start: usize, end: usize) -> bool {
    let b = hay.as_bytes();
    let ok = |c: u8| !c.is_ascii_alphanumeric() && c != b'_';
    (start == 0 || ok(b[start - 1])) && (end >= b.len() || ok(b[end]))
}

/// Rounds to 3 decimals (keeps JSON output stable).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = url_parts("http://127.0.0.1:8080/api/items/40712?q=a+b&x=%2F").unwrap();
        assert_eq!(u.origin, "http://127.0.0.1:8080");
        assert_eq!(u.segments, vec!["api", "items", "40712"]);
        assert_eq!(
            u.query,
            vec![("q".into(), "a b".into()), ("x".into(), "/".into())]
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a%2", false), "a%2");
        assert_eq!(percent_decode("%zz%41", false), "%zzA");
        assert_eq!(
            decode_base64_text("YWxpY2U6d29uZGVybGFuZA==").unwrap(),
            "alice:wonderland"
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig";
        assert_eq!(decode_jwt(jwt).unwrap().1, "{\"sub\":\"alice\"}");
    }

    #[test]
    fn classes() {
        assert!(is_uuid("9f1c2d3e-1111-4222-8333-444455556666"));
        assert!(is_date("2024-05-01"));
        assert!(is_opaque_token("aB3xK9pQ2mZ7vL1sT8", 16, 3.0));
        assert!(!is_opaque_token("aaaaaaaaaaaaaaaaaaaa1", 16, 3.0));
        assert!(bounded("x=abc;", 2, 5));
        assert!(!bounded("xabc", 1, 4));
        assert_eq!(preview("secret", true), "<secret, 6 chars>");
    }
}
