//! `GET /cache/item/{uuid}` (metadata, JSON tree, curl line) and its raw download.

use actix_session::Session;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::WebError;
use super::extract::CurrentUser;
use super::format::{When, size};
use super::history::{CompareQuery, HistoryView, history_view};
use super::page::{Layout, block, encode_component, parse_uuid, render};
use crate::cache::admin::readable_item;
use crate::cache::history::Comparison;
use crate::state::AppState;

/// Items larger than this show no tree (rendering it would be slow and unreadable).
pub const MAX_TREE_BYTES: i64 = 1024 * 1024;

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    layout: Layout,
    uuid: String,
    app: String,
    name: String,
    project: Option<(String, String)>,
    size: String,
    modified: When,
    who: String,
    tree: Option<String>,
    curl: Option<String>,
    can_manage: bool,
    history: HistoryView,
}

/// One item.
#[get("/cache/item/{uuid}")]
pub async fn show_item(
    CurrentUser(user): CurrentUser,
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CompareQuery>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let u = user.clone();
    let site_open = state.settings.site_items_readable_by_all;
    let ((item, project, perms, writer), history) = block(&state, move |conn| {
        let found = readable_item(conn, &u, uuid, site_open)?;
        let history = history_view(conn, &found.0, &u, &query)?;
        Ok((found, history))
    })
    .await?;
    let tree = (item.size_bytes <= MAX_TREE_BYTES)
        .then(|| super::json_tree::render(&item.data.to_value()));
    // The base comes from SODARCACHE_PUBLIC_URL or believed headers only, and the URL
    // is quoted for a POSIX shell whatever it holds: the line is for pasting.
    let base = crate::auth::address::base_url(&req, &state.settings);
    let curl = project.as_ref().map(|p| {
        let url = format!(
            "{base}/cache/api/retrieve/{}/{}/{}",
            p.uuid,
            encode_component(&item.app_name),
            encode_component(&item.name),
        );
        format!(
            "curl -H 'Authorization: token YOUR_TOKEN' -H 'Accept: application/vnd.bihealth.sodar-core.sodarcache+json; version=2.0' {}",
            crate::auth::address::shell_quote(&url)
        )
    });
    render(ItemPage {
        layout: Layout::new(&session, &user),
        uuid: item.uuid.to_string(),
        app: item.app_name.clone(),
        name: item.name.clone(),
        project: project
            .as_ref()
            .map(|p| (p.uuid.to_string(), p.full_title.clone())),
        size: size(item.size_bytes),
        modified: When::new(item.date_modified),
        who: writer.unwrap_or_else(|| "—".into()),
        tree,
        curl,
        can_manage: perms.manage,
        history,
    })
}

/// The item's JSON as a file.
#[get("/cache/item/{uuid}/download")]
pub async fn download_item(
    CurrentUser(user): CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let uuid = parse_uuid(&path)?;
    let site_open = state.settings.site_items_readable_by_all;
    let (item, _, _, _) = block(&state, move |conn| {
        readable_item(conn, &user, uuid, site_open)
    })
    .await?;
    let filename = format!("{}-{}.json", item.app_name, item.name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(item.data.into_string()))
}
