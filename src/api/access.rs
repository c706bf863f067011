//! The gate every endpoint passes, in upstream's order: 401 (credentials) → 404
//! (project, malformed UUID included) → 403 (category) → 403 (role) → 503 (backend).
//! 406 came before, in the [`envelope`](super::envelope) middleware.

use std::sync::Arc;

use actix_web::{HttpRequest, web};

use super::auth::{Caller, Credentials, NO_CREDENTIALS};
use crate::auth::{Access, Permissions};
use crate::cache::SodarCache;
use crate::db::DbConn;
use crate::db::models::Project;
use crate::state::AppState;
use crate::{Error, Result};

/// 403 text for a category in a project-only view (superusers included).
pub const CATEGORY_NOT_ALLOWED: &str = "Project type \"CATEGORY\" not allowed for this API view";
/// 403 text for a missing role.
pub const NO_PERMISSION: &str = crate::error::PERMISSION_DENIED;
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
}

impl Need {
    fn granted_by(self, p: Permissions) -> bool {
        match self {
            Need::Read => p.read,
            Need::Write => p.write,
            Need::Delete => p.delete_item,
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
    let credentials = Credentials::from_request(req);
    let allow_anonymous = state.settings.allow_anonymous;
    let pool = state.pool.clone();
    let registry = state.registry.clone();
    let project = project.to_owned();
    let span = tracing::Span::current();
    web::block(move || -> Result<T> {
        let _in_request = span.enter(); // log lines name the request
        let mut conn = pool.get()?;
        let caller = credentials.resolve(&mut conn)?;
        if matches!(caller, Caller::Anonymous) && !allow_anonymous {
            return Err(Error::Unauthorized(NO_CREDENTIALS.into()));
        }
        let uuid = uuid::Uuid::parse_str(&project).map_err(|_| Error::not_found())?;
        let project = Project::find_by_uuid(&mut conn, uuid)?.ok_or_else(Error::not_found)?;
        if project.is_category() {
            return Err(Error::Forbidden(CATEGORY_NOT_ALLOWED.into()));
        }
        let access = match caller.user() {
            Some(u) => Access::User(u),
            None => Access::Anonymous,
        };
        let perms = Permissions::resolve(&mut conn, access, &project, allow_anonymous)?;
        if !need.granted_by(perms) {
            return Err(match caller {
                Caller::Anonymous => Error::Unauthorized(NO_CREDENTIALS.into()),
                Caller::User(_) => Error::Forbidden(NO_PERMISSION.into()),
            });
        }
        let cache = registry
            .cache()
            .ok_or_else(|| Error::Unavailable(BACKEND_DISABLED.into()))?;
        work(
            &mut conn,
            Granted {
                project,
                caller,
                cache,
            },
        )
    })
    .await?
}
