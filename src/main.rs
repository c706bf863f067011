//! The `sodarcache` binary: parse the command line, register the shipped plugins, run.

use std::process::ExitCode;

use clap::Parser;
use sodarcache::cli::{self, Cli};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

fn main() -> ExitCode {
    let plugins = PluginRegistry::builder().project_app(ExampleProjectApp);
    cli::run(Cli::parse(), plugins)
}
