//! Internal: the plugin registry and the shipped example plugin. Plugin authors use
//! [`crate::plugin`], which re-exports what they need from here.

mod example_app;
mod registry;

pub use crate::plugin::{BackendPlugin, ProjectAppPlugin};
pub use example_app::ExampleProjectApp;
pub use registry::{PluginRegistry, RegistryBuilder};
