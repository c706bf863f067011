//! A token-authenticated request on one item, decided and answered in one statement:
//! the token's user, the project named in the path, the user's role there (the best
//! assignment along the project's ancestors, over the `project_ancestors` closure table),
//! whether the project's access is blocked, and the item with its writer's UUID. So a
//! REST retrieve waits for the database once. Nothing is kept in this process beyond
//! the next commit to the database (on SQLite the answer is remembered until then,
//! `db::loop_reads`; on PostgreSQL a retrieve's gate rows are kept with the auth epoch
//! they were read at, and the next retrieve reads only the epoch and the item,
//! [`token_grants`](super::token_grants); large item bodies are kept under their stored
//! digest, `api::body_cache`): a revoked token, a changed role or a new block is seen
//! by the very next request.
//!
//! The token is found by its lookup prefix and the SHA-512 digest of the whole secret
//! (equality in SQL: the digest of a 256-bit random secret reveals nothing usable).
//! [`ItemAccess`] holds the rows as read; the API's gate (`api::access`) applies
//! upstream's order of checks to them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};

use super::token_grants::TokenGrants;
use crate::db::models::{CacheItem, Project, Role, User};
use crate::db::schema::{api_tokens, auth_epoch, cache_items, projects, users};
use crate::db::types::SqlJson;
use crate::db::{DbConn, DbUuid, JsonText, Scope};

/// What the request names.
#[derive(Debug, Clone, Copy)]
pub struct ItemRequest<'a> {
    /// The token's lookup prefix.
    pub prefix: &'a str,
    /// Hex SHA-512 of the whole token.
    pub digest: &'a str,
    /// The project's UUID from the path.
    pub project: uuid::Uuid,
    /// App name.
    pub app_name: &'a str,
    /// Item name.
    pub item_name: &'a str,
    /// The SHA-256 of the item's data this process keeps in memory
    /// ([`BodyCache`](crate::api::body_cache::BodyCache)), or empty: an [`ItemBody`]
    /// read returns no data when the stored digest equals it.
    pub known_sha256: &'a str,
}

/// The rows one statement read for an [`ItemRequest`]; `I` is the item part.
#[derive(Debug, Clone)]
pub struct ItemAccess<I> {
    /// The token's user (active or not: the gate decides).
    pub user: User,
    /// The token's expiry.
    pub expiry: Option<NaiveDateTime>,
    /// The project, when the UUID names one.
    pub project: Option<Project>,
    /// The user's best role in the project (finder never counts in a project).
    pub role: Option<Role>,
    /// A superuser blocked access to the project.
    pub blocked: bool,
    /// The item, when it exists.
    pub item: Option<I>,
}

/// An item with its data and its writer's UUID.
pub type FullItem = (CacheItem, Option<DbUuid>);

use crate::db::sql_fragment;

/// The text of [`BestRole`], built once from the role table in `visibility`.
///
/// The strongest rank is an aggregate (`MIN`) turned back into the role's name, not an
/// `ORDER BY ... LIMIT 1`: that made SQLite build a temporary B-tree on every request.
/// Each rank belongs to one role, so the nearer-ancestor tie-break of
/// `role_in_project` cannot change the answer here.
fn best_role_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut by_rank = String::from("CASE MIN(");
        by_rank.push_str(&super::visibility::rank_case());
        by_rank.push(')');
        for role in Role::VARIANTS {
            by_rank.push_str(&format!(" WHEN {} THEN '{}'", role.rank(), role.as_str()));
        }
        by_rank.push_str(" END");
        format!(
            "(SELECT {by_rank} FROM project_ancestors \
             JOIN role_assignments ON role_assignments.project_id = project_ancestors.ancestor_id \
             WHERE project_ancestors.project_id = projects.id \
             AND role_assignments.user_id = users.id AND role_assignments.role <> '{}')",
            Role::Finder.as_str(),
        )
    })
}

sql_fragment! {
    /// The user's best role in the joined project, as
    /// [`role_in_project`](super::visibility::role_in_project) decides it (finder never
    /// counts in a project).
    BestRole: Nullable<Text> = best_role_text()
}

sql_fragment! {
    /// The auth epoch ([`TokenGrants`]; PostgreSQL only), read in the statement's
    /// snapshot.
    AuthEpoch: diesel::sql_types::BigInt = "(SELECT auth_epoch.n FROM auth_epoch WHERE auth_epoch.id = 1)"
}

sql_fragment! {
    /// Whether access to the joined project is blocked.
    Blocked: Bool = "EXISTS (SELECT 1 FROM project_access_blocks \
         WHERE project_access_blocks.project_id = projects.id)"
}

/// The statement for backend `$db`, with `$item` as the item part of the selection.
/// (Values bound in a join's `ON` must be owned: Diesel asks `'static` of the FROM clause.)
macro_rules! item_access_query {
    ($req:expr, $writer:ident, $db:ty, $item:expr) => {
        api_tokens::table
            .inner_join(users::table)
            .left_join(projects::table.on(projects::uuid.eq(DbUuid($req.project))))
            .left_join(
                cache_items::table.on(cache_items::project_key
                    .eq(crate::db::scope::projects_live_key())
                    .and(cache_items::app_name.eq($req.app_name.to_owned()))
                    .and(cache_items::name.eq($req.item_name.to_owned()))),
            )
            .left_join($writer.on($writer.field(users::id).nullable().eq(cache_items::user_id)))
            .filter(api_tokens::prefix.eq($req.prefix))
            .filter(api_tokens::digest.eq($req.digest))
            .select((
                <User as SelectableHelper<$db>>::as_select(),
                api_tokens::expiry,
                <Project as Selectable<$db>>::construct_selection().nullable(),
                BestRole,
                Blocked,
                $item,
            ))
    };
}

/// Runs the statement on the inner connection of either backend (`$db` names its
/// backend type inside `$item`), so the query is a plain static statement there:
/// through `MultiBackend` every execution would render the whole SQL text twice (to
/// decide caching, then to bind), about a third of a cached SQLite retrieve's work.
macro_rules! load_access {
    ($conn:expr, $req:expr, |$writer:ident, $db:ident| $item:expr) => {{
        let $writer = diesel::alias!(users as writer);
        match $conn {
            DbConn::Pg(c) => {
                type $db = diesel::pg::Pg;
                item_access_query!($req, $writer, $db, $item)
                    .first(c)
                    .optional()
            }
            DbConn::Sqlite(c) => {
                type $db = diesel::sqlite::Sqlite;
                item_access_query!($req, $writer, $db, $item)
                    .first(c)
                    .optional()
            }
        }
    }};
}

type Row<I> = (
    User,
    Option<NaiveDateTime>,
    Option<Project>,
    Option<String>,
    bool,
    I,
);

fn into_access<I>(row: Row<Option<I>>) -> ItemAccess<I> {
    let (user, expiry, project, role, blocked, item) = row;
    ItemAccess {
        user,
        expiry,
        project,
        role: role.and_then(|r| r.parse().ok()),
        blocked,
        item,
    }
}

/// The part of an item an endpoint reads: the whole item for a retrieve, its write time
/// for a retrieve/date. Each reads it either with the gate in one statement
/// ([`ItemAccess`]) or on its own, after the general gate (sessions, anonymous).
pub trait ItemPart: Sized + Clone + Send + 'static {
    /// About how many bytes this part holds (its data), to bound what is kept of it.
    fn bytes(&self) -> usize {
        0
    }

    /// The gate's rows and this part of the item, in one statement.
    fn load_with_access(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
    ) -> QueryResult<Option<ItemAccess<Self>>>;

    /// [`load_with_access`](Self::load_with_access), answered from what `grants` kept
    /// of this token's gate where this part has a PostgreSQL statement for that
    /// ([`TokenGrants`]); the full statement otherwise.
    fn load_remembering(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
        grants: &TokenGrants,
    ) -> QueryResult<Option<ItemAccess<Self>>> {
        let _ = grants;
        Self::load_with_access(conn, req)
    }

    /// This part of the item at `(project, app_name, item_name)`.
    fn load(
        conn: &mut DbConn,
        project: &Project,
        app_name: &str,
        item_name: &str,
    ) -> QueryResult<Option<Self>>;
}

impl ItemPart for FullItem {
    fn bytes(&self) -> usize {
        self.0.data.len()
    }

    fn load_with_access(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
    ) -> QueryResult<Option<ItemAccess<Self>>> {
        let row: Option<Row<(Option<CacheItem>, Option<DbUuid>)>> =
            load_access!(conn, req, |writer, DB| (
                <CacheItem as Selectable<DB>>::construct_selection().nullable(),
                writer.field(users::uuid).nullable()
            ))?;
        Ok(row
            .map(|(u, e, p, r, b, (item, by))| into_access((u, e, p, r, b, item.map(|i| (i, by))))))
    }

    fn load(
        conn: &mut DbConn,
        project: &Project,
        app_name: &str,
        item_name: &str,
    ) -> QueryResult<Option<Self>> {
        CacheItem::find_with_writer(conn, Scope::from(project), app_name, item_name)
    }
}

/// Only whether the item exists: the gate of an endpoint that does not read the item
/// (set), still in one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exists;

impl ItemPart for Exists {
    fn load_with_access(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
    ) -> QueryResult<Option<ItemAccess<Self>>> {
        let row: Option<Row<Option<i64>>> =
            load_access!(conn, req, |writer, DB| cache_items::id.nullable())?;
        Ok(row.map(|(u, e, p, r, b, id)| into_access((u, e, p, r, b, id.map(|_| Exists)))))
    }

    fn load(
        conn: &mut DbConn,
        project: &Project,
        app_name: &str,
        item_name: &str,
    ) -> QueryResult<Option<Self>> {
        Ok(CacheItem::find_date(conn, Scope::from(project), app_name, item_name)?.map(|_| Exists))
    }
}

impl ItemPart for NaiveDateTime {
    fn load_with_access(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
    ) -> QueryResult<Option<ItemAccess<Self>>> {
        let row: Option<Row<Option<NaiveDateTime>>> =
            load_access!(conn, req, |writer, DB| cache_items::date_modified
                .nullable())?;
        Ok(row.map(into_access))
    }

    fn load(
        conn: &mut DbConn,
        project: &Project,
        app_name: &str,
        item_name: &str,
    ) -> QueryResult<Option<Self>> {
        CacheItem::find_date(conn, Scope::from(project), app_name, item_name)
    }
}

/// What a retrieve needs of an item besides its data.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = cache_items)]
pub struct ItemHead {
    /// Row id.
    pub id: i64,
    /// App name.
    pub app_name: String,
    /// Item name.
    pub name: String,
    /// Size of the JSON text in bytes.
    pub size_bytes: i64,
    /// Last write (UTC).
    pub date_modified: NaiveDateTime,
    /// SHA-256 of the data as stored (none only for old SQLite rows).
    pub data_sha256: Option<String>,
}

/// An item for a retrieve: its head, its writer's UUID, and its data unless the data's
/// digest is the request's [`known_sha256`](ItemRequest::known_sha256) (then the caller
/// has the data already, and the database sent none).
#[derive(Debug, Clone)]
pub struct ItemBody {
    /// Everything but the data.
    pub head: ItemHead,
    /// The data; `None` when it is the one the request knows.
    pub data: Option<JsonText>,
    /// Who wrote it last.
    pub writer: Option<DbUuid>,
}

/// `CASE WHEN cache_items.data_sha256 = $known THEN NULL ELSE <data> END` (`<data>`:
/// the subquery of [`ItemData`](crate::db::models::ItemData)): the data of the joined
/// item unless its stored digest is `known` (an empty `known` matches no
/// item: digests are 64 hex digits). Static SQL with one bind, so the statement stays a
/// cached prepared statement.
#[derive(Debug, Clone, diesel::query_builder::QueryId)]
struct DataUnlessKnown(String);

impl diesel::Expression for DataUnlessKnown {
    type SqlType = Nullable<SqlJson>;
}

impl<QS> diesel::AppearsOnTable<QS> for DataUnlessKnown {}

impl<QS> diesel::SelectableExpression<QS> for DataUnlessKnown {}

impl diesel::expression::ValidGrouping<()> for DataUnlessKnown {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

macro_rules! data_unless_known_for {
    ($db:ty) => {
        impl diesel::query_builder::QueryFragment<$db> for DataUnlessKnown {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, $db>,
            ) -> QueryResult<()> {
                out.push_sql("CASE WHEN ");
                cache_items::data_sha256.walk_ast(out.reborrow())?;
                out.push_sql(" = ");
                out.push_bind_param::<Text, String>(&self.0)?;
                out.push_sql(" THEN NULL ELSE ");
                crate::db::models::ItemData.walk_ast(out.reborrow())?;
                out.push_sql(" END");
                Ok(())
            }
        }
    };
}

data_unless_known_for!(diesel::pg::Pg);
data_unless_known_for!(diesel::sqlite::Sqlite);

impl ItemPart for ItemBody {
    fn bytes(&self) -> usize {
        self.data.as_ref().map_or(0, JsonText::len)
    }

    fn load_with_access(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
    ) -> QueryResult<Option<ItemAccess<Self>>> {
        type Part = (Option<ItemHead>, Option<JsonText>, Option<DbUuid>);
        let row: Option<Row<Part>> = load_access!(conn, req, |writer, DB| (
            <ItemHead as Selectable<DB>>::construct_selection().nullable(),
            DataUnlessKnown(req.known_sha256.to_owned()),
            writer.field(users::uuid).nullable()
        ))?;
        Ok(row.map(|(u, e, p, r, b, (head, data, writer))| {
            into_access((
                u,
                e,
                p,
                r,
                b,
                head.map(|head| ItemBody { head, data, writer }),
            ))
        }))
    }

    fn load_remembering(
        conn: &mut DbConn,
        req: &ItemRequest<'_>,
        grants: &TokenGrants,
    ) -> QueryResult<Option<ItemAccess<Self>>> {
        let DbConn::Pg(c) = conn else {
            return Self::load_with_access(conn, req);
        };
        type Part = (Option<ItemHead>, Option<JsonText>, Option<DbUuid>);
        let body = |(head, data, writer): Part| head.map(|head| ItemBody { head, data, writer });
        grants.read(
            c,
            req,
            |c, project_id| {
                let writer = diesel::alias!(users as writer);
                let (epoch, part): (i64, Part) = auth_epoch::table
                    .left_join(
                        cache_items::table.on(cache_items::project_key
                            .eq(crate::db::Scope::Project(project_id).live_key())
                            .and(cache_items::app_name.eq(req.app_name.to_owned()))
                            .and(cache_items::name.eq(req.item_name.to_owned()))),
                    )
                    .left_join(
                        writer.on(writer.field(users::id).nullable().eq(cache_items::user_id)),
                    )
                    .filter(auth_epoch::id.eq(1))
                    .select((
                        auth_epoch::n,
                        (
                            <ItemHead as Selectable<diesel::pg::Pg>>::construct_selection()
                                .nullable(),
                            DataUnlessKnown(req.known_sha256.to_owned()),
                            writer.field(users::uuid).nullable(),
                        ),
                    ))
                    .first(c)?;
                Ok((epoch, body(part)))
            },
            |c| {
                let writer = diesel::alias!(users as writer);
                type DB = diesel::pg::Pg;
                let row: Option<Row<(i64, Part)>> = item_access_query!(
                    req,
                    writer,
                    DB,
                    (
                        AuthEpoch,
                        (
                            <ItemHead as Selectable<DB>>::construct_selection().nullable(),
                            DataUnlessKnown(req.known_sha256.to_owned()),
                            writer.field(users::uuid).nullable()
                        )
                    )
                )
                .first(c)
                .optional()?;
                Ok(row.map(|(u, e, p, r, b, (epoch, part))| {
                    (epoch, into_access((u, e, p, r, b, body(part))))
                }))
            },
        )
    }

    fn load(
        conn: &mut DbConn,
        project: &Project,
        app_name: &str,
        item_name: &str,
    ) -> QueryResult<Option<Self>> {
        Ok(
            CacheItem::find_with_writer(conn, Scope::from(project), app_name, item_name)?.map(
                |(item, writer)| ItemBody {
                    head: ItemHead {
                        id: item.id,
                        app_name: item.app_name,
                        name: item.name,
                        size_bytes: item.size_bytes,
                        date_modified: item.date_modified,
                        data_sha256: item.data_sha256,
                    },
                    data: Some(item.data),
                    writer,
                },
            ),
        )
    }
}
