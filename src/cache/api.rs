//! The backend API: what plugins and other code call to read and write cache items.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::Connection;

use super::{APP_NAME, DATA_TYPE_JSON, MAX_NAME_LEN, SODAR_CACHE};
use crate::db::models::{
    CacheItem, Event, NewCacheItem, NewEvent, Project, SyncJob, User, WriteOrigin, WrittenItem,
};
use crate::db::{DbConn, DbPool, DbUuid, JsonText, PooledConn, Scope, now};
use crate::plugins::BackendPlugin;
use crate::{Error, Result};

/// Upstream's `SodarCacheAPI`. Cheap to clone.
///
/// Every method does blocking database work: from async code call it inside
/// `web::block` / `spawn_blocking`.
#[derive(Clone)]
pub struct SodarCache {
    inner: Arc<Inner>,
}

struct Inner {
    pool: DbPool,
    /// Serializes this process's SQLite writers: they queue here, in order, instead of
    /// sleeping in SQLite's busy handler (which made write latency spiky under load).
    sqlite_writes: Mutex<()>,
    app_names: Vec<&'static str>,
    /// Each plugin's sub-apps, by plugin name.
    sub_apps: HashMap<&'static str, &'static [&'static str]>,
}

/// One item for [`SodarCache::put_many`], addressed by scope and writer id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScopedWrite<'a> {
    pub(crate) scope: Scope,
    pub(crate) app_name: &'a str,
    pub(crate) name: &'a str,
    pub(crate) data: &'a JsonText,
    pub(crate) user_id: Option<i64>,
}

/// One item for [`SodarCache::set_cache_items`].
#[derive(Debug, Clone)]
pub struct CacheWrite<'a> {
    /// App name.
    pub app_name: &'a str,
    /// Item name.
    pub name: &'a str,
    /// The document.
    pub data: JsonText,
    /// The project, or none for a site-wide item.
    pub project: Option<&'a Project>,
    /// The writer.
    pub user: Option<&'a User>,
}

/// Where a write comes from; kept with the item's current data and, once replaced,
/// with the version in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    /// REST, a sync, or other code.
    pub origin: WriteOrigin,
    /// The sync job writing, if known.
    pub job_id: Option<i64>,
}

impl Provenance {
    /// Code calling the backend API directly.
    pub const LIBRARY: Provenance = Provenance {
        origin: WriteOrigin::Library,
        job_id: None,
    };
    /// A REST `set`.
    pub const API: Provenance = Provenance {
        origin: WriteOrigin::Api,
        job_id: None,
    };

    /// A plugin during a sync (of this job, when known).
    pub fn sync(job_id: Option<i64>) -> Self {
        Provenance {
            origin: WriteOrigin::Sync,
            job_id,
        }
    }
}

impl BackendPlugin for SodarCache {
    fn name(&self) -> &'static str {
        SODAR_CACHE
    }

    fn api(&self) -> Arc<dyn Any + Send + Sync> {
        Arc::new(self.clone())
    }
}

/// Rows per multi-row upsert statement (well below both backends' parameter limits).
const BATCH_ROWS: usize = 500;

impl SodarCache {
    /// A cache API over `pool` that accepts these app names (and `sodarcache`). The
    /// registry builds it from the registered plugins; the cache knows nothing else
    /// about them.
    ///
    /// Each app comes with its sub-apps (names it writes under that are not plugins);
    /// they are valid app names too, and deleting an app's cache includes theirs.
    ///
    /// Panics if a name is given twice: that is a programming error.
    pub fn new(
        pool: DbPool,
        apps: impl IntoIterator<Item = (&'static str, &'static [&'static str])>,
    ) -> Self {
        let sub_apps: HashMap<&'static str, &'static [&'static str]> = apps.into_iter().collect();
        let mut app_names: Vec<&'static str> = vec![APP_NAME];
        for (app, subs) in &sub_apps {
            app_names.push(app);
            app_names.extend(subs.iter().copied());
        }
        app_names.sort_unstable();
        let n = app_names.len();
        app_names.dedup();
        assert_eq!(
            n,
            app_names.len(),
            "an app or sub-app name is declared twice"
        );
        SodarCache {
            inner: Arc::new(Inner {
                pool,
                sqlite_writes: Mutex::new(()),
                app_names,
                sub_apps,
            }),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &DbPool {
        &self.inner.pool
    }

    /// A pooled connection; a pool timeout is [`Error::Unavailable`].
    pub fn conn(&self) -> Result<PooledConn> {
        Ok(self.inner.pool.get()?)
    }

    /// Runs `f` in one write transaction on a pooled connection (see [`write_on`]).
    ///
    /// [`write_on`]: Self::write_on
    pub fn write<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        self.write_on(&mut conn, f)
    }

    /// Runs `f` in one write transaction on `conn`, the caller's connection: code that
    /// already holds one never takes a second (a unit of work holding two pooled
    /// connections starves the pool under load). On SQLite, writers of this process
    /// take turns first; the transaction's first statement must be a write (see `db`).
    pub fn write_on<T>(
        &self,
        conn: &mut DbConn,
        f: impl FnOnce(&mut DbConn) -> Result<T>,
    ) -> Result<T> {
        let _turn = matches!(conn, DbConn::Sqlite(_)).then(|| {
            self.inner
                .sqlite_writes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        });
        conn.transaction(f)
    }

    /// The plugin that owns `app` (its name, or one of its sub-apps), if any.
    pub fn plugin_of(&self, app: &str) -> Option<&'static str> {
        self.inner
            .sub_apps
            .iter()
            .find(|(plugin, subs)| **plugin == app || subs.contains(&app))
            .map(|(plugin, _)| *plugin)
    }

    /// The registered plugins' names, sorted.
    pub fn plugin_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.inner.sub_apps.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// The sub-apps of app `app_name` (none unless it is a plugin that declared some).
    pub fn sub_apps_of(&self, app_name: &str) -> &'static [&'static str] {
        self.inner.sub_apps.get(app_name).copied().unwrap_or(&[])
    }

    /// Valid app names: the registered plugins, their sub-apps and `sodarcache`, sorted.
    pub fn app_names(&self) -> Vec<&'static str> {
        self.inner.app_names.clone()
    }

    /// Fails with upstream's message unless `app_name` is a registered app (and first
    /// with the [names rule](crate::names), so the message never carries a control
    /// character).
    pub fn check_app_name(&self, app_name: &str) -> Result<()> {
        crate::names::check("App names", app_name)?;
        if self.inner.app_names.contains(&app_name) {
            Ok(())
        } else {
            Err(Error::BadRequest(format!(
                "Unknown app name \"{app_name}\" (installed apps: {})",
                self.inner.app_names.join(", ")
            )))
        }
    }

    fn check_data_type(data_type: &str) -> Result<()> {
        if data_type == DATA_TYPE_JSON {
            Ok(())
        } else {
            Err(Error::BadRequest(format!(
                "Unknown data type \"{data_type}\" for a cache item (allowed types: {DATA_TYPE_JSON})"
            )))
        }
    }

    fn check_write(&self, app_name: &str, name: &str, data: &JsonText) -> Result<()> {
        self.check_app_name(app_name)?;
        check_item_name(name)?;
        if data.is_null() {
            return Err(Error::BadRequest(
                "Cache data can not be null: store a JSON object, list, string or number".into(),
            ));
        }
        if data.depth_exceeds(super::MAX_JSON_DEPTH) {
            return Err(Error::BadRequest(format!(
                "Cache data is nested deeper than {} levels of arrays and objects",
                super::MAX_JSON_DEPTH
            )));
        }
        Ok(())
    }

    /// Creates or updates an item (upstream `set_cache_item`). Validates the app name,
    /// then the data type; nothing is written on error. On update, `user = None`
    /// keeps the previous writer. One atomic upsert: concurrent writers never fail.
    pub fn set_cache_item(
        &self,
        app_name: &str,
        name: &str,
        data: &serde_json::Value,
        data_type: &str,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> Result<CacheItem> {
        self.check_app_name(app_name)?;
        Self::check_data_type(data_type)?;
        self.set_cache_item_json(app_name, name, &JsonText::from_value(data), project, user)
    }

    /// [`set_cache_item`](Self::set_cache_item) for data that is already JSON text
    /// (the REST API stores the client's bytes without re-encoding them).
    pub fn set_cache_item_json(
        &self,
        app_name: &str,
        name: &str,
        data: &JsonText,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> Result<CacheItem> {
        let mut conn = self.conn()?;
        conn.retire_after_large_write(data.len());
        let by = Provenance::LIBRARY;
        let written =
            self.set_cache_item_recorded(&mut conn, app_name, name, data, project, user, by, None)?;
        Ok(written.with_data(data.clone()))
    }

    /// Writes an item on `conn` and, in the same transaction, its activity event: both
    /// or neither. Returns the row without its data (the caller has it).
    #[expect(clippy::too_many_arguments, reason = "the item's key, data and writer")]
    pub fn set_cache_item_recorded(
        &self,
        conn: &mut DbConn,
        app_name: &str,
        name: &str,
        data: &JsonText,
        project: Option<&Project>,
        user: Option<&User>,
        by: Provenance,
        event: Option<&NewEvent<'_>>,
    ) -> Result<WrittenItem> {
        self.check_write(app_name, name, data)?;
        let row = new_item(
            app_name,
            name,
            data,
            Scope::of(project),
            user.map(|u| u.id),
            by,
        );
        let item = match conn {
            // No transaction around it here: a small item's write and event are one
            // statement on PostgreSQL, which saves the BEGIN and COMMIT round trips
            // (upsert_recorded opens a transaction itself where it needs one).
            DbConn::Pg(_) => CacheItem::upsert_recorded(conn, &row, event)?,
            DbConn::Sqlite(_) => self.write_on(conn, |conn| {
                Ok(CacheItem::upsert_recorded(conn, &row, event)?)
            })?,
        };
        log_update(app_name, name, project, user);
        Ok(item)
    }

    /// Writes many items in one transaction: all or none. Every item is validated
    /// before anything is written; a key given twice keeps its last data.
    pub fn set_cache_items(&self, items: &[CacheWrite<'_>]) -> Result<usize> {
        let writes: Vec<ScopedWrite<'_>> = items
            .iter()
            .map(|w| ScopedWrite {
                scope: Scope::of(w.project),
                app_name: w.app_name,
                name: w.name,
                data: &w.data,
                user_id: w.user.map(|u| u.id),
            })
            .collect();
        let n = self.put_many(&writes, Provenance::LIBRARY)?.unwrap_or(0);
        tracing::info!("Updated {n} items in cache");
        Ok(n)
    }

    /// [`set_cache_items`](Self::set_cache_items) for writes addressed by scope and
    /// writer id (the plugin context's batches).
    ///
    /// A write of a sync job (`by.job_id`) first passes the job's gate in the same
    /// transaction ([`SyncJob::takes_writes`]): once the job was cancelled or has
    /// ended, nothing is written and the result is `Ok(None)`.
    pub(crate) fn put_many(
        &self,
        items: &[ScopedWrite<'_>],
        by: Provenance,
    ) -> Result<Option<usize>> {
        for item in items {
            self.check_write(item.app_name, item.name, item.data)?;
        }
        let mut last: HashMap<(Scope, &str, &str), usize> = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            last.insert((item.scope, item.app_name, item.name), i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let rows: Vec<NewCacheItem<'_>> = keep
            .iter()
            .map(|&i| {
                let w = &items[i];
                new_item(w.app_name, w.name, w.data, w.scope, w.user_id, by)
            })
            .collect();
        self.write(|conn| {
            if let Some(job) = by.job_id
                && !SyncJob::takes_writes(conn, job)?
            {
                return Ok(None);
            }
            for chunk in rows.chunks(BATCH_ROWS) {
                CacheItem::upsert_many(conn, chunk)?;
            }
            Ok(Some(rows.len()))
        })
    }

    /// The item, or none. No project means the site-wide item only.
    pub fn get_cache_item(
        &self,
        app_name: &str,
        name: &str,
        project: Option<&Project>,
    ) -> Result<Option<CacheItem>> {
        check_key(app_name, name)?;
        let mut conn = self.conn()?;
        Ok(CacheItem::find(
            &mut conn,
            Scope::of(project),
            app_name,
            name,
        )?)
    }

    /// When the item was last written, as seconds since the epoch, or none.
    pub fn get_update_time(
        &self,
        app_name: &str,
        name: &str,
        project: Option<&Project>,
    ) -> Result<Option<f64>> {
        check_key(app_name, name)?;
        let mut conn = self.conn()?;
        let date = CacheItem::find_date(&mut conn, Scope::of(project), app_name, name)?;
        Ok(date.map(epoch_seconds))
    }

    /// Every item of the project.
    pub fn get_project_cache(&self, project: &Project, data_type: &str) -> Result<Vec<CacheItem>> {
        Self::check_data_type(data_type)?;
        let mut conn = self.conn()?;
        Ok(CacheItem::list_for_scope(&mut conn, Scope::from(project))?)
    }

    /// Deletes the item; silent when it does not exist. Returns whether it existed.
    pub fn delete_cache_item(
        &self,
        app_name: &str,
        name: &str,
        project: Option<&Project>,
    ) -> Result<bool> {
        let mut conn = self.conn()?;
        self.delete_cache_item_recorded(&mut conn, app_name, name, project, None)
    }

    /// Deletes the item on `conn` and, when it existed, records `event` in the same
    /// transaction.
    pub fn delete_cache_item_recorded(
        &self,
        conn: &mut DbConn,
        app_name: &str,
        name: &str,
        project: Option<&Project>,
        event: Option<&NewEvent<'_>>,
    ) -> Result<bool> {
        check_key(app_name, name)?;
        let deleted = self.write_on(conn, |conn| {
            let deleted = CacheItem::delete_one(conn, Scope::of(project), app_name, name)? > 0;
            if let Some(event) = event.filter(|_| deleted) {
                Event::record(conn, event)?;
            }
            Ok(deleted)
        })?;
        if deleted {
            tracing::info!("Deleted item \"{app_name}:{name}\" from cache");
        }
        Ok(deleted)
    }

    /// Deletes items, optionally of one app (with its sub-apps) and/or one project (no
    /// project: every project and the site-wide items). Returns how many went. A
    /// project's whole cache (no app) goes in a few statements whatever its size: the
    /// items are gone for every reader when this returns, and their rows are purged
    /// later ([`CacheItem::purge_deleted`](crate::db::models::CacheItem::purge_deleted)).
    pub fn delete_cache(&self, app_name: Option<&str>, project: Option<&Project>) -> Result<usize> {
        let mut conn = self.conn()?;
        self.delete_cache_recorded(&mut conn, app_name, project, |_| None)
    }

    /// [`delete_cache`](Self::delete_cache) on `conn`, recording the event `event(n)`
    /// builds from the number deleted in the same transaction.
    pub fn delete_cache_recorded<'e>(
        &self,
        conn: &mut DbConn,
        app_name: Option<&str>,
        project: Option<&Project>,
        event: impl FnOnce(usize) -> Option<NewEvent<'e>>,
    ) -> Result<usize> {
        if let Some(app) = app_name {
            self.check_app_name(app)?;
        }
        let apps: Option<Vec<&str>> = app_name.map(|app| {
            std::iter::once(app)
                .chain(self.sub_apps_of(app).iter().copied())
                .collect()
        });
        let n = self.write_on(conn, |conn| {
            let n = CacheItem::delete_matching(conn, apps.as_deref(), project.map(Scope::from))?;
            if let Some(event) = event(n) {
                Event::record(conn, &event)?;
            }
            Ok(n)
        })?;
        let app = app_name.unwrap_or("None");
        let proj = project.map_or_else(|| "None".to_owned(), |p| p.uuid.to_string());
        if n > 0 {
            tracing::info!("Deleted {n} items from cache (app={app}, project={proj})");
        } else {
            tracing::info!("No items found for deletion (app={app}, project={proj})");
        }
        Ok(n)
    }
}

/// Seconds since the epoch, as upstream's `get_update_time` returns them.
pub fn epoch_seconds(t: chrono::NaiveDateTime) -> f64 {
    t.and_utc().timestamp_micros() as f64 / 1e6
}

/// The names rule for a key that is read or deleted (unknown names simply match
/// nothing; a control character is refused, as in writes).
fn check_key(app_name: &str, name: &str) -> Result<()> {
    crate::names::check("App names", app_name)?;
    crate::names::check("Item names", name)
}

pub(crate) fn check_item_name(name: &str) -> Result<()> {
    crate::names::check("Item names", name)?;
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(Error::BadRequest(format!(
            "Item name must be between 1 and {MAX_NAME_LEN} characters"
        )));
    }
    Ok(())
}

fn new_item<'a>(
    app_name: &'a str,
    name: &'a str,
    data: &'a JsonText,
    scope: Scope,
    user_id: Option<i64>,
    by: Provenance,
) -> NewCacheItem<'a> {
    NewCacheItem {
        uuid: DbUuid(uuid::Uuid::new_v4()),
        project_id: scope.project_id(),
        app_name,
        name,
        data,
        size_bytes: data.len() as i64,
        date_modified: now(),
        user_id,
        data_sha256: data.sha256_hex(),
        origin: Some(by.origin),
        job_id: by.job_id,
        preview: super::preview_of(data.as_str()),
    }
}

fn log_update(app_name: &str, name: &str, project: Option<&Project>, user: Option<&User>) {
    let mut line = format!("Updated item \"{app_name}:{name}\"");
    if let Some(p) = project {
        line.push_str(&format!(" in project {}", p.log_title()));
    }
    if let Some(u) = user {
        line.push_str(&format!(" by user \"{}\"", u.username));
    }
    tracing::info!("{line}");
}
