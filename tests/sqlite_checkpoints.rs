//! SQLite: a command (`sodarcache deletecache`, any command but `serve`) ends when its
//! transaction has committed and leaves the write-ahead log's checkpoint to the next
//! writer, and its log stays bounded (`PoolOptions::defer_checkpoints`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sodarcache::db::{self, DbConn, PoolOptions};

/// The database file of a SQLite test database, and its `-wal` file.
fn files(db: &common::TestDb) -> (PathBuf, PathBuf) {
    let main = PathBuf::from(db.url.strip_prefix("sqlite://").expect("a SQLite URL"));
    let wal = PathBuf::from(format!("{}-wal", main.display()));
    (main, wal)
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn item_count(conn: &mut DbConn) -> i64 {
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM cache_items WHERE {}",
        common::rows::LIVE
    ))
    .get_result::<Count>(conn)
    .expect("count")
    .n
}

/// Runs the binary on `db` and returns its standard output.
fn sodarcache(db: &common::TestDb, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sodarcache"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "error")
        .env_remove("SODARCACHE_ENABLED_BACKEND_PLUGINS")
        .output()
        .expect("run sodarcache");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One connection of the server's kind, outside any pool: it closes (and, as the
/// last one, checkpoints) when it is dropped, not whenever a pool's threads let go.
fn server_conn(db: &common::TestDb) -> DbConn {
    db::Manager::new(
        db::DatabaseUrl::parse(&db.url).unwrap(),
        &PoolOptions::default(),
    )
    .connect_once()
    .unwrap()
}

#[test]
fn deletecache_leaves_its_log_for_the_server_to_checkpoint() {
    let db = common::TestDb::sqlite();
    let (main, wal) = files(&db);
    // Filled by other processes (commands, which leave their log), then checkpointed
    // whole by a server connection, the last one, which removes the log as it closes.
    let project = sodarcache(&db, &["project", "add", "T"]).trim().to_owned();
    sodarcache(&db, &["synccache", "-p", &project]);
    {
        let mut conn = server_conn(&db);
        assert!(item_count(&mut conn) > 0, "the sync wrote items");
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }
    assert_eq!(len(&wal), 0, "no log left by a server connection's close");
    let before = std::fs::read(&main).unwrap();

    sodarcache(&db, &["deletecache", "-p", &project]);

    // The command's pages are in the log, not yet in the database file.
    assert!(
        len(&wal) > 32,
        "the command left its log frames: {} bytes",
        len(&wal)
    );
    assert_eq!(
        std::fs::read(&main).unwrap(),
        before,
        "the database file is untouched"
    );

    // Every reader sees the delete; a server connection (SQLite's default bound of
    // 1,000 pages, a checkpoint at the last close) checkpoints it into the file.
    {
        let mut conn = server_conn(&db);
        assert_eq!(item_count(&mut conn), 0);
    }
    assert_eq!(len(&wal), 0, "checkpointed and removed at the last close");
    assert_ne!(
        std::fs::read(&main).unwrap(),
        before,
        "the delete reached the file"
    );
    let mut conn = server_conn(&db);
    assert_eq!(item_count(&mut conn), 0);
    let check: Vec<String> = diesel::sql_query("PRAGMA integrity_check")
        .load::<IntegrityRow>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.integrity_check)
        .collect();
    assert_eq!(check, ["ok"]);
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

#[test]
fn a_commands_log_stays_within_its_bound() {
    const PAGE_FRAME: u64 = 4096 + 24;
    let db = common::TestDb::sqlite();
    let (_, wal) = files(&db);
    let pool = db::open(
        &db.url,
        &PoolOptions {
            defer_checkpoints: true,
            ..PoolOptions::default()
        },
    )
    .unwrap();
    let mut conn = pool.get().unwrap();
    conn.batch_execute("CREATE TABLE scratch (b BLOB)").unwrap();
    // 96 transactions of 1 MiB each: 96 MiB of pages through the log, well past its
    // 64 MiB bound.
    let mut largest = 0;
    for _ in 0..96 {
        conn.batch_execute("INSERT INTO scratch (b) VALUES (randomblob(1048576))")
            .unwrap();
        largest = largest.max(len(&wal));
    }
    let bound = 16_384 * PAGE_FRAME;
    // One transaction of 1 MiB is about 260 pages.
    assert!(
        largest <= bound + 400 * PAGE_FRAME,
        "log grew to {largest} bytes, bound {bound}"
    );
    assert!(
        largest > 8_000 * PAGE_FRAME,
        "the log grew past SQLite's default bound of 1,000 pages: {largest} bytes"
    );
}
