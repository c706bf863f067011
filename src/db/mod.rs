//! Database access: one connection type over SQLite and PostgreSQL, the pool, migrations.
//!
//! Queries are written once against [`DbConn`]. The few statements `MultiBackend` cannot
//! express (upserts, `FOR UPDATE SKIP LOCKED`) go through [`on_backend!`](crate::on_backend), which runs the
//! same Diesel DSL on the inner connection of either backend.
//!
//! SQLite write transactions must begin with a write statement: a deferred transaction
//! that has read first can fail with `SQLITE_BUSY` without waiting when it upgrades.

pub mod models;
pub mod schema;
mod scope;
pub mod search;
pub mod types;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use scope::Scope;
pub use types::{DbUuid, JsonText};

/// A connection to either supported backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL.
    Pg(PgConnection),
    /// SQLite (embedded).
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the inner connection of either backend.
///
/// For the few statements `MultiBackend` cannot build, such as `ON CONFLICT` upserts.
#[macro_export]
#[doc(hidden)]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// A pool of [`DbConn`].
pub type DbPool = r2d2::Pool<Manager>;
/// A connection checked out of the pool (derefs to [`DbConn`]).
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// A pooled connection and when it last went back to the pool.
///
/// PostgreSQL connections are not pinged on every checkout (a round trip per request):
/// one that was in use moments ago is taken as it is, and if it died since, its first
/// statement fails, the request gets a 503 and the pool drops it ([`Manager::has_broken`]).
/// Only a connection that sat idle longer than [`PING_AFTER_IDLE`] is pinged first, so
/// the stale connections an outage, a server restart or a firewall's idle timeout leaves
/// behind are replaced before any request sees them.
pub struct TrackedConn {
    conn: DbConn,
    returned: std::time::Instant,
}

/// Idle time after which a PostgreSQL connection is pinged on checkout.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

impl std::ops::Deref for TrackedConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for TrackedConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The current time in UTC, truncated to microseconds (PostgreSQL's precision) so a
/// value reads back exactly as it was written on both backends.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Which backend a database URL names, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://...` or `postgresql://...`, passed to libpq as it is.
    Postgres(String),
    /// `sqlite://PATH`: a file path (relative to the working directory unless absolute).
    Sqlite(PathBuf),
}

/// Errors opening the database, each a one-line message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL's scheme is neither sqlite nor postgres.
    #[error("unsupported database URL \"{0}\": use sqlite://PATH or postgres://USER@HOST/DB")]
    Scheme(String),
    /// The server or file could not be opened.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(String),
}

impl DatabaseUrl {
    /// Parses a `DATABASE_URL`, choosing the backend by scheme.
    pub fn parse(url: &str) -> Result<Self, OpenError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" {
                return Err(OpenError::Scheme(url.to_owned()));
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else {
            Err(OpenError::Scheme(url.to_owned()))
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

/// Establishes [`DbConn`]s for the pool, configuring each SQLite connection.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Manager { url }
    }

    /// One connection outside any pool, with the real error as one line.
    pub fn connect_once(&self) -> Result<DbConn, OpenError> {
        self.establish().map_err(|e| {
            let place = match &self.url {
                DatabaseUrl::Sqlite(p) => format!("SQLite file {}: ", p.display()),
                DatabaseUrl::Postgres(_) => String::new(),
            };
            OpenError::Connect(format!("{place}{}", one_line(&e.to_string())))
        })
    }

    fn establish(&self) -> Result<DbConn, diesel::ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(DbConn::Pg),
            DatabaseUrl::Sqlite(path) => {
                if path.is_dir() {
                    return Err(diesel::ConnectionError::BadConnection(format!(
                        "{} is a directory",
                        path.display()
                    )));
                }
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = TrackedConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<TrackedConn, r2d2::Error> {
        self.establish()
            .map(|conn| TrackedConn {
                conn,
                returned: std::time::Instant::now(),
            })
            .map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut TrackedConn) -> Result<(), r2d2::Error> {
        // Only PostgreSQL pools test on checkout (see `open`), and only idle connections.
        if conn.returned.elapsed() < PING_AFTER_IDLE {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut TrackedConn) -> bool {
        // Called as the connection goes back to the pool. A PostgreSQL connection whose
        // server went away (its statement failed) or that left a transaction open is
        // dropped instead, so the pool heals by itself.
        conn.returned = std::time::Instant::now();
        diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections at once.
    pub max_size: u32,
    /// How long a checkout waits before the request gets a 503.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens the database at `url`, applies pending migrations and returns a pool.
///
/// The first connection is made directly so the operator sees the real error
/// (bad path, refused connection, wrong password) rather than a pool timeout.
pub fn open(url: &str, options: &PoolOptions) -> Result<DbPool, OpenError> {
    let parsed = DatabaseUrl::parse(url)?;
    // A PostgreSQL connection can die with its server; one idle for a while is pinged
    // on checkout (see `TrackedConn`). SQLite files do not go away.
    let ping_on_checkout = parsed.is_postgres();
    let manager = Manager::new(parsed);
    let mut conn = manager.connect_once()?;
    migrate(&mut conn).map_err(|e| OpenError::Migrate(one_line(&e.to_string())))?;
    drop(conn);
    let pool = r2d2::Pool::builder()
        .max_size(options.max_size)
        // No idle minimum: r2d2 would refill it on a background thread after every
        // checkout, and a process that exits while that thread is inside libpq crashes
        // (SIGSEGV in OpenSSL's exit-time cleanup), so short CLI runs failed at random.
        .min_idle(Some(0))
        .connection_timeout(options.connection_timeout)
        .test_on_check_out(ping_on_checkout)
        .error_handler(Box::new(r2d2::LoggingErrorHandler))
        .event_handler(Box::new(crate::metrics::PoolEvents))
        .build_unchecked(manager);
    Ok(pool)
}

/// Applies pending migrations, then fills the search keys of rows that lack them
/// ([`search::backfill`]). On PostgreSQL an advisory lock keeps server instances that
/// start together from migrating twice.
pub fn migrate(conn: &mut DbConn) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    const LOCK: &str = "SELECT pg_advisory_lock(7306447461)";
    const UNLOCK: &str = "SELECT pg_advisory_unlock(7306447461)";
    let applied = match &mut *conn {
        DbConn::Pg(c) => {
            c.batch_execute(LOCK)?;
            let applied = c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len());
            c.batch_execute(UNLOCK)?;
            applied
        }
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    }?;
    search::backfill(conn)?;
    Ok(applied)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes a consistent copy of a SQLite database to the new file `path` (`VACUUM
/// INTO`: one read transaction, so writers in other processes go on meanwhile).
pub fn vacuum_into(conn: &mut DbConn, path: &std::path::Path) -> Result<(), OpenError> {
    use diesel::RunQueryDsl;
    let DbConn::Sqlite(c) = conn else {
        return Err(OpenError::Scheme(
            "VACUUM INTO needs a SQLite database".into(),
        ));
    };
    let target = path
        .to_str()
        .ok_or_else(|| OpenError::Connect(format!("{} is not a UTF-8 path", path.display())))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(target)
        .execute(c)
        .map(drop)
        .map_err(|e| {
            OpenError::Connect(format!(
                "cannot write {}: {}",
                path.display(),
                one_line(&e.to_string())
            ))
        })
}

/// Whether an error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
