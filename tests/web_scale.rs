//! The admin pages at the size of a real site (tests/common/scale.rs: 300 projects,
//! 2,000+ items, 600 jobs), on both backends: the overview's search, sort, filters,
//! pages and totals; one truthful last sync on the overview, the project page and the
//! jobs list; the jobs list's pages, total, filters and visibility; no link to a page
//! that would answer the viewer 403.

mod common;
#[path = "common/web.rs"]
mod web;

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use reqwest::StatusCode;
use sodarcache::db::models::{JobStatus, Project, SyncJob};
use sodarcache::db::schema::{cache_items, sync_jobs};

use common::scale::{self, Scale};
use common::{TestApp, TestDb};
use web::*;

fn site(db: &TestDb) -> (TestApp, Scale) {
    let app = TestApp::spawn(db, scale::server_plugins(), |_| {});
    let scale = scale::build(db, &app);
    (app, scale)
}

/// The project titles of the overview's table, in order.
fn titles(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"projects\"") else {
        return Vec::new();
    };
    let table = &html[start..start + html[start..].find("</table>").expect("table end")];
    table
        .split("<tr")
        .skip(2)
        .map(|row| {
            let link = &row[row
                .find("class=\"cut\" href=\"/cache/project/")
                .expect("link")..];
            let text = &link[link.find('>').expect(">") + 1..];
            text[..text.find("</a>").expect("</a>")].to_owned()
        })
        .collect()
}

/// The overview row of `p`.
fn row<'a>(html: &'a str, p: &Project) -> &'a str {
    let at = html
        .find(&format!("href=\"/cache/project/{}\"", p.uuid))
        .unwrap_or_else(|| panic!("{} listed", p.title));
    let start = html[..at].rfind("<tr").expect("row start");
    &html[start..at + html[at..].find("</tr>").expect("row end")]
}

/// The newest finished job covering `p`, worked out here from every job (the rule:
/// its own jobs, and site jobs started after it was created).
fn expected_last_sync(app: &TestApp, p: &Project) -> Option<SyncJob> {
    let jobs: Vec<SyncJob> = sync_jobs::table
        .select(SyncJob::as_select())
        .load(&mut **app.conn())
        .unwrap();
    jobs.into_iter()
        .filter(|j| j.status.is_finished())
        .filter(|j| match j.project_id {
            Some(id) => id == p.id,
            None => j.started.is_some_and(|s| s >= p.date_created),
        })
        .max_by_key(|j| j.id)
}

/// Every `/cache/jobs/UUID` link of a page.
fn job_links(html: &str) -> BTreeSet<String> {
    html.split("href=\"/cache/jobs/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_owned)
        .collect()
}

backend_test! {
    fn the_overview_pages_searches_sorts_filters_and_counts_in_the_database(db) {
        let (app, scale) = site(&db);
        run(async {
            let c = logged_in(&app, "root").await;
            let html = page(&c, &app, "/cache/").await;
            let t = titles(&html);
            assert_eq!(t.len(), 50, "50 rows a page");
            let natural: Vec<String> = (1..=50).map(|i| format!("Bulk project {i}")).collect();
            assert_eq!(t, natural, "numbers in natural order");
            let totals = strip_tags(&html[html.find("id=\"totals\"").unwrap()..]);
            let items = sodarcache::web::format::count(scale.items as i64);
            assert!(totals.contains("300 projects") && totals.contains(&format!("{items} items")), "{totals}");
            assert!(html.contains("Page 1 of 6"), "pager");
            // All six pages, in both directions: every project once, in the order of the
            // natural sort key (the same bytes compared on both backends).
            let mut want: Vec<&Project> = scale.projects.iter().collect();
            want.sort_by_key(|p| (sodarcache::db::search::natural_key(&p.full_title), p.id));
            let want: Vec<String> = want.iter().map(|p| p.title.clone()).collect();
            let mut asc = Vec::new();
            let mut desc = Vec::new();
            for n in 1..=6 {
                asc.extend(titles(&page(&c, &app, &format!("/cache/?page={n}")).await));
                desc.extend(titles(&page(&c, &app, &format!("/cache/?dir=desc&page={n}")).await));
            }
            assert_eq!(asc, want);
            desc.reverse();
            assert_eq!(desc, want);
            // Search by title or category, case-insensitively for all of Unicode.
            let html = page(&c, &app, "/cache/?q=%C3%84RZTE").await;
            assert_eq!(titles(&html), ["Ärztekammer Studie"]);
            let html = page(&c, &app, "/cache/?q=forschung%20%C3%BCbersicht").await;
            assert_eq!(titles(&html).len(), 3, "every project of the category");
            assert!(html.contains("3 projects match"), "{html}");
            // Sort by a statistic: the big project has the most items and bytes.
            for sort in ["items", "size"] {
                let html = page(&c, &app, &format!("/cache/?sort={sort}&dir=desc")).await;
                assert_eq!(titles(&html)[0], scale.big.title, "sort={sort}");
                assert!(html.contains(&format!("aria-sort=\"descending\"><a href=\"/cache/?sort={sort}\"")), "{sort}: header flips");
            }
            // Empty projects: 300 minus the big one, the hundred with a summary, and the
            // long and guest projects.
            let html = page(&c, &app, "/cache/?empty=1").await;
            assert!(html.contains("197 projects match"), "{html}");
            // Stale: backdate one project's only item by 100 days.
            let stale = &scale.projects[7];
            diesel::update(cache_items::table.filter(cache_items::project_id.eq(stale.id)))
                .set(cache_items::date_modified.eq(sodarcache::db::now() - chrono::Duration::days(100)))
                .execute(&mut **app.conn())
                .unwrap();
            let html = page(&c, &app, "/cache/?stale=90").await;
            assert_eq!(titles(&html), std::slice::from_ref(&stale.title));
            let html = page(&c, &app, "/cache/").await;
            assert!(row(&html, stale).starts_with("<tr class=\"stale\""), "stale rows stand out");
            // Failed last sync: exactly the projects whose newest covering job failed.
            let want: BTreeSet<String> = scale
                .projects
                .iter()
                .filter(|p| expected_last_sync(&app, p).is_some_and(|j| j.status == JobStatus::Failed))
                .map(|p| p.title.clone())
                .collect();
            assert!(!want.is_empty());
            let html = page(&c, &app, "/cache/?status=failed").await;
            let got: BTreeSet<String> = titles(&html).into_iter().collect();
            assert_eq!(got, want);
            for title in &got {
                let p = scale.projects.iter().find(|p| &p.title == title).unwrap();
                assert!(row(&html, p).starts_with("<tr class=\"failed\""), "failed rows stand out");
            }
            // Filters combine, and links keep them.
            let html = page(&c, &app, "/cache/?q=bulk&status=failed&sort=items&dir=desc").await;
            assert!(html.contains("q=bulk&#38;status=failed") || html.contains("q=bulk&amp;status=failed"), "{html}");
            // Bad values are ignored, not errors.
            let (status, _) = get(&c, &app, "/cache/?sort=nope&stale=abc&page=x&status=weird").await;
            assert_eq!(status, StatusCode::OK);
        });
    }
}

backend_test! {
    fn the_last_sync_is_the_same_on_the_overview_the_project_page_and_the_jobs_list(db) {
        let (app, scale) = site(&db);
        run(async {
            for who in ["root", "owner"] {
                let c = logged_in(&app, who).await;
                for page_no in 1..=6 {
                    let html = page(&c, &app, &format!("/cache/?page={page_no}")).await;
                    for p in scale.projects.iter().filter(|p| html.contains(&format!("/cache/project/{}\"", p.uuid))) {
                        let want = expected_last_sync(&app, p);
                        let r = row(&html, p);
                        match &want {
                            None => assert!(r.contains("never synced"), "{}: {r}", p.title),
                            Some(j) => {
                                assert!(r.contains(&format!("status-{}\">", j.status.as_str())), "{}: {r}", p.title);
                                let linked = r.contains(&format!("href=\"/cache/jobs/{}\"", j.uuid));
                                assert_eq!(linked, j.project_id.is_some() || who == "root", "{who}: link to {} for {}", j.uuid, p.title);
                            }
                        }
                    }
                }
                // The project page says the same, and lists the job in its history.
                let mut visit = vec![&scale.projects[41], &scale.projects[3], &scale.projects[200]];
                if who == "root" {
                    visit.extend([&scale.projects[298], &scale.guest_project]);
                }
                for p in visit {
                    let html = page(&c, &app, &format!("/cache/project/{}", p.uuid)).await;
                    let last = &html[html.find("id=\"last-sync\"").unwrap()..];
                    let last = &last[..last.find("</p>").unwrap()];
                    match expected_last_sync(&app, p) {
                        None => {
                            assert!(last.contains("never"), "{}: {last}", p.title);
                            assert!(html.contains("No sync has covered this project yet."), "{}", p.title);
                        }
                        Some(j) => {
                            assert!(last.contains(&format!("status-{}\"", j.status.as_str())), "{}: {last}", p.title);
                            assert!(html.contains(&format!("data-job=\"{}\"", j.uuid)), "history of {}", p.title);
                            // And the jobs list of the project has it.
                            let list = page(&c, &app, &format!("/cache/jobs?project={}", p.uuid)).await;
                            assert!(list.contains(&format!("data-job=\"{}\"", j.uuid)), "jobs of {}", p.title);
                        }
                    }
                }
            }
        });
    }
}

backend_test! {
    fn the_jobs_list_pages_filters_and_shows_every_job_a_user_may_see(db) {
        let (app, scale) = site(&db);
        let count = |f: &dyn Fn(&SyncJob) -> bool| -> i64 {
            let all: Vec<SyncJob> = sync_jobs::table.select(SyncJob::as_select()).load(&mut **app.conn()).unwrap();
            all.iter().filter(|j| f(j)).count() as i64
        };
        run(async {
            let root = logged_in(&app, "root").await;
            let html = page(&root, &app, "/cache/jobs").await;
            assert!(html.contains("600 jobs"), "a total");
            assert!(html.contains("Page 1 of 12"), "a pager");
            let total = |html: &str| -> i64 {
                let t = strip_tags(&html[html.find("id=\"total\">").unwrap() + 11..]);
                t.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
            };
            assert_eq!(total(&page(&root, &app, "/cache/jobs?status=failed").await), count(&|j| j.status == JobStatus::Failed));
            assert_eq!(total(&page(&root, &app, "/cache/jobs?origin=cli").await), count(&|j| j.origin.as_str() == "cli"));
            assert_eq!(total(&page(&root, &app, "/cache/jobs?site=1").await), count(&|j| j.project_id.is_none()));
            assert_eq!(total(&page(&root, &app, "/cache/jobs?user=root&status=done").await), count(&|j| j.status == JobStatus::Done));
            assert_eq!(total(&page(&root, &app, "/cache/jobs?user=nobody").await), 0);
            let big = &scale.big;
            let covering = count(&|j| j.project_id == Some(big.id) || j.project_id.is_none() && j.started.is_some_and(|s| s >= big.date_created));
            assert_eq!(total(&page(&root, &app, &format!("/cache/jobs?project={}", big.uuid)).await), covering);
            // Every page of the list is reachable and the pages do not overlap.
            let mut seen = BTreeSet::new();
            for n in 1..=12 {
                let html = page(&root, &app, &format!("/cache/jobs?page={n}")).await;
                let rows: Vec<&str> = html.split("<tr data-job=\"").skip(1).map(|r| &r[..36]).collect();
                assert_eq!(rows.len(), 50, "page {n}");
                seen.extend(rows.into_iter().map(str::to_owned));
            }
            assert_eq!(seen.len(), 600);

            // The guest, whose five jobs are the oldest of 600, reaches them, and sees
            // whole-site jobs without a link; nothing of other projects.
            let guest = logged_in(&app, "guest").await;
            let want = count(&|j| j.project_id == Some(scale.guest_project.id) || j.project_id.is_none());
            let first = page(&guest, &app, "/cache/jobs").await;
            assert_eq!(total(&first), want, "{}", strip_tags(&first));
            let pages = (want + 49) / 50;
            let last = page(&guest, &app, &format!("/cache/jobs?page={pages}")).await;
            let own: Vec<SyncJob> = sync_jobs::table
                .filter(sync_jobs::project_id.eq(scale.guest_project.id))
                .select(SyncJob::as_select())
                .load(&mut **app.conn())
                .unwrap();
            assert_eq!(own.len(), 5);
            for j in &own {
                assert!(last.contains(&format!("href=\"/cache/jobs/{}\"", j.uuid)), "own job {} reachable", j.uuid);
            }
            // No page links the guest to a job page that would answer 403.
            for path in [
                "/cache/".to_owned(),
                "/cache/jobs".to_owned(),
                format!("/cache/jobs?page={pages}"),
                format!("/cache/project/{}", scale.guest_project.uuid),
            ] {
                let html = page(&guest, &app, &path).await;
                for id in job_links(&html) {
                    let (status, _) = get(&guest, &app, &format!("/cache/jobs/{id}")).await;
                    assert_eq!(status, StatusCode::OK, "{path} links /cache/jobs/{id}");
                }
            }
            // The site-wide page is for superusers (SODARCACHE_SITE_ITEMS_READABLE_BY_ALL).
            let (status, _) = get(&guest, &app, "/cache/site").await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            // Other projects' jobs are not listed, nor reachable by filter.
            let (status, _) = get(&guest, &app, &format!("/cache/jobs?project={}", scale.big.uuid)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        });
    }
}

/// A project's sort values as the overview's rules give them: items and bytes (0 without
/// items), newest and oldest update and last sync finish (none: listed last).
#[derive(Debug, Clone, Copy)]
enum Value {
    Count(i64),
    Time(Option<chrono::NaiveDateTime>),
}

backend_test! {
    fn every_sort_lists_every_project_once_in_its_order_both_ways(db) {
        let (app, scale) = site(&db);
        // The values worked out here from the items and the jobs, not from kept rows.
        type Agg = (Option<i64>, i64, i64, Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>);
        let aggs: Vec<Agg> = cache_items::table
            .group_by(cache_items::project_id)
            .select((
                cache_items::project_id,
                diesel::dsl::count_star(),
                diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(SUM(size_bytes) AS BIGINT)"),
                diesel::dsl::max(cache_items::date_modified),
                diesel::dsl::min(cache_items::date_modified),
            ))
            .load(&mut **app.conn())
            .unwrap();
        let by_project: HashMap<i64, Agg> = aggs.into_iter().filter_map(|a| a.0.map(|p| (p, a))).collect();
        let value = |p: &Project, sort: &str| -> Value {
            let a = by_project.get(&p.id);
            match sort {
                "items" => Value::Count(a.map_or(0, |a| a.1)),
                "size" => Value::Count(a.map_or(0, |a| a.2)),
                "newest" => Value::Time(a.and_then(|a| a.3)),
                "oldest" => Value::Time(a.and_then(|a| a.4)),
                _ => Value::Time(expected_last_sync(&app, p).and_then(|j| j.finished)),
            }
        };
        run(async {
            let c = logged_in(&app, "root").await;
            for sort in ["items", "size", "newest", "oldest", "sync"] {
                let values: HashMap<i64, Value> = scale.projects.iter().map(|p| (p.id, value(p, sort))).collect();
                for desc in [false, true] {
                    let mut want: Vec<&Project> = scale.projects.iter().collect();
                    want.sort_by(|a, b| {
                        let by_value = match (values[&a.id], values[&b.id]) {
                            (Value::Count(x), Value::Count(y)) => if desc { y.cmp(&x) } else { x.cmp(&y) },
                            (Value::Time(x), Value::Time(y)) => match (x, y) {
                                (Some(x), Some(y)) => if desc { y.cmp(&x) } else { x.cmp(&y) },
                                (Some(_), None) => Ordering::Less,
                                (None, Some(_)) => Ordering::Greater,
                                (None, None) => Ordering::Equal,
                            },
                            _ => unreachable!(),
                        };
                        by_value
                            .then_with(|| sodarcache::db::search::natural_key(&a.full_title).cmp(&sodarcache::db::search::natural_key(&b.full_title)))
                            .then_with(|| a.id.cmp(&b.id))
                    });
                    let want: Vec<String> = want.iter().map(|p| p.title.clone()).collect();
                    let dir = if desc { "&dir=desc" } else { "" };
                    let mut got = Vec::new();
                    for n in 1..=6 {
                        got.extend(titles(&page(&c, &app, &format!("/cache/?sort={sort}{dir}&page={n}")).await));
                    }
                    assert_eq!(got.len(), want.len(), "sort={sort}{dir}: every project once");
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert_eq!(g, w, "sort={sort}{dir}: row {i}");
                    }
                }
            }
            // The same through filters: failed ones by title, and a search sorted by sync.
            let failed: Vec<String> = {
                let mut f: Vec<&Project> = scale
                    .projects
                    .iter()
                    .filter(|p| expected_last_sync(&app, p).is_some_and(|j| j.status == JobStatus::Failed))
                    .collect();
                f.sort_by_key(|p| (sodarcache::db::search::natural_key(&p.full_title), p.id));
                f.iter().map(|p| p.title.clone()).collect()
            };
            let html = page(&c, &app, "/cache/?status=failed").await;
            assert_eq!(titles(&html), failed[..failed.len().min(50)]);
        });
    }
}
