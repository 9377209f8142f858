//! The charts, drawn with plotters' SVG backend: latency (each op a dot,
//! errors in red, a p99 line) with throughput on a second axis, and errors
//! by kind over time; fault windows shaded on both.

use std::collections::BTreeMap;
use std::time::Duration;

use plotters::prelude::*;

use crate::chaos::run::{fmt_ms, ScenarioResult};

/// Chart size in pixels.
const SIZE: (u32, u32) = (960, 380);
/// Most dots drawn per kind (ok, error): evenly thinned above it, so a page
/// with every scenario stays a few MB.
const MAX_DOTS: usize = 4000;
/// The shade of a fault window.
const FAULT: RGBAColor = RGBAColor(245, 166, 35, 0.22);
const OK_DOT: RGBAColor = RGBAColor(43, 108, 176, 0.35);
const ERR_DOT: RGBColor = RGBColor(208, 2, 27);
const P99: RGBColor = RGBColor(106, 27, 154);
const THROUGHPUT: RGBColor = RGBColor(46, 125, 50);

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// The time axis's span in seconds: the load's duration, or the last op's start if later.
fn span(r: &ScenarioResult) -> f64 {
    r.duration.as_secs_f64().max(r.samples.last().map_or(0.0, |s| s.at.as_secs_f64())).max(0.001)
}

/// A bucket width giving about 30 buckets over `span` seconds (wide enough
/// that a paced load's ticks do not alias), rounded to 1, 2 or 5 × 10^n ms.
fn bucket(span: f64) -> f64 {
    let raw = span / 30.0;
    let mut width = 0.001;
    for decade in [0.001, 0.01, 0.1, 1.0, 10.0] {
        for m in [1.0, 2.0, 5.0] {
            if m * decade <= raw {
                width = m * decade;
            }
        }
    }
    width
}

/// Every `n`th index so at most `MAX_DOTS` are kept.
fn thin<T: Copy>(items: &[T]) -> impl Iterator<Item = T> + '_ {
    let every = items.len().div_ceil(MAX_DOTS).max(1);
    items.iter().step_by(every).copied()
}

fn title(r: &ScenarioResult, what: &str) -> String {
    format!("{} — {what} ({}, seed {})", r.name, r.backend.name(), r.seed)
}

/// A chart that could not be drawn says why, in place of the chart.
fn or_error(drawn: DrawResult, svg: String, r: &ScenarioResult) -> String {
    match drawn {
        Ok(()) => svg,
        Err(e) => {
            let mut out = String::new();
            let _ = draw_message(&mut out, &format!("{}: chart failed: {e}", r.name));
            out
        }
    }
}

/// A chart's time buckets: `n` of `width` seconds each over the run.
#[derive(Clone, Copy)]
struct Buckets {
    width: f64,
    n: usize,
}

impl Buckets {
    /// Whole buckets of a readable width over `span` seconds.
    fn of(span: f64) -> Buckets {
        let width = bucket(span);
        Buckets { width, n: ((span / width).round() as usize).max(1) }
    }

    /// The bucket a sample taken `at` into the run falls in.
    fn index(self, at: std::time::Duration) -> usize {
        ((at.as_secs_f64() / self.width) as usize).min(self.n - 1)
    }
}

fn draw_message(out: &mut String, msg: &str) -> DrawResult {
    let root = SVGBackend::with_string(out, (SIZE.0, 60)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(msg.to_string(), (10, 20), ("sans-serif", 14).into_font().color(&ERR_DOT)))?;
    root.present()?;
    Ok(())
}

/// Latency over time (log scale, every op a dot, errors red on top, p99 per
/// time bucket as a line) with throughput (ops/s) on the right axis; fault
/// windows shaded. An SVG document.
pub fn svg(r: &ScenarioResult) -> String {
    render(r, draw_latency)
}

fn draw_latency(out: &mut String, r: &ScenarioResult) -> DrawResult {
    let span = span(r);
    let buckets = Buckets::of(span);
    let Buckets { width, n } = buckets;
    let mut per_bucket: Vec<Vec<f64>> = vec![Vec::new(); n];
    for s in &r.samples {
        per_bucket[buckets.index(s.at)].push(s.latency.as_secs_f64() * 1e3);
    }
    let throughput: Vec<(f64, f64)> =
        per_bucket.iter().enumerate().map(|(i, b)| ((i as f64 + 0.5) * width, b.len() as f64 / width)).collect();
    let p99: Vec<(f64, f64)> = per_bucket
        .iter_mut()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(i, b)| {
            b.sort_by(f64::total_cmp);
            let k = ((b.len() as f64 - 1.0) * 0.99).round() as usize;
            ((i as f64 + 0.5) * width, b[k].max(0.1))
        })
        .collect();
    // Headroom at the top (a decade of latency, half again of throughput) keeps the legend off the data.
    let top_tput = throughput.iter().map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let lo = 0.1f64;
    let hi = 10f64.powf((r.max.as_secs_f64() * 1e3).max(10.0).log10().ceil() + 1.0);
    let ms = |d: Duration| (d.as_secs_f64() * 1e3).clamp(lo, hi);

    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title(r, "latency and throughput"), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .build_cartesian_2d(0f64..span, (lo..hi).log_scale())?
        .set_secondary_coord(0f64..span, 0f64..top_tput);
    chart
        .configure_mesh()
        .x_desc("time since the load started (s)")
        .y_desc("latency (ms, log)")
        .y_label_formatter(&|v| if *v >= 1000.0 { format!("{}s", v / 1000.0) } else { format!("{v}ms") })
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart.configure_secondary_axes().y_desc("throughput (ops/s)").y_label_formatter(&|v| format!("{v:.0}")).draw()?;

    chart
        .draw_series(
            r.windows
                .iter()
                .map(|(a, b)| Rectangle::new([(a.as_secs_f64(), lo), (b.as_secs_f64().min(span), hi)], FAULT.filled())),
        )?
        .label("fault window")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], FAULT.filled()));
    let ok: Vec<(f64, f64)> =
        r.samples.iter().filter(|s| s.error.is_none()).map(|s| (s.at.as_secs_f64(), ms(s.latency))).collect();
    let errs: Vec<(f64, f64)> =
        r.samples.iter().filter(|s| s.error.is_some()).map(|s| (s.at.as_secs_f64(), ms(s.latency))).collect();
    chart
        .draw_series(thin(&ok).map(|p| Circle::new(p, 2, OK_DOT.filled())))?
        .label(format!("ok ({})", ok.len()))
        .legend(|(x, y)| Circle::new((x + 7, y), 3, OK_DOT.filled()));
    chart
        .draw_series(thin(&errs).map(|p| Circle::new(p, 2, ERR_DOT.filled())))?
        .label(format!("error ({})", errs.len()))
        .legend(|(x, y)| Circle::new((x + 7, y), 3, ERR_DOT.filled()));
    chart
        .draw_series(LineSeries::new(p99, P99.stroke_width(2)))?
        .label(format!("p99 per {} (overall {})", fmt_ms(Duration::from_secs_f64(width)), fmt_ms(r.p99)))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], P99.stroke_width(2)));
    chart
        .draw_secondary_series(LineSeries::new(throughput, THROUGHPUT.stroke_width(2)))?
        .label("throughput (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], THROUGHPUT.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Errors by kind over time: errors per second in each time bucket, one line
/// per kind, fault windows shaded. An SVG document (a flat chart when there
/// were no errors).
pub fn errors_svg(r: &ScenarioResult) -> String {
    render(r, draw_errors)
}

/// One chart drawn into an SVG document (or a line saying why it failed).
fn render(r: &ScenarioResult, draw: fn(&mut String, &ScenarioResult) -> DrawResult) -> String {
    let mut out = String::new();
    let drawn = draw(&mut out, r);
    or_error(drawn, out, r)
}

fn draw_errors(out: &mut String, r: &ScenarioResult) -> DrawResult {
    let span = span(r);
    let buckets = Buckets::of(span);
    let Buckets { width, n } = buckets;
    let mut kinds: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for s in &r.samples {
        if let Some(k) = s.error {
            kinds.entry(k).or_insert_with(|| vec![0; n])[buckets.index(s.at)] += 1;
        }
    }
    let top = kinds.values().flatten().copied().max().unwrap_or(0) as f64 / width;
    let top = (top * 1.5).max(1.0);

    let root = SVGBackend::with_string(out, (SIZE.0, 280)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title(r, "errors by kind"), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .build_cartesian_2d(0f64..span, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("time since the load started (s)")
        .y_desc(format!("errors/s (per {})", fmt_ms(Duration::from_secs_f64(width))))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart
        .draw_series(
            r.windows.iter().map(|(a, b)| {
                Rectangle::new([(a.as_secs_f64(), 0.0), (b.as_secs_f64().min(span), top)], FAULT.filled())
            }),
        )?
        .label("fault window")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], FAULT.filled()));
    for (i, (kind, counts)) in kinds.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let total: u64 = counts.iter().sum();
        let points = counts.iter().enumerate().map(|(b, c)| ((b as f64 + 0.5) * width, *c as f64 / width));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("{kind} ({total})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
    }
    if kinds.is_empty() {
        chart.draw_series(std::iter::once(Text::new(
            "no errors".to_string(),
            (span * 0.45, top * 0.5),
            ("sans-serif", 16).into_font().color(&BLACK.mix(0.6)),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_are_round_and_about_thirty_per_run() {
        assert_eq!(bucket(8.0), 0.2);
        assert_eq!(bucket(3.0), 0.1);
        assert_eq!(bucket(60.0), 2.0);
        assert_eq!(bucket(0.01), 0.001);
    }
}
