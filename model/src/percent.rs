//! Percent-encoding: the one codec every crate uses for URL components and form fields, on
//! top of the `percent-encoding` crate. Decoding never fails: an invalid escape stays as
//! written and invalid UTF-8 is replaced, because recordings hold whatever a page sent.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::borrow::Cow;

/// Everything but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - _ . ~`).
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes every byte but the unreserved characters: safe in a path segment, a query name
/// or value, and a form field.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, RESERVED).to_string()
}

/// Decodes `%XX` escapes.
pub fn decode(s: &str) -> Cow<'_, str> {
    percent_decode_str(s).decode_utf8_lossy()
}

/// Decodes a form field (`application/x-www-form-urlencoded`): `+` is a space, then `%XX`.
pub fn decode_form(s: &str) -> Cow<'_, str> {
    if !s.contains('+') {
        return decode(s);
    }
    Cow::Owned(decode(&s.replace('+', " ")).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_keeps_what_is_not_an_escape() {
        assert_eq!(decode("a%20b+c"), "a b+c");
        assert_eq!(decode_form("a%20b+c"), "a b c");
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%zz%41"), "%zzA");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn encoding_keeps_unreserved_characters() {
        assert_eq!(encode_component("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
        assert_eq!(encode_component("é"), "%C3%A9");
    }
}
