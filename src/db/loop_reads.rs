//! Small SQLite reads right on the event loop, without the hop to a blocking thread.
//!
//! A read of one row by its index (the token gate of a REST call and its item) costs
//! SQLite a few microseconds; handing it to a blocking thread and back costs more than
//! that in wake-ups and context switches. So on SQLite such a read runs on the calling
//! (event-loop) thread, on a connection of its own that never waits:
//! `busy_timeout = 0` (a lock that is held is an immediate `SQLITE_BUSY`, not a wait),
//! `query_only` (it cannot write). When the read fails for any reason, the caller gets
//! `None` and runs the same read the ordinary way (`db::blocking`, with the pool's
//! connections and every wait bounded), which gives the real answer or the real error.
//!
//! Under WAL, readers never wait for writers, so the fallback is rare (a checkpoint
//! resetting the log, another process recovering it). Such connections exist only as
//! many as threads ever read at once (one per event-loop thread), each opened on first
//! use. PostgreSQL reads are network round trips and never run here.
//!
//! [`LoopReaders::read_remembered`] also remembers answers per connection until the
//! database changes: each call first asks SQLite's `PRAGMA data_version`, which moves
//! whenever any other connection (of this process or another) committed to the file
//! since the connection last looked. While it stands still, nothing in the database
//! changed, so the answer read under the same key before is still the answer; when it
//! moves, the connection forgets everything it remembered. Exact, not time-bounded: a
//! revoked token or a changed role is a commit, seen by the very next request. (These
//! connections are `query_only`: they never commit themselves.)

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryResult, RunQueryDsl, SqliteConnection};

use super::{DatabaseUrl, DbConn};

/// What one connection remembers at most (keys and answers, estimated); beyond it,
/// it forgets everything and starts again.
pub const REMEMBERED_BYTES: usize = 2 * 1024 * 1024;

/// An answer larger than this is never remembered.
pub const REMEMBERED_ANSWER_BYTES: usize = 64 * 1024;

/// Estimated bookkeeping per remembered answer, on top of its key and its own bytes.
const ENTRY_OVERHEAD: usize = 1024;

/// Event-loop read connections to one SQLite file.
pub struct LoopReaders {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
}

/// A reader connection and what it remembers.
struct Reader {
    conn: DbConn,
    /// `PRAGMA data_version` when `remembered` was last valid.
    version: Option<i64>,
    remembered: HashMap<String, Box<dyn Any + Send>>,
    bytes: usize,
}

#[derive(diesel::QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    data_version: i64,
}

/// `PRAGMA data_version` as a statement Diesel keeps prepared: it runs before every
/// remembered answer, and `sql_query` is never cached, so preparing it again was about
/// 6,000 of a remembered retrieve's 95,000 instructions (callgrind). A pragma's
/// statement reads the value when it runs, so the prepared one answers afresh each time.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct DataVersionQuery;

impl diesel::query_builder::Query for DataVersionQuery {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for DataVersionQuery {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql("PRAGMA data_version");
        Ok(())
    }
}

impl RunQueryDsl<SqliteConnection> for DataVersionQuery {}

impl Reader {
    /// Forgets what was remembered if another connection committed since.
    fn check_version(&mut self) -> QueryResult<()> {
        let DbConn::Sqlite(c) = &mut self.conn else {
            return Err(diesel::result::Error::NotFound);
        };
        let now = DataVersionQuery.get_result::<DataVersion>(c)?.data_version;
        if self.version != Some(now) {
            self.remembered.clear();
            self.bytes = 0;
            self.version = Some(now);
        }
        Ok(())
    }

    fn remember<T: Send + 'static>(&mut self, key: String, value: T, bytes: usize) {
        if bytes > REMEMBERED_ANSWER_BYTES {
            return;
        }
        let cost = key.len() + bytes + ENTRY_OVERHEAD;
        if self.bytes + cost > REMEMBERED_BYTES {
            self.remembered.clear();
            self.bytes = 0;
        }
        self.bytes += cost;
        self.remembered.insert(key, Box::new(value));
    }
}

impl LoopReaders {
    /// Readers for `url`, or `None` when it does not name a SQLite file.
    pub fn for_url(url: &str) -> Option<LoopReaders> {
        match DatabaseUrl::parse(url).ok()? {
            DatabaseUrl::Sqlite(path) => Some(LoopReaders {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// Runs the read `f` on an idle reader (opening one if none is idle); `None` when
    /// no reader could be opened or `f` failed (the caller then reads the ordinary way).
    pub fn read<T>(&self, f: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> Option<T> {
        let mut reader = self.take()?;
        match f(&mut reader.conn) {
            Ok(value) => {
                self.give_back(reader);
                Some(value)
            }
            Err(e) => {
                // Dropped rather than kept: the next read opens a fresh one.
                tracing::debug!("event-loop read failed, reading on a blocking thread: {e}");
                None
            }
        }
    }

    /// [`read`](Self::read), remembering the answer under `key` until the database
    /// changes (see the module's documentation): a call with the same key before any
    /// commit gets a clone of it without running `f`. `bytes` estimates an answer's
    /// size; one over [`REMEMBERED_ANSWER_BYTES`] is not remembered.
    pub fn read_remembered<T: Clone + Send + 'static>(
        &self,
        key: String,
        bytes: impl FnOnce(&T) -> usize,
        f: impl FnOnce(&mut DbConn) -> QueryResult<T>,
    ) -> Option<T> {
        let mut reader = self.take()?;
        if let Err(e) = reader.check_version() {
            tracing::debug!("event-loop reader's data version unknown: {e}");
            return None;
        }
        if let Some(value) = reader
            .remembered
            .get(&key)
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
        {
            self.give_back(reader);
            return Some(value);
        }
        match f(&mut reader.conn) {
            Ok(value) => {
                let size = bytes(&value);
                reader.remember(key, value.clone(), size);
                self.give_back(reader);
                Some(value)
            }
            Err(e) => {
                tracing::debug!("event-loop read failed, reading on a blocking thread: {e}");
                None
            }
        }
    }

    /// An idle reader, or a new one.
    fn take(&self) -> Option<Reader> {
        let idle = self.idle.lock().ok()?.pop();
        match idle {
            Some(reader) => Some(reader),
            None => match self.open() {
                Ok(conn) => Some(Reader {
                    conn,
                    version: None,
                    remembered: HashMap::new(),
                    bytes: 0,
                }),
                Err(e) => {
                    tracing::debug!("event-loop reader not opened: {e}");
                    None
                }
            },
        }
    }

    fn give_back(&self, reader: Reader) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reader);
        }
    }

    fn open(&self) -> Result<DbConn, String> {
        // An existing file only: creating and migrating it is the pool's job.
        if !self.path.is_file() {
            return Err(format!("{} is not a file", self.path.display()));
        }
        let mut conn =
            SqliteConnection::establish(&self.path.to_string_lossy()).map_err(|e| e.to_string())?;
        conn.batch_execute(
            "PRAGMA busy_timeout = 0; PRAGMA query_only = ON; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| e.to_string())?;
        Ok(DbConn::Sqlite(conn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rollback-journal file (where a writer's lock does block readers) with a table.
    fn database() -> (tempfile::TempDir, String, SqliteConnection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.sqlite3").display().to_string();
        let mut conn = SqliteConnection::establish(&path).expect("open");
        conn.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .expect("create");
        (dir, path, conn)
    }

    #[test]
    fn a_locked_database_is_a_none_at_once_and_readable_after() {
        let (_dir, path, mut locker) = database();
        let readers = LoopReaders::for_url(&format!("sqlite://{path}")).expect("sqlite");
        assert_eq!(
            readers.read(|c| c.batch_execute("SELECT x FROM t")),
            Some(())
        );
        locker
            .batch_execute("BEGIN EXCLUSIVE; UPDATE t SET x = 2;")
            .expect("lock");
        let started = std::time::Instant::now();
        assert_eq!(readers.read(|c| c.batch_execute("SELECT x FROM t")), None);
        // No busy wait: the pool's connections would wait 10 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        locker.batch_execute("COMMIT").expect("commit");
        assert_eq!(
            readers.read(|c| c.batch_execute("SELECT x FROM t")),
            Some(())
        );
    }

    #[test]
    fn readers_cannot_write_and_a_failed_read_is_none() {
        let (_dir, path, _conn) = database();
        let readers = LoopReaders::for_url(&format!("sqlite://{path}")).expect("sqlite");
        assert_eq!(
            readers.read(|c| c.batch_execute("UPDATE t SET x = 3")),
            None
        );
        assert_eq!(
            readers.read(|c| c.batch_execute("SELECT nothing FROM t")),
            None
        );
        assert_eq!(
            readers.read(|c| c.batch_execute("SELECT x FROM t")),
            Some(())
        );
    }

    #[test]
    fn a_remembered_answer_lasts_until_another_connection_commits() {
        let (_dir, path, mut writer) = database();
        writer
            .batch_execute("PRAGMA journal_mode = WAL")
            .expect("wal");
        let readers = LoopReaders::for_url(&format!("sqlite://{path}")).expect("sqlite");
        let runs = std::cell::Cell::new(0);
        let read = |readers: &LoopReaders| {
            readers.read_remembered(
                "x".to_owned(),
                |_| 8,
                |c| {
                    runs.set(runs.get() + 1);
                    let DbConn::Sqlite(c) = c else { unreachable!() };
                    diesel::sql_query("SELECT x AS data_version FROM t")
                        .get_result::<DataVersion>(c)
                        .map(|v| v.data_version)
                },
            )
        };
        assert_eq!(read(&readers), Some(1));
        assert_eq!(read(&readers), Some(1));
        assert_eq!(runs.get(), 1, "the second answer was remembered");
        writer.batch_execute("UPDATE t SET x = 2").expect("commit");
        assert_eq!(
            read(&readers),
            Some(2),
            "a commit elsewhere is seen at once"
        );
        assert_eq!(runs.get(), 2);
        // A commit that changes nothing this key read still forgets it.
        writer
            .batch_execute("CREATE TABLE u (y INTEGER)")
            .expect("commit");
        assert_eq!(read(&readers), Some(2));
        assert_eq!(runs.get(), 3);
        assert_eq!(read(&readers), Some(2));
        assert_eq!(runs.get(), 3);
    }

    #[test]
    fn what_one_connection_remembers_stays_bounded() {
        let (_dir, path, _conn) = database();
        let readers = LoopReaders::for_url(&format!("sqlite://{path}")).expect("sqlite");
        for i in 0..200 {
            let v = readers.read_remembered(format!("k{i}"), |_| 32 * 1024, |_| Ok(i));
            assert_eq!(v, Some(i));
        }
        let reader = readers.take().expect("reader");
        assert!(reader.bytes <= REMEMBERED_BYTES, "{}", reader.bytes);
        assert!(reader.remembered.len() < 200);
        // Too large to remember at all.
        readers.give_back(reader);
        readers.read_remembered("big".into(), |_| REMEMBERED_ANSWER_BYTES + 1, |_| Ok(0));
        let reader = readers.take().expect("reader");
        assert!(!reader.remembered.contains_key("big"));
    }

    #[test]
    fn only_sqlite_files_have_readers() {
        assert!(LoopReaders::for_url("postgres://u@h/db").is_none());
        let missing = LoopReaders::for_url("sqlite:///nonexistent/dir/x.sqlite3").expect("sqlite");
        assert_eq!(missing.read(|c| c.batch_execute("SELECT 1")), None);
    }
}
