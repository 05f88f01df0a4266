//! What counts as a secret: the one definition that export redaction (`spool_store::redact`),
//! the analysis (value previews) and the generated code (inputs without defaults) share, so
//! an analysis never shows a value an export would redact.
//!
//! A value is a secret when it sits in
//! - a header that carries credentials ([`is_secret_header`]: `Authorization`,
//!   `Proxy-Authorization`, `Cookie`, `Set-Cookie`, or a secret-looking name);
//! - a cookie: every cookie value is a secret, whatever its name;
//! - a query, form or JSON field, or an HTML `<input>` / `<meta>` tag, whose name looks
//!   secret ([`is_secret_name`]).
//!
//! [`is_credential_name`] is the narrower idea the analyzer also needs: a secret a *person*
//! supplies (a password, an API key, a card number), which becomes an input of generated code
//! rather than a value taken from an earlier response. Every credential name is a secret name.

/// Words that make a field name secret: `api_key`, `apiKey`, `sessionId`, `x-auth-token`.
pub const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "key",
    "apikey",
    "auth",
    "authorization",
    "authenticity",
    "session",
    "sessionid",
    "sessid",
    "sid",
    "csrf",
    "xsrf",
    "credential",
    "credentials",
    "cookie",
    "jwt",
    "bearer",
    "otp",
    "totp",
    "pin",
    "cvv",
    "cvc",
    "ssn",
    "signature",
    "sig",
    "private",
];

/// Substrings that make a field name secret even inside one word (`csrfmiddlewaretoken`).
pub const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "csrf",
    "xsrf",
    "sessionid",
    "sessid",
    "cardnumber",
    "ccnumber",
];

/// Credential names, compared after [`squash`]: values a person supplies.
pub const CREDENTIAL_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passcode",
    "secret",
    "clientsecret",
    "apikey",
    "xapikey",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "authorization",
    "proxyauthorization",
    "otp",
    "totp",
    "pin",
    "cvv",
    "cvc",
    "cardnumber",
    "ccnumber",
    "ssn",
];

/// Headers whose whole value is a credential, whatever the name rules say.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Whether a header, cookie, query, form, JSON or HTML field of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|p| lower.contains(p))
        || words(name).any(|w| SECRET_WORDS.contains(&w.as_str()))
        || is_credential_name(name)
}

/// Whether a header of this name carries a secret value.
pub fn is_secret_header(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || is_secret_name(name)
}

/// Whether a field of this name holds a credential a person supplies (never a value to take
/// from a recording).
pub fn is_credential_name(name: &str) -> bool {
    let s = squash(name);
    !s.is_empty()
        && (CREDENTIAL_NAMES.contains(&s.as_str())
            || s.ends_with("password")
            || s.ends_with("secret")
            || s.ends_with("apikey")
            || s.ends_with("accesstoken"))
}

/// Lowercase with `-`, `_`, `.` and spaces removed: how credential names are compared.
pub fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Splits `xApiKey_value-2` into `x`, `api`, `key`, `value`, `2` (lowercased).
fn words(name: &str) -> impl Iterator<Item = String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_hold_secrets() {
        for name in [
            "password",
            "user_password",
            "X-Api-Key",
            "apiKey",
            "csrf",
            "csrfmiddlewaretoken",
            "X-CSRF-Token",
            "session",
            "sessionId",
            "sid",
            "access_token",
            "card-number",
            "pin",
            "authenticity_token",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "username", "email", "itemId", "offer", "quantity", "q", "keyboard",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn every_credential_is_a_secret() {
        for name in CREDENTIAL_NAMES {
            assert!(is_credential_name(name), "{name}");
            assert!(is_secret_name(name), "{name}");
        }
        assert!(is_credential_name("user_password"));
        assert!(is_credential_name("X-Api-Key"));
        // A CSRF value is a secret, but the page hands it out: not a credential.
        assert!(!is_credential_name("csrf"));
        assert!(is_secret_name("csrf"));
    }

    #[test]
    fn credential_headers() {
        assert!(is_secret_header("Authorization"));
        assert!(is_secret_header("set-cookie"));
        assert!(is_secret_header("X-Auth-Token"));
        assert!(!is_secret_header("Accept"));
        assert!(!is_secret_header("Content-Type"));
    }
}
