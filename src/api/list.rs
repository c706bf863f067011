//! `GET /list/{project}` (beyond upstream): the project's items without their data,
//! by app then name, paginated like DRF's `PageNumberPagination`:
//!
//! ```json
//! {"count": 3, "next": "http://…?page=2&page_size=2", "previous": null,
//!  "results": [{"app_name": "…", "name": "…", "size": 42,
//!               "date_modified": "2025-01-01T00:00:00.000000Z", "user": "uuid"|null}]}
//! ```
//!
//! Query parameters: `page` (from 1; past the last page or not a number: 404
//! `Invalid page.`), `page_size` (1 to [`MAX_PAGE_SIZE`], default
//! [`DEFAULT_PAGE_SIZE`]; anything else: 400), `app` (only this app's items; an
//! unknown app: 400).

use std::collections::{BTreeSet, HashMap};

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::access::{Granted, Need, authorize};
use crate::db::Scope;
use crate::db::models::{CacheItem, ItemOrder, ItemQuery, User};
use crate::state::AppState;
use crate::{Error, Result};

/// Items per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 500;

/// One listed item.
#[derive(Serialize)]
struct Entry {
    app_name: String,
    name: String,
    size: i64,
    date_modified: String,
    user: Option<uuid::Uuid>,
}

/// The page parameters, checked.
struct PageRequest {
    page: i64,
    page_size: i64,
    app: Option<String>,
}

/// The handler.
pub async fn list(
    req: HttpRequest,
    state: Data<AppState>,
    project: Path<String>,
) -> Result<HttpResponse> {
    let granted = authorize(&req, &state, &project, Need::Read).await?;
    let page = parse_query(req.query_string())?;
    let (number, size) = (page.page, page.page_size);
    let (results, count) =
        crate::db::blocking::run(state.settings.db_timeout, move || load(&granted, &page)).await?;
    let base = crate::auth::address::base_url(&req, &state.settings);
    let link = |n: i64| page_url(&req, &base, n, size);
    let next = (number * size < count).then(|| link(number + 1));
    let previous = (number > 1).then(|| link(number - 1));
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": results,
    })))
}

fn invalid_page() -> Error {
    Error::NotFound("Invalid page.".into())
}

fn parse_query(query: &str) -> Result<PageRequest> {
    let params = web::Query::<HashMap<String, String>>::from_query(query)
        .map_err(|e| Error::BadRequest(format!("Query parse error - {e}")))?
        .into_inner();
    let page = match params.get("page") {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(invalid_page)?,
    };
    let page_size = match params.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "page_size must be a number from 1 to {MAX_PAGE_SIZE}."
                ))
            })?,
    };
    // Far pages would overflow the offset: they are past the end anyway.
    if page.checked_mul(page_size).is_none() {
        return Err(invalid_page());
    }
    Ok(PageRequest {
        page,
        page_size,
        app: params.get("app").cloned(),
    })
}

fn load(granted: &Granted, page: &PageRequest) -> Result<(Vec<Entry>, i64)> {
    if let Some(app) = &page.app {
        granted.cache.check_app_name(app)?;
    }
    let mut conn = granted.cache.conn()?;
    let query = ItemQuery {
        scope: Scope::from(&granted.project),
        app: page.app.clone(),
        order: ItemOrder::App,
        offset: (page.page - 1) * page.page_size,
        limit: page.page_size,
        ..ItemQuery::default()
    };
    let (rows, count) = CacheItem::query(&mut conn, &query)?;
    if rows.is_empty() && page.page > 1 {
        return Err(invalid_page());
    }
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.user_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let users: HashMap<i64, uuid::Uuid> = User::uuids(&mut conn, &ids)?
        .into_iter()
        .map(|(id, uuid)| (id, uuid.0))
        .collect();
    let entries = rows
        .into_iter()
        .map(|r| Entry {
            user: r.user_id.and_then(|id| users.get(&id).copied()),
            app_name: r.app_name,
            name: r.name,
            size: r.size_bytes,
            date_modified: granted.time_zone.render(r.date_modified),
        })
        .collect();
    Ok((entries, count))
}

/// This request's URL with `page` and `page_size` set, other parameters kept; `base`
/// is [`base_url`](crate::auth::address::base_url) (never a forged `Host`).
fn page_url(req: &HttpRequest, base: &str, page: i64, page_size: i64) -> String {
    let mut params: Vec<String> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            key != "page" && key != "page_size"
        })
        .map(str::to_owned)
        .collect();
    params.push(format!("page={page}"));
    params.push(format!("page_size={page_size}"));
    format!("{base}{}?{}", req.path(), params.join("&"))
}
