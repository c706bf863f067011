//! Small display structs shared by several pages.

use super::format::{When, duration};
use crate::db::models::{Event, JobStatus, Origin, Project, SyncJob};

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
}

impl JobView {
    /// Formats a job; `project` is its project if any, `who` the requester's name.
    pub fn new(job: &SyncJob, project: Option<&Project>, who: Option<&str>) -> Self {
        JobView {
            uuid: job.uuid.to_string(),
            status: job.status,
            scope: project.map_or_else(|| "Whole site".to_owned(), |p| p.full_title.clone()),
            origin: job.origin,
            who: who.unwrap_or("—").to_owned(),
            created: When::new(job.created),
            finished: When::opt(job.finished),
            duration: job.duration().map(duration).unwrap_or_else(|| "—".into()),
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
