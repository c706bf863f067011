//! The state every request handler shares, in its own module so that handlers
//! (`web/`, `api/`) never import `startup`, which imports their routes.

use std::sync::Arc;

use crate::db::DbPool;
use crate::plugins::PluginRegistry;
use crate::settings::Settings;

/// Shared state of every request handler, built once by `startup`.
pub struct AppState {
    /// Settings.
    pub settings: Settings,
    /// The database.
    pub pool: DbPool,
    /// Plugins and the cache backend.
    pub registry: PluginRegistry,
    /// Wakes this process's sync worker when a request queues a job.
    pub wake_worker: Arc<tokio::sync::Notify>,
    /// Every password check goes through it: login throttling and the bound on
    /// concurrent checks ([`crate::auth::throttle`]).
    pub login: crate::auth::throttle::LoginGuard,
    /// On SQLite, the connections for small reads on the event loop
    /// ([`crate::db::loop_reads`]); `None` on PostgreSQL.
    pub loop_reads: Option<crate::db::loop_reads::LoopReaders>,
    /// The bound on request bodies in memory (`SODARCACHE_MAX_BODY_BYTES_IN_FLIGHT`).
    pub bodies: crate::api::body_budget::BodyBudget,
    /// Large item bodies kept for retrieves (`SODARCACHE_BODY_CACHE_BYTES`).
    pub body_cache: crate::api::body_cache::BodyCache,
    /// On PostgreSQL, token retrieves' gate rows kept with their auth epoch
    /// ([`crate::auth::token_grants`]).
    pub token_grants: Arc<crate::auth::token_grants::TokenGrants>,
}
