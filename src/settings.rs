//! Typed settings from the environment. Every value has a default except secrets,
//! and a malformed value is a one-line startup error naming the variable.

use std::time::Duration;

use crate::time_zone::SiteTimeZone;

/// Default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://sodarcache.sqlite3";

/// Runtime configuration.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// `SODARCACHE_ENABLED_BACKEND_PLUGINS`: comma-separated, default `sodar_cache`.
    pub enabled_backends: Vec<String>,
    /// `SODARCACHE_PLUGIN_TIMEOUT_SECONDS`: longest one plugin may run within a job (default 600).
    pub plugin_timeout: Duration,
    /// `SODARCACHE_SECRET_KEY`: signs and encrypts session cookies (64+ bytes); when
    /// unset, a key is generated once and kept in the database.
    pub secret_key: Option<String>,
    /// `SODARCACHE_SECURE_COOKIES`: mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// `SODARCACHE_ALLOW_ANONYMOUS`: anonymous reads of public-guest projects.
    pub allow_anonymous: bool,
    /// `SODARCACHE_MAX_BODY_BYTES`: largest accepted request body (default 32 MiB).
    pub max_body_bytes: usize,
    /// `SODARCACHE_MAX_BODY_BYTES_IN_FLIGHT`: request bodies this process holds at once,
    /// summed over all requests (default 128 MiB, at least `SODARCACHE_MAX_BODY_BYTES`);
    /// a write that would go over waits for nothing: 503 with `Retry-After`.
    pub max_body_bytes_in_flight: usize,
    /// `SODARCACHE_BODY_CACHE_BYTES`: large item bodies (64 KiB and more) a server keeps
    /// in memory for retrieves (default 32 MiB, 0 off; see `api::body_cache`).
    pub body_cache_bytes: usize,
    /// `SODARCACHE_DB_POOL_SIZE`: connections per server process (default 8).
    pub pool_size: u32,
    /// `SODARCACHE_DB_TIMEOUT_SECONDS`: wait for a pooled connection before a 503 (default 5).
    pub db_timeout: Duration,
    /// `SODARCACHE_WORKER_POLL_MS`: how often the job worker looks for queued jobs (default 1000).
    pub worker_poll: Duration,
    /// `SODARCACHE_JOB_STALE_SECONDS`: a running sync job whose worker has not written a
    /// heartbeat for this long belongs to a stopped server and is marked failed (default
    /// 30, at least 1). Workers beat at a sixth of it (at most every 5 s); every server
    /// and CLI sharing a database should use the same value.
    pub job_stale_after: Duration,
    /// `SODARCACHE_METRICS_TOKEN`: turns `/metrics` on, for `Authorization: Bearer`
    /// this token.
    pub metrics_token: Option<String>,
    /// `SODARCACHE_METRICS_BIND`: serve `/metrics` on this address (only there).
    pub metrics_bind: Option<String>,
    /// `SODARCACHE_TIME_ZONE`: IANA name of the zone REST timestamps are rendered in
    /// (default `UTC`; SODAR sites use `Europe/Berlin`).
    pub time_zone: SiteTimeZone,
    /// `SODARCACHE_HISTORY_VERSIONS`: earlier versions kept per item (default 5, 0 off).
    /// Stored in the database at start, so every writer of it keeps the same number.
    pub history_versions: u32,
    /// `SODARCACHE_LOGIN_FAILURE_LIMIT`: failed logins allowed per username and address
    /// within the cool-off (default 5, as django-axes).
    pub login_failure_limit: u32,
    /// `SODARCACHE_LOGIN_ADDRESS_FAILURE_LIMIT`: failed logins allowed per address,
    /// whatever the usernames, within the cool-off (default 30).
    pub login_address_failure_limit: u32,
    /// `SODARCACHE_LOGIN_COOLOFF_SECONDS`: how long failures count and a lockout lasts
    /// after the last one (default 300).
    pub login_cooloff: Duration,
    /// `SODARCACHE_PASSWORD_CHECKS`: password checks at once per process (default half
    /// the CPUs, at least 1).
    pub password_checks: usize,
    /// `SODARCACHE_TRUSTED_PROXIES`: reverse proxies whose forwarding headers are
    /// believed (addresses or CIDR networks; default none).
    pub trusted_proxies: crate::auth::address::TrustedProxies,
    /// `SODARCACHE_PUBLIC_URL`: the scheme, host and port (and path prefix) users reach
    /// the server at, for absolute links; default: from the request (see
    /// [`crate::auth::address::base_url`]).
    pub public_url: Option<String>,
    /// `SODARCACHE_SITE_ITEMS_READABLE_BY_ALL`: let every user read the site-wide items
    /// (default false: superusers only).
    pub site_items_readable_by_all: bool,
    /// `SODARCACHE_SESSION_IDLE_SECONDS`: a login session without a request for this
    /// long has ended (default 86400, one day).
    pub session_idle: Duration,
    /// `SODARCACHE_SESSION_MAX_AGE_SECONDS`: a login session ends this long after the
    /// login (default 1209600, two weeks: Django's `SESSION_COOKIE_AGE`).
    pub session_max_age: Duration,
    /// `SODARCACHE_SYNC_SCHEDULE`: per plugin, the interval of its scheduled syncs
    /// (`samplesheets=6h, example_project_app=off`), over the plugin's default; a
    /// superuser's value on the Schedules page comes first ([`crate::cache::schedule`]).
    pub sync_schedule: crate::cache::schedule::ScheduleSetting,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("enabled_backends", &self.enabled_backends)
            .field("plugin_timeout", &self.plugin_timeout)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("secure_cookies", &self.secure_cookies)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("body_cache_bytes", &self.body_cache_bytes)
            .field("max_body_bytes_in_flight", &self.max_body_bytes_in_flight)
            .field("pool_size", &self.pool_size)
            .field("db_timeout", &self.db_timeout)
            .field("worker_poll", &self.worker_poll)
            .field("job_stale_after", &self.job_stale_after)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("metrics_bind", &self.metrics_bind)
            .field("time_zone", &self.time_zone)
            .field("history_versions", &self.history_versions)
            .field("login_failure_limit", &self.login_failure_limit)
            .field(
                "login_address_failure_limit",
                &self.login_address_failure_limit,
            )
            .field("login_cooloff", &self.login_cooloff)
            .field("password_checks", &self.password_checks)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url)
            .field(
                "site_items_readable_by_all",
                &self.site_items_readable_by_all,
            )
            .field("session_idle", &self.session_idle)
            .field("session_max_age", &self.session_max_age)
            .field("sync_schedule", &self.sync_schedule)
            .finish_non_exhaustive()
    }
}

/// `url` with its password (user info or a `password=` parameter) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    crate::db::redact(url, url)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            enabled_backends: vec![crate::cache::SODAR_CACHE.to_owned()],
            plugin_timeout: Duration::from_secs(600),
            secret_key: None,
            secure_cookies: false,
            allow_anonymous: false,
            max_body_bytes: 32 * 1024 * 1024,
            max_body_bytes_in_flight: 128 * 1024 * 1024,
            body_cache_bytes: crate::api::body_cache::DEFAULT_CAPACITY,
            pool_size: 8,
            db_timeout: Duration::from_secs(5),
            worker_poll: Duration::from_millis(1000),
            job_stale_after: crate::cache::jobs::STALE_AFTER,
            metrics_token: None,
            metrics_bind: None,
            time_zone: SiteTimeZone::utc(),
            history_versions: 5,
            login_failure_limit: 5,
            login_address_failure_limit: 30,
            login_cooloff: Duration::from_secs(300),
            password_checks: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1)),
            trusted_proxies: Default::default(),
            public_url: None,
            site_items_readable_by_all: false,
            session_idle: Duration::from_secs(86_400),
            session_max_age: Duration::from_secs(1_209_600),
            sync_schedule: Vec::new(),
        }
    }
}

impl Settings {
    /// Whether `/metrics` is served at all.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_token.is_some() || self.metrics_bind.is_some()
    }

    /// Reads the environment; `database_url` overrides `DATABASE_URL` when given.
    pub fn from_env(database_url: Option<String>) -> Result<Self, String> {
        Self::from_lookup(database_url, |k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(
        database_url: Option<String>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let d = Settings::default();
        Ok(Settings {
            database_url: match database_url.or_else(|| get("DATABASE_URL")) {
                Some(url) if url.trim().is_empty() => {
                    return Err("DATABASE_URL (or --database-url) is empty: \
                                give sqlite://PATH or postgres://USER@HOST/DB, or leave it unset \
                                for the default sqlite://sodarcache.sqlite3"
                        .to_owned());
                }
                Some(url) => url,
                None => d.database_url,
            },
            enabled_backends: match get("SODARCACHE_ENABLED_BACKEND_PLUGINS") {
                Some(v) => v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                None => d.enabled_backends,
            },
            plugin_timeout: parse_seconds(
                &get,
                "SODARCACHE_PLUGIN_TIMEOUT_SECONDS",
                d.plugin_timeout,
                ONE_YEAR_SECONDS,
            )?,
            secret_key: get("SODARCACHE_SECRET_KEY").filter(|s| !s.is_empty()),
            secure_cookies: parse_bool(&get, "SODARCACHE_SECURE_COOKIES", d.secure_cookies)?,
            allow_anonymous: parse_bool(&get, "SODARCACHE_ALLOW_ANONYMOUS", d.allow_anonymous)?,
            max_body_bytes: parse(&get, "SODARCACHE_MAX_BODY_BYTES", d.max_body_bytes)?,
            max_body_bytes_in_flight: {
                const KEY: &str = "SODARCACHE_MAX_BODY_BYTES_IN_FLIGHT";
                let max_body: usize = parse(&get, "SODARCACHE_MAX_BODY_BYTES", d.max_body_bytes)?;
                let n: usize = parse(&get, KEY, d.max_body_bytes_in_flight.max(max_body))?;
                if n < max_body {
                    return Err(format!(
                        "{KEY}: \"{n}\" must be at least SODARCACHE_MAX_BODY_BYTES ({max_body}), \
                         or no body of the largest size could ever be read"
                    ));
                }
                n
            },
            body_cache_bytes: parse(&get, "SODARCACHE_BODY_CACHE_BYTES", d.body_cache_bytes)?,
            pool_size: parse(&get, "SODARCACHE_DB_POOL_SIZE", d.pool_size)?.max(1),
            db_timeout: parse_seconds(
                &get,
                "SODARCACHE_DB_TIMEOUT_SECONDS",
                d.db_timeout,
                MAX_DB_TIMEOUT_SECONDS,
            )?,
            worker_poll: {
                const KEY: &str = "SODARCACHE_WORKER_POLL_MS";
                let ms: u64 = parse(&get, KEY, 1000u64)?;
                if !(MIN_WORKER_POLL_MS..=3_600_000).contains(&ms) {
                    return Err(format!(
                        "{KEY}: \"{ms}\" must be between {MIN_WORKER_POLL_MS} and 3600000 milliseconds"
                    ));
                }
                Duration::from_millis(ms)
            },
            job_stale_after: {
                const KEY: &str = "SODARCACHE_JOB_STALE_SECONDS";
                let after = parse_seconds(&get, KEY, d.job_stale_after, ONE_YEAR_SECONDS)?;
                if after < Duration::from_secs(1) {
                    return Err(format!(
                        "{KEY}: \"{}\" must be between 1 and {ONE_YEAR_SECONDS} seconds",
                        after.as_secs_f64()
                    ));
                }
                after
            },
            metrics_token: get("SODARCACHE_METRICS_TOKEN").filter(|s| !s.trim().is_empty()),
            metrics_bind: get("SODARCACHE_METRICS_BIND").filter(|s| !s.trim().is_empty()),
            time_zone: match get("SODARCACHE_TIME_ZONE").filter(|s| !s.is_empty()) {
                Some(name) => SiteTimeZone::named(&name)?,
                None => d.time_zone,
            },
            history_versions: {
                const KEY: &str = "SODARCACHE_HISTORY_VERSIONS";
                let n: u32 = parse(&get, KEY, d.history_versions)?;
                if n > 1000 {
                    return Err(format!("{KEY}: \"{n}\" must be between 0 and 1000"));
                }
                n
            },
            login_failure_limit: parse_range(
                &get,
                "SODARCACHE_LOGIN_FAILURE_LIMIT",
                d.login_failure_limit,
                1,
                1_000_000,
            )?,
            login_address_failure_limit: parse_range(
                &get,
                "SODARCACHE_LOGIN_ADDRESS_FAILURE_LIMIT",
                d.login_address_failure_limit,
                1,
                1_000_000,
            )?,
            login_cooloff: parse_seconds(
                &get,
                "SODARCACHE_LOGIN_COOLOFF_SECONDS",
                d.login_cooloff,
                ONE_YEAR_SECONDS,
            )?,
            password_checks: parse_range(
                &get,
                "SODARCACHE_PASSWORD_CHECKS",
                d.password_checks,
                1,
                1024,
            )?,
            trusted_proxies: match get("SODARCACHE_TRUSTED_PROXIES") {
                None => d.trusted_proxies,
                Some(list) => crate::auth::address::TrustedProxies::parse(&list)
                    .map_err(|e| format!("SODARCACHE_TRUSTED_PROXIES: {e}"))?,
            },
            public_url: match get("SODARCACHE_PUBLIC_URL").filter(|s| !s.trim().is_empty()) {
                None => None,
                Some(url) => Some(
                    crate::auth::address::parse_public_url(&url)
                        .map_err(|e| format!("SODARCACHE_PUBLIC_URL: {e}"))?,
                ),
            },
            site_items_readable_by_all: parse_bool(
                &get,
                "SODARCACHE_SITE_ITEMS_READABLE_BY_ALL",
                d.site_items_readable_by_all,
            )?,
            session_idle: parse_seconds(
                &get,
                "SODARCACHE_SESSION_IDLE_SECONDS",
                d.session_idle,
                ONE_YEAR_SECONDS,
            )?,
            session_max_age: parse_seconds(
                &get,
                "SODARCACHE_SESSION_MAX_AGE_SECONDS",
                d.session_max_age,
                ONE_YEAR_SECONDS * 10,
            )?,
            sync_schedule: match get("SODARCACHE_SYNC_SCHEDULE") {
                None => d.sync_schedule,
                Some(raw) => crate::cache::schedule::parse_setting(&raw)
                    .map_err(|e| format!("SODARCACHE_SYNC_SCHEDULE: {e}"))?,
            },
        })
    }
}

/// The longest accepted value of the seconds settings that may be long.
const ONE_YEAR_SECONDS: u64 = 86_400 * 365;
/// The longest accepted `SODARCACHE_DB_TIMEOUT_SECONDS`.
const MAX_DB_TIMEOUT_SECONDS: u64 = 3_600;
/// The shortest accepted `SODARCACHE_WORKER_POLL_MS`: below it the worker would
/// all but busy-poll the database.
pub const MIN_WORKER_POLL_MS: u64 = 10;

/// A number of seconds greater than 0 and at most `max` (fractions allowed): negative,
/// zero, infinite, NaN and huge values are an error naming the variable, never a panic.
fn parse_seconds(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: Duration,
    max: u64,
) -> Result<Duration, String> {
    let Some(raw) = get(key).filter(|s| !s.trim().is_empty()) else {
        return Ok(default);
    };
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("{key}: \"{raw}\" is not a valid number"))?;
    // `contains` is false for NaN; 1 ms is the smallest duration the timers honour.
    if !(0.001..=max as f64).contains(&secs) {
        return Err(format!(
            "{key}: \"{raw}\" must be a number of seconds greater than 0 and at most {max}"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A whole number from `min` to `max`.
fn parse_range<T>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value = parse(get, key, default)?;
    if value < min || value > max {
        return Err(format!(
            "{key}: \"{value}\" must be between {min} and {max}"
        ));
    }
    Ok(value)
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> Result<T, String> {
    match get(key).filter(|s| !s.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{key}: \"{v}\" is not a valid number")),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: bool,
) -> Result<bool, String> {
    match get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(format!("{key}: \"{v}\" is not true or false")),
    }
}
