//! Cached JSON items, unique per `(project, app_name, name)`, site-wide items included.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::upsert::excluded;

use super::ItemPreview;
use super::item_version::WriteOrigin;
use crate::db::schema::cache_items;
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
    /// The JSON document.
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
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
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
    /// The JSON document.
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

/// The row with its search keys (`search::fold` of the name and the app name), as
/// `upsert` and `upsert_many` write it.
fn with_keys<'a>(
    item: &'a NewCacheItem<'a>,
) -> (
    &'a NewCacheItem<'a>,
    diesel::dsl::Eq<cache_items::name_fold, String>,
    diesel::dsl::Eq<cache_items::app_fold, String>,
) {
    (
        item,
        cache_items::name_fold.eq(fold(item.name)),
        cache_items::app_fold.eq(fold(item.app_name)),
    )
}

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

/// The upsert's `DO UPDATE SET`: the new data and its keys, the writer unless none is
/// given, and the version columns by [`Versioned`]. One list for every upsert.
macro_rules! upsert_changes {
    ($versioned:expr) => {
        (
            cache_items::data.eq(excluded(cache_items::data)),
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
pub(super) use upsert_changes;

impl CacheItem {
    /// Creates or updates the item in one statement; concurrent writers never conflict.
    /// Returns the row as written, without its data: the caller has the data, and
    /// `RETURNING` it would hold another copy (two on SQLite, which buffers returned
    /// rows) of what may be tens of megabytes. Large data on PostgreSQL is sent by
    /// `COPY` first (see [`STAGED_WRITE_BYTES`](super::STAGED_WRITE_BYTES)).
    pub fn upsert(conn: &mut DbConn, item: &NewCacheItem<'_>) -> QueryResult<WrittenItem> {
        let staged = item.data.len() >= super::STAGED_WRITE_BYTES;
        let versioned = Versioned::new();
        let large = item.data.len() >= UNCHECKED_JSON_BYTES;
        let written = match conn {
            DbConn::Pg(c) if staged => super::large_write::upsert_staged(c, item)?,
            _ => crate::on_backend!(conn, |c| {
                let statement = diesel::insert_into(cache_items::table)
                    .values(with_keys(item))
                    .on_conflict((
                        cache_items::project_key,
                        cache_items::app_name,
                        cache_items::name,
                    ))
                    .do_update()
                    .set(upsert_changes!(versioned))
                    .returning(WrittenItem::as_returning());
                crate::db::without_sqlite_checks(c, large, |c| statement.get_result(c))
            })?,
        };
        ItemPreview::store(conn, written.id, item)?;
        Ok(written)
    }

    /// Creates or updates many items in one multi-row statement. Keys must be distinct.
    pub fn upsert_many(conn: &mut DbConn, items: &[NewCacheItem<'_>]) -> QueryResult<usize> {
        let rows: Vec<_> = items.iter().map(with_keys).collect();
        let large = items.iter().any(|i| i.data.len() >= UNCHECKED_JSON_BYTES);
        let versioned = Versioned::new();
        let n = crate::on_backend!(conn, |c| {
            let statement = diesel::insert_into(cache_items::table)
                .values(rows)
                .on_conflict((
                    cache_items::project_key,
                    cache_items::app_name,
                    cache_items::name,
                ))
                .do_update()
                .set(upsert_changes!(versioned));
            crate::db::without_sqlite_checks(c, large, |c| statement.execute(c))
        })?;
        ItemPreview::store_by_key(conn, items)?;
        Ok(n)
    }

    /// The item at this key; no project means the site-wide item only.
    pub fn find(
        conn: &mut DbConn,
        scope: Scope,
        app_name: &str,
        name: &str,
    ) -> QueryResult<Option<CacheItem>> {
        cache_items::table
            .filter(cache_items::project_key.eq(scope.key()))
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
            .filter(cache_items::project_key.eq(scope.key()))
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
            .filter(cache_items::project_key.eq(scope.key()))
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
            "CASE WHEN cache_items.size_bytes <= {whole_bytes} THEN cache_items.data ELSE 'null' END"
        ));
        // The stored preview of this data (its hash matches); cut from the data only
        // for a row written without one (by an older server), which reads all of it.
        let prefix = sql::<Nullable<Text>>(&format!(
            "CASE WHEN cache_items.size_bytes <= {whole_bytes} THEN NULL \
             ELSE COALESCE((SELECT p.preview FROM cache_item_previews p \
                            WHERE p.item_id = cache_items.id \
                              AND p.data_sha256 = cache_items.data_sha256), \
                           substr(CAST(cache_items.data AS TEXT), 1, {prefix_chars})) END"
        ));
        cache_items::table
            .filter(cache_items::uuid.eq(DbUuid(uuid)))
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
            .filter(cache_items::project_key.eq(scope.key()))
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
                .filter(cache_items::project_key.eq(scope.key()))
                .filter(cache_items::app_name.eq(app_name))
                .filter(cache_items::name.eq(name)),
        )
        .execute(conn)
    }

    /// Deletes in one statement: optionally only these apps' items, optionally one
    /// scope's (none: every project and the site-wide items).
    pub fn delete_matching(
        conn: &mut DbConn,
        apps: Option<&[&str]>,
        scope: Option<Scope>,
    ) -> QueryResult<usize> {
        let mut q = diesel::delete(cache_items::table).into_boxed();
        if let Some(apps) = apps {
            q = q.filter(cache_items::app_name.eq_any(apps));
        }
        if let Some(scope) = scope {
            q = q.filter(cache_items::project_key.eq(scope.key()));
        }
        q.execute(conn)
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
        if let Some(scope) = scope {
            q = q.filter(cache_items::project_key.eq(scope.key()));
        }
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
                .filter(cache_items::project_key.eq(query.scope.key()))
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
