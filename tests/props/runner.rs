//! Drives the suite with proptest's `TestRunner` directly: one tokio
//! runtime per case, the case count from `PROPTEST_CASES` (default in
//! code), a printed seed (`PROPS_SEED` replays it), failures persisted in
//! `proptest-regressions/props.txt`.

use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use redis_harness::pool::Sabotage;

use crate::backend::BackendFactory;
use crate::exec::run_case;
use crate::model::{case, Case};

/// Where failures are persisted (committed): replayed first by every run.
pub const REGRESSIONS: &str = "proptest-regressions/props.txt";

/// `PROPTEST_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `PROPS_SEED` if set, else `default`, else a random seed; printed so a
/// failure can be replayed.
pub fn seed(test: &str, default: Option<u64>) -> u64 {
    let env = std::env::var("PROPS_SEED").ok().and_then(|v| v.parse().ok());
    let seed = env.or(default).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{test}: seed {seed} (replay with PROPS_SEED={seed})");
    seed
}

fn runner(cases: u32, seed: u64, persist: bool, max_shrink_iters: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: if persist { Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))) } else { None },
        max_shrink_iters,
        // Shrinking re-runs real-time cases: bounded by `max_shrink_iters`, a
        // count (0 here: no wall-clock cut-off, which a loaded machine hits
        // sooner); sabotage runs are minimised further by `minimize`.
        max_shrink_time: 0,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs one case on its own runtime.
pub fn run_one(factory: &dyn BackendFactory, case: &Case, sabotage: Sabotage) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let r = rt.block_on(async {
        match tokio::time::timeout(std::time::Duration::from_secs(60), run_case(factory, case, sabotage)).await {
            Ok(r) => r,
            Err(_) => Err("[every_wait_bounded] the whole case took over 60s".to_string()),
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    r
}

/// Runs the suite; `Err((reason, shrunk case))` on a failure.
pub fn run_suite(
    test: &str,
    factory: &dyn BackendFactory,
    sabotage: Sabotage,
    cases: u32,
    persist: bool,
    default_seed: Option<u64>,
) -> Result<u32, Box<(String, Case)>> {
    let seed = seed(test, default_seed);
    let mut runner = runner(cases, seed, persist, if persist { 256 } else { 24 });
    let started = std::time::Instant::now();
    let runs = std::sync::atomic::AtomicU32::new(0);
    let first_failure = std::sync::Mutex::new(None);
    let result = runner.run(&case(), |c| {
        let n = runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let r = run_one(factory, &c, sabotage);
        if r.is_err() {
            first_failure.lock().unwrap().get_or_insert((n, started.elapsed()));
        }
        r.map_err(TestCaseError::fail)
    });
    if let Some((n, at)) = *first_failure.lock().unwrap() {
        eprintln!("{test}: first failure at run {n} after {at:?}; {} runs with shrinking", runs.into_inner());
    }
    eprintln!("{test}: {cases} cases in {:?} against {}", started.elapsed(), factory.name());
    match result {
        Ok(()) => Ok(cases),
        Err(TestError::Fail(reason, case)) => Err(Box::new((reason.to_string(), case))),
        Err(TestError::Abort(reason)) => {
            Err(Box::new((format!("aborted: {reason}"), Case { cfg: small_cfg(), rounds: vec![] })))
        }
    }
}

pub fn small_cfg() -> crate::model::Config {
    crate::model::Config {
        pool_size: 1,
        min_idle: 0,
        fifo: false,
        pool_timeout_ms: 100,
        idle_time_ms: None,
        lifetime_ms: None,
        ping_after_idle_ms: None,
        max_retries: 0,
        breaker: None,
        reaper_ms: None,
        auth: false,
        db: 0,
    }
}

/// Runs the suite and panics with the shrunk counterexample on a failure.
pub fn check(test: &str, factory: &dyn BackendFactory, default_cases: u32) {
    if let Err(failure) = run_suite(test, factory, Sabotage::None, cases(default_cases), true, None) {
        let (reason, case) = *failure;
        panic!("{test}: property failed: {reason}\nshrunk case ({} ops):\n{case:?}", case.op_count());
    }
}

/// Greedy minimisation after proptest's shrinking: removes rounds, tasks
/// and operations one at a time while the case still fails, in passes
/// until nothing more can go or `steps` candidates have been run.
/// Proptest's shrinker makes one pass per collection, which a
/// timing-dependent failure stops early.
pub fn minimize(mut case: Case, fails: impl Fn(&Case) -> bool, steps: usize) -> Case {
    let mut left = steps;
    loop {
        let mut changed = false;
        let mut i = 0;
        loop {
            let cands = candidates(&case);
            if i >= cands.len() {
                break;
            }
            if left == 0 {
                return case;
            }
            left -= 1;
            if fails(&cands[i]) {
                case = cands[i].clone();
                changed = true;
            } else {
                i += 1;
            }
        }
        if !changed {
            return case;
        }
    }
}

/// Every case with one round, task or operation removed (smallest first).
fn candidates(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    let last = case.rounds.len().saturating_sub(1);
    for r in 0..last {
        let mut c = case.clone();
        c.rounds.remove(r);
        out.push(c);
    }
    for (r, tasks) in case.rounds.iter().enumerate() {
        for t in 0..tasks.len() {
            if tasks.len() > 1 {
                let mut c = case.clone();
                c.rounds[r].remove(t);
                out.push(c);
            }
            for i in 0..tasks[t].len() {
                if tasks[t].len() > 1 {
                    let mut c = case.clone();
                    c.rounds[r][t].remove(i);
                    out.push(c);
                }
            }
        }
    }
    out
}
