//! `POST /set/{project}/{app_name}/{item_name}`: create or update an item from
//! `{"data": <json>}` (or a form's `data=<string>`); `{"detail": "ok"}` either way.
//! The write is an activity event (`cache_set`) with the user.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};

use super::access::{Need, authorize_item};
use super::{ItemPath, activity, payload};
use crate::auth::item_access::Exists;
use crate::cache::Provenance;
use crate::state::AppState;

/// The handler.
pub async fn set(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
    body: Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let path = path.into_inner();
    // The gate alone (a token's in one statement); the body is read after it.
    let granted = authorize_item(
        &req,
        &state,
        path.clone(),
        Need::Write,
        |granted, _: Option<Exists>| Ok(granted),
    )
    .await?;
    granted.cache.check_app_name(&path.app_name)?;
    // The reservation lives until the write is done: the body is in memory until then.
    let (bytes, _reserved) =
        payload::read_limited(&req, body, state.settings.max_body_bytes, &state.bodies).await?;
    let data = payload::parse_data(&req, bytes)?;
    crate::db::blocking::run(state.settings.db_timeout, move || {
        let user = granted.caller.user();
        let (app, name) = (&path.app_name, &path.item_name);
        let event = activity::event(
            "cache_set",
            &granted.project,
            user,
            format!("Set cache item \"{app}:{name}\" over the API"),
        );
        let mut conn = granted.cache.conn()?;
        conn.retire_after_large_write(data.len());
        granted
            .cache
            .set_cache_item_recorded(
                &mut conn,
                app,
                name,
                &data,
                Some(&granted.project),
                user,
                Provenance::API,
                Some(&event),
            )
            .map(drop)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "detail": "ok" })))
}
