//! A small item's write on PostgreSQL as one prepared statement (issue 11): the update
//! of an item written again with the same data (`touched`), else the new data row
//! (`stored`) and the upsert pointing at it (`upserted`), and optionally the write's
//! activity event (`logged`).
//!
//! The statement is a query type of its own with a static query id per shape (with or
//! without the event), so Diesel keeps it prepared on the connection: a `sql_query` is
//! marked uncacheable and PostgreSQL parsed and planned this five-part statement on
//! every REST set.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp, Untyped};

use super::cache_item::Versioned;
use super::{NewCacheItem, NewEvent, WrittenItem};
use crate::db::DbUuid;
use crate::db::scope::{key_override_sql, live_key_sql};
use crate::db::search::fold;
use crate::db::types::{SqlJson, SqlUuid};

/// The statement's text with `$n` placeholders (`$15` to `$22`: the event's columns,
/// with `logged` only).
///
/// The parts see one snapshot: when `touched` finds no row because another writer
/// changed or deleted it meanwhile, the upsert waits for that writer's row lock and
/// updates what it left, as a lone upsert does. Only one of `touched` and `upserted`
/// changes a row. A data-modifying `WITH` part runs once whether or not the main query
/// reads it, and one statement commits or fails as a whole: the event is written with
/// the item or not at all, with no `BEGIN` and `COMMIT` around them.
fn statement_text(logged: bool) -> String {
    let v = Versioned::new();
    let event = if logged {
        "logged AS (\
           INSERT INTO events (uuid, project_id, user_id, event_name, origin, description, \
             ok, created) VALUES ($15, $16, $17, $18, $19, $20, $21, $22)), "
    } else {
        ""
    };
    let cols = "id, uuid, project_id, app_name, name, size_bytes, date_modified, user_id, \
                data_sha256, version, origin, job_id";
    format!(
        "WITH {event}touched AS (\
           UPDATE cache_items SET date_modified = $5, \
             user_id = COALESCE($6, cache_items.user_id), name_fold = $7, app_fold = $8 \
           WHERE project_key = {live} AND app_name = $2 AND name = $3 AND data_sha256 = $4 \
           RETURNING {cols}), \
         stored AS (\
           INSERT INTO cache_item_data (data) SELECT $9 \
           WHERE NOT EXISTS (SELECT 1 FROM touched) RETURNING id), \
         upserted AS (\
           INSERT INTO cache_items (uuid, project_id, app_name, name, data_id, size_bytes, \
             date_modified, user_id, data_sha256, origin, job_id, name_fold, app_fold, \
             key_override) \
           SELECT $10, $11, $2, $3, stored.id, $12, $5, $6, $4, $13, $14, $7, $8, {over} \
           FROM stored \
           ON CONFLICT (project_key, app_name, name) DO UPDATE SET \
             data_id = excluded.data_id, size_bytes = excluded.size_bytes, \
             date_modified = excluded.date_modified, name_fold = excluded.name_fold, \
             app_fold = excluded.app_fold, data_sha256 = excluded.data_sha256, \
             user_id = COALESCE(excluded.user_id, cache_items.user_id), \
             version = {}, origin = {}, job_id = {} \
           RETURNING {cols}) \
         SELECT {cols} FROM touched UNION ALL SELECT {cols} FROM upserted",
        v.version,
        v.origin,
        v.job_id,
        live = live_key_sql("$1"),
        over = key_override_sql("$1"),
    )
}

/// The event's values that the statement binds.
struct EventValues<'a> {
    uuid: DbUuid,
    event: &'a NewEvent<'a>,
    created: NaiveDateTime,
}

/// The statement with its values; `LOGGED`: with the event.
struct SmallWrite<'a, const LOGGED: bool> {
    item: &'a NewCacheItem<'a>,
    name_fold: String,
    app_fold: String,
    event: Option<EventValues<'a>>,
}

/// The query id: one prepared statement per shape.
struct SmallWriteId<const LOGGED: bool>;

impl<const LOGGED: bool> QueryId for SmallWrite<'_, LOGGED> {
    type QueryId = SmallWriteId<LOGGED>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const LOGGED: bool> Query for SmallWrite<'_, LOGGED> {
    type SqlType = Untyped;
}

impl<const LOGGED: bool> RunQueryDsl<diesel::PgConnection> for SmallWrite<'_, LOGGED> {}

impl<const LOGGED: bool> QueryFragment<Pg> for SmallWrite<'_, LOGGED> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        static TEXTS: [std::sync::OnceLock<String>; 2] =
            [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
        let text = TEXTS[usize::from(LOGGED)].get_or_init(|| statement_text(LOGGED));
        // Each `$n` becomes a bind of the n-th value (Diesel numbers them in order,
        // so a value used twice is bound twice).
        let mut rest = text.as_str();
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len() - at - 1, |n| n);
            let n: usize = rest[at + 1..at + 1 + digits]
                .parse()
                .map_err(|_| diesel::result::Error::QueryBuilderError("bad placeholder".into()))?;
            self.bind(n, &mut out)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl<const LOGGED: bool> SmallWrite<'_, LOGGED> {
    /// Binds the statement's `$n`.
    fn bind<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let item = self.item;
        let event = || {
            self.event.as_ref().ok_or_else(|| {
                diesel::result::Error::QueryBuilderError("the event's values are missing".into())
            })
        };
        match n {
            1 => out.push_bind_param::<Nullable<BigInt>, _>(&item.project_id),
            2 => out.push_bind_param::<Text, _>(item.app_name),
            3 => out.push_bind_param::<Text, _>(item.name),
            4 => out.push_bind_param::<Text, _>(&item.data_sha256),
            5 => out.push_bind_param::<Timestamp, _>(&item.date_modified),
            6 => out.push_bind_param::<Nullable<BigInt>, _>(&item.user_id),
            7 => out.push_bind_param::<Text, _>(&self.name_fold),
            8 => out.push_bind_param::<Text, _>(&self.app_fold),
            9 => out.push_bind_param::<SqlJson, _>(item.data),
            10 => out.push_bind_param::<SqlUuid, _>(&item.uuid),
            11 => out.push_bind_param::<Nullable<BigInt>, _>(&item.project_id),
            12 => out.push_bind_param::<BigInt, _>(&item.size_bytes),
            13 => out.push_bind_param::<Nullable<Text>, _>(&item.origin),
            14 => out.push_bind_param::<Nullable<BigInt>, _>(&item.job_id),
            15 => out.push_bind_param::<SqlUuid, _>(&event()?.uuid),
            16 => out.push_bind_param::<Nullable<BigInt>, _>(&event()?.event.project_id),
            17 => out.push_bind_param::<Nullable<BigInt>, _>(&event()?.event.user_id),
            18 => out.push_bind_param::<Text, _>(event()?.event.event_name),
            19 => out.push_bind_param::<Text, _>(event()?.event.origin.as_str()),
            20 => out.push_bind_param::<Text, _>(&event()?.event.description),
            21 => out.push_bind_param::<Bool, _>(&event()?.event.ok),
            22 => out.push_bind_param::<Timestamp, _>(&event()?.created),
            _ => Err(diesel::result::Error::QueryBuilderError(
                format!("no value for ${n}").into(),
            )),
        }
    }
}

/// Writes `item` (data below [`super::STAGED_WRITE_BYTES`], no preview) and, when
/// given, `event` in one statement: one round trip, no transaction of its own needed.
pub(super) fn write_small(
    c: &mut diesel::PgConnection,
    item: &NewCacheItem<'_>,
    event: Option<&NewEvent<'_>>,
) -> QueryResult<WrittenItem> {
    let (name_fold, app_fold) = (fold(item.name), fold(item.app_name));
    match event {
        None => SmallWrite::<false> {
            item,
            name_fold,
            app_fold,
            event: None,
        }
        .get_result(c),
        Some(event) => SmallWrite::<true> {
            item,
            name_fold,
            app_fold,
            event: Some(EventValues {
                uuid: DbUuid(uuid::Uuid::new_v4()),
                event,
                created: crate::db::now(),
            }),
        }
        .get_result(c),
    }
}
