//! The statements of the overview's listing at 2,000 projects, as SQLite plans them:
//! sorted by items (a superuser's first page) and filtered to failed syncs, no
//! statement sorts every project in a temporary B-tree or reads every project row.
//! Each statement `Project::list_readable` runs is captured as it runs and explained.
//!
//! SQLite only: PostgreSQL plans by its own statistics (autovacuum analyzes), and its
//! timings at 50 and 5,000 projects are in docs/benchmarks-admin.md.

mod common;

use std::sync::{Arc, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::sql_types::Text;
use sodarcache::db::DbConn;
use sodarcache::db::models::{Project, ProjectOrder, ProjectQuery};

use common::TestDb;
use common::fixtures as fx;

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// 2,000 projects, each with a kept aggregates row (items 1 to 7), the last sync of
/// every seventh failed; written by SQL.
fn fill(conn: &mut DbConn) {
    conn.batch_execute(
        "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 2000)
         INSERT INTO projects (uuid, title, project_type, full_title, title_fold, title_sort,
                               date_created)
         SELECT printf('%08d-0000-4000-8000-%012d', v, v), 'Project ' || v, 'PROJECT',
                'Project ' || v, 'project ' || v, printf('project %03d%d', length(v), v),
                '2026-12-01 00:00:00'
         FROM n;
         INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
         SELECT id, 1 + id % 7, 100 * id, '2026-12-01 00:00:00', '2026-12-01 00:00:00'
         FROM projects;
         UPDATE projects SET last_sync_status = 'failed' WHERE id % 7 = 3;",
    )
    .expect("fill");
}

/// The SQL of every statement `run` executes on `conn`, binds left out.
fn statements_of(conn: &mut DbConn, run: impl FnOnce(&mut DbConn)) -> Vec<String> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let capture = move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            let sql = text
                .split(" -- binds:")
                .next()
                .unwrap_or_default()
                .to_owned();
            sink.lock().unwrap().push(sql);
        }
    };
    conn.set_instrumentation(capture);
    run(conn);
    conn.set_instrumentation(None::<Box<dyn Instrumentation>>);
    let statements = seen.lock().unwrap().clone();
    assert!(!statements.is_empty(), "no statement captured");
    statements
}

fn plan(conn: &mut DbConn, sql: &str) -> String {
    // Unbound parameters are NULL: enough to plan the statement.
    let rows: Vec<PlanRow> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(conn)
        .unwrap_or_else(|e| panic!("explain {sql}: {e}"));
    rows.into_iter()
        .map(|r| r.detail)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every statement of the listing `query` walks an index and stops: no sort of all
/// rows, no scan of the projects table. Returns the plans.
fn assert_index_walks(conn: &mut DbConn, query: &ProjectQuery, what: &str) -> Vec<String> {
    let root = fx::user(conn, &format!("root_{what}"), true);
    let statements = statements_of(conn, |c| {
        let (rows, _) = Project::list_readable(c, &root, query).expect("list");
        assert_eq!(rows.len(), 50, "{what}: a full page");
    });
    let plans: Vec<String> = statements.iter().map(|s| plan(conn, s)).collect();
    for (sql, plan) in statements.iter().zip(&plans) {
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.split("; ").any(|p| p == "SCAN projects"),
            "{what}: {sql}\nis planned as {plan}"
        );
    }
    plans
}

#[test]
fn the_sort_by_items_walks_the_kept_index_and_stops() {
    let db = TestDb::sqlite();
    let pool = db.pool();
    let conn = &mut **pool.get().unwrap();
    fill(conn);
    let query = ProjectQuery {
        order: ProjectOrder::Items,
        desc: true,
        limit: 50,
        ..ProjectQuery::default()
    };
    let plans = assert_index_walks(conn, &query, "by items");
    assert!(
        plans
            .iter()
            .any(|p| p.contains("cache_scope_stats_items_desc")),
        "one statement walks the items index: {plans:?}"
    );
}

#[test]
fn the_failed_filter_counts_from_the_index_alone() {
    let db = TestDb::sqlite();
    let pool = db.pool();
    let conn = &mut **pool.get().unwrap();
    fill(conn);
    let query = ProjectQuery {
        failed: true,
        limit: 50,
        ..ProjectQuery::default()
    };
    let plans = assert_index_walks(conn, &query, "failed");
    assert!(
        plans
            .iter()
            .any(|p| p.contains("COVERING INDEX projects_last_sync_failed")),
        "the count of failed projects reads the index alone: {plans:?}"
    );
}

/// The overview's chart of finished jobs per day for a user who is not a superuser
/// (guest on five projects): the jobs of the projects the user may read start from the
/// user's roles and the public projects, never from every project. Before, the Diesel
/// form of the readable rule made SQLite scan the projects table on every page.
#[test]
fn a_users_jobs_per_day_start_from_the_users_roles() {
    use sodarcache::db::models::{JobScope, Role, dashboard};

    let db = TestDb::sqlite();
    let pool = db.pool();
    let conn = &mut **pool.get().unwrap();
    fill(conn);
    let reader = fx::user(conn, "reader", false);
    let projects: Vec<Project> = Project::list(conn)
        .expect("projects")
        .into_iter()
        .take(5)
        .collect();
    for p in &projects {
        fx::role(conn, p, &reader, Role::Guest);
    }
    let since = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let statements = statements_of(conn, |c| {
        dashboard::outcomes_by_day(c, &reader, &JobScope::All, since).expect("outcomes");
    });
    for sql in &statements {
        let plan = plan(conn, sql);
        assert!(
            !plan.split("; ").any(|p| p == "SCAN projects"),
            "{sql}\nis planned as {plan}"
        );
    }
}
