//! `GET /healthz`: 200 when the database answers, 503 when it does not.

use actix_web::{HttpResponse, web};

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
        Some(mut conn) => crate::db::ping(&mut conn).is_ok(),
        // Bounded like every request's database work: during an outage this answers
        // 503 within the database timeout, never after the outage.
        None => crate::db::blocking::with_conn(&state.pool, state.settings.db_timeout, |c| {
            Ok(crate::db::ping(c)?)
        })
        .await
        .is_ok(),
    };
    if ok {
        // A static body: the same JSON `json!({"status": "ok"})` rendered, without
        // building and serialising a map per request.
        HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"status":"ok"}"#)
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "detail": "Database unavailable" }))
    }
}
