//! Absolute links (the item page's copy-as-curl line, REST list `next`/`previous`)
//! come from `SODARCACHE_PUBLIC_URL`, or from forwarding headers of trusted proxies
//! only, never from a forged `Host`; the curl line is quoted for a POSIX shell.

mod common;
#[path = "common/web.rs"]
mod web;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sodarcache::auth::address::TrustedProxies;
use sodarcache::auth::token;
use sodarcache::db::models::{Project, Role};
use sodarcache::plugins::PluginRegistry;
use sodarcache::settings::Settings;

use common::fixtures as fx;
use common::{TestApp, TestDb};
use web::*;

const ACCEPT: &str = "application/vnd.bihealth.sodar-core.sodarcache+json; version=2.0";

struct Site {
    app: TestApp,
    project: Project,
    item: String,
    token: String,
}

fn site(db: &TestDb, tweak: impl FnOnce(&mut Settings)) -> Site {
    let app = TestApp::spawn(db, PluginRegistry::builder(), tweak);
    let (project, token) = {
        let conn = &mut *app.conn();
        let alice = fx::user(conn, "alice", true);
        let p = fx::project(conn, "P", None, None);
        fx::role(conn, &p, &alice, Role::Owner);
        (p, token::create(conn, &alice, None).unwrap())
    };
    let cache = app.registry.cache_unchecked();
    for name in ["a", "b", "c"] {
        cache
            .set_cache_item("sodarcache", name, &json!(1), "json", Some(&project), None)
            .unwrap();
    }
    let item = cache
        .get_cache_item("sodarcache", "a", Some(&project))
        .unwrap()
        .unwrap()
        .uuid
        .to_string();
    Site {
        app,
        project,
        item,
        token,
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The item page's curl line, as a user would copy it, fetched with these headers.
async fn curl_line(s: &Site, c: &reqwest::Client, headers: &[(&str, &str)]) -> String {
    let mut req = c.get(s.app.url(&format!("/cache/item/{}", s.item)));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let html = req.send().await.unwrap().text().await.unwrap();
    let start = html.find("id=\"curl\">").expect("a curl line") + "id=\"curl\">".len();
    unescape(&html[start..start + html[start..].find("</code>").unwrap()])
}

/// The arguments a POSIX shell passes to `curl` for `line` (curl replaced by a printer,
/// so anything the line would run besides shows up too).
fn shell_args(line: &str) -> Vec<String> {
    let script = format!("curl() {{ for a in \"$@\"; do printf '%s\\n' \"$a\"; done; }}; {line}");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn list_next(s: &Site, headers: &[(&str, &str)]) -> String {
    let mut req = reqwest::Client::new()
        .get(
            s.app
                .url(&format!("/cache/api/list/{}?page_size=1", s.project.uuid)),
        )
        .header("Accept", ACCEPT)
        .header("Authorization", format!("token {}", s.token));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["next"].as_str().expect("a next link").to_owned()
}

backend_test! {
    fn a_forged_host_never_reaches_the_curl_line_or_the_next_link(db) {
        let s = site(&db, |_| {});
        run(async {
            let c = logged_in(&s.app, "alice").await;
            let port = s.app.addr.rsplit(':').next().unwrap().to_owned();
            let line = curl_line(&s, &c, &[("Host", "evil';id;echo '"), ("X-Forwarded-Host", "evil.example")]).await;
            let args = shell_args(&line);
            assert_eq!(args.len(), 5, "only curl runs, with its own arguments: {args:?}");
            let url = &args[4];
            assert!(url.starts_with("http://127.0.0.1:") && url.contains(&format!(":{port}/cache/api/retrieve/")), "{url}");
            // A well-formed Host is used as it is; forwarding headers from an untrusted peer are not.
            let line = curl_line(&s, &c, &[("Host", "cache.lab:8000"), ("X-Forwarded-Proto", "https")]).await;
            assert!(shell_args(&line)[4].starts_with("http://cache.lab:8000/cache/api/retrieve/"), "{line}");
            let next = list_next(&s, &[("X-Forwarded-Host", "evil.example"), ("Forwarded", "host=evil.example")]).await;
            assert!(next.starts_with("http://127.0.0.1:"), "{next}");
        });
    }
}

backend_test! {
    fn forwarding_headers_of_trusted_proxies_decide_absolute_links(db) {
        let proxied = site(&db, |s| s.trusted_proxies = TrustedProxies::parse("127.0.0.0/8").unwrap());
        run(async {
            let next = list_next(&proxied, &[("X-Forwarded-Host", "cache.example.org"), ("X-Forwarded-Proto", "https")]).await;
            assert!(next.starts_with("https://cache.example.org/cache/api/list/"), "{next}");
            let next = list_next(&proxied, &[("Forwarded", "for=192.0.2.1;proto=https;host=fw.example.org")]).await;
            assert!(next.starts_with("https://fw.example.org/cache/api/list/"), "{next}");
        });
    }
}

backend_test! {
    fn the_public_url_wins_over_every_header(db) {
        let public = site(&db, |s| {
            s.trusted_proxies = TrustedProxies::parse("127.0.0.0/8").unwrap();
            s.public_url = Some("https://cache.example.org/sodar".into());
        });
        run(async {
            let next = list_next(&public, &[("X-Forwarded-Host", "other.example")]).await;
            assert!(next.starts_with("https://cache.example.org/sodar/cache/api/list/"), "{next}");
            assert!(next.ends_with("page=2&page_size=1"), "{next}");
            let c = logged_in(&public.app, "alice").await;
            let line = curl_line(&public, &c, &[("Host", "evil.example")]).await;
            assert!(shell_args(&line)[4].starts_with("https://cache.example.org/sodar/cache/api/retrieve/"), "{line}");
        });
    }
}

#[test]
fn a_malformed_public_url_is_a_startup_error() {
    for bad in ["cache.example.org", "https://a b", "https://x/?q=1"] {
        let e = Settings::from_lookup(None, |k| {
            (k == "SODARCACHE_PUBLIC_URL").then(|| bad.to_owned())
        })
        .err();
        assert!(
            e.is_some_and(|e| e.starts_with("SODARCACHE_PUBLIC_URL: ")),
            "{bad}"
        );
    }
}
