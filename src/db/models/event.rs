//! The activity log: who did what to the cache, from where, and whether it worked.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::events;
use crate::db::{DbConn, DbUuid, Scope, now};

/// One logged action.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    /// Row id.
    pub id: i64,
    /// Public identifier.
    pub uuid: DbUuid,
    /// The project, or none for site-wide actions.
    pub project_id: Option<i64>,
    /// Who did it.
    pub user_id: Option<i64>,
    /// What: `cache_sync`, `cache_delete`, `cache_set`, ...
    pub event_name: String,
    /// Where it was done.
    pub origin: super::Origin,
    /// A sentence for people.
    pub description: String,
    /// Whether it worked.
    pub ok: bool,
    /// When (UTC).
    pub created: NaiveDateTime,
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The project, or none.
    pub project_id: Option<i64>,
    /// Who did it.
    pub user_id: Option<i64>,
    /// What.
    pub event_name: &'a str,
    /// From where.
    pub origin: super::Origin,
    /// A sentence for people.
    pub description: String,
    /// Whether it worked.
    pub ok: bool,
}

impl Event {
    /// Appends an event.
    pub fn record(conn: &mut DbConn, event: &NewEvent<'_>) -> QueryResult<()> {
        diesel::insert_into(events::table)
            .values((
                events::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                events::project_id.eq(event.project_id),
                events::user_id.eq(event.user_id),
                events::event_name.eq(event.event_name),
                events::origin.eq(event.origin),
                events::description.eq(&event.description),
                events::ok.eq(event.ok),
                events::created.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Newest events first; `scope` limits to one project's events or the site's.
    pub fn list(conn: &mut DbConn, scope: Option<Scope>, limit: i64) -> QueryResult<Vec<Event>> {
        let mut q = events::table
            .order(events::id.desc())
            .select(Event::as_select())
            .into_boxed();
        match scope {
            Some(Scope::Project(p)) => q = q.filter(events::project_id.eq(p)),
            Some(Scope::Site) => q = q.filter(events::project_id.is_null()),
            None => {}
        }
        q.limit(limit).load(conn)
    }
}
