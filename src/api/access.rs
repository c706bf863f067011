//! The gate every endpoint passes, in upstream's order: 401 (credentials) → 404
//! (project, malformed UUID included) → 403 (category) → 403 (access blocked, except
//! superusers) → 403 (role) → 503 (backend). 406 came before, in the
//! [`envelope`](super::envelope) middleware.
//!
//! [`authorize_item`] is the gate of the per-item reads: for a token caller the gate's
//! rows and the item come back in one statement ([`ItemAccess`]), so a retrieve is one
//! round trip to the database; sessions and anonymous callers take the general path.

use std::sync::Arc;

use actix_web::{HttpRequest, web};

use super::ItemPath;
use super::auth::{Caller, Credentials, INVALID_TOKEN, NO_CREDENTIALS};
use crate::auth::item_access::{ItemAccess, ItemPart, ItemRequest};
use crate::auth::session::SessionPolicy;
use crate::auth::{Access, Permissions, token};
use crate::cache::SodarCache;
use crate::db::DbConn;
use crate::db::models::{Project, ProjectBlock};
use crate::plugins::PluginRegistry;
use crate::state::AppState;
use crate::time_zone::SiteTimeZone;
use crate::{Error, Result};

/// 403 text for a category in a project-only view (superusers included).
pub const CATEGORY_NOT_ALLOWED: &str = "Project type \"CATEGORY\" not allowed for this API view";
/// 403 text for a missing role.
pub const NO_PERMISSION: &str = crate::error::PERMISSION_DENIED;
/// 403 text for a project whose access a superuser blocked, as upstream words it.
pub const ACCESS_BLOCKED: &str = ProjectBlock::MESSAGE;
/// 503 text when the `sodar_cache` backend is not enabled.
pub const BACKEND_DISABLED: &str = "Cache backend not enabled";

/// What the endpoint needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Retrieve, date, list.
    Read,
    /// Set.
    Write,
    /// Delete one item.
    Delete,
    /// Sync or cancel (owner, delegate, superuser: the admin's Sync button).
    Manage,
}

impl Need {
    fn granted_by(self, p: Permissions) -> bool {
        match self {
            Need::Read => p.read,
            Need::Write => p.write,
            Need::Delete => p.delete_item,
            Need::Manage => p.manage,
        }
    }
}

/// A request that passed the gate.
pub struct Granted {
    /// The project named in the path (never a category).
    pub project: Project,
    /// Who is asking.
    pub caller: Caller,
    /// The enabled cache backend.
    pub cache: Arc<SodarCache>,
    /// The zone timestamps are rendered in (`SODARCACHE_TIME_ZONE`).
    pub time_zone: SiteTimeZone,
}

/// Runs the gate for the project UUID `project` (as it came in the path).
pub async fn authorize(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    project: &str,
    need: Need,
) -> Result<Granted> {
    authorize_with(req, state, project, need, |_, granted| Ok(granted)).await
}

/// Runs the gate and then `work` with the same connection, in one blocking task: a
/// request costs one thread hop and one pool checkout, however many queries it makes.
pub async fn authorize_with<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    project: &str,
    need: Need,
    work: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn, Granted) -> Result<T> + Send + 'static,
{
    let credentials = Credentials::from_request(req)
        .check_password(req, state)
        .await?;
    let allow_anonymous = state.settings.allow_anonymous;
    let sessions = SessionPolicy::from_settings(&state.settings);
    let registry = state.registry.clone();
    let time_zone = state.settings.time_zone.clone();
    let project = project.to_owned();
    // Every wait bounded (db::blocking), the request's span carried along.
    crate::db::blocking::with_conn(&state.pool, state.settings.db_timeout, move |conn| {
        let granted = gate(
            conn,
            credentials,
            &project,
            need,
            allow_anonymous,
            &sessions,
            (&registry, &time_zone),
        )?;
        work(conn, granted)
    })
    .await
}

/// What a granted request is handed besides its project and caller.
type Backend<'a> = (&'a PluginRegistry, &'a SiteTimeZone);

/// The general gate, one check after the other (sessions, anonymous callers, and
/// endpoints that read no single item).
fn gate(
    conn: &mut DbConn,
    credentials: Credentials,
    project: &str,
    need: Need,
    allow_anonymous: bool,
    sessions: &SessionPolicy,
    backend: Backend<'_>,
) -> Result<Granted> {
    let caller = credentials.resolve(conn, sessions)?;
    if matches!(caller, Caller::Anonymous) && !allow_anonymous {
        return Err(Error::Unauthorized(NO_CREDENTIALS.into()));
    }
    let uuid = uuid::Uuid::parse_str(project).map_err(|_| Error::not_found())?;
    let project = Project::find_by_uuid(conn, uuid)?.ok_or_else(Error::not_found)?;
    let is_superuser = caller.user().is_some_and(|u| u.is_superuser);
    let blocked =
        !is_superuser && !project.is_category() && ProjectBlock::is_blocked(conn, &project)?;
    admit(
        caller,
        project,
        blocked,
        need,
        backend,
        |caller, project| {
            let access = match caller.user() {
                Some(u) => Access::User(u),
                None => Access::Anonymous,
            };
            Permissions::resolve(conn, access, project, allow_anonymous)
        },
    )
}

/// The checks after the project was found, in upstream's order, on what was read.
fn admit(
    caller: Caller,
    project: Project,
    blocked: bool,
    need: Need,
    (registry, time_zone): Backend<'_>,
    permissions: impl FnOnce(&Caller, &Project) -> Result<Permissions>,
) -> Result<Granted> {
    if project.is_category() {
        return Err(Error::Forbidden(CATEGORY_NOT_ALLOWED.into()));
    }
    let is_superuser = caller.user().is_some_and(|u| u.is_superuser);
    if blocked && !is_superuser {
        return Err(Error::Forbidden(ACCESS_BLOCKED.into()));
    }
    if !need.granted_by(permissions(&caller, &project)?) {
        return Err(match caller {
            Caller::Anonymous => Error::Unauthorized(NO_CREDENTIALS.into()),
            Caller::User(_) => Error::Forbidden(NO_PERMISSION.into()),
        });
    }
    let cache = registry
        .cache()
        .ok_or_else(|| Error::Unavailable(BACKEND_DISABLED.into()))?;
    Ok(Granted {
        project,
        caller,
        cache,
        time_zone: time_zone.clone(),
    })
}

/// The gate of a per-item endpoint and the read of `I` (the item, or its write time),
/// in one blocking task; `work` gets the item, if it exists, after the gate.
///
/// A token caller's gate and read are one statement: the token's user, the project,
/// the user's best role along the project's ancestors, the block and the item. On
/// SQLite its answer is remembered until the next commit to the database by anyone
/// ([`LoopReaders::read_remembered`](crate::db::loop_reads::LoopReaders::read_remembered)),
/// so a revoked token, an inactive user, a changed role or a new block still counts
/// from the very next request (a token's expiry is checked on every request).
pub async fn authorize_item<I, T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: ItemPath,
    need: Need,
    work: F,
) -> Result<T>
where
    I: ItemPart,
    T: Send + 'static,
    F: FnOnce(Granted, Option<I>) -> Result<T> + Send + 'static,
{
    authorize_item_knowing(req, state, path, need, String::new(), work).await
}

/// [`authorize_item`] for a caller that keeps the item's data whose SHA-256 is
/// `known_sha256` (empty: none): a token caller's statement then sends the data only
/// when the stored digest differs ([`ItemRequest::known_sha256`]).
pub async fn authorize_item_knowing<I, T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: ItemPath,
    need: Need,
    known_sha256: String,
    work: F,
) -> Result<T>
where
    I: ItemPart,
    T: Send + 'static,
    F: FnOnce(Granted, Option<I>) -> Result<T> + Send + 'static,
{
    let credentials = Credentials::from_request(req)
        .check_password(req, state)
        .await?;
    // On SQLite, a token's statement runs right here (db::loop_reads); only when that
    // read fails does it take the blocking path below, which reads it again.
    if let (Credentials::Token(key), Some(readers)) = (&credentials, &state.loop_reads) {
        let backend = (&state.registry, &state.settings.time_zone);
        let request = TokenRequest::new(key, &path, &known_sha256)?;
        // Remembered until the next commit to the database (db::loop_reads).
        let remembered = readers.read_remembered(
            request.key::<I>(),
            |access: &Option<ItemAccess<I>>| {
                access
                    .as_ref()
                    .and_then(|a| a.item.as_ref())
                    .map_or(0, I::bytes)
            },
            |conn| I::load_with_access(conn, &request.item()),
        );
        if let Some(access) = remembered {
            let (granted, item) = decide(access, need, backend)?;
            return work(granted, item);
        }
    }
    let allow_anonymous = state.settings.allow_anonymous;
    let sessions = SessionPolicy::from_settings(&state.settings);
    let registry = state.registry.clone();
    let time_zone = state.settings.time_zone.clone();
    let grants = state.token_grants.clone();
    crate::db::blocking::with_conn(&state.pool, state.settings.db_timeout, move |conn| {
        if let Credentials::Token(key) = &credentials {
            let request = TokenRequest::new(key, &path, &known_sha256)?;
            // On PostgreSQL a retrieve's gate rows are kept with their auth epoch
            // (auth::token_grants): exact, never stale.
            let access = I::load_remembering(conn, &request.item(), &grants)?;
            let (granted, item) = decide(access, need, (&registry, &time_zone))?;
            return work(granted, item);
        }
        let granted = gate(
            conn,
            credentials,
            &path.project,
            need,
            allow_anonymous,
            &sessions,
            (&registry, &time_zone),
        )?;
        let item = I::load(conn, &granted.project, &path.app_name, &path.item_name)?;
        work(granted, item)
    })
    .await
}

/// What a token caller's one statement looks for, checked before any database work.
struct TokenRequest<'a> {
    prefix: &'a str,
    digest: String,
    project: uuid::Uuid,
    path: &'a ItemPath,
    known_sha256: &'a str,
}

impl<'a> TokenRequest<'a> {
    /// A 401 for anything that cannot be one of our tokens.
    fn new(key: &'a str, path: &'a ItemPath, known_sha256: &'a str) -> Result<Self> {
        let (prefix, digest) =
            token::lookup_key(key).ok_or_else(|| Error::Unauthorized(INVALID_TOKEN.into()))?;
        // A malformed project UUID names no project: the token is still checked first.
        let project = uuid::Uuid::parse_str(&path.project).unwrap_or(uuid::Uuid::nil());
        Ok(TokenRequest {
            prefix,
            digest,
            project,
            path,
            known_sha256,
        })
    }

    /// What tells this request's statement apart from every other: the item part
    /// read, the token, the project, the app and item names, the known digest.
    fn key<I: 'static>(&self) -> String {
        // Built by hand (one allocation, no formatting machinery for the strings and
        // the UUID); the same text as
        // `format!("{}|{}|{}|{}|{}:{}|{}:{}|{}", type_name, prefix, digest, project,
        // app_name.len(), app_name, item_name.len(), item_name, known_sha256)`.
        use std::fmt::Write as _;
        let p = self.path;
        let type_name = std::any::type_name::<I>();
        let mut key = String::with_capacity(
            type_name.len()
                + self.prefix.len()
                + self.digest.len()
                + uuid::fmt::Hyphenated::LENGTH
                + p.app_name.len()
                + p.item_name.len()
                + self.known_sha256.len()
                + 32,
        );
        let mut uuid = [0u8; uuid::fmt::Hyphenated::LENGTH];
        key.push_str(type_name);
        key.push('|');
        key.push_str(self.prefix);
        key.push('|');
        key.push_str(&self.digest);
        key.push('|');
        key.push_str(self.project.as_hyphenated().encode_lower(&mut uuid));
        key.push('|');
        let _ = write!(key, "{}", p.app_name.len());
        key.push(':');
        key.push_str(&p.app_name);
        key.push('|');
        let _ = write!(key, "{}", p.item_name.len());
        key.push(':');
        key.push_str(&p.item_name);
        key.push('|');
        key.push_str(self.known_sha256);
        key
    }

    fn item(&self) -> ItemRequest<'_> {
        ItemRequest {
            prefix: self.prefix,
            digest: &self.digest,
            project: self.project,
            app_name: &self.path.app_name,
            item_name: &self.path.item_name,
            known_sha256: self.known_sha256,
        }
    }
}

/// The token caller's checks, in upstream's order, on the rows its statement read
/// (`None`: no such token).
fn decide<I>(
    access: Option<ItemAccess<I>>,
    need: Need,
    backend: Backend<'_>,
) -> Result<(Granted, Option<I>)> {
    let invalid = || Error::Unauthorized(INVALID_TOKEN.into());
    let access = access.ok_or_else(invalid)?;
    let now = crate::db::now();
    if access.expiry.is_some_and(|e| e <= now) || !access.user.is_active {
        return Err(invalid());
    }
    let project = access.project.ok_or_else(Error::not_found)?;
    let role = access.role;
    let granted = admit(
        Caller::User(access.user),
        project,
        access.blocked,
        need,
        backend,
        |caller, project| {
            Ok(match caller.user() {
                Some(u) if u.is_superuser => Permissions::ALL,
                _ => Permissions::for_role(role, project.public_access),
            })
        },
    )?;
    Ok((granted, access.item))
}

/// The gate of a job endpoint: 401 (credentials) → 404 (no such job, malformed UUID
/// included) → then the project's checks of `gate` for a project's job (403 role or
/// block, 503 backend); a whole-site job is for superusers only (403). `work` runs with
/// the same connection.
pub async fn authorize_job<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    job: &str,
    need: Need,
    work: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn, crate::db::models::SyncJob, JobGranted) -> Result<T> + Send + 'static,
{
    // Basic passwords are checked (and throttled) as on every other endpoint.
    let credentials = Credentials::from_request(req)
        .check_password(req, state)
        .await?;
    let allow_anonymous = state.settings.allow_anonymous;
    let sessions = SessionPolicy::from_settings(&state.settings);
    let registry = state.registry.clone();
    let time_zone = state.settings.time_zone.clone();
    let job = job.to_owned();
    crate::db::blocking::with_conn(&state.pool, state.settings.db_timeout, move |conn| {
        let caller = credentials.resolve(conn, &sessions)?;
        if matches!(caller, Caller::Anonymous) && !allow_anonymous {
            return Err(Error::Unauthorized(NO_CREDENTIALS.into()));
        }
        let uuid = uuid::Uuid::parse_str(&job).map_err(|_| Error::not_found())?;
        let job =
            crate::db::models::SyncJob::find_by_uuid(conn, uuid)?.ok_or_else(Error::not_found)?;
        let project = match job.project_id {
            Some(id) => Some(Project::find_by_id(conn, id)?.ok_or_else(Error::not_found)?),
            None => None,
        };
        let granted = match project {
            Some(project) => {
                let is_superuser = caller.user().is_some_and(|u| u.is_superuser);
                let blocked = !is_superuser && ProjectBlock::is_blocked(conn, &project)?;
                let g = admit(
                    caller,
                    project,
                    blocked,
                    need,
                    (&registry, &time_zone),
                    |caller, project| {
                        let access = match caller.user() {
                            Some(u) => Access::User(u),
                            None => Access::Anonymous,
                        };
                        Permissions::resolve(conn, access, project, allow_anonymous)
                    },
                )?;
                JobGranted {
                    project: Some(g.project),
                    caller: g.caller,
                    cache: g.cache,
                    time_zone: g.time_zone,
                }
            }
            None => {
                match caller.user() {
                    Some(u) if u.is_superuser => {}
                    Some(_) => return Err(Error::Forbidden(NO_PERMISSION.into())),
                    None => return Err(Error::Unauthorized(NO_CREDENTIALS.into())),
                }
                let cache = registry
                    .cache()
                    .ok_or_else(|| Error::Unavailable(BACKEND_DISABLED.into()))?;
                JobGranted {
                    project: None,
                    caller,
                    cache,
                    time_zone,
                }
            }
        };
        work(conn, job, granted)
    })
    .await
}

/// A job request that passed [`authorize_job`].
pub struct JobGranted {
    /// The job's project; none for a whole-site job.
    pub project: Option<Project>,
    /// Who is asking.
    pub caller: Caller,
    /// The enabled cache backend.
    pub cache: Arc<SodarCache>,
    /// The zone timestamps are rendered in.
    pub time_zone: SiteTimeZone,
}
