//! Cached JSON as a collapsible tree of `<details>` elements, rendered on the server.
//! Every key and value is HTML-escaped: data containing markup is shown as text.

use std::fmt::Write;

use serde_json::Value;

/// Most nodes rendered; larger documents are cut with a note (download shows all).
pub const MAX_NODES: usize = 5000;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `value` as nested lists; the top two levels start open.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    let mut budget = MAX_NODES;
    out.push_str("<ul class=\"tree\">");
    node(&mut out, None, value, 0, &mut budget);
    out.push_str("</ul>");
    if budget == 0 {
        out.push_str("<p class=\"muted\">The tree is cut short here; download the raw JSON for all of it.</p>");
    }
    out
}

fn node(out: &mut String, key: Option<&str>, value: &Value, depth: usize, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let label = key
        .map(|k| format!("<span class=\"key\">{}</span>: ", escape(k)))
        .unwrap_or_default();
    match value {
        Value::Object(map) => {
            let open = if depth < 2 { " open" } else { "" };
            let _ = write!(
                out,
                "<li><details{open}><summary>{label}<span class=\"brace\">{{…}}</span> <span class=\"muted\">{} {}</span></summary><ul>",
                map.len(),
                if map.len() == 1 { "key" } else { "keys" }
            );
            for (k, v) in map {
                node(out, Some(k), v, depth + 1, budget);
            }
            out.push_str("</ul></details></li>");
        }
        Value::Array(items) => {
            let open = if depth < 2 { " open" } else { "" };
            let _ = write!(
                out,
                "<li><details{open}><summary>{label}<span class=\"brace\">[…]</span> <span class=\"muted\">{} {}</span></summary><ul>",
                items.len(),
                if items.len() == 1 { "item" } else { "items" }
            );
            for (i, v) in items.iter().enumerate() {
                node(out, Some(&i.to_string()), v, depth + 1, budget);
            }
            out.push_str("</ul></details></li>");
        }
        Value::String(s) => {
            let _ = write!(
                out,
                "<li>{label}<span class=\"v-str\">\"{}\"</span></li>",
                escape(s)
            );
        }
        Value::Number(n) => {
            let _ = write!(out, "<li>{label}<span class=\"v-num\">{n}</span></li>");
        }
        Value::Bool(b) => {
            let _ = write!(out, "<li>{label}<span class=\"v-bool\">{b}</span></li>");
        }
        Value::Null => {
            let _ = write!(out, "<li>{label}<span class=\"v-null\">null</span></li>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_keys_and_values_is_escaped() {
        let html = render(&serde_json::json!({"<b>k</b>": "<script>alert(1)</script>"}));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;k&lt;/b&gt;"));
    }

    #[test]
    fn large_documents_are_cut_with_a_note() {
        let big: Vec<u32> = (0..(MAX_NODES as u32 + 10)).collect();
        let html = render(&serde_json::json!(big));
        assert!(html.contains("cut short"));
    }
}
