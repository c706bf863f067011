//! `GET /cache/project/{uuid}` and `GET /cache/site`: a scope's items, searchable,
//! filterable, sortable and paginated in the database, with sync history and activity.

use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::WebError;
use super::extract::CurrentUser;
use super::format::{Thousands, When, size};
use super::page::{
    Layout, QueryLinks, SortState, block, page_count, page_number, parse_uuid, render,
};
use super::views::{EventView, JobView, LastSync};
use crate::cache::admin::{readable_project, scope_page};
use crate::db::Scope;
use crate::db::models::dashboard::ItemsOf;
use crate::db::models::{ItemOrder, ItemQuery, JobScope, Project, User};
use crate::state::AppState;

/// Items per page.
pub const PAGE_SIZE: i64 = 50;

/// Search, filter, sort and page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    app: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
    stale: Option<String>,
    changed: Option<String>,
}

/// An item a sync job created or changed, with the link to its diff.
struct ChangedRow {
    uuid: String,
    app: String,
    name: String,
    version: i64,
    /// `?from=N-1&to=N` for a change; none for an item the job created.
    diff: Option<String>,
}

/// "Changed by a sync": the job and what it created or changed here.
struct ChangedList {
    job_uuid: String,
    when: Option<When>,
    rows: Vec<ChangedRow>,
    /// Whether the list was cut at [`MAX_CHANGED`].
    cut: bool,
}

/// Most items listed as changed by one job.
pub const MAX_CHANGED: usize = 500;

struct ItemRow {
    uuid: String,
    app: String,
    name: String,
    size: String,
    modified: When,
    who: String,
    stale: bool,
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    layout: Layout,
    title: String,
    path: String,
    uuid: Option<String>,
    can_manage: bool,
    /// Apps a plugin syncs (plugins and their sub-apps), for the per-app Sync button.
    sync_apps: Vec<String>,
    rows: Vec<ItemRow>,
    total: i64,
    page: i64,
    pages: i64,
    q: String,
    app: String,
    stale_only: bool,
    stale_count: Option<i64>,
    changed: Option<ChangedList>,
    /// The scope's dashboard (SVG charts and their tables), when it has items or syncs.
    dashboard: String,
    links: QueryLinks,
    sort: SortState,
    app_counts: Vec<(String, i64)>,
    jobs: Vec<JobView>,
    last_sync: Option<LastSync>,
    events: Vec<EventView>,
}

impl ProjectPage {
    /// The page itself, without parameters.
    fn base(&self) -> &str {
        self.links.base()
    }

    /// The header link of a column: sorts by it, flipping direction when it is current.
    fn sort_link(&self, key: &str) -> String {
        self.sort.link(&self.links, key, false)
    }

    /// ` aria-sort="..."` on the current sort column.
    fn aria_sort(&self, key: &str) -> String {
        self.sort
            .aria(key)
            .map(|a| format!(" aria-sort=\"{a}\""))
            .unwrap_or_default()
    }

    /// `▲`/`▼` on the current sort column.
    fn arrow(&self, key: &str) -> &'static str {
        self.sort.arrow(key)
    }

    /// An app chip: that app (or all, for `""`), search and sort kept.
    fn app_link(&self, app: &str) -> String {
        self.links.with(&[("app", app)])
    }

    fn page_link(&self, page: i64) -> String {
        self.links.page(page)
    }

    /// The stale filter switched on or off, the rest kept.
    fn stale_link(&self) -> String {
        self.links
            .with(&[("stale", if self.stale_only { "" } else { "1" })])
    }
}

async fn show(
    user: User,
    session: Session,
    state: web::Data<AppState>,
    project_uuid: Option<uuid::Uuid>,
    query: ListQuery,
) -> Result<HttpResponse, WebError> {
    let order = query
        .sort
        .as_deref()
        .and_then(ItemOrder::parse)
        .unwrap_or_default();
    let desc = query.dir.as_deref() == Some("desc");
    let page = page_number(query.page.as_deref());
    let q = query.q.clone().unwrap_or_default().trim().to_owned();
    let app = query.app.clone().unwrap_or_default().trim().to_owned();
    let now = crate::db::now();
    let freshness = state.registry.freshness().clone();
    let rules = (!freshness.is_empty()).then(|| freshness.rules(now));
    let stale_only = query.stale.as_deref() == Some("1") && rules.is_some();
    let item_query = ItemQuery {
        scope: Scope::Site, // set by `scope_page`
        search: Some(q.clone()).filter(|s| !s.is_empty()),
        app: Some(app.clone()).filter(|s| !s.is_empty()),
        order,
        desc,
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
        stale: rules.clone().filter(|_| stale_only),
    };
    let u: User = user.clone();
    let site_open = state.settings.site_items_readable_by_all;
    // A bad or unknown job is a 404: the link was edited.
    let changed_job = match query
        .changed
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => Some(parse_uuid(c)?),
        None => None,
    };
    let dash_freshness = freshness.clone();
    let (data, stale_count, changed, dashboard) = block(&state, move |conn| {
        let project: Option<Project> = match project_uuid {
            Some(uuid) => Some(readable_project(conn, &u, uuid)?.0),
            None => None,
        };
        let scope = Scope::of(project.as_ref());
        let data = scope_page(conn, &u, project, item_query, site_open)?;
        let stale_count = match rules {
            Some(rules) => Some(crate::cache::admin::count_stale(conn, scope, rules)?),
            None => None,
        };
        let changed = match changed_job {
            Some(uuid) => Some(changed_by(conn, uuid, scope)?),
            None => None,
        };
        let jobs = match &data.project {
            Some(p) => JobScope::Covering(p.clone()),
            None => JobScope::Site,
        };
        let dashboard = crate::cache::dashboard::dashboard(
            conn,
            &u,
            &ItemsOf::Scope(scope),
            &jobs,
            &dash_freshness,
            super::overview::DEFAULT_STALE_DAYS,
            now,
        )?;
        Ok((data, stale_count, changed, dashboard))
    })
    .await?;
    let name_of = |id: Option<i64>| id.and_then(|i| data.usernames.get(&i).map(String::as_str));
    let rows = data
        .items
        .iter()
        .map(|i| ItemRow {
            uuid: i.uuid.to_string(),
            app: i.app_name.clone(),
            name: i.name.clone(),
            size: size(i.size_bytes),
            modified: When::new(i.date_modified),
            who: i
                .user_id
                .and_then(|id| data.usernames.get(&id).cloned())
                .unwrap_or_else(|| "—".into()),
            stale: freshness.is_stale(&i.app_name, &i.name, i.date_modified, now),
        })
        .collect();
    let (title, path, uuid, base): (String, String, Option<String>, String) = match &data.project {
        Some(p) => (
            p.title.clone(),
            p.full_title
                .rsplit_once(" / ")
                .map(|(a, _)| a.to_owned())
                .unwrap_or_default(),
            Some(p.uuid.to_string()),
            format!("/cache/project/{}", p.uuid),
        ),
        None => (
            "Site-wide items".to_owned(),
            String::new(),
            None,
            "/cache/site".to_owned(),
        ),
    };
    let sort = SortState {
        key: order.as_str().to_owned(),
        desc,
    };
    let links = QueryLinks::new(
        base,
        &[
            ("q", &q),
            ("app", &app),
            ("sort", &sort.key),
            ("dir", if desc { "desc" } else { "" }),
            ("page", &page.to_string()),
            ("stale", if stale_only { "1" } else { "" }),
        ],
    );
    let mut app_counts = data.app_counts.clone();
    // The chosen app stays offered even when the search leaves none of its items.
    if !app.is_empty() && !app_counts.iter().any(|(a, _)| *a == app) {
        app_counts.push((app.clone(), 0));
        app_counts.sort();
    }
    let uuid_is_some = uuid.is_some();
    render(ProjectPage {
        layout: Layout::new(&session, &user),
        title,
        path,
        uuid,
        links,
        sort,
        can_manage: data.perms.manage,
        sync_apps: if data.perms.manage {
            let cache = state.registry.cache_unchecked();
            cache
                .app_names()
                .into_iter()
                .filter(|a| cache.plugin_of(a).is_some())
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        },
        rows,
        total: data.total,
        page,
        pages: page_count(data.total, PAGE_SIZE),
        q,
        app,
        stale_only,
        stale_count,
        changed,
        dashboard: if dashboard.apps.is_empty() && dashboard.days.iter().all(|d| d.total() == 0) {
            String::new()
        } else {
            super::dashboard::html(
                &dashboard,
                if uuid_is_some {
                    "this project"
                } else {
                    "the site-wide items"
                },
            )
        },
        app_counts,
        jobs: data
            .jobs
            .iter()
            .map(|j| {
                let project = j.project_id.and(data.project.as_ref());
                JobView::new(j, project, name_of(j.user_id), &user)
            })
            .collect(),
        last_sync: data
            .last_sync
            .as_ref()
            .and_then(|j| LastSync::new(j, &user)),
        events: data
            .events
            .iter()
            .map(|e| EventView::new(e, name_of(e.user_id)))
            .collect(),
    })
}

/// What job `uuid` created or changed in `scope`; a job that did not cover the scope
/// is a 404.
fn changed_by(
    conn: &mut crate::db::DbConn,
    uuid: uuid::Uuid,
    scope: Scope,
) -> crate::Result<ChangedList> {
    let job = crate::db::models::SyncJob::find_by_uuid(conn, uuid)?
        .filter(|j| j.project_id.is_none() || Scope::from_project_id(j.project_id) == scope)
        .ok_or_else(crate::Error::not_found)?;
    let mut items = crate::db::models::changed_in_job(conn, job.id, scope, MAX_CHANGED + 1)?;
    let cut = items.len() > MAX_CHANGED;
    items.truncate(MAX_CHANGED);
    Ok(ChangedList {
        job_uuid: job.uuid.to_string(),
        when: When::opt(job.finished.or(job.started)),
        cut,
        rows: items
            .into_iter()
            .map(|i| ChangedRow {
                diff: (i.version > 1).then(|| {
                    format!(
                        "/cache/item/{}?from={}&to={}#changes",
                        i.uuid,
                        i.version - 1,
                        i.version
                    )
                }),
                uuid: i.uuid.to_string(),
                app: i.app_name,
                name: i.name,
                version: i.version,
            })
            .collect(),
    })
}

/// A project's items.
#[get("/cache/project/{uuid}")]
pub async fn show_project(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    show(user, session, state, Some(uuid), query.into_inner()).await
}

/// The site-wide items.
#[get("/cache/site")]
pub async fn show_site(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    show(user, session, state, None, query.into_inner()).await
}
