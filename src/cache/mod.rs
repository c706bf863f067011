//! The cache backend (`sodar_cache`) and the sync machinery around it.
//!
//! * [`SodarCache`]: upstream's backend API, with its "Here:" fixes.
//! * [`runner`]: runs project-app plugins with each call isolated.
//! * [`jobs`]: sync jobs requested by web, API and CLI, and the worker that runs them.
//! * [`schedule`]: scheduled syncs, queued by the server itself per plugin and project.

pub mod admin;
mod api;
pub mod dashboard;
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
/// Items larger than this are shown on their page from a stored preview (their first
/// [`PREVIEW_BYTES`]), written with the data; smaller ones are read whole. It is the
/// history diff's own limit, so a diff never lacks the current data.
pub const PREVIEW_ABOVE_BYTES: i64 = history::MAX_DIFF_BYTES;
/// Longest stored preview, in bytes (cut at a UTF-8 boundary).
pub const PREVIEW_BYTES: usize = 1024 * 1024;

/// The preview stored with `data`: its first [`PREVIEW_BYTES`] (cut at a character
/// boundary) when it is larger than [`PREVIEW_ABOVE_BYTES`], else none. Borrowed: no
/// copy of the document is made.
pub fn preview_of(data: &str) -> Option<&str> {
    (data.len() as i64 > PREVIEW_ABOVE_BYTES)
        .then(|| &data[..data.floor_char_boundary(PREVIEW_BYTES)])
}
