//! Writing a large item on PostgreSQL without copies of its data in the process.
//!
//! A bound parameter is copied twice on its way out: Diesel serializes it into its bind
//! buffer, and libpq copies the whole `Bind` message into its send buffer before it sends
//! a byte. A 24 MiB write held three times its size (the caller's data and both copies).
//! So data of [`STAGED_WRITE_BYTES`] or more is sent by a binary `COPY` straight into
//! its data row (`cache_item_data`, under an id taken from the table's sequence first),
//! from the caller's buffer in [`COPY_CHUNK`] pieces (libpq's buffer stays that small);
//! the item's upsert then points at that row. The process holds the data once.
//!
//! SQLite binds the caller's text in place (no copy), so it needs no staging there.

use std::io::Write;

use diesel::pg::CopyFormat;
use diesel::prelude::*;

use super::item_data::IdRow;
use crate::db::JsonText;
use crate::db::schema::cache_item_data;

/// Data this size or larger is sent by `COPY` on PostgreSQL (see the module docs);
/// smaller data is bound, where the copies cost little and a second statement more.
pub const STAGED_WRITE_BYTES: usize = 1024 * 1024;

/// Bytes of the data sent per `COPY` message.
const COPY_CHUNK: usize = 64 * 1024;

/// Stores `data` as a new data row by `COPY` (PostgreSQL, see the module docs);
/// returns the row's id.
pub(super) fn copy_data(c: &mut PgConnection, data: &JsonText) -> QueryResult<i64> {
    let id = diesel::sql_query("SELECT nextval('cache_item_data_id_seq') AS id")
        .get_result::<IdRow>(c)?
        .id;
    copy_in(c, id, data)?;
    Ok(id)
}

/// The binary `COPY` of one row of two fields, `id` and `data`, the data sent in
/// [`COPY_CHUNK`] pieces.
fn copy_in(c: &mut PgConnection, id: i64, data: &JsonText) -> QueryResult<()> {
    let bytes = data.as_str().as_bytes();
    let len = i32::try_from(bytes.len())
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let io = |e: std::io::Error| diesel::result::Error::SerializationError(Box::new(e));
    let target = (cache_item_data::id, cache_item_data::data);
    diesel::copy_from(cache_item_data::table)
        .from_raw_data(target, |out: &mut dyn Write| {
            // Signature, flags, header extension length; the tuple: two fields, the id
            // (length 8, big-endian int8), the data (its length, its bytes: json's
            // binary form is its text); the trailer.
            out.write_all(b"PGCOPY\n\xff\r\n\0").map_err(io)?;
            out.write_all(&0i32.to_be_bytes()).map_err(io)?;
            out.write_all(&0i32.to_be_bytes()).map_err(io)?;
            out.write_all(&2i16.to_be_bytes()).map_err(io)?;
            out.write_all(&8i32.to_be_bytes()).map_err(io)?;
            out.write_all(&id.to_be_bytes()).map_err(io)?;
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
