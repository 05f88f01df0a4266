//! Stage 1, parse: lean zero-copy views of a HAR 1.2 document.
//!
//! Only what the analysis reads is deserialized; everything else is skipped without
//! allocating. Strings borrow from the input when they have no escapes; response bodies stay
//! as [`RawValue`] until a later stage asks for them, so bodies of dropped entries (images,
//! scripts) are never unescaped. Fields are lenient (a number where a string is expected, a
//! missing array, `null`) because HARs from other tools are not always strict.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde_json::value::RawValue;

use crate::error::AnalyzeError;

/// A string that also accepts numbers, booleans and `null` (as their text / empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text::default())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A number that also accepts numeric strings and `null` (as `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Num(pub Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v.is_finite().then_some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                Ok(Num(v.trim().parse::<f64>().ok().filter(|x| x.is_finite())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Num, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Num, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Num(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Num, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Num(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list that accepts `null` or a non-list as empty.
fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(a.size_hint().unwrap_or(0).min(64));
            while let Some(x) = a.next_element()? {
                out.push(x);
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Vec<T>, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// The whole document: `{ "log": { "entries": [...] } }`.
#[derive(Debug, Deserialize)]
pub struct Har<'a> {
    #[serde(borrow)]
    pub log: Log<'a>,
}

#[derive(Debug, Deserialize)]
pub struct Log<'a> {
    /// Strict, unlike the fields inside an entry: a log whose entries are not a list is not
    /// a HAR, and saying "no API calls" about it would hide that.
    #[serde(borrow, default)]
    pub entries: Vec<Entry<'a>>,
}

/// One HAR entry, with Chrome's custom fields when present.
#[derive(Debug, Deserialize)]
pub struct Entry<'a> {
    #[serde(rename = "startedDateTime", borrow, default)]
    pub started: Text<'a>,
    #[serde(default)]
    pub time: Num,
    #[serde(borrow)]
    pub request: Request<'a>,
    #[serde(borrow, default)]
    pub response: Option<Response<'a>>,
    #[serde(rename = "_resourceType", borrow, default)]
    pub resource_type: Option<Text<'a>>,
    #[serde(
        rename = "_webSocketMessages",
        borrow,
        default,
        deserialize_with = "lenient_vec"
    )]
    pub websocket_messages: Vec<WsMessage<'a>>,
    #[serde(rename = "_requestId", borrow, default)]
    pub request_id: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NameValue<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub value: Text<'a>,
}

#[derive(Debug, Deserialize)]
pub struct Request<'a> {
    #[serde(borrow, default)]
    pub method: Text<'a>,
    #[serde(borrow, default)]
    pub url: Text<'a>,
    #[serde(borrow, default, deserialize_with = "lenient_vec")]
    pub headers: Vec<NameValue<'a>>,
    #[serde(borrow, default, deserialize_with = "lenient_vec")]
    pub cookies: Vec<NameValue<'a>>,
    #[serde(rename = "postData", borrow, default)]
    pub post_data: Option<PostData<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct PostData<'a> {
    #[serde(rename = "mimeType", borrow, default)]
    pub mime_type: Text<'a>,
    #[serde(borrow, default)]
    pub text: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "lenient_vec")]
    pub params: Vec<NameValue<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Response<'a> {
    #[serde(default)]
    pub status: Num,
    #[serde(borrow, default, deserialize_with = "lenient_vec")]
    pub headers: Vec<NameValue<'a>>,
    #[serde(borrow, default, deserialize_with = "lenient_vec")]
    pub cookies: Vec<NameValue<'a>>,
    #[serde(borrow, default)]
    pub content: Option<Content<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Content<'a> {
    #[serde(rename = "mimeType", borrow, default)]
    pub mime_type: Text<'a>,
    /// Kept raw: unescaped only for entries a later stage reads.
    #[serde(borrow, default)]
    pub text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub encoding: Option<Text<'a>>,
}

/// A WebSocket frame (`_webSocketMessages`).
#[derive(Debug, Deserialize)]
pub struct WsMessage<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub data: Text<'a>,
}

/// Parses HAR JSON text into views borrowing from `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Har<'_>, AnalyzeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match Har::deserialize(&mut de).and_then(|h| de.end().map(|_| h)) {
        Ok(h) => Ok(h),
        Err(e) => Err(locate_error(bytes, e)),
    }
}

/// Re-parses with path tracking (only on the error path, so the fast path pays nothing) to
/// name where the HAR breaks.
fn locate_error(bytes: &[u8], first: serde_json::Error) -> AnalyzeError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let path = match serde_path_to_error::deserialize::<_, Har<'_>>(&mut de) {
        Err(e) => {
            let p = e.path().to_string();
            if p == "." || p.is_empty() {
                None
            } else {
                Some(p)
            }
        }
        Ok(_) => None,
    };
    let mut message = first.to_string();
    // serde_json appends " at line L column C"; keep that in the location instead.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    let pos = format!("line {} column {}", first.line(), first.column());
    let location = match path {
        Some(p) => format!("{p} ({pos})"),
        None => pos,
    };
    AnalyzeError::HarFileInvalid { location, message }
}

impl<'a> Entry<'a> {
    pub fn method(&self) -> &str {
        self.request.method.as_str()
    }
    pub fn url(&self) -> &str {
        self.request.url.as_str()
    }
    pub fn status(&self) -> i64 {
        self.response
            .as_ref()
            .and_then(|r| r.status.0)
            .map(|s| s as i64)
            .unwrap_or(0)
    }
    pub fn response_mime(&self) -> &str {
        self.response
            .as_ref()
            .and_then(|r| r.content.as_ref())
            .map(|c| c.mime_type.as_str())
            .unwrap_or("")
    }
    pub fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_ref().map(|t| t.as_str())
    }

    /// The response body as text: unescaped, base64-decoded when so encoded and valid UTF-8.
    /// `Err` explains why there is none to read.
    pub fn response_text(&self, max_bytes: usize) -> Result<Cow<'a, str>, BodyIssue> {
        let content = self
            .response
            .as_ref()
            .and_then(|r| r.content.as_ref())
            .ok_or(BodyIssue::Missing)?;
        let raw = content.text.ok_or(BodyIssue::Missing)?;
        let raw_str = raw.get();
        if raw_str == "null" {
            return Err(BodyIssue::Missing);
        }
        // A JSON string literal is at least as long as its text (escapes only lengthen it).
        if raw_str.len() > max_bytes.saturating_mul(6).saturating_add(2) {
            return Err(BodyIssue::TooLarge(raw_str.len()));
        }
        let text: Text<'a> = serde_json::from_str(raw_str).map_err(|_| BodyIssue::Missing)?;
        let is_b64 = content
            .encoding
            .as_ref()
            .is_some_and(|e| e.as_str().eq_ignore_ascii_case("base64"));
        let text = if is_b64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.0.trim().as_bytes())
                .map_err(|_| BodyIssue::Binary)?;
            match String::from_utf8(bytes) {
                Ok(s) => Cow::Owned(s),
                Err(_) => return Err(BodyIssue::Binary),
            }
        } else {
            text.0
        };
        if text.is_empty() {
            return Err(BodyIssue::Missing);
        }
        if text.len() > max_bytes {
            return Err(BodyIssue::TooLarge(text.len()));
        }
        if looks_binary(&text) {
            return Err(BodyIssue::Binary);
        }
        Ok(text)
    }

    /// Whether the entry has a response body at all (raw, not decoded).
    pub fn has_response_body(&self) -> bool {
        self.response
            .as_ref()
            .and_then(|r| r.content.as_ref())
            .and_then(|c| c.text)
            .is_some_and(|t| t.get() != "null" && t.get() != "\"\"")
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyIssue {
    Missing,
    Binary,
    TooLarge(usize),
}

/// Text with NULs or many control characters is binary.
fn looks_binary(s: &str) -> bool {
    let sample = &s.as_bytes()[..s.len().min(4096)];
    let ctrl = sample
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && b != b'\n' && b != b'\r' && b != b'\t'))
        .count();
    sample.contains(&0) || ctrl * 10 > sample.len()
}

/// Parses an ISO 8601 timestamp (`2024-05-01T10:00:00.123Z`, `+02:00` offsets) into
/// milliseconds since the epoch. `None` when it is not one.
pub fn parse_time_ms(s: &str) -> Option<f64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T') | Some(b't') | Some(b' ')) {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = std::str::from_utf8(&b[start..i]).ok()?;
        if !digits.is_empty() {
            frac = format!("0.{digits}").parse::<f64>().ok()?;
        }
    }
    let offset_min = match b.get(i) {
        None | Some(b'Z') | Some(b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = if b.get(i + 3) == Some(&b':') {
                num(i + 4..i + 6)?
            } else {
                num(i + 3..i + 5).unwrap_or(0)
            };
            let m = oh * 60 + om;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs as f64 * 1000.0 + (frac * 1000.0).round())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lenient_fields_and_borrows() {
        let har = br#"{"log":{"version":"1.2","entries":[{"startedDateTime":"2024-01-01T00:00:00.000Z","time":"12.5",
            "request":{"method":"GET","url":"http://a/x","headers":null,"cookies":[{"name":"s","value":1}]},
            "response":{"status":"200","headers":[],"content":{"mimeType":"application/json","text":"{\"a\":1}"}},
            "_resourceType":"xhr","_initiator":{"type":"script"}}]}}"#;
        let h = parse(har).unwrap();
        let e = &h.log.entries[0];
        assert_eq!(e.time.0, Some(12.5));
        assert_eq!(e.status(), 200);
        assert!(matches!(e.request.url.0, Cow::Borrowed(_)));
        assert_eq!(e.request.cookies[0].value.as_str(), "1");
        assert_eq!(e.response_text(1 << 20).unwrap(), "{\"a\":1}");
    }

    #[test]
    fn errors_name_where() {
        let e = parse(br#"{"log":{"entries":[{"request":5}]}}"#).unwrap_err();
        match e {
            AnalyzeError::HarFileInvalid { location, .. } => {
                assert!(location.contains("log.entries[0].request"), "{location}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(b"").unwrap_err().code(), -32102);
        assert_eq!(parse(b"{}").unwrap_err().code(), -32102);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:01.500Z"), Some(1500.0));
        assert_eq!(
            parse_time_ms("2024-05-01T12:00:00+02:00"),
            parse_time_ms("2024-05-01T10:00:00Z")
        );
        assert_eq!(parse_time_ms("nope"), None);
    }
}
