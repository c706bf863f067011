//! `GET /metrics`: what the database knows (read now) and what this process observed.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text::{CONTENT_TYPE, encode};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};

use crate::db::models::stats::{self, AppTotals};
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    state: &'static str,
}

/// Registers `/metrics` (only call this when metrics are on).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

/// The handler: 401 without the right bearer token when one is configured.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(token) = state.settings.metrics_token.as_deref()
        && !bearer_matches(&req, token)
    {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("Authorization: Bearer <SODARCACHE_METRICS_TOKEN> required\n");
    }
    let pool = state.pool.clone();
    let counts = web::block(move || -> crate::Result<_> {
        let mut conn = pool.get()?;
        Ok((
            stats::totals_by_app(&mut conn)?,
            stats::jobs_by_status(&mut conn)?,
        ))
    })
    .await
    .map_err(crate::Error::from)
    .and_then(|r| r);
    let counts = match counts {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the database");
            None
        }
    };
    let pool_state = state.pool.state();
    let mut body = String::with_capacity(8192);
    let mut database = database_registry(counts, pool_state, state.settings.pool_size);
    register_bodies(&mut database, &state.bodies);
    let written = encode(&mut body, &database).is_ok() && super::global().encode(&mut body).is_ok();
    if !written {
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

type Counts = (Vec<AppTotals>, Vec<(String, i64)>);

/// Gauges for what was just read from the database and the pool.
fn database_registry(counts: Option<Counts>, pool: diesel::r2d2::State, pool_max: u32) -> Registry {
    let mut r = Registry::default();
    let up = Gauge::<i64>::default();
    up.set(i64::from(counts.is_some()));
    r.register(
        "sodarcache_database_up",
        "Whether this scrape could read the database (1) or not (0)",
        up,
    );
    if let Some((apps, jobs)) = counts {
        let items = Family::<AppLabel, Gauge>::default();
        let bytes = Family::<AppLabel, Gauge>::default();
        for a in apps {
            let label = AppLabel { app: a.app_name };
            items.get_or_create(&label).set(a.items);
            bytes.get_or_create(&label).set(a.bytes);
        }
        r.register("sodarcache_cache_items", "Cached items per app", items);
        r.register(
            "sodarcache_cache_bytes",
            "Size of the cached data per app, in bytes",
            bytes,
        );
        let by_status = Family::<StatusLabel, Gauge>::default();
        for status in crate::db::models::JobStatus::VARIANTS
            .iter()
            .map(|s| s.as_str())
        {
            let n = jobs
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            by_status
                .get_or_create(&StatusLabel {
                    status: status.to_owned(),
                })
                .set(n);
        }
        r.register(
            "sodarcache_sync_jobs",
            "Sync jobs in the database per status (every instance's)",
            by_status,
        );
    }
    let conns = Family::<PoolLabel, Gauge>::default();
    let idle = i64::from(pool.idle_connections);
    conns.get_or_create(&PoolLabel { state: "idle" }).set(idle);
    conns
        .get_or_create(&PoolLabel { state: "in_use" })
        .set(i64::from(pool.connections) - idle);
    r.register(
        "sodarcache_db_pool_connections",
        "This instance's pooled database connections, idle or in use",
        conns,
    );
    let max = Gauge::<i64>::default();
    max.set(i64::from(pool_max));
    r.register(
        "sodarcache_db_pool_max_connections",
        "SODARCACHE_DB_POOL_SIZE",
        max,
    );
    r
}

/// Gauges of the bound on request bodies in memory (`SODARCACHE_MAX_BODY_BYTES_IN_FLIGHT`).
fn register_bodies(r: &mut Registry, bodies: &crate::api::body_budget::BodyBudget) {
    let in_flight = Gauge::<i64>::default();
    in_flight.set(i64::try_from(bodies.in_flight()).unwrap_or(i64::MAX));
    r.register(
        "sodarcache_request_body_bytes_in_flight",
        "Bytes of request bodies this instance holds now (reserved by writes)",
        in_flight,
    );
    let max = Gauge::<i64>::default();
    max.set(i64::try_from(bodies.limit()).unwrap_or(i64::MAX));
    r.register(
        "sodarcache_request_body_bytes_in_flight_max",
        "SODARCACHE_MAX_BODY_BYTES_IN_FLIGHT",
        max,
    );
}

/// Whether `Authorization: Bearer <token>` carries `token` (compared through digests,
/// so the time taken says nothing about the token).
fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
    else {
        return false;
    };
    let (a, b) = (Sha256::digest(given), Sha256::digest(token));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
