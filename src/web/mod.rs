//! The server-rendered admin pages, static files, security headers and `/healthz`.
//!
//! Handlers are thin: the signed-in user and the CSRF-checked form come from
//! extractors ([`extract`]), then one call into `cache::admin` (in `web::block`), a
//! template per page. Errors render through the layout ([`WebError`]).

mod actions;
pub mod assets;
mod dashboard;
mod error;
mod error_page;
pub mod extract;
pub mod format;
mod health;
mod history;
mod item;
mod jobs;
pub mod json_scan;
pub mod json_tree;
mod login;
mod overview;
pub mod page;
mod project;
mod schedules;
pub mod span;
mod views;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Compress, DefaultHeaders, ErrorHandlers, Next, from_fn};
use actix_web::{HttpResponse, get, web};

use crate::Error;

pub use error::WebError;

/// The Content-Security-Policy: only this server's scripts and styles, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every response.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Content-Security-Policy", CSP))
}

/// Refuses a request to the admin pages whose path or query string breaks the
/// [names rule](crate::names) with a 400 page (the API, in its own scope, checks its
/// own after media type negotiation).
pub async fn check_url(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if let Err(e) = crate::names::check_url(req.uri().path(), req.uri().query().unwrap_or("")) {
        let res = actix_web::ResponseError::error_response(&WebError::from(e));
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// `/healthz`, registered by startup outside the other middleware (no session, no
/// tracing span; the security headers only): load balancers call it often.
pub fn health_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .wrap(security_headers())
            .route(web::get().to(health::healthz))
            .default_service(web::to(|| async {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, "GET"))
                    .finish()
            })),
    );
}

/// Registers the admin pages: one scope whose errors are styled pages (any URL, any
/// status), whose responses are `Cache-Control: no-store` unless they say otherwise,
/// and gzip-compressed for clients that accept it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(check_url))
            .wrap(ErrorHandlers::new().default_handler(error_page::styled_errors))
            .wrap(from_fn(no_store))
            .wrap(Compress::default())
            .service(overview::root)
            .service(overview::no_slash)
            .service(favicon)
            .service(login::login_form)
            .service(login::login)
            .service(login::confirm_logout)
            .service(login::logout)
            .service(overview::show_overview)
            .service(project::show_site)
            .service(project::show_project)
            .service(item::show_item)
            .service(item::download_item)
            .service(jobs::list_jobs)
            .service(jobs::live_jobs)
            .service(jobs::show_job)
            .service(jobs::cancel_job)
            .service(actions::sync_site)
            .service(actions::sync_project)
            .service(actions::confirm_delete_site)
            .service(actions::delete_site)
            .service(actions::confirm_delete_project)
            .service(actions::delete_project)
            .service(actions::delete_site_items)
            .service(actions::confirm_delete_item)
            .service(actions::delete_one_item)
            .service(schedules::show_schedules)
            .service(schedules::reset_schedule)
            .service(schedules::set_schedule)
            .configure(assets::routes)
            .default_service(web::to(not_found)),
    );
}

/// Every admin page's path and its methods. The pages are registered one handler (and
/// method) at a time, so a request with another method falls through to
/// `not_found`, which answers 405 with `Allow` from here when the path is a page's.
/// A new page belongs here too (`tests/web_errors.rs` requests every entry).
pub const PAGES: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/cache", "GET"),
    ("/cache/", "GET"),
    ("/favicon.ico", "GET"),
    ("/login", "GET, POST"),
    ("/logout", "GET, POST"),
    ("/cache/site", "GET"),
    ("/cache/project/{uuid}", "GET"),
    ("/cache/item/{uuid}", "GET"),
    ("/cache/item/{uuid}/download", "GET"),
    ("/cache/jobs", "GET"),
    ("/cache/jobs/live", "GET"),
    ("/cache/jobs/{uuid}", "GET"),
    ("/cache/jobs/{uuid}/cancel", "POST"),
    ("/cache/sync", "POST"),
    ("/cache/project/{uuid}/sync", "POST"),
    ("/cache/delete", "GET, POST"),
    ("/cache/project/{uuid}/delete", "GET, POST"),
    ("/cache/site/delete", "POST"),
    ("/cache/item/{uuid}/delete", "GET, POST"),
    ("/cache/schedules", "GET"),
    ("/cache/schedules/{plugin}", "POST"),
    ("/cache/schedules/{plugin}/reset", "POST"),
];

/// The `Allow` list of the page at `path`, if it is one.
fn allowed_methods(path: &str) -> Option<&'static str> {
    use std::sync::OnceLock;
    static DEFS: OnceLock<Vec<(actix_web::dev::ResourceDef, &'static str)>> = OnceLock::new();
    let defs = DEFS.get_or_init(|| {
        PAGES
            .iter()
            .map(|(p, allow)| (actix_web::dev::ResourceDef::new(*p), *allow))
            .collect()
    });
    // Literal paths first (`/cache/jobs/live` before `/cache/jobs/{uuid}`): the same
    // methods either way, so the first match is enough.
    defs.iter()
        .find(|(def, _)| def.is_match(path))
        .map(|(_, allow)| *allow)
}

/// Any URL no route answers: 405 with `Allow` for a page's path asked with another
/// method, else a 404; styled by the scope's error handler.
async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, WebError> {
    if let Some(allow) = allowed_methods(req.path()) {
        let mut res = HttpResponse::MethodNotAllowed().finish();
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        return Ok(res);
    }
    Err(Error::NotFound("There is no page at this address.".into()).into())
}

/// Browsers ask for `/favicon.ico` without reading the page's icon link.
#[get("/favicon.ico")]
async fn favicon() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/static/favicon.svg"))
        .finish()
}

/// Pages show data or need a login: never kept by the browser or a proxy (so Back
/// after logging out does not show the overview). Responses that set their own
/// caching (static files) keep it.
async fn no_store(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}
