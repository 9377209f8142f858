//! The report: a table with one row per scenario, the full results as
//! JSON, and a latency-over-time chart per scenario as a self-contained SVG.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::run::{fmt_ms, ScenarioResult};

fn errors_cell(r: &ScenarioResult) -> String {
    if r.errors.is_empty() {
        return "-".into();
    }
    r.errors.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(" ")
}

fn verdict_cell(r: &ScenarioResult) -> String {
    if let Some(why) = &r.skipped {
        return format!("SKIPPED ({why})");
    }
    if let Some(f) = &r.failure {
        return format!("FAILED TO RUN: {f}");
    }
    r.verdicts.iter().map(|v| format!("{} {}", if v.pass { "✓" } else { "✗" }, v.label)).collect::<Vec<_>>().join("  ")
}

/// The report table, followed by the detail of every failed expectation.
pub fn table(results: &[ScenarioResult]) -> String {
    let head = ["scenario", "ops", "errors", "p50", "p99", "max", "retries", "sockets", "seed", "expectations"];
    let rows: Vec<[String; 10]> = results
        .iter()
        .map(|r| {
            let run = r.skipped.is_none() && r.failure.is_none();
            let d = |d: Duration| if run { fmt_ms(d) } else { "-".into() };
            [
                r.name.clone(),
                if run { r.ops().to_string() } else { "-".into() },
                if run { errors_cell(r) } else { "-".into() },
                d(r.p50),
                d(r.p99),
                d(r.max),
                if run { r.retries.to_string() } else { "-".into() },
                if run { r.sockets_open.to_string() } else { "-".into() },
                r.seed.to_string(),
                verdict_cell(r),
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for row in &rows {
        for (i, c) in row.iter().enumerate().take(9) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            if i == 9 {
                out.push_str(c);
            } else if (1..=7).contains(&i) && i != 2 {
                let _ = write!(out, "{c:>w$}  ", w = width[i]);
            } else {
                let _ = write!(out, "{c:<w$}  ", w = width[i]);
            }
        }
        out.push('\n');
    };
    line(&head.map(String::from), &mut out);
    for row in &rows {
        line(row, &mut out);
    }
    let failed: Vec<&ScenarioResult> = results.iter().filter(|r| !r.passed()).collect();
    for r in &failed {
        let _ = writeln!(
            out,
            "\n{} FAILED (replay: redis-harness chaos {} --backend {} --seed {})",
            r.name,
            r.name,
            r.backend.name(),
            r.seed
        );
        if let Some(f) = &r.failure {
            let _ = writeln!(out, "  could not run: {f}");
        }
        for v in r.failed() {
            let _ = writeln!(out, "  ✗ {}: {}", v.label, v.detail);
        }
    }
    let passed = results.iter().filter(|r| r.passed() && r.skipped.is_none()).count();
    let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
    let _ = writeln!(out, "\n{passed} passed, {} failed, {skipped} skipped", failed.len());
    out
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// Every result as JSON (samples included, as `[start_s, latency_ms, error_kind|null]`).
pub fn to_json(results: &[ScenarioResult]) -> Value {
    let scenarios: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "summary": r.summary,
                "backend": r.backend.name(),
                "seed": r.seed,
                "passed": r.passed(),
                "skipped": r.skipped,
                "failure": r.failure,
                "duration_s": secs(r.duration),
                "wall_s": secs(r.wall),
                "ops": r.ops(),
                "errors": r.errors,
                "latency_ms": {
                    "p50": r.p50.as_secs_f64() * 1e3,
                    "p99": r.p99.as_secs_f64() * 1e3,
                    "max": r.max.as_secs_f64() * 1e3,
                },
                "retries": r.retries,
                "sockets_open": r.sockets_open,
                "writes_checked": r.writes_checked,
                "lost_writes": r.lost_writes,
                "close_took_ms": r.close_took.map(|d| d.as_secs_f64() * 1e3),
                "service_exit": r.service_exit.as_ref().map(|e| json!({
                    "after_sigterm_ms": e.after_sigterm.map(|d| d.as_secs_f64() * 1e3),
                    "code": e.code,
                })),
                "fault_windows_s": r.windows.iter().map(|(s, e)| [secs(*s), secs(*e)]).collect::<Vec<_>>(),
                "expectations": r.verdicts.iter().map(|v| json!({
                    "name": v.name, "bound": v.label, "pass": v.pass, "measured": v.detail,
                })).collect::<Vec<_>>(),
                "service_log": r.service_log,
                "samples": r.samples.iter().map(|s| json!([secs(s.at), s.latency.as_secs_f64() * 1e3, s.error])).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "tool": "redis-harness chaos", "scenarios": scenarios })
}

/// The chart file for a scenario: `<json stem>-<scenario>.svg` next to the JSON.
pub fn chart_path(json: &Path, scenario: &str) -> PathBuf {
    let stem = json.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "chaos".into());
    json.with_file_name(format!("{stem}-{scenario}.svg"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A latency-over-time chart: each op a dot (errors red, on top), fault
/// windows shaded, a log latency axis from 0.1ms to the slowest op.
pub fn svg(r: &ScenarioResult) -> String {
    let (w, h) = (900.0, 360.0);
    let (left, right, top, bottom) = (64.0, 16.0, 40.0, 40.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let span = r.duration.as_secs_f64().max(r.samples.last().map_or(0.0, |s| s.at.as_secs_f64())).max(0.001);
    let lo = 0.1f64.log10();
    let hi = (r.max.as_secs_f64() * 1e3).max(1.0).log10().ceil().max(lo + 1.0);
    let x = |t: f64| left + t / span * pw;
    let y = |ms: f64| top + ph - ((ms.max(0.1).log10() - lo) / (hi - lo)).clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r##"<rect width="{w}" height="{h}" fill="#fff"/>"##);
    let _ = write!(
        s,
        r##"<text x="{left}" y="20" font-size="14" font-weight="bold">{} — latency over time ({}, seed {})</text>"##,
        esc(&r.name),
        r.backend.name(),
        r.seed
    );
    for (a, b) in &r.windows {
        let (xa, xb) = (x(a.as_secs_f64()), x(b.as_secs_f64()));
        let _ = write!(
            s,
            r##"<rect x="{xa:.1}" y="{top}" width="{:.1}" height="{ph}" fill="#f5a623" fill-opacity="0.18"/><text x="{:.1}" y="{:.1}" fill="#b06d00">fault</text>"##,
            (xb - xa).max(1.0),
            xa + 3.0,
            top + 14.0
        );
    }
    // Axes and grid: one line per decade, one tick per second.
    let mut decade = lo.ceil() as i32;
    while f64::from(decade) <= hi {
        let ms = 10f64.powi(decade);
        let yy = y(ms);
        let label = if ms >= 1000.0 { format!("{}s", ms / 1000.0) } else { format!("{ms}ms") };
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0
        );
        decade += 1;
    }
    let step = if span > 20.0 { 5.0 } else { 1.0 };
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let xx = x(t);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{t}s</text>"##,
            top + ph,
            top + ph + 4.0,
            top + ph + 18.0
        );
        t += step;
    }
    let _ = write!(s, r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##);
    // At most ~20k dots: thin evenly, keeping every error.
    let ok_every = (r.samples.len() / 20_000).max(1);
    let _ = write!(s, r##"<g fill="#2b6cb0" fill-opacity="0.5">"##);
    for (i, smp) in r.samples.iter().enumerate().filter(|(_, s)| s.error.is_none()) {
        if i % ok_every == 0 {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="1.5"/>"#,
                x(smp.at.as_secs_f64()),
                y(smp.latency.as_secs_f64() * 1e3)
            );
        }
    }
    let _ = write!(s, r##"</g><g fill="#d0021b">"##);
    for smp in r.samples.iter().filter(|s| s.error.is_some()) {
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2"/>"#,
            x(smp.at.as_secs_f64()),
            y(smp.latency.as_secs_f64() * 1e3)
        );
    }
    let _ = write!(s, "</g>");
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end"><tspan fill="#2b6cb0">● ok</tspan>  <tspan fill="#d0021b">● error</tspan>  <tspan fill="#b06d00">■ fault window</tspan>  p50 {} · p99 {} · max {}</text>"##,
        left + pw,
        h - 8.0,
        fmt_ms(r.p50),
        fmt_ms(r.p99),
        fmt_ms(r.max)
    );
    s.push_str("</svg>\n");
    s
}

/// Writes the JSON and one chart per scenario that ran; returns the chart paths.
pub fn write_json(results: &[ScenarioResult], path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let text = serde_json::to_string_pretty(&to_json(results)).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    let mut charts = Vec::new();
    for r in results.iter().filter(|r| r.skipped.is_none() && r.failure.is_none()) {
        let p = chart_path(path, &r.name);
        std::fs::write(&p, svg(r))?;
        charts.push(p);
    }
    Ok(charts)
}
