//! sodarcache: a per-project JSON cache with in-process plugins, a web admin, a CLI and
//! a REST API compatible with SODAR Core's `sodarcache` app.
//!
//! **Plugin authors: use [`plugin`]** (and `plugin::prelude`). It is the only public
//! API: the traits, the sync context, typed views of projects, users and items, the
//! error type, and the registry that runs the CLI or a server with your plugins.
//!
//! Every other module is internal: public only so the crate's own binaries,
//! integration tests and benchmarks can reach it, hidden from the documentation, and
//! free to change in any release. Layers, top to bottom: `cli` / `web` / `api` →
//! `cache` (backend API, sync runner) → `db` (models, schema, pool); `plugins` holds the
//! registry; `auth` the passwords, tokens and permission rules.
#![warn(missing_docs)]

pub mod plugin;

#[doc(hidden)]
pub mod db;
#[doc(hidden)]
pub mod error;

#[doc(hidden)]
pub use error::{Error, Result};

/// This build's version, shown in the page footer.
#[doc(hidden)]
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[doc(hidden)]
pub mod api;
#[doc(hidden)]
pub mod auth;
#[doc(hidden)]
pub mod cache;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod metrics;
#[doc(hidden)]
pub mod names;
#[doc(hidden)]
pub mod plugins;
#[doc(hidden)]
pub mod settings;
#[doc(hidden)]
pub mod startup;
#[doc(hidden)]
pub mod state;
#[doc(hidden)]
pub mod time_zone;
#[doc(hidden)]
pub mod web;
