//! `GET /cache/jobs` and `GET /cache/jobs/{uuid}`: sync jobs and their plugin outcomes.
//! A running job's page and rows update live (a small script polls
//! `/cache/jobs/live`; without it, the job page refreshes itself).

use actix_session::Session;
use std::collections::HashMap;

use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::WebError;
use super::extract::{CsrfForm, CurrentUser, NoFields};
use super::format::{Thousands, When, duration};
use super::page::{
    Layout, QueryLinks, block, flash, page_count, page_number, parse_uuid, redirect, render,
};
use super::views::{JobView, ProgressView};
use crate::cache::admin::{cancel_visible_job, job_list, readable_project, visible_job};
use crate::db::models::{JobProgress, JobQuery, JobScope, JobStatus, Origin, SyncJob};
use crate::state::AppState;

/// Jobs per page.
pub const PAGE_SIZE: i64 = 50;

/// Filters and page of the jobs list (bad values are ignored, an unknown project is
/// a 404).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobsQuery {
    status: Option<String>,
    origin: Option<String>,
    project: Option<String>,
    site: Option<String>,
    user: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    layout: Layout,
    jobs: Vec<JobView>,
    total: i64,
    page: i64,
    pages: i64,
    status: String,
    origin: String,
    project: Option<(String, String)>,
    site: bool,
    username: String,
    filtered: bool,
    links: QueryLinks,
}

impl JobsPage {
    fn page_link(&self, page: i64) -> String {
        self.links.page(page)
    }
}

/// The jobs the user may see, filtered and paginated in the database.
#[get("/cache/jobs")]
pub async fn list_jobs(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<JobsQuery>,
) -> Result<HttpResponse, WebError> {
    let query = query.into_inner();
    let page = page_number(query.page.as_deref());
    let status = query.status.as_deref().and_then(JobStatus::parse);
    let origin = query.origin.as_deref().and_then(Origin::parse);
    let site = query.site.as_deref() == Some("1");
    let username = query.user.unwrap_or_default().trim().to_owned();
    let project_uuid = match query
        .project
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => Some(parse_uuid(p)?),
        None => None,
    };
    let u = user.clone();
    let name = Some(username.clone()).filter(|n| !n.is_empty());
    let (list, project) = block(&state, move |conn| {
        let project = match project_uuid {
            Some(uuid) => Some(readable_project(conn, &u, uuid)?.0),
            None => None,
        };
        let scope = match (&project, site) {
            (Some(p), _) => JobScope::Covering(p.clone()),
            (None, true) => JobScope::Site,
            (None, false) => JobScope::All,
        };
        let list = job_list(
            conn,
            &u,
            &JobQuery {
                status,
                origin,
                scope,
                username: name,
                uuids: None,
                offset: (page - 1).saturating_mul(PAGE_SIZE),
                limit: PAGE_SIZE,
            },
        )?;
        Ok((list, project))
    })
    .await?;
    let status = status.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let origin = origin.map(|o| o.as_str().to_owned()).unwrap_or_default();
    let project_param = project
        .as_ref()
        .map(|p| p.uuid.to_string())
        .unwrap_or_default();
    let links = QueryLinks::new(
        "/cache/jobs",
        &[
            ("status", &status),
            ("origin", &origin),
            ("project", &project_param),
            ("site", if site && project.is_none() { "1" } else { "" }),
            ("user", &username),
            ("page", &page.to_string()),
        ],
    );
    let jobs = list
        .jobs
        .iter()
        .map(|(j, p)| {
            let who = j.user_id.and_then(|id| list.usernames.get(&id));
            JobView::new(j, p.as_ref(), who.map(String::as_str), &user)
        })
        .collect();
    render(JobsPage {
        layout: Layout::new(&session, &user),
        jobs,
        total: list.total,
        page,
        pages: page_count(list.total, PAGE_SIZE),
        filtered: !status.is_empty()
            || !origin.is_empty()
            || project.is_some()
            || site
            || !username.is_empty(),
        status,
        origin,
        project: project.map(|p| (p.uuid.to_string(), p.full_title)),
        site,
        username,
        links,
    })
}

/// `?ids=UUID,UUID,...` of the live-status endpoint.
#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    ids: String,
}

/// One job's state for the pages' live updates.
#[derive(Debug, Serialize)]
struct LiveJob {
    uuid: String,
    status: &'static str,
    duration: String,
    link: bool,
    active: bool,
    /// The latest progress, if the job reported any.
    progress: Option<ProgressView>,
    /// Whether a cancel was asked for and the job has not ended yet.
    cancelling: bool,
}

/// `GET /cache/jobs/live?ids=...`: the status of up to 100 jobs the user may see, as
/// JSON, for the small script that keeps running rows of the job lists current.
#[get("/cache/jobs/live")]
pub async fn live_jobs(
    CurrentUser(user): CurrentUser,
    state: web::Data<AppState>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, WebError> {
    let uuids: Vec<uuid::Uuid> = query
        .ids
        .split(',')
        .filter_map(|s| uuid::Uuid::parse_str(s.trim()).ok())
        .take(100)
        .collect();
    let u = user.clone();
    let list = block(&state, move |conn| {
        let list = job_list(
            conn,
            &u,
            &JobQuery {
                uuids: Some(uuids),
                limit: 100,
                ..JobQuery::default()
            },
        )?;
        let ids: Vec<i64> = list.jobs.iter().map(|(j, _)| j.id).collect();
        let progress: HashMap<i64, JobProgress> =
            SyncJob::progress_of(conn, &ids)?.into_iter().collect();
        Ok((list, progress))
    })
    .await?;
    let (list, progress) = list;
    let jobs: Vec<LiveJob> = list
        .jobs
        .iter()
        .map(|(j, p)| {
            let view = JobView::new(j, p.as_ref(), None, &user);
            LiveJob {
                uuid: view.uuid,
                status: j.status.as_str(),
                duration: view.duration,
                link: view.link,
                active: view.active,
                progress: progress.get(&j.id).map(ProgressView::new),
                cancelling: view.active && j.cancel_requested.is_some(),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "jobs": jobs })))
}

struct RunView {
    plugin: String,
    ok: bool,
    error: String,
    items: i64,
    duration: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    layout: Layout,
    job: JobView,
    project_uuid: Option<String>,
    running: bool,
    started: Option<When>,
    error: Option<String>,
    runs: Vec<RunView>,
    counts: Vec<crate::db::models::ItemCounts>,
    /// `?changed=` link target: the project page of a project's job.
    changes_link: Option<String>,
    progress: Option<ProgressView>,
    may_cancel: bool,
    /// `Cancelled by alice` / `Cancel asked by alice`, with when.
    cancel_note: Option<(String, When)>,
}

/// One job: its scope, progress (live while it runs), plugin outcomes, and a Cancel
/// button for those who may sync its scope.
#[get("/cache/jobs/{uuid}")]
pub async fn show_job(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let d = block(&state, move |conn| visible_job(conn, &u, uuid)).await?;
    let job = &d.job;
    let running = !job.is_finished();
    let job_id = job.id;
    let counts = block(&state, move |conn| {
        Ok(crate::db::models::ItemCounts::for_job(conn, job_id)?)
    })
    .await?;
    let changes_link = d
        .project
        .as_ref()
        .map(|p| format!("/cache/project/{}?changed={}#changed", p.uuid, job.uuid));
    let cancel_note = job.cancel_requested.map(|at| {
        let by = d.cancelled_by.as_deref().unwrap_or("—");
        let what = if running {
            format!("Cancel asked by {by}: the plugins are being stopped")
        } else {
            format!("Cancelled by {by}")
        };
        (what, When::new(at))
    });
    render(JobPage {
        layout: Layout::new(&session, &user),
        job: JobView::new(job, d.project.as_ref(), d.who.as_deref(), &user),
        project_uuid: d.project.as_ref().map(|p| p.uuid.to_string()),
        running,
        counts,
        changes_link,
        started: When::opt(job.started),
        error: job.error.clone(),
        progress: d.progress.as_ref().map(ProgressView::new),
        may_cancel: d.may_cancel && running && job.cancel_requested.is_none(),
        cancel_note,
        runs: d
            .runs
            .into_iter()
            .map(|r| RunView {
                duration: duration(r.finished - r.started),
                plugin: r.plugin,
                ok: r.ok,
                error: r.error.unwrap_or_default(),
                items: r.items_written,
            })
            .collect(),
    })
}

/// Cancels a queued or running job (owner, delegate, superuser; a site job:
/// superusers), then shows it. A queued job ends at once; a running one stops its
/// plugins within about a second, and nothing is written after the cancel.
#[post("/cache/jobs/{uuid}/cancel")]
pub async fn cancel_job(
    CurrentUser(user): CurrentUser,
    _: CsrfForm<NoFields>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let (job, changed) = block(&state, move |conn| cancel_visible_job(conn, &user, uuid)).await?;
    let message = match (changed, job.status) {
        (true, JobStatus::Cancelled) => "Job cancelled before it started.",
        (true, _) => "Cancel requested: the plugins are being stopped.",
        (false, s) if s.is_finished() => "This job has already ended.",
        (false, _) => "A cancel was already requested.",
    };
    flash(&session, "info", message);
    Ok(redirect(&format!("/cache/jobs/{uuid}")))
}
