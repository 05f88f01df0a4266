//! The data lists in `analyzer/data/*.txt`, compiled in with `include_str!` and parsed once.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// What a marker line says is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkerKind {
    Captcha,
    BotChallenge,
    Otp,
    WebAuthn,
}

impl MarkerKind {
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Captcha => "captcha",
            MarkerKind::BotChallenge => "bot_challenge",
            MarkerKind::Otp => "otp",
            MarkerKind::WebAuthn => "webauthn",
        }
    }
}

/// Where a marker pattern is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerWhere {
    Host,
    Path,
    Cookie,
    Field,
    Body,
}

#[derive(Debug, Clone)]
pub struct MarkerRule {
    pub kind: MarkerKind,
    pub place: MarkerWhere,
    pub pattern: &'static str,
}

pub struct Lists {
    pub tracker_hosts: Vec<&'static str>,
    pub analytics_paths: HashSet<&'static str>,
    pub static_extensions: HashSet<&'static str>,
    pub static_mime: Vec<&'static str>,
    pub static_resource_types: HashSet<&'static str>,
    pub markers: Vec<MarkerRule>,
    pub common_words: HashSet<&'static str>,
    pub user_input_names: HashSet<&'static str>,
    pub browser_headers: HashSet<&'static str>,
    pub boring_response_headers: HashSet<&'static str>,
    pub analytics_cookies: Vec<&'static str>,
    pub synonyms: HashMap<&'static str, Vec<&'static str>>,
    pub stopwords: HashSet<&'static str>,
}

fn lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

pub static LISTS: LazyLock<Lists> = LazyLock::new(|| Lists {
    tracker_hosts: lines(include_str!("../data/tracker_hosts.txt")).collect(),
    analytics_paths: lines(include_str!("../data/analytics_paths.txt")).collect(),
    static_extensions: lines(include_str!("../data/static_extensions.txt")).collect(),
    static_mime: lines(include_str!("../data/static_mime.txt")).collect(),
    static_resource_types: lines(include_str!("../data/static_resource_types.txt")).collect(),
    markers: lines(include_str!("../data/markers.txt"))
        .filter_map(|l| {
            let mut it = l.split('\t').map(str::trim).filter(|s| !s.is_empty());
            let kind = match it.next()? {
                "captcha" => MarkerKind::Captcha,
                "bot_challenge" => MarkerKind::BotChallenge,
                "otp" => MarkerKind::Otp,
                "webauthn" => MarkerKind::WebAuthn,
                _ => return None,
            };
            let place = match it.next()? {
                "host" => MarkerWhere::Host,
                "path" => MarkerWhere::Path,
                "cookie" => MarkerWhere::Cookie,
                "field" => MarkerWhere::Field,
                "body" => MarkerWhere::Body,
                _ => return None,
            };
            Some(MarkerRule {
                kind,
                place,
                pattern: it.next()?,
            })
        })
        .collect(),
    common_words: lines(include_str!("../data/common_words.txt")).collect(),
    user_input_names: lines(include_str!("../data/user_input_names.txt")).collect(),
    browser_headers: lines(include_str!("../data/browser_headers.txt")).collect(),
    boring_response_headers: lines(include_str!("../data/boring_response_headers.txt")).collect(),
    analytics_cookies: lines(include_str!("../data/analytics_cookies.txt")).collect(),
    synonyms: lines(include_str!("../data/task_synonyms.txt"))
        .filter_map(|l| {
            let (w, rest) = l.split_once('\t')?;
            Some((w.trim(), rest.split_whitespace().collect()))
        })
        .collect(),
    stopwords: lines(include_str!("../data/stopwords.txt")).collect(),
});

/// `name` matches `pattern`, where a trailing `*` in the pattern matches any suffix.
pub fn glob_prefix(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(p) => name.starts_with(p),
        None => name == pattern,
    }
}

pub use spool_model::secret::squash;

impl Lists {
    pub fn is_tracker_host(&self, host: &str) -> Option<&'static str> {
        let host = host.trim_end_matches('.');
        self.tracker_hosts.iter().copied().find(|t| {
            host.eq_ignore_ascii_case(t)
                || (host.len() > t.len()
                    && host.as_bytes()[host.len() - t.len() - 1] == b'.'
                    && host[host.len() - t.len()..].eq_ignore_ascii_case(t))
        })
    }

    pub fn is_user_input_name(&self, name: &str) -> bool {
        let s = squash(name);
        self.user_input_names.contains(s.as_str())
            || s.ends_with("username")
            || s.ends_with("email")
    }

    pub fn is_analytics_cookie(&self, name: &str) -> bool {
        self.analytics_cookies.iter().any(|p| glob_prefix(p, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_load() {
        let l = &*LISTS;
        assert!(l.is_tracker_host("www.google-analytics.com").is_some());
        assert!(l.is_tracker_host("notgoogle-analytics.com").is_none());
        assert!(l.static_extensions.contains("woff2"));
        assert!(
            l.markers
                .iter()
                .any(|m| m.pattern == "g-recaptcha-response")
        );
        assert!(l.is_analytics_cookie("_ga_XYZ"));
        assert!(l.synonyms["buy"].contains(&"order"));
    }
}
