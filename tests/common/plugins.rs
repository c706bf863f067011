//! One configurable project-app plugin for tests: writes an item, does nothing, fails
//! or panics, optionally after sleeping or after waiting for a [`Gate`] the test opens
//! (to keep a sync job running for exactly as long as the test needs, whatever the
//! machine's load).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::json;
use sodarcache::plugin::prelude::*;

/// What a call does after its optional sleep.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Nothing,
    /// Writes `{"ok": true}` as this item in the scope it is called for (a project,
    /// or site-wide when called without one).
    Write(&'static str),
    Fail(&'static str),
    Panic,
}

/// A gate plugin calls wait at until the test opens it (or a minute passes, so a
/// failed test does not leave threads behind for long).
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Gate::default()
    }

    /// Lets every waiting and future call through.
    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    /// Waits until the gate is open (a minute at most).
    pub fn wait(&self) {
        let (open, changed) = &*self.0;
        let guard = open.lock().unwrap();
        let _ = changed
            .wait_timeout_while(guard, Duration::from_secs(60), |open| !*open)
            .unwrap();
    }
}

/// A plugin named `name` with a fixed behaviour.
#[derive(Debug, Clone)]
pub struct TestPlugin {
    name: &'static str,
    sleep: Option<Duration>,
    gate: Option<Gate>,
    outcome: Outcome,
}

impl TestPlugin {
    fn new(name: &'static str, outcome: Outcome) -> Self {
        TestPlugin {
            name,
            sleep: None,
            gate: None,
            outcome,
        }
    }

    /// Succeeds without writing (only makes `name` a valid app name).
    pub fn noop(name: &'static str) -> Self {
        Self::new(name, Outcome::Nothing)
    }

    /// Writes `item` (app `name`) in every scope it is called for.
    pub fn writes(name: &'static str, item: &'static str) -> Self {
        Self::new(name, Outcome::Write(item))
    }

    /// Returns an error with this text.
    pub fn fails(name: &'static str, message: &'static str) -> Self {
        Self::new(name, Outcome::Fail(message))
    }

    /// Panics with "plugin exploded".
    pub fn panics(name: &'static str) -> Self {
        Self::new(name, Outcome::Panic)
    }

    /// Sleeps this long first, in every call.
    pub fn after(self, sleep: Duration) -> Self {
        TestPlugin {
            sleep: Some(sleep),
            ..self
        }
    }
}

impl TestPlugin {
    /// Waits for `gate` to open first, in every call.
    pub fn gated(self, gate: &Gate) -> Self {
        TestPlugin {
            gate: Some(gate.clone()),
            ..self
        }
    }
}

impl ProjectAppPlugin for TestPlugin {
    fn name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        "Test plugin"
    }

    fn sync_project(&self, ctx: &SyncContext, _project: &ProjectView) -> SyncResult {
        self.call(ctx)
    }

    /// Every project, then its own site-wide item (so a site job writes everywhere).
    fn sync_site(&self, ctx: &SyncContext) -> SyncResult {
        ctx.each_project(|ctx, project| self.sync_project(ctx, project))?;
        self.call(ctx)
    }
}

impl TestPlugin {
    fn call(&self, ctx: &SyncContext) -> SyncResult {
        if let Some(d) = self.sleep {
            std::thread::sleep(d);
        }
        if let Some(gate) = &self.gate {
            gate.wait();
        }
        match self.outcome {
            Outcome::Nothing => {}
            Outcome::Write(item) => ctx.set(item, &json!({ "ok": true }))?,
            Outcome::Fail(message) => anyhow::bail!("{message}"),
            Outcome::Panic => panic!("plugin exploded"),
        }
        Ok(())
    }
}

type ProjectFn = dyn Fn(&SyncContext, &ProjectView) -> SyncResult + Send + Sync;
type SiteFn = dyn Fn(&SyncContext) -> SyncResult + Send + Sync;

/// A plugin whose syncs are closures, with optional sub-apps: for tests of the
/// context's contract. Without `on_site`, the trait's default `sync_site` runs.
#[derive(Clone)]
pub struct FnPlugin {
    name: &'static str,
    sub_apps: &'static [&'static str],
    project: std::sync::Arc<ProjectFn>,
    site: Option<std::sync::Arc<SiteFn>>,
}

impl FnPlugin {
    /// A plugin named `name` writing also under `sub_apps`; it does nothing yet.
    pub fn new(name: &'static str, sub_apps: &'static [&'static str]) -> Self {
        FnPlugin {
            name,
            sub_apps,
            project: std::sync::Arc::new(|_, _| Ok(())),
            site: None,
        }
    }

    /// What `sync_project` does.
    pub fn on_project(
        self,
        f: impl Fn(&SyncContext, &ProjectView) -> SyncResult + Send + Sync + 'static,
    ) -> Self {
        FnPlugin {
            project: std::sync::Arc::new(f),
            ..self
        }
    }

    /// What `sync_site` does (instead of the default loop).
    pub fn on_site(self, f: impl Fn(&SyncContext) -> SyncResult + Send + Sync + 'static) -> Self {
        FnPlugin {
            site: Some(std::sync::Arc::new(f)),
            ..self
        }
    }
}

impl ProjectAppPlugin for FnPlugin {
    fn name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        "Closure plugin"
    }

    fn sub_apps(&self) -> &'static [&'static str] {
        self.sub_apps
    }

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        (self.project)(ctx, project)
    }

    fn sync_site(&self, ctx: &SyncContext) -> SyncResult {
        match &self.site {
            Some(f) => f(ctx),
            None => ctx.each_project(|ctx, p| self.sync_project(ctx, p)),
        }
    }
}
