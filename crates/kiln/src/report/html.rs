//! The report as one self-contained HTML page: the build report's data embedded as JSON, and
//! inline CSS and JavaScript that draw a size treemap (distribution > package > file), the
//! largest packages, a searchable module list with import chains, licences, missing imports,
//! warnings and build metrics. Nothing is loaded from elsewhere, so it opens offline.

use super::build_report::BuildReport;

const PAGE: &str = include_str!("page.html");
const DATA_MARK: &str = "/*KILN_REPORT_DATA*/";

/// The page for `report`.
pub fn render(report: &BuildReport) -> String {
    let json = serde_json::to_string(report).expect("the report serialises");
    PAGE.replacen(DATA_MARK, &script_safe(&json), 1)
}

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` only occur inside JSON
/// strings, where their `\u` escapes mean the same, and without them no `</script>` or
/// `<!--` can end the element early.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_cannot_close_its_script_element() {
        let mut report = super::super::build_report::tests::sample();
        report
            .warnings
            .push("</script><script>alert(1)</script>".into());
        let page = render(&report);
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "only the page's own two"
        );
        assert!(!page.contains(DATA_MARK));
        let start = page.find(r#"type="application/json">"#).unwrap() + 24;
        let end = start + page[start..].find("</script>").unwrap();
        let back: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back["warnings"][0], "</script><script>alert(1)</script>");
        assert_eq!(back["name"], "demo");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let page = render(&super::super::build_report::tests::sample());
        for needle in [
            "src=\"http",
            "href=\"http",
            "@import",
            "url(",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!page.contains(needle), "the page contains {needle}");
        }
    }
}
