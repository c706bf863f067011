//! The dashboards of the overview and the project pages: cache size per app, how old
//! the items are, and how the syncs of the last [`DAYS`] days ended. A fixed number of
//! grouped queries over what the viewer may read, whatever the number of projects.
//!
//! Ages follow the freshness rules: an item whose plugin declares a `max_age` is stale
//! past it and aging past half of it; an item without one is stale after the overview's
//! "no update for N days" (30 unless the page's filter says otherwise), aging after
//! half of that.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::freshness::Freshness;
use crate::Result;
use crate::db::DbConn;
use crate::db::models::dashboard::{
    AppUsage, ItemFilter, ItemsOf, count_items, outcomes_by_day, usage_by_app,
};
use crate::db::models::{JobScope, JobStatus, User};
use crate::db::schema::cache_items;

/// Days of sync outcomes shown, today (UTC) included.
pub const DAYS: i64 = 14;

/// Items by age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgeCounts {
    /// Younger than half their limit.
    pub fresh: i64,
    /// Past half their limit, not past it.
    pub aging: i64,
    /// Past their limit.
    pub stale: i64,
}

impl AgeCounts {
    /// All items.
    pub fn total(&self) -> i64 {
        self.fresh + self.aging + self.stale
    }
}

/// Finished sync jobs of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCounts {
    /// The day.
    pub day: NaiveDate,
    /// Jobs done.
    pub done: i64,
    /// Jobs failed.
    pub failed: i64,
    /// Jobs cancelled.
    pub cancelled: i64,
}

impl DayCounts {
    /// All finished jobs of the day.
    pub fn total(&self) -> i64 {
        self.done + self.failed + self.cancelled
    }
}

/// One dashboard's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// Items and bytes per app, most bytes first.
    pub apps: Vec<AppUsage>,
    /// Items by age.
    pub ages: AgeCounts,
    /// The last [`DAYS`] days, oldest first.
    pub days: Vec<DayCounts>,
    /// Days without an update after which an item without a `max_age` is stale.
    pub fallback_days: i64,
}

/// The dashboard of the items `items` and the jobs `viewer` may see in `jobs`, at `now`.
pub fn dashboard(
    conn: &mut DbConn,
    viewer: &User,
    items: &ItemsOf,
    jobs: &JobScope,
    freshness: &Freshness,
    fallback_days: i64,
    now: NaiveDateTime,
) -> Result<Dashboard> {
    let apps = usage_by_app(conn, items)?;
    let total: i64 = apps.iter().map(|a| a.items).sum();
    let past =
        |num: u32, den: u32| -> ItemFilter {
            let rules = freshness.rules_scaled(now, num, den);
            let secs = fallback_days.saturating_mul(86_400) * i64::from(num) / i64::from(den);
            let cutoff = now - chrono::Duration::seconds(secs);
            // No item written at or after the latest cutoff can match: the range of the
            // `date_modified` index to look at, so fresh items are not read at all.
            let latest = rules
                .rules
                .iter()
                .map(|r| r.cutoff)
                .fold(cutoff, |a, b| a.max(b));
            Box::new(cache_items::date_modified.lt(latest).and(
                rules.filter().or(
                    diesel::dsl::not(rules.limited()).and(cache_items::date_modified.lt(cutoff)),
                ),
            ))
        };
    let (stale, past_half) = if total == 0 {
        (0, 0)
    } else {
        (
            count_items(conn, items, past(1, 1))?,
            count_items(conn, items, past(1, 2))?,
        )
    };
    let today = now.date();
    let first = today - chrono::Duration::days(DAYS - 1);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or(now);
    let mut days: Vec<DayCounts> = first
        .iter_days()
        .take(DAYS as usize)
        .map(|day| DayCounts {
            day,
            done: 0,
            failed: 0,
            cancelled: 0,
        })
        .collect();
    for o in outcomes_by_day(conn, viewer, jobs, since)? {
        let Ok(day) = NaiveDate::parse_from_str(&o.day, "%Y-%m-%d") else {
            continue;
        };
        let Some(d) = days.iter_mut().find(|d| d.day == day) else {
            continue;
        };
        match o.status {
            JobStatus::Done => d.done += o.jobs,
            JobStatus::Failed => d.failed += o.jobs,
            JobStatus::Cancelled => d.cancelled += o.jobs,
            JobStatus::Queued | JobStatus::Running => {}
        }
    }
    Ok(Dashboard {
        apps,
        ages: AgeCounts {
            fresh: total - past_half,
            aging: past_half - stale,
            stale,
        },
        days,
        fallback_days,
    })
}
