//! Database access: one connection type over SQLite and PostgreSQL, the pool, migrations.
//!
//! Queries are written once against [`DbConn`]. The few statements `MultiBackend` cannot
//! express (upserts, `FOR UPDATE SKIP LOCKED`) go through [`on_backend!`](crate::on_backend), which runs the
//! same Diesel DSL on the inner connection of either backend.
//!
//! SQLite write transactions must begin with a write statement: a deferred transaction
//! that has read first can fail with `SQLITE_BUSY` without waiting when it upgrades.

pub mod blocking;
pub mod loop_reads;
pub mod models;
pub mod pg_tls;
pub mod schema;
pub(crate) mod scope;
pub mod search;
mod sqlite_checkpoints;
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

/// Declares a unit-struct SQL expression of a fixed text: what `diesel::dsl::sql` does,
/// but with a static query id, so the whole statement stays a cached prepared statement
/// (`sql()` marks a statement uncacheable: parsed and planned again on every call). For
/// the correlated subqueries the DSL cannot express.
macro_rules! sql_fragment {
    ($(#[$meta:meta])* $vis:vis $name:ident: $st:ty = $text:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        $vis struct $name;

        impl diesel::Expression for $name {
            type SqlType = $st;
        }

        impl<QS> diesel::AppearsOnTable<QS> for $name {}

        impl<QS> diesel::SelectableExpression<QS> for $name {}

        impl<GB> diesel::expression::ValidGrouping<GB> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }

        impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($text);
                Ok(())
            }
        }
    };
}
pub(crate) use sql_fragment;

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
    retired: bool,
}

impl TrackedConn {
    /// Closes the connection when it goes back, instead of pooling it. For PostgreSQL
    /// connections that sent a large value: libpq keeps its send buffer at the largest
    /// size it ever needed, for the life of the connection, so a pool of connections that
    /// each once wrote a 30 MiB item would hold 30 MiB each.
    pub fn retire_after_large_write(&mut self, bytes: usize) {
        if bytes >= RETIRE_AFTER_BYTES && matches!(self.conn, DbConn::Pg(_)) {
            self.retired = true;
        }
    }
}

/// PostgreSQL connections that wrote a value this large are closed after use
/// ([`TrackedConn::retire_after_large_write`]).
pub const RETIRE_AFTER_BYTES: usize = 4 * 1024 * 1024;

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

/// `SELECT 1`, as a statement Diesel keeps prepared on SQLite.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct SelectOne;

impl diesel::query_builder::Query for SelectOne {
    type SqlType = diesel::sql_types::Integer;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SelectOne {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("SELECT 1");
        Ok(())
    }
}

impl diesel::RunQueryDsl<SqliteConnection> for SelectOne {}

/// Whether the database answers a trivial query (`/healthz`). On SQLite the statement
/// stays prepared: `batch_execute` parsed it on every call, about a fifth of a
/// `/healthz` request's instructions (callgrind). On PostgreSQL it is one simple-protocol
/// round trip, as before.
pub fn ping(conn: &mut DbConn) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => {
            use diesel::RunQueryDsl;
            SelectOne.get_result::<i32>(c).map(|_| ())
        }
        DbConn::Pg(c) => c.batch_execute("SELECT 1"),
    }
}

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
    /// The URL's scheme is neither sqlite nor postgres (shown without its password).
    #[error(
        "unsupported database URL \"{}\": use sqlite://PATH or postgres://USER@HOST/DB",
        redact(.0, .0)
    )]
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
///
/// PostgreSQL connections get libpq's own bounds on every wait unless the URL sets them
/// already: `connect_timeout`, TCP keepalives and `tcp_user_timeout` (a dead or
/// black-holed network is noticed instead of waited on forever) and, for the server's
/// pool, a `statement_timeout` (see [`PoolOptions`]). A server on this machine is
/// reached without TLS unless the URL asks for it ([`pg_tls`]).
#[derive(Clone)]
pub struct Manager {
    url: DatabaseUrl,
    /// The PostgreSQL URL with the timeout parameters added.
    pg_url: Option<String>,
    /// The connection [`open`] migrated with, handed out as the pool's first one: a
    /// short CLI run then connects once (a PostgreSQL connection costs a server
    /// process and a round trip or more of setup).
    spare: std::sync::Arc<std::sync::Mutex<Option<DbConn>>>,
    /// SQLite: leave checkpoints to a later writer ([`PoolOptions::defer_checkpoints`]).
    defer_checkpoints: bool,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("url", &self.url)
            .field("pg_url", &self.pg_url)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for `url` with the bounds of `options`.
    pub fn new(url: DatabaseUrl, options: &PoolOptions) -> Self {
        let pg_url = match &url {
            DatabaseUrl::Postgres(u) => Some(pg_tls::without_tls_on_loopback(&with_pg_timeouts(
                u, options,
            ))),
            DatabaseUrl::Sqlite(_) => None,
        };
        Manager {
            url,
            pg_url,
            spare: Default::default(),
            defer_checkpoints: options.defer_checkpoints,
        }
    }

    /// One connection outside any pool, with the real error as one line (any password
    /// in it redacted).
    pub fn connect_once(&self) -> Result<DbConn, OpenError> {
        self.establish().map_err(|e| {
            let place = match &self.url {
                DatabaseUrl::Sqlite(p) => format!("SQLite file {}: ", p.display()),
                DatabaseUrl::Postgres(_) => String::new(),
            };
            OpenError::Connect(format!("{place}{}", one_line(&self.redact(&e.to_string()))))
        })
    }

    /// `message` without the database password.
    fn redact(&self, message: &str) -> String {
        match &self.url {
            DatabaseUrl::Postgres(url) => redact(message, url),
            DatabaseUrl::Sqlite(_) => message.to_owned(),
        }
    }

    fn establish(&self) -> Result<DbConn, diesel::ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(self.pg_url.as_deref().unwrap_or(url)).map(DbConn::Pg)
            }
            DatabaseUrl::Sqlite(path) => {
                if path.is_dir() {
                    return Err(diesel::ConnectionError::BadConnection(format!(
                        "{} is a directory",
                        path.display()
                    )));
                }
                let path = path.to_string_lossy();
                let (mut conn, autocheckpoint) = if self.defer_checkpoints {
                    let conn = sqlite_checkpoints::establish(&path)?;
                    (conn, sqlite_checkpoints::WAL_BOUND_PAGES)
                } else {
                    (SqliteConnection::establish(&path)?, 1000)
                };
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA wal_autocheckpoint = {autocheckpoint};"
                ))
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
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
        spare
            .map_or_else(|| self.establish(), Ok)
            .map(|conn| TrackedConn {
                conn,
                returned: std::time::Instant::now(),
                retired: false,
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
        conn.retired || diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections at once.
    pub max_size: u32,
    /// How long a checkout waits before the request gets a 503; on PostgreSQL also the
    /// connect timeout and the TCP timeouts (keepalives, `tcp_user_timeout`).
    pub connection_timeout: Duration,
    /// PostgreSQL `statement_timeout` of every pooled connection: the server cancels a
    /// statement (a lock wait included) that runs longer. The server sets it to
    /// `SODARCACHE_DB_TIMEOUT_SECONDS`; commands run without one (a `deletecache` of a
    /// large site may take long). Migrations never have one.
    pub statement_timeout: Option<Duration>,
    /// SQLite: the connections do not checkpoint the write-ahead log when they close,
    /// and only past a bound of 64 MiB when they commit, so a short command ends when
    /// its transaction has committed; the server's next write checkpoints (see the
    /// `sqlite_checkpoints` module). Commands set it, the server does not.
    pub defer_checkpoints: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
            statement_timeout: None,
            defer_checkpoints: false,
        }
    }
}

/// `url` with libpq's timeout parameters added, each unless the URL sets it already:
/// `connect_timeout` (whole seconds, libpq's minimum is 2), keepalives after as many
/// idle seconds with a third as long between probes, `tcp_user_timeout` (unacknowledged
/// data), and `statement_timeout` through `options` (the URL's own `-c` settings come
/// after it, so they win).
fn with_pg_timeouts(url: &str, options: &PoolOptions) -> String {
    let secs = options.connection_timeout.as_secs_f64().ceil().max(1.0) as u64;
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let has = |params: &[String], key: &str| {
        params
            .iter()
            .any(|p| p.split('=').next().is_some_and(|k| k == key))
    };
    let defaults = [
        ("connect_timeout", secs.max(2).to_string()),
        ("keepalives", "1".to_owned()),
        ("keepalives_idle", secs.to_string()),
        ("keepalives_interval", (secs / 3).max(1).to_string()),
        ("keepalives_count", "3".to_owned()),
        ("tcp_user_timeout", (secs * 1000).to_string()),
    ];
    for (key, value) in defaults {
        if !has(&params, key) {
            params.push(format!("{key}={value}"));
        }
    }
    if let Some(limit) = options.statement_timeout {
        let ours = format!("-c%20statement_timeout%3D{}", limit.as_millis().max(1));
        match params.iter_mut().find(|p| p.starts_with("options=")) {
            Some(theirs) => *theirs = format!("options={ours}%20{}", &theirs["options=".len()..]),
            None => params.push(format!("options={ours}")),
        }
    }
    format!("{base}?{}", params.join("&"))
}

/// `message` with every secret of the database URL `url` replaced by `***`: the
/// password of its user info and any `password` or `sslpassword` parameter, as written
/// and percent-decoded. For every message that may quote the URL (a malformed URL is
/// quoted by libpq).
pub fn redact(message: &str, url: &str) -> String {
    let mut secrets: Vec<String> = Vec::new();
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        secrets.push(password.to_owned());
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=')
                && matches!(key, "password" | "sslpassword")
            {
                secrets.push(value.to_owned());
            }
        }
    }
    let decoded: Vec<String> = secrets.iter().map(|s| percent_decode_lossy(s)).collect();
    secrets.extend(decoded);
    secrets.retain(|s| !s.is_empty());
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = message.to_owned();
    for secret in &secrets {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

fn percent_decode_lossy(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Logs pool errors (failed reconnects) without the database password.
#[derive(Debug)]
struct RedactingErrorHandler(Manager);

impl r2d2::HandleError<r2d2::Error> for RedactingErrorHandler {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::warn!(
            "database connection: {}",
            one_line(&self.0.redact(&error.to_string()))
        );
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
    let manager = Manager::new(parsed, options);
    let mut conn = manager.connect_once()?;
    if let DbConn::Pg(c) = &mut conn {
        // A long migration must not be cancelled by the pool's statement timeout.
        c.batch_execute("SET statement_timeout = 0")
            .map_err(|e| OpenError::Migrate(one_line(&manager.redact(&e.to_string()))))?;
    }
    migrate(&mut conn)
        .map_err(|e| OpenError::Migrate(one_line(&manager.redact(&e.to_string()))))?;
    if let DbConn::Pg(c) = &mut conn {
        // Back to the timeout the pool's connections start with (the URL's options).
        c.batch_execute("RESET statement_timeout")
            .map_err(|e| OpenError::Connect(one_line(&manager.redact(&e.to_string()))))?;
    }
    *manager.spare.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
    let pool = r2d2::Pool::builder()
        .max_size(options.max_size)
        // No idle minimum: r2d2 would refill it on a background thread after every
        // checkout, and a process that exits while that thread is inside libpq crashes
        // (SIGSEGV in OpenSSL's exit-time cleanup), so short CLI runs failed at random.
        .min_idle(Some(0))
        .connection_timeout(options.connection_timeout)
        .test_on_check_out(ping_on_checkout)
        .error_handler(Box::new(RedactingErrorHandler(manager.clone())))
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
            if pg_up_to_date(c) {
                search::backfill(conn)?;
                return Ok(0);
            }
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

/// Whether every migration is applied, by one read without the advisory lock (a
/// command's start: four round trips fewer). Only a definite yes counts: a missing
/// table, an error or anything pending takes the locked path, which checks again.
fn pg_up_to_date(c: &mut PgConnection) -> bool {
    use diesel::RunQueryDsl;
    use diesel::migration::MigrationSource;
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let Ok(applied) =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Version>(c)
    else {
        return false;
    };
    let applied: std::collections::HashSet<String> =
        applied.into_iter().map(|v| v.version).collect();
    let Ok(known) = MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS) else {
        return false;
    };
    known
        .iter()
        .all(|m| applied.contains(&m.name().version().to_string()))
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

/// A connection that can run a statement without its table's `CHECK` constraints.
pub trait CheckConstraints {
    /// Runs `f` with `CHECK` constraints off when `off` is set (SQLite), as it is
    /// otherwise. Only for statements whose values the caller validated.
    fn without_checks<T>(
        &mut self,
        off: bool,
        f: impl FnOnce(&mut Self) -> diesel::QueryResult<T>,
    ) -> diesel::QueryResult<T>;
}

impl CheckConstraints for PgConnection {
    /// PostgreSQL's `json` type validates as it parses, without copies: always checked.
    fn without_checks<T>(
        &mut self,
        _off: bool,
        f: impl FnOnce(&mut Self) -> diesel::QueryResult<T>,
    ) -> diesel::QueryResult<T> {
        f(self)
    }
}

impl CheckConstraints for SqliteConnection {
    fn without_checks<T>(
        &mut self,
        off: bool,
        f: impl FnOnce(&mut Self) -> diesel::QueryResult<T>,
    ) -> diesel::QueryResult<T> {
        if !off {
            return f(self);
        }
        // The flag is read when a statement is compiled, and setting it expires the
        // connection's compiled statements, so the statement below is compiled without
        // checks and the next one with them again.
        self.batch_execute("PRAGMA ignore_check_constraints = ON")?;
        let result = f(self);
        let restored = self.batch_execute("PRAGMA ignore_check_constraints = OFF");
        let value = result?;
        restored?;
        Ok(value)
    }
}

/// [`CheckConstraints::without_checks`] as a function, for [`on_backend!`](crate::on_backend).
pub fn without_sqlite_checks<C: CheckConstraints, T>(
    conn: &mut C,
    off: bool,
    f: impl FnOnce(&mut C) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    conn.without_checks(off, f)
}
