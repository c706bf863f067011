//! In-process plugins, like SODAR's plugin points.
//!
//! * [`ProjectAppPlugin`]: an app that fills the cache from its slow sources.
//! * [`BackendPlugin`]: a service other code looks up by name; `sodar_cache` is ours.
//! * [`PluginRegistry`]: built once at startup by explicit registration, immutable after.

mod example_app;
mod registry;

use std::any::Any;
use std::sync::Arc;

pub use example_app::ExampleProjectApp;
pub use registry::{PluginRegistry, RegistryBuilder};

use crate::cache::SyncContext;
use crate::db::models::{Project, User};

/// An app that keeps cache items up to date.
///
/// The sync runner calls [`update_cache`](ProjectAppPlugin::update_cache) on a blocking
/// thread, once per project in scope (`project` is `Some`) and, for a site-wide sync,
/// once with `project = None` for the app's site-wide items. A plugin with nothing
/// site-wide returns `Ok(())` for `None`. An error or a panic is recorded for this
/// plugin only; the other plugins and projects still run.
pub trait ProjectAppPlugin: Send + Sync + 'static {
    /// Unique app name, e.g. `samplesheets`; also the `app_name` of its cache items.
    fn name(&self) -> &'static str;

    /// Human-readable title.
    fn title(&self) -> &'static str;

    /// Refreshes this app's items, limited to item `name` and/or `project` when given.
    /// Write items through `ctx` so the sync job counts them.
    fn update_cache(
        &self,
        ctx: &SyncContext,
        name: Option<&str>,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> anyhow::Result<()>;
}

/// A backend service looked up by name with [`PluginRegistry::get_backend_api`].
pub trait BackendPlugin: Send + Sync + 'static {
    /// Unique name, e.g. `sodar_cache`.
    fn name(&self) -> &'static str;

    /// The API object callers downcast to its concrete type.
    fn api(&self) -> Arc<dyn Any + Send + Sync>;
}
