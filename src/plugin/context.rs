//! [`SyncContext`]: what a plugin gets while it runs. It is bound to the running
//! plugin and to the scope of its job, so a write names only the item (and optionally
//! a declared sub-app); the project and the job's user are implied.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use serde_json::value::RawValue;

use super::error::{Error, Result};
use super::views::{ItemFilter, ItemView, Member, Page, ProjectView, UserView};
use crate::cache::{Provenance, ScopedWrite, SodarCache};
use crate::db::models::{CacheItem, Project, RoleAssignment};
use crate::db::{JsonText, Scope};

/// Progress of a running job, as the job page, the REST API and `synccache` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The plugin that reported it.
    pub plugin: String,
    /// Steps done.
    pub done: u64,
    /// Steps in total (0: unknown).
    pub total: u64,
    /// What it is doing, for people.
    pub message: String,
}

/// Called with every progress report (from the plugin's thread).
pub(crate) type ProgressObserver = Arc<dyn Fn(&Progress) + Send + Sync>;

/// State shared by every plugin run of one job.
pub(crate) struct JobShared {
    /// Set when the job is cancelled (button, or it ended): every write is refused.
    cancelled: AtomicBool,
    /// Set when someone asked to cancel it (not just the end of the job).
    requested: AtomicBool,
    /// Set when a requested cancel stopped a plugin or kept one from starting.
    interrupted: AtomicBool,
    /// The job's row, whose gate every write passes in its transaction (none for
    /// `update_cache` calls outside a job).
    pub(crate) job_id: Option<i64>,
    progress: Mutex<(Progress, u64)>,
    observer: Option<ProgressObserver>,
    pub(crate) user: Option<UserView>,
    pub(crate) item_name: Option<String>,
    pub(crate) app_filter: Option<String>,
}

impl JobShared {
    pub(crate) fn new(
        user: Option<UserView>,
        item_name: Option<String>,
        app_filter: Option<String>,
        observer: Option<ProgressObserver>,
        job_id: Option<i64>,
    ) -> Arc<Self> {
        Arc::new(JobShared {
            cancelled: AtomicBool::new(false),
            requested: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            job_id,
            progress: Mutex::new((Progress::default(), 0)),
            observer,
            user,
            item_name,
            app_filter,
        })
    }

    /// Asks every plugin of the job to stop; writes from now on are refused.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Someone asked to cancel the job: stop every plugin.
    pub(crate) fn cancel_by_request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.cancel();
    }

    /// Records that a requested cancel stopped (or skipped) a plugin.
    pub(crate) fn mark_interrupted(&self) {
        if self.requested.load(Ordering::SeqCst) {
            self.interrupted.store(true, Ordering::SeqCst);
        }
    }

    /// Whether a requested cancel cut the job short (it ends `cancelled`).
    pub(crate) fn interrupted_by_request(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// The latest progress and how many reports there were so far.
    pub(crate) fn latest_progress(&self) -> (Progress, u64) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn report(&self, progress: Progress) {
        {
            let mut slot = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            slot.0 = progress.clone();
            slot.1 += 1;
        }
        if let Some(observe) = &self.observer {
            observe(&progress);
        }
    }
}

/// One plugin's run within a job: its writes are counted, and its gate closes when it
/// times out or the job ends. Writes hold the gate open while they run, so once
/// [`PluginRun::close`] returns no write of this run is in flight or can start.
pub(crate) struct PluginRun {
    cache: SodarCache,
    plugin: &'static str,
    sub_apps: &'static [&'static str],
    job: Arc<JobShared>,
    open: RwLock<bool>,
    written: AtomicU64,
    site_job: bool,
}

impl PluginRun {
    pub(crate) fn new(
        cache: SodarCache,
        plugin: &'static str,
        sub_apps: &'static [&'static str],
        job: Arc<JobShared>,
        site_job: bool,
    ) -> Arc<Self> {
        Arc::new(PluginRun {
            cache,
            plugin,
            sub_apps,
            job,
            open: RwLock::new(true),
            written: AtomicU64::new(0),
            site_job,
        })
    }

    /// Refuses every later write (after waiting for one in flight).
    pub(crate) fn close(&self) {
        *self.open.write().unwrap_or_else(|e| e.into_inner()) = false;
    }

    pub(crate) fn items_written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    fn provenance(&self) -> Provenance {
        Provenance::sync(self.job.job_id)
    }

    fn is_open(&self) -> bool {
        *self.open.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a write while the gate is open; refused when it is closed or the job was
    /// cancelled.
    fn guarded<T>(&self, write: impl FnOnce() -> Result<T>) -> Result<T> {
        let open = self.open.read().unwrap_or_else(|e| e.into_inner());
        if !*open || self.job.is_cancelled() {
            return Err(Error::Cancelled);
        }
        write()
    }
}

/// What a plugin gets while it runs: writes bound to its app and its job's scope,
/// reads, progress, cancellation. Cheap to clone.
///
/// A context is site-wide (in [`ProjectAppPlugin::sync_site`]) or bound to one
/// project (in [`ProjectAppPlugin::sync_project`], and from [`for_project`]). Writes
/// go under the plugin's app name, or a declared sub-app through [`sub_app`].
///
/// [`ProjectAppPlugin::sync_site`]: super::ProjectAppPlugin::sync_site
/// [`ProjectAppPlugin::sync_project`]: super::ProjectAppPlugin::sync_project
/// [`for_project`]: Self::for_project
/// [`sub_app`]: Self::sub_app
#[derive(Clone)]
pub struct SyncContext {
    run: Arc<PluginRun>,
    project: Option<Arc<ProjectView>>,
    app: &'static str,
}

impl std::fmt::Debug for SyncContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncContext")
            .field("plugin", &self.run.plugin)
            .field("app", &self.app)
            .field("project", &self.project.as_ref().map(|p| p.uuid))
            .finish_non_exhaustive()
    }
}

impl SyncContext {
    pub(crate) fn new(run: Arc<PluginRun>, project: Option<ProjectView>) -> Self {
        let app = run.plugin;
        SyncContext {
            run,
            project: project.map(Arc::new),
            app,
        }
    }

    // --- who and where ------------------------------------------------------

    /// The running plugin's name.
    pub fn plugin(&self) -> &'static str {
        self.run.plugin
    }

    /// The app this context writes under: the plugin's name, or a sub-app.
    pub fn app_name(&self) -> &'static str {
        self.app
    }

    /// The project this context writes to; none when it is site-wide.
    pub fn project(&self) -> Option<&ProjectView> {
        self.project.as_deref()
    }

    /// Who requested the job, if known (none for `synccache` and scheduled runs).
    pub fn user(&self) -> Option<&UserView> {
        self.run.job.user.as_ref()
    }

    /// The item name the job is limited to, if any.
    pub fn item_name(&self) -> Option<&str> {
        self.run.job.item_name.as_deref()
    }

    /// The name filter: whether the job wants item `name` refreshed (true unless the
    /// job is limited to another name). Skip the slow work for names it does not want.
    pub fn wants(&self, name: &str) -> bool {
        self.item_name().is_none_or(|n| n == name)
    }

    /// Whether the job wants `app` (the plugin's name or one of its sub-apps)
    /// refreshed: true unless the job is limited to another of the plugin's apps.
    pub fn wants_app(&self, app: &str) -> bool {
        match self.run.job.app_filter.as_deref() {
            None => true,
            Some(f) if f == self.run.plugin => true,
            Some(f) => f == app,
        }
    }

    /// A context that writes under the declared sub-app `app` (same scope, same
    /// counters). An app the plugin did not declare is [`Error::NotAllowed`].
    pub fn sub_app(&self, app: &str) -> Result<SyncContext> {
        let declared = if app == self.run.plugin {
            Some(self.run.plugin)
        } else {
            self.run.sub_apps.iter().copied().find(|s| *s == app)
        };
        let Some(app) = declared else {
            return Err(Error::NotAllowed(format!(
                "Plugin \"{}\" did not declare the app \"{app}\" (declared: {})",
                self.run.plugin,
                std::iter::once(self.run.plugin)
                    .chain(self.run.sub_apps.iter().copied())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        Ok(SyncContext {
            app,
            ..self.clone()
        })
    }

    /// A context bound to `project`, for a site-wide sync that loops over projects
    /// itself. In a job for one project, only that project is allowed.
    pub fn for_project(&self, project: &ProjectView) -> Result<SyncContext> {
        if !self.run.site_job && self.project.as_ref().is_none_or(|p| p.id != project.id) {
            return Err(Error::NotAllowed(format!(
                "This sync is limited to another project than {}",
                project.log_title()
            )));
        }
        Ok(SyncContext {
            project: Some(Arc::new(project.clone())),
            ..self.clone()
        })
    }

    /// The site-wide context of a site-wide sync (for site-wide items). In a job for
    /// one project this is [`Error::NotAllowed`].
    pub fn site(&self) -> Result<SyncContext> {
        if !self.run.site_job {
            return Err(Error::NotAllowed(
                "This sync is limited to one project: no site-wide writes".into(),
            ));
        }
        Ok(SyncContext {
            project: None,
            ..self.clone()
        })
    }

    fn scope(&self) -> Scope {
        self.project
            .as_ref()
            .map_or(Scope::Site, |p| Scope::Project(p.id))
    }

    // --- cancellation and progress -------------------------------------------

    /// Whether the job was cancelled (the Cancel button, the timeout, or the job
    /// ended). Check it between slow steps and return; every write now fails with
    /// [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.run.job.is_cancelled() || !self.run.is_open()
    }

    /// `Err(Error::Cancelled)` once the job is cancelled: `ctx.check_cancelled()?;`.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Reports progress: `done` of `total` steps (0: unknown total) and what it is
    /// doing. Shown live on the job page, over REST and in `synccache`'s bar.
    pub fn progress(&self, done: u64, total: u64, message: impl Into<String>) {
        self.run.job.report(Progress {
            plugin: self.run.plugin.to_owned(),
            done,
            total,
            message: message.into(),
        });
    }

    // --- writes ----------------------------------------------------------------

    /// Writes item `name` (any serializable value except `null`) under this context's
    /// app and scope, as the job's user. Counted.
    pub fn set(&self, name: &str, data: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string(data)
            .map_err(|e| Error::Invalid(format!("data is not JSON: {e}")))?;
        self.put(name, JsonText::from_trusted(text))
    }

    /// Writes JSON text the caller already has as a `RawValue`, without copying it.
    pub fn set_raw(&self, name: &str, data: Box<RawValue>) -> Result<()> {
        self.put(name, JsonText::from_raw_box(data))
    }

    /// Writes a large item from a writer: `write` streams the JSON into the buffer
    /// that is stored (e.g. `|w| serde_json::to_writer(w, &rows)`), so the document is
    /// held once. The text is checked to be one JSON document.
    pub fn set_with(
        &self,
        name: &str,
        write: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), serde_json::Error>,
    ) -> Result<()> {
        let mut buf = Vec::new();
        write(&mut buf).map_err(|e| Error::Invalid(format!("data is not JSON: {e}")))?;
        let text = JsonText::from_json_bytes(buf)
            .map_err(|e| Error::Invalid(format!("data is not one JSON document: {e}")))?;
        self.put(name, text)
    }

    fn put(&self, name: &str, data: JsonText) -> Result<()> {
        self.run.guarded(|| {
            let w = self.write_of(name, &data);
            self.run
                .cache
                .put_many(std::slice::from_ref(&w), self.run.provenance())?
                .ok_or(Error::Cancelled)?;
            self.run.written.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })?;
        self.log_update(name);
        Ok(())
    }

    fn write_of<'a>(&self, name: &'a str, data: &'a JsonText) -> ScopedWrite<'a> {
        ScopedWrite {
            scope: self.scope(),
            app_name: self.app,
            name,
            data,
            user_id: self.run.job.user.as_ref().map(|u| u.id),
        }
    }

    fn log_update(&self, name: &str) {
        let mut line = format!("Updated item \"{}:{name}\"", self.app);
        if let Some(p) = &self.project {
            line.push_str(&format!(" in project {}", p.log_title()));
        }
        if let Some(u) = &self.run.job.user {
            line.push_str(&format!(" by user \"{}\"", u.username));
        }
        tracing::info!("{line}");
    }

    /// A batch of writes committed in one transaction (all or none): under this
    /// context's app and scope, or another context's of the same run
    /// ([`Batch::set_in`]).
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            ctx: self,
            items: Vec::new(),
        }
    }

    // --- reads -------------------------------------------------------------------

    /// Item `name` of this context's app and scope, if any.
    pub fn get(&self, name: &str) -> Result<Option<ItemView>> {
        let mut conn = self.run.cache.conn()?;
        let item = CacheItem::find(&mut conn, self.scope(), self.app, name)?;
        Ok(item.map(|i| ItemView::new(i, self.project.as_ref().map(|p| p.uuid))))
    }

    /// Items of any app across projects, by app and name prefix, one page at a time.
    pub fn items(&self, filter: &ItemFilter) -> Result<Page<ItemView>> {
        read_items(&self.run.cache, filter)
    }

    /// Every project (not categories), by full title.
    pub fn projects(&self) -> Result<Vec<ProjectView>> {
        let mut conn = self.run.cache.conn()?;
        Ok(Project::list_projects(&mut conn)?
            .iter()
            .map(ProjectView::from)
            .collect())
    }

    /// The members of `project` with their own roles there, strongest first.
    pub fn members(&self, project: &ProjectView) -> Result<Vec<Member>> {
        let mut conn = self.run.cache.conn()?;
        Ok(RoleAssignment::members_of(&mut conn, project.id)?
            .into_iter()
            .map(|(user, role)| Member {
                user: UserView::from(&user),
                role,
            })
            .collect())
    }

    /// Runs `sync` for every project, each call isolated (an error or a panic is
    /// recorded and the loop goes on), with progress `i of n`, stopping when the job is
    /// cancelled. What [`ProjectAppPlugin::sync_site`] does by default. Errors come
    /// back as one, naming the projects.
    ///
    /// [`ProjectAppPlugin::sync_site`]: super::ProjectAppPlugin::sync_site
    pub fn each_project(
        &self,
        mut sync: impl FnMut(&SyncContext, &ProjectView) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let projects = self.projects()?;
        let total = projects.len() as u64;
        let mut errors: Vec<String> = Vec::new();
        for (i, project) in projects.iter().enumerate() {
            if self.is_cancelled() {
                return Err(Error::Cancelled.into());
            }
            self.progress(i as u64, total, project.full_title.clone());
            let ctx = self.for_project(project)?;
            let result = catch_unwind(AssertUnwindSafe(|| sync(&ctx, project)));
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) if is_cancelled_error(&e) => return Err(e),
                Ok(Err(e)) => errors.push(format!("{e:#} (project {})", project.log_title())),
                Err(panic) => errors.push(format!(
                    "panicked: {} (project {})",
                    crate::cache::runner::panic_message(&panic),
                    project.log_title()
                )),
            }
        }
        self.progress(total, total, "done");
        match errors.len() {
            0 => Ok(()),
            1 => Err(anyhow::anyhow!("{}", errors.remove(0))),
            n => Err(anyhow::anyhow!("{} (and {} more errors)", errors[0], n - 1)),
        }
    }
}

/// Whether a plugin's error is (or wraps) [`Error::Cancelled`].
pub(crate) fn is_cancelled_error(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| matches!(c.downcast_ref::<Error>(), Some(Error::Cancelled)))
}

/// Reads one page of items by app and name prefix, across projects.
pub(crate) fn read_items(cache: &SodarCache, filter: &ItemFilter) -> Result<Page<ItemView>> {
    if !(1..=ItemFilter::MAX_LIMIT).contains(&filter.limit) || filter.offset < 0 {
        return Err(Error::Invalid(format!(
            "limit must be 1 to {} and offset at least 0",
            ItemFilter::MAX_LIMIT
        )));
    }
    let mut conn = cache.conn()?;
    let (rows, total) = CacheItem::list_by_prefix(
        &mut conn,
        &filter.app_name,
        &filter.prefix,
        filter.offset,
        filter.limit,
    )?;
    let items: Vec<ItemView> = rows
        .into_iter()
        .map(|(item, project)| ItemView::new(item, project.map(|p| p.0)))
        .collect();
    let seen = filter.offset + items.len() as i64;
    let next = (seen < total && !items.is_empty()).then(|| ItemFilter {
        offset: seen,
        ..filter.clone()
    });
    Ok(Page { items, total, next })
}

/// Writes collected and committed in one transaction. See [`SyncContext::batch`].
pub struct Batch<'a> {
    ctx: &'a SyncContext,
    items: Vec<(SyncContext, String, JsonText)>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl Batch<'_> {
    /// Adds item `name` under the batch's context.
    pub fn set(&mut self, name: &str, data: &impl Serialize) -> Result<&mut Self> {
        let ctx = self.ctx.clone();
        self.set_in(&ctx, name, data)
    }

    /// Adds item `name` under `ctx` (a sub-app or project context of the same run).
    pub fn set_in(
        &mut self,
        ctx: &SyncContext,
        name: &str,
        data: &impl Serialize,
    ) -> Result<&mut Self> {
        if !Arc::ptr_eq(&ctx.run, &self.ctx.run) {
            return Err(Error::NotAllowed(
                "A batch takes writes of its own plugin run only".into(),
            ));
        }
        let text = serde_json::to_string(data)
            .map_err(|e| Error::Invalid(format!("data is not JSON: {e}")))?;
        self.items
            .push((ctx.clone(), name.to_owned(), JsonText::from_trusted(text)));
        Ok(self)
    }

    /// Adds raw JSON text under the batch's context, without copying it.
    pub fn set_raw(&mut self, name: &str, data: Box<RawValue>) -> &mut Self {
        self.items.push((
            self.ctx.clone(),
            name.to_owned(),
            JsonText::from_raw_box(data),
        ));
        self
    }

    /// Items added so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Writes every item in one transaction (all or none) and counts them. Returns how
    /// many rows were written (a name given twice counts once).
    pub fn commit(self) -> Result<usize> {
        let run = &self.ctx.run;
        let n = run.guarded(|| {
            let writes: Vec<ScopedWrite<'_>> = self
                .items
                .iter()
                .map(|(ctx, name, data)| ctx.write_of(name, data))
                .collect();
            let n = run
                .cache
                .put_many(&writes, run.provenance())?
                .ok_or(Error::Cancelled)?;
            run.written.fetch_add(n as u64, Ordering::SeqCst);
            Ok(n)
        })?;
        tracing::info!(
            "Updated {n} items of plugin \"{}\" in one transaction",
            run.plugin
        );
        Ok(n)
    }
}
