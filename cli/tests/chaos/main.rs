//! Chaos scenarios end to end against the embedded fake: every shipped
//! scenario holds, and every negative variant (the protection removed) is
//! reported as failing the expectation that protection is for.
//!
//! The full run is one test with the timeline scaled to 60% (fault windows
//! of ~0.6s), so CI pays for it once; scenarios run one at a time because
//! they measure latency on a 2-core machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use redis_harness::backend::{require_real, Backend};
use redis_harness::chaos::{report, run_scenario, BackendKind, RunOptions, Scenario, ServiceCommand};

/// Scenarios measure time: never two at once.
static SERIAL: Mutex<()> = Mutex::new(());

const SEED: u64 = 42;
const SCALE: f64 = 0.6;
/// The CLI enables the library's `tls` feature.
const TLS_BUILT: bool = true;
const BIN: &str = env!("CARGO_BIN_EXE_redis-harness");

/// The workspace root, where `fixtures/` is.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn dir() -> PathBuf {
    root().join("fixtures/scenarios")
}

/// The backends to run on: all three, or only the one `REDIS_HARNESS_BACKEND` names.
fn backend_kinds() -> Vec<BackendKind> {
    match std::env::var("REDIS_HARNESS_BACKEND") {
        Ok(v) if !v.trim().is_empty() => vec![BackendKind::from_env()],
        _ => BackendKind::ALL.to_vec(),
    }
}

/// The example service is the CLI itself, as `redis-harness example-service`,
/// which cargo builds before this test.
fn opts(backend: BackendKind, seed: u64) -> RunOptions {
    let mut o = RunOptions::new(backend, seed);
    o.service = Some(ServiceCommand::new(BIN, &["example-service"]));
    o
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn run_all(scenarios: &[Scenario]) -> Vec<redis_harness::chaos::ScenarioResult> {
    let opts = opts(BackendKind::Embedded, SEED);
    runtime().block_on(async {
        let mut out = Vec::new();
        for sc in scenarios {
            let mut sc = sc.clone();
            sc.scale_time(SCALE);
            out.push(run_scenario(&sc, &opts).await);
        }
        out
    })
}

#[test]
fn scenario_files_load_and_each_has_a_negative_variant() {
    let shipped = Scenario::load_dir(&dir()).unwrap();
    let negative = Scenario::load_dir(&dir().join("negative")).unwrap();
    assert!(shipped.len() >= 11, "{} scenarios", shipped.len());
    let mut names: Vec<&str> = shipped.iter().chain(&negative).map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), shipped.len() + negative.len(), "scenario names must be unique");
    for s in &shipped {
        assert!(s.must_fail.is_empty(), "{}: must_fail belongs in negative/", s.name);
        let file = s.path.file_name().unwrap();
        let neg = negative.iter().find(|n| n.path.file_name() == Some(file));
        assert!(neg.is_some(), "{} has no negative variant in negative/{}", s.name, file.to_string_lossy());
    }
    for n in &negative {
        assert!(!n.must_fail.is_empty(), "{}: a negative variant names the expectations that must fail", n.name);
    }
}

#[test]
fn shipped_scenarios_hold_against_the_fake() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scenarios = Scenario::load_dir(&dir()).unwrap();
    let results = run_all(&scenarios);
    let table = report::table(&results);
    println!("{table}");
    for (sc, r) in scenarios.iter().zip(&results) {
        assert!(r.skipped.is_none() || (sc.tls && !TLS_BUILT), "{} skipped: {:?}", r.name, r.skipped);
        assert!(r.passed(), "{} failed (seed {SEED}):\n{table}", r.name);
        if r.skipped.is_none() {
            assert!(r.ops() > 50, "{}: only {} ops", r.name, r.ops());
        }
    }
}

#[test]
fn negative_variants_fail_the_expectation_their_protection_guards() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scenarios = Scenario::load_dir(&dir().join("negative")).unwrap();
    let results = run_all(&scenarios);
    let table = report::table(&results);
    println!("{table}");
    for (sc, r) in scenarios.iter().zip(&results) {
        if r.skipped.is_some() {
            // Only TLS scenarios may be skipped, and only in a build without TLS.
            assert!(sc.tls && !TLS_BUILT, "{} skipped: {:?}", r.name, r.skipped);
            continue;
        }
        assert!(r.failure.is_none(), "{} could not run: {:?}", r.name, r.failure);
        assert!(!r.passed(), "{} passed with its protection removed:\n{table}", r.name);
        let failed: Vec<&str> = r.failed().iter().map(|v| v.name.as_str()).collect();
        for want in &sc.must_fail {
            assert!(
                failed.contains(&want.as_str()),
                "{}: expected `{want}` to fail, failed: {failed:?}\n{table}",
                r.name
            );
        }
    }
}

#[test]
fn json_results_svg_chart_and_html_page_are_written() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let toml = r#"
name = "tiny"
summary = "a short spike"
duration = "1s"
[load]
clients = 2
rate = 200
mix = { get = 1, set = 1, incr = 1 }
[pool]
read_timeout = "50ms"
[[fault]]
rule = "latency 80ms cmd=GET prob=0.5"
at = "300ms"
for = "300ms"
[expect]
recovery_within = "300ms"
"#;
    let sc = Scenario::parse(toml, Path::new("tiny.toml")).unwrap();
    let opts = opts(BackendKind::Embedded, 7);
    let r = runtime().block_on(run_scenario(&sc, &opts));
    assert!(r.passed(), "{}", report::table(std::slice::from_ref(&r)));
    assert!(r.errors.get("read-timeout").copied().unwrap_or(0) + r.retries > 0, "the spike was seen");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out/results.json");
    let charts = report::write_json(std::slice::from_ref(&r), &json).unwrap();
    assert_eq!(charts, vec![dir.path().join("out/results-tiny.svg")]);
    let text = std::fs::read_to_string(&json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = &v["scenarios"][0];
    assert_eq!(s["name"], "tiny");
    assert_eq!(s["seed"], 7);
    assert_eq!(s["ops"].as_u64().unwrap() as usize, r.ops());
    assert_eq!(s["fault_windows_s"][0][0].as_f64().unwrap(), 0.3);
    assert_eq!(s["samples"].as_array().unwrap().len(), r.ops());
    let svg = std::fs::read_to_string(&charts[0]).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(r##"opacity="0.22" fill="#F5A623""##), "the fault window is shaded");
    let dots = svg.matches("<circle").count();
    assert!(dots >= r.ops().min(8000) / 2, "{dots} dots for {} ops", r.ops());

    // The HTML page: the table, the replay command, and both charts inline.
    let page = report::html(std::slice::from_ref(&r), "redis-harness chaos tiny.toml --seed 7");
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert!(page.contains("<table id=\"summary\">") && page.contains("<a href=\"#tiny\">tiny</a>"));
    assert!(page.contains("redis-harness chaos tiny --backend embedded --seed 7"), "the scenario's replay command");
    assert_eq!(page.matches("<figure class=\"chart\"").count(), 2);
    assert_eq!(page.matches("<svg").count(), 2);
    assert!(!page.contains("<script") && !page.contains(" src="), "self-contained, nothing to load");
}

const TWO_SCENARIOS: [(&str, &str); 2] = [
    (
        "page-a",
        r#"
name = "page-a"
summary = "resets for a moment"
duration = "1500ms"
[load]
clients = 2
rate = 300
mix = { get = 2, set = 1 }
[[fault]]
rule = "reset cmd=GET prob=0.2"
at = "500ms"
for = "400ms"
"#,
    ),
    (
        "page-b",
        r#"
name = "page-b"
summary = "errors for a moment"
duration = "1500ms"
[load]
clients = 2
rate = 300
mix = { get = 1, incr = 1 }
[[fault]]
rule = "error LOADING prob=0.3"
at = "600ms"
for = "300ms"
"#,
    ),
];

/// `redis-harness chaos` writes the HTML report (its path printed at the
/// end), and a real headless Chromium loads it with no console message and
/// shows both charts of every scenario.
#[test]
fn html_report_loads_in_headless_chromium() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["chaos".to_string()];
    for (name, toml) in TWO_SCENARIOS {
        let p = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&p, toml).unwrap();
        args.push(p.display().to_string());
    }
    let page = tmp.path().join("out/report.html");
    let out = Command::new(BIN)
        .args(&args)
        .args(["--seed", "3", "--report"])
        .arg(&page)
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("report:  {}", page.display())), "{stdout}");
    assert!(stdout.contains("wall time"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[chaos] page-a") && stderr.contains("ok in"),
        "plain progress lines off a terminal: {stderr}"
    );
    assert!(!stderr.contains('\r') && !stderr.contains('\x1b'), "no bars off a terminal: {stderr:?}");

    let Some(chromium) = find_chromium() else { return };
    let out = Command::new(&chromium)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{chromium} failed: {}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "the page logged to the console: {console:#?}");
    let dom = String::from_utf8_lossy(&out.stdout);
    for (name, _) in TWO_SCENARIOS {
        let at = dom.find(&format!("data-scenario=\"{name}\"")).unwrap_or_else(|| panic!("no section for {name}"));
        let section = &dom[at..dom[at..].find("</section>").map_or(dom.len(), |e| at + e)];
        for chart in ["latency", "errors"] {
            let fig =
                section.find(&format!("data-chart=\"{chart}\"")).unwrap_or_else(|| panic!("{name}: no {chart} chart"));
            assert!(section[fig..].contains("<svg"), "{name}: the {chart} chart has no svg");
        }
        assert!(section.contains(&format!("redis-harness chaos {name} --backend embedded --seed 3")), "{name}: replay");
    }
}

/// Debian's `chromium`, or why the browser check is skipped (a failure under
/// `REDIS_HARNESS_REQUIRE_REAL=1`: .ci/run installs it).
fn find_chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(name.to_string());
        }
    }
    let why = "chromium is not installed (apt-get install chromium)";
    assert!(!require_real(), "REDIS_HARNESS_REQUIRE_REAL=1 but {why}");
    eprintln!("skipped the browser check: {why}");
    None
}

/// The restart scenario on a real Redis: killed with SIGKILL, started
/// again (the process on its port, the container on a new mapping the proxy
/// follows), and every acknowledged write is read back from the append-only
/// file; its negative variant (a 5s breaker) must miss the recovery bound.
#[test]
fn redis_restart_on_real_backends_loses_no_acknowledged_write() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let test = "redis_restart_on_real_backends_loses_no_acknowledged_write";
    let sc = Scenario::load(&dir().join("redis-restart.toml")).unwrap();
    let neg = Scenario::load(&dir().join("negative/redis-restart.toml")).unwrap();
    assert!(!sc.expect.no_lost_writes && sc.expect.no_lost_writes_on_real);
    for kind in backend_kinds().into_iter().filter(|k| k.is_real()) {
        if !Backend::available_or_skip(&Backend::builder(kind), test) {
            continue;
        }
        let opts = opts(kind, SEED);
        let (r, n) = runtime().block_on(async { (run_scenario(&sc, &opts).await, run_scenario(&neg, &opts).await) });
        let table = report::table(&[r.clone(), n.clone()]);
        println!("{kind}:\n{table}");
        assert!(r.failure.is_none() && n.failure.is_none(), "{kind}: could not run:\n{table}");
        assert!(r.passed(), "{kind}: redis-restart failed (seed {SEED}):\n{table}");
        assert!(r.writes_checked > 0 && r.lost_writes.is_empty(), "{kind}: writes were not read back:\n{table}");
        assert!(
            r.errors.get("circuit-open").copied().unwrap_or(0) + r.errors.get("refused").copied().unwrap_or(0) > 0,
            "{kind}: the outage was not seen:\n{table}"
        );
        let failed: Vec<&str> = n.failed().iter().map(|v| v.name.as_str()).collect();
        assert!(failed.contains(&"recovery"), "{kind}: the 5s breaker should miss the recovery bound:\n{table}");
    }
}

#[test]
fn unavailable_backends_are_refused_or_skipped_with_the_reason() {
    let run = |args: &[&str], require_real: &str| {
        Command::new(BIN)
            .args(["chaos", "reset-storm"])
            .args(args)
            .env("REDIS_HARNESS_SERVER_BIN", "/nonexistent/redis-server")
            .env("REDIS_HARNESS_REQUIRE_REAL", require_real)
            .current_dir(root())
            .output()
            .unwrap()
    };
    let out = run(&["--backend", "process"], "0");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the process backend is unavailable") && err.contains("apt-get install redis-server"),
        "{err}"
    );
    let out = run(&["--backend", "process", "--skip-unavailable"], "0");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped: the process backend is unavailable"));
    let out = run(&["--backend", "process", "--skip-unavailable"], "1");
    assert_eq!(out.status.code(), Some(2), "REDIS_HARNESS_REQUIRE_REAL=1 turns the skip into a failure");
    let out = run(&["--backend", "podman"], "0");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use embedded, process or container"));
}

#[test]
fn unknown_scenario_lists_the_known_ones() {
    let out = Command::new(BIN).args(["chaos", "no-such-scenario"]).current_dir(root()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no scenario named no-such-scenario") && err.contains("reset-storm"), "{err}");
}
