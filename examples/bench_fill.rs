//! Fills a database for `scripts/bench`: users, projects, a token and cache items.
//!
//! `cargo run --release --example bench_fill -- DATABASE_URL [ITEMS]` prints shell
//! assignments (`TOKEN=... SMALL=...`) the bench script evaluates. With `ITEMS`, it only
//! (re)writes that many items into the project named "Many items" and prints its UUID.

use serde_json::json;
use sodarcache::auth::{password, token};
use sodarcache::cache::CacheWrite;
use sodarcache::db::models::{NewProject, Project, ProjectType, Role, RoleAssignment, User};
use sodarcache::db::{self, JsonText, PoolOptions};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};
use sodarcache::settings::Settings;

fn project(conn: &mut db::DbConn, title: &str, parent: &Project) -> Project {
    Project::create(
        conn,
        &NewProject {
            title,
            project_type: ProjectType::Project,
            parent: Some(parent),
            description: "benchmark",
            public_access: None,
        },
    )
    .expect("project")
}

fn fill(cache: &sodarcache::cache::SodarCache, project: &Project, n: usize) {
    let data = JsonText::from_value(&json!({"value": "x".repeat(200), "n": 1}));
    let names: Vec<String> = (0..n).map(|i| format!("item_{i:05}")).collect();
    for chunk in names.chunks(2000) {
        let writes: Vec<CacheWrite<'_>> = chunk
            .iter()
            .map(|name| CacheWrite {
                app_name: "example_project_app",
                name,
                data: data.clone(),
                project: Some(project),
                user: None,
            })
            .collect();
        cache.set_cache_items(&writes).expect("fill");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: bench_fill DATABASE_URL [ITEMS]");
    let only_items: Option<usize> = args.next().map(|n| n.parse().expect("ITEMS is a number"));
    let pool = db::open(&url, &PoolOptions::default()).expect("open database");
    let settings = Settings {
        database_url: url.clone(),
        ..Settings::default()
    };
    let registry = PluginRegistry::builder()
        .project_app(ExampleProjectApp)
        .build(pool.clone(), &settings);
    let cache = registry.cache().expect("cache backend");
    let mut conn = pool.get().expect("connection");

    if let Some(n) = only_items {
        let many = Project::list(&mut conn)
            .expect("projects")
            .into_iter()
            .find(|p| p.title == "Many items")
            .expect("run bench_fill without ITEMS first");
        fill(&cache, &many, n);
        println!("MANY={}", many.uuid);
        return;
    }

    let user = User::create(
        &mut conn,
        "bench",
        &password::hash("bench").expect("hash"),
        false,
    )
    .expect("user");
    let category = Project::create(
        &mut conn,
        &NewProject {
            title: "Bench",
            project_type: ProjectType::Category,
            parent: None,
            description: "",
            public_access: None,
        },
    )
    .expect("category");
    let small = project(&mut conn, "Small items", &category);
    let few = project(&mut conn, "Few items", &category);
    let many = project(&mut conn, "Many items", &category);
    for p in [&small, &few, &many] {
        RoleAssignment::set(&mut conn, p, &user, Role::Owner).expect("role");
    }
    // 1 KB and 1 MB items.
    let kb = json!({"payload": "a".repeat(1000)});
    let mb = json!({"rows": (0..10_000).map(|i| json!({"i": i, "v": "b".repeat(84)})).collect::<Vec<_>>()});
    cache
        .set_cache_item(
            "example_project_app",
            "item_1k",
            &kb,
            "json",
            Some(&small),
            Some(&user),
        )
        .expect("1k");
    cache
        .set_cache_item(
            "example_project_app",
            "item_1m",
            &mb,
            "json",
            Some(&small),
            Some(&user),
        )
        .expect("1m");
    fill(&cache, &few, 100);
    fill(&cache, &many, 10_000);
    let secret = token::create(&mut conn, &user, None).expect("token");
    println!("TOKEN={secret}");
    println!("SMALL={}", small.uuid);
    println!("FEW={}", few.uuid);
    println!("MANY={}", many.uuid);
}
