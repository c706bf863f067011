//! Site-wide key/value settings kept in the database (e.g. the generated session key).

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::site_settings;

/// One setting.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = site_settings)]
pub struct SiteSetting {
    /// Key.
    pub name: String,
    /// Value.
    pub value: String,
}

impl SiteSetting {
    /// The value of `name`, if set.
    pub fn get(conn: &mut DbConn, name: &str) -> QueryResult<Option<String>> {
        site_settings::table
            .find(name)
            .select(site_settings::value)
            .first(conn)
            .optional()
    }

    /// Stores `value` unless `name` is already set, and returns the value that holds.
    /// Safe when several server instances start at once: the first writer wins.
    pub fn get_or_insert(conn: &mut DbConn, name: &str, value: &str) -> QueryResult<String> {
        crate::on_backend!(conn, |c| {
            diesel::insert_into(site_settings::table)
                .values((site_settings::name.eq(name), site_settings::value.eq(value)))
                .on_conflict_do_nothing()
                .execute(c)
        })?;
        site_settings::table
            .find(name)
            .select(site_settings::value)
            .first(conn)
    }
}
