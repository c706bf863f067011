//! [`Scope`]: where a cache item, a sync job or an event lives — the site, or one
//! project. Rows store it as a nullable project id; that encoding stays inside `db/`.
//!
//! Items also have a key, the generated `project_key = COALESCE(key_override,
//! project_id, 0)` (migration `2026-12-04-100001_deleted_scopes`): a project's live
//! items are under its `projects.cache_key`, or its id while that is NULL. Deleting a
//! project's whole cache moves the project to a new key; the rows under the old one are
//! in `cache_dead_keys` until purged. So a query for a scope's items compares
//! `project_key` with [`Scope::live_key`] (evaluated by the database in the query), and
//! a query that reaches items another way (by id, by UUID, across projects) keeps only
//! [`LIVE_ROW`] ones.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable};

use super::models::Project;

/// SQL true for a row of `cache_items` under a live key (not a deleted one).
pub(crate) const LIVE_ROW: &str = "NOT EXISTS (SELECT 1 FROM cache_dead_keys \
     WHERE cache_dead_keys.project_key = cache_items.project_key)";

/// [`LIVE_ROW`] as an expression. A fixed text with a static query id, unlike
/// `diesel::dsl::sql`, which makes Diesel prepare the statement again on every call.
pub(crate) fn live_row() -> LiveRow {
    LiveRow
}

/// The live item key of the joined `projects` row, as an expression (see [`live_row`]).
pub(crate) fn projects_live_key() -> ProjectsLiveKey {
    ProjectsLiveKey
}

/// The text of the live item key of the project whose id (NULL: the site) is bound
/// between the parts: 0 for the site, NULL for a project that does not exist.
const LIVE_KEY_PARTS: &[&str] = &[
    "(CASE WHEN ",
    " IS NULL THEN 0 ELSE (SELECT COALESCE(lk.cache_key, lk.id) FROM projects lk WHERE lk.id = ",
    ") END)",
];

/// The text of the `key_override` a new item of the project whose id is bound between
/// the parts is written with: the project's moved key, NULL when it has none (or for
/// the site).
const KEY_OVERRIDE_PARTS: &[&str] = &["(SELECT ko.cache_key FROM projects ko WHERE ko.id = ", ")"];

/// [`LIVE_KEY_PARTS`] around `param`, a placeholder or an expression, for SQL written
/// as text.
pub(crate) fn live_key_sql(param: &str) -> String {
    LIVE_KEY_PARTS.join(param)
}

/// [`KEY_OVERRIDE_PARTS`] around `param`.
pub(crate) fn key_override_sql(param: &str) -> String {
    KEY_OVERRIDE_PARTS.join(param)
}

/// The site-wide scope, or one project (by row id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Site-wide: items and jobs that belong to no project.
    #[default]
    Site,
    /// One project.
    Project(i64),
}

impl Scope {
    /// The scope of `project`; none is the site.
    pub fn of(project: Option<&Project>) -> Self {
        project.map_or(Scope::Site, |p| Scope::Project(p.id))
    }

    /// From a nullable `project_id` column.
    pub fn from_project_id(project_id: Option<i64>) -> Self {
        project_id.map_or(Scope::Site, Scope::Project)
    }

    /// The project's row id; none for the site.
    pub fn project_id(self) -> Option<i64> {
        match self {
            Scope::Site => None,
            Scope::Project(id) => Some(id),
        }
    }

    /// Whether this is the site-wide scope.
    pub fn is_site(self) -> bool {
        self == Scope::Site
    }

    /// The scope's key in the kept aggregates (`cache_app_stats` and the others): the
    /// project id, 0 for the site. Not an item key: see [`Scope::live_key`].
    pub(crate) fn key(self) -> i64 {
        self.project_id().unwrap_or(0)
    }

    /// The scope's live item key, as an expression the database evaluates (see the
    /// module's documentation).
    pub(crate) fn live_key(self) -> LiveKey {
        LiveKey(self.project_id())
    }

    /// The `key_override` of an item this scope writes, as an expression.
    pub(crate) fn key_override(self) -> KeyOverride {
        KeyOverride(self.project_id())
    }

    /// The scope a kept aggregate's key stands for.
    pub(crate) fn from_key(key: i64) -> Self {
        if key == 0 {
            Scope::Site
        } else {
            Scope::Project(key)
        }
    }
}

impl From<&Project> for Scope {
    fn from(p: &Project) -> Self {
        Scope::Project(p.id)
    }
}

/// [`Scope::live_key`]: `0`, or the project's `COALESCE(cache_key, id)` by a subquery.
#[derive(Debug, Clone, Copy, QueryId)]
pub(crate) struct LiveKey(Option<i64>);

/// [`Scope::key_override`]: `NULL`, or the project's `cache_key` by a subquery.
#[derive(Debug, Clone, Copy, QueryId)]
pub(crate) struct KeyOverride(Option<i64>);

impl Expression for LiveKey {
    type SqlType = BigInt;
}

impl Expression for KeyOverride {
    type SqlType = Nullable<BigInt>;
}

// Both render the same text for the site and for a project (the id bound as NULL or a
// value): their query ids are static, so Diesel keeps one prepared statement per query
// type, and a text that differed by scope would be run as the other scope's.
macro_rules! scope_subquery {
    ($t:ident, $parts:expr) => {
        impl<QS> AppearsOnTable<QS> for $t {}
        impl<QS> SelectableExpression<QS> for $t {}
        impl<GB> ValidGrouping<GB> for $t {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
        impl<DB> QueryFragment<DB> for $t
        where
            DB: Backend + HasSqlType<Nullable<BigInt>>,
            Option<i64>: ToSql<Nullable<BigInt>, DB>,
        {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
                for (i, part) in $parts.iter().enumerate() {
                    if i > 0 {
                        out.push_bind_param::<Nullable<BigInt>, _>(&self.0)?;
                    }
                    out.push_sql(part);
                }
                Ok(())
            }
        }
    };
}

scope_subquery!(LiveKey, LIVE_KEY_PARTS);
scope_subquery!(KeyOverride, KEY_OVERRIDE_PARTS);

super::sql_fragment! {
    /// [`live_row`].
    pub(crate) LiveRow: diesel::sql_types::Bool = LIVE_ROW
}

super::sql_fragment! {
    /// [`projects_live_key`].
    pub(crate) ProjectsLiveKey: BigInt = "COALESCE(projects.cache_key, projects.id)"
}
