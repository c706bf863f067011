//! Scheduled syncs: per plugin an interval after which the server's worker syncs it in
//! every project by itself, with no cron.
//!
//! The interval is the plugin's default ([`ProjectAppPlugin::sync_interval`]),
//! overridden by `SODARCACHE_SYNC_SCHEDULE`, overridden by a superuser on the
//! Schedules page (a row in `sync_schedules`, read on every pass, so a change applies
//! on every server at once).
//!
//! Each server runs [`run_scheduler`]: every tick it adds a schedule row for projects
//! that have none (due at once), and claims due rows, each with a conditional update
//! that also queues the job ([`ScheduleRun::claim`]): with several servers on one
//! database each due run is queued exactly once. The jobs (origin `scheduled`, one
//! plugin, one project) are run by whichever worker claims them. The next run is due
//! an interval after the claim. While [`MAX_QUEUED`] scheduled jobs wait, no more are
//! queued, so a person's sync request never waits behind a whole site's schedule.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::Runner;
use crate::Result;
use crate::db::DbConn;
use crate::db::models::{
    Event, JobStatus, NewEvent, Origin, ScheduleOverride, ScheduleRun, ScheduleSummary, SyncJob,
    User,
};
use crate::plugin::ProjectAppPlugin;

/// Scheduled jobs allowed to wait in the queue at once (across servers).
pub const MAX_QUEUED: i64 = 4;
/// Shortest interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest interval: a year.
pub const MAX_INTERVAL: Duration = Duration::from_secs(365 * 86_400);
/// New projects get their schedule rows at least this often (and at least once per
/// shortest interval).
pub const ADD_PROJECTS_EVERY: Duration = Duration::from_secs(30);
/// `SODARCACHE_SYNC_SCHEDULE`: intervals per plugin name (none: off).
pub type ScheduleSetting = Vec<(String, Option<Duration>)>;

/// Where a plugin's interval comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The plugin's [`sync_interval`](ProjectAppPlugin::sync_interval).
    Plugin,
    /// `SODARCACHE_SYNC_SCHEDULE`.
    Setting,
    /// A superuser, on the Schedules page.
    Page,
}

impl Source {
    /// How the Schedules page names it.
    pub fn label(self) -> &'static str {
        match self {
            Source::Plugin => "plugin default",
            Source::Setting => "SODARCACHE_SYNC_SCHEDULE",
            Source::Page => "set on this page",
        }
    }
}

/// One plugin's schedule and where each part of it comes from.
#[derive(Debug, Clone)]
pub struct PluginSchedule {
    /// Plugin name.
    pub plugin: &'static str,
    /// Plugin title.
    pub title: &'static str,
    /// The plugin's default.
    pub default: Option<Duration>,
    /// The setting's value for it, if the setting names it.
    pub setting: Option<Option<Duration>>,
    /// The Schedules page's value, if a superuser set one.
    pub page: Option<ScheduleOverride>,
    /// The interval in effect (none: no scheduled syncs).
    pub interval: Option<Duration>,
    /// Where [`interval`](Self::interval) comes from.
    pub source: Source,
}

/// Every plugin's schedule, by name.
pub fn schedules(
    conn: &mut DbConn,
    plugins: &[Arc<dyn ProjectAppPlugin>],
    setting: &[(String, Option<Duration>)],
) -> Result<Vec<PluginSchedule>> {
    let overrides = ScheduleOverride::all(conn)?;
    Ok(plugins
        .iter()
        .map(|p| resolve(p.as_ref(), setting, &overrides))
        .collect())
}

/// The schedule of `plugin`: the page over the setting over the plugin's default.
pub fn resolve(
    plugin: &dyn ProjectAppPlugin,
    setting: &[(String, Option<Duration>)],
    overrides: &[ScheduleOverride],
) -> PluginSchedule {
    let default = plugin.sync_interval().map(clamp);
    let set = setting
        .iter()
        .find(|(name, _)| name == plugin.name())
        .map(|(_, d)| *d);
    let page = overrides
        .iter()
        .find(|o| o.plugin == plugin.name())
        .cloned();
    let (interval, source) = match (&page, set) {
        (Some(o), _) => (o.interval_seconds.map(seconds), Source::Page),
        (None, Some(d)) => (d, Source::Setting),
        (None, None) => (default, Source::Plugin),
    };
    PluginSchedule {
        plugin: plugin.name(),
        title: plugin.title(),
        default,
        setting: set,
        page,
        interval,
        source,
    }
}

fn seconds(s: i64) -> Duration {
    clamp(Duration::from_secs(u64::try_from(s).unwrap_or(1)))
}

/// Whole seconds within [`MIN_INTERVAL`] and [`MAX_INTERVAL`].
fn clamp(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs()).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Reads an interval: `off` (also `none`, `never`), or a number with an optional
/// unit: `90` or `90s` seconds, `15m`, `6h`, `1d`, `1.5h`. Whole seconds from 1 s to a
/// year.
pub fn parse_interval(raw: &str) -> std::result::Result<Option<Duration>, String> {
    let text = raw.trim().to_ascii_lowercase();
    if ["off", "none", "never"].contains(&text.as_str()) {
        return Ok(None);
    }
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text.as_str(), "s"),
    };
    let scale = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        _ => {
            return Err(format!(
                "\"{raw}\" is not an interval like 90s, 15m, 6h, 1d or off"
            ));
        }
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("\"{raw}\" is not an interval like 90s, 15m, 6h, 1d or off"))?;
    let secs = (n * scale).round();
    // `contains` is false for NaN.
    if !(MIN_INTERVAL.as_secs_f64()..=MAX_INTERVAL.as_secs_f64()).contains(&secs) {
        return Err(format!(
            "\"{raw}\" must be between 1 second and 365 days (or off)"
        ));
    }
    Ok(Some(Duration::from_secs(secs as u64)))
}

/// An interval as [`parse_interval`] reads it, in the largest exact unit: `6h`, `90m`,
/// `45s`; `off` for none.
pub fn format_interval(d: Option<Duration>) -> String {
    let Some(d) = d else { return "off".into() };
    let s = d.as_secs();
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Reads `SODARCACHE_SYNC_SCHEDULE`: `plugin=interval` pairs separated by commas, e.g.
/// `samplesheets=6h, example_project_app=off`.
pub fn parse_setting(raw: &str) -> std::result::Result<ScheduleSetting, String> {
    let mut out: ScheduleSetting = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, interval)) = part.split_once('=') else {
            return Err(format!(
                "\"{part}\" is not plugin=interval (e.g. samplesheets=6h)"
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("\"{part}\" names no plugin"));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("plugin \"{name}\" is named twice"));
        }
        out.push((name.to_owned(), parse_interval(interval)?));
    }
    Ok(out)
}

/// Checks that `setting` names only registered plugins (a typo would silently
/// schedule nothing).
pub fn check_setting(
    setting: &[(String, Option<Duration>)],
    plugins: &[Arc<dyn ProjectAppPlugin>],
) -> std::result::Result<(), String> {
    for (name, _) in setting {
        if !plugins.iter().any(|p| p.name() == name) {
            let known: Vec<&str> = plugins.iter().map(|p| p.name()).collect();
            return Err(format!(
                "SODARCACHE_SYNC_SCHEDULE: there is no plugin \"{name}\" (plugins: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// One scheduling pass at `now`: adds missing schedule rows when `add_projects`, and
/// queues the due runs (round robin over the plugins, while fewer than
/// [`MAX_QUEUED`] scheduled jobs wait). Returns the jobs queued or joined.
pub fn schedule_due(
    conn: &mut DbConn,
    plugins: &[Arc<dyn ProjectAppPlugin>],
    setting: &[(String, Option<Duration>)],
    now: NaiveDateTime,
    add_projects: bool,
) -> Result<Vec<SyncJob>> {
    let active: Vec<(&'static str, Duration)> = schedules(conn, plugins, setting)?
        .into_iter()
        .filter_map(|s| s.interval.map(|i| (s.plugin, i)))
        .collect();
    let mut due = Vec::with_capacity(active.len());
    let room = MAX_QUEUED - SyncJob::queued_scheduled(conn)?;
    for &(plugin, interval) in &active {
        let next = now + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        if add_projects {
            ScheduleRun::add_missing(conn, plugin, now)?;
        }
        ScheduleRun::bring_forward(conn, plugin, next)?;
        let runs = if room > 0 {
            ScheduleRun::due(conn, plugin, now, room)?
        } else {
            Vec::new()
        };
        due.push((next, runs.into_iter()));
    }
    let mut queued = Vec::new();
    let mut room = room;
    while room > 0 {
        let mut any = false;
        for (next, runs) in &mut due {
            if room <= 0 {
                break;
            }
            let Some(run) = runs.next() else { continue };
            any = true;
            if let Some(job) = run.claim(conn, now, *next)? {
                queued.push(job);
                room -= 1;
            }
        }
        if !any {
            break;
        }
    }
    Ok(queued)
}

/// One plugin's schedule with how its runs went, for the Schedules page.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    /// The schedule.
    pub schedule: PluginSchedule,
    /// Its runs across projects.
    pub summary: ScheduleSummary,
}

/// Every plugin's schedule and runs, by name.
pub fn schedule_rows(
    conn: &mut DbConn,
    plugins: &[Arc<dyn ProjectAppPlugin>],
    setting: &[(String, Option<Duration>)],
) -> Result<Vec<ScheduleRow>> {
    schedules(conn, plugins, setting)?
        .into_iter()
        .map(|schedule| {
            let summary = ScheduleRun::summary(conn, schedule.plugin)?;
            Ok(ScheduleRow { schedule, summary })
        })
        .collect()
}

/// Sets `plugin`'s interval on the Schedules page (`Some(None)`: off), or removes it
/// (`None`: the setting or the plugin's default applies again), and records who did it
/// in the activity log.
pub fn set_interval(
    conn: &mut DbConn,
    plugin: &str,
    interval: Option<Option<Duration>>,
    user: &User,
) -> Result<()> {
    diesel::Connection::transaction(conn, |conn| {
        let description = match interval {
            Some(i) => {
                let secs = i.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                ScheduleOverride::set(conn, plugin, secs, Some(user.id))?;
                match i {
                    Some(_) => format!(
                        "Set scheduled syncs of {plugin} to every {}",
                        format_interval(i)
                    ),
                    None => format!("Turned scheduled syncs of {plugin} off"),
                }
            }
            None => {
                ScheduleOverride::clear(conn, plugin)?;
                format!(
                    "Reset the scheduled syncs of {plugin} to the setting or the plugin's default"
                )
            }
        };
        Event::record(
            conn,
            &NewEvent {
                project_id: None,
                user_id: Some(user.id),
                event_name: "cache_schedule",
                origin: Origin::Web,
                description,
                ok: true,
            },
        )?;
        Ok::<_, crate::Error>(())
    })
}

/// A project's scheduled syncs, as the overview shows them.
#[derive(Debug, Clone, Default)]
pub struct ProjectSchedule {
    /// The earliest next scheduled sync over its scheduled plugins.
    pub next_run_at: Option<NaiveDateTime>,
    /// The plugins whose last scheduled sync failed, with that job.
    pub failed: Vec<(String, SyncJob)>,
}

/// The scheduled syncs of these projects (by id) for the plugins scheduled now;
/// projects without a schedule row are left out.
pub fn for_projects(
    conn: &mut DbConn,
    plugins: &[Arc<dyn ProjectAppPlugin>],
    setting: &[(String, Option<Duration>)],
    project_ids: &[i64],
) -> Result<HashMap<i64, ProjectSchedule>> {
    let active: Vec<&'static str> = schedules(conn, plugins, setting)?
        .into_iter()
        .filter(|s| s.interval.is_some())
        .map(|s| s.plugin)
        .collect();
    let mut out: HashMap<i64, ProjectSchedule> = HashMap::new();
    if active.is_empty() || project_ids.is_empty() {
        return Ok(out);
    }
    let runs = ScheduleRun::for_projects(conn, project_ids, &active)?;
    let job_ids: Vec<i64> = runs.iter().filter_map(|r| r.last_job_id).collect();
    let jobs: HashMap<i64, SyncJob> = SyncJob::find_many(conn, &job_ids)?
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    for run in runs {
        let entry = out.entry(run.project_id).or_default();
        entry.next_run_at = Some(
            entry
                .next_run_at
                .map_or(run.next_run_at, |t| t.min(run.next_run_at)),
        );
        if let Some(job) = run.last_job_id.and_then(|id| jobs.get(&id))
            && job.status == JobStatus::Failed
        {
            entry.failed.push((run.plugin, job.clone()));
        }
    }
    Ok(out)
}

/// Runs [`schedule_due`] every `tick` until the server stops, and wakes this
/// server's worker when it queued a job.
pub async fn run_scheduler(
    runner: Runner,
    setting: ScheduleSetting,
    tick: Duration,
    wake: Arc<tokio::sync::Notify>,
) {
    let mut last_add: Option<Instant> = None;
    loop {
        let c = runner.cache().clone();
        let plugins: Vec<Arc<dyn ProjectAppPlugin>> = runner.plugins().to_vec();
        let s = setting.clone();
        let add_every =
            last_add.is_none_or(|t| t.elapsed() >= ADD_PROJECTS_EVERY.min(shortest(&s)));
        let passed = tokio::task::spawn_blocking(move || -> Result<(usize, bool)> {
            let mut conn = c.conn()?;
            let jobs = schedule_due(&mut conn, &plugins, &s, crate::db::now(), add_every)?;
            Ok((jobs.len(), add_every))
        })
        .await;
        match passed {
            Ok(Ok((queued, added))) => {
                if added {
                    last_add = Some(Instant::now());
                }
                if queued > 0 {
                    tracing::info!(queued, "scheduled syncs queued");
                    wake.notify_one();
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "scheduler cannot reach the database"),
            Err(e) => tracing::error!(error = %e, "scheduler task failed"),
        }
        tokio::time::sleep(tick).await;
    }
}

/// The shortest interval the setting names (the page's are read each pass: a minute
/// at most until a new project gets its row).
fn shortest(setting: &[(String, Option<Duration>)]) -> Duration {
    setting
        .iter()
        .filter_map(|(_, d)| *d)
        .min()
        .unwrap_or(ADD_PROJECTS_EVERY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_with_units_and_round_trip() {
        assert_eq!(parse_interval("90"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(parse_interval(" 15m "), Ok(Some(Duration::from_secs(900))));
        assert_eq!(parse_interval("6H"), Ok(Some(Duration::from_secs(21_600))));
        assert_eq!(parse_interval("1.5h"), Ok(Some(Duration::from_secs(5400))));
        assert_eq!(parse_interval("1d"), Ok(Some(Duration::from_secs(86_400))));
        assert_eq!(parse_interval("off"), Ok(None));
        for bad in [
            "",
            "0",
            "-5m",
            "0.2s",
            "366d",
            "1w",
            "NaN",
            "inf",
            "h",
            "5 parsecs",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
        for s in [1, 45, 60, 5400, 21_600, 86_400, 3661] {
            let d = Some(Duration::from_secs(s));
            assert_eq!(parse_interval(&format_interval(d)), Ok(d));
        }
        assert_eq!(format_interval(Some(Duration::from_secs(5400))), "90m");
        assert_eq!(format_interval(None), "off");
    }

    #[test]
    fn the_setting_pairs_plugins_with_intervals() {
        assert_eq!(
            parse_setting("a=6h, b=off,,"),
            Ok(vec![
                ("a".to_owned(), Some(Duration::from_secs(21_600))),
                ("b".to_owned(), None)
            ])
        );
        assert_eq!(parse_setting(""), Ok(vec![]));
        assert!(parse_setting("a").is_err());
        assert!(parse_setting("=1h").is_err());
        assert!(parse_setting("a=1h,a=2h").is_err());
        assert!(parse_setting("a=soon").is_err());
    }
}
