//! The migrations, embedded for the tests that run or revert them one at a time, and a
//! connection of the test database outside the pool (which would migrate it).

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use sodarcache::db::DbConn;

use super::{Backend, TestDb};

/// SQLite's migrations.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// PostgreSQL's migrations.
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A raw connection to the test database, as the server opens it (foreign keys on).
pub fn raw(db: &TestDb) -> DbConn {
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let mut c = diesel::SqliteConnection::establish(path).unwrap();
            c.batch_execute("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")
                .unwrap();
            DbConn::Sqlite(c)
        }
        Backend::Postgres => DbConn::Pg(diesel::PgConnection::establish(&db.url).unwrap()),
    }
}
