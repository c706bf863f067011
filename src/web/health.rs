//! `GET /healthz`: 200 when the database answers, 503 when it does not.

use actix_web::{HttpResponse, get, web};
use diesel::connection::SimpleConnection;

use crate::state::AppState;

/// Checks the database with a trivial query.
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ok = web::block(move || {
        pool.get()
            .ok()
            .is_some_and(|mut c| c.batch_execute("SELECT 1").is_ok())
    })
    .await
    .unwrap_or(false);
    if ok {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "detail": "Database unavailable" }))
    }
}
