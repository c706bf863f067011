//! `/cache/schedules`: every plugin's scheduled-sync interval, where it comes from and
//! how its runs went; superusers set or reset an interval here (over the setting and
//! the plugin's default). Every POST checks the CSRF token.

use actix_session::Session;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::WebError;
use super::error::StyledPage;
use super::extract::{CsrfForm, CurrentUser, NoFields};
use super::format::When;
use super::page::{Layout, block, flash, forbidden, redirect};
use crate::Error;
use crate::cache::schedule::{
    PluginSchedule, ScheduleRow, format_interval, parse_interval, schedule_rows, set_interval,
};
use crate::db::models::User;
use crate::state::AppState;

/// One plugin's row.
struct Row {
    plugin: &'static str,
    title: &'static str,
    interval: String,
    active: bool,
    source: &'static str,
    default: String,
    setting: String,
    overridden: bool,
    projects: i64,
    next: Option<When>,
    failed: i64,
}

impl Row {
    fn new(r: &ScheduleRow) -> Self {
        let s: &PluginSchedule = &r.schedule;
        Row {
            plugin: s.plugin,
            title: s.title,
            interval: format_interval(s.interval),
            active: s.interval.is_some(),
            source: s.source.label(),
            default: s
                .default
                .map_or_else(|| "none".to_owned(), |d| format_interval(Some(d))),
            setting: s.setting.map_or_else(|| "—".to_owned(), format_interval),
            overridden: s.page.is_some(),
            projects: r.summary.projects,
            next: When::opt(r.summary.next_run_at),
            failed: r.summary.failed,
        }
    }
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    layout: Layout,
    rows: Vec<Row>,
    /// A refused change: the plugin and why.
    error: Option<(String, String)>,
    /// What the refused form held.
    entered: String,
}

/// The Schedules form: an interval (`6h`, `90m`, `off`, ...).
#[derive(Debug, Deserialize)]
pub struct IntervalForm {
    #[serde(default)]
    interval: String,
}

async fn page(
    session: &Session,
    state: &web::Data<AppState>,
    user: &User,
    error: Option<(String, String)>,
    entered: String,
) -> Result<String, WebError> {
    let plugins = state.registry.runner().plugins().to_vec();
    let setting = state.settings.sync_schedule.clone();
    let rows = block(state, move |conn| schedule_rows(conn, &plugins, &setting)).await?;
    SchedulesPage {
        layout: Layout::new(session, user),
        rows: rows.iter().map(Row::new).collect(),
        error,
        entered,
    }
    .render()
    .map_err(|e| Error::Internal(format!("template: {e}")).into())
}

/// The Schedules page (superusers).
#[get("/cache/schedules")]
pub async fn show_schedules(
    CurrentUser(user): CurrentUser,
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if !user.is_superuser {
        return Err(forbidden());
    }
    let html = page(&session, &state, &user, None, String::new()).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html))
}

/// The registered plugin called `name`, or a 404.
fn plugin_named(state: &AppState, name: &str) -> Result<&'static str, WebError> {
    state
        .registry
        .runner()
        .plugins()
        .iter()
        .map(|p| p.name())
        .find(|p| *p == name)
        .ok_or_else(|| Error::NotFound(format!("There is no plugin \"{name}\".")).into())
}

/// Sets a plugin's interval (superusers). A bad interval is a 400 with the page and
/// the reason; nothing changes.
#[post("/cache/schedules/{plugin}")]
pub async fn set_schedule(
    CurrentUser(user): CurrentUser,
    form: CsrfForm<IntervalForm>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    if !user.is_superuser {
        return Err(forbidden());
    }
    let plugin = plugin_named(&state, &path)?;
    let entered = form.into_inner().interval;
    let interval = match parse_interval(&entered) {
        Ok(i) => i,
        Err(e) => {
            let html = page(
                &session,
                &state,
                &user,
                Some((plugin.to_owned(), e)),
                entered,
            )
            .await?;
            let mut res = HttpResponse::BadRequest()
                .content_type(ContentType::html())
                .body(html);
            // A complete page: the error-page middleware leaves it alone.
            res.extensions_mut().insert(StyledPage);
            return Ok(res);
        }
    };
    let u = user.clone();
    block(&state, move |conn| {
        set_interval(conn, plugin, Some(interval), &u)
    })
    .await?;
    flash(
        &session,
        "success",
        format!(
            "Scheduled syncs of {plugin}: {}.",
            match interval {
                Some(_) => format!("every {}", format_interval(interval)),
                None => "off".to_owned(),
            }
        ),
    );
    Ok(redirect("/cache/schedules"))
}

/// Removes a plugin's interval set on this page: the setting or the plugin's default
/// applies again (superusers).
#[post("/cache/schedules/{plugin}/reset")]
pub async fn reset_schedule(
    CurrentUser(user): CurrentUser,
    _: CsrfForm<NoFields>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    if !user.is_superuser {
        return Err(forbidden());
    }
    let plugin = plugin_named(&state, &path)?;
    let u = user.clone();
    block(&state, move |conn| set_interval(conn, plugin, None, &u)).await?;
    flash(
        &session,
        "success",
        format!("Scheduled syncs of {plugin}: back to the setting or the plugin's default."),
    );
    Ok(redirect("/cache/schedules"))
}
