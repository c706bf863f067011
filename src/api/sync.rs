//! `POST /sync/{project}` (beyond upstream): queue a sync of the project, optionally
//! limited by `{"app_name": ..., "name": ...}` (an empty body syncs every plugin).
//! Owner, delegate and superuser may, as with the admin's Sync button. 202 with the
//! job's UUID and URLs; a request that a queued or running job covers joins it
//! (`"joined": true`).

use actix_web::http::header;
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::access::{Need, authorize_with};
use super::payload::{self, BodyError};
use crate::Error;
use crate::cache::jobs::request_app_sync;
use crate::db::models::Origin;
use crate::state::AppState;

/// The largest body accepted (two names).
const MAX_BODY: usize = 4096;

/// What the caller wants synced.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncBody {
    /// Only the plugin owning this app (a plugin's name or one of its sub-apps).
    app_name: Option<String>,
    /// Only this item name.
    name: Option<String>,
}

fn parse(req: &HttpRequest, body: &[u8]) -> Result<SyncBody, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SyncBody::default());
    }
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid"))
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(kind.is_empty() || kind == "application/json" || kind.ends_with("+json")) {
        return Err(BodyError::Unsupported(kind));
    }
    serde_json::from_slice(body)
        .map_err(|e| BodyError::Api(Error::BadRequest(format!("JSON parse error - {e}"))))
}

/// The handler.
pub async fn sync(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<String>,
    body: Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (bytes, _permit) = payload::read_limited(&req, body, MAX_BODY, &state.bodies).await?;
    // A bad body is answered after the gate, as the other endpoints do.
    let wanted = match parse(&req, &bytes) {
        Ok(w) => Ok(w),
        Err(BodyError::Api(e)) => Err(Some(e)),
        Err(unsupported) => return Err(unsupported.into()),
    };
    let (job, joined) = authorize_with(
        &req,
        &state,
        &path.into_inner(),
        Need::Manage,
        move |conn, granted| {
            let wanted = wanted.map_err(|e| e.unwrap_or_else(Error::not_found))?;
            request_app_sync(
                conn,
                &granted.cache,
                Some(&granted.project),
                wanted.app_name.as_deref(),
                wanted.name.as_deref(),
                Origin::Api,
                granted.caller.user(),
            )
        },
    )
    .await?;
    state.wake_worker.notify_one();
    let url = format!("/cache/api/jobs/{}", job.uuid);
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, url.clone()))
        .json(serde_json::json!({
            "uuid": job.uuid.to_string(),
            "url": url,
            "page": format!("/cache/jobs/{}", job.uuid),
            "status": job.status.as_str(),
            "joined": joined,
        })))
}
