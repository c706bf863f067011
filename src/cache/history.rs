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
