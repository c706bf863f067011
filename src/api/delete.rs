//! `DELETE /delete/{project}/{app_name}/{item_name}` (beyond upstream, whose users
//! had to "delete" by writing empty data): owner, delegate and contributor may.
//! 200 `{"detail": "ok"}`, or 404 when there is no such item. Recorded as
//! `cache_delete`.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::access::{Need, authorize_with};
use super::{ItemPath, activity};
use crate::state::AppState;
use crate::{Error, Result};

/// The handler.
pub async fn delete(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
) -> Result<HttpResponse> {
    let path = path.into_inner();
    let project = path.project.clone();
    authorize_with(
        &req,
        &state,
        &project,
        Need::Delete,
        move |conn, granted| {
            let (app, name) = (&path.app_name, &path.item_name);
            granted.cache.check_app_name(app)?;
            let event = activity::event(
                "cache_delete",
                &granted.project,
                granted.caller.user(),
                format!("Deleted cache item \"{app}:{name}\" over the API"),
            );
            let deleted = granted.cache.delete_cache_item_recorded(
                conn,
                app,
                name,
                Some(&granted.project),
                Some(&event),
            )?;
            if deleted {
                Ok(())
            } else {
                Err(Error::not_found())
            }
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "detail": "ok" })))
}
