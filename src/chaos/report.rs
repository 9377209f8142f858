//! The report: a table with one row per scenario, the full results as
//! JSON, charts drawn with plotters as SVG (latency and throughput over
//! time, errors by kind over time, fault windows shaded), and one
//! self-contained HTML page holding the table and every chart.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::run::{fmt_ms, ScenarioResult};

mod charts;
mod html;

pub use charts::{errors_svg, svg};
pub use html::{html, write_html};

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
