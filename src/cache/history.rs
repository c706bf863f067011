//! Item history as readers see it: the current version (in `cache_items`) and the
//! earlier ones the history trigger kept (`cache_item_versions`), newest first.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::Result;
use crate::db::models::item_version::job_uuids;
use crate::db::models::{CacheItem, ItemVersion, User, WriteOrigin};
use crate::db::{DbConn, DbUuid, JsonText};

/// One version of an item, without its data.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    /// Version number: 1 is the item's first data.
    pub version: i64,
    /// When this data was written (UTC).
    pub date_modified: NaiveDateTime,
    /// Size of the JSON text in bytes.
    pub size_bytes: i64,
    /// Who wrote it.
    pub user: Option<DbUuid>,
    /// How it was written (none: before history existed).
    pub origin: Option<WriteOrigin>,
    /// The sync job that wrote it.
    pub job: Option<DbUuid>,
    /// Whether this is the item's data now.
    pub current: bool,
}

/// One version of an item with its data.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionData {
    /// Version number.
    pub version: i64,
    /// The document as it was.
    pub data: JsonText,
    /// When it was written (UTC).
    pub date_modified: NaiveDateTime,
    /// Who wrote it.
    pub user: Option<DbUuid>,
}

/// Every version of `item` that is still kept, the current one first.
pub fn versions(conn: &mut DbConn, item: &CacheItem) -> Result<Vec<VersionInfo>> {
    let earlier = ItemVersion::list_for_item(conn, item.id)?;
    let mut user_ids: Vec<i64> = earlier.iter().filter_map(|v| v.user_id).collect();
    user_ids.extend(item.user_id);
    let mut job_ids: Vec<i64> = earlier.iter().filter_map(|v| v.job_id).collect();
    job_ids.extend(item.job_id);
    let users: HashMap<i64, DbUuid> = User::uuids(conn, &user_ids)?.into_iter().collect();
    let jobs: HashMap<i64, DbUuid> = job_uuids(conn, &job_ids)?.into_iter().collect();
    let lookup =
        |map: &HashMap<i64, DbUuid>, id: Option<i64>| id.and_then(|i| map.get(&i).copied());
    let mut all = Vec::with_capacity(earlier.len() + 1);
    all.push(VersionInfo {
        version: item.version,
        date_modified: item.date_modified,
        size_bytes: item.size_bytes,
        user: lookup(&users, item.user_id),
        origin: item.origin,
        job: lookup(&jobs, item.job_id),
        current: true,
    });
    all.extend(earlier.into_iter().map(|v| VersionInfo {
        version: v.version,
        date_modified: v.date_modified,
        size_bytes: v.size_bytes,
        user: lookup(&users, v.user_id),
        origin: v.origin,
        job: lookup(&jobs, v.job_id),
        current: false,
    }));
    Ok(all)
}

/// Version `version` of `item` with its data, or none when it was never written or
/// is no longer kept.
pub fn version_data(
    conn: &mut DbConn,
    item: CacheItem,
    version: i64,
) -> Result<Option<VersionData>> {
    let (data, date_modified, user_id) = if version == item.version {
        (item.data, item.date_modified, item.user_id)
    } else {
        match ItemVersion::find(conn, item.id, version)? {
            Some(v) => (v.data, v.date_modified, v.user_id),
            None => return Ok(None),
        }
    };
    let user = match user_id {
        Some(id) => User::uuids(conn, &[id])?.into_iter().next().map(|(_, u)| u),
        None => None,
    };
    Ok(Some(VersionData {
        version,
        data,
        date_modified,
        user,
    }))
}

/// Documents larger than this (either side) are not diffed on a page: the diff would
/// be slow to compute and too long to read.
pub const MAX_DIFF_BYTES: i64 = 4 * 1024 * 1024;
/// Longest old or new value shown in a diff row, in characters.
pub const MAX_VALUE_CHARS: usize = 200;
/// Most changes listed in one comparison (the rest are counted).
pub const MAX_CHANGES: usize = 500;

/// What happened at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Only in the newer version.
    Added,
    /// Only in the older version.
    Removed,
    /// In both, with different values.
    Changed,
}

impl ChangeKind {
    /// `added`, `removed` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One change of a comparison, values as compact JSON shortened to
/// [`MAX_VALUE_CHARS`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The JSON path (`$.a.b[2]`).
    pub path: String,
    /// The value in the older version.
    pub old: Option<String>,
    /// The value in the newer version.
    pub new: Option<String>,
}

/// Two versions of an item side by side.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// The structural diff from `from` to `to`: at most [`MAX_CHANGES`] rows, then
    /// `more` not shown.
    Diff {
        /// The older version's number.
        from: i64,
        /// The newer version's number.
        to: i64,
        /// The changes, in document order.
        changes: Vec<ChangeRow>,
        /// Changes not listed.
        more: usize,
    },
    /// A version asked for is not kept (pruned, or never written).
    Missing(i64),
    /// One of the documents is larger than [`MAX_DIFF_BYTES`].
    TooLarge,
}

/// Compares versions `from` and `to` of `item` (either order; the lower is the older).
pub fn compare(conn: &mut DbConn, item: &CacheItem, from: i64, to: i64) -> Result<Comparison> {
    let (from, to) = (from.min(to), from.max(to));
    // Sizes first: a version too large to diff is never read (the item page compares
    // the two newest by default, and a large item's earlier version is large too).
    for version in [from, to] {
        let size = if version == item.version {
            Some(item.size_bytes)
        } else {
            ItemVersion::size_of(conn, item.id, version)?
        };
        match size {
            None => return Ok(Comparison::Missing(version)),
            Some(size) if size > MAX_DIFF_BYTES => return Ok(Comparison::TooLarge),
            Some(_) => {}
        }
    }
    let mut docs = Vec::with_capacity(2);
    for version in [from, to] {
        let (data, size) = if version == item.version {
            (item.data.clone(), item.size_bytes)
        } else {
            match ItemVersion::find(conn, item.id, version)? {
                Some(v) => (v.data, v.size_bytes),
                None => return Ok(Comparison::Missing(version)),
            }
        };
        if size > MAX_DIFF_BYTES {
            return Ok(Comparison::TooLarge);
        }
        docs.push(data.to_value());
    }
    let all = super::diff::diff(&docs[0], &docs[1]);
    let more = all.len().saturating_sub(MAX_CHANGES);
    let short = |v: &serde_json::Value| super::diff::shortened(v, MAX_VALUE_CHARS);
    let changes = all
        .into_iter()
        .take(MAX_CHANGES)
        .map(|c| match c {
            super::diff::Change::Added { path, new } => ChangeRow {
                kind: ChangeKind::Added,
                path,
                old: None,
                new: Some(short(new)),
            },
            super::diff::Change::Removed { path, old } => ChangeRow {
                kind: ChangeKind::Removed,
                path,
                old: Some(short(old)),
                new: None,
            },
            super::diff::Change::Changed { path, old, new } => ChangeRow {
                kind: ChangeKind::Changed,
                path,
                old: Some(short(old)),
                new: Some(short(new)),
            },
        })
        .collect();
    Ok(Comparison::Diff {
        from,
        to,
        changes,
        more,
    })
}

/// Every kept version of `item` (current first) with the writers' usernames by id.
pub fn versions_with_writers(
    conn: &mut DbConn,
    item: &CacheItem,
) -> Result<(Vec<VersionInfo>, HashMap<DbUuid, String>)> {
    let all = versions(conn, item)?;
    let mut ids: Vec<i64> = ItemVersion::list_for_item(conn, item.id)?
        .iter()
        .filter_map(|v| v.user_id)
        .collect();
    ids.extend(item.user_id);
    ids.sort_unstable();
    ids.dedup();
    let by_id: HashMap<i64, String> = User::usernames(conn, &ids)?.into_iter().collect();
    let uuids: HashMap<i64, DbUuid> = User::uuids(conn, &ids)?.into_iter().collect();
    let names = uuids
        .into_iter()
        .filter_map(|(id, uuid)| by_id.get(&id).map(|n| (uuid, n.clone())))
        .collect();
    Ok((all, names))
}
