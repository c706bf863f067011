//! One configurable project-app plugin for tests: writes an item, does nothing, fails
//! or panics, optionally after sleeping (to keep a sync job running for a while).

use std::time::Duration;

use serde_json::json;
use sodarcache::cache::SyncContext;
use sodarcache::db::models::{Project, User};
use sodarcache::plugins::ProjectAppPlugin;

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

/// A plugin named `name` with a fixed behaviour.
#[derive(Debug, Clone, Copy)]
pub struct TestPlugin {
    name: &'static str,
    sleep: Option<Duration>,
    outcome: Outcome,
}

impl TestPlugin {
    fn new(name: &'static str, outcome: Outcome) -> Self {
        TestPlugin {
            name,
            sleep: None,
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

impl ProjectAppPlugin for TestPlugin {
    fn name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        "Test plugin"
    }

    fn update_cache(
        &self,
        ctx: &SyncContext,
        _name: Option<&str>,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> anyhow::Result<()> {
        if let Some(d) = self.sleep {
            std::thread::sleep(d);
        }
        match self.outcome {
            Outcome::Nothing => {}
            Outcome::Write(item) => {
                ctx.set_cache_item(self.name, item, &json!({ "ok": true }), project, user)?;
            }
            Outcome::Fail(message) => anyhow::bail!("{message}"),
            Outcome::Panic => panic!("plugin exploded"),
        }
        Ok(())
    }
}
