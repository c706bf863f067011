//! SQLite connections that leave the write-ahead log's checkpoint to a later writer, for
//! short command runs ([`PoolOptions::defer_checkpoints`](super::PoolOptions)).
//!
//! A checkpoint copies the log's pages into the database file and waits for two
//! `fsync`s: about as long as a `deletecache` of 10,000 items takes in all, and longer
//! when the disk is busy. SQLite runs one in the commit that takes the log past
//! `wal_autocheckpoint` pages and one when the process's last connection closes. A
//! command's connections raise the first bound to [`WAL_BOUND_PAGES`] and skip the
//! second, so the command ends when its transaction has committed; the server's next
//! write (its connections keep SQLite's default bound of 1,000 pages) or a later command
//! that takes the log past the bound checkpoints those pages. The log therefore never
//! grows past the bound plus one transaction.
//!
//! Durability is unchanged: with `synchronous = NORMAL` in WAL mode no commit waits for
//! the disk (a power loss can take back the writes since the last checkpoint, a crash
//! of the process cannot), and the log left behind is what any reader reads.
//!
//! Skipping the checkpoint at close is a per-connection setting only SQLite's C API
//! sets (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`), and Diesel does not hand out the raw
//! handle: an auto-extension (run by SQLite for every connection it opens) applies it
//! to the connections [`establish`] opens on the calling thread, and to no other.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_char, c_int};
use std::sync::Once;

use diesel::{Connection, ConnectionResult, SqliteConnection};
use libsqlite3_sys as ffi;

/// The log's bound, in pages (4 KiB each: 64 MiB), above which a command's commit
/// checkpoints after all.
pub const WAL_BOUND_PAGES: u32 = 16_384;

thread_local! {
    /// Set by [`establish`] while it opens a connection on this thread.
    static OPENING_DEFERRED: Cell<bool> = const { Cell::new(false) };
}

/// Registered once per process; SQLite calls it at the end of every `sqlite3_open*`.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    if OPENING_DEFERRED.with(Cell::get) {
        // SAFETY: `db` is the connection SQLite is opening, valid for this call; the
        // option takes an int (1: on) and an optional int pointer for the old value.
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            );
        }
    }
    ffi::SQLITE_OK
}

/// Clears the flag however `establish` returns.
struct Opening;

impl Drop for Opening {
    fn drop(&mut self) {
        OPENING_DEFERRED.with(|f| f.set(false));
    }
}

/// Opens `path` as a connection that does not checkpoint when it closes; the caller
/// sets `wal_autocheckpoint` to [`WAL_BOUND_PAGES`] with its other `PRAGMA`s.
pub fn establish(path: &str) -> ConnectionResult<SqliteConnection> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `on_open` has the entry point's signature and lives for the process.
        unsafe {
            ffi::sqlite3_auto_extension(Some(on_open));
        }
    });
    OPENING_DEFERRED.with(|f| f.set(true));
    let _clear = Opening;
    SqliteConnection::establish(path)
}
