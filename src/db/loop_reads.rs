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

use std::path::PathBuf;
use std::sync::Mutex;

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryResult, SqliteConnection};

use super::{DatabaseUrl, DbConn};

/// Event-loop read connections to one SQLite file.
pub struct LoopReaders {
    path: PathBuf,
    idle: Mutex<Vec<DbConn>>,
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
        let idle = self.idle.lock().ok()?.pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => match self.open() {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!("event-loop reader not opened: {e}");
                    return None;
                }
            },
        };
        match f(&mut conn) {
            Ok(value) => {
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(conn);
                }
                Some(value)
            }
            Err(e) => {
                // Dropped rather than kept: the next read opens a fresh one.
                tracing::debug!("event-loop read failed, reading on a blocking thread: {e}");
                None
            }
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
    fn only_sqlite_files_have_readers() {
        assert!(LoopReaders::for_url("postgres://u@h/db").is_none());
        let missing = LoopReaders::for_url("sqlite:///nonexistent/dir/x.sqlite3").expect("sqlite");
        assert_eq!(missing.read(|c| c.batch_execute("SELECT 1")), None);
    }
}
