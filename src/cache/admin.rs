//! What the admin pages show, gathered in a few queries per page. No HTML here.

use std::collections::HashMap;

use crate::auth::rules::Permissions;
use crate::db::models::{
    CacheItem, CacheItemSummary, Event, ItemQuery, ItemSelection, JobProgress, JobQuery, JobScope,
    NewEvent, Origin, Project, ProjectBlock, StaleRules, SyncJob, User,
};
use crate::db::{DbConn, Scope};
use crate::{Error, Result};

/// A project page (or the site-wide page when `project` is none).
#[derive(Debug, Clone)]
pub struct ScopePage {
    /// The project, or none for site-wide items.
    pub project: Option<Project>,
    /// What the viewer may do.
    pub perms: Permissions,
    /// This page of items.
    pub items: Vec<CacheItemSummary>,
    /// Matching items in all pages.
    pub total: i64,
    /// Usernames of the writers, job requesters and actors on this page.
    pub usernames: HashMap<i64, String>,
    /// Items per app among those matching the search (not the app filter).
    pub app_counts: Vec<(String, i64)>,
    /// Recent sync jobs that covered the scope (the project's own and whole-site ones).
    pub jobs: Vec<SyncJob>,
    /// The newest finished one: the scope's last sync, as the overview shows it.
    pub last_sync: Option<SyncJob>,
    /// Recent activity.
    pub events: Vec<Event>,
}

/// What `user` may do in `project`; site-wide scope:
/// [`site_permissions`](crate::auth::rules::site_permissions), with `site_open` the
/// `SODARCACHE_SITE_ITEMS_READABLE_BY_ALL` setting.
/// A project whose access is blocked is a 403 for everyone but superusers.
pub fn scope_permissions(
    conn: &mut DbConn,
    user: &User,
    project: Option<&Project>,
    site_open: bool,
) -> Result<Permissions> {
    match project {
        Some(p) if !user.is_superuser && ProjectBlock::is_blocked(conn, p)? => {
            Err(Error::Forbidden(ProjectBlock::MESSAGE.into()))
        }
        Some(p) => Permissions::resolve(conn, crate::auth::Access::User(user), p, false),
        None => Ok(crate::auth::rules::site_permissions(user, site_open)),
    }
}

/// Finds a project by UUID for a viewer who must be able to read it. Unknown projects
/// and categories are 404s; unreadable ones are 403s.
pub fn readable_project(
    conn: &mut DbConn,
    user: &User,
    uuid: uuid::Uuid,
) -> Result<(Project, Permissions)> {
    let project = Project::find_by_uuid(conn, uuid)?
        .filter(|p| !p.is_category())
        .ok_or_else(Error::not_found)?;
    let perms = scope_permissions(conn, user, Some(&project), false)?;
    if !perms.read {
        return Err(Error::Forbidden(
            "You do not have permission to view this project's cache.".into(),
        ));
    }
    Ok((project, perms))
}

/// One page of a scope's items with everything the page shows around them.
pub fn scope_page(
    conn: &mut DbConn,
    user: &User,
    project: Option<Project>,
    query: ItemQuery,
    site_open: bool,
) -> Result<ScopePage> {
    let perms = scope_permissions(conn, user, project.as_ref(), site_open)?;
    if !perms.read {
        return Err(Error::Forbidden(
            "You do not have permission to view this project's cache.".into(),
        ));
    }
    let scope = Scope::of(project.as_ref());
    // Per-app counts of the items matching the search; they give the total too.
    let app_counts = CacheItem::count_by_app(conn, Some(scope), query.search.as_deref())?;
    let by_app = app_counts
        .iter()
        .filter(|(app, _)| query.app.as_ref().is_none_or(|a| a == app))
        .map(|(_, n)| n)
        .sum::<i64>();
    // The stale filter is not in the per-app counts: count those matches in the query.
    let count_matches = query.stale.is_some();
    let (items, counted) =
        CacheItem::query_counted(conn, &ItemQuery { scope, ..query }, count_matches)?;
    let total = if count_matches { counted } else { by_app };
    // The jobs that covered this scope, as the jobs list shows them for it.
    let job_scope = match &project {
        Some(p) => JobScope::Covering(p.clone()),
        None => JobScope::Site,
    };
    let (jobs, _) = SyncJob::list_visible(
        conn,
        user,
        &JobQuery {
            scope: job_scope,
            limit: 10,
            ..JobQuery::default()
        },
    )?;
    let last_sync = match &project {
        Some(p) => last_sync_job(conn, p)?,
        None => SyncJob::latest_finished(conn, Scope::Site)?,
    };
    let events = Event::list(conn, Some(scope), 20)?;
    let writers = items.iter().filter_map(|i| i.user_id);
    let actors = jobs.iter().filter_map(|j| j.user_id);
    let usernames = usernames(
        conn,
        writers
            .chain(actors)
            .chain(events.iter().filter_map(|e| e.user_id)),
    )?;
    Ok(ScopePage {
        project,
        perms,
        items,
        total,
        usernames,
        app_counts,
        jobs,
        last_sync,
        events,
    })
}

/// How many items of `scope` the freshness limits call stale.
pub fn count_stale(conn: &mut DbConn, scope: Scope, rules: StaleRules) -> Result<i64> {
    let query = ItemQuery {
        scope,
        limit: 0,
        stale: Some(rules),
        ..ItemQuery::default()
    };
    Ok(CacheItem::query_counted(conn, &query, true)?.1)
}

/// The last sync of `project` (see [`Project::last_sync_ids`](crate::db::models::Project::last_sync_ids)).
fn last_sync_job(conn: &mut DbConn, project: &Project) -> Result<Option<SyncJob>> {
    let ids: Vec<i64> = Project::last_sync_ids(conn, &[project.id])?
        .into_iter()
        .map(|(_, j)| j)
        .collect();
    Ok(SyncJob::find_many(conn, &ids)?.pop())
}

/// An item with its project, for a viewer who may read it.
pub fn readable_item(
    conn: &mut DbConn,
    user: &User,
    uuid: uuid::Uuid,
    site_open: bool,
) -> Result<(CacheItem, Option<Project>, Permissions, Option<String>)> {
    let item = CacheItem::find_by_uuid(conn, uuid)?.ok_or_else(Error::not_found)?;
    let (project, perms, writer) =
        item_access(conn, user, item.project_id, item.user_id, site_open)?;
    Ok((item, project, perms, writer))
}

/// An item for its page (see [`CacheItem::find_for_page`]), for a viewer who may read it.
pub struct ItemForPage {
    /// The item; its data is `null` when it is larger than the page reads whole.
    pub item: CacheItem,
    /// The first part of the data's text, for an item larger than that.
    pub preview: Option<String>,
    /// Its project (none for a site-wide item).
    pub project: Option<Project>,
    /// What the viewer may do there.
    pub perms: Permissions,
    /// Who wrote it last.
    pub writer: Option<String>,
}

/// [`readable_item`] for the item page: the data whole up to `whole_bytes`, else its
/// first `prefix_chars` characters, cut in the database.
pub fn readable_item_for_page(
    conn: &mut DbConn,
    user: &User,
    uuid: uuid::Uuid,
    site_open: bool,
    whole_bytes: i64,
    prefix_chars: i64,
) -> Result<ItemForPage> {
    let (item, preview) = CacheItem::find_for_page(conn, uuid, whole_bytes, prefix_chars)?
        .ok_or_else(Error::not_found)?;
    let (project, perms, writer) =
        item_access(conn, user, item.project_id, item.user_id, site_open)?;
    Ok(ItemForPage {
        item,
        preview,
        project,
        perms,
        writer,
    })
}

/// The project of an item, the viewer's permissions there (403 without read) and the
/// writer's name.
fn item_access(
    conn: &mut DbConn,
    user: &User,
    project_id: Option<i64>,
    user_id: Option<i64>,
    site_open: bool,
) -> Result<(Option<Project>, Permissions, Option<String>)> {
    let project = match project_id {
        Some(id) => Some(Project::find_by_id(conn, id)?.ok_or_else(Error::not_found)?),
        None => None,
    };
    let perms = scope_permissions(conn, user, project.as_ref(), site_open)?;
    if !perms.read {
        return Err(Error::Forbidden(
            "You do not have permission to view this item.".into(),
        ));
    }
    let writer = match user_id {
        Some(id) => User::find_by_id(conn, id)?.map(|u| u.username),
        None => None,
    };
    Ok((project, perms, writer))
}

/// Usernames by id for the given ids, in one query.
pub fn usernames(
    conn: &mut DbConn,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(User::usernames(conn, &ids)?.into_iter().collect())
}

/// A project whose cache `user` may sync and delete (owner, delegate, superuser).
pub fn manageable_project(conn: &mut DbConn, user: &User, uuid: uuid::Uuid) -> Result<Project> {
    let (project, perms) = readable_project(conn, user, uuid)?;
    if !perms.manage {
        return Err(Error::permission_denied());
    }
    Ok(project)
}

/// An item `user` may delete (owner, delegate, superuser; site-wide: superuser), with
/// its project.
pub fn manageable_item(
    conn: &mut DbConn,
    user: &User,
    uuid: uuid::Uuid,
) -> Result<(CacheItem, Option<Project>)> {
    // Managing site-wide items is for superusers, whom the site rule lets read them.
    let (item, project, perms, _) = readable_item(conn, user, uuid, false)?;
    if !perms.manage {
        return Err(Error::permission_denied());
    }
    Ok((item, project))
}

/// Items per app, by app name.
pub type AppCounts = Vec<(String, i64)>;

/// What a delete of `project` (none: the whole site) would remove, per app, for a viewer
/// allowed to do it (project: owner, delegate, superuser; site: superuser).
pub fn delete_preview(
    conn: &mut DbConn,
    user: &User,
    project: Option<uuid::Uuid>,
) -> Result<(Option<Project>, AppCounts)> {
    let project = match project {
        Some(uuid) => Some(manageable_project(conn, user, uuid)?),
        None if user.is_superuser => None,
        None => return Err(Error::permission_denied()),
    };
    let counts = CacheItem::count_by_app(conn, project.as_ref().map(Scope::from), None)?;
    Ok((project, counts))
}

/// A page of the jobs list: each job with its project, the number of matches, and
/// the requesters' names.
#[derive(Debug, Clone)]
pub struct JobList {
    /// This page, newest first.
    pub jobs: Vec<(SyncJob, Option<Project>)>,
    /// Matching jobs in all pages.
    pub total: i64,
    /// Requesters' names by id.
    pub usernames: HashMap<i64, String>,
}

/// The jobs `user` may see that match `query` (visibility decided in the query).
pub fn job_list(conn: &mut DbConn, user: &User, query: &JobQuery) -> Result<JobList> {
    let (jobs, total) = SyncJob::list_visible(conn, user, query)?;
    let ids: Vec<i64> = jobs.iter().filter_map(|j| j.project_id).collect();
    let projects: HashMap<i64, Project> = Project::find_many(conn, &ids)?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let usernames = usernames(conn, jobs.iter().filter_map(|j| j.user_id))?;
    Ok(JobList {
        jobs: jobs
            .into_iter()
            .map(|j| {
                let p = j.project_id.and_then(|id| projects.get(&id)).cloned();
                (j, p)
            })
            .collect(),
        total,
        usernames,
    })
}

/// A job as its page shows it.
#[derive(Debug, Clone)]
pub struct JobDetails {
    /// The job.
    pub job: SyncJob,
    /// Its project, if any.
    pub project: Option<Project>,
    /// Plugin outcomes (once it has ended).
    pub runs: Vec<crate::db::models::PluginRun>,
    /// The latest progress reported.
    pub progress: Option<JobProgress>,
    /// Who requested it.
    pub who: Option<String>,
    /// Who asked to cancel it.
    pub cancelled_by: Option<String>,
    /// Whether the viewer may cancel it (owner, delegate, superuser; site: superuser).
    pub may_cancel: bool,
}

/// A job's details, for a viewer allowed to see it (its project readable; a site job:
/// superusers).
pub fn visible_job(conn: &mut DbConn, user: &User, uuid: uuid::Uuid) -> Result<JobDetails> {
    let job = SyncJob::find_by_uuid(conn, uuid)?.ok_or_else(Error::not_found)?;
    let project = match job.project_id {
        Some(id) => Project::find_by_id(conn, id)?,
        None => None,
    };
    let perms = match &project {
        None if user.is_superuser => Permissions::ALL,
        None => Permissions::NONE,
        Some(p) => scope_permissions(conn, user, Some(p), false)?,
    };
    if !perms.read {
        return Err(Error::Forbidden(
            "You do not have permission to view this job.".into(),
        ));
    }
    let runs = SyncJob::plugin_runs(conn, job.id)?;
    let progress = SyncJob::progress(conn, job.id)?;
    let name_of = |conn: &mut DbConn, id: Option<i64>| -> Result<Option<String>> {
        Ok(match id {
            Some(id) => User::find_by_id(conn, id)?.map(|u| u.username),
            None => None,
        })
    };
    let who = name_of(conn, job.user_id)?;
    let cancelled_by = name_of(conn, job.cancelled_by)?;
    Ok(JobDetails {
        job,
        project,
        runs,
        progress,
        who,
        cancelled_by,
        may_cancel: perms.manage,
    })
}

/// Cancels a job for a viewer allowed to (owner, delegate, superuser; a site job:
/// superusers). Returns the job and whether anything changed.
pub fn cancel_visible_job(
    conn: &mut DbConn,
    user: &User,
    uuid: uuid::Uuid,
) -> Result<(SyncJob, bool)> {
    let details = visible_job(conn, user, uuid)?;
    if !details.may_cancel {
        return Err(Error::permission_denied());
    }
    crate::cache::jobs::cancel_job(conn, &details.job, Some(user))
}

/// ` of app "a"`, ` of app "a" and its sub-apps "a.x", "a.y"`, or nothing (no app).
pub fn of_app(app: Option<&str>, sub_apps: &[&str]) -> String {
    let Some(app) = app else {
        return String::new();
    };
    if sub_apps.is_empty() {
        return format!(" of app \"{app}\"");
    }
    let subs: Vec<String> = sub_apps.iter().map(|s| format!("\"{s}\"")).collect();
    format!(" of app \"{app}\" and its sub-apps {}", subs.join(", "))
}

/// How the activity log and `deletecache` describe a delete of `n` items (of `app`,
/// which included `sub_apps`).
pub fn deleted_description(
    n: usize,
    app: Option<&str>,
    sub_apps: &[&str],
    project: Option<&Project>,
) -> String {
    let items = if n == 1 { "item" } else { "items" };
    let from = project.map_or_else(
        || "all projects".to_owned(),
        |p| format!("project {}", p.log_title()),
    );
    format!(
        "Deleted {n} cached data {items}{} from {from}",
        of_app(app, sub_apps)
    )
}

/// Deletes a scope's items (optionally one app's, with its sub-apps) and logs the
/// action with them, in one transaction on `conn`. No project: every item of the site.
/// Returns how many went.
pub fn delete_scope(
    conn: &mut DbConn,
    cache: &super::SodarCache,
    user: Option<&User>,
    project: Option<&Project>,
    app: Option<&str>,
    origin: Origin,
) -> Result<usize> {
    if let Some((a, unknown)) = app.and_then(|a| cache.check_app_name(a).err().map(|e| (a, e))) {
        // An app that is no longer installed but still has items (the admin is
        // cleaning up after it): its items are exactly those with its name, and it has
        // no sub-apps any more. A name with no items stays an error, as upstream's.
        let scope = project.map(Scope::from);
        if CacheItem::count_by_app(conn, scope, None)?
            .iter()
            .all(|(name, _)| name != a)
        {
            return Err(unknown);
        }
        return cache.write_on(conn, |conn| {
            let n = CacheItem::delete_matching(conn, Some(&[a]), scope)?;
            Event::record(
                conn,
                &NewEvent {
                    project_id: project.map(|p| p.id),
                    user_id: user.map(|u| u.id),
                    event_name: "cache_delete",
                    origin,
                    description: deleted_description(n, Some(a), &[], project),
                    ok: true,
                },
            )?;
            Ok(n)
        });
    }
    cache.delete_cache_recorded(conn, app, project, |n| {
        Some(NewEvent {
            project_id: project.map(|p| p.id),
            user_id: user.map(|u| u.id),
            event_name: "cache_delete",
            origin,
            description: deleted_description(
                n,
                app,
                app.map_or(&[], |a| cache.sub_apps_of(a)),
                project,
            ),
            ok: true,
        })
    })
}

/// Deletes one item for `user` and logs it, in one transaction on `conn`.
pub fn delete_item(
    conn: &mut DbConn,
    cache: &super::SodarCache,
    user: &User,
    item: &CacheItem,
    project: Option<&Project>,
    origin: Origin,
) -> Result<()> {
    let event = NewEvent {
        project_id: item.project_id,
        user_id: Some(user.id),
        event_name: "cache_delete",
        origin,
        description: format!("Deleted item \"{}:{}\"", item.app_name, item.name),
        ok: true,
    };
    cache.delete_cache_item_recorded(conn, &item.app_name, &item.name, project, Some(&event))?;
    Ok(())
}

/// Items shown by name on a bulk confirmation page; the rest are counted.
pub const CONFIRM_NAMES: i64 = 100;

/// What a bulk delete would remove: the first names, and how many in all.
#[derive(Debug, Clone)]
pub struct SelectionPreview {
    /// Up to [`CONFIRM_NAMES`] `(app, name)`, by app and name.
    pub names: Vec<(String, String)>,
    /// All selected items.
    pub total: i64,
}

/// The scope `user` may delete from: a project they manage, or (none) the site-wide
/// items for a superuser.
pub fn manageable_scope(
    conn: &mut DbConn,
    user: &User,
    project: Option<uuid::Uuid>,
) -> Result<Option<Project>> {
    match project {
        Some(uuid) => Ok(Some(manageable_project(conn, user, uuid)?)),
        None if user.is_superuser => Ok(None),
        None => Err(Error::permission_denied()),
    }
}

/// What deleting `selection` from the scope would remove, for the confirmation page.
pub fn selection_preview(
    conn: &mut DbConn,
    project: Option<&Project>,
    selection: &ItemSelection,
) -> Result<SelectionPreview> {
    let scope = Scope::of(project);
    Ok(SelectionPreview {
        names: CacheItem::names_selected(conn, scope, selection, CONFIRM_NAMES)?,
        total: CacheItem::count_selected(conn, scope, selection)?,
    })
}

/// How the activity log describes a bulk delete.
fn selection_description(n: usize, selection: &ItemSelection, project: Option<&Project>) -> String {
    let items = if n == 1 { "item" } else { "items" };
    let which = match selection {
        ItemSelection::Uuids(_) => " (selected)".to_owned(),
        ItemSelection::Matching { search, app } => {
            let mut s = String::new();
            if let Some(q) = search.as_deref().filter(|q| !q.is_empty()) {
                s.push_str(&format!(" matching \"{q}\""));
            }
            if let Some(a) = app {
                s.push_str(&format!(" of app \"{a}\""));
            }
            s
        }
    };
    let from = project.map_or_else(
        || "the site-wide items".to_owned(),
        |p| format!("project {}", p.log_title()),
    );
    format!("Deleted {n} cached data {items}{which} from {from}")
}

/// Deletes exactly the selected items of the scope and records one activity event
/// with the count, in one transaction. Any app name works, installed or not.
pub fn delete_selection(
    conn: &mut DbConn,
    cache: &super::SodarCache,
    user: &User,
    project: Option<&Project>,
    selection: &ItemSelection,
) -> Result<usize> {
    let scope = Scope::of(project);
    let n = cache.write_on(conn, |conn| {
        let n = CacheItem::delete_selected(conn, scope, selection)?;
        if n > 0 {
            Event::record(
                conn,
                &NewEvent {
                    project_id: project.map(|p| p.id),
                    user_id: Some(user.id),
                    event_name: "cache_delete",
                    origin: Origin::Web,
                    description: selection_description(n, selection, project),
                    ok: true,
                },
            )?;
        }
        Ok(n)
    })?;
    tracing::info!("{}", selection_description(n, selection, project));
    Ok(n)
}
