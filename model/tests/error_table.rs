//! The error-code table in docs/errors.md is the one users read; this test keeps it equal to
//! `ErrorCode::ALL` (number, name, HTTP status, exit status), row for row, so neither can
//! change without the other.

use spool_model::ErrorCode;
use std::path::Path;

/// The rows of the table: (number, name, HTTP status, exit status).
fn doc_rows(text: &str) -> Vec<(i32, String, u16, u8)> {
    text.lines()
        .filter(|l| l.starts_with("| -"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // cells[0] is the empty text before the first `|`.
            let number = cells[1]
                .parse()
                .expect("the number column holds an integer");
            let http = cells[3].parse().expect("the HTTP column holds a status");
            let exit = cells[4]
                .parse()
                .expect("the exit column holds an exit status");
            (number, cells[2].to_string(), http, exit)
        })
        .collect()
}

#[test]
fn docs_error_table_matches_error_code_all() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let documented = doc_rows(&text);
    let actual: Vec<(i32, String, u16, u8)> = ErrorCode::ALL
        .iter()
        .map(|c| {
            (
                c.number(),
                c.name().to_string(),
                c.http_status(),
                c.exit_status(),
            )
        })
        .collect();
    assert_eq!(
        documented, actual,
        "docs/errors.md's table differs from ErrorCode::ALL (same order expected)"
    );
}
