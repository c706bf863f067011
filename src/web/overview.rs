//! `GET /cache/`: the projects a user may read with their cache at a glance, searched,
//! filtered, sorted and paginated in the database, with totals and site-wide items.

use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::WebError;
use super::extract::CurrentUser;
use super::format::{Thousands, When, ago_until, size};
use super::page::{
    Layout, QueryLinks, SortState, block, page_count, page_number, redirect, render,
};
use super::views::LastSync;
use crate::cache::overview::{ScopeStats, overview};
use crate::cache::schedule::{ProjectSchedule, for_projects};
use crate::db::models::dashboard::ItemsOf;
use crate::db::models::{JobScope, ProjectOrder, ProjectQuery, ReadableTotals, User};
use crate::state::AppState;

/// Projects per page.
pub const PAGE_SIZE: i64 = 50;
/// Without a `stale` filter, projects whose newest item is older than this many days
/// are marked stale.
pub const DEFAULT_STALE_DAYS: i64 = 30;

/// Search, filters, sort and page (all optional; bad values are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OverviewQuery {
    q: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
    status: Option<String>,
    stale: Option<String>,
    stale_items: Option<String>,
    empty: Option<String>,
}

/// One row of the overview.
struct Row {
    uuid: String,
    path: String,
    title: String,
    stats: StatsView,
    stale: bool,
    /// Items past their plugin's freshness limit.
    stale_items: i64,
    schedule: Option<ScheduleView>,
}

impl Row {
    /// Highlighted as failed: its last sync or a last scheduled sync failed.
    fn failed(&self) -> bool {
        self.stats.failed() || self.schedule.as_ref().is_some_and(|s| !s.failed.is_empty())
    }
}

/// A project's scheduled syncs: when the next is due, which plugins' last failed.
struct ScheduleView {
    /// `in 5 minutes`, `due now`; none when no run is known yet.
    next: Option<(String, When)>,
    /// Plugin and job UUID of each failed last scheduled sync.
    failed: Vec<(String, String)>,
}

impl ScheduleView {
    fn new(s: &ProjectSchedule, now: chrono::NaiveDateTime) -> Self {
        ScheduleView {
            next: s.next_run_at.map(|t| {
                let secs = (t - now).num_seconds();
                let text = if secs <= 0 {
                    "due now".to_owned()
                } else {
                    ago_until(secs)
                };
                (text, When::new(t))
            }),
            failed: s
                .failed
                .iter()
                .map(|(plugin, job)| (plugin.clone(), job.uuid.to_string()))
                .collect(),
        }
    }

    /// The next run line and a link to each failed run.
    fn html(&self) -> String {
        let mut out = String::new();
        if let Some((text, when)) = &self.next {
            out.push_str(&format!(
                "<br><span class=\"small muted\">Next scheduled sync <time datetime=\"{}\" title=\"{}\" tabindex=\"0\">{}</time></span>",
                when.iso, when.exact, text
            ));
        }
        for (plugin, uuid) in &self.failed {
            out.push_str(&format!(
                "<br><a class=\"status status-failed\" href=\"/cache/jobs/{uuid}\">Scheduled sync failed</a> <span class=\"small\">{}</span>",
                super::json_tree::escape(plugin)
            ));
        }
        out
    }
}

/// A scope's statistics, formatted.
struct StatsView {
    items: i64,
    apps: String,
    size: String,
    newest: Option<When>,
    oldest: Option<When>,
    last_sync: Option<LastSync>,
}

impl StatsView {
    fn new(s: &ScopeStats, viewer: &User) -> Self {
        StatsView {
            items: s.items,
            apps: s.apps.join(", "),
            size: size(s.bytes),
            newest: When::opt(s.newest),
            oldest: When::opt(s.oldest),
            last_sync: s.last_sync.as_ref().and_then(|j| LastSync::new(j, viewer)),
        }
    }

    fn failed(&self) -> bool {
        self.last_sync.as_ref().is_some_and(LastSync::failed)
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    rows: Vec<Row>,
    site: StatsView,
    site_readable: bool,
    totals: ReadableTotals,
    total_size: String,
    matching: i64,
    page: i64,
    pages: i64,
    q: String,
    failed_only: bool,
    stale: String,
    stale_days: i64,
    /// The dashboard (SVG charts and their tables); empty on an empty site.
    dashboard: String,
    /// Whether any plugin has a freshness limit (the items filter is offered).
    limits: bool,
    stale_items_only: bool,
    empty_only: bool,
    filtered: bool,
    links: QueryLinks,
    sort: SortState,
}

impl OverviewPage {
    fn sort_link(&self, key: &str) -> String {
        self.sort.link(&self.links, key, key != "title")
    }

    fn aria_sort(&self, key: &str) -> String {
        self.sort
            .aria(key)
            .map(|a| format!(" aria-sort=\"{a}\""))
            .unwrap_or_default()
    }

    fn arrow(&self, key: &str) -> &'static str {
        self.sort.arrow(key)
    }

    fn page_link(&self, page: i64) -> String {
        self.links.page(page)
    }
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
    query: web::Query<OverviewQuery>,
) -> Result<HttpResponse, WebError> {
    let query = query.into_inner();
    let order = query
        .sort
        .as_deref()
        .and_then(ProjectOrder::parse)
        .unwrap_or_default();
    let desc = query.dir.as_deref() == Some("desc");
    let page = page_number(query.page.as_deref());
    let q = query.q.unwrap_or_default().trim().to_owned();
    let failed_only = query.status.as_deref() == Some("failed");
    let stale_filter: Option<i64> = query
        .stale
        .as_deref()
        .and_then(|d| d.trim().parse().ok())
        .filter(|d: &i64| (0..=36_500).contains(d));
    let empty_only = query.empty.as_deref() == Some("1");
    let stale_days = stale_filter.unwrap_or(DEFAULT_STALE_DAYS);
    let now = crate::db::now();
    let stale_before = now - chrono::Duration::days(stale_days);
    let freshness = state.registry.freshness();
    let rules = (!freshness.is_empty()).then(|| freshness.rules(now));
    let stale_items_only = query.stale_items.as_deref() == Some("1") && rules.is_some();
    let project_query = ProjectQuery {
        search: Some(q.clone()).filter(|s| !s.is_empty()),
        failed: failed_only,
        stale_before: stale_filter.map(|_| stale_before),
        empty: empty_only,
        stale_items: rules.clone().filter(|_| stale_items_only),
        order,
        desc,
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let u = user.clone();
    let site_open = state.settings.site_items_readable_by_all;
    let plugins = state.registry.runner().plugins().to_vec();
    let setting = state.settings.sync_schedule.clone();
    let dash_freshness = freshness.clone();
    let (data, schedules, stale_items, dashboard) = block(&state, move |conn| {
        let data = overview(conn, &u, &project_query, site_open)?;
        let items = ItemsOf::Readable {
            viewer: u.clone(),
            site: data.site_readable,
        };
        let dashboard = (data.totals.projects > 0 || data.site.items > 0)
            .then(|| {
                crate::cache::dashboard::dashboard(
                    conn,
                    &u,
                    &items,
                    &JobScope::All,
                    &dash_freshness,
                    stale_days,
                    now,
                )
            })
            .transpose()?;
        let ids: Vec<i64> = data.projects.iter().map(|r| r.project.id).collect();
        let schedules = for_projects(conn, &plugins, &setting, &ids)?;
        let stale_items: std::collections::HashMap<i64, i64> = match rules {
            Some(rules) => crate::db::models::stale_counts(conn, &ids, &rules)?
                .into_iter()
                .filter_map(|(p, n)| p.map(|p| (p, n)))
                .collect(),
            None => Default::default(),
        };
        Ok((data, schedules, stale_items, dashboard))
    })
    .await?;
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
            stats: StatsView::new(&r.stats, &user),
            stale: r.stats.newest.is_some_and(|n| n < stale_before),
            schedule: schedules
                .get(&r.project.id)
                .map(|s| ScheduleView::new(s, now)),
            stale_items: stale_items.get(&r.project.id).copied().unwrap_or(0),
        })
        .collect();
    let stale = stale_filter.map(|d| d.to_string()).unwrap_or_default();
    let sort = SortState {
        key: order.as_str().to_owned(),
        desc,
    };
    let links = QueryLinks::new(
        "/cache/",
        &[
            ("q", &q),
            ("status", if failed_only { "failed" } else { "" }),
            ("stale", &stale),
            ("stale_items", if stale_items_only { "1" } else { "" }),
            ("empty", if empty_only { "1" } else { "" }),
            (
                "sort",
                if order == ProjectOrder::Title {
                    ""
                } else {
                    &sort.key
                },
            ),
            ("dir", if desc { "desc" } else { "" }),
            ("page", &page.to_string()),
        ],
    );
    render(OverviewPage {
        layout: Layout::new(&session, &user),
        rows,
        site: StatsView::new(&data.site, &user),
        site_readable: data.site_readable,
        total_size: size(data.totals.bytes),
        totals: data.totals,
        matching: data.matching,
        page,
        pages: page_count(data.matching, PAGE_SIZE),
        filtered: !q.is_empty()
            || failed_only
            || stale_filter.is_some()
            || stale_items_only
            || empty_only,
        q,
        failed_only,
        stale,
        stale_days,
        dashboard: dashboard
            .map(|d| {
                let of = if data.site_readable {
                    "the projects you may read and the site-wide items"
                } else {
                    "the projects you may read"
                };
                super::dashboard::html(&d, of)
            })
            .unwrap_or_default(),
        limits: !freshness.is_empty(),
        stale_items_only,
        empty_only,
        links,
        sort,
    })
}
