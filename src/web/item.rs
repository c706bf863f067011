//! `GET /cache/item/{uuid}` (metadata, JSON tree, curl line) and its raw download.

use actix_session::Session;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::WebError;
use super::extract::CurrentUser;
use super::format::{When, size};
use super::history::{CompareQuery, HistoryView, history_view};
use super::json_tree::Tree;
use super::page::{Layout, block, encode_component, parse_uuid, render};
use crate::cache::admin::{ItemForPage, readable_item, readable_item_for_page};
use crate::cache::history::Comparison;
use crate::state::AppState;

/// Items up to this size are read whole for the tree (every count in it exact) and the
/// history's diff; larger ones are drawn from their stored preview.
pub const WHOLE_TREE_BYTES: i64 = crate::cache::PREVIEW_ABOVE_BYTES;
/// A preview is at most this long (a row backfilled by the migration may hold more
/// characters; it is cut here).
pub const PREVIEW_BYTES: usize = crate::cache::PREVIEW_BYTES;
/// Characters asked of the database for a preview cut from the data (rows written
/// without a stored one; then cut to [`PREVIEW_BYTES`]).
const PREVIEW_CHARS: i64 = PREVIEW_BYTES as i64;

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
    tree: Tree,
    preview_size: String,
    curl: Option<String>,
    can_manage: bool,
    /// Where "Sync this item" posts, when the viewer may and a plugin syncs the app.
    sync_action: Option<String>,
    history: HistoryView,
    /// The plugin's limit, when the item has one, and whether it is past it.
    max_age: Option<(String, bool)>,
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
    let (found, tree, shown, history) = block(&state, move |conn| {
        let found =
            readable_item_for_page(conn, &u, uuid, site_open, WHOLE_TREE_BYTES, PREVIEW_CHARS)?;
        let history = history_view(conn, &found.item, &u, &query)?;
        // Scanned and drawn off the event loop too: a large tree takes milliseconds.
        let (text, whole) = match &found.preview {
            Some(p) => (
                &p[..p.floor_char_boundary(p.len().min(PREVIEW_BYTES))],
                false,
            ),
            None => (found.item.data.as_str(), true),
        };
        let tree = super::json_tree::render_text(text, whole);
        let shown = text.len();
        Ok((found, tree, shown, history))
    })
    .await?;
    let ItemForPage {
        item,
        project,
        perms,
        writer,
        ..
    } = found;
    let preview_size = size(shown as i64);
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
    let age = state.registry.freshness().age(
        &item.app_name,
        &item.name,
        item.date_modified,
        crate::db::now(),
    );
    let max_age = age
        .max_age
        .map(|m| (super::format::period(m.as_secs()), age.is_stale()));
    render(ItemPage {
        max_age,
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
        preview_size,
        curl,
        can_manage: perms.manage,
        sync_action: (perms.manage
            && state
                .registry
                .cache_unchecked()
                .plugin_of(&item.app_name)
                .is_some())
        .then(|| match &project {
            Some(p) => format!("/cache/project/{}/sync", p.uuid),
            None => "/cache/sync".to_owned(),
        }),
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
    let disposition = download_disposition(&item.app_name, &item.name);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(disposition)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(item.data.into_string()))
}

/// `attachment` named `APP-NAME.json` (RFC 6266): `filename*` keeps every character
/// of the name (UTF-8, percent-encoded), `filename` is an ASCII fallback for old clients.
/// Path separators become `_` in both.
pub fn download_disposition(app: &str, name: &str) -> ContentDisposition {
    let full: String = format!("{app}-{name}.json")
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let ascii: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != full {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: full.into_bytes(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}
