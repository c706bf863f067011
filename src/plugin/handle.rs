//! Requesting a sync from code and acting when it ends: [`SyncRequest`] →
//! [`PluginRegistry::request_sync`](crate::plugins::PluginRegistry::request_sync) →
//! [`SyncHandle`], which can be polled, awaited with a time limit, or run in this
//! thread.

use std::time::{Duration, Instant};

use super::context::Progress;
use crate::Result;
use crate::cache::Runner;
use crate::cache::jobs::{request_app_sync, run_job};
use crate::db::models::{JobStatus, Origin, Project, SyncJob};

/// What to sync: the site or one project, optionally one app (a plugin or one of its
/// sub-apps) and one item name.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    project: Option<uuid::Uuid>,
    app: Option<String>,
    name: Option<String>,
}

impl SyncRequest {
    /// Every project (a site-wide sync).
    pub fn site() -> Self {
        SyncRequest::default()
    }

    /// The project with this UUID.
    pub fn project(uuid: uuid::Uuid) -> Self {
        SyncRequest {
            project: Some(uuid),
            ..SyncRequest::default()
        }
    }

    /// Only the plugin owning `app` (its name or one of its sub-apps).
    pub fn app(self, app: impl Into<String>) -> Self {
        SyncRequest {
            app: Some(app.into()),
            ..self
        }
    }

    /// Only item `name`.
    pub fn name(self, name: impl Into<String>) -> Self {
        SyncRequest {
            name: Some(name.into()),
            ..self
        }
    }
}

/// A plugin's outcome in a job that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginResult {
    /// The plugin.
    pub plugin: String,
    /// None when it succeeded; `cancelled`, `timed out after ...` or its error.
    pub error: Option<String>,
    /// Items it wrote.
    pub items_written: i64,
}

/// Where a job is: its status, the latest progress, and (once ended) each plugin's
/// outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// The job's UUID (its page is `/cache/jobs/{uuid}`).
    pub uuid: uuid::Uuid,
    /// Queued, running, done, failed or cancelled.
    pub status: JobStatus,
    /// The latest progress reported.
    pub progress: Option<Progress>,
    /// Why the job as a whole failed (plugin errors are in `plugins`).
    pub error: Option<String>,
    /// Each plugin's outcome, once the job ended.
    pub plugins: Vec<PluginResult>,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

/// A requested sync job. A server's worker runs it (within `SODARCACHE_WORKER_POLL_MS`);
/// [`run_here`](Self::run_here) runs it in this thread instead, for code with no
/// server.
#[derive(Clone)]
pub struct SyncHandle {
    runner: Runner,
    job: SyncJob,
    joined: bool,
}

impl std::fmt::Debug for SyncHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandle")
            .field("job", &self.job.uuid)
            .field("joined", &self.joined)
            .finish()
    }
}

impl SyncHandle {
    pub(crate) fn request(runner: &Runner, request: &SyncRequest) -> Result<SyncHandle> {
        let cache = runner.cache();
        let mut conn = cache.conn()?;
        let project = match request.project {
            Some(uuid) => Some(Project::find_by_uuid(&mut conn, uuid)?.ok_or_else(|| {
                crate::Error::NotFound(format!("Project not found with UUID={uuid}"))
            })?),
            None => None,
        };
        let (job, joined) = request_app_sync(
            &mut conn,
            cache,
            project.as_ref(),
            request.app.as_deref(),
            request.name.as_deref(),
            Origin::Api,
            None,
        )?;
        Ok(SyncHandle {
            runner: runner.clone(),
            job,
            joined,
        })
    }

    /// The job's UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.job.uuid.0
    }

    /// Whether the request joined a queued or running job that covers it.
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// The job's state now. Blocking (one short query).
    pub fn poll(&self) -> Result<JobState> {
        let mut conn = self.runner.cache().conn()?;
        let job = SyncJob::find_by_id(&mut conn, self.job.id)?
            .ok_or_else(|| crate::Error::NotFound("The sync job was deleted".into()))?;
        let progress = SyncJob::progress(&mut conn, job.id)?.map(|p| Progress {
            plugin: p.plugin,
            done: u64::try_from(p.done).unwrap_or(0),
            total: u64::try_from(p.total).unwrap_or(0),
            message: p.message,
        });
        let plugins = SyncJob::plugin_runs(&mut conn, job.id)?
            .into_iter()
            .map(|r| PluginResult {
                plugin: r.plugin,
                error: r.error,
                items_written: r.items_written,
            })
            .collect();
        Ok(JobState {
            uuid: job.uuid.0,
            status: job.status,
            progress,
            error: job.error,
            plugins,
        })
    }

    /// Waits until the job ends or `limit` passes, polling a few times a second:
    /// the ended job's state, or `None` at the time limit (the job goes on).
    /// Blocking: from async code use [`wait_async`](Self::wait_async).
    pub fn wait(&self, limit: Duration) -> Result<Option<JobState>> {
        let deadline = Instant::now() + limit;
        loop {
            let state = self.poll()?;
            if state.is_finished() {
                return Ok(Some(state));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
    }

    /// [`wait`](Self::wait) for async code (on a blocking thread).
    pub async fn wait_async(&self, limit: Duration) -> Result<Option<JobState>> {
        let handle = self.clone();
        tokio::task::spawn_blocking(move || handle.wait(limit))
            .await
            .map_err(|e| crate::Error::Internal(format!("wait task failed: {e}")))?
    }

    /// Runs the job in this thread if it is still queued (as `synccache` does), else
    /// waits for whoever runs it; returns its end state. Blocking.
    pub fn run_here(&self) -> Result<JobState> {
        let claimed = {
            let mut conn = self.runner.cache().conn()?;
            SyncJob::claim(&mut conn, self.job.id, &crate::cache::jobs::worker_id())?
        };
        if let Some(job) = claimed {
            run_job(&self.runner, &job, None)?;
        }
        loop {
            if let Some(state) = self.wait(Duration::from_secs(3600))? {
                return Ok(state);
            }
        }
    }
}
