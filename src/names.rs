//! One rule for what people and programs name things, applied the same way on both
//! backends before anything reaches the database:
//!
//! - **Item names, app names and usernames contain no control characters** (Unicode
//!   category Cc: U+0000 to U+001F and U+007F to U+009F, NUL, tab and newline
//!   included). They are keys, shown in pages and logs: a newline forged log lines,
//!   and PostgreSQL refuses NUL in text. The same goes for every path segment and
//!   query parameter of a request (the redirect target `next` excepted: it falls back
//!   to the overview instead).
//! - **Percent-escapes in a URL or a form body decode to UTF-8**: `%FF` is refused,
//!   never replaced by U+FFFD (two different names would write the same item).
//!
//! Both are a 400 whose text names the rule. [`SodarCache`](crate::cache::SodarCache)
//! checks names on every call (plugins, commands, API), and [`check_url`] runs on every
//! HTTP request (the API after media type negotiation, the admin pages first).

use std::borrow::Cow;

use crate::{Error, Result};

/// The rule, as error messages state it.
pub const CONTROL_RULE: &str =
    "must not contain control characters (U+0000 to U+001F, U+007F to U+009F)";

/// Whether `c` is a control character in the sense of the rule.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Fails with a 400 naming the rule when `value` has a control character; `what` is
/// the plural noun that starts the message (`"Item names"`).
pub fn check(what: &str, value: &str) -> Result<()> {
    if value.chars().any(is_control) {
        Err(Error::BadRequest(format!("{what} {CONTROL_RULE}")))
    } else {
        Ok(())
    }
}

/// Percent-decodes `s` (with `+` as a space when `plus_is_space`, as in query strings
/// and form bodies); a result that is not UTF-8 is a 400.
pub fn decode(s: &str, plus_is_space: bool) -> Result<Cow<'_, str>> {
    if !(s.contains('%') || plus_is_space && s.contains('+')) {
        return Ok(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                // A lone `%` stands for itself, as browsers and actix read it.
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| {
        Error::BadRequest("Percent-escapes must decode to UTF-8 text (such as %C3%A9 for é)".into())
    })
}

/// Checks a request's path and query string: every segment and parameter decodes to
/// UTF-8 and has no control characters (the value of `next` may: see the login page).
pub fn check_url(path: &str, query: &str) -> Result<()> {
    for segment in path.split('/') {
        check("Paths", &decode(segment, false)?)?;
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key, true)?;
        check("Query parameters", &key)?;
        let value = decode(value, true)?;
        if key != "next" {
            check("Query parameters", &value)?;
        }
    }
    Ok(())
}

/// `s` with every character that could forge or hide log text escaped: control
/// characters (`\n`, `\0`, `\u{1b}`, ...), line and paragraph separators and the
/// bidirectional overrides and isolates (which reorder what a terminal shows).
pub fn escape_for_log(s: &str) -> Cow<'_, str> {
    let hides = |c: char| {
        is_control(c)
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(hides) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hides(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_cannot_break_lines_or_hide_itself() {
        assert_eq!(escape_for_log("plain ünï"), "plain ünï");
        assert_eq!(
            escape_for_log("x\nINFO Created superuser \"mallory\""),
            "x\\nINFO Created superuser \"mallory\""
        );
        assert_eq!(escape_for_log("a\0b\u{1b}[31m\r"), "a\\0b\\u{1b}[31m\\r");
        assert_eq!(escape_for_log("evil\u{202e}txt"), "evil\\u{202e}txt");
    }

    #[test]
    fn control_characters_are_refused_with_the_rule() {
        for bad in [
            "a\0b",
            "\0",
            "line\nbreak",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let e = check("Item names", bad).unwrap_err();
            assert_eq!(e.to_string(), format!("Item names {CONTROL_RULE}"));
        }
        for good in [
            "plain",
            "with space",
            "ünïcødé",
            "日本",
            "emoji 🦀",
            "a/b:c",
        ] {
            check("Item names", good).unwrap();
        }
    }

    #[test]
    fn escapes_must_decode_to_utf8() {
        assert_eq!(decode("caf%C3%A9", false).unwrap(), "café");
        assert_eq!(decode("a+b", true).unwrap(), "a b");
        assert_eq!(decode("a+b", false).unwrap(), "a+b");
        assert_eq!(decode("100%", false).unwrap(), "100%");
        assert!(decode("%FF", false).is_err());
        assert!(decode("%FE%FF", true).is_err());
        assert!(decode("%C3", false).is_err(), "a truncated sequence");
    }

    #[test]
    fn urls_are_checked_segment_by_segment_and_next_may_fall_back() {
        check_url("/cache/api/retrieve/p/app/item", "page=2").unwrap();
        assert!(check_url("/cache/api/retrieve/p/app/%00x", "").is_err());
        assert!(check_url("/cache/api/retrieve/p/app/%FF", "").is_err());
        assert!(check_url("/cache/project/x", "q=%0a").is_err());
        assert!(check_url("/cache/project/x", "q=%FF").is_err());
        check_url("/login", "next=/%09/evil.example").unwrap();
        assert!(check_url("/login", "next=%FF").is_err());
    }
}
