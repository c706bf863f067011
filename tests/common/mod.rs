//! Test harness: a fresh database per test on SQLite and, when `TEST_DATABASE_URL`
//! names a PostgreSQL server, on PostgreSQL too; a real server on a free port.
//!
//! Set `SODARCACHE_REQUIRE_PG=1` to make a missing PostgreSQL a failure, not a skip
//! (CI does). `TEST_LOG=1` turns on logging.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

pub mod migrations;
pub mod plugins;
pub mod scale;

use std::sync::Once;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use sodarcache::db::{self, DbPool, PoolOptions};
use sodarcache::plugins::{PluginRegistry, RegistryBuilder};
use sodarcache::settings::Settings;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test; dropped (PostgreSQL) or deleted (SQLite) after.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
                .with_test_writer()
                .try_init();
        }
    });
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> TestDb {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (a skip) when `TEST_DATABASE_URL` is unset.
    pub fn postgres() -> Option<TestDb> {
        init_logging();
        let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        else {
            if std::env::var("SODARCACHE_REQUIRE_PG").is_ok_and(|v| v == "1") {
                panic!(
                    "SODARCACHE_REQUIRE_PG=1 but TEST_DATABASE_URL does not name a PostgreSQL server"
                );
            }
            eprintln!("skipped: TEST_DATABASE_URL is not set, PostgreSQL variant not run");
            return None;
        };
        let name = format!("sodarcache_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("cannot reach TEST_DATABASE_URL: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b.to_owned(), format!("?{q}")),
            None => (admin_url.clone(), String::new()),
        };
        let base = base
            .rsplit_once('/')
            .map_or(base.as_str(), |(b, _)| b)
            .to_owned();
        let url = format!("{base}/{name}{query}");
        Some(TestDb {
            backend: Backend::Postgres,
            url,
            dir: None,
            pg: Some((admin_url, name)),
        })
    }

    /// Opens (and migrates) a pool on this database.
    pub fn pool(&self) -> DbPool {
        db::open(&self.url, &PoolOptions::default()).expect("open test database")
    }

    /// Default settings pointing at this database.
    pub fn settings(&self) -> Settings {
        Settings {
            database_url: self.url.clone(),
            worker_poll: std::time::Duration::from_millis(100),
            secret_key: Some("x".repeat(64)),
            ..Settings::default()
        }
    }

    /// A registry over a fresh pool with these plugins and default settings.
    pub fn registry(&self, plugins: RegistryBuilder) -> PluginRegistry {
        plugins.build(self.pool(), &self.settings())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg
            && let Ok(mut admin) = diesel::PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        let _ = self.dir.take();
    }
}

/// Defines a test that runs once per backend: `mod name { fn sqlite(); fn postgres(); }`.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($db: $crate::common::TestDb) $body

            $(#[$meta])*
            #[test]
            fn sqlite() {
                body($crate::common::TestDb::sqlite());
            }

            $(#[$meta])*
            #[test]
            fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres() {
                    body(db);
                }
            }
        }
    };
}

/// A server on a free port over a test database, stopped on drop.
pub struct TestApp {
    pub addr: String,
    /// `http://127.0.0.1:PORT` of the `SODARCACHE_METRICS_BIND` server, when set.
    pub metrics_addr: Option<String>,
    pub pool: DbPool,
    pub registry: PluginRegistry,
    pub settings: Settings,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    /// Starts a server with these plugins; `tweak` adjusts settings first.
    pub fn spawn(
        db: &TestDb,
        plugins: RegistryBuilder,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = db.settings();
        tweak(&mut settings);
        let pool = db::open(
            &settings.database_url,
            &PoolOptions {
                max_size: settings.pool_size,
                connection_timeout: settings.db_timeout,
                statement_timeout: Some(settings.db_timeout),
                ..PoolOptions::default()
            },
        )
        .expect("open test database");
        let registry = plugins.build(pool.clone(), &settings);
        let (tx, rx) = std::sync::mpsc::channel();
        let (s, p, r) = (settings.clone(), pool.clone(), registry.clone());
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = sodarcache::startup::Application::build(s, p, r, "127.0.0.1:0")
                    .expect("build app");
                tx.send((app.port(), app.metrics_port(), app.handle()))
                    .expect("report port");
                let _ = app.run_until_stopped().await;
            });
        });
        let (port, metrics_port, handle) = rx.recv().expect("server started");
        TestApp {
            addr: format!("http://127.0.0.1:{port}"),
            metrics_addr: metrics_port.map(|p| format!("http://127.0.0.1:{p}")),
            pool,
            registry,
            settings,
            handle,
            thread: Some(thread),
        }
    }

    /// `addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    /// A pooled connection to the test database.
    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().expect("connection")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Fixtures: users, projects and roles in a few calls.
pub mod fixtures {
    use sodarcache::auth::password;
    use sodarcache::db::DbConn;
    use sodarcache::db::models::{
        NewProject, Project, ProjectType, PublicAccess, Role, RoleAssignment, User,
    };

    /// The password every fixture user has.
    pub const PASSWORD: &str = "correct horse battery staple";

    /// A user with [`PASSWORD`].
    pub fn user(conn: &mut DbConn, name: &str, superuser: bool) -> User {
        // Hashing is slow in debug builds; one hash shared by every fixture user.
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = HASH.get_or_init(|| password::hash(PASSWORD).expect("hash"));
        User::create(conn, name, hash, superuser).expect("create user")
    }

    /// A category at the top or under `parent`.
    pub fn category(conn: &mut DbConn, title: &str, parent: Option<&Project>) -> Project {
        Project::create(
            conn,
            &NewProject {
                title,
                project_type: ProjectType::Category,
                parent,
                description: "",
                public_access: None,
            },
        )
        .expect("create category")
    }

    /// A project under `parent`.
    pub fn project(
        conn: &mut DbConn,
        title: &str,
        parent: Option<&Project>,
        public: Option<PublicAccess>,
    ) -> Project {
        Project::create(
            conn,
            &NewProject {
                title,
                project_type: ProjectType::Project,
                parent,
                description: "",
                public_access: public,
            },
        )
        .expect("create project")
    }

    /// Gives `user` `role` in `project`.
    pub fn role(conn: &mut DbConn, project: &Project, user: &User, role: Role) {
        RoleAssignment::set(conn, project, user, role).expect("set role");
    }
}

/// Counting rows with SQL, and the integrity checks several tests share.
pub mod rows {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    use sodarcache::db::DbConn;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// SQL true for a row of `cache_items` that is an item: not one of a deleted project
    /// cache still to be purged (migration `2026-12-04-100001_deleted_scopes`).
    pub const LIVE: &str = "NOT EXISTS (SELECT 1 FROM cache_dead_keys d \
         WHERE d.project_key = cache_items.project_key)";

    /// The `n` column of `sql`'s one row.
    pub fn count(conn: &mut DbConn, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .expect(sql)
            .n
    }

    /// Versions and previews whose item is gone. PostgreSQL has no foreign keys from
    /// them to their item (migration 200001_bulk_delete): the delete trigger takes them.
    pub fn outliving_their_item(conn: &mut DbConn) -> i64 {
        count(
            conn,
            "SELECT COUNT(*) AS n FROM cache_item_versions v \
             WHERE NOT EXISTS (SELECT 1 FROM cache_items i WHERE i.id = v.item_id)",
        ) + count(
            conn,
            "SELECT COUNT(*) AS n FROM cache_item_previews p \
             WHERE NOT EXISTS (SELECT 1 FROM cache_items i WHERE i.id = p.item_id)",
        )
    }
}
