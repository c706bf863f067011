//! sodarcache: a per-project JSON cache with in-process plugins, a web admin, a CLI and
//! a REST API compatible with SODAR Core's `sodarcache` app.
//!
//! Layers, top to bottom: `cli` / `web` / `api` → `cache` (backend API, sync runner)
//! → `db` (models, schema, pool). `plugins` holds the plugin traits and registry;
//! `auth` holds passwords, tokens and the permission rules.

pub mod db;
pub mod error;

pub use error::{Error, Result};

/// This build's version, shown in the page footer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod api;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod metrics;
pub mod plugins;
pub mod settings;
pub mod startup;
pub mod state;
pub mod time_zone;
pub mod web;
