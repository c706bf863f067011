//! What each plugin of a sync job did to the cache (`sync_job_item_counts`), and the
//! items whose data a job changed. Both read the provenance every sync write records
//! (`cache_items.job_id` and the kept versions' `job_id`, see the item history).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{cache_item_versions, cache_items, sync_job_item_counts};
use crate::db::scope::live_row;
use crate::db::{DbConn, DbUuid, Scope};

/// One plugin's effect in one job.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sync_job_item_counts)]
pub struct ItemCounts {
    /// The job.
    pub job_id: i64,
    /// The plugin.
    pub plugin: String,
    /// Items the job wrote first (version 1).
    pub created: i64,
    /// Existing items whose data the job changed (a new version).
    pub changed: i64,
    /// Items written with the data they had (no new version).
    pub unchanged: i64,
    /// The plugin's items in the job's scope it did not write.
    pub untouched: i64,
}

/// Which items a plugin run covers: its apps, in the job's scope, maybe one name.
#[derive(Debug, Clone)]
pub struct RunScope<'a> {
    /// The plugin's app names (its own and its sub-apps').
    pub apps: &'a [&'a str],
    /// One project, or none: every project and the site-wide items (a site job).
    pub project_id: Option<i64>,
    /// Only items of this name.
    pub item_name: Option<&'a str>,
}

/// An item whose data a job changed (or created), with the newest version it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedItem {
    /// The item.
    pub uuid: DbUuid,
    /// Its app.
    pub app_name: String,
    /// Its name.
    pub name: String,
    /// The newest version the job wrote (1: the job created the item).
    pub version: i64,
}

macro_rules! in_run_scope {
    ($q:expr, $scope:expr) => {{
        let mut q = $q
            .filter(cache_items::app_name.eq_any($scope.apps.to_vec()))
            .into_boxed();
        q = match $scope.project_id {
            Some(p) => q.filter(cache_items::project_key.eq(Scope::Project(p).live_key())),
            None => q.filter(live_row()),
        };
        if let Some(n) = $scope.item_name {
            q = q.filter(cache_items::name.eq(n.to_owned()));
        }
        q
    }};
}

impl ItemCounts {
    /// Counts what job `job_id` did to the items of `scope`, in a run of `plugin` that
    /// started at `started`. Unchanged writes are told apart by time: an item written
    /// since `started` whose current version another writer made (a concurrent REST
    /// write in the same items would count as unchanged too).
    pub fn count(
        conn: &mut DbConn,
        job_id: i64,
        plugin: &str,
        scope: &RunScope<'_>,
        started: NaiveDateTime,
    ) -> QueryResult<ItemCounts> {
        let current: Vec<(i64, i64)> = in_run_scope!(
            cache_items::table.filter(cache_items::job_id.eq(job_id)),
            scope
        )
        .select((cache_items::id, cache_items::version))
        .load(conn)?;
        let mut history = cache_item_versions::table
            .inner_join(cache_items::table)
            .filter(cache_item_versions::job_id.eq(job_id))
            .filter(cache_items::app_name.eq_any(scope.apps.to_vec()))
            .select((cache_item_versions::item_id, cache_item_versions::version))
            .into_boxed();
        history = match scope.project_id {
            Some(p) => history.filter(cache_items::project_key.eq(Scope::Project(p).live_key())),
            None => history.filter(live_row()),
        };
        if let Some(n) = scope.item_name {
            history = history.filter(cache_items::name.eq(n.to_owned()));
        }
        let earlier: Vec<(i64, i64)> = history.load(conn)?;
        // The oldest version the job wrote tells whether it created the item.
        let mut first: BTreeMap<i64, i64> = BTreeMap::new();
        for (item, version) in current.into_iter().chain(earlier) {
            let v = first.entry(item).or_insert(version);
            *v = (*v).min(version);
        }
        let created = first.values().filter(|&&v| v == 1).count() as i64;
        let changed = first.len() as i64 - created;
        let unchanged: i64 = in_run_scope!(
            cache_items::table
                .filter(cache_items::date_modified.ge(started))
                .filter(
                    cache_items::job_id
                        .is_null()
                        .or(cache_items::job_id.ne(job_id))
                ),
            scope
        )
        .count()
        .get_result(conn)?;
        let untouched: i64 = in_run_scope!(
            cache_items::table.filter(cache_items::date_modified.lt(started)),
            scope
        )
        .count()
        .get_result(conn)?;
        Ok(ItemCounts {
            job_id,
            plugin: plugin.to_owned(),
            created,
            changed,
            unchanged,
            untouched,
        })
    }

    /// Stores the counts of a job's plugins.
    pub fn save(conn: &mut DbConn, counts: &[ItemCounts]) -> QueryResult<()> {
        // One row per statement: MultiBackend has no batch insert.
        for row in counts {
            diesel::insert_into(sync_job_item_counts::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// The counts of a job, by plugin name.
    pub fn for_job(conn: &mut DbConn, job_id: i64) -> QueryResult<Vec<ItemCounts>> {
        sync_job_item_counts::table
            .filter(sync_job_item_counts::job_id.eq(job_id))
            .order(sync_job_item_counts::plugin)
            .select(ItemCounts::as_select())
            .load(conn)
    }
}

/// The items of `scope` whose data job `job_id` changed or created, by app and name,
/// at most `limit`.
pub fn changed_in_job(
    conn: &mut DbConn,
    job_id: i64,
    scope: Scope,
    limit: usize,
) -> QueryResult<Vec<ChangedItem>> {
    let current: Vec<(DbUuid, String, String, i64)> = cache_items::table
        .filter(cache_items::job_id.eq(job_id))
        .filter(cache_items::project_key.eq(scope.live_key()))
        .select((
            cache_items::uuid,
            cache_items::app_name,
            cache_items::name,
            cache_items::version,
        ))
        .load(conn)?;
    let earlier: Vec<(DbUuid, String, String, i64)> = cache_item_versions::table
        .inner_join(cache_items::table)
        .filter(cache_item_versions::job_id.eq(job_id))
        .filter(cache_items::project_key.eq(scope.live_key()))
        .select((
            cache_items::uuid,
            cache_items::app_name,
            cache_items::name,
            cache_item_versions::version,
        ))
        .load(conn)?;
    let mut newest: BTreeMap<(String, String), ChangedItem> = BTreeMap::new();
    for (uuid, app_name, name, version) in current.into_iter().chain(earlier) {
        let entry = newest
            .entry((app_name.clone(), name.clone()))
            .or_insert(ChangedItem {
                uuid,
                app_name,
                name,
                version,
            });
        entry.version = entry.version.max(version);
    }
    Ok(newest.into_values().take(limit).collect())
}
