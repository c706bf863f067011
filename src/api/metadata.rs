//! `OPTIONS` on every endpoint: the allowed methods (`Allow`) and a small description
//! of the view, shaped like Django REST framework's metadata (`name`, `description`,
//! `renders`, `parses`). As in DRF, an `OPTIONS` request passes the same gate as the
//! view's own method (credentials, project, role).

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::access::{Need, authorize};
use super::{ItemPath, MEDIA_TYPE};
use crate::Result;
use crate::state::AppState;

/// One view's metadata.
#[derive(Debug, Serialize)]
pub struct View {
    /// Display name, as DRF derives it from the view class.
    pub name: &'static str,
    /// What the view does.
    pub description: &'static str,
    /// The `Allow` header.
    #[serde(skip)]
    pub allow: &'static str,
    /// What the view's own method needs.
    #[serde(skip)]
    pub need: Need,
    /// Media types of the answers.
    pub renders: [&'static str; 1],
    /// Media types of request bodies the API reads.
    pub parses: [&'static str; 3],
}

const PARSES: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// `retrieve/{project}/{app}/{item}`.
pub static RETRIEVE: View = View {
    name: "Cache Item Retrieve Api",
    description: "Retrieve a cache item along with its data. Returns 404 if cache item is not set.",
    allow: "GET, HEAD, OPTIONS",
    need: Need::Read,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};
/// `retrieve/date/{project}/{app}/{item}`.
pub static DATE: View = View {
    name: "Cache Item Date Retrieve Api",
    description: "Retrieve timestamp of the last update to a cache item. Returns 404 if cache item is not set.",
    allow: "GET, HEAD, OPTIONS",
    need: Need::Read,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};
/// `set/{project}/{app}/{item}`.
pub static SET: View = View {
    name: "Cache Item Set Api",
    description: "Create or update a cache item. Returns 200 on both a successful creation and update.",
    allow: "POST, OPTIONS",
    need: Need::Write,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};
/// `delete/{project}/{app}/{item}`.
pub static DELETE: View = View {
    name: "Cache Item Delete Api",
    description: "Delete a cache item. Returns 404 if cache item is not set.",
    allow: "DELETE, OPTIONS",
    need: Need::Delete,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};
/// `history/{project}/{app}/{item}`.
pub static HISTORY: View = View {
    name: "Cache Item History Api",
    description: "List the kept versions of a cache item, newest first, without their data. Returns 404 if cache item is not set.",
    allow: "GET, OPTIONS",
    need: Need::Read,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};
/// `list/{project}`.
pub static LIST: View = View {
    name: "Cache Item List Api",
    description: "List a project's cache items without their data, a page at a time.",
    allow: "GET, OPTIONS",
    need: Need::Read,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};

fn describe(view: &View) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ALLOW, view.allow))
        .json(view)
}

/// `OPTIONS` on a per-item endpoint.
pub async fn item_options(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
    view: &'static View,
) -> Result<HttpResponse> {
    authorize(&req, &state, &path.project, view.need).await?;
    Ok(describe(view))
}

/// `OPTIONS` on `list/{project}`.
pub async fn list_options(
    req: HttpRequest,
    state: Data<AppState>,
    project: Path<String>,
) -> Result<HttpResponse> {
    authorize(&req, &state, &project, LIST.need).await?;
    Ok(describe(&LIST))
}

/// `openapi.json`.
pub static OPENAPI: View = View {
    name: "Open Api",
    description: "The OpenAPI 3 description of this API.",
    allow: "GET, OPTIONS",
    need: Need::Read,
    renders: ["application/json"],
    parses: PARSES,
};

/// `OPTIONS` on `openapi.json` (public, like the document).
pub async fn openapi_options() -> HttpResponse {
    describe(&OPENAPI)
}

/// `sync/{project}`.
pub static SYNC: View = View {
    name: "Cache Sync Api",
    description: "Queue a sync of the project's cache, optionally one app and one item name. Returns 202 with the job; a request covered by a queued or running job joins it.",
    allow: "POST, OPTIONS",
    need: Need::Manage,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};
/// `jobs/{uuid}`.
pub static JOB: View = View {
    name: "Cache Sync Job Api",
    description: "A sync job's status, progress and each plugin's outcome.",
    allow: "GET, OPTIONS",
    need: Need::Read,
    renders: [MEDIA_TYPE],
    parses: PARSES,
};

/// `OPTIONS` on `sync/{project}`.
pub async fn sync_options(
    req: HttpRequest,
    state: Data<AppState>,
    project: Path<String>,
) -> Result<HttpResponse> {
    authorize(&req, &state, &project, SYNC.need).await?;
    Ok(describe(&SYNC))
}

/// `OPTIONS` on `jobs/{uuid}`.
pub async fn job_options(
    req: HttpRequest,
    state: Data<AppState>,
    job: Path<String>,
) -> Result<HttpResponse> {
    super::access::authorize_job(&req, &state, &job, JOB.need, |_, _, _| Ok(())).await?;
    Ok(describe(&JOB))
}
