//! `GET /history/{project}/{app_name}/{item_name}`: the versions of an item that are
//! kept, newest (the current data) first, without their data. Same permissions as
//! retrieve. A version's data: `GET /retrieve/...?version=N`.

use actix_web::HttpRequest;
use actix_web::web::{Data, Json, Path};
use serde::Serialize;

use super::ItemPath;
use super::access::{Need, authorize_with};
use crate::cache::history;
use crate::db::Scope;
use crate::db::models::CacheItem;
use crate::state::AppState;
use crate::{Error, Result};

/// The answer.
#[derive(Debug, Serialize)]
pub struct History {
    project: uuid::Uuid,
    app_name: String,
    name: String,
    versions: Vec<Version>,
}

/// One version.
#[derive(Debug, Serialize)]
struct Version {
    version: i64,
    date_modified: String,
    user: Option<uuid::Uuid>,
    origin: Option<&'static str>,
    job: Option<uuid::Uuid>,
    size: i64,
    current: bool,
}

/// The handler.
pub async fn history(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
) -> Result<Json<History>> {
    let path = path.into_inner();
    let project = path.project.clone();
    let answer = authorize_with(&req, &state, &project, Need::Read, move |conn, granted| {
        granted.cache.check_app_name(&path.app_name)?;
        let item = CacheItem::find(
            conn,
            Scope::from(&granted.project),
            &path.app_name,
            &path.item_name,
        )?
        .ok_or_else(Error::not_found)?;
        let versions = history::versions(conn, &item)?
            .into_iter()
            .map(|v| Version {
                version: v.version,
                date_modified: granted.time_zone.render(v.date_modified),
                user: v.user.map(|u| u.0),
                origin: v.origin.map(|o| o.as_str()),
                job: v.job.map(|j| j.0),
                size: v.size_bytes,
                current: v.current,
            })
            .collect();
        Ok(History {
            project: granted.project.uuid.0,
            app_name: item.app_name,
            name: item.name,
            versions,
        })
    })
    .await?;
    Ok(Json(answer))
}
