//! Small display structs shared by several pages.

use super::format::{When, duration};
use crate::db::models::{Event, JobProgress, JobStatus, Origin, Project, SyncJob, User};

/// A sync job as a status badge with a link.
#[derive(Debug, Clone)]
pub struct JobView {
    /// UUID for the link.
    pub uuid: String,
    /// Where it is in its life cycle.
    pub status: JobStatus,
    /// `Whole site` or the project's full title.
    pub scope: String,
    /// Where it was requested.
    pub origin: Origin,
    /// Who asked, if known.
    pub who: String,
    /// When requested.
    pub created: When,
    /// Ended, if it has.
    pub finished: Option<When>,
    /// Run time, once started.
    pub duration: String,
    /// Whether the viewer may open the job page (site jobs: superusers).
    pub link: bool,
    /// The project's UUID, for a project's job.
    pub project_uuid: Option<String>,
    /// Queued or running.
    pub active: bool,
    /// What the job is limited to (`app "x", item "y"`), empty when it is not.
    pub target: String,
}

/// A job's latest progress as the pages show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProgressView {
    /// The plugin that reported it.
    pub plugin: String,
    /// Steps done.
    pub done: i64,
    /// Steps in total (0: unknown).
    pub total: i64,
    /// What it is doing.
    pub message: String,
    /// One line: `plugin: 3 of 10 (30%) · message`.
    pub text: String,
}

impl ProgressView {
    /// Formats stored progress.
    pub fn new(p: &JobProgress) -> Self {
        use super::format::Thousands;
        let mut text = format!("{}: {}", p.plugin, p.done.thousands());
        if p.total > 0 {
            let percent = (p.done.clamp(0, p.total) as f64 * 100.0 / p.total as f64).floor();
            text.push_str(&format!(" of {} ({percent}%)", p.total.thousands()));
        }
        if !p.message.is_empty() {
            text.push_str(" · ");
            text.push_str(&p.message);
        }
        ProgressView {
            plugin: p.plugin.clone(),
            done: p.done,
            total: p.total,
            message: p.message.clone(),
            text,
        }
    }
}

impl JobView {
    /// Formats a job for `viewer`; `project` is its project if any, `who` the
    /// requester's name.
    pub fn new(job: &SyncJob, project: Option<&Project>, who: Option<&str>, viewer: &User) -> Self {
        JobView {
            uuid: job.uuid.to_string(),
            status: job.status,
            scope: project.map_or_else(|| "Whole site".to_owned(), |p| p.full_title.clone()),
            origin: job.origin,
            who: who.unwrap_or("—").to_owned(),
            created: When::new(job.created),
            finished: When::opt(job.finished),
            duration: job.duration().map(duration).unwrap_or_else(|| "—".into()),
            link: job.project_id.is_some() || viewer.is_superuser,
            project_uuid: project.map(|p| p.uuid.to_string()),
            active: !job.status.is_finished(),
            target: job_target(job),
        }
    }

    /// The badge, linked to the job page when the viewer may open it.
    pub fn badge(&self) -> String {
        let badge = status_badge(self.status);
        if self.link {
            format!("<a href=\"/cache/jobs/{}\">{badge}</a>", self.uuid)
        } else {
            badge
        }
    }
}

/// An activity log line.
#[derive(Debug, Clone)]
pub struct EventView {
    /// What happened.
    pub description: String,
    /// Where it was requested.
    pub origin: Origin,
    /// Whether it worked.
    pub ok: bool,
    /// When.
    pub when: When,
    /// Who, if known.
    pub who: String,
}

impl EventView {
    /// Formats an event with the actor's name.
    pub fn new(event: &Event, who: Option<&str>) -> Self {
        EventView {
            description: event.description.clone(),
            origin: event.origin,
            ok: event.ok,
            when: When::new(event.created),
            who: who.unwrap_or("—").to_owned(),
        }
    }
}

/// The last sync of a scope as the pages show it: status badge and finish time, linked
/// to the job page only when the viewer may open it (site jobs: superusers).
#[derive(Debug, Clone)]
pub struct LastSync {
    /// The job's UUID.
    pub uuid: String,
    /// `done` or `failed`.
    pub status: JobStatus,
    /// When it finished.
    pub when: When,
    /// Whether the viewer may open the job page.
    pub link: bool,
}

impl LastSync {
    /// The finished `job` for `viewer`, if it has finished.
    pub fn new(job: &SyncJob, viewer: &User) -> Option<Self> {
        Some(LastSync {
            uuid: job.uuid.to_string(),
            status: job.status,
            when: When::new(job.finished?),
            link: job.project_id.is_some() || viewer.is_superuser,
        })
    }

    /// Whether the last sync failed.
    pub fn failed(&self) -> bool {
        self.status == JobStatus::Failed
    }

    /// The badge (a link when allowed) and the relative time.
    pub fn html(&self) -> String {
        let badge = status_badge(self.status);
        if self.link {
            format!(
                "<a href=\"/cache/jobs/{}\">{badge}</a> {}",
                self.uuid,
                self.when.html()
            )
        } else {
            format!("{badge} {}", self.when.html())
        }
    }
}

/// What a job is limited to: `app "x", item "y"`, or empty.
pub fn job_target(job: &SyncJob) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &job.app_name {
        parts.push(format!("app \"{a}\""));
    }
    if let Some(n) = &job.item_name {
        parts.push(format!("item \"{n}\""));
    }
    parts.join(", ")
}

/// `<span class="status status-done">done</span>`.
pub fn status_badge(status: JobStatus) -> String {
    let s = status.as_str();
    format!("<span class=\"status status-{s}\">{s}</span>")
}
