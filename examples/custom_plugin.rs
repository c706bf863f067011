//! A third-party plugin registered next to the shipped one, with the full CLI.
//!
//! ```sh
//! echo pw | cargo run --example custom_plugin -- user add alice
//! P=$(cargo run --example custom_plugin -- project add "Genome Atlas")
//! cargo run --example custom_plugin -- synccache
//! ```
//!
//! `word_count_app` caches, for every project, how many words its title and description
//! hold: a stand-in for the slow statistics a real app would pull from elsewhere.

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use sodarcache::cache::SyncContext;
use sodarcache::cli::{self, Cli};
use sodarcache::db::models::{Project, User};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry, ProjectAppPlugin};

/// Caches word counts per project.
struct WordCountApp;

impl ProjectAppPlugin for WordCountApp {
    fn name(&self) -> &'static str {
        "word_count_app"
    }

    fn title(&self) -> &'static str {
        "Word counts"
    }

    fn update_cache(
        &self,
        ctx: &SyncContext,
        name: Option<&str>,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> anyhow::Result<()> {
        if name.is_some_and(|n| n != "word_counts") {
            return Ok(());
        }
        let Some(project) = project else {
            return Ok(()); // nothing site-wide
        };
        let count = |s: &str| s.split_whitespace().count();
        let data = json!({
            "title_words": count(&project.title),
            "description_words": count(&project.description),
        });
        ctx.set_cache_item(self.name(), "word_counts", &data, Some(project), user)?;
        Ok(())
    }
}

fn main() -> ExitCode {
    let plugins = PluginRegistry::builder()
        .project_app(ExampleProjectApp)
        .project_app(WordCountApp);
    cli::run(Cli::parse(), plugins)
}
