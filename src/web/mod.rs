//! The server-rendered admin pages, and `/healthz`.

mod health;

use actix_web::web;

/// Registers every route of the web layer.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz);
}
