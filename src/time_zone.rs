//! The site's time zone (`SODARCACHE_TIME_ZONE`, an IANA name, default `UTC`) and
//! timestamps rendered in it as upstream's REST serializer renders them: ISO 8601 with the
//! zone's offset (`Z` when it is zero), microseconds only when they are not zero. SODAR
//! sites run in Europe/Berlin, and clients compare these strings.
//!
//! Zones come from the system's time zone database (`/usr/share/zoneinfo`, or `TZDIR`),
//! read once at startup by `tz-rs` (no dependencies, the whole TZif format including
//! the rule for dates past the file's last transition). Rules change by tzdata updates,
//! not by rebuilding this program.

use std::fmt::Write;
use std::sync::Arc;

use chrono::{NaiveDateTime, Timelike};

/// A parsed time zone, cheap to clone.
#[derive(Clone)]
pub struct SiteTimeZone {
    name: Arc<str>,
    zone: Option<Arc<tz::TimeZone>>,
}

impl std::fmt::Debug for SiteTimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Default for SiteTimeZone {
    fn default() -> Self {
        SiteTimeZone::utc()
    }
}

impl SiteTimeZone {
    /// UTC, the default.
    pub fn utc() -> Self {
        SiteTimeZone {
            name: "UTC".into(),
            zone: None,
        }
    }

    /// The zone called `name` (`Europe/Berlin`), from the system's time zone database.
    pub fn named(name: &str) -> Result<Self, String> {
        if name == "UTC" {
            return Ok(SiteTimeZone::utc());
        }
        let valid = !name.is_empty()
            && !name.starts_with('/')
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
            });
        let unknown = || {
            format!(
                "SODARCACHE_TIME_ZONE: unknown time zone \"{name}\" (use an IANA name such as Europe/Berlin)"
            )
        };
        if !valid {
            return Err(unknown());
        }
        let dir = std::env::var_os("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
        let bytes = std::fs::read(std::path::Path::new(&dir).join(name)).map_err(|_| unknown())?;
        let zone = tz::TimeZone::from_tz_data(&bytes).map_err(|_| unknown())?;
        Ok(SiteTimeZone {
            name: name.into(),
            zone: Some(Arc::new(zone)),
        })
    }

    /// The zone's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Offset from UTC in seconds at the UTC time `t`.
    fn offset_at(&self, t: NaiveDateTime) -> i32 {
        let Some(zone) = &self.zone else { return 0 };
        zone.find_local_time_type(t.and_utc().timestamp())
            .map(|local| local.ut_offset())
            .unwrap_or(0)
    }

    /// `t` (UTC) as upstream renders it in this zone: `2026-01-31T13:45:00.123456+01:00`,
    /// `2026-07-01T12:00:00+02:00`, `2026-01-31T12:45:00Z`.
    pub fn render(&self, t: NaiveDateTime) -> String {
        let offset = self.offset_at(t);
        let local = t + chrono::Duration::seconds(i64::from(offset));
        let mut out = String::with_capacity(32);
        let _ = write!(out, "{}", local.format("%Y-%m-%dT%H:%M:%S"));
        let micros = local.nanosecond() / 1000;
        if micros != 0 {
            let _ = write!(out, ".{micros:06}");
        }
        if offset == 0 {
            out.push('Z');
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
            if !abs.is_multiple_of(60) {
                let _ = write!(out, ":{:02}", abs % 60);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn utc_renders_z_and_drops_zero_microseconds() {
        let utc = SiteTimeZone::utc();
        assert_eq!(
            utc.render(at("2026-01-31 12:45:00.0")),
            "2026-01-31T12:45:00Z"
        );
        assert_eq!(
            utc.render(at("2026-01-31 12:45:00.000120")),
            "2026-01-31T12:45:00.000120Z"
        );
    }

    #[test]
    fn berlin_renders_its_offset_winter_and_summer() {
        let berlin = SiteTimeZone::named("Europe/Berlin").expect("system tzdata");
        assert_eq!(
            berlin.render(at("2026-01-31 12:45:00.123456")),
            "2026-01-31T13:45:00.123456+01:00"
        );
        assert_eq!(
            berlin.render(at("2026-07-01 10:00:00.0")),
            "2026-07-01T12:00:00+02:00"
        );
        // Long after the file's last listed transition: the zone's rule still applies.
        assert_eq!(
            berlin.render(at("2090-07-01 10:00:00.0")),
            "2090-07-01T12:00:00+02:00"
        );
    }

    #[test]
    fn negative_offsets_and_unknown_names() {
        let ny = SiteTimeZone::named("America/New_York").expect("system tzdata");
        assert_eq!(
            ny.render(at("2026-01-31 12:00:00.0")),
            "2026-01-31T07:00:00-05:00"
        );
        for bad in [
            "Mars/Olympus",
            "../etc/passwd",
            "/etc/localtime",
            "",
            "Europe//Berlin",
        ] {
            assert!(SiteTimeZone::named(bad).is_err(), "{bad}");
        }
    }
}
