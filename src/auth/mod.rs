//! Who is asking and what they may do: passwords, API tokens, and the permission rules.

pub mod address;
pub mod item_access;
pub mod password;
pub mod rules;
pub mod session;
pub mod throttle;
pub mod token;
pub mod visibility;

pub use rules::{Access, Permissions, effective_role};
