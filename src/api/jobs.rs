//! `GET /jobs/{uuid}` (beyond upstream): a sync job's status, progress and each
//! plugin's outcome. Whoever may read the job's project may read its jobs; a
//! whole-site job is for superusers.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::access::{Need, authorize_job};
use crate::Result;
use crate::db::models::{SyncJob, User};
use crate::state::AppState;

/// The handler.
pub async fn show(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<String>,
) -> Result<HttpResponse> {
    let body = authorize_job(
        &req,
        &state,
        &path.into_inner(),
        Need::Read,
        |conn, job, g| {
            let runs = SyncJob::plugin_runs(conn, job.id)?;
            let progress = SyncJob::progress(conn, job.id)?;
            let user_uuid = |conn: &mut crate::db::DbConn, id: Option<i64>| -> Result<Value> {
                Ok(match id {
                    Some(id) => User::find_by_id(conn, id)?
                        .map_or(Value::Null, |u| json!(u.uuid.to_string())),
                    None => Value::Null,
                })
            };
            let time = |t: Option<chrono::NaiveDateTime>| t.map(|t| g.time_zone.render(t));
            Ok(json!({
                "uuid": job.uuid.to_string(),
                "status": job.status.as_str(),
                "project": g.project.as_ref().map(|p| p.uuid.to_string()),
                "app_name": job.app_name,
                "name": job.item_name,
                "origin": job.origin.as_str(),
                "user": user_uuid(conn, job.user_id)?,
                "created": g.time_zone.render(job.created),
                "started": time(job.started),
                "finished": time(job.finished),
                "error": job.error,
                "cancel_requested": time(job.cancel_requested),
                "cancelled_by": user_uuid(conn, job.cancelled_by)?,
                "progress": progress.map(|p| json!({
                    "plugin": p.plugin,
                    "done": p.done,
                    "total": p.total,
                    "message": p.message,
                    "updated": g.time_zone.render(p.updated),
                })),
                "plugins": runs.iter().map(|r| json!({
                    "plugin": r.plugin,
                    "ok": r.ok,
                    "error": r.error,
                    "items_written": r.items_written,
                    "started": g.time_zone.render(r.started),
                    "finished": g.time_zone.render(r.finished),
                })).collect::<Vec<_>>(),
                "page": format!("/cache/jobs/{}", job.uuid),
            }))
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
