//! The parts of a URL and of a form body the analysis reads.

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
        .map(|s| spool_model::percent::decode(s).into_owned())
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

/// Decodes `a=1&b=2` form bodies.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
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
}
