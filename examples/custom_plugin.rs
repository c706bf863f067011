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

use serde_json::json;
use sodarcache::plugin::ExampleProjectApp;
use sodarcache::plugin::prelude::*;

/// Caches word counts per project.
struct WordCountApp;

impl ProjectAppPlugin for WordCountApp {
    fn name(&self) -> &'static str {
        "word_count_app"
    }

    fn title(&self) -> &'static str {
        "Word counts"
    }

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        if !ctx.wants("word_counts") {
            return Ok(());
        }
        let count = |s: &str| s.split_whitespace().count();
        ctx.set(
            "word_counts",
            &json!({
                "title_words": count(&project.title),
                "description_words": count(&project.description),
            }),
        )?;
        Ok(())
    }
}

fn main() -> ExitCode {
    run_cli(
        PluginRegistry::builder()
            .project_app(ExampleProjectApp)
            .project_app(WordCountApp),
    )
}
