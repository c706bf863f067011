//! How old a plugin's items may get before the admin pages and the REST API call them
//! stale: a default for the plugin and, optionally, other limits for item names with
//! a given prefix (the longest matching prefix wins).

use std::time::Duration;

/// A plugin's freshness limits, returned by
/// [`ProjectAppPlugin::max_age`](super::ProjectAppPlugin::max_age). They apply to the
/// plugin's items and its sub-apps' items.
///
/// ```
/// use std::time::Duration;
/// use sodarcache::plugin::MaxAge;
///
/// // Items are stale after a day; `live_*` items after five minutes.
/// let limits = MaxAge::after(Duration::from_secs(86_400))
///     .prefix("live_", Duration::from_secs(300));
/// assert_eq!(limits.for_item("live_status"), Some(Duration::from_secs(300)));
/// assert_eq!(limits.for_item("summary"), Some(Duration::from_secs(86_400)));
/// assert_eq!(MaxAge::never().for_item("summary"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaxAge {
    default: Option<Duration>,
    /// Longest prefix first.
    prefixes: Vec<(String, Duration)>,
}

impl MaxAge {
    /// Items never go stale (the default).
    pub fn never() -> Self {
        MaxAge::default()
    }

    /// Items are stale `age` after their last write.
    pub fn after(age: Duration) -> Self {
        MaxAge {
            default: Some(age),
            prefixes: Vec::new(),
        }
    }

    /// Items whose name starts with `prefix` are stale `age` after their last write
    /// (whatever the default). Declaring a prefix again replaces its age.
    pub fn prefix(mut self, prefix: &str, age: Duration) -> Self {
        self.prefixes.retain(|(p, _)| p != prefix);
        self.prefixes.push((prefix.to_owned(), age));
        // Longest first, then by text, so lookups and SQL agree on who wins.
        self.prefixes.sort_by(|(a, _), (b, _)| {
            b.chars()
                .count()
                .cmp(&a.chars().count())
                .then_with(|| a.cmp(b))
        });
        self
    }

    /// The limit for an item called `name`: its longest matching prefix's, else the
    /// default; none when it never goes stale.
    pub fn for_item(&self, name: &str) -> Option<Duration> {
        self.prefixes
            .iter()
            .find(|(p, _)| name.starts_with(p.as_str()))
            .map(|(_, age)| *age)
            .or(self.default)
    }

    /// The default limit.
    pub fn default_age(&self) -> Option<Duration> {
        self.default
    }

    /// The prefixes with their limits, longest prefix first.
    pub fn prefixes(&self) -> &[(String, Duration)] {
        &self.prefixes
    }

    /// Whether no item ever goes stale.
    pub fn is_never(&self) -> bool {
        self.default.is_none() && self.prefixes.is_empty()
    }
}
