//! A set of one scope's items chosen on the project page: by UUID ("Delete selected")
//! or by search and app ("Delete all N matching"), to count, list and delete.

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::CacheItem;
use super::cache_item::matching;
use crate::db::schema::cache_items;
use crate::db::{DbConn, DbUuid, MultiBackend, Scope};

/// Which items of a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSelection {
    /// These items (UUIDs of other scopes' items match nothing).
    Uuids(Vec<uuid::Uuid>),
    /// The items whose name or app name contains `search` (none: all), of `app` only
    /// when given, installed or not.
    Matching {
        /// Case-insensitive substring, as the project page's search.
        search: Option<String>,
        /// Only this app.
        app: Option<String>,
    },
}

type Filter = Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>>;

impl ItemSelection {
    /// The selection and the scope as one condition on `cache_items`.
    fn filter(&self, scope: Scope) -> Filter {
        let in_scope = cache_items::project_key.eq(scope.live_key());
        match self {
            ItemSelection::Uuids(uuids) => Box::new(in_scope.and(
                cache_items::uuid.eq_any(uuids.iter().copied().map(DbUuid).collect::<Vec<_>>()),
            )),
            ItemSelection::Matching { search, app } => {
                let mut f: Filter = Box::new(in_scope);
                if let Some(s) = search.as_deref().filter(|s| !s.is_empty()) {
                    f = Box::new(f.and(matching(s)));
                }
                if let Some(a) = app {
                    f = Box::new(f.and(cache_items::app_name.eq(a.clone())));
                }
                f
            }
        }
    }
}

impl CacheItem {
    /// How many items of `scope` the selection holds.
    pub fn count_selected(
        conn: &mut DbConn,
        scope: Scope,
        sel: &ItemSelection,
    ) -> QueryResult<i64> {
        cache_items::table
            .filter(sel.filter(scope))
            .count()
            .get_result(conn)
    }

    /// The first `limit` selected items as `(app, name)`, by app and name.
    pub fn names_selected(
        conn: &mut DbConn,
        scope: Scope,
        sel: &ItemSelection,
        limit: i64,
    ) -> QueryResult<Vec<(String, String)>> {
        cache_items::table
            .filter(sel.filter(scope))
            .select((cache_items::app_name, cache_items::name))
            .order((cache_items::app_name, cache_items::name))
            .limit(limit)
            .load(conn)
    }

    /// Deletes the selected items of `scope` in one statement; returns how many went.
    pub fn delete_selected(
        conn: &mut DbConn,
        scope: Scope,
        sel: &ItemSelection,
    ) -> QueryResult<usize> {
        diesel::delete(cache_items::table)
            .filter(sel.filter(scope))
            .execute(conn)
    }
}
