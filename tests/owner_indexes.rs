//! The indexes on who wrote an item or a version (`user_id`, `job_id` of `cache_items`
//! and `cache_item_versions`) hold only the rows that have one (migration
//! 300001_partial_owner_indexes). What reads them still finds every row it needs: the
//! foreign-key actions when a user or a sync job goes (ON DELETE SET NULL) leave the
//! items and versions with no owner, and the lookups by owner are planned on those
//! indexes, never as a scan. Both backends.

mod common;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::json;
use sodarcache::db::models::User;
use sodarcache::db::{DbConn, JsonText};
use sodarcache::plugins::PluginRegistry;

use common::fixtures as fx;
use common::plugins::TestPlugin;
use common::rows::count;
use common::{Backend, TestDb};

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// The plan of `sql`, one string.
fn plan(db: &TestDb, conn: &mut DbConn, sql: &str) -> String {
    let lines: Vec<String> = match db.backend {
        Backend::Sqlite => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqlitePlanRow>(conn)
            .unwrap_or_else(|e| panic!("explain {sql}: {e}"))
            .into_iter()
            .map(|r| r.detail)
            .collect(),
        Backend::Postgres => diesel::sql_query(format!("EXPLAIN {sql}"))
            .load::<PgPlanRow>(conn)
            .unwrap_or_else(|e| panic!("explain {sql}: {e}"))
            .into_iter()
            .map(|r| r.line)
            .collect(),
    };
    lines.join("; ")
}

fn items_with(conn: &mut DbConn, table: &str, cond: &str) -> i64 {
    count(
        conn,
        &format!("SELECT COUNT(*) AS n FROM {table} WHERE {cond}"),
    )
}

backend_test! {
    fn owner_indexes_hold_only_owned_rows_and_still_serve_every_lookup_by_owner(db) {
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(TestPlugin::writes("writer", "synced"))
            .build(pool.clone(), &db.settings());
        let cache = registry.cache_unchecked();
        let conn = &mut **pool.get().unwrap();
        let top = fx::category(conn, "Top", None);
        let project = fx::project(conn, "P", Some(&top), None);
        let user = fx::user(conn, "writer", false);

        // An item written twice by the user (a kept version with the user), one written
        // twice by nobody and then claimed by a sync job, item and version.
        for n in 0..2 {
            let data = JsonText::from_value(&json!({ "n": n }));
            cache
                .set_cache_item_json("writer", "by_user", &data, Some(&project), Some(&user))
                .unwrap();
            cache
                .set_cache_item_json("writer", "by_job", &data, Some(&project), None)
                .unwrap();
        }
        conn.batch_execute(
            "INSERT INTO sync_jobs (uuid, origin, created, status)
             VALUES ('00000000-0000-4000-8000-00000000000a', 'cli', '2026-12-01 00:00:00', 'done');
             UPDATE cache_items SET job_id = (SELECT MAX(id) FROM sync_jobs) WHERE name = 'by_job';
             UPDATE cache_item_versions SET job_id = (SELECT MAX(id) FROM sync_jobs)
             WHERE item_id = (SELECT id FROM cache_items WHERE name = 'by_job');",
        )
        .unwrap();
        let uid = user.id;
        for table in ["cache_items", "cache_item_versions"] {
            assert_eq!(items_with(conn, table, &format!("user_id = {uid}")), 1, "{table} by the user");
            assert_eq!(items_with(conn, table, "job_id IS NOT NULL"), 1, "{table} by the job");
        }

        // Each owner index holds the one owned row of its table, not the one without.
        for index in [
            "cache_items_user",
            "cache_items_job",
            "cache_item_versions_user",
            "cache_item_versions_job",
        ] {
            match db.backend {
                Backend::Sqlite => {
                    let entries = count(
                        conn,
                        &format!(
                            "SELECT COALESCE(SUM(ncell), 0) AS n FROM dbstat \
                             WHERE name = '{index}' AND pagetype = 'leaf'"
                        ),
                    );
                    assert_eq!(entries, 1, "entries of {index}");
                }
                Backend::Postgres => {
                    let partial = count(
                        conn,
                        &format!(
                            "SELECT COUNT(*) AS n FROM pg_indexes WHERE indexname = '{index}' \
                             AND indexdef LIKE '%WHERE (% IS NOT NULL)'"
                        ),
                    );
                    assert_eq!(partial, 1, "{index} is partial");
                }
            }
        }

        // Every lookup by owner is planned on the owner's index (the foreign-key actions
        // look up the same way), not as a scan of items or versions.
        if db.backend == Backend::Postgres {
            // Tiny tables: only a forbidden sequential scan shows which index fits.
            conn.batch_execute("SET enable_seqscan = off").unwrap();
        }
        for (table, column) in [
            ("cache_items", "user_id"),
            ("cache_items", "job_id"),
            ("cache_item_versions", "user_id"),
            ("cache_item_versions", "job_id"),
        ] {
            let index = format!("{table}_{}", column.trim_end_matches("_id"));
            let p = plan(&db, conn, &format!("SELECT id FROM {table} WHERE {column} = 1"));
            assert!(p.contains(&index), "{table}.{column} = ? on {index}: {p}");
        }
        if db.backend == Backend::Postgres {
            conn.batch_execute("RESET enable_seqscan").unwrap();
        } else {
            for parent in ["users", "sync_jobs"] {
                let p = plan(&db, conn, &format!("DELETE FROM {parent} WHERE id = 1"));
                for scan in ["SCAN cache_items", "SCAN cache_item_versions"] {
                    assert!(!p.contains(scan), "deleting from {parent}: {scan}: {p}");
                }
            }
        }

        // The user goes: their item and version stay, with no user; then the job.
        assert_eq!(User::delete(conn, uid).unwrap(), 1);
        conn.batch_execute("DELETE FROM sync_jobs").unwrap();
        for table in ["cache_items", "cache_item_versions"] {
            assert_eq!(items_with(conn, table, "user_id IS NOT NULL OR job_id IS NOT NULL"), 0, "{table}");
            assert_eq!(count(conn, &format!("SELECT COUNT(*) AS n FROM {table}")), 2, "{table} kept");
        }
    }
}
