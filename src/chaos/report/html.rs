//! The HTML report: one self-contained page (no script, no external file)
//! with the summary table, each scenario's verdicts and replay command, and
//! its charts inlined as SVG.

use std::fmt::Write as _;
use std::path::Path;

use super::{errors_cell, errors_svg, esc, svg};
use crate::chaos::run::{fmt_ms, ScenarioResult};

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 18px; margin: 32px 0 4px; border-top: 1px solid #ddd; padding-top: 16px; }
.meta { color: #555; margin: 4px 0 12px; }
code { background: #f3f3f3; padding: 1px 4px; border-radius: 3px; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 12px 0; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
th { background: #fafafa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { color: #1b7f3b; font-weight: 600; }
.fail { color: #c62828; font-weight: 600; }
.skip { color: #8a6d00; font-weight: 600; }
ul.verdicts { list-style: none; padding-left: 0; margin: 6px 0; font-size: 13px; }
ul.verdicts li { margin: 2px 0; }
figure { margin: 8px 0; }
figure svg { max-width: 100%; height: auto; display: block; }
a { color: #2b6cb0; }
";

fn status(r: &ScenarioResult) -> (&'static str, String) {
    match (&r.skipped, &r.failure, r.passed()) {
        (Some(why), _, _) => ("skip", format!("skipped: {why}")),
        (None, Some(f), _) => ("fail", format!("could not run: {f}")),
        (None, None, true) => ("pass", "passed".into()),
        (None, None, false) => ("fail", "FAILED".into()),
    }
}

fn anchor(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// The command that replays one scenario: same backend, same seed.
fn replay(r: &ScenarioResult) -> String {
    format!("redis-harness chaos {} --backend {} --seed {}", r.name, r.backend.name(), r.seed)
}

/// The whole report as one HTML page. `command` is the command line that
/// produced it (shown, with the seed, to replay the run).
pub fn html(results: &[ScenarioResult], command: &str) -> String {
    let passed = results.iter().filter(|r| r.passed() && r.skipped.is_none()).count();
    let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
    let failed = results.len() - passed - skipped;
    let wall: std::time::Duration = results.iter().map(|r| r.wall).sum();
    let mut seeds: Vec<u64> = results.iter().map(|r| r.seed).collect();
    seeds.dedup();
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let backends: Vec<&str> = {
        let mut b: Vec<&str> = results.iter().map(|r| r.backend.name()).collect();
        b.dedup();
        b
    };

    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(s, "<title>redis-harness chaos report — {passed} passed, {failed} failed</title>");
    let _ = write!(s, "<style>{STYLE}</style></head><body>");
    let _ = write!(s, "<h1>redis-harness chaos report</h1>");
    let overall = if failed == 0 { "pass" } else { "fail" };
    let _ = write!(
        s,
        "<p class=\"meta\"><span class=\"{overall}\">{passed} passed, {failed} failed, {skipped} skipped</span> · \
         backend {} · seed {} · scenario wall time {:.1}s</p>",
        esc(&backends.join(", ")),
        esc(&seeds.join(", ")),
        wall.as_secs_f64()
    );
    let _ = write!(s, "<p class=\"meta\">Replay this run: <code>{}</code></p>", esc(command));

    s.push_str("<table id=\"summary\"><thead><tr><th>scenario</th><th>result</th><th>ops</th><th>errors</th><th>p50</th><th>p99</th><th>max</th><th>retries</th><th>sockets</th><th>wall</th></tr></thead><tbody>");
    for r in results {
        let (class, text) = status(r);
        let ran = r.skipped.is_none() && r.failure.is_none();
        let num = |v: String| if ran { v } else { "-".into() };
        let _ = write!(
            s,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"{class}\">{}</td><td class=\"n\">{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}s</td></tr>",
            anchor(&r.name),
            esc(&r.name),
            esc(if class == "pass" { "passed" } else { &text }),
            num(r.ops().to_string()),
            esc(&num(errors_cell(r))),
            num(fmt_ms(r.p50)),
            num(fmt_ms(r.p99)),
            num(fmt_ms(r.max)),
            num(r.retries.to_string()),
            num(r.sockets_open.to_string()),
            r.wall.as_secs_f64()
        );
    }
    s.push_str("</tbody></table>");

    for r in results {
        let (class, text) = status(r);
        let _ = write!(
            s,
            "<section class=\"scenario\" id=\"{}\" data-scenario=\"{}\"><h2>{} <span class=\"{class}\">{}</span></h2>",
            anchor(&r.name),
            esc(&r.name),
            esc(&r.name),
            esc(&text)
        );
        let _ = write!(s, "<p class=\"meta\">{}</p>", esc(&r.summary));
        let _ = write!(
            s,
            "<p class=\"meta\">backend {} · seed {} · load {:.1}s · wall {:.1}s · replay: <code>{}</code></p>",
            r.backend.name(),
            r.seed,
            r.duration.as_secs_f64(),
            r.wall.as_secs_f64(),
            esc(&replay(r))
        );
        if !r.verdicts.is_empty() {
            s.push_str("<ul class=\"verdicts\">");
            for v in &r.verdicts {
                let _ = write!(
                    s,
                    "<li><span class=\"{}\">{}</span> {} — {}</li>",
                    if v.pass { "pass" } else { "fail" },
                    if v.pass { "✓" } else { "✗" },
                    esc(&v.label),
                    esc(&v.detail)
                );
            }
            s.push_str("</ul>");
        }
        if r.skipped.is_none() && r.failure.is_none() {
            let _ = write!(s, "<figure class=\"chart\" data-chart=\"latency\">{}</figure>", svg(r));
            let _ = write!(s, "<figure class=\"chart\" data-chart=\"errors\">{}</figure>", errors_svg(r));
        }
        s.push_str("</section>");
    }
    s.push_str("</body></html>\n");
    s
}

/// Writes [`html`] to `path`, creating its directory.
pub fn write_html(results: &[ScenarioResult], command: &str, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, html(results, command))
}
