//! Numbers and times formatted for people.

use chrono::NaiveDateTime;

/// `512 bytes`, `1.2 KB`, `3.4 MB` (1024-based, as Django's `filesizeformat`).
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return if bytes == 1 {
            "1 byte".into()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A count with thousands separators: `2,011`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `{{ n.thousands() }}` in templates (a method, so references of any depth work).
pub trait Thousands {
    /// The number with thousands separators.
    fn thousands(&self) -> String;
}

impl Thousands for i64 {
    fn thousands(&self) -> String {
        count(*self)
    }
}

impl Thousands for usize {
    fn thousands(&self) -> String {
        count(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

/// `just now`, `3 minutes ago`, `2 days ago` relative to `now`.
pub fn ago(t: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = (now - t).num_seconds();
    if secs < 0 {
        return "just now".into();
    }
    let (n, unit) = match secs {
        0..=9 => return "just now".into(),
        10..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A wait ahead, as `in 4 minutes`, `in 30 seconds`.
pub fn ago_until(secs: i64) -> String {
    let (n, unit) = if secs >= 120 {
        ((secs + 59) / 60, "minute")
    } else {
        (secs.max(1), "second")
    };
    format!("in {n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A length of time in its largest whole unit: `45 seconds`, `5 minutes`, `1 day`
/// (`90 minutes` stays minutes: the unit is the largest that divides it).
pub fn period(secs: u64) -> String {
    let (n, unit) = [(86_400, "day"), (3600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(u, _)| secs >= *u && secs.is_multiple_of(*u))
        .map_or((secs, "second"), |(u, name)| (secs / u, name));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The exact time, for hover titles: `2026-11-25 10:04:05 UTC`.
pub fn exact(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// RFC 3339 for `<time datetime>`.
pub fn iso(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A duration as `850 ms`, `12.3 s` or `4 min 5 s`.
pub fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// A time as the templates show it: relative text, exact title, machine value.
#[derive(Debug, Clone)]
pub struct When {
    /// `3 minutes ago`.
    pub ago: String,
    /// `2026-11-25 10:04:05 UTC`.
    pub exact: String,
    /// RFC 3339.
    pub iso: String,
}

impl When {
    /// Formats `t` relative to now.
    pub fn new(t: NaiveDateTime) -> Self {
        When {
            ago: ago(t, crate::db::now()),
            exact: exact(t),
            iso: iso(t),
        }
    }

    /// `<time>` with the relative text, the exact UTC time as its title (shown on
    /// keyboard focus too) and the machine value; the script turns both into local time.
    pub fn html(&self) -> String {
        format!(
            "<time datetime=\"{}\" title=\"{}\" tabindex=\"0\">{}</time>",
            self.iso, self.exact, self.ago
        )
    }

    /// The exact time as visible text (local time once the script runs).
    pub fn exact_html(&self) -> String {
        format!(
            "<time class=\"exact\" datetime=\"{}\">{}</time>",
            self.iso, self.exact
        )
    }

    /// Formats an optional time.
    pub fn opt(t: Option<NaiveDateTime>) -> Option<Self> {
        t.map(When::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_django() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1024), "1.0 KB");
        assert_eq!(size(1_258_291), "1.2 MB");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(2011), "2,011");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-12_345), "-12,345");
    }

    #[test]
    fn relative_times_pick_the_largest_unit() {
        let now = chrono::DateTime::from_timestamp(1_000_000, 0)
            .expect("valid")
            .naive_utc();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(
            ago(now - chrono::Duration::seconds(180), now),
            "3 minutes ago"
        );
        assert_eq!(ago(now - chrono::Duration::hours(1), now), "1 hour ago");
        assert_eq!(ago(now - chrono::Duration::days(2), now), "2 days ago");
    }

    #[test]
    fn periods_use_the_largest_whole_unit() {
        assert_eq!(period(1), "1 second");
        assert_eq!(period(300), "5 minutes");
        assert_eq!(period(5400), "90 minutes");
        assert_eq!(period(7200), "2 hours");
        assert_eq!(period(86_400), "1 day");
    }

    #[test]
    fn durations_switch_units() {
        assert_eq!(duration(chrono::Duration::milliseconds(850)), "850 ms");
        assert_eq!(duration(chrono::Duration::milliseconds(12_300)), "12.3 s");
        assert_eq!(duration(chrono::Duration::seconds(245)), "4 min 5 s");
    }
}
