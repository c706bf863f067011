//! The stored preview of a large item: the first part of its data, which the item page
//! draws instead of reading the whole document (issue 8).
//!
//! One row per item larger than [`crate::cache::PREVIEW_ABOVE_BYTES`], written in the
//! item's write transaction and tagged with the SHA-256 of the data it was cut from:
//! the page uses it only while that matches the item's `data_sha256`. The database
//! deletes it with its item (cascade) and when the item shrinks below the limit (a
//! trigger).

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::NewCacheItem;
use crate::db::schema::{cache_item_previews, cache_items};
use crate::db::{DbConn, Scope};

/// Store previews.
pub struct ItemPreview;

impl ItemPreview {
    /// Stores `item`'s preview, if it has one, for the row `item_id`.
    pub fn store(conn: &mut DbConn, item_id: i64, item: &NewCacheItem<'_>) -> QueryResult<()> {
        let Some(preview) = item.preview else {
            return Ok(());
        };
        let row = (
            cache_item_previews::item_id.eq(item_id),
            cache_item_previews::data_sha256.eq(&item.data_sha256),
            cache_item_previews::preview.eq(preview),
        );
        crate::on_backend!(conn, |c| diesel::insert_into(cache_item_previews::table)
            .values(row)
            .on_conflict(cache_item_previews::item_id)
            .do_update()
            .set((
                cache_item_previews::data_sha256.eq(excluded(cache_item_previews::data_sha256)),
                cache_item_previews::preview.eq(excluded(cache_item_previews::preview)),
            ))
            .execute(c))?;
        Ok(())
    }

    /// Stores the previews of the rows just written by key (a multi-row upsert, which
    /// returns no ids): one lookup and one write per item that has one; none for the
    /// usual batch of small items.
    pub fn store_by_key(conn: &mut DbConn, items: &[NewCacheItem<'_>]) -> QueryResult<()> {
        for item in items.iter().filter(|i| i.preview.is_some()) {
            let id: i64 = cache_items::table
                .filter(
                    cache_items::project_key.eq(Scope::from_project_id(item.project_id).live_key()),
                )
                .filter(cache_items::app_name.eq(item.app_name))
                .filter(cache_items::name.eq(item.name))
                .select(cache_items::id)
                .first(conn)?;
            Self::store(conn, id, item)?;
        }
        Ok(())
    }
}
