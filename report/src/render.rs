//! The HTML file: the template with the data in an inline JSON block.

use crate::ReportError;
use crate::data::ReportData;

/// The page: inline CSS and hand-written JavaScript, no framework and nothing fetched, so
/// the file works opened from disk with no network.
const TEMPLATE: &str = include_str!("report.html");

/// Where the data goes in the template.
const DATA_SLOT: &str = "{{SPOOL_REPORT_DATA}}";

/// Renders the report page of `data`.
pub fn render(data: &ReportData) -> Result<String, ReportError> {
    let json = script_safe_json(data)?;
    let (head, tail) = TEMPLATE.split_once(DATA_SLOT).unwrap_or((TEMPLATE, ""));
    let mut html = String::with_capacity(TEMPLATE.len() + json.len());
    html.push_str(head);
    html.push_str(&json);
    html.push_str(tail);
    Ok(html)
}

/// JSON that cannot end its `<script>` element early: every `<` (as in `</script>` or
/// `<!--` inside a recorded body) becomes `\u003c`, which JSON reads back as `<`. A `<`
/// only ever occurs inside JSON strings, so the replacement is always valid JSON.
fn script_safe_json(data: &ReportData) -> Result<String, ReportError> {
    let json = serde_json::to_string(data)?;
    Ok(json.replace('<', "\\u003c"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_has_one_data_slot() {
        assert_eq!(super::TEMPLATE.matches(super::DATA_SLOT).count(), 1);
    }
}
