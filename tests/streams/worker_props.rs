//! At-least-once delivery of a consumer-group worker through the pool under
//! faults, as a property: random sequences of XADDs, worker steps
//! (`XAUTOCLAIM` of entries idle over [`MIN_IDLE_MS`], `XREADGROUP >`,
//! `XACK`), lost `XREADGROUP`/`XACK` replies (a one-shot reset: the command
//! runs, the reply is lost), `kill_all`, and clock advances, ending with a
//! drain (the clock moved past the min-idle time, every worker stepping until
//! none gets anything). Then every id whose XADD was acknowledged was handed
//! to some worker, and the group's `XPENDING` count is 0.
//!
//! The server's clock is paused, so idle times move only when a case says
//! so; reads never BLOCK; nothing sleeps. The broken worker (no
//! `XAUTOCLAIM`, [`Worker::NoReclaim`]) must be caught by the same property.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use redis_harness::fault::FaultRule;
use redis_harness::pool::{Cmd, ConnectionConfig, Error, Pool, PoolOptions, Value};
use redis_harness::FakeRedis;

const STREAM: &str = "jobs";
const GROUP: &str = "workers";
const WORKERS: usize = 3;
/// Pending entries idle this long are reclaimed.
const MIN_IDLE_MS: u64 = 1_000;
/// Hang guard for one whole case.
const CASE_BOUND: Duration = Duration::from_secs(30);

/// The worker's policy.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Worker {
    /// Reclaims idle pending entries with XAUTOCLAIM (the correct worker).
    Reclaim,
    /// Never reclaims: a test-only broken worker the property must catch.
    NoReclaim,
}

#[derive(Debug, Clone)]
enum Op {
    /// XADD this many entries.
    Add(usize),
    /// One step of this worker.
    Step(usize),
    /// The next XREADGROUP runs but its reply is lost (a reset).
    LoseRead,
    /// The next XACK runs but its reply is lost (a reset).
    LoseAck,
    /// Every client connection is closed.
    KillAll,
    /// The server clock moves past the min-idle time.
    Advance,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1usize..5).prop_map(Op::Add),
        4 => (0..WORKERS).prop_map(Op::Step),
        1 => Just(Op::LoseRead),
        1 => Just(Op::LoseAck),
        1 => Just(Op::KillAll),
        1 => Just(Op::Advance),
    ]
}

fn ids_of(entries: &Value) -> Vec<String> {
    match entries {
        Value::Array(es) => es
            .iter()
            .filter_map(|e| match e {
                Value::Array(p) => p.first().and_then(|v| v.as_bytes()).map(|b| String::from_utf8_lossy(b).into()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What the run saw.
#[derive(Default)]
struct Seen {
    added: Vec<String>,
    processed: HashSet<String>,
}

/// One worker step; records every id it is handed as processed, even if the
/// XACK after it fails. Returns how many it was handed.
async fn step(pool: &Pool, worker: Worker, w: usize, seen: &mut Seen) -> Result<usize, Error> {
    let consumer = format!("c{w}");
    let mut got = Vec::new();
    if worker == Worker::Reclaim {
        let cmd = Cmd::new("XAUTOCLAIM").arg(STREAM).arg(GROUP).arg(consumer.as_str()).arg(MIN_IDLE_MS).arg("0-0");
        if let Value::Array(parts) = pool.query(&cmd.arg("COUNT").arg(100)).await? {
            got.extend(parts.get(1).map(ids_of).unwrap_or_default());
        }
    }
    let cmd = Cmd::new("XREADGROUP").arg("GROUP").arg(GROUP).arg(consumer.as_str()).arg("COUNT").arg(3);
    // RESP2: [[key, entries]]; RESP3: {key: entries}; nil when nothing is new.
    match pool.query(&cmd.arg("STREAMS").arg(STREAM).arg(">")).await? {
        Value::Array(streams) => {
            for s in streams {
                if let Value::Array(kv) = s {
                    got.extend(kv.get(1).map(ids_of).unwrap_or_default());
                }
            }
        }
        Value::Map(streams) => {
            for (_, entries) in streams {
                got.extend(ids_of(&entries));
            }
        }
        _ => {}
    }
    seen.processed.extend(got.iter().cloned());
    if !got.is_empty() {
        let mut ack = Cmd::new("XACK").arg(STREAM).arg(GROUP);
        for id in &got {
            ack = ack.arg(id.as_str());
        }
        pool.query(&ack).await?;
    }
    Ok(got.len())
}

/// Runs one case; `Err` says which id was lost or what is left pending.
async fn run_case(ops: &[Op], worker: Worker) -> Result<(), String> {
    let server = FakeRedis::builder().paused_clock().seed(1).start().await;
    let opts = PoolOptions { pool_size: 2, max_retries: 0, ..PoolOptions::default() };
    let pool = Pool::new(ConnectionConfig::from_url(&server.url()).map_err(|e| e.to_string())?, opts)
        .map_err(|e| e.to_string())?;
    pool.query(&Cmd::new("XGROUP").arg("CREATE").arg(STREAM).arg(GROUP).arg("$").arg("MKSTREAM"))
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = Seen::default();
    let mut guards = Vec::new();
    for op in ops {
        match op {
            Op::Add(n) => {
                for _ in 0..*n {
                    // A failed XADD (a connection just killed) is not acknowledged: not required.
                    if let Ok(v) = pool.query(&Cmd::new("XADD").arg(STREAM).arg("*").arg("job").arg("x")).await {
                        let id = v.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned());
                        seen.added.push(id.ok_or_else(|| format!("XADD replied {v:?}"))?);
                    }
                }
            }
            Op::Step(w) => {
                // Errors are what the faults are for: the step is simply cut short.
                let _ = step(&pool, worker, *w, &mut seen).await;
            }
            Op::LoseRead => guards.push(server.fault(FaultRule::reset().on(["XREADGROUP"]).nth(1))),
            Op::LoseAck => guards.push(server.fault(FaultRule::reset().on(["XACK"]).nth(1))),
            Op::KillAll => {
                server.kill_all();
            }
            Op::Advance => server.advance_time(Duration::from_millis(MIN_IDLE_MS + 1)),
        }
    }
    drop(guards);
    // The drain: idle time passes, every worker steps until a full round gets
    // nothing. The clock moves before every round: a read that ran on a
    // connection `kill_all` was still closing lost its reply, and what it
    // delivered is reclaimable only once it is idle in turn.
    for _ in 0..1_000 {
        server.advance_time(Duration::from_millis(MIN_IDLE_MS + 1));
        let mut got = 0;
        for w in 0..WORKERS {
            // No faults remain; a step fails only on a connection killed just before.
            got += step(&pool, worker, w, &mut seen).await.unwrap_or(1);
        }
        if got == 0 {
            break;
        }
    }
    // A fresh pool: the load pool's connections may have been killed.
    let admin =
        Pool::new(ConnectionConfig::from_url(&server.url()).map_err(|e| e.to_string())?, PoolOptions::default())
            .map_err(|e| e.to_string())?;
    let pending = admin.query(&Cmd::new("XPENDING").arg(STREAM).arg(GROUP)).await.map_err(|e| e.to_string())?;
    pool.close(Duration::from_secs(2)).await;
    admin.close(Duration::from_secs(2)).await;
    let missing: Vec<&String> = seen.added.iter().filter(|id| !seen.processed.contains(*id)).collect();
    if let Some(id) = missing.first() {
        return Err(format!("{} acknowledged XADD id(s) never processed, e.g. {id}", missing.len()));
    }
    match &pending {
        Value::Array(p) if p.first() == Some(&Value::Int(0)) => Ok(()),
        other => Err(format!("entries left pending: XPENDING {other:?}")),
    }
}

/// Runs the property for `cases` cases from `seed`; `Err` is the shrunk failure.
fn check(worker: Worker, cases: u32, seed: u64) -> Result<(), String> {
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            rt.block_on(async {
                match tokio::time::timeout(CASE_BOUND, run_case(&ops, worker)).await {
                    Ok(r) => r.map_err(TestCaseError::fail),
                    Err(_) => Err(TestCaseError::fail(format!("case hung past {CASE_BOUND:?}"))),
                }
            })
        })
        .map_err(|e| e.to_string())
}

fn seed() -> u64 {
    std::env::var("PROPS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(11)
}

#[test]
fn reclaiming_worker_processes_every_acknowledged_xadd_and_leaves_nothing_pending() {
    if let Err(e) = check(Worker::Reclaim, 48, seed()) {
        panic!("at-least-once broken (PROPS_SEED={}): {e}", seed());
    }
}

#[test]
fn property_catches_a_worker_that_never_reclaims() {
    match check(Worker::NoReclaim, 200, seed()) {
        Ok(()) => panic!("the property passed 200 cases with a worker that never runs XAUTOCLAIM"),
        Err(e) => {
            eprintln!("caught the no-reclaim worker: {e}");
            assert!(e.contains("never processed") || e.contains("left pending"), "{e}");
        }
    }
}
