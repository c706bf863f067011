//! `GET /retrieve/date/{project}/{app_name}/{item_name}`: `{"update_time": <float>}`,
//! seconds since the epoch of the item's last write.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDateTime;

use super::ItemPath;
use super::access::{Need, authorize_item};
use crate::cache::epoch_seconds;
use crate::state::AppState;
use crate::{Error, Result};

/// The handler.
pub async fn retrieve_date(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
) -> Result<HttpResponse> {
    let path = path.into_inner();
    let app_name = path.app_name.clone();
    let time = authorize_item(
        &req,
        &state,
        path,
        Need::Read,
        move |granted, date: Option<NaiveDateTime>| {
            granted.cache.check_app_name(&app_name)?;
            date.map(epoch_seconds).ok_or_else(Error::not_found)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "update_time": time })))
}
