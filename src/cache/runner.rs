//! Runs project-app plugins: in name order, one call per project in scope, each call
//! on its own thread so an error, a panic or a hang stops only that call.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use chrono::NaiveDateTime;

use super::SodarCache;
use crate::Result;
use crate::db::models::{CacheItem, Project, User};
use crate::db::{JsonText, PooledConn, now};
use crate::plugins::ProjectAppPlugin;

/// What a plugin gets while it runs: the cache API, a database connection on demand,
/// and a counter of the items it wrote.
#[derive(Clone)]
pub struct SyncContext {
    cache: SodarCache,
    written: Arc<AtomicU64>,
}

impl SyncContext {
    /// A context over `cache` with its own counter.
    pub fn new(cache: SodarCache) -> Self {
        SyncContext {
            cache,
            written: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The cache API.
    pub fn cache(&self) -> &SodarCache {
        &self.cache
    }

    /// A pooled connection, for reading projects, members and the like.
    pub fn conn(&self) -> Result<PooledConn> {
        self.cache.conn()
    }

    /// Writes an item and counts it (see [`SodarCache::set_cache_item`]).
    pub fn set_cache_item(
        &self,
        app_name: &str,
        name: &str,
        data: &serde_json::Value,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> Result<CacheItem> {
        let item = self.cache.set_cache_item(
            app_name,
            name,
            data,
            super::DATA_TYPE_JSON,
            project,
            user,
        )?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(item)
    }

    /// Writes many items in one transaction and counts them.
    pub fn set_cache_items(&self, items: &[super::CacheWrite<'_>]) -> Result<usize> {
        let n = self.cache.set_cache_items(items)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// Writes JSON text and counts it.
    pub fn set_cache_item_json(
        &self,
        app_name: &str,
        name: &str,
        data: &JsonText,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> Result<CacheItem> {
        let item = self
            .cache
            .set_cache_item_json(app_name, name, data, project, user)?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(item)
    }

    /// Items written through this context so far.
    pub fn items_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// How the error of a call that ran past the plugin timeout begins.
const TIMED_OUT: &str = "timed out after";

/// One plugin's result over the whole scope.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginOutcome {
    /// Plugin name.
    pub plugin: String,
    /// None when every call succeeded; otherwise the first error and how many more.
    pub error: Option<String>,
    /// Items written.
    pub items_written: u64,
    /// Started (UTC).
    pub started: NaiveDateTime,
    /// Finished (UTC).
    pub finished: NaiveDateTime,
}

impl PluginOutcome {
    /// Whether every call succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the (first) failure was a call running past the plugin timeout.
    pub fn timed_out(&self) -> bool {
        self.error
            .as_deref()
            .is_some_and(|e| e.starts_with(TIMED_OUT))
    }
}

/// Progress after each plugin call.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The plugin that just ran.
    pub plugin: &'a str,
    /// The project it ran for (none: site-wide).
    pub project: Option<&'a Project>,
    /// Calls done.
    pub done: usize,
    /// Calls in total.
    pub total: usize,
}

/// Runs plugins: the cache they write to, the plugins, and how long one call may run.
/// The registry builds it; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    cache: SodarCache,
    plugins: Arc<[Arc<dyn ProjectAppPlugin>]>,
    timeout: std::time::Duration,
}

impl Runner {
    /// A runner of `plugins` (sorted by name) over `cache`.
    pub fn new(
        cache: SodarCache,
        plugins: Arc<[Arc<dyn ProjectAppPlugin>]>,
        timeout: std::time::Duration,
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

    /// The longest a single plugin call may run.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }
}

/// The projects a sync covers: the given project, or every project plus the
/// site-wide scope (`None`).
pub fn scope(cache: &SodarCache, project: Option<&Project>) -> Result<Vec<Option<Project>>> {
    match project {
        Some(p) => Ok(vec![Some(p.clone())]),
        None => {
            let mut conn = cache.conn()?;
            let mut targets: Vec<Option<Project>> = Project::list_projects(&mut conn)?
                .into_iter()
                .map(Some)
                .collect();
            targets.push(None);
            Ok(targets)
        }
    }
}

/// Runs every plugin over the scope and returns each plugin's outcome, by name.
/// Failures are logged as upstream's `Update failed for plugin "name": "error"`.
pub fn run_plugins(
    runner: &Runner,
    name: Option<&str>,
    project: Option<&Project>,
    user: Option<&User>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<PluginOutcome>> {
    let cache = runner.cache();
    let targets = scope(cache, project)?;
    let plugins = runner.plugins();
    let total = plugins.len() * targets.len();
    let mut done = 0;
    let mut outcomes = Vec::with_capacity(plugins.len());
    for plugin in plugins {
        let ctx = SyncContext::new(cache.clone());
        let started = now();
        let mut errors: Vec<String> = Vec::new();
        for target in &targets {
            let result = call_isolated(plugin, &ctx, name, target.as_ref(), user, runner.timeout());
            if let Err(e) = result {
                errors.push(match target {
                    Some(p) => format!("{e} (project {})", p.log_title()),
                    None => e,
                });
            }
            done += 1;
            progress(Progress {
                plugin: plugin.name(),
                project: target.as_ref(),
                done,
                total,
            });
        }
        let error = match errors.len() {
            0 => None,
            1 => errors.pop(),
            n => Some(format!("{} (and {} more errors)", errors[0], n - 1)),
        };
        if let Some(e) = &error {
            tracing::error!("Update failed for plugin \"{}\": \"{e}\"", plugin.name());
        }
        outcomes.push(PluginOutcome {
            plugin: plugin.name().to_owned(),
            error,
            items_written: ctx.items_written(),
            started,
            finished: now(),
        });
    }
    Ok(outcomes)
}

/// Runs one plugin call on its own thread, turning errors, panics and time-outs into
/// an error text. A call that times out is left to finish on its own; its outcome is
/// recorded as a failure.
fn call_isolated(
    plugin: &Arc<dyn ProjectAppPlugin>,
    ctx: &SyncContext,
    name: Option<&str>,
    project: Option<&Project>,
    user: Option<&User>,
    timeout: std::time::Duration,
) -> std::result::Result<(), String> {
    let (tx, rx) = mpsc::sync_channel(1);
    let plugin = plugin.clone();
    let ctx = ctx.clone();
    let name = name.map(str::to_owned);
    let project = project.cloned();
    let user = user.cloned();
    let spawned = std::thread::Builder::new()
        .name(format!("plugin-{}", plugin.name()))
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| {
                plugin.update_cache(&ctx, name.as_deref(), project.as_ref(), user.as_ref())
            }));
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(format!("could not start a thread for the plugin: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("{e:#}")),
        Ok(Err(panic)) => Err(format!("panicked: {}", panic_message(&panic))),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("{TIMED_OUT} {} seconds", timeout.as_secs_f64()))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("panicked".into()),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
