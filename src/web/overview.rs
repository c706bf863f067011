//! `GET /cache/`: every readable project with its cache at a glance, plus site-wide items.

use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::WebError;
use super::extract::CurrentUser;
use super::format::{When, size};
use super::page::{Layout, block, redirect, render};
use crate::cache::admin::{ScopeStats, overview};
use crate::db::models::JobStatus;
use crate::state::AppState;

/// One row of the overview.
struct Row {
    uuid: String,
    path: String,
    title: String,
    stats: StatsView,
}

/// A scope's statistics, formatted.
struct StatsView {
    items: i64,
    apps: String,
    size: String,
    newest: Option<When>,
    oldest: Option<When>,
    last_sync: Option<(String, JobStatus, When)>,
}

impl StatsView {
    fn new(s: &ScopeStats) -> Self {
        StatsView {
            items: s.items,
            apps: s.apps.join(", "),
            size: size(s.bytes),
            newest: When::opt(s.newest),
            oldest: When::opt(s.oldest),
            last_sync: s.last_sync.as_ref().and_then(|j| {
                j.finished
                    .map(|f| (j.uuid.to_string(), j.status, When::new(f)))
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    rows: Vec<Row>,
    site: StatsView,
}

/// `/` goes to the overview.
#[get("/")]
pub async fn root() -> HttpResponse {
    redirect("/cache/")
}

/// `/cache` (no slash) goes to the overview.
#[get("/cache")]
pub async fn no_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/cache/"))
        .finish()
}

/// The overview.
#[get("/cache/")]
pub async fn show_overview(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let u = user.clone();
    let data = block(&state, move |conn| overview(conn, &u)).await?;
    let rows = data
        .projects
        .iter()
        .map(|r| Row {
            uuid: r.project.uuid.to_string(),
            path: r
                .project
                .full_title
                .rsplit_once(" / ")
                .map(|(parent, _)| parent.to_owned())
                .unwrap_or_default(),
            title: r.project.title.clone(),
            stats: StatsView::new(&r.stats),
        })
        .collect();
    render(OverviewPage {
        layout: Layout::new(&session, &user),
        rows,
        site: StatsView::new(&data.site),
    })
}
