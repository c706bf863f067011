//! `GET /metrics`: off by default, behind a bearer token or on its own address, in a
//! Prometheus text exposition that a strict reader accepts, with counters that move.

mod common;
#[path = "common/web.rs"]
mod web;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestApp;
use common::fixtures as fx;
use common::plugins::TestPlugin;
use sodarcache::cache::jobs::request_sync;
use sodarcache::db::models::{JobStatus, Origin, SyncJob};
use sodarcache::plugins::PluginRegistry;
use web::{client, poll, run};

/// A sample: metric name and its labels, sorted.
type Key = (String, BTreeMap<String, String>);

/// Reads a Prometheus text exposition (0.0.4) strictly: every line is a `# HELP`, a
/// `# TYPE` before its family's samples, or a sample with valid names, quoted and
/// escaped label values and a number; histogram buckets are cumulative and end in
/// `+Inf` = `_count`. Panics on the first violation; returns every sample.
fn parse_exposition(text: &str) -> BTreeMap<Key, f64> {
    fn name_ok(s: &str, colon: bool) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    }
    fn number(s: &str) -> Option<f64> {
        match s {
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            _ => s.parse().ok(),
        }
    }
    assert!(text.ends_with('\n'), "exposition ends with a newline");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeMap<String, ()> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "no empty lines");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(name_ok(name, true), "HELP name: {line}");
            assert!(
                helps.insert(name.to_owned(), ()).is_none(),
                "HELP twice: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(name_ok(name, true), "TYPE name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#'),
            "only HELP and TYPE comments: {line}"
        );
        let name_end = line.find(['{', ' ']).expect("sample has a value");
        let name = &line[..name_end];
        assert!(name_ok(name, true), "sample name: {line}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut pos = 0;
            loop {
                if body[pos..].starts_with('}') {
                    rest = &body[pos + 1..];
                    break;
                }
                let eq = pos + body[pos..].find('=').expect("label=value");
                let label = &body[pos..eq];
                assert!(name_ok(label, false), "label name {label:?}: {line}");
                assert_eq!(body.get(eq + 1..eq + 2), Some("\""), "quoted value: {line}");
                let mut value = String::new();
                let mut i = eq + 2;
                loop {
                    let c = body[i..].chars().next().expect("closing quote");
                    i += c.len_utf8();
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = body[i..].chars().next().expect("escape");
                            i += 1;
                            value.push(match e {
                                '\\' => '\\',
                                '"' => '"',
                                'n' => '\n',
                                _ => panic!("bad escape \\{e}: {line}"),
                            });
                        }
                        c => value.push(c),
                    }
                }
                assert!(
                    labels.insert(label.to_owned(), value).is_none(),
                    "label twice: {line}"
                );
                match body.get(i..i + 1) {
                    Some(",") => pos = i + 1,
                    Some("}") => pos = i,
                    other => panic!("expected , or }} after a label, got {other:?}: {line}"),
                }
            }
        }
        let mut fields = rest.trim_start_matches(' ').split(' ');
        let value = fields
            .next()
            .and_then(number)
            .unwrap_or_else(|| panic!("value: {line}"));
        if let Some(ts) = fields.next() {
            assert!(ts.parse::<i64>().is_ok(), "timestamp: {line}");
        }
        assert!(fields.next().is_none(), "trailing text: {line}");
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.contains_key(*f)))
            .unwrap_or(name);
        let kind = types
            .get(name)
            .or_else(|| types.get(family))
            .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if kind == "histogram" {
            assert!(
                name != family,
                "histogram samples are _bucket, _sum or _count: {line}"
            );
            assert_eq!(
                name.ends_with("_bucket"),
                labels.contains_key("le"),
                "le on buckets only: {line}"
            );
        }
        assert!(
            samples.insert((name.to_owned(), labels), value).is_none(),
            "sample twice: {line}"
        );
    }
    // Buckets: cumulative, ending in +Inf equal to _count.
    for (family, _) in types.iter().filter(|(_, k)| *k == "histogram") {
        let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
        for ((name, labels), v) in &samples {
            if name == &format!("{family}_bucket") {
                let mut rest = labels.clone();
                let le = number(&rest.remove("le").unwrap()).expect("le is a number");
                series.entry(rest).or_default().push((le, *v));
            }
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{family} {labels:?} cumulative"
            );
            let last = buckets.last().unwrap();
            assert_eq!(last.0, f64::INFINITY, "{family} {labels:?} ends with +Inf");
            let count = samples[&(format!("{family}_count"), labels.clone())];
            assert_eq!(last.1, count, "{family} {labels:?}: +Inf bucket = count");
        }
    }
    samples
}

fn value(samples: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .get(&(name.to_owned(), labels))
        .copied()
        .unwrap_or(0.0)
}

const TOKEN: &str = "scrape-me-7f3a";

async fn scrape(addr: &str) -> BTreeMap<Key, f64> {
    let resp = client()
        .get(format!("{addr}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse_exposition(&resp.text().await.unwrap())
}

fn plugins() -> sodarcache::plugins::RegistryBuilder {
    PluginRegistry::builder()
        .project_app(TestPlugin::writes("metrics_alpha", "one"))
        .project_app(TestPlugin::fails("metrics_beta", "broken"))
        // Outlives the 5 s plugin timeout of the test below by far: recorded as a timeout
        // however loaded the machine, while the others have seconds to finish.
        .project_app(TestPlugin::noop("metrics_gamma").after(Duration::from_secs(120)))
}

backend_test! {
    fn metrics_are_off_without_a_token_or_an_address(db) {
        let app = TestApp::spawn(&db, plugins(), |_| {});
        run(async {
            let resp = client().get(app.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(resp.status(), 404);
        });
    }
}

backend_test! {
    fn metrics_need_the_bearer_token(db) {
        let app = TestApp::spawn(&db, plugins(), |s| s.metrics_token = Some(TOKEN.into()));
        run(async {
            let c = client();
            let none = c.get(app.url("/metrics")).send().await.unwrap();
            assert_eq!(none.status(), 401);
            assert!(none.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
            for wrong in [format!("Bearer {TOKEN}x"), format!("token {TOKEN}"), "Bearer".into()] {
                let resp = c.get(app.url("/metrics")).header("Authorization", wrong.as_str()).send().await.unwrap();
                assert_eq!(resp.status(), 401, "{wrong}");
            }
            scrape(&app.addr).await;
        });
    }
}

backend_test! {
    fn counters_move_after_requests_and_a_sync(db) {
        let app = TestApp::spawn(&db, plugins(), |s| {
            s.metrics_token = Some(TOKEN.into());
            s.plugin_timeout = Duration::from_secs(5);
        });
        let project = fx::project(&mut app.conn(), "Measured", None, None);
        run(async {
            let before = scrape(&app.addr).await;
            let healthz = [("route", "/healthz"), ("method", "GET"), ("status", "200")];
            let c = client();
            for _ in 0..3 {
                assert_eq!(c.get(app.url("/healthz")).send().await.unwrap().status(), 200);
            }
            assert_eq!(c.get(app.url("/no/such/page")).send().await.unwrap().status(), 404);

            let (job, _) = request_sync(&mut app.conn(), Some(&project), None, Origin::Web, None).unwrap();
            let finished = poll(Duration::from_secs(60), || {
                SyncJob::find_by_id(&mut app.conn(), job.id).unwrap().filter(|j| j.is_finished())
            })
            .await
            .expect("the worker finishes the job");
            assert_eq!(finished.status, JobStatus::Failed);
            // The worker records the job right after finishing it: poll the scrape too.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let after = loop {
                let s = scrape(&app.addr).await;
                let jobs = [("status", "failed"), ("origin", "web")];
                if value(&s, "sodarcache_sync_job_duration_seconds_count", &jobs)
                    > value(&before, "sodarcache_sync_job_duration_seconds_count", &jobs)
                {
                    break s;
                }
                assert!(std::time::Instant::now() < deadline, "job not counted");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };

            let count = "sodarcache_http_request_duration_seconds_count";
            assert!(value(&after, count, &healthz) >= value(&before, count, &healthz) + 3.0);
            let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
            assert!(value(&after, count, &unmatched) >= 1.0);
            let scrapes = [("route", "/metrics"), ("method", "GET"), ("status", "200")];
            assert!(value(&after, count, &scrapes) >= 1.0);

            // Both backends' variants share this process's counters: compare with before.
            let failures = |plugin, reason| {
                let labels = [("plugin", plugin), ("reason", reason)];
                let name = "sodarcache_plugin_failures_total";
                value(&after, name, &labels) - value(&before, name, &labels)
            };
            assert!(failures("metrics_beta", "error") >= 1.0);
            assert!(failures("metrics_gamma", "timeout") >= 1.0);
            assert_eq!(failures("metrics_beta", "timeout"), 0.0);
            assert_eq!(failures("metrics_alpha", "error") + failures("metrics_alpha", "timeout"), 0.0);

            assert_eq!(value(&after, "sodarcache_cache_items", &[("app", "metrics_alpha")]), 1.0);
            assert!(value(&after, "sodarcache_cache_bytes", &[("app", "metrics_alpha")]) > 0.0);
            assert!(value(&after, "sodarcache_sync_jobs", &[("status", "failed")]) >= 1.0);
            assert_eq!(value(&after, "sodarcache_sync_jobs", &[("status", "queued")]), 0.0);
            assert_eq!(value(&after, "sodarcache_database_up", &[]), 1.0);
            assert_eq!(value(&after, "sodarcache_db_pool_max_connections", &[]), 8.0);
            assert!(value(&after, "sodarcache_db_pool_wait_seconds_count", &[])
                > value(&before, "sodarcache_db_pool_wait_seconds_count", &[]));
            assert!(value(&after, "sodarcache_db_pool_connections", &[("state", "idle")])
                + value(&after, "sodarcache_db_pool_connections", &[("state", "in_use")]) >= 1.0);
        });
    }
}

backend_test! {
    fn a_metrics_address_serves_metrics_there_only(db) {
        let app = TestApp::spawn(&db, plugins(), |s| s.metrics_bind = Some("127.0.0.1:0".into()));
        let metrics = app.metrics_addr.clone().expect("metrics server");
        run(async {
            let c = client();
            assert_eq!(c.get(app.url("/metrics")).send().await.unwrap().status(), 404);
            let resp = c.get(format!("{metrics}/metrics")).send().await.unwrap();
            assert_eq!(resp.status(), 200, "no token needed when none is set");
            let samples = parse_exposition(&resp.text().await.unwrap());
            assert_eq!(value(&samples, "sodarcache_database_up", &[]), 1.0);
            assert_eq!(c.get(format!("{metrics}/cache/")).send().await.unwrap().status(), 404);
        });
    }
}

#[test]
fn the_strict_reader_rejects_broken_expositions() {
    let ok = "# TYPE a counter\na_total 1\n";
    parse_exposition(ok);
    for bad in [
        "a_total 1\n",                      // no TYPE
        "# TYPE a counter\na_total one\n",  // not a number
        "# TYPE a gauge\na{x=\"1} 2\n",     // unclosed quote
        "# TYPE a gauge\na{x=\"\\q\"} 2\n", // bad escape
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", // not cumulative
        "# TYPE a gauge\na 1", // no final newline
    ] {
        let caught = std::panic::catch_unwind(|| parse_exposition(bad));
        assert!(caught.is_err(), "accepted: {bad:?}");
    }
}
