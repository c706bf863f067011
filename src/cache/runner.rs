//! Runs project-app plugins: in name order, each on its own thread with a time limit,
//! so an error, a panic or a hang stops only that plugin. A job for one project calls
//! each plugin's `sync_project` once; a site-wide job calls `sync_site` once.
//!
//! Every run has a gate (`PluginRun`): when the plugin returns, times out, or the
//! job is cancelled, the gate closes (after a write in flight finishes), so a plugin
//! left running can never write after its run ended.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::SodarCache;
use crate::Result;
use crate::db::models::{Project, User};
use crate::db::now;
use crate::plugin::{
    JobShared, PluginRun, ProgressObserver, ProjectAppPlugin, ProjectView, SyncContext, UserView,
    is_cancelled_error,
};

/// Runs plugins: the cache they write to, the plugins, and how long one plugin may
/// run within a job. The registry builds it; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    cache: SodarCache,
    plugins: Arc<[Arc<dyn ProjectAppPlugin>]>,
    timeout: Duration,
}

impl Runner {
    /// A runner of `plugins` (sorted by name) over `cache`.
    pub fn new(
        cache: SodarCache,
        plugins: Arc<[Arc<dyn ProjectAppPlugin>]>,
        timeout: Duration,
    ) -> Self {
        Runner {
            cache,
            plugins,
            timeout,
        }
    }

    /// The cache the plugins write to.
    pub fn cache(&self) -> &SodarCache {
        &self.cache
    }

    /// The plugins, by name.
    pub fn plugins(&self) -> &[Arc<dyn ProjectAppPlugin>] {
        &self.plugins
    }

    /// The longest one plugin may run within a job.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The plugin that owns `app` (its name or one of its sub-apps).
    pub fn owner_of(&self, app: &str) -> Option<&Arc<dyn ProjectAppPlugin>> {
        self.plugins
            .iter()
            .find(|p| p.name() == app || p.sub_apps().contains(&app))
    }
}

/// How the error of a plugin that ran past the plugin timeout begins.
const TIMED_OUT: &str = "timed out after";

/// What a sync covers.
#[derive(Debug, Clone, Default)]
pub struct SyncTarget {
    /// One project, or none for the whole site.
    pub project: Option<Project>,
    /// Who asked.
    pub user: Option<User>,
    /// Only this item name (plugins see it through `SyncContext::wants`).
    pub item_name: Option<String>,
    /// Only the plugin owning this app (a plugin's name or a sub-app).
    pub app: Option<String>,
}

/// One plugin's result over the job.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginOutcome {
    /// Plugin name.
    pub plugin: String,
    /// None when the plugin succeeded; otherwise why not.
    pub error: Option<String>,
    /// Items written.
    pub items_written: u64,
    /// Started (UTC).
    pub started: NaiveDateTime,
    /// Finished (UTC).
    pub finished: NaiveDateTime,
}

impl PluginOutcome {
    /// Whether the plugin succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the failure was the plugin running past the plugin timeout.
    pub fn timed_out(&self) -> bool {
        self.error
            .as_deref()
            .is_some_and(|e| e.starts_with(TIMED_OUT))
    }
}

/// The text of a plugin run stopped by a cancelled job.
pub const CANCELLED: &str = "cancelled";

/// The state a job's plugins share (cancellation, progress, who asked, filters).
/// `job_id`: the job's row, whose gate every write passes (none outside a job).
pub(crate) fn job_state(
    target: &SyncTarget,
    observer: Option<ProgressObserver>,
    job_id: Option<i64>,
) -> Arc<JobShared> {
    JobShared::new(
        target.user.as_ref().map(UserView::from),
        target.item_name.clone(),
        target.app.clone(),
        observer,
        job_id,
    )
}

/// Runs the plugins the target selects, in name order, and returns each one's
/// outcome. Stops starting plugins once the job is cancelled. Failures are logged as
/// upstream's `Update failed for plugin "name": "error"`.
pub(crate) fn run_plugins(
    runner: &Runner,
    target: &SyncTarget,
    job: &Arc<JobShared>,
) -> Result<Vec<PluginOutcome>> {
    let project = target.project.as_ref().map(ProjectView::from);
    let selected: Vec<&Arc<dyn ProjectAppPlugin>> = match target.app.as_deref() {
        Some(app) => runner.owner_of(app).into_iter().collect(),
        None => runner.plugins().iter().collect(),
    };
    let mut outcomes = Vec::with_capacity(selected.len());
    for plugin in selected {
        if job.is_cancelled() {
            job.mark_interrupted();
            break;
        }
        // Categories have no items of their own: nothing to call.
        if project.as_ref().is_some_and(ProjectView::is_category) {
            continue;
        }
        let started = now();
        let run = PluginRun::new(
            runner.cache().clone(),
            plugin.name(),
            plugin.sub_apps(),
            job.clone(),
            project.is_none(),
        );
        let ctx = SyncContext::new(run.clone(), project.clone());
        ctx.progress(0, 0, "started");
        let error = call_isolated(plugin, ctx, project.clone(), runner.timeout(), job)
            .err()
            .map(|e| match &project {
                Some(p) if e != CANCELLED => format!("{e} (project {})", p.log_title()),
                _ => e,
            });
        // Whatever happened, this run writes nothing more.
        run.close();
        if error.as_deref() == Some(CANCELLED) {
            // The job's gate refused a write before this process noticed a cancel:
            // ask the database, so the later plugins do not start.
            if let Some(id) = job.job_id
                && let Ok(mut conn) = runner.cache().conn()
                && let Ok(true) = crate::db::models::SyncJob::cancel_was_requested(&mut conn, id)
            {
                job.cancel_by_request();
            }
            job.mark_interrupted();
        }
        if let Some(e) = &error {
            tracing::error!("Update failed for plugin \"{}\": \"{e}\"", plugin.name());
        }
        outcomes.push(PluginOutcome {
            plugin: plugin.name().to_owned(),
            error,
            items_written: run.items_written(),
            started,
            finished: now(),
        });
    }
    Ok(outcomes)
}

/// Runs one plugin on its own thread, turning errors, panics, the time limit and a
/// cancelled job into an error text. A plugin that overruns is left to finish on its
/// own thread; its gate is closed, so it writes nothing more.
fn call_isolated(
    plugin: &Arc<dyn ProjectAppPlugin>,
    ctx: SyncContext,
    project: Option<ProjectView>,
    timeout: Duration,
    job: &JobShared,
) -> std::result::Result<(), String> {
    let (tx, rx) = mpsc::sync_channel(1);
    let plugin = plugin.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("plugin-{}", plugin.name()))
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| match &project {
                Some(p) => plugin.sync_project(&ctx, p),
                None => plugin.sync_site(&ctx),
            }));
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(format!("could not start a thread for the plugin: {e}"));
    }
    let deadline = Instant::now() + timeout;
    loop {
        // Wake up now and then to notice a cancelled job.
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        match rx.recv_timeout(slice) {
            Ok(Ok(Ok(()))) => return Ok(()),
            Ok(Ok(Err(e))) if is_cancelled_error(&e) || job.is_cancelled() => {
                return Err(CANCELLED.into());
            }
            Ok(Ok(Err(e))) => return Err(format!("{e:#}")),
            Ok(Err(panic)) => return Err(format!("panicked: {}", panic_message(&panic))),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err("panicked".into()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if job.is_cancelled() {
                    return Err(CANCELLED.into());
                }
                if Instant::now() >= deadline {
                    return Err(format!("{TIMED_OUT} {} seconds", timeout.as_secs_f64()));
                }
            }
        }
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
