//! Large item bodies kept in memory, so a retrieve of an unchanged large item sends no
//! data across the database connection.
//!
//! An entry is an item's stored JSON text (a [`Bytes`], shared with the responses that
//! send it) under the item's path (project, app, name), tagged with the SHA-256 the
//! database stores with the data (`cache_items.data_sha256`). A retrieve that finds an
//! entry sends its digest along in its one statement, which returns the data only when
//! the stored digest differs (`CASE WHEN data_sha256 = $known THEN NULL ELSE data
//! END`): so every request still asks the database, a write by any instance is seen by
//! the very next retrieve, and a hit costs one small row instead of the whole document.
//!
//! Only items of [`MIN_BYTES`] or more are kept (smaller ones cost the database little
//! to send), none larger than a quarter of the capacity, and the entries together stay
//! within the capacity (`SODARCACHE_BODY_CACHE_BYTES`, default
//! [`DEFAULT_CAPACITY`]; 0 turns the cache off): the least recently used go first.
//! Entries of deleted or rewritten items are never served (their digest no longer
//! matches) and age out.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::web::Bytes;

/// Items smaller than this are never kept.
pub const MIN_BYTES: usize = 64 * 1024;

/// Default capacity: 32 MiB.
pub const DEFAULT_CAPACITY: usize = 32 * 1024 * 1024;

/// What a retrieve may send instead of asking for the data.
#[derive(Debug, Clone)]
pub struct Known {
    /// The data's SHA-256 (lowercase hex), as stored with it.
    pub sha256: String,
    /// The data.
    pub body: Bytes,
}

struct Entry {
    project: String,
    app_name: String,
    name: String,
    known: Known,
    last_used: u64,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<u64, Entry>,
    bytes: usize,
    clock: u64,
}

/// The cache of one server process.
pub struct BodyCache {
    capacity: usize,
    entries: Mutex<Entries>,
    /// Entries held (read without the lock: an empty cache costs a retrieve nothing).
    len: AtomicUsize,
}

fn key(project: &str, app_name: &str, name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (project, app_name, name).hash(&mut h);
    h.finish()
}

impl BodyCache {
    /// A cache holding at most `capacity` bytes of bodies (0: none).
    pub fn new(capacity: usize) -> Self {
        BodyCache {
            capacity,
            entries: Mutex::new(Entries::default()),
            len: AtomicUsize::new(0),
        }
    }

    /// Whether an item of `size` bytes would be kept.
    pub fn keeps(&self, size: usize) -> bool {
        size >= MIN_BYTES && size <= self.capacity / 4
    }

    /// The body kept for this item path, if any.
    pub fn get(&self, project: &str, app_name: &str, name: &str) -> Option<Known> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut entries = self.entries.lock().ok()?;
        entries.clock += 1;
        let clock = entries.clock;
        let entry = entries.by_key.get_mut(&key(project, app_name, name))?;
        if entry.project != project || entry.app_name != app_name || entry.name != name {
            return None;
        }
        entry.last_used = clock;
        Some(entry.known.clone())
    }

    /// Keeps `body` (whose stored SHA-256 is `sha256`) for this item path, when its size
    /// is one the cache keeps; replaces what was kept there, and drops the least
    /// recently used entries beyond the capacity.
    pub fn put(&self, project: &str, app_name: &str, name: &str, sha256: &str, body: &Bytes) {
        if !self.keeps(body.len()) {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.clock += 1;
        let entry = Entry {
            project: project.to_owned(),
            app_name: app_name.to_owned(),
            name: name.to_owned(),
            known: Known {
                sha256: sha256.to_owned(),
                body: body.clone(),
            },
            last_used: entries.clock,
        };
        let k = key(project, app_name, name);
        if let Some(old) = entries.by_key.insert(k, entry) {
            entries.bytes -= old.known.body.len();
        }
        entries.bytes += body.len();
        while entries.bytes > self.capacity {
            let Some(oldest) = entries
                .by_key
                .iter()
                .filter(|(key, _)| **key != k)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(key, _)| *key)
            else {
                break;
            };
            if let Some(old) = entries.by_key.remove(&oldest) {
                entries.bytes -= old.known.body.len();
            }
        }
        self.len.store(entries.by_key.len(), Ordering::Relaxed);
    }

    /// Bytes of bodies held.
    pub fn bytes(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; n])
    }

    #[test]
    fn keeps_only_large_bodies_within_a_quarter_of_the_capacity() {
        let cache = BodyCache::new(4 * 1024 * 1024);
        assert!(!cache.keeps(MIN_BYTES - 1));
        assert!(cache.keeps(MIN_BYTES));
        assert!(cache.keeps(1024 * 1024));
        assert!(!cache.keeps(1024 * 1024 + 1));
        cache.put("p", "a", "small", "s", &body(1000, b'x'));
        assert!(cache.get("p", "a", "small").is_none());
        assert_eq!(cache.bytes(), 0);
        assert!(!BodyCache::new(0).keeps(MIN_BYTES));
    }

    #[test]
    fn a_kept_body_comes_back_under_its_path_only() {
        let cache = BodyCache::new(4 * 1024 * 1024);
        let b = body(MIN_BYTES, b'x');
        cache.put("p", "a", "n", "d1", &b);
        let got = cache.get("p", "a", "n").expect("kept");
        assert_eq!(got.sha256, "d1");
        assert_eq!(got.body, b);
        assert!(cache.get("p", "a", "m").is_none());
        assert!(cache.get("q", "a", "n").is_none());
        // A new write's body replaces the old one.
        cache.put("p", "a", "n", "d2", &body(MIN_BYTES, b'y'));
        assert_eq!(cache.get("p", "a", "n").expect("kept").sha256, "d2");
        assert_eq!(cache.bytes(), MIN_BYTES);
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_capacity_holds() {
        let cache = BodyCache::new(4 * MIN_BYTES * 4);
        for name in ["a", "b", "c", "d"] {
            cache.put("p", "app", name, name, &body(4 * MIN_BYTES, b'x'));
        }
        assert_eq!(cache.bytes(), 16 * MIN_BYTES);
        // "a" used again: "b" is now the least recently used.
        assert!(cache.get("p", "app", "a").is_some());
        cache.put("p", "app", "e", "e", &body(4 * MIN_BYTES, b'x'));
        assert!(cache.get("p", "app", "b").is_none());
        for name in ["a", "c", "d", "e"] {
            assert!(cache.get("p", "app", name).is_some(), "{name}");
        }
        assert!(cache.bytes() <= 16 * MIN_BYTES);
    }
}
