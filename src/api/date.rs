//! `GET /retrieve/date/{project}/{app_name}/{item_name}`: `{"update_time": <float>}`,
//! seconds since the epoch of the item's last write.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, web};

use super::ItemPath;
use super::access::{Need, authorize};
use crate::state::AppState;
use crate::{Error, Result};

/// The handler.
pub async fn retrieve_date(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
) -> Result<HttpResponse> {
    let path = path.into_inner();
    let granted = authorize(&req, &state, &path.project, Need::Read).await?;
    let time = web::block(move || {
        granted.cache.check_app_name(&path.app_name)?;
        granted
            .cache
            .get_update_time(&path.app_name, &path.item_name, Some(&granted.project))
    })
    .await??
    .ok_or_else(Error::not_found)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "update_time": time })))
}
