//! The item page's history: the kept versions and a structural diff between any two
//! (`?from=N&to=M`; by default the newest earlier version against the current one).

use serde::Deserialize;

use super::format::{When, size};
use crate::Result;
use crate::cache::history::{Comparison, compare, versions_with_writers};
use crate::db::DbConn;
use crate::db::models::{CacheItem, User};

/// `?from=N&to=M` of the item page; anything that is not a positive number is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CompareQuery {
    from: Option<String>,
    to: Option<String>,
}

impl CompareQuery {
    fn version(raw: Option<&str>) -> Option<i64> {
        raw.and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|&v| v >= 1)
    }
}

/// One row of the versions table.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Version number.
    pub version: i64,
    /// When it was written.
    pub written: When,
    /// Writer's username, or `—`.
    pub who: String,
    /// `api`, `sync`, `library`, or `—`.
    pub origin: String,
    /// The job that wrote it, when the viewer may open its page.
    pub job: Option<String>,
    /// Its size.
    pub size: String,
    /// The item's data now.
    pub current: bool,
    /// The next older kept version, for a "changes" link.
    pub previous: Option<i64>,
}

/// The history section of the item page.
#[derive(Debug, Clone)]
pub struct HistoryView {
    /// Kept versions, newest first.
    pub versions: Vec<VersionRow>,
    /// The comparison shown, if there are two versions to compare.
    pub comparison: Option<Comparison>,
    /// The versions compared (older, newer), for the form's selections.
    pub from: i64,
    /// See `from`.
    pub to: i64,
}

/// Gathers the history section for `viewer`; site-wide jobs link for superusers only.
pub fn history_view(
    conn: &mut DbConn,
    item: &CacheItem,
    viewer: &User,
    query: &CompareQuery,
) -> Result<HistoryView> {
    let (versions, names) = versions_with_writers(conn, item)?;
    let job_links = item.project_id.is_some() || viewer.is_superuser;
    let rows: Vec<VersionRow> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| VersionRow {
            version: v.version,
            written: When::new(v.date_modified),
            who: v
                .user
                .and_then(|u| names.get(&u).cloned())
                .unwrap_or_else(|| "—".into()),
            origin: v.origin.map_or("—", |o| o.as_str()).to_owned(),
            job: v.job.filter(|_| job_links).map(|j| j.to_string()),
            size: size(v.size_bytes),
            current: v.current,
            previous: versions.get(i + 1).map(|p| p.version),
        })
        .collect();
    let to = CompareQuery::version(query.to.as_deref()).unwrap_or(item.version);
    let from = CompareQuery::version(query.from.as_deref())
        .or_else(|| versions.iter().map(|v| v.version).find(|&v| v < to));
    let (comparison, from) = match from {
        Some(from) if from != to => (Some(compare(conn, item, from, to)?), from),
        _ => (None, to),
    };
    let (from, to) = (from.min(to), from.max(to));
    Ok(HistoryView {
        versions: rows,
        comparison,
        from,
        to,
    })
}
