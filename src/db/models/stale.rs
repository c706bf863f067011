//! Stale items in SQL: the plugins' freshness limits turned into cutoffs, as one
//! filter both backends run the same way.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use crate::db::MultiBackend;
use crate::db::schema::cache_items;

diesel::define_sql_function!(fn substr(x: diesel::sql_types::Text, from: diesel::sql_types::Integer, count: diesel::sql_types::Integer) -> diesel::sql_types::Text);

/// One limit: items of `app` whose name starts with `prefix` (and with none of the
/// longer prefixes of `overridden_by`, which have limits of their own) are stale when
/// written before `cutoff`.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleRule {
    /// The app name.
    pub app: String,
    /// The item name prefix (`""`: every item of the app).
    pub prefix: String,
    /// Longer prefixes of the same app whose own limits apply instead.
    pub overridden_by: Vec<String>,
    /// Written before this: stale.
    pub cutoff: NaiveDateTime,
}

/// Every limit at one moment; no rules: nothing is stale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaleRules {
    /// The limits.
    pub rules: Vec<StaleRule>,
}

fn starts_with(
    prefix: &str,
) -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> {
    let len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    Box::new(substr(cache_items::name, 1, len).eq(prefix.to_owned()))
}

impl StaleRules {
    /// Whether there is any limit at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The filter selecting stale items.
    pub fn filter(
        &self,
    ) -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> {
        self.any(|rule| Box::new(covered_by(rule).and(cache_items::date_modified.lt(rule.cutoff))))
    }

    /// The filter selecting the items some limit applies to, whatever their age.
    pub fn limited(
        &self,
    ) -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> {
        self.any(covered_by)
    }

    /// Items matching `each` of the rules, for at least one rule.
    fn any(
        &self,
        each: impl Fn(
            &StaleRule,
        )
            -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>>,
    ) -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> {
        let mut any: Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> =
            Box::new(sql::<Bool>("1 = 0"));
        for rule in &self.rules {
            any = Box::new(any.or(each(rule)));
        }
        any
    }
}

/// The items `rule`'s limit applies to (its app, its prefix, none of the longer ones).
fn covered_by(
    rule: &StaleRule,
) -> Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> {
    let mut this: Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>> =
        Box::new(cache_items::app_name.eq(rule.app.clone()));
    if !rule.prefix.is_empty() {
        this = Box::new(this.and(starts_with(&rule.prefix)));
    }
    for longer in &rule.overridden_by {
        this = Box::new(this.and(diesel::dsl::not(starts_with(longer))));
    }
    this
}

/// How many stale items each of these projects has (projects without any are left out).
pub fn stale_counts(
    conn: &mut crate::db::DbConn,
    project_ids: &[i64],
    rules: &StaleRules,
) -> QueryResult<Vec<(Option<i64>, i64)>> {
    cache_items::table
        .group_by(cache_items::project_id)
        .select((cache_items::project_id, diesel::dsl::count_star()))
        .into_boxed()
        .filter(cache_items::project_id.eq_any(project_ids.to_vec()))
        .filter(crate::db::scope::live_row())
        .filter(rules.filter())
        .load(conn)
}
