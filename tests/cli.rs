//! The real `sodarcache` binary: messages on stderr, results on stdout, exit codes.

mod common;

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use serde_json::json;
use sodarcache::auth::{password, token};
use sodarcache::cli::Cli;
use sodarcache::db::models::{ApiToken, Project, Role, RoleAssignment, SyncJob, User};
use sodarcache::db::models::{JobStatus, PublicAccess};
use sodarcache::db::{DbPool, now};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::fixtures as fx;
use common::plugins::TestPlugin;

/// What a run of the binary left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Log lines on stderr as `(LEVEL, message)`, timestamps dropped.
    fn messages(&self) -> Vec<(String, String)> {
        self.stderr
            .lines()
            .map(|line| {
                let rest = line.split_once("Z ").map_or(line, |(_, r)| r).trim_start();
                let (level, msg) = rest.split_once(' ').unwrap_or((rest, ""));
                (level.to_owned(), msg.trim_start().to_owned())
            })
            .collect()
    }

    /// Whether stderr has this exact message at this level.
    fn logged(&self, level: &str, message: &str) -> bool {
        self.messages()
            .iter()
            .any(|(l, m)| l == level && m == message)
    }

    /// Asserts exit 1 with exactly one ERROR line, and returns its message.
    fn single_error(&self) -> String {
        assert_eq!(self.code, 1, "stderr: {}", self.stderr);
        let messages = self.messages();
        assert_eq!(messages.len(), 1, "one line expected, got: {}", self.stderr);
        assert_eq!(messages[0].0, "ERROR", "{}", self.stderr);
        messages[0].1.clone()
    }
}

/// Runs the binary against `url` with extra environment and standard input.
fn run_with(url: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sodarcache"));
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "info")
        .env_remove("SODARCACHE_ENABLED_BACKEND_PLUGINS")
        .env_remove("SODARCACHE_PLUGIN_TIMEOUT_SECONDS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start sodarcache");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("run sodarcache");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run(db: &common::TestDb, args: &[&str]) -> Run {
    run_with(&db.url, args, &[], "")
}

const DISABLED: [(&str, &str); 1] = [("SODARCACHE_ENABLED_BACKEND_PLUGINS", "")];

/// A pool and a cache over the test database, with the binary's plugins.
fn cache_over(db: &common::TestDb) -> (DbPool, std::sync::Arc<sodarcache::cache::SodarCache>) {
    let pool = db.pool();
    let registry = PluginRegistry::builder()
        .project_app(ExampleProjectApp)
        .build(pool.clone(), &db.settings());
    (pool, registry.cache().unwrap())
}

// --- synccache ---------------------------------------------------------------

backend_test! {
    fn synccache_with_backend_disabled_exits_1(db) {
        let out = run_with(&db.url, &["synccache"], &DISABLED, "");
        assert_eq!(out.single_error(), "SodarCache backend not enabled in settings, cancelled");
    }
}

backend_test! {
    fn synccache_with_a_malformed_uuid_exits_1(db) {
        let out = run(&db, &["synccache", "-p", "not-a-uuid"]);
        assert_eq!(out.single_error(), "Not a valid UUID: not-a-uuid");
    }
}

backend_test! {
    fn synccache_with_an_unknown_project_exits_1(db) {
        let uuid = uuid::Uuid::new_v4().to_string();
        let out = run(&db, &["synccache", "-p", &uuid]);
        assert_eq!(out.single_error(), format!("Project not found with UUID={uuid}"));
    }
}

backend_test! {
    fn synccache_for_one_project_syncs_it_and_records_a_cli_job(db) {
        let (pool, cache) = cache_over(&db);
        let (project, other) = {
            let conn = &mut **pool.get().unwrap();
            (fx::project(conn, "Title", None, None), fx::project(conn, "Other", None, None))
        };
        let out = run(&db, &["synccache", "-p", &project.uuid.to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", &format!("Limiting sync to project \"Title\" ({})", project.uuid)), "{}", out.stderr);
        assert!(out.logged("INFO", "Cache synchronization OK"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&project)).unwrap().is_some());
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&other)).unwrap().is_none());
        let jobs = SyncJob::list(&mut pool.get().unwrap(), None, 0, 10).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!((jobs[0].origin.as_str(), jobs[0].status.as_str()), ("cli", "done"));
        assert_eq!(jobs[0].project_id, Some(project.id));
    }
}

backend_test! {
    fn synccache_without_project_syncs_all_projects(db) {
        let (pool, cache) = cache_over(&db);
        let projects: Vec<Project> = {
            let conn = &mut **pool.get().unwrap();
            vec![fx::project(conn, "A", None, None), fx::project(conn, "B", None, None)]
        };
        let out = run(&db, &["synccache"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", "Synchronizing cache for all projects"), "{}", out.stderr);
        assert!(out.logged("INFO", "Cache synchronization OK"), "{}", out.stderr);
        for p in &projects {
            assert!(cache.get_cache_item("example_project_app", "project_summary", Some(p)).unwrap().is_some());
        }
        let jobs = SyncJob::list(&mut pool.get().unwrap(), None, 0, 10).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!((jobs[0].origin.as_str(), jobs[0].project_id), ("cli", None));
    }
}

backend_test! {
    fn synccache_exits_1_when_a_plugin_fails_and_others_still_run(db) {
        let (pool, cache) = cache_over(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let plugins = PluginRegistry::builder().project_app(TestPlugin::fails("a_broken", "source unreachable")).project_app(ExampleProjectApp);
        let cli = Cli::parse_from(["sodarcache", "--database-url", db.url.as_str(), "synccache"]);
        let code = sodarcache::cli::execute(cli, plugins).expect("the sync itself ran");
        assert_eq!(code, ExitCode::FAILURE);
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&project)).unwrap().is_some());
        let jobs = SyncJob::list(&mut pool.get().unwrap(), None, 0, 10).unwrap();
        assert_eq!(jobs[0].status, JobStatus::Failed);
    }
}

backend_test! {
    fn synccache_app_and_name_limit_the_job_to_one_plugin_and_item(db) {
        let (pool, cache) = cache_over(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let plugins = || PluginRegistry::builder()
            .project_app(TestPlugin::writes("a_writer", "a_item"))
            .project_app(ExampleProjectApp);
        let uuid = project.uuid.to_string();
        let args = ["sodarcache", "--database-url", db.url.as_str(), "synccache", "-p", &uuid, "-a", "a_writer", "-n", "a_item"];
        let code = sodarcache::cli::execute(Cli::parse_from(args), plugins()).expect("ran");
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(cache.get_cache_item("a_writer", "a_item", Some(&project)).unwrap().is_some());
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&project)).unwrap().is_none(), "only the plugin of -a ran");
        let jobs = SyncJob::list(&mut pool.get().unwrap(), None, 0, 10).unwrap();
        assert_eq!((jobs[0].app_name.as_deref(), jobs[0].item_name.as_deref()), (Some("a_writer"), Some("a_item")));
        assert_eq!(jobs[0].status, JobStatus::Done);
        // An app no plugin syncs is exit 1 with the reason, and no job.
        let out = run(&db, &["synccache", "-a", "no_such_app"]);
        assert!(out.single_error().starts_with("Unknown app name \"no_such_app\""), "{}", out.stderr);
        let out = run(&db, &["synccache", "--app", "example_project_app", "--name", "project_summary"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", "Limiting sync to app \"example_project_app\""), "{}", out.stderr);
        assert!(out.logged("INFO", "Limiting sync to item \"project_summary\""), "{}", out.stderr);
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&project)).unwrap().is_some());
        assert_eq!(SyncJob::list(&mut pool.get().unwrap(), None, 0, 10).unwrap().len(), 2);
    }
}

// --- deletecache -------------------------------------------------------------

backend_test! {
    fn deletecache_with_backend_disabled_exits_1(db) {
        let out = run_with(&db.url, &["deletecache"], &DISABLED, "");
        assert_eq!(out.single_error(), "SodarCache backend not enabled in settings, cancelled");
    }
}

backend_test! {
    fn deletecache_with_a_malformed_or_unknown_project_exits_1(db) {
        let out = run(&db, &["deletecache", "-p", "xyz"]);
        assert_eq!(out.single_error(), "Not a valid UUID: xyz");
        let uuid = uuid::Uuid::new_v4().to_string();
        let out = run(&db, &["deletecache", "-p", &uuid]);
        assert_eq!(out.single_error(), format!("Project not found with UUID={uuid}"));
    }
}

backend_test! {
    fn deletecache_with_nothing_cached_says_so_and_exits_0(db) {
        let out = run(&db, &["deletecache"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", "No cached data found"), "{}", out.stderr);
    }
}

backend_test! {
    fn deletecache_for_one_project_deletes_only_its_items(db) {
        let (pool, cache) = cache_over(&db);
        let (project, other) = {
            let conn = &mut **pool.get().unwrap();
            (fx::project(conn, "T", None, None), fx::project(conn, "U", None, None))
        };
        cache.set_cache_item("sodarcache", "a", &json!(1), "json", Some(&project), None).unwrap();
        cache.set_cache_item("sodarcache", "a", &json!(1), "json", Some(&other), None).unwrap();
        let out = run(&db, &["deletecache", "-p", &project.uuid.to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let expected = format!("Deleted 1 cached data item from project \"T\" ({})", project.uuid);
        assert!(out.logged("INFO", &expected), "{}", out.stderr);
        assert!(cache.get_cache_item("sodarcache", "a", Some(&project)).unwrap().is_none());
        assert!(cache.get_cache_item("sodarcache", "a", Some(&other)).unwrap().is_some());
    }
}

backend_test! {
    fn deletecache_without_project_deletes_everything_site_wide_included(db) {
        let (pool, cache) = cache_over(&db);
        let (a, b) = {
            let conn = &mut **pool.get().unwrap();
            (fx::project(conn, "A", None, None), fx::project(conn, "B", None, None))
        };
        for p in [Some(&a), Some(&b), None] {
            cache.set_cache_item("sodarcache", "a", &json!(1), "json", p, None).unwrap();
        }
        let out = run(&db, &["deletecache"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", "Deleted 3 cached data items from all projects"), "{}", out.stderr);
        assert_eq!(cache.delete_cache(None, None).unwrap(), 0);
    }
}

backend_test! {
    fn deletecache_with_app_deletes_only_that_apps_items(db) {
        let (pool, cache) = cache_over(&db);
        let project = fx::project(&mut pool.get().unwrap(), "T", None, None);
        cache.set_cache_item("sodarcache", "a", &json!(1), "json", Some(&project), None).unwrap();
        cache.set_cache_item("sodarcache", "b", &json!(1), "json", None, None).unwrap();
        cache.set_cache_item("example_project_app", "a", &json!(1), "json", Some(&project), None).unwrap();
        let out = run(&db, &["deletecache", "--app", "sodarcache"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", "Deleted 2 cached data items of app \"sodarcache\" from all projects"), "{}", out.stderr);
        assert!(cache.get_cache_item("example_project_app", "a", Some(&project)).unwrap().is_some());
        assert!(cache.get_cache_item("sodarcache", "a", Some(&project)).unwrap().is_none());
        let out = run(&db, &["deletecache", "--app", "nope"]);
        assert!(out.single_error().starts_with("Unknown app name \"nope\""), "{}", out.stderr);
        assert!(cache.get_cache_item("example_project_app", "a", Some(&project)).unwrap().is_some());
    }
}

// --- users, projects, roles, tokens ------------------------------------------

backend_test! {
    fn user_add_reads_the_password_from_stdin(db) {
        let out = run_with(&db.url, &["user", "add", "alice"], &[], "s3cret pass\n");
        assert_eq!(out.code, 0, "{}", out.stderr);
        let admin = run_with(&db.url, &["user", "add", "root", "--superuser"], &[], "pw\n");
        assert_eq!(admin.code, 0, "{}", admin.stderr);
        let conn = &mut **db.pool().get().unwrap();
        let alice = User::find_by_username(conn, "alice").unwrap().unwrap();
        assert!(password::verify("s3cret pass", Some(&alice.password_hash)));
        assert!(!alice.is_superuser);
        assert!(User::find_by_username(conn, "root").unwrap().unwrap().is_superuser);
    }
}

backend_test! {
    fn user_add_rejects_a_duplicate_and_an_empty_password(db) {
        assert_eq!(run_with(&db.url, &["user", "add", "alice"], &[], "pw\n").code, 0);
        let out = run_with(&db.url, &["user", "add", "alice"], &[], "other\n");
        assert_eq!(out.single_error(), "User \"alice\" already exists");
        let out = run_with(&db.url, &["user", "add", "bob"], &[], "\n");
        assert!(out.single_error().starts_with("No password given"), "{}", out.stderr);
        let out = run_with(&db.url, &["user", "add", "carol"], &[], "");
        out.single_error();
        let conn = &mut **db.pool().get().unwrap();
        assert_eq!(User::list(conn).unwrap().len(), 1);
    }
}

fn project_add(db: &common::TestDb, args: &[&str]) -> uuid::Uuid {
    let mut all = vec!["project", "add"];
    all.extend_from_slice(args);
    let out = run(db, &all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.ends_with('\n') && out.stdout.lines().count() == 1,
        "{:?}",
        out.stdout
    );
    uuid::Uuid::parse_str(out.stdout.trim()).expect("only the UUID on stdout")
}

backend_test! {
    fn project_block_and_unblock_toggle_the_access_block(db) {
        let cat = project_add(&db, &["Cat", "--category"]);
        let proj = project_add(&db, &["Proj", "--parent", &cat.to_string()]);
        let blocked = |db: &common::TestDb| {
            let conn = &mut **db.pool().get().unwrap();
            let p = Project::find_by_uuid(conn, proj).unwrap().unwrap();
            sodarcache::db::models::ProjectBlock::is_blocked(conn, &p).unwrap()
        };
        let out = run(&db, &["project", "block", &proj.to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("Blocked access to project \"Proj\" ("), "{}", out.stderr);
        assert!(blocked(&db));
        assert_eq!(run(&db, &["project", "block", &proj.to_string()]).code, 0, "twice is fine");
        let out = run(&db, &["project", "unblock", &proj.to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!blocked(&db));
        let out = run(&db, &["project", "block", &cat.to_string()]);
        assert_eq!(out.code, 1);
        assert_eq!(out.single_error(), "Only projects can be blocked, not categories");
        let out = run(&db, &["project", "block", "not-a-uuid"]);
        assert_eq!(out.code, 1);
    }
}

backend_test! {
    fn project_add_prints_only_the_uuid(db) {
        let cat = project_add(&db, &["Cat", "--category"]);
        let proj = project_add(&db, &["Proj", "--parent", &cat.to_string(), "--public-access", "guest"]);
        let top = project_add(&db, &["Top"]);
        let conn = &mut **db.pool().get().unwrap();
        let cat = Project::find_by_uuid(conn, cat).unwrap().unwrap();
        let proj = Project::find_by_uuid(conn, proj).unwrap().unwrap();
        let top = Project::find_by_uuid(conn, top).unwrap().unwrap();
        assert!(cat.is_category());
        assert!(!proj.is_category() && !top.is_category());
        assert_eq!(proj.parent_id, Some(cat.id));
        assert_eq!(proj.full_title, "Cat / Proj");
        assert_eq!(proj.public_access, Some(PublicAccess::Guest));
        assert_eq!(top.parent_id, None);
    }
}

backend_test! {
    fn project_add_rule_violations_exit_1_with_one_line(db) {
        let cat = project_add(&db, &["Cat", "--category"]).to_string();
        let proj = project_add(&db, &["Proj", "--parent", &cat]).to_string();
        let cases: [(&[&str], &str); 6] = [
            (&["Sub", "--parent", &proj], "Subprojects are only allowed within categories"),
            (&["Cat", "--parent", &cat], "Project and parent titles can not be equal"),
            (&["A / B"], "Title may not contain \" / \""),
            (&["Pub", "--category", "--public-access", "guest"], "Public guest access is not allowed for categories"),
            (&["Proj", "--parent", &cat], "Title \"Proj\" is already in use in this category"),
            (&["X", "--parent", "nope"], "Not a valid UUID: nope"),
        ];
        for (args, message) in cases {
            let mut all = vec!["project", "add"];
            all.extend_from_slice(args);
            let out = run(&db, &all);
            assert_eq!(out.single_error(), message, "{args:?}");
            assert!(out.stdout.is_empty());
        }
        let out = run(&db, &["project", "add", "Y", "--public-access", "everyone"]);
        assert!(out.single_error().starts_with("Unknown public access \"everyone\""));
        let conn = &mut **db.pool().get().unwrap();
        assert_eq!(Project::list(conn).unwrap().len(), 2);
    }
}

backend_test! {
    fn role_set_assigns_a_role(db) {
        let pool = db.pool();
        let (project, alice) = {
            let conn = &mut **pool.get().unwrap();
            (fx::project(conn, "P", None, None), fx::user(conn, "alice", false))
        };
        let out = run(&db, &["role", "set", &project.uuid.to_string(), "alice", "contributor"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let roles = RoleAssignment::for_user(&mut pool.get().unwrap(), alice.id).unwrap();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].role, Role::Contributor);
    }
}

backend_test! {
    fn role_set_errors_exit_1_with_one_line(db) {
        let pool = db.pool();
        let project = {
            let conn = &mut **pool.get().unwrap();
            let project = fx::project(conn, "P", None, None);
            let owner = fx::user(conn, "owner", false);
            fx::user(conn, "alice", false);
            fx::role(conn, &project, &owner, Role::Owner);
            project
        };
        let p = project.uuid.to_string();
        let out = run(&db, &["role", "set", &p, "nobody", "guest"]);
        assert_eq!(out.single_error(), "User not found: \"nobody\"");
        let out = run(&db, &["role", "set", &p, "alice", "boss"]);
        assert!(out.single_error().starts_with("Unknown role \"boss\""), "{}", out.stderr);
        let out = run(&db, &["role", "set", &p, "alice", "finder"]);
        assert_eq!(out.single_error(), "Role \"finder\" is only allowed in categories");
        let out = run(&db, &["role", "set", &p, "alice", "owner"]);
        assert_eq!(out.single_error(), format!("Project {} already has an owner", project.log_title()));
        let alice = User::find_by_username(&mut pool.get().unwrap(), "alice").unwrap().unwrap();
        assert!(RoleAssignment::for_user(&mut pool.get().unwrap(), alice.id).unwrap().is_empty());
    }
}

backend_test! {
    fn token_create_prints_a_token_that_authenticates(db) {
        let pool = db.pool();
        let alice = fx::user(&mut pool.get().unwrap(), "alice", false);
        let out = run(&db, &["token", "create", "alice"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let secret = out.stdout.strip_suffix('\n').expect("one line");
        assert_eq!(secret.len(), 64);
        assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
        let conn = &mut **pool.get().unwrap();
        let user = token::authenticate(conn, secret).unwrap().expect("token accepted");
        assert_eq!(user.id, alice.id);
        let stored = ApiToken::find_by_prefix(conn, &secret[..token::PREFIX_LEN]).unwrap();
        assert_eq!(stored[0].expiry, None);
        assert!(!stored[0].digest.contains(secret), "the secret is not stored");
        let out = run(&db, &["token", "create", "nobody"]);
        assert_eq!(out.single_error(), "User not found: \"nobody\"");
    }
}

backend_test! {
    fn token_create_with_expiry_hours_sets_the_expiry(db) {
        let pool = db.pool();
        fx::user(&mut pool.get().unwrap(), "alice", false);
        let out = run(&db, &["token", "create", "alice", "--expiry-hours", "2"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let secret = out.stdout.trim();
        let conn = &mut **pool.get().unwrap();
        let expiry = ApiToken::find_by_prefix(conn, &secret[..token::PREFIX_LEN]).unwrap()[0].expiry.unwrap();
        let left = expiry - now();
        assert!(left > chrono::Duration::minutes(119) && left <= chrono::Duration::hours(2), "{left}");
        assert!(token::authenticate(conn, secret).unwrap().is_some());
        // Zero hours would be a token expired at once: refused, nothing printed.
        let out = run(&db, &["token", "create", "alice", "--expiry-hours", "0"]);
        assert_ne!(out.code, 0);
        assert!(out.stdout.trim().is_empty());
    }
}

// --- database ------------------------------------------------------------------

#[test]
fn unsupported_database_url_scheme_exits_1_with_one_line() {
    let out = run_with("mysql://root@localhost/db", &["synccache"], &[], "");
    let message = out.single_error();
    assert!(
        message.starts_with("unsupported database URL \"mysql://root@localhost/db\""),
        "{message}"
    );
    let out = run_with("mysql://root@localhost/db", &["migrate"], &[], "");
    out.single_error();
}

#[test]
fn unreachable_postgres_exits_1_with_one_line() {
    let out = run_with("postgres://nobody@127.0.0.1:1/x", &["deletecache"], &[], "");
    let message = out.single_error();
    assert!(
        message.starts_with("cannot connect to the database: "),
        "{message}"
    );
    let out = run_with("postgres://nobody@127.0.0.1:1/x", &["migrate"], &[], "");
    assert!(
        out.single_error()
            .starts_with("cannot connect to the database: ")
    );
}

backend_test! {
    fn migrate_twice_applies_then_has_nothing_to_do(db) {
        let first = run(&db, &["migrate"]);
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert!(first.messages().iter().any(|(l, m)| l == "INFO" && m.starts_with("Applied ")), "{}", first.stderr);
        let second = run(&db, &["migrate"]);
        assert_eq!(second.code, 0, "{}", second.stderr);
        assert!(second.logged("INFO", "No migrations to apply"), "{}", second.stderr);
        // The migrated database works for the other commands.
        assert_eq!(run(&db, &["deletecache"]).code, 0);
    }
}

backend_test! {
    fn synccache_does_not_wait_for_a_job_whose_server_died(db) {
        use diesel::prelude::*;
        use sodarcache::cache::jobs::request_sync;
        use sodarcache::db::models::Origin;
        use sodarcache::db::schema::sync_jobs;

        let pool = db.pool();
        let stale = {
            let conn = &mut **pool.get().unwrap();
            request_sync(conn, None, None, Origin::Web, None).unwrap();
            let job = SyncJob::claim_next(conn, "dead-server").unwrap().unwrap();
            diesel::update(sync_jobs::table.find(job.id))
                .set(sync_jobs::heartbeat.eq(now() - chrono::Duration::hours(1)))
                .execute(conn)
                .unwrap();
            job
        };
        let out = run(&db, &["synccache"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.logged("INFO", "Cache synchronization OK"), "{}", out.stderr);
        let conn = &mut **pool.get().unwrap();
        assert_eq!(SyncJob::find_by_id(conn, stale.id).unwrap().unwrap().status, JobStatus::Failed);
        let jobs = SyncJob::list(conn, None, 0, 10).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!((jobs[0].origin.as_str(), jobs[0].status.as_str()), ("cli", "done"));
    }
}

// --- results that cannot be printed, bad settings -------------------------------

/// Runs the binary with standard output redirected by the shell (`>&-`, `>/dev/full`).
fn run_redirected(url: &str, args: &[&str], redirect: &str) -> Run {
    let script = format!("exec \"$0\" \"$@\" {redirect}");
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_sodarcache"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run sodarcache");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::new(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn token_count(pool: &DbPool) -> i64 {
    use diesel::prelude::*;
    use sodarcache::db::schema::api_tokens;
    api_tokens::table
        .count()
        .get_result(&mut **pool.get().unwrap())
        .unwrap()
}

backend_test! {
    fn token_create_with_stdout_closed_or_full_exits_1_and_keeps_no_token(db) {
        let pool = db.pool();
        fx::user(&mut pool.get().unwrap(), "alice", false);
        for redirect in [">&-", ">/dev/full"] {
            let out = run_redirected(&db.url, &["token", "create", "alice"], redirect);
            let message = out.single_error();
            assert!(message.starts_with("cannot print the result"), "{redirect}: {message}");
            assert_eq!(token_count(&pool), 0, "{redirect}: a token nobody saw was kept");
        }
    }
}

backend_test! {
    fn project_add_with_stdout_closed_or_full_exits_1_and_keeps_no_project(db) {
        let pool = db.pool();
        for redirect in [">&-", ">/dev/full"] {
            let out = run_redirected(&db.url, &["project", "add", "X", "--category"], redirect);
            let message = out.single_error();
            assert!(message.starts_with("cannot print the result"), "{redirect}: {message}");
            assert!(Project::list(&mut pool.get().unwrap()).unwrap().is_empty(), "{redirect}");
        }
        // The same command with a working standard output still creates it.
        assert_eq!(run(&db, &["project", "add", "X", "--category"]).code, 0);
    }
}

backend_test! {
    fn token_create_with_a_huge_expiry_exits_1_with_one_line(db) {
        let pool = db.pool();
        fx::user(&mut pool.get().unwrap(), "alice", false);
        let out = run(&db, &["token", "create", "alice", "--expiry-hours", "4294967295"]);
        assert_eq!(out.single_error(), "Token expiry must be at most 876000 hours (100 years)");
        assert!(out.stdout.is_empty());
        assert_eq!(token_count(&pool), 0);
        let out = run(&db, &["token", "create", "alice", "--expiry-hours", "876000"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

#[test]
fn bad_timeouts_and_poll_intervals_exit_1_with_one_line_naming_the_variable() {
    let db = common::TestDb::sqlite();
    let cases = [
        ("SODARCACHE_PLUGIN_TIMEOUT_SECONDS", "-1"),
        ("SODARCACHE_PLUGIN_TIMEOUT_SECONDS", "inf"),
        ("SODARCACHE_PLUGIN_TIMEOUT_SECONDS", "NaN"),
        ("SODARCACHE_PLUGIN_TIMEOUT_SECONDS", "1e30"),
        ("SODARCACHE_PLUGIN_TIMEOUT_SECONDS", "0"),
        ("SODARCACHE_DB_TIMEOUT_SECONDS", "-1"),
        ("SODARCACHE_DB_TIMEOUT_SECONDS", "inf"),
        ("SODARCACHE_DB_TIMEOUT_SECONDS", "NaN"),
        ("SODARCACHE_DB_TIMEOUT_SECONDS", "1e30"),
        ("SODARCACHE_DB_TIMEOUT_SECONDS", "0"),
        ("SODARCACHE_JOB_STALE_SECONDS", "NaN"),
        ("SODARCACHE_WORKER_POLL_MS", "0"),
        ("SODARCACHE_WORKER_POLL_MS", "-5"),
    ];
    for (key, value) in cases {
        for args in [&["migrate"][..], &["deletecache"][..]] {
            let out = run_with(&db.url, args, &[(key, value)], "");
            let message = out.single_error();
            assert!(
                message.starts_with(&format!("{key}: \"{value}\"")),
                "{key}={value}: {message}"
            );
        }
    }
    let out = run_with(
        &db.url,
        &["deletecache"],
        &[("SODARCACHE_DB_TIMEOUT_SECONDS", "0.5")],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn an_empty_database_url_is_an_error_not_the_default_file() {
    let dir = tempfile::tempdir().unwrap();
    let in_dir = |args: &[&str], env_url: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sodarcache"));
        cmd.args(args)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL");
        if let Some(url) = env_url {
            cmd.env("DATABASE_URL", url);
        }
        let out = cmd.output().expect("run sodarcache");
        Run {
            code: out.status.code().unwrap(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    };
    for (args, env_url) in [
        (&["--database-url", "", "migrate"][..], None),
        (&["migrate"][..], Some("")),
        (
            &["--database-url", "", "deletecache"][..],
            Some("sqlite://elsewhere.sqlite3"),
        ),
    ] {
        let message = in_dir(args, env_url).single_error();
        assert!(
            message.starts_with("DATABASE_URL (or --database-url) is empty"),
            "{message}"
        );
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no database file created"
    );
}

#[test]
fn database_passwords_never_appear_in_messages() {
    for url in [
        "postgres://u:S3cret@[::1/db",
        "postgres://u:S3cret@127.0.0.1:1/db",
        "postgres://u@127.0.0.1:1/db?password=S3cret",
        "postgres://u:S3c%72et@[::1/db",
        "mysql://u:S3cret@localhost/db",
    ] {
        for args in [&["migrate"][..], &["deletecache"][..]] {
            let out = run_with(url, args, &[], "");
            let message = out.single_error();
            assert!(
                !message.contains("S3cret") && !message.contains("S3c%72et"),
                "{url}: {message}"
            );
        }
    }
}

backend_test! {
    fn control_characters_cannot_forge_log_lines(db) {
        let forged = "x\nINFO Created superuser \"mallory\"";
        let out = run(&db, &["synccache", "-p", forged]);
        // One line: the newline is shown escaped.
        assert_eq!(out.single_error(), "Not a valid UUID: x\\nINFO Created superuser \"mallory\"");
        let out = run_with(&db.url, &["user", "add", "mal\u{1b}lory"], &[], "pw\n");
        assert_eq!(
            out.single_error(),
            format!("Usernames {}", sodarcache::names::CONTROL_RULE)
        );
    }
}

backend_test! {
    fn token_list_shows_prefixes_and_token_revoke_ends_a_token(db) {
        let pool = db.pool();
        fx::user(&mut pool.get().unwrap(), "alice", false);
        fx::user(&mut pool.get().unwrap(), "bob", false);
        let first = run(&db, &["token", "create", "alice"]).stdout.trim().to_owned();
        let second = run(&db, &["token", "create", "alice", "--expiry-hours", "5"]).stdout.trim().to_owned();
        let bobs = run(&db, &["token", "create", "bob"]).stdout.trim().to_owned();
        let out = run(&db, &["token", "list", "alice"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{}", out.stdout);
        assert!(lines[0].starts_with(&format!("{}\t", &first[..8])) && lines[0].ends_with("\tnever"), "{}", lines[0]);
        assert!(lines[1].starts_with(&format!("{}\t", &second[..8])) && !lines[1].ends_with("never"), "{}", lines[1]);
        assert!(!out.stdout.contains(&first) && !out.stdout.contains(&second), "secrets are never shown");

        let out = run(&db, &["token", "revoke", &first[..8]]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let conn = &mut **pool.get().unwrap();
        assert!(token::authenticate(conn, &first).unwrap().is_none(), "revoked");
        assert!(token::authenticate(conn, &second).unwrap().is_some());
        assert!(token::authenticate(conn, &bobs).unwrap().is_some());
        // The whole token works as its prefix too; unknown and malformed prefixes are errors.
        assert_eq!(run(&db, &["token", "revoke", &second]).code, 0);
        assert!(token::authenticate(conn, &second).unwrap().is_none());
        assert_eq!(run(&db, &["token", "revoke", &first[..8]]).single_error(), format!("No token with prefix \"{}\"", &first[..8]));
        assert!(run(&db, &["token", "revoke", "xyz"]).single_error().starts_with("Not a token prefix"));
        assert_eq!(run(&db, &["token", "list", "nobody"]).single_error(), "User not found: \"nobody\"");
    }
}

backend_test! {
    fn deletecache_of_a_project_leaves_rows_that_the_next_synccache_purges(db) {
        let (pool, cache) = cache_over(&db);
        let conn = &mut *pool.get().unwrap();
        let project = fx::project(conn, "Purged", None, None);
        for name in ["a", "b", "c"] {
            cache
                .set_cache_item("example_project_app", name, &json!({ "n": name }), "json", Some(&project), None)
                .unwrap();
        }
        let out = run(&db, &["deletecache", "-p", &project.uuid.to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(cache.get_project_cache(&project, "json").unwrap().is_empty(), "gone for readers");
        let rows = |conn: &mut sodarcache::db::DbConn| {
            common::rows::count(conn, &format!("SELECT COUNT(*) AS n FROM cache_items WHERE project_id = {}", project.id))
        };
        assert_eq!(rows(conn), 3, "the rows wait for the purge");
        let out = run(&db, &["synccache", "-p", &project.uuid.to_string()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // The sync wrote the example app's items again; the deleted rows are gone.
        let live = cache.get_project_cache(&project, "json").unwrap().len() as i64;
        assert_eq!(rows(conn), live, "only the synced items are left");
        assert_eq!(common::rows::count(conn, "SELECT COUNT(*) AS n FROM cache_dead_keys"), 0);
    }
}
