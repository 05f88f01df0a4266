//! Checks shared by the engine's integration tests.

use spool_model::har::Har;

/// Every HAR Spool writes passes the HAR 1.2 schema, and an independent reader (the `har`
/// crate) accepts it too.
pub fn assert_valid_har(har: &Har, what: &str) {
    let value = serde_json::to_value(har).unwrap();
    if let Err(errors) = spool_fixtures::har_schema::validate(&value) {
        panic!(
            "HAR of {what} fails HAR 1.2 validation:\n{}",
            errors.join("\n")
        );
    }
    let text = serde_json::to_string(har).unwrap();
    har::from_str(&text).unwrap_or_else(|e| panic!("the har crate rejects the HAR of {what}: {e}"));
}
