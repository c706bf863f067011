//! PostgreSQL: what a token's gate read for a project, kept with the auth epoch it was
//! read at, so the next retrieve reads only the epoch and the item.
//!
//! The full statement of [`item_access`](super::item_access) (the token, its user, the
//! project, the best role along the project's ancestors, the access block, the item)
//! also reads `auth_epoch.n`, in the same snapshot. Every committed change to those
//! tables moves the epoch (a deferred trigger of migration 2026-12-03-100001, inside
//! the writing transaction). So the next request by the same token for the same
//! project runs a smaller statement that reads the epoch and the item together: when
//! the epoch is the kept one, nothing the gate read has changed since, and the kept
//! rows decide exactly as the full statement would; when it moved, the full statement
//! runs again (a second round trip, only right after an auth change). A revoked token,
//! a removed role or a new block committed through any instance is seen by the very
//! next request on every instance. A token's expiry is checked on every request.
//!
//! Nothing is kept but the rows as read (no secret: entries are found by the token's
//! lookup prefix and SHA-512 digest); at most [`MAX_GRANTS`] entries, all dropped
//! when that is reached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDateTime;
use diesel::PgConnection;
use diesel::QueryResult;

use super::item_access::{ItemAccess, ItemRequest};
use crate::db::models::{Project, Role, User};

/// Most kept decisions per process.
pub const MAX_GRANTS: usize = 4096;

/// What a token's gate read for one project, at one epoch.
#[derive(Debug, Clone)]
struct Grant {
    epoch: i64,
    user: User,
    expiry: Option<NaiveDateTime>,
    project: Project,
    role: Option<Role>,
    blocked: bool,
}

/// The kept decisions of one process (see the module documentation).
#[derive(Debug, Default)]
pub struct TokenGrants {
    grants: Mutex<HashMap<String, Grant>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How often the kept rows answered (`hits`) and how often the full statement ran
/// (`misses`: nothing kept, or the epoch moved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrantCounts {
    /// Requests the kept rows answered.
    pub hits: u64,
    /// Requests that ran the full statement.
    pub misses: u64,
}

impl TokenGrants {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn counts(&self) -> GrantCounts {
        GrantCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The gate's rows and the item for `req`: through `fast` (the epoch and the item
    /// of the kept project id, one statement) when rows are kept and the epoch is theirs,
    /// otherwise through `full` (the epoch, the gate's rows and the item, one statement),
    /// whose answer is kept.
    pub fn read<I>(
        &self,
        conn: &mut PgConnection,
        req: &ItemRequest<'_>,
        fast: impl FnOnce(&mut PgConnection, i64) -> QueryResult<(i64, Option<I>)>,
        full: impl FnOnce(&mut PgConnection) -> QueryResult<Option<(i64, ItemAccess<I>)>>,
    ) -> QueryResult<Option<ItemAccess<I>>> {
        let key = format!("{}|{}|{}", req.prefix, req.digest, req.project);
        let kept = self.lock().get(&key).cloned();
        if let Some(grant) = kept {
            let (epoch, item) = fast(conn, grant.project.id)?;
            if epoch == grant.epoch {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(ItemAccess {
                    user: grant.user,
                    expiry: grant.expiry,
                    project: Some(grant.project),
                    role: grant.role,
                    blocked: grant.blocked,
                    item,
                }));
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let read = full(conn)?;
        let mut grants = self.lock();
        if let Some((epoch, access)) = &read
            && let Some(project) = &access.project
        {
            if grants.len() >= MAX_GRANTS && !grants.contains_key(&key) {
                grants.clear();
            }
            grants.insert(
                key,
                Grant {
                    epoch: *epoch,
                    user: access.user.clone(),
                    expiry: access.expiry,
                    project: project.clone(),
                    role: access.role,
                    blocked: access.blocked,
                },
            );
        } else {
            grants.remove(&key);
        }
        drop(grants);
        Ok(read.map(|(_, access)| access))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Grant>> {
        self.grants.lock().unwrap_or_else(|e| e.into_inner())
    }
}
