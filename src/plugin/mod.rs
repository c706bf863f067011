//! The plugin API: everything a plugin author needs, in one module.
//!
//! ```no_run
//! use sodarcache::plugin::prelude::*;
//!
//! /// Caches how many words each project's description has.
//! struct WordCounts;
//!
//! impl ProjectAppPlugin for WordCounts {
//!     fn name(&self) -> &'static str {
//!         "word_counts"
//!     }
//!
//!     fn title(&self) -> &'static str {
//!         "Word counts"
//!     }
//!
//!     fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
//!         if ctx.wants("description") {
//!             let words = project.description.split_whitespace().count();
//!             ctx.set("description", &serde_json::json!({ "words": words }))?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     run_cli(PluginRegistry::builder().project_app(WordCounts))
//! }
//! ```
//!
//! * [`ProjectAppPlugin`]: what a sync is — [`sync_project`] for one project and
//!   [`sync_site`] for the whole site (by default: `sync_project` for every project),
//!   plus the [`sub_apps`] it writes under.
//! * [`SyncContext`]: bound to the running plugin and its job's scope. Writes name only
//!   the item (and optionally a declared sub-app); the project and the user are
//!   implied; every write is counted; a cancelled job refuses every write.
//! * Views ([`ProjectView`], [`UserView`], [`ItemView`], ...): read-only copies with
//!   enums ([`ProjectType`], [`Role`], [`PublicAccess`]); no database types.
//! * [`Error`]: what a context call can fail with.
//! * [`PluginRegistry`]: register plugins, then run the CLI ([`run_cli`]) or a server.
//!
//! Nothing outside this module is part of the plugin API: the other modules are
//! internal (hidden from the documentation) and may change in any release.
//!
//! [`sync_project`]: ProjectAppPlugin::sync_project
//! [`sync_site`]: ProjectAppPlugin::sync_site
//! [`sub_apps`]: ProjectAppPlugin::sub_apps

mod context;
mod error;
mod freshness;
mod handle;
mod views;

use std::any::Any;
use std::process::ExitCode;
use std::sync::Arc;

pub use context::{Batch, Progress, SyncContext};
pub(crate) use context::{JobShared, PluginRun, ProgressObserver, is_cancelled_error, read_items};
pub use error::{Error, Result};
pub use freshness::MaxAge;
pub use handle::{JobState, PluginResult, SyncHandle, SyncRequest};
pub use views::{ItemFilter, ItemView, Member, Page, ProjectView, UserView};

pub use crate::db::models::{JobStatus, ProjectType, PublicAccess, Role};
pub use crate::plugins::{ExampleProjectApp, PluginRegistry, RegistryBuilder};
/// `anyhow`, which plugin methods return errors with (re-exported, so a plugin needs no
/// dependency of its own for it).
pub use anyhow;

/// What a plugin's sync returns: any error, with context (`anyhow`).
pub type SyncResult = anyhow::Result<()>;

/// An app that keeps cache items up to date (upstream's project-app plugin with
/// `update_cache`).
///
/// The runner calls it on a blocking thread of its own, with a time limit: for a job
/// of one project, [`sync_project`](Self::sync_project) once; for a site-wide job,
/// [`sync_site`](Self::sync_site) once. An error or a panic is recorded for this plugin
/// only; the other plugins still run.
pub trait ProjectAppPlugin: Send + Sync + 'static {
    /// Unique app name, e.g. `samplesheets`; the `app_name` of its items.
    fn name(&self) -> &'static str;

    /// Human-readable title.
    fn title(&self) -> &'static str;

    /// Further app names the plugin writes under (sub-apps that are not plugins, such
    /// as `samplesheets.assayapps.cytof`). They are valid app names everywhere (REST,
    /// CLI `--app`, the admin pages); deleting the plugin's cache deletes theirs too.
    fn sub_apps(&self) -> &'static [&'static str] {
        &[]
    }

    /// How old this plugin's items (and its sub-apps') may get before the admin pages
    /// mark them stale and REST retrieve adds a `Warning` header. The default: never
    /// stale.
    fn max_age(&self) -> MaxAge {
        MaxAge::never()
    }

    /// Refreshes the plugin's items of one project; `ctx` writes to that project.
    /// Categories are never passed.
    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        let _ = (ctx, project);
        Ok(())
    }

    /// Refreshes everything the plugin caches, site-wide items included (`ctx` is
    /// site-wide; [`SyncContext::for_project`] gives a project's context). The default
    /// calls [`sync_project`](Self::sync_project) for every project
    /// ([`SyncContext::each_project`]). Override it to open one session for all
    /// projects (upstream's `update_cache(project=None)`): the runner never calls
    /// `sync_project` itself in a site-wide job, so nothing runs twice.
    fn sync_site(&self, ctx: &SyncContext) -> SyncResult {
        ctx.each_project(|ctx, project| self.sync_project(ctx, project))
    }

    /// How often the server syncs this plugin in every project by itself (a job of
    /// origin `scheduled` per project, no cron needed), unless the
    /// `SODARCACHE_SYNC_SCHEDULE` setting or a superuser on the Schedules page sets
    /// another interval. Whole seconds, from 1 s to a year. The default: never.
    fn sync_interval(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A backend service other code looks up by name with
/// [`PluginRegistry::get_backend_api`] (upstream's backend plugins).
pub trait BackendPlugin: Send + Sync + 'static {
    /// Unique name, e.g. `sodar_cache`.
    fn name(&self) -> &'static str;

    /// The API object callers downcast to its concrete type.
    fn api(&self) -> Arc<dyn Any + Send + Sync>;
}

/// Runs the `sodarcache` command line (server, `synccache`, `deletecache`, ...) with
/// these plugins: the `main` of a binary that ships its own plugins.
pub fn run_cli(plugins: RegistryBuilder) -> ExitCode {
    use clap::Parser;
    crate::cli::run(crate::cli::Cli::parse(), plugins)
}

/// The names a plugin usually needs: `use sodarcache::plugin::prelude::*;`.
pub mod prelude {
    pub use super::{
        Error as PluginError, ItemFilter, ItemView, JobState, JobStatus, MaxAge, Member, Page,
        PluginRegistry, ProjectAppPlugin, ProjectType, ProjectView, PublicAccess, Role,
        SyncContext, SyncHandle, SyncRequest, SyncResult, UserView, run_cli,
    };
}
