//! The buttons: sync a project or the site, delete a scope's items (after a
//! confirmation page) or one item. Every POST checks the CSRF token; a user who may not
//! use a button gets 403 even if they forge the form.

use actix_session::Session;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::WebError;
use super::extract::{CsrfForm, CurrentUser, NoFields};
use super::page::{Layout, block, flash, forbidden, parse_uuid, redirect, render};
use crate::Error;
use crate::cache::admin::{
    delete_item, delete_preview, delete_scope, manageable_item, manageable_project, of_app,
};
use crate::cache::jobs::request_sync;
use crate::db::models::{Origin, Project, User};
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

async fn queue_sync(
    session: &Session,
    state: &web::Data<AppState>,
    user: User,
    project: Option<Project>,
) -> Result<HttpResponse, WebError> {
    cache_of(state)?;
    let (job, joined) = block(state, move |conn| {
        request_sync(conn, project.as_ref(), None, Origin::Web, Some(&user))
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

/// Syncs the whole site (superusers).
#[post("/cache/sync")]
pub async fn sync_site(
    CurrentUser(user): CurrentUser,
    _: CsrfForm<NoFields>,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if !user.is_superuser {
        return Err(forbidden());
    }
    queue_sync(&session, &state, user, None).await
}

/// Syncs one project (owner, delegate, superuser).
#[post("/cache/project/{uuid}/sync")]
pub async fn sync_project(
    CurrentUser(user): CurrentUser,
    _: CsrfForm<NoFields>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let project = block(&state, move |conn| manageable_project(conn, &u, uuid)).await?;
    queue_sync(&session, &state, user, Some(project)).await
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

/// Asks to confirm deleting a project's cached data.
#[get("/cache/project/{uuid}/delete")]
pub async fn confirm_delete_project(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let (project, counts) = block(&state, move |conn| delete_preview(conn, &u, Some(uuid))).await?;
    let Some(project) = project else {
        return Err(forbidden());
    };
    render(ConfirmPage {
        layout: Layout::new(&session, &user),
        what: format!("the cached data of project \"{}\"", project.full_title),
        action: format!("/cache/project/{}/delete", project.uuid),
        cancel: format!("/cache/project/{}", project.uuid),
        total: counts.iter().map(|(_, n)| n).sum(),
        counts,
        one_item: false,
    })
}

/// Deletes a project's cached data, or one app's part of it.
#[post("/cache/project/{uuid}/delete")]
pub async fn delete_project(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<DeleteForm>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let cache = cache_of(&state)?;
    let app = Some(form.app.clone()).filter(|a| !a.is_empty());
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
