//! Running one scenario: start the target, drive the load, play the
//! timeline, read back acknowledged writes, close everything, count the
//! sockets left, and judge the expectations.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::backend;
use super::load::{self, Sample, Shared};
use super::scenario::{Action, Event, Scenario};
use super::service;
use crate::backend::BackendKind;
use crate::fault::FaultGuard;
use crate::pool::{ConnectionConfig, Pool, PoolOptions};

/// How long the load pool gets to close at the end of a run.
const FINAL_CLOSE: Duration = Duration::from_secs(2);
/// How long the server may take to see the last socket go.
const SOCKETS_BOUND: Duration = Duration::from_secs(3);
/// How long ops in flight when the load stops may still finish.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(3);
/// How long clients get to notice the stop before they are aborted.
const CLIENTS_BOUND: Duration = Duration::from_secs(10);

/// How far a running scenario has got, handed to [`RunOptions::progress`]
/// about five times a second while its load runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Time since the load started.
    pub elapsed: Duration,
    /// The load's planned duration.
    pub total: Duration,
    /// Ops finished so far.
    pub ops: u64,
    /// Ops that failed so far.
    pub errors: u64,
}

/// Called with each [`Progress`] update (from a runtime task: keep it quick).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to start the example service for scenarios with a `[service]`
/// section: a program and its arguments (`redis-harness example-service`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl ServiceCommand {
    /// `program args...`.
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> ServiceCommand {
        ServiceCommand { program: program.into(), args: args.iter().map(|a| a.to_string()).collect() }
    }
}

/// How to run scenarios.
#[derive(Clone)]
pub struct RunOptions {
    /// The backend.
    pub backend: BackendKind,
    /// The seed for the server's faults and the load's choices.
    pub seed: u64,
    /// Told how the load is going while it runs (`None`: nothing is reported).
    pub progress: Option<ProgressFn>,
    /// Starts the example service; a scenario with a `[service]` section
    /// fails to run without it.
    pub service: Option<ServiceCommand>,
}

impl RunOptions {
    /// Runs on `backend` with `seed`, no progress and no service command.
    pub fn new(backend: BackendKind, seed: u64) -> RunOptions {
        RunOptions { backend, seed, progress: None, service: None }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("backend", &self.backend)
            .field("seed", &self.seed)
            .field("progress", &self.progress.is_some())
            .field("service", &self.service)
            .finish()
    }
}

/// One expectation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Stable name (`p99`, `recovery`, `leaks`, `lost-writes`, ...).
    pub name: String,
    /// The bound, as shown (`p99<300ms`).
    pub label: String,
    /// Whether it held.
    pub pass: bool,
    /// What was measured.
    pub detail: String,
}

/// How the example service ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceExit {
    /// From SIGTERM to exit.
    pub after_sigterm: Option<Duration>,
    /// Its exit code (`None`: killed by a signal, or still running at the bound).
    pub code: Option<i32>,
}

/// Everything measured in one scenario run.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Its one-sentence summary.
    pub summary: String,
    /// The backend it ran on.
    pub backend: BackendKind,
    /// The seed to replay it.
    pub seed: u64,
    /// Why it did not run (unsupported on this backend or build).
    pub skipped: Option<String>,
    /// Why the runner could not finish it (a setup failure, not an expectation).
    pub failure: Option<String>,
    /// Every op, in start order.
    pub samples: Vec<Sample>,
    /// Error counts by kind.
    pub errors: BTreeMap<String, u64>,
    /// Latency percentiles over every op (errors included).
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest op.
    pub max: Duration,
    /// Retries the pools performed.
    pub retries: u64,
    /// Sockets from the pools (or service) the server still had open at the end.
    pub sockets_open: usize,
    /// Acknowledged keys read back, and the ones that were missing.
    pub writes_checked: usize,
    /// Keys whose acknowledged write was not found.
    pub lost_writes: Vec<String>,
    /// How long a `close-pool` action took.
    pub close_took: Option<Duration>,
    /// The service's exit, in the SIGTERM scenario.
    pub service_exit: Option<ServiceExit>,
    /// The disturbance windows.
    pub windows: Vec<(Duration, Duration)>,
    /// The load's duration.
    pub duration: Duration,
    /// Wall time of the whole scenario (setup and checks included).
    pub wall: Duration,
    /// The expectations' outcomes.
    pub verdicts: Vec<Verdict>,
    /// The service's JSON log lines, if any.
    pub service_log: Vec<String>,
}

impl ScenarioResult {
    /// True when it ran and every expectation held, or it was skipped.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.verdicts.iter().all(|v| v.pass)
    }

    /// Total ops.
    pub fn ops(&self) -> usize {
        self.samples.len()
    }

    /// The verdicts that failed.
    pub fn failed(&self) -> Vec<&Verdict> {
        self.verdicts.iter().filter(|v| !v.pass).collect()
    }

    fn empty(sc: &Scenario, opts: &RunOptions) -> ScenarioResult {
        ScenarioResult {
            name: sc.name.clone(),
            summary: sc.summary.clone(),
            backend: opts.backend,
            seed: opts.seed,
            skipped: None,
            failure: None,
            samples: Vec::new(),
            errors: BTreeMap::new(),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            max: Duration::ZERO,
            retries: 0,
            sockets_open: 0,
            writes_checked: 0,
            lost_writes: Vec::new(),
            close_took: None,
            service_exit: None,
            windows: sc.windows(),
            duration: sc.duration,
            wall: Duration::ZERO,
            verdicts: Vec::new(),
            service_log: Vec::new(),
        }
    }
}

/// The pools a run used, kept to sum their retries and to await closes.
struct Pools {
    cfg: ConnectionConfig,
    opts: PoolOptions,
    all: Vec<Pool>,
    closing: Vec<tokio::task::JoinHandle<()>>,
}

impl Pools {
    fn build(&mut self) -> Result<Pool, String> {
        let p = Pool::new(self.cfg.clone(), self.opts.clone()).map_err(|e| e.to_string())?;
        self.all.push(p.clone());
        Ok(p)
    }
}

/// Runs one scenario. Never panics on a scenario's outcome: failures are in the result.
pub async fn run_scenario(sc: &Scenario, opts: &RunOptions) -> ScenarioResult {
    let wall = Instant::now();
    let mut r = ScenarioResult::empty(sc, opts);
    if let Some(b) = &sc.backends {
        if !b.iter().any(|n| n == opts.backend.name()) {
            r.skipped = Some(format!("runs on {} only", b.join(", ")));
            return r;
        }
    }
    if sc.tls && !cfg!(feature = "tls") {
        r.skipped = Some("needs the tls feature".into());
        return r;
    }
    if let Err(e) = drive(sc, opts, &mut r).await {
        r.failure = Some(e);
    }
    r.wall = wall.elapsed();
    r
}

async fn drive(sc: &Scenario, opts: &RunOptions, r: &mut ScenarioResult) -> Result<(), String> {
    let mut target = backend::start(opts.backend, opts.seed, sc.password.as_deref(), sc.tls)?;
    let mut cfg = ConnectionConfig::from_url(&target.url()).map_err(|e| e.to_string())?;
    cfg.tls = backend::tls_config(&target, false);
    let mut pools = Pools { cfg, opts: sc.pool.options.clone(), all: Vec::new(), closing: Vec::new() };
    let pool = pools.build()?;

    let mut svc = match &sc.service {
        Some(spec) => {
            let cmd = opts.service.as_ref().ok_or(
                "this scenario runs the example service: give RunOptions::service (the CLI runs itself as `redis-harness example-service`)",
            )?;
            Some(service::start(cmd, spec, &target.url()).await?)
        }
        None => None,
    };
    let shared = Arc::new(Shared {
        pool: Mutex::new(Some(pool)),
        service: Mutex::new(svc.as_ref().map(|s| s.addr)),
        stop: CancellationToken::new(),
        abort: CancellationToken::new(),
        start: Instant::now(),
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    // Whatever way this function returns, the clients and the progress line stop.
    let _stop_clients = shared.stop.clone().drop_guard();
    let _abort_clients = shared.abort.clone().drop_guard();
    let clients: Vec<_> = (0..sc.load.clients)
        .map(|id| tokio::spawn(load::client(id, sc.load.clone(), opts.seed, shared.clone())))
        .collect();
    let progress = opts.progress.clone().map(|f| spawn_progress(sc, shared.clone(), f));

    // The timeline: installs, removals and actions in time order.
    enum Step {
        Install(usize),
        Remove(usize),
        Act(Action),
        Restart,
    }
    let mut steps: Vec<(Duration, Step)> = Vec::new();
    for (i, t) in sc.timeline.iter().enumerate() {
        match &t.event {
            Event::Fault(_) => {
                steps.push((t.at, Step::Install(i)));
                if let Some(w) = t.window {
                    steps.push((t.at + w, Step::Remove(i)));
                }
            }
            Event::Action(a) => {
                steps.push((t.at, Step::Act(a.clone())));
                if *a == Action::Restart {
                    steps.push((t.at + t.window.unwrap_or_default(), Step::Restart));
                }
            }
        }
    }
    steps.sort_by_key(|(at, _)| *at);
    let mut guards: Vec<Option<FaultGuard>> = (0..sc.timeline.len()).map(|_| None).collect();
    let mut exit_waiter: Option<tokio::task::JoinHandle<ServiceExit>> = None;
    let start = tokio::time::Instant::from_std(shared.start);
    for (at, step) in steps {
        if at > sc.duration {
            break;
        }
        tokio::time::sleep_until(start + at).await;
        match step {
            Step::Install(i) => {
                if let Event::Fault(rule) = &sc.timeline[i].event {
                    // None while the server is down (a restart's window).
                    guards[i] = target.try_fault(rule.clone());
                }
            }
            Step::Remove(i) => drop(guards[i].take()),
            Step::Restart => {
                blocking(|| start_again(&mut target))?;
                // The disturbance lasts until the server is back (a container takes
                // a few hundred ms to start): recovery is the pool's, measured from then.
                let back = shared.start.elapsed();
                if let Some(w) = r.windows.iter_mut().find(|w| w.0 <= at && at <= w.1) {
                    w.1 = w.1.max(back);
                }
            }
            Step::Act(a) => match a {
                Action::KillAll => {
                    target.kill_all();
                }
                Action::Restart => blocking(|| target.kill_server()).map_err(|e| e.to_string())?,
                Action::SetPassword(pw) => blocking(|| target.set_password(&pw)).map_err(|e| e.to_string())?,
                Action::PoolPassword(pw) => {
                    pools.cfg.password = Some(pw);
                    swap_pool(&shared, &mut pools)?;
                }
                Action::TlsCert(kind) => backend::set_tls_cert(&target, &kind)?,
                Action::PoolTrustBoth => {
                    pools.cfg.tls = backend::tls_config(&target, true);
                    swap_pool(&shared, &mut pools)?;
                }
                Action::ClosePool(deadline) => {
                    let old = shared.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(p) = old {
                        let report = p.close(deadline).await;
                        r.close_took = Some(report.took);
                    }
                }
                Action::Sigterm => {
                    if let Some(s) = svc.as_mut() {
                        let pid = s.child.as_ref().and_then(|c| c.id()).ok_or("the service exited before SIGTERM")?;
                        service::sigterm(pid)?;
                        exit_waiter = Some(wait_exit(s));
                    }
                }
            },
        }
    }
    tokio::time::sleep_until(start + sc.duration).await;
    shared.stop.cancel();
    // Ops in flight at the end finish (a slow reply is a measurement, not noise) within a bound.
    let abort = shared.abort.clone();
    let grace = tokio::spawn(async move {
        tokio::time::sleep(IN_FLIGHT_GRACE).await;
        abort.cancel();
    });
    let mut outs = Vec::new();
    for c in clients {
        let abort = c.abort_handle();
        match tokio::time::timeout(CLIENTS_BOUND, c).await {
            Ok(Ok(out)) => outs.push(out),
            Ok(Err(e)) => return Err(format!("a load client failed: {e}")),
            Err(_) => {
                abort.abort();
                return Err(format!("a load client did not stop within {CLIENTS_BOUND:?}"));
            }
        }
    }
    grace.abort();
    if let Some(p) = progress {
        // It ends by itself once `stop` is cancelled; the last update counts every finished op.
        let _ = p.await;
        if let Some(report) = &opts.progress {
            report(Progress {
                elapsed: sc.duration,
                total: sc.duration,
                ops: shared.ops.load(Ordering::Relaxed),
                errors: shared.errors.load(Ordering::Relaxed),
            });
        }
    }
    drop(guards);
    blocking(|| start_again(&mut target))?;

    // The service: wait for it to exit (bounded); stop it if the scenario did not.
    if let Some(s) = svc.as_mut() {
        let waiter = match exit_waiter.take() {
            Some(w) => w,
            None => {
                if let Some(pid) = s.child.as_ref().and_then(|c| c.id()) {
                    service::sigterm(pid)?;
                }
                wait_exit(s)
            }
        };
        let bound = sc.expect.service_exit_within.unwrap_or(Duration::from_secs(5)) + Duration::from_secs(2);
        let abort = waiter.abort_handle();
        let exit = match tokio::time::timeout(bound, waiter).await {
            Ok(Ok(exit)) => exit,
            _ => {
                // Still running past the bound: the abort kills it, so the socket count below is fair.
                abort.abort();
                ServiceExit { after_sigterm: None, code: None }
            }
        };
        r.service_exit = Some(exit);
        r.service_log = s.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    }

    // Read back every acknowledged write through a fresh pool that trusts both CAs.
    let mut sets = HashMap::new();
    let mut incrs = HashMap::new();
    for o in &mut outs {
        r.samples.append(&mut o.samples);
        for (k, v) in o.acked_set.drain() {
            sets.insert(k, v);
        }
        for (k, v) in o.acked_incr.drain() {
            incrs.insert(k, v);
        }
    }
    r.samples.sort_by_key(|s| s.at);
    if sc.expect.checks_writes(opts.backend) {
        let mut cfg = ConnectionConfig::from_url(&target.url()).map_err(|e| e.to_string())?;
        cfg.tls = backend::tls_config(&target, true);
        let check =
            Pool::new(cfg, PoolOptions { pool_size: 1, ..PoolOptions::default() }).map_err(|e| e.to_string())?;
        let res = load::read_back(&check, &sets, &incrs).await;
        check.close(Duration::from_secs(2)).await;
        let (checked, lost) = res.map_err(|e| format!("reading back acknowledged writes: {e}"))?;
        r.writes_checked = checked;
        r.lost_writes = lost;
    }

    // Close the load pool (if the scenario did not), then count what the server still sees.
    let last = shared.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(p) = last {
        p.close(FINAL_CLOSE).await;
    }
    for h in pools.closing.drain(..) {
        let _ = h.await;
    }
    r.retries = pools.all.iter().map(|p| p.stats().retries).sum();
    drop(pools);
    r.sockets_open = backend::sockets_left(&target, SOCKETS_BOUND).await;
    drop(target);

    summarize(r);
    judge(sc, r);
    Ok(())
}

/// Times the service's exit from now (just after SIGTERM) on its own task,
/// so the exit time is measured when it happens, not when the run ends.
/// Aborting the task drops the child, which kills it (`kill_on_drop`).
fn wait_exit(s: &mut service::Service) -> tokio::task::JoinHandle<ServiceExit> {
    let sent = Instant::now();
    let child = s.child.take();
    tokio::spawn(async move {
        let Some(mut child) = child else { return ServiceExit { after_sigterm: None, code: None } };
        let status = child.wait().await;
        ServiceExit { after_sigterm: Some(sent.elapsed()), code: status.ok().and_then(|s| s.code()) }
    })
}

/// Replaces the load pool by a new one built from `pools.cfg`; the old one
/// is closed in the background with a deadline.
fn swap_pool(shared: &Shared, pools: &mut Pools) -> Result<(), String> {
    let new = pools.build()?;
    let old = shared.pool.lock().unwrap_or_else(|e| e.into_inner()).replace(new);
    if let Some(old) = old {
        pools.closing.push(tokio::spawn(async move {
            old.close(Duration::from_secs(1)).await;
        }));
    }
    Ok(())
}

fn spawn_progress(sc: &Scenario, shared: Arc<Shared>, report: ProgressFn) -> tokio::task::JoinHandle<()> {
    let total = sc.duration;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shared.stop.cancelled() => break,
            }
            report(Progress {
                elapsed: shared.start.elapsed().min(total),
                total,
                ops: shared.ops.load(Ordering::Relaxed),
                errors: shared.errors.load(Ordering::Relaxed),
            });
        }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summarize(r: &mut ScenarioResult) {
    let mut lat: Vec<Duration> = r.samples.iter().map(|s| s.latency).collect();
    lat.sort();
    r.p50 = percentile(&lat, 0.50);
    r.p99 = percentile(&lat, 0.99);
    r.max = lat.last().copied().unwrap_or_default();
    for s in &r.samples {
        if let Some(k) = s.error {
            *r.errors.entry(k.to_string()).or_insert(0) += 1;
        }
    }
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1}s", d.as_secs_f64())
    } else if d >= Duration::from_millis(10) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}ms", d.as_secs_f64() * 1e3)
    }
}

/// Runs `f`, which blocks (a server stops or starts), without stalling the
/// other tasks on a multi-thread runtime's worker.
/// Starts the server again if a restart left it down (a fake starts
/// empty; a real Redis reloads its append-only file).
fn start_again(target: &mut crate::backend::Backend) -> Result<(), String> {
    if target.is_server_running() {
        return Ok(());
    }
    target.restart_server().map_err(|e| e.to_string())
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn in_windows(at: Duration, w: &[(Duration, Duration)]) -> bool {
    w.iter().any(|(s, e)| at >= *s && at < *e)
}

/// The latest error ending after each window, measured from the window's end.
/// `None` when errors go on to the end of the run with no success after them.
fn recovery(r: &ScenarioResult) -> Option<Duration> {
    let mut worst = Duration::ZERO;
    for (i, (_, end)) in r.windows.iter().enumerate() {
        let next = r.windows.get(i + 1).map_or(Duration::MAX, |w| w.0);
        let after: Vec<&Sample> = r.samples.iter().filter(|s| s.at >= *end && s.at < next).collect();
        let Some(last_err) = after.iter().rposition(|s| s.error.is_some()) else { continue };
        if !after[last_err + 1..].iter().any(|s| s.error.is_none()) {
            return None;
        }
        let s = after[last_err];
        worst = worst.max((s.at + s.latency).saturating_sub(*end));
    }
    Some(worst)
}

fn rate(samples: &[&Sample]) -> (f64, usize, usize) {
    let errs = samples.iter().filter(|s| s.error.is_some()).count();
    let n = samples.len();
    (if n == 0 { 0.0 } else { errs as f64 / n as f64 }, errs, n)
}

fn judge(sc: &Scenario, r: &mut ScenarioResult) {
    let e = &sc.expect;
    let mut v = Vec::new();
    let mut add = |name: &str, label: String, pass: bool, detail: String| {
        v.push(Verdict { name: name.to_string(), label, pass, detail });
    };
    let during: Vec<&Sample> = r.samples.iter().filter(|s| in_windows(s.at, &r.windows)).collect();
    let (dr, de, dn) = rate(&during);
    if let Some(max) = e.max_error_rate_during_fault {
        add(
            "error-rate-during-fault",
            format!("err≤{}%", max * 100.0),
            dr <= max,
            format!("{de}/{dn} = {:.1}%", dr * 100.0),
        );
    }
    if let Some(min) = e.min_error_rate_during_fault {
        add(
            "min-error-rate-during-fault",
            format!("err≥{}%", min * 100.0),
            dn > 0 && dr >= min,
            format!("{de}/{dn} = {:.1}%", dr * 100.0),
        );
    }
    if let Some(max) = e.max_error_rate_outside_fault {
        let grace = e.recovery_within.unwrap_or_default();
        let outside: Vec<&Sample> = r
            .samples
            .iter()
            .filter(|s| {
                !in_windows(s.at, &r.windows) && !r.windows.iter().any(|(_, end)| s.at >= *end && s.at < *end + grace)
            })
            .collect();
        let (or, oe, on) = rate(&outside);
        add(
            "error-rate-outside-fault",
            format!("err outside≤{}%", max * 100.0),
            or <= max,
            format!("{oe}/{on} = {:.1}%", or * 100.0),
        );
    }
    if let Some(bound) = e.recovery_within {
        let rec = recovery(r);
        let ok_after = r.samples.iter().any(|s| s.error.is_none() && !in_windows(s.at, &r.windows));
        add(
            "recovery",
            format!("recover≤{}", ms(bound)),
            ok_after && rec.is_some_and(|d| d <= bound),
            match rec {
                Some(d) => format!("recovered in {}", ms(d)),
                None => "errors until the end".into(),
            },
        );
    }
    if let Some(bound) = e.p99_below {
        add("p99", format!("p99<{}", ms(bound)), r.p99 < bound, format!("p99 {}", ms(r.p99)));
    }
    for (kind, n) in &e.errors_at_least {
        let got = r.errors.get(kind).copied().unwrap_or(0);
        add(&format!("errors-at-least:{kind}"), format!("{kind}≥{n}"), got >= *n, format!("{kind} {got}"));
    }
    for (kind, n) in &e.errors_at_most {
        let got = r.errors.get(kind).copied().unwrap_or(0);
        add(&format!("errors-at-most:{kind}"), format!("{kind}≤{n}"), got <= *n, format!("{kind} {got}"));
    }
    if let Some(bound) = e.close_within {
        let pass = r.close_took.is_some_and(|t| t <= bound);
        let detail = r.close_took.map_or("no close-pool action ran".into(), |t| format!("close took {}", ms(t)));
        add("close-within", format!("close≤{}", ms(bound)), pass, detail);
    }
    if let Some(bound) = e.service_exit_within {
        let (pass, detail) = match &r.service_exit {
            Some(ServiceExit { after_sigterm: Some(t), code: Some(0) }) => {
                (*t <= bound, format!("exit 0 after {}", ms(*t)))
            }
            Some(ServiceExit { code: Some(c), .. }) => (false, format!("exit status {c}")),
            Some(ServiceExit { code: None, after_sigterm: Some(_) }) => (false, "killed by a signal".into()),
            _ => (false, "did not exit in time".into()),
        };
        add("service-exit", format!("exit 0≤{}", ms(bound)), pass, detail);
    }
    if e.no_leaked_sockets {
        add("leaks", "0 sockets".into(), r.sockets_open == 0, format!("{} open", r.sockets_open));
    }
    if e.checks_writes(r.backend) {
        let detail = match r.lost_writes.first() {
            None => format!("{} keys read back", r.writes_checked),
            Some(first) => format!("{} lost, e.g. {first}", r.lost_writes.len()),
        };
        add("lost-writes", "no lost writes".into(), r.lost_writes.is_empty(), detail);
    }
    r.verdicts = v;
}

pub(crate) fn fmt_ms(d: Duration) -> String {
    ms(d)
}
