//! A plugin shaped like SODAR's sample sheets app, the main writer of the cache
//! upstream: a parent app with two sub-apps, `irods/rows/{uuid}`-style names, a slow
//! external source, per-path errors stored as `null`, progress, cooperative
//! cancellation and one large item.
//!
//! ```sh
//! cargo run --example sample_sheets -- project add "Sheets"       # prints the UUID
//! cargo run --example sample_sheets -- synccache -p UUID -a samplesheets.assayapps.cytof
//! cargo run --example sample_sheets -- serve                      # then press Sync
//! ```
//!
//! The "iRODS" it reads is a small HTTP server on 127.0.0.1 that this program starts
//! itself ([`Source`]): every request waits `SAMPLE_SHEETS_DELAY_MS` (default 200) and
//! every third path of an assay fails with a 500. `SAMPLE_SHEETS_ASSAYS` (default 3)
//! sets the assays per project.
//!
//! What it writes for a project `P`:
//!
//! | app | item | data |
//! |---|---|---|
//! | `samplesheets.assayapps.cytof` | `irods/rows/{assay}` | per iRODS path its stats, or `null` when reading it failed |
//! | `samplesheets.studyapps.germline` | `sheet/tables/study/{P}` | the rendered study table (about 1 MB), stored as the source sent it |
//! | `samplesheets` | `irods/stats/project/{P}` | assays, paths, failed paths |

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use sodarcache::plugin::prelude::*;

/// The parent app.
pub const APP: &str = "samplesheets";
/// The assay sub-app (iRODS rows per assay).
pub const CYTOF: &str = "samplesheets.assayapps.cytof";
/// The study sub-app (rendered study tables).
pub const GERMLINE: &str = "samplesheets.studyapps.germline";
/// Both sub-apps: not plugins of their own, but valid app names everywhere.
pub const SUB_APPS: &[&str] = &[CYTOF, GERMLINE];

/// iRODS paths per assay; every third one fails.
pub const PATHS_PER_ASSAY: usize = 3;
/// Rows of a rendered study table (about 1 MB of JSON).
pub const STUDY_ROWS: usize = 5_000;

/// The slow external source: an HTTP server on 127.0.0.1 with a delay per request.
#[derive(Debug)]
pub struct Source {
    addr: SocketAddr,
}

impl Source {
    /// Starts the server on a free port; every request waits `delay` first.
    pub fn start(delay: Duration) -> std::io::Result<Source> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = serve_one(stream, delay);
                });
            }
        });
        Ok(Source { addr })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// GETs `path`; the body, or why not (connection error, or a status other than 200).
    pub fn get(&self, path: &str) -> Result<String, String> {
        let mut stream = TcpStream::connect(self.addr).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: source\r\n\r\n").map_err(|e| e.to_string())?;
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .map_err(|e| e.to_string())?;
        let (head, body) = reply.split_once("\r\n\r\n").ok_or("no HTTP reply")?;
        let status = head.split_whitespace().nth(1).unwrap_or("?");
        if status != "200" {
            return Err(format!("{path}: HTTP {status}"));
        }
        Ok(body.to_owned())
    }
}

/// The assays of a project: derived from its UUID, so every run sees the same ones.
fn assays_of(project: uuid::Uuid, n: usize) -> Vec<uuid::Uuid> {
    (1..=n as u128)
        .map(|i| uuid::Uuid::from_u128(project.as_u128() ^ i))
        .collect()
}

fn serve_one(mut stream: TcpStream, delay: Duration) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    std::thread::sleep(delay);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (status, body) = match parts.as_slice() {
        ["assays", project, n] => match (project.parse(), n.parse()) {
            (Ok(p), Ok(n)) => ("200 OK", json!(assays_of(p, n)).to_string()),
            _ => ("400 Bad Request", "{}".into()),
        },
        ["irods", assay, k] => match k.parse::<usize>() {
            Ok(k) if k % 3 == 2 => ("500 Internal Server Error", "{}".into()),
            Ok(k) => (
                "200 OK",
                json!({ "path": format!("/irods/{assay}/{k}"), "files": 3 * k + 1, "bytes": 1024 * (k + 1) })
                    .to_string(),
            ),
            Err(_) => ("400 Bad Request", "{}".into()),
        },
        ["study", project] => ("200 OK", study_table(project)),
        _ => ("404 Not Found", "{}".into()),
    };
    write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A rendered study table as the source sends it: columns and [`STUDY_ROWS`] rows.
fn study_table(project: &str) -> String {
    let rows: Vec<Value> = (0..STUDY_ROWS)
        .map(|i| {
            json!([
                format!("{project}-sample-{i:05}"),
                "Homo sapiens",
                i % 7,
                "blood",
                format!("extract-{i}"),
                format!("library-{i}")
            ])
        })
        .collect();
    json!({ "columns": ["Sample", "Organism", "Batch", "Material", "Extract", "Library"], "rows": rows })
        .to_string()
}

/// The sample sheets plugin.
pub struct SampleSheets {
    source: Arc<Source>,
    assays: usize,
}

impl SampleSheets {
    /// A plugin reading `source`, with `assays` assays per project.
    pub fn new(source: Arc<Source>, assays: usize) -> Self {
        SampleSheets { source, assays }
    }

    /// One project's items, the way upstream's `update_cache` does it: sub-app by
    /// sub-app, checking for cancellation between requests to the slow source.
    fn sync_one(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        let assays: Vec<uuid::Uuid> = serde_json::from_str(
            &self
                .source
                .get(&format!("/assays/{}/{}", project.uuid, self.assays))
                .map_err(sodarcache::plugin::anyhow::Error::msg)?,
        )?;
        let mut failed = 0;
        if ctx.wants_app(CYTOF) {
            let cytof = ctx.sub_app(CYTOF)?;
            for (i, assay) in assays.iter().enumerate() {
                ctx.progress(i as u64, assays.len() as u64, format!("assay {assay}"));
                let name = format!("irods/rows/{assay}");
                if !ctx.wants(&name) {
                    continue;
                }
                let mut paths = serde_json::Map::new();
                for k in 0..PATHS_PER_ASSAY {
                    // Cooperative cancellation: stop between slow requests.
                    ctx.check_cancelled()?;
                    let path = format!("/irods/{assay}/{k}");
                    // A path that cannot be read is `null`; the item is still written.
                    let value = match self.source.get(&path) {
                        Ok(body) => serde_json::from_str(&body).unwrap_or(Value::Null),
                        Err(_) => {
                            failed += 1;
                            Value::Null
                        }
                    };
                    paths.insert(path, value);
                }
                cytof.set(&name, &json!({ "assay": assay, "paths": paths }))?;
            }
        }
        let study = format!("sheet/tables/study/{}", project.uuid);
        if ctx.wants_app(GERMLINE) && ctx.wants(&study) {
            ctx.check_cancelled()?;
            ctx.progress(assays.len() as u64, assays.len() as u64, "study table");
            let table = self
                .source
                .get(&format!("/study/{}", project.uuid))
                .map_err(sodarcache::plugin::anyhow::Error::msg)?;
            // One large item, stored as the source sent it: no second copy in memory.
            ctx.sub_app(GERMLINE)?
                .set_raw(&study, RawValue::from_string(table)?)?;
        }
        let stats = format!("irods/stats/project/{}", project.uuid);
        if ctx.wants_app(APP) && ctx.wants(&stats) {
            ctx.set(
                &stats,
                &json!({
                    "assays": assays.len(),
                    "paths": assays.len() * PATHS_PER_ASSAY,
                    "failed_paths": failed,
                }),
            )?;
        }
        ctx.progress(assays.len() as u64, assays.len() as u64, "done");
        Ok(())
    }
}

impl ProjectAppPlugin for SampleSheets {
    fn name(&self) -> &'static str {
        APP
    }

    fn title(&self) -> &'static str {
        "Sample sheets"
    }

    fn sub_apps(&self) -> &'static [&'static str] {
        SUB_APPS
    }

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        self.sync_one(ctx, project)
    }

    /// Every project in one pass (upstream opens one iRODS session for all of them):
    /// each project isolated, stopping when the job is cancelled.
    fn sync_site(&self, ctx: &SyncContext) -> SyncResult {
        ctx.each_project(|ctx, project| self.sync_one(ctx, project))
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let delay = Duration::from_millis(env_number("SAMPLE_SHEETS_DELAY_MS", 200));
    let source = match Source::start(delay) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("cannot start the sample source: {e}");
            return ExitCode::FAILURE;
        }
    };
    let assays = env_number("SAMPLE_SHEETS_ASSAYS", 3) as usize;
    run_cli(PluginRegistry::builder().project_app(SampleSheets::new(source, assays)))
}
