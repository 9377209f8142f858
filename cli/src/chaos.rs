//! `redis-harness chaos`: arguments, progress and output; the work is in
//! `redis_harness::chaos`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use redis_harness::chaos::{
    report, run_scenario, BackendKind, Progress, ProgressFn, RunOptions, Scenario, ScenarioResult, ServiceCommand,
};

/// Where the HTML report goes unless `--report` says otherwise.
const DEFAULT_REPORT: &str = "target/chaos/report.html";

#[derive(Args)]
pub(crate) struct ChaosArgs {
    /// A scenario name, or a path to a .toml file (none: every scenario in --dir).
    #[arg(value_name = "SCENARIO")]
    names: Vec<String>,
    /// embedded (the fake server), process (a real redis-server behind a fault proxy) or
    /// container (Redis in Docker behind a fault proxy; image from REDIS_HARNESS_IMAGE).
    #[arg(long, value_name = "B", default_value = "embedded", value_parser = parse_backend)]
    backend: BackendKind,
    /// Seed for faults and load (default REDIS_HARNESS_SEED or random).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Also write full results (every op) to PATH as JSON, and a chart per scenario
    /// beside it (PATH-stem-SCENARIO.svg).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Where to write the HTML report (summary table, charts, replay commands).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_REPORT)]
    report: PathBuf,
    /// Where scenarios are found.
    #[arg(long, value_name = "DIR", default_value = "fixtures/scenarios")]
    dir: PathBuf,
    /// Exit 0, saying why, when this machine cannot run the backend (no redis-server,
    /// no Docker); REDIS_HARNESS_REQUIRE_REAL=1 overrides.
    #[arg(long)]
    skip_unavailable: bool,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse::<BackendKind>().map_err(|_| "use embedded, process or container".to_string())
}

fn select(a: &ChaosArgs) -> Result<Vec<Scenario>, String> {
    let all = || Scenario::load_dir(&a.dir).map_err(|e| e.to_string());
    if a.names.is_empty() {
        return all();
    }
    let mut known: Option<Vec<Scenario>> = None;
    let mut out = Vec::new();
    for n in &a.names {
        if n.ends_with(".toml") {
            out.push(Scenario::load(Path::new(n)).map_err(|e| e.to_string())?);
            continue;
        }
        if known.is_none() {
            known = Some(all()?);
        }
        let list = known.as_deref().unwrap_or_default();
        let sc = list.iter().find(|s| &s.name == n).ok_or_else(|| {
            let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
            format!("no scenario named {n} in {}; known: {}", a.dir.display(), names.join(", "))
        })?;
        out.push(sc.clone());
    }
    Ok(out)
}

/// The command line that replays this run.
fn replay_command(a: &ChaosArgs, seed: u64) -> String {
    let mut cmd = String::from("redis-harness chaos");
    for n in &a.names {
        cmd.push(' ');
        cmd.push_str(n);
    }
    cmd.push_str(&format!(" --backend {} --seed {seed}", a.backend.name()));
    if a.dir != Path::new("fixtures/scenarios") {
        cmd.push_str(&format!(" --dir {}", a.dir.display()));
    }
    cmd
}

fn verdict(r: &ScenarioResult) -> String {
    match (&r.skipped, r.passed()) {
        (Some(why), _) => format!("skipped ({why})"),
        (None, true) => "ok".to_string(),
        (None, false) => "FAILED".to_string(),
    }
}

fn counts(p: &Progress) -> String {
    format!("{:>5.1}s/{:.1}s  ops {:>7}  errors {:>6}", p.elapsed.as_secs_f64(), p.total.as_secs_f64(), p.ops, p.errors)
}

/// How progress is shown: a bar per scenario on a terminal, otherwise a
/// plain line a second (CI logs stay readable).
enum Display {
    Bars,
    Lines,
}

impl Display {
    /// Starts showing `name`; returns the hook for the runner and the bar, if any.
    fn start(&self, name: &str) -> (ProgressFn, Option<ProgressBar>) {
        match self {
            Display::Bars => {
                let bar = ProgressBar::new(1000);
                let style = ProgressStyle::with_template("[chaos] {prefix:<28} {bar:24.cyan/blue} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(name.to_string());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(200));
                let b = bar.clone();
                let hook: ProgressFn = Arc::new(move |p: Progress| {
                    let done = p.elapsed.as_secs_f64() / p.total.as_secs_f64().max(1e-9);
                    b.set_position((done.clamp(0.0, 1.0) * 1000.0) as u64);
                    let tail = if p.elapsed >= p.total { "  (checking)" } else { "" };
                    b.set_message(format!("{}{tail}", counts(&p)));
                });
                (hook, Some(bar))
            }
            Display::Lines => {
                let name = name.to_string();
                let last = Mutex::new(Instant::now());
                let hook: ProgressFn = Arc::new(move |p: Progress| {
                    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                    if last.elapsed() >= Duration::from_secs(1) {
                        *last = Instant::now();
                        eprintln!("[chaos] {name:<28} {}", counts(&p));
                    }
                });
                (hook, None)
            }
        }
    }
}

/// Runs `redis-harness chaos`.
pub(crate) fn main(a: ChaosArgs) -> ExitCode {
    // Say once, before any scenario, when this machine cannot run the backend.
    if let Err(e) = redis_harness::backend::Backend::builder(a.backend).check_available() {
        if a.skip_unavailable && !redis_harness::backend::require_real() {
            println!("redis-harness chaos: skipped: {e}");
            return ExitCode::SUCCESS;
        }
        eprintln!("redis-harness chaos: {e}");
        return ExitCode::from(2);
    }
    let scenarios = match select(&a) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("redis-harness chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let seed =
        a.seed.or_else(|| std::env::var("REDIS_HARNESS_SEED").ok().and_then(|s| s.parse().ok())).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 % 1_000_000)
        });
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redis-harness chaos: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // The SIGTERM scenario's service is this very binary, run as `example-service`: built with it, never mid-run.
    let service = match std::env::current_exe() {
        Ok(exe) => Some(ServiceCommand::new(exe, &["example-service"])),
        Err(e) => {
            eprintln!("redis-harness chaos: cannot find this executable to run the example service: {e}");
            None
        }
    };
    let display = if std::io::stderr().is_terminal() { Display::Bars } else { Display::Lines };
    eprintln!("redis-harness chaos: {} scenario(s) on the {} backend, seed {seed}", scenarios.len(), a.backend.name());
    let started = Instant::now();
    let results = rt.block_on(async {
        let mut results = Vec::new();
        for sc in &scenarios {
            let (hook, bar) = display.start(&sc.name);
            let mut opts = RunOptions::new(a.backend, seed);
            opts.progress = Some(hook);
            opts.service = service.clone();
            let r = run_scenario(sc, &opts).await;
            let line = format!("{} in {:.1}s", verdict(&r), r.wall.as_secs_f64());
            match bar {
                Some(bar) => {
                    bar.set_position(1000);
                    let tail = if r.skipped.is_some() {
                        String::new()
                    } else {
                        format!("  ops {}  errors {}", r.ops(), r.errors.values().sum::<u64>())
                    };
                    bar.finish_with_message(format!("{line}{tail}"));
                }
                None => eprintln!("[chaos] {:<28} {line}", sc.name),
            }
            results.push(r);
        }
        results
    });
    let wall = started.elapsed();
    println!("\n{}", report::table(&results));
    println!("wall time {:.1}s for {} scenario(s)", wall.as_secs_f64(), results.len());
    if let Some(path) = &a.json {
        match report::write_json(&results, path) {
            Ok(charts) => {
                println!("results: {}", path.display());
                for c in charts {
                    println!("chart:   {}", c.display());
                }
            }
            Err(e) => {
                eprintln!("redis-harness chaos: writing {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    match report::write_html(&results, &replay_command(&a, seed), &a.report) {
        Ok(()) => println!("report:  {}", a.report.display()),
        Err(e) => {
            eprintln!("redis-harness chaos: writing {}: {e}", a.report.display());
            return ExitCode::from(2);
        }
    }
    if results.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
