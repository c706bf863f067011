//! Sync jobs: a request inserts a row and returns; a worker claims it and runs the
//! plugins. Rows, not memory, hold the state, so any server instance can run or show
//! any job, and a job whose server died is marked failed by the next sweep.

use std::sync::Arc;
use std::time::Duration;

use super::SodarCache;
use super::runner::{PluginOutcome, Runner, SyncTarget, job_state, run_plugins};
use crate::db::models::{
    CacheItem, Event, ItemCounts, JobScopeRequest, JobStatus, NewEvent, Origin, PluginRun, Project,
    RunScope, SyncJob, User,
};
use crate::db::{DbConn, Scope};
use crate::plugin::{JobShared, Progress};
use crate::{Error, Result};

/// Rows of deleted project caches one purge transaction deletes
/// ([`CacheItem::purge_deleted`]): a few milliseconds of the write lock on SQLite.
pub const PURGE_BATCH: usize = 2_000;
/// Purge transactions per tick of the server's worker, at most.
pub const PURGE_BATCHES_PER_TICK: usize = 10;

/// How often a running job's worker records that it is alive, at most (see [`heartbeat_for`]).
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// The default of `SODARCACHE_JOB_STALE_SECONDS`: a running job silent for this long
/// belongs to a dead server.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// The heartbeat interval for a stale threshold: a sixth of it, at most [`HEARTBEAT`],
/// so a live job beats several times before anyone may call it stale.
pub fn heartbeat_for(stale_after: Duration) -> Duration {
    HEARTBEAT.min(stale_after / 6)
}

/// Queues a sync of every plugin for `project` (none: the whole site), limited to item
/// `name` if given, or joins a queued or running job that covers it (see
/// [`SyncJob::request`]). Returns the job and whether it was joined.
pub fn request_sync(
    conn: &mut DbConn,
    project: Option<&Project>,
    name: Option<&str>,
    origin: Origin,
    user: Option<&User>,
) -> Result<(SyncJob, bool)> {
    request_targeted(conn, project, None, name, origin, user)
}

/// Queues a sync like [`request_sync`], limited to the plugin owning `app` (a plugin's
/// name or one of its sub-apps) when given. An app no plugin owns is a 400.
pub fn request_app_sync(
    conn: &mut DbConn,
    cache: &SodarCache,
    project: Option<&Project>,
    app: Option<&str>,
    name: Option<&str>,
    origin: Origin,
    user: Option<&User>,
) -> Result<(SyncJob, bool)> {
    match app {
        None => request_targeted(conn, project, None, name, origin, user),
        Some(app) => {
            let owner = check_sync_app(cache, app)?;
            request_targeted(conn, project, Some((app, owner)), name, origin, user)
        }
    }
}

/// The plugin that syncs `app` (a plugin's name or one of its sub-apps); a 400 for an
/// unknown app or one no plugin syncs (`sodarcache`, an uninstalled app).
pub fn check_sync_app(cache: &SodarCache, app: &str) -> Result<&'static str> {
    cache.check_app_name(app)?;
    cache.plugin_of(app).ok_or_else(|| {
        Error::BadRequest(format!(
            "No plugin syncs the app \"{app}\" (plugins: {})",
            cache.plugin_names().join(", ")
        ))
    })
}

fn request_targeted(
    conn: &mut DbConn,
    project: Option<&Project>,
    app: Option<(&str, &'static str)>,
    name: Option<&str>,
    origin: Origin,
    user: Option<&User>,
) -> Result<(SyncJob, bool)> {
    if let Some(n) = name {
        super::check_item_name(n)?;
    }
    let covering: Vec<&str> = match app {
        Some((a, owner)) if a != owner => vec![a, owner],
        Some((a, _)) => vec![a],
        None => Vec::new(),
    };
    let req = JobScopeRequest {
        scope: Scope::of(project),
        app_name: app.map(|(a, _)| a),
        covering_apps: &covering,
        item_name: name,
    };
    Ok(SyncJob::request(conn, &req, origin, user.map(|u| u.id))?)
}

/// Asks a job to stop, for `user`: a queued job ends `cancelled` at once; a running
/// job's worker notices within a second, stops its plugins (every later write is
/// refused) and ends it `cancelled`. Returns the job and whether anything changed.
pub fn cancel_job(
    conn: &mut DbConn,
    job: &SyncJob,
    user: Option<&User>,
) -> Result<(SyncJob, bool)> {
    let (after, changed) = SyncJob::request_cancel(conn, job.id, user.map(|u| u.id))?;
    if changed && after.status == JobStatus::Cancelled {
        // A queued job ends here; a running one is recorded by its worker.
        record_end_event(conn, &after, None, "cancelled before it started")?;
    }
    Ok((after, changed))
}

/// Runs a claimed (running) job to the end and records its outcome. Never leaves the
/// job running: a failure to start is recorded as the job's error. Beats every
/// [`HEARTBEAT`] (for the default stale threshold; see [`run_job_beating`]).
pub fn run_job(
    runner: &Runner,
    job: &SyncJob,
    on_progress: Option<OnProgress>,
) -> Result<(SyncJob, Vec<PluginOutcome>)> {
    run_job_beating(runner, job, HEARTBEAT, on_progress)
}

/// Called with every progress report of a running job (from the plugin's thread).
pub type OnProgress = Arc<dyn Fn(&Progress) + Send + Sync>;

/// [`run_job`] with the heartbeat every `heartbeat` (use [`heartbeat_for`] the
/// configured stale threshold).
pub fn run_job_beating(
    runner: &Runner,
    job: &SyncJob,
    heartbeat: Duration,
    on_progress: Option<OnProgress>,
) -> Result<(SyncJob, Vec<PluginOutcome>)> {
    let cache = runner.cache();
    let (project, user) = {
        let mut conn = cache.conn()?;
        let project = match job.project_id {
            Some(id) => Project::find_by_id(&mut conn, id)?,
            None => None,
        };
        let user = match job.user_id {
            Some(id) => User::find_by_id(&mut conn, id)?,
            None => None,
        };
        (project, user)
    };
    let target = SyncTarget {
        project: project.clone(),
        user,
        item_name: job.item_name.clone(),
        app: job.app_name.clone(),
    };
    let shared = job_state(&target, on_progress, Some(job.id));
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let monitor = spawn_monitor(cache.clone(), job.id, heartbeat, shared.clone(), stopped);
    let result = if job.project_id.is_some() && project.is_none() {
        Err(Error::NotFound("The project was deleted".into()))
    } else {
        run_plugins(runner, &target, &shared)
    };
    // The job has ended: a plugin left running is refused from now on.
    shared.cancel();
    drop(stop);
    let _ = monitor.join();
    let cancelled = shared.interrupted_by_request();
    let mut conn = cache.conn()?;
    flush_progress(&mut conn, job.id, &shared, &mut 0);
    let (runs, error): (Vec<PluginRun>, Option<String>) = match &result {
        Ok(outcomes) => (
            outcomes
                .iter()
                .map(|o| PluginRun {
                    job_id: job.id,
                    plugin: o.plugin.clone(),
                    ok: o.ok(),
                    error: o.error.clone(),
                    items_written: o.items_written as i64,
                    started: o.started,
                    finished: o.finished,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.public_message())),
    };
    if let Ok(outcomes) = &result {
        // Counted before the job ends, so its page shows them once it is done. The
        // counts describe the job; a failure to count them does not fail it.
        if let Err(e) = record_item_counts(&mut conn, runner, job, outcomes) {
            tracing::warn!("counting the items of job {}: {e}", job.uuid);
        }
    }
    let finished = SyncJob::finish(&mut conn, job.id, &runs, error.as_deref(), cancelled)?;
    let failed: Vec<&str> = runs
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.plugin.as_str())
        .collect();
    let failure = if failed.is_empty() {
        error.unwrap_or_else(|| "unknown error".into())
    } else {
        format!("errors in: {}", failed.join(", "))
    };
    record_end_event(&mut conn, &finished, Some(&failure), "")?;
    Ok((finished, result.unwrap_or_default()))
}

/// Stores, per plugin that ran, what the job did to its items ([`ItemCounts`]).
fn record_item_counts(
    conn: &mut DbConn,
    runner: &Runner,
    job: &SyncJob,
    outcomes: &[PluginOutcome],
) -> Result<()> {
    let mut all = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let Some(plugin) = runner.plugins().iter().find(|p| p.name() == outcome.plugin) else {
            continue;
        };
        let apps: Vec<&str> = std::iter::once(plugin.name())
            .chain(plugin.sub_apps().iter().copied())
            .collect();
        let scope = RunScope {
            apps: &apps,
            project_id: job.project_id,
            item_name: job.item_name.as_deref(),
        };
        all.push(ItemCounts::count(
            conn,
            job.id,
            plugin.name(),
            &scope,
            outcome.started,
        )?);
    }
    ItemCounts::save(conn, &all)?;
    Ok(())
}

/// Records the activity entry of a job that ended: synchronized, cancelled, or failed
/// (`failure` says how).
fn record_end_event(
    conn: &mut DbConn,
    job: &SyncJob,
    failure: Option<&str>,
    cancel_note: &str,
) -> Result<()> {
    let mut scope = match job.project_id {
        Some(id) => Project::find_by_id(conn, id)?.map_or_else(
            || "a deleted project".to_owned(),
            |p| format!("project {}", p.log_title()),
        ),
        None => "all projects".to_owned(),
    };
    if let Some(app) = &job.app_name {
        scope.push_str(&format!(" (app \"{app}\")"));
    }
    if let Some(name) = &job.item_name {
        scope.push_str(&format!(" (item \"{name}\")"));
    }
    let description = match job.status {
        JobStatus::Done => format!("Synchronized cache for {scope}"),
        JobStatus::Cancelled if cancel_note.is_empty() => {
            format!("Cache synchronization for {scope} was cancelled")
        }
        JobStatus::Cancelled => format!("Cache synchronization for {scope} was {cancel_note}"),
        _ => match failure {
            Some(f) if f.starts_with("errors in: ") => {
                format!("Cache synchronization for {scope} finished with {f}")
            }
            Some(f) => format!("Cache synchronization for {scope} failed: {f}"),
            None => format!("Cache synchronization for {scope} failed"),
        },
    };
    let user_id = if job.status == JobStatus::Cancelled {
        job.cancelled_by.or(job.user_id)
    } else {
        job.user_id
    };
    Event::record(
        conn,
        &NewEvent {
            project_id: job.project_id,
            user_id,
            event_name: "cache_sync",
            origin: job.origin,
            description,
            ok: job.status == JobStatus::Done,
        },
    )?;
    Ok(())
}

/// How often a running job's worker looks for a cancel and stores new progress.
pub const MONITOR_TICK: Duration = Duration::from_millis(500);

/// Watches a running job until `stopped`'s sender is dropped: beats every `every`,
/// stores the latest progress (at most every [`MONITOR_TICK`], so a chatty plugin
/// costs one write per tick), and stops the plugins when someone asks to cancel or
/// the job is no longer running.
fn spawn_monitor(
    cache: SodarCache,
    job_id: i64,
    every: Duration,
    shared: Arc<JobShared>,
    stopped: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last_beat = std::time::Instant::now();
        let mut stored = 0;
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            stopped.recv_timeout(MONITOR_TICK.min(every))
        {
            let Ok(mut conn) = cache.conn() else { continue };
            if last_beat.elapsed() >= every {
                last_beat = std::time::Instant::now();
                let _ = SyncJob::beat(&mut conn, job_id);
            }
            flush_progress(&mut conn, job_id, &shared, &mut stored);
            if let Ok(true) = SyncJob::should_stop(&mut conn, job_id) {
                if let Ok(true) = SyncJob::cancel_was_requested(&mut conn, job_id) {
                    shared.cancel_by_request();
                } else {
                    shared.cancel();
                }
            }
        }
    })
}

/// Stores the job's latest progress if it changed since report number `stored`.
fn flush_progress(conn: &mut DbConn, job_id: i64, shared: &JobShared, stored: &mut u64) {
    let (p, n) = shared.latest_progress();
    if n == *stored {
        return;
    }
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    if SyncJob::record_progress(
        conn,
        job_id,
        &p.plugin,
        clamp(p.done),
        clamp(p.total),
        &p.message,
    )
    .is_ok()
    {
        *stored = n;
    }
}

/// Marks jobs of dead servers (silent for the default [`STALE_AFTER`]) as failed.
/// Returns how many.
pub fn sweep_stale(conn: &mut DbConn) -> Result<usize> {
    sweep_stale_after(conn, STALE_AFTER)
}

/// Marks running jobs whose heartbeat is older than `stale_after` as failed.
/// Returns how many.
pub fn sweep_stale_after(conn: &mut DbConn, stale_after: Duration) -> Result<usize> {
    let before = crate::db::now() - chrono::Duration::from_std(stale_after).unwrap_or_default();
    let n = SyncJob::fail_stale(conn, before)?;
    if n > 0 {
        tracing::warn!("Marked {n} sync jobs of a stopped server as failed");
    }
    Ok(n)
}

/// A name for this process among the server instances sharing the database.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &tag[..8])
}

/// Claims and runs queued jobs until the server stops. Wakes every `poll`, or at once
/// when `wake` is notified (a request in this process queued a job).
///
/// First thing, and then every third of `stale_after`, running jobs whose heartbeat
/// is older than `stale_after` are marked failed: after a crash, the next start (of
/// any instance) ends the jobs the dead server left `running`. Its own jobs beat
/// every [`heartbeat_for`]`(stale_after)`.
pub async fn run_worker(
    runner: Runner,
    poll: Duration,
    stale_after: Duration,
    wake: Arc<tokio::sync::Notify>,
) {
    let worker = worker_id();
    let heartbeat = heartbeat_for(stale_after);
    tracing::info!(%worker, "sync worker started");
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        let sweep = last_sweep.is_none_or(|t| t.elapsed() >= stale_after / 3);
        if sweep {
            last_sweep = Some(std::time::Instant::now());
        }
        let c = runner.cache().clone();
        let w = worker.clone();
        let claimed = tokio::task::spawn_blocking(move || -> Result<Option<SyncJob>> {
            let mut conn = c.conn()?;
            if sweep {
                sweep_stale_after(&mut conn, stale_after)?;
            }
            // Keep the kept aggregates' pending deltas short (PostgreSQL), so pages
            // reading them find little to fold.
            if let Err(e) = crate::db::models::kept_stats::fold_batch(
                &mut conn,
                crate::db::models::kept_stats::FOLD_BATCH,
            ) {
                tracing::warn!(error = %e, "sync worker cannot fold the kept aggregates");
            }
            // Rows of deleted project caches, a few batches per tick.
            for _ in 0..PURGE_BATCHES_PER_TICK {
                match CacheItem::purge_deleted(&mut conn, PURGE_BATCH) {
                    Ok(n) if n == PURGE_BATCH => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "sync worker cannot purge deleted items");
                        break;
                    }
                }
            }
            Ok(SyncJob::claim_next(&mut conn, &w)?)
        })
        .await;
        match claimed {
            Ok(Ok(Some(job))) => {
                let r = runner.clone();
                let uuid = job.uuid;
                let ran =
                    tokio::task::spawn_blocking(move || run_job_beating(&r, &job, heartbeat, None))
                        .await;
                match ran {
                    Ok(Ok((job, outcomes))) => {
                        crate::metrics::global().observe_job(&job, &outcomes);
                        tracing::info!(job = %uuid, status = %job.status, "sync job ended")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(job = %uuid, error = %e, "sync job could not be recorded")
                    }
                    Err(e) => tracing::error!(job = %uuid, error = %e, "sync job crashed"),
                }
                continue; // look for the next job at once
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sync worker cannot reach the database"),
            Err(e) => tracing::error!(error = %e, "sync worker task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = wake.notified() => {}
        }
    }
}
