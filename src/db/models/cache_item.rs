//! Cached JSON items, unique per `(project, app_name, name)`, site-wide items included.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::upsert::excluded;

use super::item_data::{ITEM_DATA_SQL, ItemData};
use super::item_version::WriteOrigin;
use super::{Event, ItemPreview, NewEvent, item_data};
use crate::db::schema::cache_items;
use crate::db::scope::{KeyOverride, live_key_sql, live_row};
use crate::db::search::{fold, like_pattern};
use crate::db::{DbConn, DbUuid, JsonText, MultiBackend, Scope};

/// One cached item, data included.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = cache_items)]
pub struct CacheItem {
    /// Row id.
    pub id: i64,
    /// Public identifier.
    pub uuid: DbUuid,
    /// The project, or none for a site-wide item.
    pub project_id: Option<i64>,
    /// The app (plugin) that owns the item.
    pub app_name: String,
    /// Item name, unique within project and app.
    pub name: String,
    /// The JSON document (stored apart, in `cache_item_data`: see [`ItemData`]).
    #[diesel(select_expression = ItemData, select_expression_type = ItemData)]
    pub data: JsonText,
    /// Size of the JSON text in bytes.
    pub size_bytes: i64,
    /// Last write (UTC).
    pub date_modified: NaiveDateTime,
    /// Who wrote it last, if known.
    pub user_id: Option<i64>,
    /// SHA-256 of `data`'s text as stored, lowercase hex ([`JsonText::sha256_hex`]):
    /// set by every write, so the retrieve ETag needs no pass over the data and a
    /// writer can tell whether the data changed. `None` only for SQLite rows written
    /// before the column existed, until their next write.
    pub data_sha256: Option<String>,
    /// Version of the data: 1 when created, one more at each write that changed it.
    pub version: i64,
    /// How the current data was written (none for data older than history).
    pub origin: Option<WriteOrigin>,
    /// The sync job that wrote the current data, if one did.
    pub job_id: Option<i64>,
}

/// Data this size or larger is written without SQLite's `CHECK (json_valid(data))`:
/// the check parses the text again into two or three more copies (JSONB and a text
/// copy) while the row is written, for data that is valid JSON by construction
/// ([`JsonText`] only holds serde-validated text). Smaller items keep the check.
pub const UNCHECKED_JSON_BYTES: usize = 64 * 1024;

/// An item as a write left it, without its data (the writer has that).
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = cache_items)]
pub struct WrittenItem {
    /// Row id.
    pub id: i64,
    /// Public identifier.
    pub uuid: DbUuid,
    /// The project, or none for a site-wide item.
    pub project_id: Option<i64>,
    /// App name.
    pub app_name: String,
    /// Item name.
    pub name: String,
    /// Size of the JSON text in bytes.
    pub size_bytes: i64,
    /// Last write (UTC).
    pub date_modified: NaiveDateTime,
    /// Who wrote it last, if known.
    pub user_id: Option<i64>,
    /// SHA-256 of the data as stored.
    pub data_sha256: Option<String>,
    /// Version of the data.
    pub version: i64,
    /// How the current data was written.
    pub origin: Option<WriteOrigin>,
    /// The sync job that wrote the current data, if one did.
    pub job_id: Option<i64>,
}

impl WrittenItem {
    /// The full item, with the data that was written.
    pub fn with_data(self, data: JsonText) -> CacheItem {
        CacheItem {
            id: self.id,
            uuid: self.uuid,
            project_id: self.project_id,
            app_name: self.app_name,
            name: self.name,
            data,
            size_bytes: self.size_bytes,
            date_modified: self.date_modified,
            user_id: self.user_id,
            data_sha256: self.data_sha256,
            version: self.version,
            origin: self.origin,
            job_id: self.job_id,
        }
    }
}

/// An item without its data, for listings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = cache_items)]
pub struct CacheItemSummary {
    /// Public identifier.
    pub uuid: DbUuid,
    /// The project, or none for a site-wide item.
    pub project_id: Option<i64>,
    /// App name.
    pub app_name: String,
    /// Item name.
    pub name: String,
    /// Size of the JSON text in bytes.
    pub size_bytes: i64,
    /// Last write (UTC).
    pub date_modified: NaiveDateTime,
    /// Who wrote it last.
    pub user_id: Option<i64>,
}

/// A row to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = cache_items)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewCacheItem<'a> {
    /// Used only when the row is created.
    pub uuid: DbUuid,
    /// The project, or none.
    pub project_id: Option<i64>,
    /// App name.
    pub app_name: &'a str,
    /// Item name.
    pub name: &'a str,
    /// The JSON document: stored in its own row (`cache_item_data`), which the item's
    /// `data_id` then points at.
    #[diesel(skip_insertion)]
    pub data: &'a JsonText,
    /// `data.len()`.
    pub size_bytes: i64,
    /// Write time.
    pub date_modified: NaiveDateTime,
    /// Writer; on update, none keeps the previous writer.
    pub user_id: Option<i64>,
    /// `data.sha256_hex()`.
    pub data_sha256: String,
    /// How it is written.
    pub origin: Option<WriteOrigin>,
    /// The sync job writing it.
    pub job_id: Option<i64>,
    /// [`crate::cache::preview_of`] `data`: the item page's preview of a large item,
    /// stored beside the row ([`ItemPreview`]) in the same transaction.
    #[diesel(skip_insertion)]
    pub preview: Option<&'a str>,
}

/// A row as `upsert` and `upsert_many` insert it (see [`with_keys`]).
type KeyedRow<'a> = (
    &'a NewCacheItem<'a>,
    diesel::dsl::Eq<cache_items::name_fold, String>,
    diesel::dsl::Eq<cache_items::app_fold, String>,
    diesel::dsl::Eq<cache_items::data_id, i64>,
    diesel::dsl::Eq<cache_items::key_override, KeyOverride>,
);

/// The row with its search keys (`search::fold` of the name and the app name), its
/// data row and its key (the project's live one), as `upsert` and `upsert_many` write it.
fn with_keys<'a>(item: &'a NewCacheItem<'a>, data_id: i64) -> KeyedRow<'a> {
    (
        item,
        cache_items::name_fold.eq(fold(item.name)),
        cache_items::app_fold.eq(fold(item.app_name)),
        cache_items::data_id.eq(data_id),
        cache_items::key_override.eq(Scope::from_project_id(item.project_id).key_override()),
    )
}

/// The scope (its [`Scope::key`]), app and name of the row `item` writes.
fn key_of<'a>(item: &NewCacheItem<'a>) -> (i64, &'a str, &'a str) {
    (
        Scope::from_project_id(item.project_id).key(),
        item.app_name,
        item.name,
    )
}

/// Whether `conn` is inside a transaction already (the cache's writers are).
fn in_transaction(conn: &mut DbConn) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    crate::on_backend!(conn, |c| {
        AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()
            .is_ok_and(|d| d.is_some())
    })
}

/// Runs `f` in a transaction: the caller's, or a new one.
pub(super) fn in_a_transaction<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> QueryResult<T>,
) -> QueryResult<T> {
    if in_transaction(conn) {
        f(conn)
    } else {
        conn.transaction(f)
    }
}

/// A key returned by [`CacheItem::touch_unchanged_many`].
#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = BigInt)]
    project_key: i64,
    #[diesel(sql_type = Text)]
    app_name: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// Values per row of [`CacheItem::touch_unchanged_many`]'s `VALUES` list.
const TOUCH_COLUMNS: usize = 8;

/// Aggregates of one scope's items.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeTotals {
    /// The scope.
    pub scope: Scope,
    /// Items.
    pub items: i64,
    /// Total data size in bytes.
    pub bytes: i64,
    /// Oldest update.
    pub oldest: Option<NaiveDateTime>,
    /// Newest update.
    pub newest: Option<NaiveDateTime>,
}

/// An item with its project's UUID (none: site-wide).
pub type ItemWithProject = (CacheItem, Option<DbUuid>);

/// Sort order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ItemOrder {
    /// By app, then name.
    #[default]
    App,
    /// By name.
    Name,
    /// By size.
    Size,
    /// By last update.
    Modified,
    /// By writer id.
    User,
}

impl ItemOrder {
    /// Parses a sort key as used in URLs.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "app" => ItemOrder::App,
            "name" => ItemOrder::Name,
            "size" => ItemOrder::Size,
            "modified" => ItemOrder::Modified,
            "user" => ItemOrder::User,
            _ => return None,
        })
    }

    /// The URL key.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemOrder::App => "app",
            ItemOrder::Name => "name",
            ItemOrder::Size => "size",
            ItemOrder::Modified => "modified",
            ItemOrder::User => "user",
        }
    }
}

/// A page of a scope's items.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    /// The project, or the site-wide items.
    pub scope: Scope,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Only this app.
    pub app: Option<String>,
    /// Sort column.
    pub order: ItemOrder,
    /// Descending.
    pub desc: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
    /// Only the items these freshness limits call stale.
    pub stale: Option<super::StaleRules>,
}

diesel::define_sql_function!(fn substr(x: diesel::sql_types::Text, from: diesel::sql_types::Integer, count: diesel::sql_types::Integer) -> diesel::sql_types::Text);

/// The writer's username for sorting, `''` for items without one, so both backends put
/// them first in ascending order (they order NULLs differently).
fn writer_name() -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    sql::<diesel::sql_types::Text>(
        "COALESCE((SELECT users.username FROM users WHERE users.id = cache_items.user_id), '')",
    )
}

/// Items whose name or app name contains `search`, case-insensitively for all of
/// Unicode, the same on both backends (see [`crate::db::search`]). Rows written by an
/// older server before the start-up backfill fall back to `lower()`.
pub fn matching(
    search: &str,
) -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> {
    let pattern = like_pattern(search);
    Box::new(
        sql::<Bool>("(COALESCE(cache_items.name_fold, lower(cache_items.name)) LIKE ")
            .bind::<Text, _>(pattern.clone())
            .sql(
                " ESCAPE '\\' OR COALESCE(cache_items.app_fold, lower(cache_items.app_name)) LIKE ",
            )
            .bind::<Text, _>(pattern)
            .sql(" ESCAPE '\\')"),
    )
}

/// The upsert's `SET` expressions for the version columns: a write whose data has the
/// stored data's SHA-256 (issue 11's `data_sha256`) keeps version, origin and job (no
/// new version, so the history trigger stays quiet); any other bumps the version and
/// takes the new origin and job. A row without a hash (SQLite rows older than the
/// column) counts as changed once.
pub(super) struct Versioned {
    pub(super) version: String,
    pub(super) origin: String,
    pub(super) job_id: String,
}

impl Versioned {
    pub(super) fn new() -> Self {
        let pick = |col: &str, new: &str| {
            format!(
                "CASE WHEN cache_items.data_sha256 = excluded.data_sha256 \
                 THEN cache_items.{col} ELSE {new} END"
            )
        };
        Versioned {
            version: pick("version", "cache_items.version + 1"),
            origin: pick("origin", "excluded.origin"),
            job_id: pick("job_id", "excluded.job_id"),
        }
    }
}

/// The upsert's `DO UPDATE SET`: the new data row and its keys, the writer unless none
/// is given, and the version columns by [`Versioned`]. The database's triggers keep or
/// delete the data row the item pointed at before (see [`item_data`]).
macro_rules! upsert_changes {
    ($versioned:expr) => {
        (
            cache_items::data_id.eq(excluded(cache_items::data_id)),
            cache_items::size_bytes.eq(excluded(cache_items::size_bytes)),
            cache_items::date_modified.eq(excluded(cache_items::date_modified)),
            cache_items::name_fold.eq(excluded(cache_items::name_fold)),
            cache_items::app_fold.eq(excluded(cache_items::app_fold)),
            cache_items::data_sha256.eq(excluded(cache_items::data_sha256)),
            cache_items::user_id.eq(sql::<Nullable<BigInt>>(
                "COALESCE(excluded.user_id, cache_items.user_id)",
            )),
            cache_items::version.eq(sql::<BigInt>(&$versioned.version)),
            cache_items::origin.eq(sql::<Nullable<Text>>(&$versioned.origin)),
            cache_items::job_id.eq(sql::<Nullable<BigInt>>(&$versioned.job_id)),
        )
    };
}

impl CacheItem {
    /// Creates or updates the item; concurrent writers never conflict. Returns the row
    /// as written, without its data: the caller has the data, and `RETURNING` it would
    /// hold another copy (two on SQLite, which buffers returned rows) of what may be
    /// tens of megabytes.
    ///
    /// Data equal to the stored data (the same SHA-256) only updates the row's time and
    /// writer (no new version, no data written). Other data is stored in a new data row
    /// (large data on PostgreSQL by `COPY`: see
    /// [`STAGED_WRITE_BYTES`](super::STAGED_WRITE_BYTES)), then one upsert points the
    /// item at it. Runs in the caller's transaction, or in its own.
    pub fn upsert(conn: &mut DbConn, item: &NewCacheItem<'_>) -> QueryResult<WrittenItem> {
        in_a_transaction(conn, |conn| {
            let staged = item.data.len() >= super::STAGED_WRITE_BYTES;
            let written = match conn {
                DbConn::Pg(c) if !staged => super::pg_write::write_small(c, item, None)?,
                _ => match Self::touch_unchanged(conn, item)? {
                    Some(written) => written,
                    None => {
                        let data_id = item_data::insert_one(conn, item.data)?;
                        let versioned = Versioned::new();
                        crate::on_backend!(conn, |c| diesel::insert_into(cache_items::table)
                            .values(with_keys(item, data_id))
                            .on_conflict((
                                cache_items::project_key,
                                cache_items::app_name,
                                cache_items::name,
                            ))
                            .do_update()
                            .set(upsert_changes!(versioned))
                            .returning(WrittenItem::as_returning())
                            .get_result(c))?
                    }
                },
            };
            ItemPreview::store(conn, written.id, item)?;
            Ok(written)
        })
    }

    /// [`upsert`](Self::upsert) and, when given, the activity `event` of the write:
    /// both or neither. On PostgreSQL an item without a preview and below
    /// [`STAGED_WRITE_BYTES`](super::STAGED_WRITE_BYTES) (a REST set of a small item)
    /// is one statement, so one round trip, with no transaction of its own; anything
    /// else runs in the caller's transaction, or in its own.
    pub fn upsert_recorded(
        conn: &mut DbConn,
        item: &NewCacheItem<'_>,
        event: Option<&NewEvent<'_>>,
    ) -> QueryResult<WrittenItem> {
        if let DbConn::Pg(c) = conn
            && item.preview.is_none()
            && item.data.len() < super::STAGED_WRITE_BYTES
        {
            return super::pg_write::write_small(c, item, event);
        }
        in_a_transaction(conn, |conn| {
            let written = Self::upsert(conn, item)?;
            if let Some(event) = event {
                Event::record(conn, event)?;
            }
            Ok(written)
        })
    }

    /// The first statement of [`upsert`](Self::upsert) (a write, as SQLite's write
    /// transactions need): if the item exists with this very data, its time, writer and
    /// search keys are updated and the row is returned; otherwise nothing changes. On
    /// PostgreSQL the update locks the row, so the data cannot change before commit.
    fn touch_unchanged(
        conn: &mut DbConn,
        item: &NewCacheItem<'_>,
    ) -> QueryResult<Option<WrittenItem>> {
        if let DbConn::Sqlite(c) = conn {
            // Prepared once per connection (a DSL update is prepared on every call).
            return super::sqlite_touch::touch_unchanged(c, item);
        }
        let target = cache_items::table
            .filter(cache_items::project_key.eq(Scope::from_project_id(item.project_id).live_key()))
            .filter(cache_items::app_name.eq(item.app_name))
            .filter(cache_items::name.eq(item.name))
            .filter(cache_items::data_sha256.eq(&item.data_sha256));
        let changes = (
            cache_items::date_modified.eq(item.date_modified),
            cache_items::name_fold.eq(fold(item.name)),
            cache_items::app_fold.eq(fold(item.app_name)),
            item.user_id.map(|u| cache_items::user_id.eq(u)),
        );
        crate::on_backend!(conn, |c| diesel::update(target)
            .set(changes)
            .returning(WrittenItem::as_returning())
            .get_result(c)
            .optional())
    }

    /// Creates or updates many items. Keys must be distinct. As
    /// [`upsert`](Self::upsert), for many rows in a few statements: one update of the
    /// items whose data is unchanged, then one insert of the other items' data rows and
    /// one multi-row upsert of those items. Runs in the caller's transaction, or in its
    /// own. Returns the number of items written.
    pub fn upsert_many(conn: &mut DbConn, items: &[NewCacheItem<'_>]) -> QueryResult<usize> {
        in_a_transaction(conn, |conn| {
            let unchanged = Self::touch_unchanged_many(conn, items)?;
            let changed: Vec<&NewCacheItem<'_>> = items
                .iter()
                .filter(|i| {
                    let (key, app, name) = key_of(i);
                    !unchanged.contains(&(key, app.to_owned(), name.to_owned()))
                })
                .collect();
            if !changed.is_empty() {
                let docs: Vec<&JsonText> = changed.iter().map(|i| i.data).collect();
                let ids = item_data::insert_many(conn, &docs)?;
                let rows: Vec<_> = changed
                    .iter()
                    .zip(&ids)
                    .map(|(item, id)| with_keys(item, *id))
                    .collect();
                let versioned = Versioned::new();
                crate::on_backend!(conn, |c| diesel::insert_into(cache_items::table)
                    .values(rows)
                    .on_conflict((
                        cache_items::project_key,
                        cache_items::app_name,
                        cache_items::name,
                    ))
                    .do_update()
                    .set(upsert_changes!(versioned))
                    .execute(c))?;
            }
            ItemPreview::store_by_key(conn, items)?;
            Ok(items.len())
        })
    }

    /// [`touch_unchanged`](Self::touch_unchanged) for many items in one statement
    /// (`UPDATE ... FROM (VALUES ...)`, which both backends have); returns the keys of
    /// the rows it updated.
    fn touch_unchanged_many(
        conn: &mut DbConn,
        items: &[NewCacheItem<'_>],
    ) -> QueryResult<std::collections::HashSet<(i64, String, String)>> {
        use diesel::sql_types::Timestamp;
        if items.is_empty() {
            return Ok(Default::default());
        }
        let pg = matches!(conn, DbConn::Pg(_));
        let mut text = String::from(
            "UPDATE cache_items SET date_modified = v.column5, \
             user_id = COALESCE(v.column6, cache_items.user_id), \
             name_fold = v.column7, app_fold = v.column8 FROM (VALUES ",
        );
        let mut n = 0;
        for i in 0..items.len() {
            text.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..TOUCH_COLUMNS {
                n += 1;
                if j > 0 {
                    text.push_str(", ");
                }
                if pg {
                    text.push_str(&format!("${n}"));
                } else {
                    text.push('?');
                }
            }
            text.push(')');
        }
        // v.column1 is the scope's `Scope::key` (0: the site); the rows are under the
        // scope's live key, and they come back with the scope's `Scope::key`.
        text.push_str(&format!(
            ") AS v WHERE cache_items.project_key = {} \
             AND cache_items.app_name = v.column2 AND cache_items.name = v.column3 \
             AND cache_items.data_sha256 = v.column4 \
             RETURNING COALESCE(cache_items.project_id, 0) AS project_key, \
             cache_items.app_name, cache_items.name",
            live_key_sql("NULLIF(v.column1, 0)")
        ));
        let folds: Vec<(String, String)> = items
            .iter()
            .map(|i| (fold(i.name), fold(i.app_name)))
            .collect();
        let rows: Vec<KeyRow> = crate::on_backend!(conn, |c| {
            let mut q = diesel::sql_query(text.as_str()).into_boxed();
            for (item, (name_fold, app_fold)) in items.iter().zip(&folds) {
                let (key, app, name) = key_of(item);
                q = q
                    .bind::<BigInt, _>(key)
                    .bind::<Text, _>(app)
                    .bind::<Text, _>(name)
                    .bind::<Text, _>(&item.data_sha256)
                    .bind::<Timestamp, _>(item.date_modified)
                    .bind::<Nullable<BigInt>, _>(item.user_id)
                    .bind::<Text, _>(name_fold)
                    .bind::<Text, _>(app_fold);
            }
            q.load(c)
        })?;
        Ok(rows
            .into_iter()
            .map(|r| (r.project_key, r.app_name, r.name))
            .collect())
    }

    /// The item at this key; no project means the site-wide item only.
    pub fn find(
        conn: &mut DbConn,
        scope: Scope,
        app_name: &str,
        name: &str,
    ) -> QueryResult<Option<CacheItem>> {
        cache_items::table
            .filter(cache_items::project_key.eq(scope.live_key()))
            .filter(cache_items::app_name.eq(app_name))
            .filter(cache_items::name.eq(name))
            .select(CacheItem::as_select())
            .first(conn)
            .optional()
    }

    /// The item at this key with its writer's UUID, in one query.
    pub fn find_with_writer(
        conn: &mut DbConn,
        scope: Scope,
        app_name: &str,
        name: &str,
    ) -> QueryResult<Option<(CacheItem, Option<DbUuid>)>> {
        use crate::db::schema::users;
        cache_items::table
            .left_join(users::table)
            .filter(cache_items::project_key.eq(scope.live_key()))
            .filter(cache_items::app_name.eq(app_name))
            .filter(cache_items::name.eq(name))
            .select((CacheItem::as_select(), users::uuid.nullable()))
            .first(conn)
            .optional()
    }

    /// The last write time at this key.
    pub fn find_date(
        conn: &mut DbConn,
        scope: Scope,
        app_name: &str,
        name: &str,
    ) -> QueryResult<Option<NaiveDateTime>> {
        cache_items::table
            .filter(cache_items::project_key.eq(scope.live_key()))
            .filter(cache_items::app_name.eq(app_name))
            .filter(cache_items::name.eq(name))
            .select(cache_items::date_modified)
            .first(conn)
            .optional()
    }

    /// The item with this UUID.
    pub fn find_by_uuid(conn: &mut DbConn, uuid: uuid::Uuid) -> QueryResult<Option<CacheItem>> {
        cache_items::table
            .filter(cache_items::uuid.eq(DbUuid(uuid)))
            .filter(live_row())
            .select(CacheItem::as_select())
            .first(conn)
            .optional()
    }

    /// The item with this UUID for a page that shows its data: whole when the item is
    /// at most `whole_bytes` long; a larger one comes with `null` as its data and the
    /// first `prefix_chars` characters of its text, cut in the database (a large item
    /// is never read whole).
    pub fn find_for_page(
        conn: &mut DbConn,
        uuid: uuid::Uuid,
        whole_bytes: i64,
        prefix_chars: i64,
    ) -> QueryResult<Option<(CacheItem, Option<String>)>> {
        use crate::db::types::SqlJson;
        let data = sql::<SqlJson>(&format!(
            "CASE WHEN cache_items.size_bytes <= {whole_bytes} THEN {ITEM_DATA_SQL} ELSE 'null' END"
        ));
        // The stored preview of this data (its hash matches); cut from the data only
        // for a row written without one (by an older server), which reads all of it.
        let prefix = sql::<Nullable<Text>>(&format!(
            "CASE WHEN cache_items.size_bytes <= {whole_bytes} THEN NULL \
             ELSE COALESCE((SELECT p.preview FROM cache_item_previews p \
                            WHERE p.item_id = cache_items.id \
                              AND p.data_sha256 = cache_items.data_sha256), \
                           substr(CAST({ITEM_DATA_SQL} AS TEXT), 1, {prefix_chars})) END"
        ));
        cache_items::table
            .filter(cache_items::uuid.eq(DbUuid(uuid)))
            .filter(live_row())
            .select((
                (
                    cache_items::id,
                    cache_items::uuid,
                    cache_items::project_id,
                    cache_items::app_name,
                    cache_items::name,
                    data,
                    cache_items::size_bytes,
                    cache_items::date_modified,
                    cache_items::user_id,
                    cache_items::data_sha256,
                    cache_items::version,
                    cache_items::origin,
                    cache_items::job_id,
                ),
                prefix,
            ))
            .first::<(CacheItem, Option<String>)>(conn)
            .optional()
    }

    /// Every item of a scope, by app and name.
    pub fn list_for_scope(conn: &mut DbConn, scope: Scope) -> QueryResult<Vec<CacheItem>> {
        cache_items::table
            .filter(cache_items::project_key.eq(scope.live_key()))
            .order((cache_items::app_name, cache_items::name))
            .select(CacheItem::as_select())
            .load(conn)
    }

    /// Deletes the item at this key; returns how many rows went (0 or 1).
    pub fn delete_one(
        conn: &mut DbConn,
        scope: Scope,
        app_name: &str,
        name: &str,
    ) -> QueryResult<usize> {
        diesel::delete(
            cache_items::table
                .filter(cache_items::project_key.eq(scope.live_key()))
                .filter(cache_items::app_name.eq(app_name))
                .filter(cache_items::name.eq(name)),
        )
        .execute(conn)
    }

    /// Deletes whole groups of items: optionally only these apps' items, optionally one
    /// scope's (none: every project and the site-wide items), with set-based work for
    /// the kept aggregates (the `bulk_delete` module). A project's whole cache (no
    /// apps given) goes in a few statements whatever its size: its rows are invisible
    /// at once and purged later ([`purge_deleted`](Self::purge_deleted)). Returns how
    /// many items went.
    pub fn delete_matching(
        conn: &mut DbConn,
        apps: Option<&[&str]>,
        scope: Option<Scope>,
    ) -> QueryResult<usize> {
        super::bulk_delete::delete_groups(conn, apps, scope)
    }

    /// Purges up to `limit` rows of deleted project caches (see
    /// [`delete_matching`](Self::delete_matching): a project's whole cache goes in one
    /// step and its rows later, by this). Returns how many rows went; 0 when nothing is
    /// left. The server's worker calls it on every tick, `synccache` before it runs.
    pub fn purge_deleted(conn: &mut DbConn, limit: usize) -> QueryResult<usize> {
        super::bulk_delete::purge(conn, limit)
    }

    /// Counts what [`CacheItem::delete_matching`] would delete, per app (none: the
    /// whole site).
    pub fn count_by_app(
        conn: &mut DbConn,
        scope: Option<Scope>,
        search: Option<&str>,
    ) -> QueryResult<Vec<(String, i64)>> {
        let Some(search) = search.filter(|s| !s.is_empty()) else {
            return super::kept_stats::app_counts(conn, scope);
        };
        let mut q = cache_items::table
            .group_by(cache_items::app_name)
            .select((cache_items::app_name, diesel::dsl::count_star()))
            .order(cache_items::app_name)
            .into_boxed();
        q = match scope {
            Some(scope) => q.filter(cache_items::project_key.eq(scope.live_key())),
            None => q.filter(live_row()),
        };
        q = q.filter(matching(search));
        q.load(conn)
    }

    /// One page of a project's items, without data, and the number of matches.
    pub fn query(
        conn: &mut DbConn,
        query: &ItemQuery,
    ) -> QueryResult<(Vec<CacheItemSummary>, i64)> {
        Self::query_counted(conn, query, true)
    }

    /// One page of a project's items, without data. `count: false` skips counting the
    /// matches (0 is returned) for callers that know the total already.
    pub fn query_counted(
        conn: &mut DbConn,
        query: &ItemQuery,
        count: bool,
    ) -> QueryResult<(Vec<CacheItemSummary>, i64)> {
        let filtered = || {
            let mut q = cache_items::table
                .filter(cache_items::project_key.eq(query.scope.live_key()))
                .into_boxed();
            if let Some(app) = &query.app {
                q = q.filter(cache_items::app_name.eq(app.clone()));
            }
            if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
                q = q.filter(matching(search));
            }
            if let Some(stale) = &query.stale {
                q = q.filter(stale.filter());
            }
            q
        };
        let unfiltered = query.search.as_deref().is_none_or(str::is_empty) && query.stale.is_none();
        let total: i64 = if count && unfiltered {
            kept_count(conn, query.scope, query.app.as_deref())?
        } else if count {
            filtered().count().get_result(conn)?
        } else {
            0
        };
        let mut q = filtered().select(CacheItemSummary::as_select());
        q = match (query.order, query.desc) {
            (ItemOrder::App, false) => {
                q.order((cache_items::app_name.asc(), cache_items::name.asc()))
            }
            (ItemOrder::App, true) => {
                q.order((cache_items::app_name.desc(), cache_items::name.desc()))
            }
            (ItemOrder::Name, false) => {
                q.order((cache_items::name.asc(), cache_items::app_name.asc()))
            }
            (ItemOrder::Name, true) => {
                q.order((cache_items::name.desc(), cache_items::app_name.desc()))
            }
            (ItemOrder::Size, false) => {
                q.order((cache_items::size_bytes.asc(), cache_items::id.asc()))
            }
            (ItemOrder::Size, true) => {
                q.order((cache_items::size_bytes.desc(), cache_items::id.desc()))
            }
            (ItemOrder::Modified, false) => {
                q.order((cache_items::date_modified.asc(), cache_items::id.asc()))
            }
            (ItemOrder::Modified, true) => {
                q.order((cache_items::date_modified.desc(), cache_items::id.desc()))
            }
            (ItemOrder::User, false) => q.order((writer_name().asc(), cache_items::id.asc())),
            (ItemOrder::User, true) => q.order((writer_name().desc(), cache_items::id.desc())),
        };
        let rows = q.offset(query.offset).limit(query.limit).load(conn)?;
        Ok((rows, total))
    }

    /// One app's items whose names start with `prefix`, across projects (with each
    /// project's UUID), by project then name, one page; and the number of matches.
    pub fn list_by_prefix(
        conn: &mut DbConn,
        app_name: &str,
        prefix: &str,
        offset: i64,
        limit: i64,
    ) -> QueryResult<(Vec<ItemWithProject>, i64)> {
        use crate::db::schema::projects;
        // `substr(...) = prefix` is case-sensitive on both backends (SQLite's LIKE is not).
        let chars = prefix.chars().count() as i32;
        let filtered = || {
            cache_items::table
                .filter(cache_items::app_name.eq(app_name))
                .filter(substr(cache_items::name, 1, chars).eq(prefix))
                .filter(live_row())
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .left_join(projects::table)
            .order((cache_items::project_key, cache_items::name))
            .select((CacheItem::as_select(), projects::uuid.nullable()))
            .offset(offset)
            .limit(limit)
            .load(conn)?;
        Ok((rows, total))
    }

    /// Aggregates of the given scopes (those with items), from the kept rows.
    pub fn stats_for(conn: &mut DbConn, scopes: &[Scope]) -> QueryResult<Vec<ScopeTotals>> {
        super::kept_stats::for_scopes(conn, scopes)
    }

    /// Distinct app names of the given scopes, from the kept rows.
    pub fn apps_for(conn: &mut DbConn, scopes: &[Scope]) -> QueryResult<Vec<(Scope, String)>> {
        super::kept_stats::apps_for(conn, scopes)
    }
}

/// Items of a scope, or of one app in it, from the kept rows.
fn kept_count(conn: &mut DbConn, scope: Scope, app: Option<&str>) -> QueryResult<i64> {
    let counts = super::kept_stats::app_counts(conn, Some(scope))?;
    Ok(counts
        .iter()
        .filter(|(a, _)| app.is_none_or(|app| app == a))
        .map(|(_, n)| n)
        .sum())
}
