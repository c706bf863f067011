//! The cache backend (`sodar_cache`) and the sync machinery around it.
//!
//! * [`SodarCache`]: upstream's backend API, with its "Here:" fixes.
//! * [`runner`]: runs project-app plugins with each call isolated.
//! * [`jobs`]: sync jobs requested by web, API and CLI, and the worker that runs them.
//! * [`schedule`]: scheduled syncs, queued by the server itself per plugin and project.

pub mod admin;
mod api;
pub mod diff;
pub mod freshness;
pub mod history;
pub mod jobs;
pub mod overview;
pub mod runner;
pub mod schedule;

pub(crate) use api::ScopedWrite;
pub(crate) use api::check_item_name;
pub use api::{CacheWrite, Provenance, SodarCache, epoch_seconds};
pub use runner::{PluginOutcome, Runner, SyncTarget};

/// Name of the backend plugin, as in `get_backend_api("sodar_cache")`.
pub const SODAR_CACHE: &str = "sodar_cache";
/// The cache app's own name, always valid as an `app_name`.
pub const APP_NAME: &str = "sodarcache";
/// The only supported data type.
pub const DATA_TYPE_JSON: &str = "json";
/// Longest app or item name.
pub const MAX_NAME_LEN: usize = 255;
/// Deepest nesting of arrays and objects a cache document may have: every stored
/// document then parses into a `serde_json::Value` (whose parser stops below 128), and
/// neither SQLite's JSON functions (1,000) nor PostgreSQL's parser (its stack) refuse
/// it, so both backends answer the same 400.
pub const MAX_JSON_DEPTH: usize = 100;
