//! Earlier versions of cache items. A write that changes an item's data bumps its
//! `version` and points the item at a new data row; the `cache_items_keep_version`
//! trigger (see the migrations) then keeps the version it replaced here, with the
//! pointer to its data row (the data is neither read nor copied), and prunes to the
//! newest [`KEEP_SETTING`] versions, inside the writing statement (see
//! [`ItemData`](super::ItemData)). The current version lives in `cache_items` only.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::item_data::VersionData;
use crate::db::schema::{cache_item_versions, site_settings};
use crate::db::types::text_enum;
use crate::db::{DbConn, JsonText};

/// The `site_settings` row the trigger reads: how many earlier versions to keep per
/// item (`SODARCACHE_HISTORY_VERSIONS`, default 5, 0 keeps none).
pub const KEEP_SETTING: &str = "history_versions";

text_enum! {
    /// Who wrote an item's data.
    pub enum WriteOrigin {
        /// A REST `set`.
        Api = "api",
        /// A plugin during a sync job.
        Sync = "sync",
        /// Other code calling the backend API.
        Library = "library",
    }
}

/// An earlier version of an item, data included.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = cache_item_versions)]
pub struct ItemVersion {
    /// Version number (1 is the first data the item had).
    pub version: i64,
    /// The JSON document as it was (stored apart: see [`VersionData`]).
    #[diesel(select_expression = VersionData, select_expression_type = VersionData)]
    pub data: JsonText,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// When it was written (UTC).
    pub date_modified: NaiveDateTime,
    /// Who wrote it.
    pub user_id: Option<i64>,
    /// How it was written (none for data written before history existed).
    pub origin: Option<WriteOrigin>,
    /// The sync job that wrote it.
    pub job_id: Option<i64>,
}

/// An earlier version without its data, for listings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = cache_item_versions)]
pub struct ItemVersionSummary {
    /// Version number.
    pub version: i64,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// When it was written (UTC).
    pub date_modified: NaiveDateTime,
    /// Who wrote it.
    pub user_id: Option<i64>,
    /// How it was written.
    pub origin: Option<WriteOrigin>,
    /// The sync job that wrote it.
    pub job_id: Option<i64>,
}

impl ItemVersion {
    /// The item's earlier versions, newest first, without data.
    pub fn list_for_item(conn: &mut DbConn, item_id: i64) -> QueryResult<Vec<ItemVersionSummary>> {
        cache_item_versions::table
            .filter(cache_item_versions::item_id.eq(item_id))
            .order(cache_item_versions::version.desc())
            .select(ItemVersionSummary::as_select())
            .load(conn)
    }

    /// The size of one earlier version, if it is kept (its data is not read).
    pub fn size_of(conn: &mut DbConn, item_id: i64, version: i64) -> QueryResult<Option<i64>> {
        cache_item_versions::table
            .filter(cache_item_versions::item_id.eq(item_id))
            .filter(cache_item_versions::version.eq(version))
            .select(cache_item_versions::size_bytes)
            .first(conn)
            .optional()
    }

    /// One earlier version, with its data.
    pub fn find(conn: &mut DbConn, item_id: i64, version: i64) -> QueryResult<Option<ItemVersion>> {
        cache_item_versions::table
            .filter(cache_item_versions::item_id.eq(item_id))
            .filter(cache_item_versions::version.eq(version))
            .select(ItemVersion::as_select())
            .first(conn)
            .optional()
    }

    /// Stores how many earlier versions the trigger keeps per item, for every writer of
    /// this database. Lowering it prunes at each item's next change.
    ///
    /// Every command and server start calls this, and almost every time the stored
    /// value is the same: then it is only read. Writing it anyway cost a commit each
    /// time: a WAL flush on PostgreSQL (4-33 ms on the bench machine) and the write
    /// lock on SQLite. Two starts with different values racing still leave one of the
    /// two, as the upsert alone did.
    pub fn set_keep(conn: &mut DbConn, keep: u32) -> QueryResult<()> {
        let value = keep.to_string();
        let stored: Option<String> = site_settings::table
            .filter(site_settings::name.eq(KEEP_SETTING))
            .select(site_settings::value)
            .first(conn)
            .optional()?;
        if stored.as_deref() == Some(value.as_str()) {
            return Ok(());
        }
        crate::on_backend!(conn, |c| {
            diesel::insert_into(site_settings::table)
                .values((
                    site_settings::name.eq(KEEP_SETTING),
                    site_settings::value.eq(&value),
                ))
                .on_conflict(site_settings::name)
                .do_update()
                .set(site_settings::value.eq(&value))
                .execute(c)
        })
        .map(drop)
    }
}

/// The public UUIDs of these sync jobs, by row id.
pub fn job_uuids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, crate::db::DbUuid)>> {
    use crate::db::schema::sync_jobs;
    sync_jobs::table
        .filter(sync_jobs::id.eq_any(ids))
        .select((sync_jobs::id, sync_jobs::uuid))
        .load(conn)
}
