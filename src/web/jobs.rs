//! `GET /cache/jobs` and `GET /cache/jobs/{uuid}`: sync jobs and their plugin outcomes.
//! A running job's page refreshes itself (a meta refresh, no script needed).

use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::WebError;
use super::extract::CurrentUser;
use super::format::{When, duration};
use super::page::{Layout, block, parse_uuid, render};
use super::views::JobView;
use crate::cache::admin::{usernames, visible_job, visible_jobs};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    layout: Layout,
    jobs: Vec<JobView>,
}

/// Recent jobs the user may see.
#[get("/cache/jobs")]
pub async fn list_jobs(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let u = user.clone();
    let (jobs, names) = block(&state, move |conn| {
        let jobs = visible_jobs(conn, &u, 100)?;
        let names = usernames(conn, jobs.iter().filter_map(|(j, _)| j.user_id))?;
        Ok((jobs, names))
    })
    .await?;
    render(JobsPage {
        layout: Layout::new(&session, &user),
        jobs: jobs
            .iter()
            .map(|(j, p)| {
                JobView::new(
                    j,
                    p.as_ref(),
                    j.user_id.and_then(|id| names.get(&id)).map(String::as_str),
                )
            })
            .collect(),
    })
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
}

/// One job.
#[get("/cache/jobs/{uuid}")]
pub async fn show_job(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let (job, project, runs, who) = block(&state, move |conn| visible_job(conn, &u, uuid)).await?;
    render(JobPage {
        layout: Layout::new(&session, &user),
        job: JobView::new(&job, project.as_ref(), who.as_deref()),
        project_uuid: project.as_ref().map(|p| p.uuid.to_string()),
        running: !job.is_finished(),
        started: When::opt(job.started),
        error: job.error.clone(),
        runs: runs
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
