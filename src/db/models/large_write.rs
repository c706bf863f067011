//! Writing a large item on PostgreSQL without copies of its data in the process.
//!
//! A bound parameter is copied twice on its way out: Diesel serializes it into its bind
//! buffer, and libpq copies the whole `Bind` message into its send buffer before it sends
//! a byte. A 24 MiB write held three times its size (the caller's data and both copies).
//! So data of [`STAGED_WRITE_BYTES`] or more goes in two statements of one transaction:
//! a binary `COPY` into a temporary table, sent from the caller's buffer in
//! [`COPY_CHUNK`] pieces (libpq's buffer stays that small), then the upsert, taking its
//! data from that table inside the server. The process holds the data once.
//!
//! SQLite binds the caller's text in place (no copy), so it needs no staging there.

use std::io::Write;

use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::pg::CopyFormat;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::upsert::excluded;

use super::cache_item::{Versioned, upsert_changes};
use super::{NewCacheItem, WrittenItem};
use crate::db::JsonText;
use crate::db::schema::cache_items;
use crate::db::search::fold;
use crate::db::types::SqlJson;

/// Data this size or larger is staged by `COPY` on PostgreSQL (see the module docs);
/// smaller data is bound, where the copies cost little and a second statement more.
pub const STAGED_WRITE_BYTES: usize = 1024 * 1024;

/// Bytes of the data sent per `COPY` message.
const COPY_CHUNK: usize = 64 * 1024;

diesel::table! {
    use crate::db::types::SqlJson;

    /// One transaction's staged data (a temporary table, dropped at commit).
    cache_item_upload (data) {
        /// The JSON text.
        data -> SqlJson,
    }
}

/// The upsert of `item` with its data staged first (PostgreSQL, see the module docs).
pub(super) fn upsert_staged(
    c: &mut PgConnection,
    item: &NewCacheItem<'_>,
) -> QueryResult<WrittenItem> {
    let versioned = Versioned::new();
    c.transaction(|c| {
        c.batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS cache_item_upload (data json) ON COMMIT DROP",
        )?;
        copy_in(c, item.data)?;
        let written = diesel::insert_into(cache_items::table)
            .values((
                cache_items::uuid.eq(item.uuid),
                cache_items::project_id.eq(item.project_id),
                cache_items::app_name.eq(item.app_name),
                cache_items::name.eq(item.name),
                cache_items::data.eq(sql::<SqlJson>("(SELECT data FROM cache_item_upload)")),
                cache_items::size_bytes.eq(item.size_bytes),
                cache_items::date_modified.eq(item.date_modified),
                cache_items::user_id.eq(item.user_id),
                cache_items::data_sha256.eq(&item.data_sha256),
                cache_items::origin.eq(item.origin),
                cache_items::job_id.eq(item.job_id),
                cache_items::name_fold.eq(fold(item.name)),
                cache_items::app_fold.eq(fold(item.app_name)),
            ))
            .on_conflict((
                cache_items::project_key,
                cache_items::app_name,
                cache_items::name,
            ))
            .do_update()
            .set(upsert_changes!(versioned))
            .returning(WrittenItem::as_returning())
            .get_result(c)?;
        // A second large write in the same transaction stages its own row.
        diesel::delete(cache_item_upload::table).execute(c)?;
        Ok(written)
    })
}

/// The binary `COPY` of one row of one field, `data`, sent in [`COPY_CHUNK`] pieces.
fn copy_in(c: &mut PgConnection, data: &JsonText) -> QueryResult<()> {
    let bytes = data.as_str().as_bytes();
    let len = i32::try_from(bytes.len())
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let io = |e: std::io::Error| diesel::result::Error::SerializationError(Box::new(e));
    diesel::copy_from(cache_item_upload::table)
        .from_raw_data(cache_item_upload::table, |out: &mut dyn Write| {
            // Signature, flags, header extension length; the tuple: one field, its
            // length, its bytes (json's binary form is its text); the trailer.
            out.write_all(b"PGCOPY\n\xff\r\n\0").map_err(io)?;
            out.write_all(&0i32.to_be_bytes()).map_err(io)?;
            out.write_all(&0i32.to_be_bytes()).map_err(io)?;
            out.write_all(&1i16.to_be_bytes()).map_err(io)?;
            out.write_all(&len.to_be_bytes()).map_err(io)?;
            for chunk in bytes.chunks(COPY_CHUNK) {
                out.write_all(chunk).map_err(io)?;
            }
            out.write_all(&(-1i16).to_be_bytes()).map_err(io)
        })
        .with_format(CopyFormat::Binary)
        .execute(c)
        .map(drop)
}
