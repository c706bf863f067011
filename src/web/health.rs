//! `GET /healthz`: 200 when the database answers, 503 when it does not.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::state::AppState;

/// Checks the database with a trivial query.
///
/// On SQLite, `SELECT 1` on an idle pooled connection reads no file and cannot wait,
/// so it runs right here on the event loop (no hop to a blocking thread); when no
/// connection is idle, and always on PostgreSQL (a network round trip), it runs on a
/// blocking thread.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let sqlite = state.settings.database_url.starts_with("sqlite:");
    let idle_sqlite = if sqlite { state.pool.try_get() } else { None };
    let ok = match idle_sqlite {
        Some(mut conn) => conn.batch_execute("SELECT 1").is_ok(),
        None => {
            let pool = state.pool.clone();
            web::block(move || {
                pool.get()
                    .ok()
                    .is_some_and(|mut c| c.batch_execute("SELECT 1").is_ok())
            })
            .await
            .unwrap_or(false)
        }
    };
    if ok {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "detail": "Database unavailable" }))
    }
}
