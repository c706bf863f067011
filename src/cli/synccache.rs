//! `sodarcache synccache [-p UUID] [-a APP] [-n NAME]`: run every plugin (or the one
//! owning APP), as upstream's command does, recorded as a sync job. Exit 1 when any
//! plugin failed or the job was cancelled.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Context, find_project};
use crate::cache::jobs::{
    heartbeat_for, request_app_sync, run_job_beating, sweep_stale_after, worker_id,
};
use crate::db::models::{CacheItem, JobStatus, Origin, SyncJob};
use crate::plugin::Progress;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Limit the sync to the project with this UUID.
    #[arg(short, long, value_name = "UUID")]
    pub project: Option<String>,
    /// Limit the sync to the plugin owning this app (a plugin's name or a sub-app).
    #[arg(short, long, value_name = "APP")]
    pub app: Option<String>,
    /// Limit the sync to this item name (plugins skip the others).
    #[arg(short, long, value_name = "NAME")]
    pub name: Option<String>,
}

/// Runs the sync in this process and reports it.
pub fn run(ctx: &Context, opts: Opts) -> anyhow::Result<ExitCode> {
    if ctx.registry.cache().is_none() {
        anyhow::bail!("SodarCache backend not enabled in settings, cancelled");
    }
    if let Some(app) = &opts.app {
        crate::cache::jobs::check_sync_app(ctx.registry.cache_unchecked(), app)?;
    }
    let mut conn = ctx.conn()?;
    let project = match &opts.project {
        Some(p) => {
            let project = find_project(&mut conn, p)?;
            tracing::info!("Limiting sync to project {}", project.log_title());
            Some(project)
        }
        None => {
            tracing::info!("Synchronizing cache for all projects");
            None
        }
    };
    // A job left `running` by a server that died would otherwise be joined and
    // awaited forever: no server may be running to sweep it.
    sweep_stale_after(&mut conn, ctx.settings.job_stale_after)?;
    // Rows of deleted project caches (a server's worker purges them too; a site that
    // runs only commands, from cron, has this).
    while CacheItem::purge_deleted(&mut conn, crate::cache::jobs::PURGE_BATCH)? > 0 {}
    if let Some(app) = &opts.app {
        tracing::info!("Limiting sync to app \"{app}\"");
    }
    if let Some(name) = &opts.name {
        tracing::info!("Limiting sync to item \"{name}\"");
    }
    let (job, joined) = request_app_sync(
        &mut conn,
        ctx.registry.cache_unchecked(),
        project.as_ref(),
        opts.app.as_deref(),
        opts.name.as_deref(),
        Origin::Cli,
        None,
    )?;
    if joined {
        tracing::info!(
            "Joining sync job {} requested earlier for this scope",
            job.uuid
        );
    }
    // A queued job (ours, or one the web queued) is run here; a running one is awaited.
    let claimed = SyncJob::claim(&mut conn, job.id, &worker_id())?;
    drop(conn);
    let finished = match claimed {
        Some(job) => {
            let bar = progress_bar();
            let shown = bar.clone();
            let (job, _) = run_job_beating(
                ctx.registry.runner(),
                &job,
                heartbeat_for(ctx.settings.job_stale_after),
                Some(Arc::new(move |p: &Progress| {
                    if p.total > 0 {
                        shown.set_length(p.total);
                    }
                    shown.set_position(p.done);
                    shown.set_message(format!("{}: {}", p.plugin, p.message));
                })),
            )?;
            bar.finish_and_clear();
            job
        }
        None => {
            tracing::info!(
                "A sync for this scope is already running (job {}), waiting for it",
                job.uuid
            );
            wait_for(ctx, job.id)?
        }
    };
    if finished.status == JobStatus::Done {
        tracing::info!("Cache synchronization OK");
        Ok(ExitCode::SUCCESS)
    } else if finished.status == JobStatus::Cancelled {
        tracing::error!(
            "Cache synchronization was cancelled (job {})",
            finished.uuid
        );
        Ok(ExitCode::FAILURE)
    } else {
        if let Some(e) = &finished.error {
            tracing::error!("{e}");
        }
        tracing::error!("Cache synchronization finished with errors (see logs)");
        Ok(ExitCode::FAILURE)
    }
}

/// A bar on a terminal; hidden (plain log lines only) when stderr is not one.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn wait_for(ctx: &Context, id: i64) -> anyhow::Result<SyncJob> {
    loop {
        let mut conn = ctx.conn()?;
        // The worker running it may die while we wait.
        sweep_stale_after(&mut conn, ctx.settings.job_stale_after)?;
        let job = SyncJob::find_by_id(&mut conn, id)?
            .ok_or_else(|| anyhow::anyhow!("The sync job was deleted"))?;
        if job.is_finished() {
            return Ok(job);
        }
        drop(conn);
        std::thread::sleep(Duration::from_millis(500));
    }
}
