//! The REST API under `/cache/api/`, compatible with SODAR Core's sodarcache clients.

use actix_web::web;

/// Registers the API routes (mounted at `/cache/api`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let _ = cfg;
}
