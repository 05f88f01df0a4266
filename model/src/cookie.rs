//! Cookie headers: the one parser of `Cookie` and `Set-Cookie` values, for the recorder (HAR
//! cookie lists), export redaction and the analyzer.
//!
//! As browsers do (RFC 6265bis, 5.6 and 5.7), a part without `=` is a cookie with an empty
//! name whose value is the whole part, so a bare token is never mistaken for a name.

/// The cookies of a `Cookie` header (`a=1; b=2`): (name, value), both trimmed; empty parts
/// are skipped.
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|part| {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        Some(split_pair(part))
    })
}

/// One `Set-Cookie` line (`sid=abc; Path=/; HttpOnly`): the cookie's (name, value) and its
/// attributes as (name, value) pairs (value empty for flags such as `HttpOnly`). `None` when
/// the line holds no cookie.
pub fn set_cookie(line: &str) -> Option<SetCookie<'_>> {
    let mut parts = line.split(';');
    let first = parts.next()?.trim();
    if first.is_empty() {
        return None;
    }
    let (name, value) = split_pair(first);
    let attributes = parts
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            (k.trim(), v.trim())
        })
        .collect();
    Some(SetCookie {
        name,
        value,
        attributes,
    })
}

/// A parsed `Set-Cookie` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// `Path`, `Domain`, `Expires`, `HttpOnly`, ... as written, in order.
    pub attributes: Vec<(&'a str, &'a str)>,
}

fn split_pair(part: &str) -> (&str, &str) {
    match part.split_once('=') {
        Some((n, v)) => (n.trim(), v.trim()),
        None => ("", part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header() {
        let got: Vec<_> = pairs(" a=1; b = 2 ;; bare; c=x=y").collect();
        assert_eq!(
            got,
            vec![("a", "1"), ("b", "2"), ("", "bare"), ("c", "x=y")]
        );
    }

    #[test]
    fn set_cookie_line() {
        let c = set_cookie("sid=abc; Path=/; HttpOnly").unwrap();
        assert_eq!((c.name, c.value), ("sid", "abc"));
        assert_eq!(c.attributes, vec![("Path", "/"), ("HttpOnly", "")]);
        assert!(set_cookie("  ").is_none());
    }
}
