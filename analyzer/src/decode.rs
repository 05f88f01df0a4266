//! Decoded forms of a value the index also searches for: base64 text and JWT claims.

use base64::Engine;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(
            decode_base64_text("YWxpY2U6d29uZGVybGFuZA==").unwrap(),
            "alice:wonderland"
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig";
        assert_eq!(decode_jwt(jwt).unwrap().1, "{\"sub\":\"alice\"}");
    }
}
