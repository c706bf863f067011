//! The dashboards drawn on the server as inline SVG: no script, no library, nothing
//! fetched. Each chart scales with its `viewBox` (phone to desktop), takes its colours
//! from the stylesheet's variables (light and dark), is an image with a title and a
//! description for screen readers, and comes with a table of its numbers.

use std::fmt::Write as _;

use super::format::{count, size};
use super::json_tree::escape;
use crate::cache::dashboard::{DAYS, Dashboard};

/// Width of every chart's `viewBox`.
const W: f64 = 320.0;
/// Apps drawn as bars; the rest are summed into one.
const MAX_BARS: usize = 8;

/// The dashboard's HTML: three cards in a grid. `of` says what is counted
/// ("projects you may read").
pub fn html(d: &Dashboard, of: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<section class=\"dash-grid\" id=\"dashboard\" aria-label=\"Dashboard\">"
    );
    apps_card(&mut out, d, of);
    ages_card(&mut out, d);
    syncs_card(&mut out, d);
    out.push_str("</section>");
    out
}

/// A card's head and the opening of its image, with title and description.
fn open_chart(out: &mut String, id: &str, heading: &str, note: &str, height: f64, desc: &str) {
    let _ = write!(
        out,
        "<div class=\"card dash\" id=\"{id}\"><h2 id=\"{id}-h\">{heading}</h2>\
         <p class=\"muted small\">{note}</p>\
         <svg role=\"img\" aria-labelledby=\"{id}-t {id}-d\" viewBox=\"0 0 {W} {height}\" \
         preserveAspectRatio=\"xMinYMin meet\" focusable=\"false\">\
         <title id=\"{id}-t\">{heading}</title><desc id=\"{id}-d\">{}</desc>",
        escape(desc)
    );
}

/// Closes the image and adds the numbers as a table (`rows` of escaped cells).
fn close_chart(out: &mut String, id: &str, head: &[&str], rows: &[Vec<String>]) {
    let _ = write!(
        out,
        "</svg><details><summary>Numbers</summary><div class=\"table-wrap\"><table class=\"data\" id=\"{id}-table\"><thead><tr>"
    );
    for (i, h) in head.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        let _ = write!(out, "<th scope=\"col\"{class}>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{cell}</th>");
            } else {
                let _ = write!(out, "<td class=\"num\">{cell}</td>");
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></details></div>");
}

/// A name cut to `max` characters for a label (the table has it whole).
fn cut(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// Cache size per app: one bar per app, longest first.
fn apps_card(out: &mut String, d: &Dashboard, of: &str) {
    let mut bars: Vec<(String, i64, i64)> = d
        .apps
        .iter()
        .take(MAX_BARS)
        .map(|a| (a.app_name.clone(), a.items, a.bytes))
        .collect();
    if d.apps.len() > MAX_BARS {
        let rest = &d.apps[MAX_BARS..];
        bars.push((
            format!("{} other apps", rest.len()),
            rest.iter().map(|a| a.items).sum(),
            rest.iter().map(|a| a.bytes).sum(),
        ));
    }
    let row_h = 34.0;
    let height = if bars.is_empty() {
        40.0
    } else {
        bars.len() as f64 * row_h + 4.0
    };
    let desc = if bars.is_empty() {
        "No cached items.".to_owned()
    } else {
        bars.iter()
            .map(|(name, items, bytes)| {
                format!("{name}: {} ({} items)", size(*bytes), count(*items))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    open_chart(
        out,
        "dash-apps",
        "Cache size per app",
        &format!("Items of {of}."),
        height,
        &desc,
    );
    if bars.is_empty() {
        out.push_str("<text x=\"0\" y=\"24\" class=\"dash-muted\">No cached items</text>");
    }
    let max = bars.iter().map(|b| b.2).max().unwrap_or(0).max(1) as f64;
    for (i, (name, items, bytes)) in bars.iter().enumerate() {
        let y = i as f64 * row_h;
        let w = (*bytes as f64 / max * W).max(2.0);
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{:.1}\">{}</text>\
             <text x=\"{W}\" y=\"{:.1}\" text-anchor=\"end\" class=\"dash-value\">{}</text>\
             <rect class=\"dash-track\" x=\"0\" y=\"{:.1}\" width=\"{W}\" height=\"10\" rx=\"3\"/>\
             <rect class=\"dash-bar\" x=\"0\" y=\"{:.1}\" width=\"{w:.1}\" height=\"10\" rx=\"3\"><title>{}: {} items</title></rect>",
            y + 13.0,
            escape(&cut(name, 28)),
            y + 13.0,
            escape(&size(*bytes)),
            y + 19.0,
            y + 19.0,
            escape(name),
            count(*items),
        );
    }
    let rows: Vec<Vec<String>> = d
        .apps
        .iter()
        .map(|a| vec![escape(&a.app_name), count(a.items), size(a.bytes)])
        .collect();
    close_chart(out, "dash-apps", &["App", "Items", "Size"], &rows);
}

/// Item ages: one bar split into fresh, aging and stale, and a legend with the counts.
fn ages_card(out: &mut String, d: &Dashboard) {
    let a = d.ages;
    let total = a.total();
    let parts = [
        ("fresh", "Fresh", a.fresh),
        ("aging", "Aging", a.aging),
        ("stale", "Stale", a.stale),
    ];
    let pct = |n: i64| {
        if total == 0 {
            0
        } else {
            ((n as f64) * 100.0 / total as f64).round() as i64
        }
    };
    let desc = if total == 0 {
        "No cached items.".to_owned()
    } else {
        parts
            .iter()
            .map(|(_, label, n)| format!("{label}: {} ({}%)", count(*n), pct(*n)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    open_chart(
        out,
        "dash-ages",
        "Item age",
        &format!(
            "Stale: past the plugin's max_age or, without one, no update for {} days. Aging: past half of that.",
            d.fallback_days
        ),
        104.0,
        &desc,
    );
    let _ = write!(
        out,
        "<rect class=\"dash-track\" x=\"0\" y=\"0\" width=\"{W}\" height=\"22\" rx=\"4\"/>"
    );
    let mut x = 0.0;
    for (class, label, n) in parts {
        if total == 0 || n == 0 {
            continue;
        }
        let w = n as f64 / total as f64 * W;
        let _ = write!(
            out,
            "<rect class=\"dash-{class}\" x=\"{x:.1}\" y=\"0\" width=\"{w:.1}\" height=\"22\"><title>{label}: {}</title></rect>",
            count(n)
        );
        x += w;
    }
    for (i, (class, label, n)) in parts.iter().enumerate() {
        let y = 34.0 + i as f64 * 24.0;
        let _ = write!(
            out,
            "<rect class=\"dash-{class}\" x=\"0\" y=\"{y:.1}\" width=\"14\" height=\"14\" rx=\"3\"/>\
             <text x=\"22\" y=\"{:.1}\">{label}</text>\
             <text x=\"{W}\" y=\"{:.1}\" text-anchor=\"end\" class=\"dash-value\" id=\"dash-ages-{class}\">{} · {}%</text>",
            y + 12.0,
            y + 12.0,
            count(*n),
            pct(*n),
        );
    }
    let rows: Vec<Vec<String>> = parts
        .iter()
        .map(|(_, label, n)| vec![(*label).to_owned(), count(*n), format!("{}%", pct(*n))])
        .collect();
    close_chart(out, "dash-ages", &["Age", "Items", "Share"], &rows);
}

/// Sync outcomes per day: a column per day, done, failed and cancelled stacked.
fn syncs_card(out: &mut String, d: &Dashboard) {
    let plot_h = 96.0;
    let top = 16.0;
    let base = top + plot_h;
    let height = base + 48.0;
    let max = d.days.iter().map(|x| x.total()).max().unwrap_or(0);
    let sum =
        |f: fn(&crate::cache::dashboard::DayCounts) -> i64| -> i64 { d.days.iter().map(f).sum() };
    let (done, failed, cancelled) = (sum(|x| x.done), sum(|x| x.failed), sum(|x| x.cancelled));
    let desc = format!(
        "Last {DAYS} days: {} done, {} failed, {} cancelled. {}",
        count(done),
        count(failed),
        count(cancelled),
        d.days
            .iter()
            .filter(|x| x.total() > 0)
            .map(|x| format!(
                "{}: {} done, {} failed, {} cancelled",
                x.day.format("%b %-d"),
                count(x.done),
                count(x.failed),
                count(x.cancelled)
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    open_chart(
        out,
        "dash-syncs",
        "Sync outcomes",
        &format!("Finished sync jobs per day (UTC), the last {DAYS} days."),
        height,
        &desc,
    );
    let _ = write!(
        out,
        "<text x=\"0\" y=\"11\" class=\"dash-muted\">{}</text>\
         <line class=\"dash-axis\" x1=\"0\" y1=\"{base}\" x2=\"{W}\" y2=\"{base}\"/>",
        if max == 0 {
            "No finished syncs".to_owned()
        } else {
            format!("max {} a day", count(max))
        }
    );
    let n = d.days.len().max(1) as f64;
    let col = W / n;
    let bar_w = (col * 0.7).max(1.0);
    for (i, day) in d.days.iter().enumerate() {
        let x = i as f64 * col + (col - bar_w) / 2.0;
        let mut y = base;
        for (class, v) in [
            ("done", day.done),
            ("failed", day.failed),
            ("cancelled", day.cancelled),
        ] {
            if v == 0 {
                continue;
            }
            let h = (v as f64 / max.max(1) as f64 * plot_h).max(2.0);
            y -= h;
            let _ = write!(
                out,
                "<rect class=\"dash-{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{}: {} {class}</title></rect>",
                day.day.format("%b %-d"),
                count(v)
            );
        }
    }
    // Day labels: the first, the middle and the last day.
    let last = d.days.len().saturating_sub(1);
    for (i, anchor) in [(0, "start"), (last / 2, "middle"), (last, "end")] {
        let Some(day) = d.days.get(i) else { continue };
        let x = match anchor {
            "start" => 0.0,
            "end" => W,
            _ => i as f64 * col + col / 2.0,
        };
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" class=\"dash-muted\">{}</text>",
            base + 14.0,
            day.day.format("%b %-d")
        );
    }
    let legend_y = base + 26.0;
    for (i, (class, label, v)) in [
        ("done", "done", done),
        ("failed", "failed", failed),
        ("cancelled", "cancelled", cancelled),
    ]
    .iter()
    .enumerate()
    {
        let x = i as f64 * (W / 3.0);
        let _ = write!(
            out,
            "<rect class=\"dash-{class}\" x=\"{x:.1}\" y=\"{legend_y:.1}\" width=\"12\" height=\"12\" rx=\"2\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" id=\"dash-syncs-{class}\">{} {label}</text>",
            x + 17.0,
            legend_y + 11.0,
            count(*v)
        );
    }
    let rows: Vec<Vec<String>> = d
        .days
        .iter()
        .rev()
        .map(|x| {
            vec![
                x.day.format("%Y-%m-%d").to_string(),
                count(x.done),
                count(x.failed),
                count(x.cancelled),
            ]
        })
        .collect();
    close_chart(
        out,
        "dash-syncs",
        &["Day (UTC)", "Done", "Failed", "Cancelled"],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::dashboard::{AgeCounts, DayCounts};
    use crate::db::models::dashboard::AppUsage;

    fn sample(apps: usize) -> Dashboard {
        let first = chrono::NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        Dashboard {
            apps: (0..apps)
                .map(|i| AppUsage {
                    app_name: format!("app_<{i}>"),
                    items: 10 - i as i64,
                    bytes: 2048 * (10 - i as i64),
                })
                .collect(),
            ages: AgeCounts {
                fresh: 6,
                aging: 3,
                stale: 1,
            },
            days: first
                .iter_days()
                .take(DAYS as usize)
                .enumerate()
                .map(|(i, day)| DayCounts {
                    day,
                    done: i as i64 % 3,
                    failed: i64::from(i == 13),
                    cancelled: 0,
                })
                .collect(),
            fallback_days: 30,
        }
    }

    #[test]
    fn charts_escape_names_label_every_bar_and_sum_the_rest() {
        let html = html(&sample(10), "projects you may read");
        assert!(!html.contains("app_<"), "names are escaped");
        assert!(html.contains("app_&lt;0&gt;"));
        // Eight bars, then the two smallest apps as one; the table lists all ten.
        assert!(html.contains("2 other apps"));
        assert_eq!(html.matches("class=\"dash-bar\"").count(), 9);
        let table = &html[html.find("id=\"dash-apps-table\"").unwrap()..];
        assert_eq!(
            table[..table.find("</table>").unwrap()]
                .matches("<tr>")
                .count(),
            11
        );
        assert!(html.contains("id=\"dash-ages-stale\">1 · 10%"));
        assert!(html.contains(
            "<desc id=\"dash-ages-d\">Fresh: 6 (60%); Aging: 3 (30%); Stale: 1 (10%)</desc>"
        ));
        // Done: 0,1,2,0,1,2,... over 14 days = 13; one failure on the last day.
        assert!(html.contains("id=\"dash-syncs-done\">13 done"));
        assert!(html.contains("id=\"dash-syncs-failed\">1 failed"));
        assert!(html.contains("<td class=\"num\">1</td>"));
        assert_eq!(html.matches("role=\"img\"").count(), 3);
    }

    #[test]
    fn an_empty_dashboard_says_so() {
        let mut d = sample(0);
        d.ages = AgeCounts::default();
        for day in &mut d.days {
            day.done = 0;
            day.failed = 0;
        }
        let html = html(&d, "this project");
        assert!(html.contains(">No cached items</text>"));
        assert!(html.contains(">No finished syncs</text>"));
        assert!(!html.contains("NaN"));
    }
}
