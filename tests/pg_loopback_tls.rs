//! A PostgreSQL server on this machine is reached without TLS unless the URL asks for
//! it (`db::pg_tls`): asked of the server itself, through `pg_stat_ssl` for the pool's
//! own connection.

mod common;

use diesel::RunQueryDsl;
use diesel::sql_types::{Bool, Text};
use sodarcache::db::{self, DbConn, PoolOptions};

use common::TestDb;

/// Whether the pool's connection is encrypted, as the server sees it.
fn connection_uses_tls(conn: &mut DbConn) -> bool {
    let DbConn::Pg(c) = conn else {
        panic!("a PostgreSQL connection")
    };
    diesel::select(diesel::dsl::sql::<Bool>(
        "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
    ))
    .get_result(c)
    .expect("pg_stat_ssl")
}

fn server_offers_tls(conn: &mut DbConn) -> bool {
    let DbConn::Pg(c) = conn else {
        panic!("a PostgreSQL connection")
    };
    diesel::select(diesel::dsl::sql::<Text>("current_setting('ssl')"))
        .get_result::<String>(c)
        .expect("SHOW ssl")
        == "on"
}

fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

#[test]
fn a_loopback_server_is_reached_without_tls_unless_the_url_sets_sslmode() {
    let Some(db) = TestDb::postgres() else { return };
    assert!(
        db.url.contains("127.0.0.1") || db.url.contains("localhost"),
        "this test needs TEST_DATABASE_URL on this machine: {}",
        db.url
    );
    let pool = db.pool();
    let mut conn = pool.get().expect("conn");
    assert!(
        !connection_uses_tls(&mut conn),
        "a URL without sslmode to 127.0.0.1 gets no TLS"
    );
    let offers_tls = server_offers_tls(&mut conn);
    drop(conn);

    // The URL's own sslmode wins.
    let required = db::open(
        &with_param(&db.url, "sslmode=require"),
        &PoolOptions::default(),
    );
    if offers_tls {
        let pool = required.expect("open with sslmode=require");
        let mut conn = pool.get().expect("conn");
        assert!(connection_uses_tls(&mut conn), "sslmode=require is kept");
    } else {
        // A server without TLS refuses sslmode=require: the mode was not overridden.
        let err = required.expect_err("sslmode=require against a server without TLS");
        assert!(err.to_string().contains("SSL"), "{err}");
    }
}
