//! schemathesis (PyPI, pinned in `scripts/install-deps`) against a live server's
//! `/cache/api/openapi.json` with `--checks all`, on both backends: every generated
//! request answers with a documented status, content type, headers and schema, no 5xx,
//! invalid input refused, no endpoint open without credentials.
//!
//! Its project UUIDs are random, so most operations end at the gate (401, 404); the
//! hand-written tests cover what lies behind it. (schemathesis 3.39's `--set-path` would
//! pin the fixture project, but crashes on the list operation.)
//!
//! `scripts/test` installs it and sets `SODARCACHE_SCHEMATHESIS` (the `st` program) and
//! `SODARCACHE_REQUIRE_SCHEMATHESIS=1`; run directly without them, the test is skipped.
//! The run is derandomized (the same examples every time) and limited to a few dozen
//! examples per operation, so it takes a minute or two.

#[path = "api_helpers/mod.rs"]
mod api_helpers;
mod common;

use std::process::Command;

use api_helpers::{MEDIA, World};

/// The `st` program, or `None` (a skip) when it is not installed.
fn schemathesis() -> Option<String> {
    match std::env::var("SODARCACHE_SCHEMATHESIS")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
    {
        Some(st) => Some(st),
        None if std::env::var("SODARCACHE_REQUIRE_SCHEMATHESIS").is_ok_and(|v| v == "1") => {
            panic!(
                "SODARCACHE_REQUIRE_SCHEMATHESIS=1 but SODARCACHE_SCHEMATHESIS names no program (scripts/install-deps installs it)"
            )
        }
        None => {
            eprintln!("skipped: SODARCACHE_SCHEMATHESIS is not set (scripts/test sets it)");
            None
        }
    }
}

backend_test! {
    fn schemathesis_finds_no_failure_against_the_published_document(db) {
        let Some(st) = schemathesis() else { return };
        let w = World::new(&db);
        let token = &w.tokens["superuser"];
        // Its example database (`.hypothesis/`) goes to a temporary directory, not the tree.
        let scratch = tempfile::tempdir().unwrap();
        let out = Command::new(st)
            .current_dir(scratch.path())
            .arg("run")
            .arg(w.app.url("/cache/api/openapi.json"))
            .args(["--checks", "all"])
            .args(["--hypothesis-max-examples", "30"])
            .arg("--hypothesis-derandomize")
            .args(["--hypothesis-deadline", "300000"])
            .args(["--request-timeout", "60000"])
            // The real credentials below, not generated ones (generated cookie values
            // hold control characters that no HTTP server accepts as a header).
            .args(["--generation-with-security-parameters", "false"])
            .args(["-H", &format!("Authorization: token {token}")])
            .args(["-H", &format!("Accept: {MEDIA}; version=2.0")])
            .arg("--no-color")
            .args(["--schemathesis-io-telemetry", "false"])
            .output()
            .expect("run schemathesis");
        let report = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "schemathesis found failures:\n{report}");
        assert!(report.contains("not_a_server_error"), "{report}");
    }
}
