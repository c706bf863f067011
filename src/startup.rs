//! Building and running the HTTP server: settings in, a bound server out.
//!
//! `Application::build` binds (port 0 in tests, reporting the real port) and wires
//! app data and middleware in one place; the sync worker starts with the server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::SameSite;
use actix_web::dev::Server;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, guard, web};
use tracing_actix_web::TracingLogger;

use crate::auth::session::COOKIE_NAME;
use crate::cache::jobs::run_worker;
use crate::db::DbPool;
use crate::db::models::ItemVersion;
use crate::plugins::PluginRegistry;
use crate::settings::Settings;
use crate::state::AppState;

/// A bound server, ready to run.
pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
}

impl Application {
    /// Binds `bind` (e.g. `127.0.0.1:8000`, or port 0 for any free port), starts the
    /// sync worker, and prepares the server. Call from within an actix/tokio runtime.
    pub fn build(
        settings: Settings,
        pool: DbPool,
        registry: PluginRegistry,
        bind: &str,
    ) -> anyhow::Result<Self> {
        crate::cache::schedule::check_setting(&settings.sync_schedule, registry.runner().plugins())
            .map_err(|e| anyhow::anyhow!(e))?;
        let listener =
            TcpListener::bind(bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
        let port = listener.local_addr()?.port();
        let wake_worker = Arc::new(tokio::sync::Notify::new());
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            pool: pool.clone(),
            registry: registry.clone(),
            wake_worker: wake_worker.clone(),
            login: crate::auth::throttle::LoginGuard::from_settings(&settings),
            loop_reads: crate::db::loop_reads::LoopReaders::for_url(&settings.database_url),
            bodies: crate::api::body_budget::BodyBudget::new(
                settings
                    .max_body_bytes_in_flight
                    .max(settings.max_body_bytes),
            ),
            body_cache: crate::api::body_cache::BodyCache::new(settings.body_cache_bytes),
            token_grants: Default::default(),
        });
        let key = {
            let mut conn = pool.get()?;
            ItemVersion::set_keep(&mut conn, settings.history_versions)?;
            crate::auth::session::cookie_key(&mut conn, settings.secret_key.as_deref())?
        };
        actix_web::rt::spawn(run_worker(
            registry.runner().clone(),
            settings.worker_poll,
            settings.job_stale_after,
            wake_worker.clone(),
        ));
        actix_web::rt::spawn(crate::cache::schedule::run_scheduler(
            registry.runner().clone(),
            settings.sync_schedule.clone(),
            settings.worker_poll,
            wake_worker,
        ));
        actix_web::rt::spawn(crate::auth::prune_forever(pool.clone(), settings.clone()));
        let secure = settings.secure_cookies;
        let metrics_on = settings.metrics_enabled();
        // With a metrics address, `/metrics` is served there only.
        let metrics_here = metrics_on && settings.metrics_bind.is_none();
        let metrics_port = match &settings.metrics_bind {
            Some(addr) => Some(spawn_metrics_server(addr, state.clone())?),
            None => None,
        };
        let cookie_ttl = actix_web::cookie::time::Duration::seconds(
            i64::try_from(settings.session_max_age.as_secs()).unwrap_or(i64::MAX),
        );
        // A request's root span (and its request id) only when some subscriber records
        // `info` spans (`RUST_LOG=warn` records none: see `web::span`).
        let request_spans = tracing::level_filters::LevelFilter::current()
            >= tracing::level_filters::LevelFilter::INFO;
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_name(COOKIE_NAME.to_owned())
                .cookie_secure(secure)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_content_security(CookieContentSecurity::Private)
                // The cookie lives as long as the longest a session may (it was a
                // browser-session cookie); the server-side record decides before that.
                .session_lifecycle(PersistentSession::default().session_ttl(cookie_ttl))
                .build();
            App::new()
                .wrap(Condition::new(
                    metrics_on,
                    from_fn(crate::metrics::record_requests),
                ))
                .app_data(state.clone())
                .configure(crate::web::health_routes)
                .configure(|cfg| {
                    if metrics_here {
                        crate::metrics::routes(cfg);
                    }
                })
                // API calls with a token or a password never read a session: they are
                // served without the session middleware (the rest of the API, for
                // session callers, is the same routes inside the scope below).
                .service(
                    web::scope("/cache/api")
                        .guard(guard::fn_guard(|ctx| {
                            crate::api::auth::names_credentials(ctx.head().headers())
                        }))
                        .wrap(crate::web::security_headers())
                        .wrap(Condition::new(
                            request_spans,
                            TracingLogger::<crate::web::span::RequestSpan>::new(),
                        ))
                        .configure(crate::api::routes),
                )
                .service(
                    web::scope("")
                        .wrap(crate::web::security_headers())
                        .wrap(sessions)
                        .wrap(Condition::new(
                            request_spans,
                            TracingLogger::<crate::web::span::RequestSpan>::new(),
                        ))
                        .service(web::scope("/cache/api").configure(crate::api::routes))
                        .configure(crate::web::routes),
                )
        })
        // Database work cannot run wider than the pool; more blocking threads would
        // only add memory (each can keep its own allocator arena).
        .worker_max_blocking_threads(settings.pool_size as usize + 4)
        // A response goes out in several writes (a retrieve's head, data and closing
        // brace); with Nagle's algorithm on, the last small one waited for the client's
        // delayed ACK, up to 40 ms, on many large retrieves.
        .tcp_nodelay(true)
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            metrics_port,
            server,
        })
    }

    /// The port of `SODARCACHE_METRICS_BIND`'s server, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Serves `/metrics` alone on `addr` (one worker), for a scraper on another network
/// than the users. Runs until the process stops. Returns the bound port.
fn spawn_metrics_server(addr: &str, state: web::Data<AppState>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("SODARCACHE_METRICS_BIND: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(crate::metrics::routes)
    })
    .workers(1)
    .tcp_nodelay(true)
    .listen(listener)?
    .run();
    actix_web::rt::spawn(server);
    tracing::info!("Metrics on http://{local}/metrics");
    Ok(local.port())
}
