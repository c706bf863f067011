//! The REST API under `/cache/api/`, compatible with SODAR Core's sodarcache clients.
//!
//! Every route sits behind the [`envelope`] middleware (406 first, vendor media type
//! on every JSON body, JSON errors everywhere), then [`access::authorize`] (401 → 404
//! → 403 → 503), then the handler's own checks (400, 404 item, 413, 415).
//!
//! | route | handler |
//! |---|---|
//! | `GET retrieve/{project}/{app_name}/{item_name}` | [`retrieve`] |
//! | `GET retrieve/date/{project}/{app_name}/{item_name}` | [`date`] |
//! | `POST set/{project}/{app_name}/{item_name}` | [`set`] |
//! | `GET list/{project}` | [`list`] (beyond upstream) |
//! | `DELETE delete/{project}/{app_name}/{item_name}` | [`delete`] (beyond upstream) |
//! | `GET history/{project}/{app_name}/{item_name}` | [`history`] (beyond upstream) |
//! | `POST sync/{project}` | [`sync`] (beyond upstream) |
//! | `GET jobs/{uuid}` | [`jobs`] (beyond upstream) |
//! | `GET openapi.json` | [`openapi`] |

pub mod access;
mod activity;
pub mod auth;
pub mod body_budget;
pub mod body_cache;
pub mod date;
pub mod delete;
pub mod envelope;
pub mod history;
pub mod jobs;
pub mod list;
pub mod media;
pub mod metadata;
pub mod openapi;
pub mod payload;
pub mod retrieve;
pub mod set;
pub mod sync;

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web;
use serde::Deserialize;

pub use media::{ApiVersion, MEDIA_TYPE};

/// The path of every per-item endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemPath {
    /// The project's UUID, as given (a malformed one is a 404).
    pub project: String,
    /// App name.
    pub app_name: String,
    /// Item name.
    pub item_name: String,
}

async fn not_found() -> crate::Result<actix_web::HttpResponse> {
    Err(crate::Error::not_found())
}

/// A resource whose other methods get 405 with `Allow: allow` (the same list `OPTIONS`
/// gives) and the API's JSON detail.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: actix_web::HttpRequest| async move {
        method_not_allowed(req.method(), allow)
    }))
}

/// 405 for `method`, with `Allow: allow` and upstream's (DRF's) detail.
pub fn method_not_allowed(method: &Method, allow: &'static str) -> actix_web::HttpResponse {
    let mut res = envelope::detail_response(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    );
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    res
}

/// `OPTIONS` on a per-item endpoint described by `view`.
fn options_of(view: &'static metadata::View) -> actix_web::Route {
    web::method(Method::OPTIONS).to(
        move |req: actix_web::HttpRequest,
              state: web::Data<crate::state::AppState>,
              path: web::Path<ItemPath>| { metadata::item_options(req, state, path, view) },
    )
}

/// Registers the API routes (mounted at `/cache/api`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    // A path that cannot be decoded (invalid UTF-8 after percent-decoding) names
    // nothing: a JSON 404 rather than actix's plain-text 404.
    let path_config =
        web::PathConfig::default().error_handler(|_, _| crate::Error::not_found().into());
    let item = "/{project}/{app_name}/{item_name}";
    cfg.service(
        web::scope("")
            .wrap(from_fn(envelope::envelope))
            .app_data(path_config)
            .service(
                resource(&format!("/retrieve/date{item}"), metadata::DATE.allow)
                    .route(web::get().to(date::retrieve_date))
                    .route(web::head().to(date::retrieve_date))
                    .route(options_of(&metadata::DATE)),
            )
            .service(
                resource(&format!("/retrieve{item}"), metadata::RETRIEVE.allow)
                    .route(web::get().to(retrieve::retrieve))
                    .route(web::head().to(retrieve::retrieve))
                    .route(options_of(&metadata::RETRIEVE)),
            )
            .service(
                resource(&format!("/set{item}"), metadata::SET.allow)
                    .route(web::post().to(set::set))
                    .route(options_of(&metadata::SET)),
            )
            .service(
                resource(&format!("/delete{item}"), metadata::DELETE.allow)
                    .route(web::delete().to(delete::delete))
                    .route(options_of(&metadata::DELETE)),
            )
            .service(
                resource("/list/{project}", metadata::LIST.allow)
                    .route(web::get().to(list::list))
                    .route(web::method(Method::OPTIONS).to(metadata::list_options)),
            )
            .service(
                resource(&format!("/history{item}"), metadata::HISTORY.allow)
                    .route(web::get().to(history::history))
                    .route(options_of(&metadata::HISTORY)),
            )
            .service(
                resource("/sync/{project}", metadata::SYNC.allow)
                    .route(web::post().to(sync::sync))
                    .route(web::method(Method::OPTIONS).to(metadata::sync_options)),
            )
            .service(
                resource("/jobs/{uuid}", metadata::JOB.allow)
                    .route(web::get().to(jobs::show))
                    .route(web::method(Method::OPTIONS).to(metadata::job_options)),
            )
            .service(
                resource("/openapi.json", metadata::OPENAPI.allow)
                    .route(web::get().to(openapi::openapi))
                    .route(web::method(Method::OPTIONS).to(metadata::openapi_options)),
            )
            .default_service(web::to(not_found)),
    );
}
