//! The buttons: sync a project or the site, delete a scope's items (after a
//! confirmation page) or one item. Every POST checks the CSRF token; a user who may not
//! use a button gets 403 even if they forge the form.

use actix_session::Session;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::WebError;
use super::extract::{CsrfForm, CurrentUser, NoFields};
use super::format::Thousands;
use super::page::{Layout, block, flash, forbidden, parse_uuid, redirect, render};
use crate::Error;
use crate::cache::admin::{
    SelectionPreview, delete_item, delete_preview, delete_scope, delete_selection, manageable_item,
    manageable_project, manageable_scope, of_app, selection_preview,
};
use crate::cache::jobs::request_app_sync;
use crate::db::models::{ItemSelection, Origin, Project, User};
use crate::state::AppState;

/// The delete form: optionally one app.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    app: String,
}

fn cache_of(state: &AppState) -> Result<std::sync::Arc<crate::cache::SodarCache>, WebError> {
    state
        .registry
        .cache()
        .ok_or_else(|| Error::Unavailable("Cache backend not enabled".into()).into())
}

/// The Sync buttons' form: every plugin, or the one owning `app`; every item, or `name`.
#[derive(Debug, Default, Deserialize)]
pub struct SyncForm {
    #[serde(default)]
    app: String,
    #[serde(default)]
    name: String,
}

async fn queue_sync(
    session: &Session,
    state: &web::Data<AppState>,
    user: User,
    project: Option<Project>,
    form: SyncForm,
) -> Result<HttpResponse, WebError> {
    let cache = cache_of(state)?;
    let (job, joined) = block(state, move |conn| {
        let app = Some(form.app.trim()).filter(|a| !a.is_empty());
        let name = Some(form.name.as_str()).filter(|n| !n.is_empty());
        request_app_sync(
            conn,
            &cache,
            project.as_ref(),
            app,
            name,
            Origin::Web,
            Some(&user),
        )
    })
    .await?;
    state.wake_worker.notify_one();
    flash(
        session,
        "info",
        if joined {
            "A sync for this scope was already queued or running: showing that one."
        } else {
            "Sync queued."
        },
    );
    Ok(redirect(&format!("/cache/jobs/{}", job.uuid)))
}

/// Syncs the whole site (superusers), optionally one `app` and one item `name`.
#[post("/cache/sync")]
pub async fn sync_site(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<SyncForm>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if !user.is_superuser {
        return Err(forbidden());
    }
    queue_sync(&session, &state, user, None, form.into_inner()).await
}

/// Syncs one project (owner, delegate, superuser), optionally one `app` (a plugin or
/// one of its sub-apps: the project page's per-app Sync) and one item `name` (the item
/// page's "Sync this item").
#[post("/cache/project/{uuid}/sync")]
pub async fn sync_project(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<SyncForm>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let project = block(&state, move |conn| manageable_project(conn, &u, uuid)).await?;
    queue_sync(&session, &state, user, Some(project), form.into_inner()).await
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmPage {
    layout: Layout,
    what: String,
    action: String,
    cancel: String,
    counts: Vec<(String, i64)>,
    total: i64,
    one_item: bool,
    /// The one app chosen on the project page (`?app=`), if any.
    chosen: Option<String>,
}

/// `?app=` of a confirmation page.
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmQuery {
    app: Option<String>,
}

/// Asks to confirm deleting the site's cached data.
#[get("/cache/delete")]
pub async fn confirm_delete_site(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let u = user.clone();
    let (_, counts) = block(&state, move |conn| delete_preview(conn, &u, None)).await?;
    render(ConfirmPage {
        layout: Layout::new(&session, &user),
        what: "all cached data of every project and the site-wide items".into(),
        action: "/cache/delete".into(),
        cancel: "/cache/".into(),
        total: counts.iter().map(|(_, n)| n).sum(),
        counts,
        one_item: false,
        chosen: None,
    })
}

/// Deletes the site's cached data (superusers).
#[post("/cache/delete")]
pub async fn delete_site(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<DeleteForm>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if !user.is_superuser {
        return Err(forbidden());
    }
    let cache = cache_of(&state)?;
    let app = Some(form.app.clone()).filter(|a| !a.is_empty());
    let sub_apps = app.as_deref().map_or(&[][..], |a| cache.sub_apps_of(a));
    let a = app.clone();
    let n = block(&state, move |conn| {
        delete_scope(conn, &cache, Some(&user), None, a.as_deref(), Origin::Web)
    })
    .await?;
    flash(
        &session,
        "success",
        deleted_message(n, app.as_deref(), sub_apps),
    );
    Ok(redirect("/cache/"))
}

fn deleted_message(n: usize, app: Option<&str>, sub_apps: &[&str]) -> String {
    let of = of_app(app, sub_apps);
    match n {
        0 => format!("Nothing was cached there{of}: no items deleted."),
        1 => format!("Deleted 1 cached item{of}."),
        n => format!("Deleted {n} cached items{of}."),
    }
}

/// Asks to confirm deleting a project's cached data (`?app=` for one app's items).
#[get("/cache/project/{uuid}/delete")]
pub async fn confirm_delete_project(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ConfirmQuery>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let (project, mut counts) =
        block(&state, move |conn| delete_preview(conn, &u, Some(uuid))).await?;
    let Some(project) = project else {
        return Err(forbidden());
    };
    let chosen = query.into_inner().app.filter(|a| !a.is_empty());
    if let Some(app) = &chosen {
        counts.retain(|(a, _)| a == app);
    }
    render(ConfirmPage {
        layout: Layout::new(&session, &user),
        what: format!("the cached data of project \"{}\"", project.full_title),
        action: format!("/cache/project/{}/delete", project.uuid),
        cancel: format!("/cache/project/{}", project.uuid),
        total: counts.iter().map(|(_, n)| n).sum(),
        counts,
        one_item: false,
        chosen,
    })
}

/// Deletes a project's cached data: the whole project or one `app` (the confirmation
/// page's form, at once), or a selection: `item` fields, or `q` and optionally `app`
/// ("all matching"), which shows the confirmation page first and deletes exactly
/// those items with `confirm=yes`.
#[post("/cache/project/{uuid}/delete")]
pub async fn delete_project(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<Vec<(String, String)>>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let app = match DeleteRequest::parse(&form)? {
        DeleteRequest::Selection {
            selection,
            confirmed,
        } => {
            return delete_selected(user, &session, &state, Some(uuid), selection, confirmed).await;
        }
        DeleteRequest::Scope { app } => app,
    };
    let cache = cache_of(&state)?;
    let sub_apps = app.as_deref().map_or(&[][..], |a| cache.sub_apps_of(a));
    let (u, a) = (user.clone(), app.clone());
    let (project, n) = block(&state, move |conn| {
        let project = manageable_project(conn, &u, uuid)?;
        let n = delete_scope(
            conn,
            &cache,
            Some(&u),
            Some(&project),
            a.as_deref(),
            Origin::Web,
        )?;
        Ok((project, n))
    })
    .await?;
    flash(
        &session,
        "success",
        deleted_message(n, app.as_deref(), sub_apps),
    );
    Ok(redirect(&format!("/cache/project/{}", project.uuid)))
}

/// Deletes site-wide items (superusers): a selection, as on a project (`item` fields,
/// or `q` and optionally `app`; without either, every site-wide item of `app` or of
/// all apps), always after the confirmation page.
#[post("/cache/site/delete")]
pub async fn delete_site_items(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<Vec<(String, String)>>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let confirmed_all = form.iter().any(|(k, v)| k == "confirm" && v == "yes");
    let (selection, confirmed) = match DeleteRequest::parse(&form)? {
        DeleteRequest::Selection {
            selection,
            confirmed,
        } => (selection, confirmed),
        DeleteRequest::Scope { app } => {
            (ItemSelection::Matching { search: None, app }, confirmed_all)
        }
    };
    delete_selected(user, &session, &state, None, selection, confirmed).await
}

/// Asks to confirm deleting one item.
#[get("/cache/item/{uuid}/delete")]
pub async fn confirm_delete_item(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let (item, _) = block(&state, move |conn| manageable_item(conn, &u, uuid)).await?;
    render(ConfirmPage {
        layout: Layout::new(&session, &user),
        what: format!("the item \"{}\" of app \"{}\"", item.name, item.app_name),
        action: format!("/cache/item/{}/delete", item.uuid),
        cancel: format!("/cache/item/{}", item.uuid),
        counts: vec![(item.app_name.clone(), 1)],
        total: 1,
        one_item: true,
        chosen: None,
    })
}

/// Deletes one item and returns to its project.
#[post("/cache/item/{uuid}/delete")]
pub async fn delete_one_item(
    CurrentUser(user): CurrentUser,
    _: CsrfForm<NoFields>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let cache = cache_of(&state)?;
    let u = user.clone();
    let back = block(&state, move |conn| {
        let (item, project) = manageable_item(conn, &u, uuid)?;
        delete_item(conn, &cache, &u, &item, project.as_ref(), Origin::Web)?;
        Ok(project.map_or_else(
            || "/cache/site".to_owned(),
            |p| format!("/cache/project/{}", p.uuid),
        ))
    })
    .await?;
    flash(&session, "success", "Deleted 1 cached item.");
    Ok(redirect(&back))
}

/// Most `item` fields one bulk delete accepts.
pub const MAX_SELECTED: usize = 5000;

/// A delete form as its fields say: the whole scope (or one `app`), as the
/// confirmation page has always posted it, or a selection (`item` fields, or `q` and
/// optionally `app`) that needs `confirm=yes`.
#[derive(Debug)]
enum DeleteRequest {
    /// No `item`, no `q`: everything, or one app's items.
    Scope { app: Option<String> },
    /// `item` or `q` fields: exactly these items.
    Selection {
        selection: ItemSelection,
        confirmed: bool,
    },
}

impl DeleteRequest {
    /// Reads the fields; bad item UUIDs are a 400, never a fall-back to everything.
    fn parse(fields: &[(String, String)]) -> Result<Self, WebError> {
        let value = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
        };
        let app = value("app").filter(|a| !a.is_empty());
        let confirmed = value("confirm").as_deref() == Some("yes");
        let items: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| k == "item")
            .map(|(_, v)| v.trim())
            .collect();
        // The checkbox form says so, so that submitting it with nothing ticked is an
        // error, not today's form (which deletes everything).
        if items.is_empty() && value("selection").as_deref() == Some("items") {
            return Err(Error::BadRequest(
                "No item selected: tick the items to delete first.".into(),
            )
            .into());
        }
        if !items.is_empty() {
            if items.len() > MAX_SELECTED {
                return Err(Error::BadRequest(format!(
                    "At most {MAX_SELECTED} items can be deleted at once"
                ))
                .into());
            }
            let uuids = items
                .iter()
                .map(|i| {
                    uuid::Uuid::parse_str(i)
                        .map_err(|_| Error::BadRequest(format!("Not a valid item UUID: {i}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(DeleteRequest::Selection {
                selection: ItemSelection::Uuids(uuids),
                confirmed,
            });
        }
        match value("q") {
            Some(q) => Ok(DeleteRequest::Selection {
                selection: ItemSelection::Matching {
                    search: Some(q).filter(|q| !q.is_empty()),
                    app,
                },
                confirmed,
            }),
            None => Ok(DeleteRequest::Scope { app }),
        }
    }
}

#[derive(Template)]
#[template(path = "confirm_bulk.html")]
struct BulkConfirmPage {
    layout: Layout,
    what: String,
    action: String,
    cancel: String,
    names: Vec<(String, String)>,
    more: i64,
    total: i64,
    fields: Vec<(String, String)>,
}

/// The fields that re-post `selection` from the confirmation page.
fn selection_fields(selection: &ItemSelection) -> Vec<(String, String)> {
    match selection {
        ItemSelection::Uuids(uuids) => uuids
            .iter()
            .map(|u| ("item".to_owned(), u.to_string()))
            .collect(),
        ItemSelection::Matching { search, app } => {
            let mut f = vec![("q".to_owned(), search.clone().unwrap_or_default())];
            if let Some(a) = app {
                f.push(("app".to_owned(), a.clone()));
            }
            f
        }
    }
}

/// What a bulk delete request came to.
enum BulkOutcome {
    /// Deleted this many.
    Deleted(usize),
    /// Not confirmed yet: what would go.
    Confirm(SelectionPreview),
}

/// A bulk delete from a project (`Some`) or the site-wide items (`None`): the
/// confirmation page, or with `confirm=yes` the delete and back to the page.
async fn delete_selected(
    user: User,
    session: &Session,
    state: &web::Data<AppState>,
    project: Option<uuid::Uuid>,
    selection: ItemSelection,
    confirmed: bool,
) -> Result<HttpResponse, WebError> {
    let cache = cache_of(state)?;
    let u = user.clone();
    let sel = selection.clone();
    let (scope, outcome) = block(state, move |conn| {
        let scope = manageable_scope(conn, &u, project)?;
        let outcome = if confirmed {
            BulkOutcome::Deleted(delete_selection(conn, &cache, &u, scope.as_ref(), &sel)?)
        } else {
            BulkOutcome::Confirm(selection_preview(conn, scope.as_ref(), &sel)?)
        };
        Ok((scope, outcome))
    })
    .await?;
    let base = scope.as_ref().map_or_else(
        || "/cache/site".to_owned(),
        |p| format!("/cache/project/{}", p.uuid),
    );
    match outcome {
        BulkOutcome::Deleted(n) => {
            flash(session, "success", deleted_message(n, None, &[]));
            Ok(redirect(&base))
        }
        BulkOutcome::Confirm(preview) => {
            let what = match (&selection, &scope) {
                (ItemSelection::Uuids(_), Some(p)) => {
                    format!("The selected items of project \"{}\"", p.full_title)
                }
                (ItemSelection::Uuids(_), None) => "The selected site-wide items".to_owned(),
                (ItemSelection::Matching { search, app }, p) => {
                    let mut w = format!(
                        "Every item of {}",
                        p.as_ref().map_or_else(
                            || "the site-wide items".to_owned(),
                            |p| format!("project \"{}\"", p.full_title)
                        )
                    );
                    if let Some(q) = search {
                        w.push_str(&format!(" whose name or app matches “{q}”"));
                    }
                    if let Some(a) = app {
                        w.push_str(&format!(" in app {a}"));
                    }
                    w
                }
            };
            render(BulkConfirmPage {
                layout: Layout::new(session, &user),
                what,
                action: format!("{base}/delete"),
                cancel: base,
                more: preview.total - preview.names.len() as i64,
                names: preview.names,
                total: preview.total,
                fields: selection_fields(&selection),
            })
        }
    }
}
