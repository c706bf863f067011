//! The plugin registry: explicit registration at startup, read-only afterwards.

use std::any::Any;
use std::sync::Arc;

use super::{BackendPlugin, ProjectAppPlugin};
use crate::Result;
use crate::cache::freshness::Freshness;
use crate::cache::runner::{job_state, run_plugins};
use crate::cache::{PluginOutcome, Runner, SODAR_CACHE, SodarCache, SyncTarget};
use crate::db::DbPool;
use crate::db::models::{Project, User};
use crate::plugin::{ItemFilter, ItemView, Page, read_items};
use crate::settings::Settings;

/// Collects plugins before the registry is built.
#[derive(Default)]
pub struct RegistryBuilder {
    apps: Vec<Arc<dyn ProjectAppPlugin>>,
    backends: Vec<Arc<dyn BackendPlugin>>,
}

impl RegistryBuilder {
    /// Registers a project-app plugin.
    pub fn project_app(mut self, plugin: impl ProjectAppPlugin) -> Self {
        self.apps.push(Arc::new(plugin));
        self
    }

    /// Registers a backend plugin (in addition to the built-in `sodar_cache`).
    pub fn backend(mut self, plugin: impl BackendPlugin) -> Self {
        self.backends.push(Arc::new(plugin));
        self
    }

    /// Builds the registry. Plugins are sorted by name; the `sodar_cache` backend is
    /// created over `pool` and is available only when enabled in `settings`.
    ///
    /// Panics if two plugins (or sub-apps) share a name: that is a programming error.
    pub fn build(mut self, pool: DbPool, settings: &Settings) -> PluginRegistry {
        self.apps.sort_by_key(|p| p.name());
        for pair in self.apps.windows(2) {
            assert_ne!(pair[0].name(), pair[1].name(), "duplicate plugin name");
        }
        let apps: Arc<[Arc<dyn ProjectAppPlugin>]> = self.apps.into();
        let cache = SodarCache::new(pool, apps.iter().map(|a| (a.name(), a.sub_apps())));
        let runner = Runner::new(cache.clone(), apps.clone(), settings.plugin_timeout);
        let freshness = Freshness::new(apps.iter().flat_map(|a| {
            let limits = a.max_age();
            std::iter::once(a.name())
                .chain(a.sub_apps().iter().copied())
                .map(move |name| (name.to_owned(), limits.clone()))
        }));
        let mut backends = self.backends;
        backends.push(Arc::new(cache.clone()));
        backends.retain(|b| settings.enabled_backends.iter().any(|e| e == b.name()));
        backends.sort_by_key(|b| b.name());
        PluginRegistry {
            apps,
            backends,
            cache,
            runner,
            freshness: Arc::new(freshness),
        }
    }
}

/// Every registered plugin. Cheap to clone and share as app data.
#[derive(Clone)]
pub struct PluginRegistry {
    apps: Arc<[Arc<dyn ProjectAppPlugin>]>,
    backends: Vec<Arc<dyn BackendPlugin>>,
    cache: SodarCache,
    runner: Runner,
    freshness: Arc<Freshness>,
}

impl PluginRegistry {
    /// Starts a registry.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Active project-app plugins, sorted by name.
    pub fn project_apps(&self) -> &[Arc<dyn ProjectAppPlugin>] {
        &self.apps
    }

    /// The backend API called `name`, if that backend is enabled, downcast to `T`.
    ///
    /// `registry.get_backend_api::<SodarCache>("sodar_cache")` is upstream's
    /// `get_backend_api('sodar_cache')`.
    pub fn get_backend_api<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.backends
            .iter()
            .find(|b| b.name() == name)
            .and_then(|b| b.api().downcast::<T>().ok())
    }

    /// The cache backend, if enabled. Shorthand for `get_backend_api("sodar_cache")`.
    pub fn cache(&self) -> Option<Arc<SodarCache>> {
        self.get_backend_api::<SodarCache>(SODAR_CACHE)
    }

    /// The cache API even when the backend is disabled, for admin tasks that do not go
    /// through the backend (listing what is stored).
    pub fn cache_unchecked(&self) -> &SodarCache {
        &self.cache
    }

    /// Names that are valid as `app_name`: every registered app, their sub-apps, and
    /// `sodarcache`.
    pub fn app_names(&self) -> Vec<&'static str> {
        self.cache.app_names()
    }

    /// The plugins' freshness limits by app name ([`ProjectAppPlugin::max_age`]).
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// What runs the plugins (sync jobs, [`update_cache`](Self::update_cache)).
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Upstream's `update_cache`: calls every plugin in name order, each call
    /// isolated, and returns every plugin's outcome (upstream stopped at the first
    /// exception). Blocking: call it off the async threads.
    pub fn update_cache(
        &self,
        name: Option<&str>,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> Result<Vec<PluginOutcome>> {
        let target = SyncTarget {
            project: project.cloned(),
            user: user.cloned(),
            item_name: name.map(str::to_owned),
            app: None,
        };
        let job = job_state(&target, None, None);
        let outcomes = run_plugins(&self.runner, &target, &job);
        job.cancel();
        outcomes
    }

    /// Requests a sync job (or joins a queued or running one that covers it) and
    /// returns its handle: poll it, wait for it with a time limit, or run it here.
    /// Recorded with origin `api`. Blocking.
    pub fn request_sync(
        &self,
        request: &crate::plugin::SyncRequest,
    ) -> Result<crate::plugin::SyncHandle> {
        crate::plugin::SyncHandle::request(&self.runner, request)
    }

    /// Items of an app across projects, by name prefix, one page at a time (for code
    /// that reads what plugins wrote, like upstream's `get_model()` queries).
    pub fn items(&self, filter: &ItemFilter) -> crate::plugin::Result<Page<ItemView>> {
        read_items(&self.cache, filter)
    }
}
