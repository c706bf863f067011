//! A structural diff of two JSON documents: the paths that were added, removed or
//! changed, with old and new values. Objects are compared key by key, arrays index
//! by index (an item inserted at the front shows as changes down the array: simple
//! and predictable); a value whose type changed is one change at its path.

use serde_json::Value;

/// One difference, at a path like `samples[2].name` (`$` is the whole document).
#[derive(Debug, Clone, PartialEq)]
pub enum Change<'a> {
    /// Only in the new document.
    Added {
        /// Where.
        path: String,
        /// The new value.
        new: &'a Value,
    },
    /// Only in the old document.
    Removed {
        /// Where.
        path: String,
        /// The old value.
        old: &'a Value,
    },
    /// In both, with different values (scalars, or a change of type).
    Changed {
        /// Where.
        path: String,
        /// The old value.
        old: &'a Value,
        /// The new value.
        new: &'a Value,
    },
}

impl Change<'_> {
    /// The path of the change.
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Changed { path, .. } => path,
        }
    }
}

/// Every difference from `old` to `new`, in document order (object keys sorted).
pub fn diff<'a>(old: &'a Value, new: &'a Value) -> Vec<Change<'a>> {
    let mut out = Vec::new();
    walk(old, new, &mut String::from("$"), &mut out);
    out
}

fn walk<'a>(old: &'a Value, new: &'a Value, path: &mut String, out: &mut Vec<Change<'a>>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a
                .keys()
                .chain(b.keys().filter(|k| !a.contains_key(*k)))
                .collect();
            keys.sort_unstable();
            for key in keys {
                let len = path.len();
                push_key(path, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(x, y, path, out),
                    (Some(x), None) => out.push(Change::Removed {
                        path: path.clone(),
                        old: x,
                    }),
                    (None, Some(y)) => out.push(Change::Added {
                        path: path.clone(),
                        new: y,
                    }),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => walk(x, y, path, out),
                    (Some(x), None) => out.push(Change::Removed {
                        path: path.clone(),
                        old: x,
                    }),
                    (None, Some(y)) => out.push(Change::Added {
                        path: path.clone(),
                        new: y,
                    }),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (a, b) if a != b => out.push(Change::Changed {
            path: path.clone(),
            old: a,
            new: b,
        }),
        _ => {}
    }
}

/// `.key` for plain keys, `["..."]` (JSON-quoted) for any other.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_owned()).to_string());
        path.push(']');
    }
}

/// `value` as compact JSON, cut to at most `max` characters (then ending in `…`).
pub fn shortened(value: &Value, max: usize) -> String {
    let text = value.to_string();
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(changes: &[Change<'_>]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Added { path, new } => format!("+ {path} = {new}"),
                Change::Removed { path, old } => format!("- {path} = {old}"),
                Change::Changed { path, old, new } => format!("~ {path}: {old} -> {new}"),
            })
            .collect()
    }

    #[test]
    fn nested_changes_name_their_paths_with_old_and_new_values() {
        let old = json!({
            "run": { "id": 7, "samples": [{ "name": "a", "ok": true }, { "name": "b" }] },
            "gone": [1, 2],
            "same": { "x": 1 },
        });
        let new = json!({
            "run": { "id": 8, "samples": [{ "name": "a", "ok": false }, { "name": "b" }, { "name": "c" }] },
            "added": null,
            "same": { "x": 1 },
        });
        assert_eq!(
            paths(&diff(&old, &new)),
            [
                "+ $.added = null",
                "- $.gone = [1,2]",
                "~ $.run.id: 7 -> 8",
                "~ $.run.samples[0].ok: true -> false",
                "+ $.run.samples[2] = {\"name\":\"c\"}",
            ]
        );
    }

    #[test]
    fn equal_documents_have_no_changes_and_a_type_change_is_one() {
        let doc = json!({ "a": [1, { "b": "c" }] });
        assert!(diff(&doc, &doc.clone()).is_empty());
        assert_eq!(
            paths(&diff(&json!({ "a": [1] }), &json!({ "a": { "0": 1 } }))),
            ["~ $.a: [1] -> {\"0\":1}"]
        );
        assert_eq!(paths(&diff(&json!(1), &json!("1"))), ["~ $: 1 -> \"1\""]);
        assert_eq!(
            paths(&diff(&json!([1, 2, 3]), &json!([1]))),
            ["- $[1] = 2", "- $[2] = 3"]
        );
    }

    #[test]
    fn unusual_keys_are_quoted() {
        let (old, new) = (json!({}), json!({ "a b": 1, "2x": 2, "": 3, "é": 4 }));
        let changes = diff(&old, &new);
        let got: Vec<&str> = changes.iter().map(Change::path).collect();
        assert_eq!(got, ["$[\"\"]", "$[\"2x\"]", "$[\"a b\"]", "$[\"é\"]"]);
    }

    #[test]
    fn long_values_are_shortened_on_a_character_boundary() {
        let v = json!("ääääääääää");
        assert_eq!(shortened(&v, 100), "\"ääääääääää\"");
        let s = shortened(&v, 5);
        assert_eq!(s.chars().count(), 5);
        assert!(s.ends_with('…'));
    }
}
