//! Freshness: each plugin's [`MaxAge`] by app name (its own and its sub-apps'), and
//! what is stale at a given moment, for one item or as a database filter.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::models::{StaleRule, StaleRules};
use crate::plugin::MaxAge;

/// The freshness limits of every registered app.
#[derive(Debug, Clone, Default)]
pub struct Freshness {
    apps: BTreeMap<String, MaxAge>,
}

/// An item's age against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemAge {
    /// Seconds since the last write (0 for a write "in the future": clocks differ).
    pub seconds: u64,
    /// The limit, if the item has one.
    pub max_age: Option<Duration>,
}

impl ItemAge {
    /// Older than its limit.
    pub fn is_stale(&self) -> bool {
        self.max_age.is_some_and(|m| self.seconds > m.as_secs())
    }
}

impl Freshness {
    /// The limits of these apps (those that never go stale can be left out).
    pub fn new(apps: impl IntoIterator<Item = (String, MaxAge)>) -> Self {
        Freshness {
            apps: apps.into_iter().filter(|(_, m)| !m.is_never()).collect(),
        }
    }

    /// Whether any app has a limit.
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }

    /// The limit of item `name` of `app`.
    pub fn max_age(&self, app: &str, name: &str) -> Option<Duration> {
        self.apps.get(app).and_then(|m| m.for_item(name))
    }

    /// The age of an item written at `modified`, seen at `now`.
    pub fn age(
        &self,
        app: &str,
        name: &str,
        modified: NaiveDateTime,
        now: NaiveDateTime,
    ) -> ItemAge {
        ItemAge {
            seconds: u64::try_from((now - modified).num_seconds()).unwrap_or(0),
            max_age: self.max_age(app, name),
        }
    }

    /// Whether that item is stale at `now`.
    pub fn is_stale(
        &self,
        app: &str,
        name: &str,
        modified: NaiveDateTime,
        now: NaiveDateTime,
    ) -> bool {
        self.age(app, name, modified, now).is_stale()
    }

    /// The limits as cutoffs at `now`, for [`StaleRules::filter`]. An item is stale
    /// when more whole seconds than its limit have passed since its write, as
    /// [`ItemAge::is_stale`] says.
    pub fn rules(&self, now: NaiveDateTime) -> StaleRules {
        self.rules_scaled(now, 1, 1)
    }

    /// [`Self::rules`] with every limit multiplied by `num / den`: `(1, 2)` selects the
    /// items past half their limit (the dashboards' "aging" and stale items).
    pub fn rules_scaled(&self, now: NaiveDateTime, num: u32, den: u32) -> StaleRules {
        let cutoff = |age: Duration| {
            let age = age * num / den.max(1);
            let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX / 2);
            // "More than N whole seconds" = written at or before now - (N + 1) s.
            now.checked_sub_signed(chrono::Duration::seconds(secs.saturating_add(1)))
                .map(|t| t + chrono::Duration::microseconds(1))
                .unwrap_or(NaiveDateTime::MIN)
        };
        let mut rules = Vec::new();
        for (app, limits) in &self.apps {
            let prefixes = limits.prefixes();
            let longer_than = |prefix: &str| -> Vec<String> {
                prefixes
                    .iter()
                    .map(|(p, _)| p)
                    .filter(|p| p.len() > prefix.len() && p.starts_with(prefix))
                    .cloned()
                    .collect()
            };
            for (prefix, age) in prefixes {
                rules.push(StaleRule {
                    app: app.clone(),
                    prefix: prefix.clone(),
                    overridden_by: longer_than(prefix),
                    cutoff: cutoff(*age),
                });
            }
            if let Some(age) = limits.default_age() {
                rules.push(StaleRule {
                    app: app.clone(),
                    prefix: String::new(),
                    overridden_by: prefixes.iter().map(|(p, _)| p.clone()).collect(),
                    cutoff: cutoff(age),
                });
            }
        }
        StaleRules { rules }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_000_000 + secs, 0)
            .expect("valid")
            .naive_utc()
    }

    #[test]
    fn the_longest_prefix_wins_then_the_default() {
        let f = Freshness::new([
            (
                "a".to_owned(),
                MaxAge::after(Duration::from_secs(100))
                    .prefix("x", Duration::from_secs(10))
                    .prefix("xy", Duration::from_secs(1000)),
            ),
            ("never".to_owned(), MaxAge::never()),
            (
                "only_prefix".to_owned(),
                MaxAge::never().prefix("p", Duration::from_secs(5)),
            ),
        ]);
        assert_eq!(f.max_age("a", "xyz"), Some(Duration::from_secs(1000)));
        assert_eq!(f.max_age("a", "xa"), Some(Duration::from_secs(10)));
        assert_eq!(f.max_age("a", "b"), Some(Duration::from_secs(100)));
        assert_eq!(f.max_age("never", "b"), None);
        assert_eq!(f.max_age("only_prefix", "q"), None);
        assert_eq!(f.max_age("unknown", "q"), None);
        assert!(
            !f.is_stale("a", "b", at(0), at(100)),
            "exactly the limit is still fresh"
        );
        assert!(f.is_stale("a", "b", at(0), at(101)));
        assert!(
            !f.is_stale("a", "b", at(10), at(0)),
            "a write in the future is fresh"
        );
    }

    #[test]
    fn rules_exclude_longer_prefixes_and_cut_at_whole_seconds() {
        let f = Freshness::new([(
            "a".to_owned(),
            MaxAge::after(Duration::from_secs(100)).prefix("x", Duration::from_secs(10)),
        )]);
        let rules = f.rules(at(1000)).rules;
        assert_eq!(rules.len(), 2);
        assert_eq!(
            (rules[0].prefix.as_str(), rules[0].overridden_by.is_empty()),
            ("x", true)
        );
        assert_eq!(rules[1].overridden_by, ["x"]);
        // Stale: more than 100 whole seconds, i.e. written before 1000 - 100 s (exclusive)
        // and not within the last second of it.
        let cutoff = rules[1].cutoff;
        assert!(at(899) < cutoff && cutoff <= at(900) - chrono::Duration::microseconds(999_999));
        assert!(Freshness::default().rules(at(0)).is_empty());
    }
}
