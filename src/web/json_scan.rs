//! A JSON document's text read into a flat list of nodes for the item page's tree.
//!
//! Not serde: the viewer must show what is stored, so numbers stay their text (`1e400`
//! is not an `f64`), nesting has no recursion limit (one loop and an explicit stack),
//! and a document cut short (the first part of a large item) is read as far as it
//! goes. At most `max_nodes` nodes are kept; past that the scan only counts, so every
//! container of a whole document knows how many entries it has.

/// No node (end of a sibling chain, no first child, the root's parent).
pub const NONE: u32 = u32::MAX;

/// What a node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`.
    Object,
    /// `[...]`.
    Array,
    /// A string; `start..end` is the text between the quotes, escapes included.
    Str,
    /// A number, as written.
    Num,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// One value of the document.
#[derive(Debug, Clone)]
pub struct Node {
    /// What it is.
    pub kind: Kind,
    /// Its key in the parent object: the text between the quotes, escapes included.
    pub key: Option<(u32, u32)>,
    /// Where its text starts (a container's bracket, a string's first character).
    pub start: u32,
    /// Where its text ends (after the closing bracket, before the closing quote).
    pub end: u32,
    /// The container it is in.
    pub parent: u32,
    /// Entries of a container found in the text (kept as nodes or only counted).
    pub count: u32,
    /// Entries kept as nodes: always the first ones.
    pub kept: u32,
    /// First kept entry.
    pub first: u32,
    /// Next kept entry of the same parent.
    pub next: u32,
    /// Whether the text holds all of it (a container closed, a string ended).
    pub complete: bool,
}

impl Node {
    /// Whether this is an object or an array.
    pub fn is_container(&self) -> bool {
        matches!(self.kind, Kind::Object | Kind::Array)
    }
}

/// A scanned document: its nodes in document order (parents before children).
#[derive(Debug)]
pub struct Doc<'a> {
    /// The text scanned.
    pub text: &'a str,
    /// Node 0 is the root, when there is one.
    pub nodes: Vec<Node>,
    /// Whether the scan reached the end of the root value.
    pub complete: bool,
}

enum Frame {
    Kept { node: u32, last: u32, object: bool },
    Counted { object: bool },
}

impl Frame {
    fn object(&self) -> bool {
        match self {
            Frame::Kept { object, .. } | Frame::Counted { object } => *object,
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
    whole: bool,
    max_nodes: usize,
    nodes: Vec<Node>,
    stack: Vec<Frame>,
}

enum Step {
    Value(Option<(u32, u32)>),
    After,
}

/// Scans `text`. `whole` says the text is the entire document (so a number at its end
/// is complete); otherwise it is a prefix and whatever it cuts is marked incomplete.
pub fn scan(text: &str, whole: bool, max_nodes: usize) -> Doc<'_> {
    // Offsets are u32: callers pass at most a few MiB.
    let text = &text[..text.floor_char_boundary(text.len().min(u32::MAX as usize - 1))];
    let mut s = Scanner {
        b: text.as_bytes(),
        pos: 0,
        whole,
        max_nodes: max_nodes.max(1),
        nodes: Vec::new(),
        stack: Vec::new(),
    };
    let complete = s.run();
    let end = text.len() as u32;
    for frame in &s.stack {
        if let Frame::Kept { node, .. } = frame {
            s.nodes[*node as usize].end = end;
        }
    }
    Doc {
        text,
        nodes: s.nodes,
        complete,
    }
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    /// Runs to the end of the root value (true) or of the text (false).
    fn run(&mut self) -> bool {
        let mut step = Step::Value(None);
        loop {
            self.skip_ws();
            match step {
                Step::Value(key) => {
                    let Some(next) = self.value(key) else {
                        return false;
                    };
                    step = next;
                }
                Step::After => {
                    let Some(top) = self.stack.last() else {
                        return true;
                    };
                    let object = top.object();
                    match self.b.get(self.pos) {
                        Some(b',') => {
                            self.pos += 1;
                            step = match self.member(object) {
                                Some(s) => s,
                                None => return false,
                            };
                        }
                        Some(b']' | b'}') => {
                            self.pos += 1;
                            self.close();
                        }
                        _ => return false,
                    }
                }
            }
        }
    }

    /// Reads what comes before an entry's value: `"key":` in an object.
    fn member(&mut self, object: bool) -> Option<Step> {
        self.skip_ws();
        if !object {
            return Some(Step::Value(None));
        }
        if self.b.get(self.pos) != Some(&b'"') {
            return None;
        }
        let (start, end, closed) = self.string_body();
        if !closed {
            return None;
        }
        self.skip_ws();
        if self.b.get(self.pos) != Some(&b':') {
            return None;
        }
        self.pos += 1;
        Some(Step::Value(Some((start, end))))
    }

    fn close(&mut self) {
        if let Some(Frame::Kept { node, .. }) = self.stack.pop() {
            let n = &mut self.nodes[node as usize];
            n.end = self.pos as u32;
            n.complete = true;
        }
    }

    /// Scans a string from its opening quote; returns its body's span and whether it
    /// ended, with `pos` after the closing quote.
    fn string_body(&mut self) -> (u32, u32, bool) {
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return (start as u32, end as u32, true);
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        self.pos = self.b.len();
        (start as u32, self.b.len() as u32, false)
    }

    /// Adds a node under the top frame, or only counts it there. Returns its index.
    fn add(&mut self, kind: Kind, key: Option<(u32, u32)>, start: usize) -> Option<u32> {
        let keep = self.nodes.len() < self.max_nodes
            && matches!(self.stack.last(), None | Some(Frame::Kept { .. }));
        let parent = match self.stack.last_mut() {
            Some(Frame::Kept { node, .. }) => {
                self.nodes[*node as usize].count += 1;
                *node
            }
            _ => NONE,
        };
        if !keep {
            return None;
        }
        let idx = self.nodes.len() as u32;
        self.nodes.push(Node {
            kind,
            key,
            start: start as u32,
            end: start as u32,
            parent,
            count: 0,
            kept: 0,
            first: NONE,
            next: NONE,
            complete: !matches!(kind, Kind::Object | Kind::Array | Kind::Str),
        });
        if let Some(Frame::Kept { node, last, .. }) = self.stack.last_mut() {
            let p = &mut self.nodes[*node as usize];
            p.kept += 1;
            if *last == NONE {
                p.first = idx;
            } else {
                self.nodes[*last as usize].next = idx;
            }
            *last = idx;
        }
        Some(idx)
    }

    /// Reads one value at `pos`; returns what to read next, or `None` at the end.
    fn value(&mut self, key: Option<(u32, u32)>) -> Option<Step> {
        let start = self.pos;
        let &first = self.b.get(start)?;
        match first {
            b'{' | b'[' => {
                let object = first == b'{';
                let kind = if object { Kind::Object } else { Kind::Array };
                self.pos += 1;
                let frame = match self.add(kind, key, start) {
                    Some(node) => Frame::Kept {
                        node,
                        last: NONE,
                        object,
                    },
                    None => Frame::Counted { object },
                };
                self.stack.push(frame);
                self.skip_ws();
                match self.b.get(self.pos) {
                    Some(b'}' | b']') => {
                        self.pos += 1;
                        self.close();
                        Some(Step::After)
                    }
                    Some(_) => self.member(object),
                    None => None,
                }
            }
            b'"' => {
                let idx = self.add(Kind::Str, key, start + 1);
                let (_, end, closed) = self.string_body();
                if let Some(i) = idx {
                    let n = &mut self.nodes[i as usize];
                    n.end = end;
                    n.complete = closed;
                }
                closed.then_some(Step::After)
            }
            _ => {
                while self.pos < self.b.len()
                    && (self.b[self.pos].is_ascii_alphanumeric()
                        || matches!(self.b[self.pos], b'+' | b'-' | b'.'))
                {
                    self.pos += 1;
                }
                if self.pos == start || (self.pos == self.b.len() && !self.whole) {
                    // Not a value, or a number the cut may have shortened.
                    return None;
                }
                let kind = match first {
                    b't' | b'f' => Kind::Bool,
                    b'n' => Kind::Null,
                    _ => Kind::Num,
                };
                if let Some(i) = self.add(kind, key, start) {
                    self.nodes[i as usize].end = self.pos as u32;
                }
                Some(Step::After)
            }
        }
    }
}

/// The text of a JSON string body with its escapes decoded; broken escapes (a cut, a
/// lone surrogate) become U+FFFD.
pub fn unescape(body: &str) -> String {
    if !body.contains('\\') {
        return body.to_owned();
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hi = hex4(&mut chars);
                let c = match hi {
                    Some(h @ 0xD800..=0xDBFF) => {
                        let mut look = chars.as_str().strip_prefix("\\u").unwrap_or("").chars();
                        match hex4(&mut look) {
                            Some(l @ 0xDC00..=0xDFFF) => {
                                chars = look;
                                char::from_u32(0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00))
                            }
                            _ => None,
                        }
                    }
                    Some(h) => char::from_u32(h),
                    None => None,
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => out.push('\u{FFFD}'),
        }
    }
    out
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(doc: &Doc<'_>) -> Vec<Kind> {
        doc.nodes.iter().map(|n| n.kind).collect()
    }

    #[test]
    fn a_whole_document_is_read_in_order_with_counts() {
        let doc = scan(
            r#"{"a": [1, 2.5e3, "x"], "b": {"c": null, "d": true}}"#,
            true,
            100,
        );
        assert!(doc.complete);
        assert_eq!(
            kinds(&doc),
            [
                Kind::Object,
                Kind::Array,
                Kind::Num,
                Kind::Num,
                Kind::Str,
                Kind::Object,
                Kind::Null,
                Kind::Bool
            ]
        );
        assert_eq!(
            (doc.nodes[0].count, doc.nodes[1].count, doc.nodes[5].count),
            (2, 3, 2)
        );
        let n = &doc.nodes[3];
        assert_eq!(&doc.text[n.start as usize..n.end as usize], "2.5e3");
        assert!(doc.nodes.iter().all(|n| n.complete));
    }

    #[test]
    fn past_the_node_limit_entries_are_still_counted() {
        let doc = scan("[[1,2,3],[4,5],[6]]", true, 3);
        assert!(doc.complete);
        assert_eq!(doc.nodes.len(), 3);
        assert_eq!(doc.nodes[0].count, 3);
        assert_eq!(doc.nodes[0].kept, 1);
        assert_eq!(doc.nodes[1].count, 3);
        assert_eq!(doc.nodes[1].kept, 1);
    }

    #[test]
    fn a_prefix_marks_what_it_cuts_and_drops_a_shortened_number() {
        let doc = scan(r#"{"a": [1, 2, 3"#, false, 100);
        assert!(!doc.complete);
        assert_eq!(
            kinds(&doc),
            [Kind::Object, Kind::Array, Kind::Num, Kind::Num]
        );
        assert!(!doc.nodes[0].complete && !doc.nodes[1].complete);
        let doc = scan(r#"["abc"#, false, 100);
        assert!(!doc.nodes[1].complete);
        assert_eq!(
            &doc.text[doc.nodes[1].start as usize..doc.nodes[1].end as usize],
            "abc"
        );
        assert!(scan("12", true, 10).complete);
    }

    #[test]
    fn nesting_has_no_depth_limit() {
        let text = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let doc = scan(&text, true, 200_000);
        assert!(doc.complete);
        assert_eq!(doc.nodes.len(), 100_001);
    }

    #[test]
    fn escapes_are_decoded_and_broken_ones_replaced() {
        assert_eq!(
            unescape(r#"a\"b\\c\nd\u00fc\ud83d\ude00"#),
            "a\"b\\c\nd\u{fc}\u{1F600}"
        );
        assert_eq!(unescape(r"\ud83d x"), "\u{FFFD} x");
        assert_eq!(unescape(r"cut\u00"), "cut\u{FFFD}");
    }
}
