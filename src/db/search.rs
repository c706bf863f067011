//! Search and sort keys computed in Rust, so both backends agree exactly.
//!
//! SQLite's `lower()` and `LIKE` fold ASCII only, and PostgreSQL's text order follows
//! the database's collation; keys written by the same Rust code on every write and
//! compared byte for byte (`COLLATE "C"` on PostgreSQL) give the same results and the
//! same order on both. Existing rows are filled by [`backfill`] at start-up.

use diesel::prelude::*;

use super::DbConn;
use super::schema::{cache_items, projects};

/// Case-folds `s` for case-insensitive search over all of Unicode: each character's
/// lowercase form (`Ü` → `ü`, `Σ` → `σ`), plus the full foldings lowercasing misses
/// (`ß`/`ẞ` → `ss`, final `ς` → `σ`, long `ſ` → `s`). No normalization: a decomposed
/// `U` + combining diaeresis stays distinct from the precomposed `Ü`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'ς' => out.push('σ'),
            'ſ' => out.push('s'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The natural sort key of a title: folded, and every run of ASCII digits replaced by
/// its length (three digits) and its value without leading zeros, so that
/// `Project 2` < `Project 10` < `project 100` by plain byte comparison.
pub fn natural_key(s: &str) -> String {
    let folded = fold(s);
    let mut out = String::with_capacity(folded.len() + 8);
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.is_empty() {
            return;
        }
        let value = digits.trim_start_matches('0');
        let value = if value.is_empty() { "0" } else { value };
        out.push_str(&format!("{:03}", value.len()));
        out.push_str(value);
        digits.clear();
    };
    for c in folded.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// A `LIKE` pattern (with `ESCAPE '\'`) matching folded text that contains the folded
/// `search`; `%`, `_` and `\` in it are literal.
pub fn like_pattern(search: &str) -> String {
    let mut p = String::with_capacity(search.len() + 2);
    p.push('%');
    for ch in fold(search).chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// Rows per backfill transaction.
const BATCH: i64 = 1000;

/// Fills the search and sort keys of rows written before they existed (or by an older
/// server), in batches. Cheap when there is nothing to do: the unfolded rows have a
/// partial index. Returns how many rows were filled.
pub fn backfill(conn: &mut DbConn) -> QueryResult<usize> {
    let mut filled = 0;
    loop {
        let rows: Vec<(i64, String, String)> = cache_items::table
            .filter(cache_items::name_fold.is_null())
            .select((cache_items::id, cache_items::app_name, cache_items::name))
            .order(cache_items::id)
            .limit(BATCH)
            .load(conn)?;
        if rows.is_empty() {
            break;
        }
        conn.transaction(|conn| {
            for (id, app, name) in &rows {
                diesel::update(cache_items::table.find(id))
                    .set((
                        cache_items::name_fold.eq(fold(name)),
                        cache_items::app_fold.eq(fold(app)),
                    ))
                    .execute(conn)?;
            }
            QueryResult::Ok(())
        })?;
        filled += rows.len();
    }
    // `title_sort` is never NULL (migration 992001 gave rows without keys the plain
    // lowercase title): rows without `title_fold` still lack the real keys.
    let rows: Vec<(i64, String)> = projects::table
        .filter(projects::title_fold.is_null())
        .select((projects::id, projects::full_title))
        .load(conn)?;
    if !rows.is_empty() {
        conn.transaction(|conn| {
            for (id, full_title) in &rows {
                diesel::update(projects::table.find(id))
                    .set((
                        projects::title_fold.eq(fold(full_title)),
                        projects::title_sort.eq(natural_key(full_title)),
                    ))
                    .execute(conn)?;
            }
            QueryResult::Ok(())
        })?;
    }
    Ok(filled + rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_covers_non_ascii_letters() {
        assert_eq!(fold("Übersicht Ärzte"), "übersicht ärzte");
        assert_eq!(fold("ÜBERSICHT"), fold("übersicht"));
        assert_eq!(fold("STRASSE"), fold("Straße"));
        assert_eq!(fold("ΣΟΦΟΣ"), fold("σοφος"));
        assert_eq!(fold("σοφός"), "σοφόσ");
        assert_eq!(fold("ДАННЫЕ"), "данные");
    }

    #[test]
    fn natural_keys_order_numbers_by_value() {
        let mut titles = vec![
            "Bulk project 10",
            "Bulk project 2",
            "bulk project 1",
            "Bulk project 100",
            "Bulk project 02x",
            "Bulk",
        ];
        titles.sort_by_key(|t| natural_key(t));
        assert_eq!(
            titles,
            [
                "Bulk",
                "bulk project 1",
                "Bulk project 2",
                "Bulk project 02x",
                "Bulk project 10",
                "Bulk project 100"
            ]
        );
        assert_eq!(natural_key("a007b"), "a0017b");
    }

    #[test]
    fn like_patterns_escape_wildcards_and_fold() {
        assert_eq!(like_pattern("Ä_%\\"), "%ä\\_\\%\\\\%");
    }
}
