//! Cached JSON as a collapsible tree of `<details>` elements, rendered on the server
//! from the stored text ([`json_scan`](super::json_scan)): numbers and nesting exactly
//! as stored, never `null` in place of something serde cannot hold.
//!
//! At most [`MAX_NODES`] nodes are drawn. The budget is shared out from the top: each
//! container shows its first entries and gives what is left to them, so every level
//! gets its part, and every cut says on the spot how many entries it leaves out.
//! Every key and value is HTML-escaped: data containing markup is shown as text.

use std::fmt::Write;

use super::format::count;
use super::json_scan::{self, Doc, Kind, NONE, Node};

/// Most nodes drawn; each cut says "… N more" where it happens (download shows all).
pub const MAX_NODES: usize = 5000;
/// Most nodes kept while scanning (the rest of a document is only counted).
pub const MAX_SCAN_NODES: usize = 200_000;
/// Levels drawn as a tree; deeper containers are shown as their stored text (browsers
/// flatten markup nested deeper than a few hundred elements).
pub const MAX_TREE_DEPTH: usize = 64;
/// Characters of a string (or of a too-deep container's text) shown before a cut.
pub const MAX_TEXT_CHARS: usize = 2000;
/// A container with entries that have entries of their own shows at least this many
/// of them (if the budget allows), then shares the rest among them.
const MIN_SHOWN: usize = 50;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
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
}

/// A rendered tree and what it left out.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// The `<ul class="tree">` markup.
    pub html: String,
    /// Whether some entries were left out (each cut is marked where it is).
    pub cut: bool,
    /// Whether the text was a prefix of the document that ended before the document did.
    pub partial: bool,
    /// Nodes drawn.
    pub drawn: usize,
}

/// Renders a whole document's text (at most the first two levels start open).
pub fn render(text: &str) -> Tree {
    render_text(text, true)
}

/// Renders `text`, which is the whole document (`whole`) or only its first part.
pub fn render_text(text: &str, whole: bool) -> Tree {
    let doc = json_scan::scan(text, whole, MAX_SCAN_NODES);
    let shown = allocate(&doc, MAX_NODES);
    let mut r = Renderer {
        doc: &doc,
        shown: &shown,
        out: String::new(),
        cut: false,
        drawn: 0,
    };
    r.out.push_str("<ul class=\"tree\">");
    if doc.nodes.is_empty() {
        r.out
            .push_str("<li class=\"more\">… the preview ends before the first value</li>");
    } else {
        r.node(0, None, 0);
    }
    r.out.push_str("</ul>");
    Tree {
        html: r.out,
        cut: r.cut,
        partial: !doc.complete,
        drawn: r.drawn,
    }
}

/// How many entries of each container to draw, sharing `budget` nodes from the top.
fn allocate(doc: &Doc<'_>, budget: usize) -> Vec<u32> {
    let nodes = &doc.nodes;
    let mut shown = vec![0u32; nodes.len()];
    if nodes.is_empty() {
        return shown;
    }
    // Kept nodes below each node (children come after their parent).
    let mut below = vec![0usize; nodes.len()];
    for i in (1..nodes.len()).rev() {
        let p = nodes[i].parent as usize;
        below[p] += below[i] + 1;
    }
    // (node, nodes it may use below itself, its depth)
    let mut work = vec![(0usize, budget.saturating_sub(1), 0usize)];
    let mut children = Vec::new();
    while let Some((n, b, depth)) = work.pop() {
        let node = &nodes[n];
        if !node.is_container() || b == 0 || depth >= MAX_TREE_DEPTH {
            continue;
        }
        children.clear();
        let mut c = node.first;
        while c != NONE {
            children.push(c as usize);
            c = nodes[c as usize].next;
        }
        let mut k = children.len().min(b);
        let heavy: usize = children[..k].iter().map(|&c| below[c]).sum();
        if heavy > b - k {
            // Entries with content of their own: fewer of them, each with room to show it.
            let avg = heavy / k.max(1);
            k = k.min((b / (avg + 1)).max(MIN_SHOWN));
        }
        shown[n] = k as u32;
        let rest = b - k;
        let wants: Vec<usize> = children[..k].iter().map(|&c| below[c]).collect();
        let cap = water_level(&wants, rest);
        for (&c, &w) in children[..k].iter().zip(&wants) {
            work.push((c, w.min(cap), depth + 1));
        }
    }
    shown
}

/// The largest `cap` with `sum(min(w, cap)) <= total`.
fn water_level(wants: &[usize], total: usize) -> usize {
    let sum: usize = wants.iter().sum();
    if sum <= total {
        return usize::MAX;
    }
    let (mut lo, mut hi) = (0usize, wants.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let used: usize = wants.iter().map(|&w| w.min(mid)).sum();
        if used <= total {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    lo
}

struct Renderer<'d, 'a> {
    doc: &'d Doc<'a>,
    shown: &'d [u32],
    out: String,
    cut: bool,
    drawn: usize,
}

fn plural<'s>(n: u32, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 { one } else { many }
}

impl Renderer<'_, '_> {
    fn text(&self, start: u32, end: u32) -> &str {
        &self.doc.text[start as usize..end as usize]
    }

    /// Escaped text, cut after [`MAX_TEXT_CHARS`] characters with a note.
    fn push_cut_text(&mut self, s: &str) -> Option<usize> {
        match s.char_indices().nth(MAX_TEXT_CHARS) {
            Some((at, _)) => {
                escape_into(&mut self.out, &s[..at]);
                Some(s[at..].chars().count())
            }
            None => {
                escape_into(&mut self.out, s);
                None
            }
        }
    }

    fn node(&mut self, i: usize, index: Option<usize>, depth: usize) {
        self.drawn += 1;
        let n: &Node = &self.doc.nodes[i];
        let (kind, start, end, complete) = (n.kind, n.start, n.end, n.complete);
        let label = match (n.key, index) {
            (Some((ks, ke)), _) => Some(json_scan::unescape(self.text(ks, ke))),
            (None, Some(ix)) => Some(ix.to_string()),
            (None, None) => None,
        };
        self.out.push_str("<li>");
        let push_label = |out: &mut String| {
            if let Some(l) = &label {
                out.push_str("<span class=\"key\">");
                escape_into(out, l);
                out.push_str("</span>: ");
            }
        };
        match kind {
            Kind::Object | Kind::Array if depth >= MAX_TREE_DEPTH => {
                push_label(&mut self.out);
                self.out.push_str("<code class=\"raw\">");
                let raw = self.text(start, end).to_owned();
                let left = self.push_cut_text(&raw);
                self.out.push_str("</code>");
                self.cut |= left.is_some();
                let _ = write!(
                    self.out,
                    " <span class=\"more\">(nested deeper than {MAX_TREE_DEPTH} levels: the stored text{})</span>",
                    left.map(|l| format!(", … {} more characters", count(l as i64)))
                        .unwrap_or_default()
                );
            }
            Kind::Object | Kind::Array => {
                let object = kind == Kind::Object;
                let total = self.doc.nodes[i].count;
                let open = if depth < 2 { " open" } else { "" };
                let (brace, one, many) = if object {
                    ("{…}", "key", "keys")
                } else {
                    ("[…]", "item", "items")
                };
                self.out.push_str("<details");
                self.out.push_str(open);
                self.out.push_str("><summary>");
                push_label(&mut self.out);
                let _ = write!(
                    self.out,
                    "<span class=\"brace\">{brace}</span> <span class=\"muted\">{}{} {}</span></summary><ul>",
                    if complete { "" } else { "at least " },
                    count(total.into()),
                    plural(total, one, many)
                );
                let mut c = self.doc.nodes[i].first;
                let mut drawn = 0u32;
                let limit = self.shown[i];
                while c != NONE && drawn < limit {
                    self.node(c as usize, (!object).then_some(drawn as usize), depth + 1);
                    drawn += 1;
                    c = self.doc.nodes[c as usize].next;
                }
                let left = total - drawn;
                if left > 0 {
                    self.cut = true;
                    let _ = write!(
                        self.out,
                        "<li class=\"more\">… {} more {}{}</li>",
                        count(left.into()),
                        plural(left, one, many),
                        if complete {
                            ""
                        } else {
                            ", then the preview ends"
                        }
                    );
                } else if !complete {
                    self.out
                        .push_str("<li class=\"more\">… the preview ends here</li>");
                }
                self.out.push_str("</ul></details>");
            }
            Kind::Str => {
                push_label(&mut self.out);
                let s = json_scan::unescape(self.text(start, end));
                self.out.push_str("<span class=\"v-str\">\"");
                let left = self.push_cut_text(&s);
                if complete && left.is_none() {
                    self.out.push('"');
                }
                self.out.push_str("</span>");
                if let Some(l) = left {
                    self.cut = true;
                    let _ = write!(
                        self.out,
                        " <span class=\"more\">… {} more characters</span>",
                        count(l as i64)
                    );
                }
                if !complete {
                    self.out.push_str(
                        " <span class=\"more\">… the preview ends inside this text</span>",
                    );
                }
            }
            Kind::Num | Kind::Bool | Kind::Null => {
                push_label(&mut self.out);
                let class = match kind {
                    Kind::Num => "v-num",
                    Kind::Bool => "v-bool",
                    _ => "v-null",
                };
                let _ = write!(self.out, "<span class=\"{class}\">");
                let raw = self.text(start, end).to_owned();
                escape_into(&mut self.out, &raw);
                self.out.push_str("</span>");
            }
        }
        self.out.push_str("</li>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values drawn in the tree, in order.
    fn leaves(html: &str, class: &str) -> Vec<String> {
        let open = format!("<span class=\"{class}\">");
        html.split(&open)
            .skip(1)
            .map(|s| s[..s.find("</span>").unwrap()].to_owned())
            .collect()
    }

    #[test]
    fn markup_in_keys_and_values_is_escaped() {
        let t = render(r#"{"<b>k</b>": "<script>alert(1)</script>"}"#);
        assert!(!t.html.contains("<script>"));
        assert!(t.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(t.html.contains("&lt;b&gt;k&lt;/b&gt;"));
    }

    #[test]
    fn numbers_are_shown_as_stored() {
        let t = render(r#"[1e400, -0.0, 12345678901234567890123, 1.50]"#);
        assert_eq!(
            leaves(&t.html, "v-num"),
            ["1e400", "-0.0", "12345678901234567890123", "1.50"]
        );
        assert!(!t.html.contains("null"));
    }

    #[test]
    fn every_key_of_the_root_is_drawn_and_each_cut_says_how_many_it_leaves_out() {
        // The shape of the issue's 900 KB item: a small key, a huge list, a small key.
        let samples: Vec<String> = (0..10_986)
            .map(|i| format!(r#"{{"id": {i}, "name": "s{i}", "qc": {{"ok": true, "depth": 30}}}}"#))
            .collect();
        let text = format!(
            r#"{{"meta": {{"version": 2}}, "samples": [{}], "zzz_last": "end"}}"#,
            samples.join(",")
        );
        let t = render(&text);
        assert!(t.drawn <= MAX_NODES + 1, "{}", t.drawn);
        assert!(t.cut && !t.partial);
        assert!(t.html.contains("<span class=\"key\">meta</span>"));
        assert!(
            t.html.contains("<span class=\"key\">zzz_last</span>"),
            "the last key is drawn"
        );
        assert!(t.html.contains("3 keys"));
        assert!(t.html.contains("10,986 items"));
        let shown = leaves(&t.html, "key").iter().filter(|k| *k == "qc").count();
        assert!(shown >= 50, "samples are drawn with their content: {shown}");
        let more = format!("… {} more items", count(10_986 - shown as i64));
        assert!(
            t.html.contains(&more),
            "the cut is marked where it is: {more}"
        );
        // The deepest values of the samples drawn are there too.
        assert!(
            t.html
                .contains("<span class=\"key\">depth</span>: <span class=\"v-num\">30</span>")
        );
    }

    #[test]
    fn a_flat_list_uses_the_whole_budget() {
        let text = format!(
            "[{}]",
            (0..20_000)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let t = render(&text);
        assert_eq!(leaves(&t.html, "v-num").len(), MAX_NODES - 1);
        assert!(t.html.contains(&format!(
            "… {} more items",
            count(20_000 - (MAX_NODES as i64 - 1))
        )));
    }

    #[test]
    fn deep_documents_are_drawn_to_a_depth_and_then_shown_as_stored() {
        let text = format!("{}{{\"x\": 1e400}}{}", "[".repeat(300), "]".repeat(300));
        let t = render(&text);
        assert!(!t.html.contains("null"), "never null");
        assert!(t.html.contains("<code class=\"raw\">"));
        assert!(
            t.html.contains("{&quot;x&quot;: 1e400}"),
            "the stored text of the deepest part"
        );
        assert!(t.html.contains("nested deeper than 64 levels"));
    }

    #[test]
    fn a_prefix_is_drawn_as_far_as_it_goes_and_says_where_it_ends() {
        let t = render_text(r#"{"a": [1, 2, 3], "b": {"c": "long tex"#, false);
        assert!(t.partial);
        assert!(t.html.contains("at least 2 keys"));
        assert!(t.html.contains("the preview ends inside this text"));
        assert_eq!(leaves(&t.html, "v-num"), ["1", "2", "3"]);
    }

    #[test]
    fn long_strings_are_cut_with_a_count() {
        let text = format!("[\"{}\"]", "é".repeat(MAX_TEXT_CHARS + 5));
        let t = render(&text);
        assert!(t.html.contains("… 5 more characters"));
        assert!(t.cut);
    }

    #[test]
    fn keys_keep_their_stored_order_and_escapes_are_decoded() {
        let t = render(r#"{"z": 1, "a": "caf\u00e9 \"q\""}"#);
        assert_eq!(leaves(&t.html, "key"), ["z", "a"]);
        assert!(t.html.contains("café &quot;q&quot;"));
    }
}
