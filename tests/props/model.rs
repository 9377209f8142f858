//! What a case is made of: pool options, and rounds of concurrent tasks,
//! each a sequence of operations. Everything is generated (and shrunk) by
//! proptest: the options, the operations, and the yield points that shape
//! the interleaving.

use std::fmt;
use std::time::Duration;

use proptest::prelude::*;

/// Pool options of one case: small real durations, so idle time, lifetime,
/// the breaker's cool-down and timeouts all happen within a case.
#[derive(Clone, Debug)]
pub struct Config {
    pub pool_size: usize,
    pub min_idle: usize,
    pub fifo: bool,
    pub pool_timeout_ms: u64,
    pub idle_time_ms: Option<u64>,
    pub lifetime_ms: Option<u64>,
    pub ping_after_idle_ms: Option<u64>,
    pub max_retries: u32,
    /// (threshold, cool-down ms); None disables the breaker.
    pub breaker: Option<(u32, u64)>,
    pub reaper_ms: Option<u64>,
    pub auth: bool,
    pub db: i64,
}

/// Fixed for every case: long enough for a loaded 2-core machine, short
/// enough that a case takes well under a second.
pub const READ_TIMEOUT: Duration = Duration::from_millis(400);
pub const DIAL_TIMEOUT: Duration = Duration::from_millis(400);

/// Where a command future is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdPoint {
    /// Created, never polled: nothing was written.
    BeforeWrite,
    /// Written; the reply is held back by a latency fault on this command.
    AfterWrite,
    /// Part of the reply arrived (a partial-write fault trickles it).
    MidReply,
}

/// Where a `get()` future is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetPoint {
    /// Whatever it is doing after a few milliseconds (usually waiting for a turn).
    Waiting,
    /// Connected, but the server does not accept/serve (stop-accepting).
    Dialling,
    /// The handshake (HELLO / AUTH) is held back by latency.
    Handshake,
    /// The checkout PING of an idle connection is held back by latency.
    HealthCheck,
}

/// Faults a task installs for the rest of its round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Every ECHO's reply is late by this many ms (less than the read timeout).
    Latency(u64),
    /// The next ECHO is never answered (the client's read timeout ends it).
    Stall,
    /// The next ECHO's connection is reset instead of answered.
    Reset,
    /// The next ECHO's reply is cut after 3 bytes by a FIN.
    FinMidReply,
    /// New connections are accepted and closed at once, this many times.
    RefuseDials(u64),
    /// The next n authentications fail with WRONGPASS (only with auth).
    AuthFail(u64),
}

/// One operation of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// get, ECHO a unique tag, return.
    Echo,
    /// `pool.query(ECHO tag)`: get + command + return, with the pool's retries.
    Query,
    /// ECHO whose reply is late by this many ms (a latency fault on this tag);
    /// above the read timeout it must fail with a read timeout.
    Slow(u64),
    /// `DEBUG SLEEP 0.05`.
    DebugSleep,
    /// `BLPOP <unique key> 0.05`: blocks, then Nil.
    Blpop,
    /// Drops an ECHO at the point, then reuses the same checked-out connection.
    DropCmd(CmdPoint),
    /// Drops a `get()` at the point.
    DropGet(GetPoint),
    /// Holds a connection this many ms (maybe past a close deadline), then ECHOes on it.
    Hold(u64),
    /// `n` concurrent sub-tasks each get, hold `ms`, ECHO, give back: contention, so waiters.
    Burst(u8, u64),
    /// Closes every connection from the server side.
    Kill,
    /// Installs a fault until the end of the round.
    Fault(FaultKind),
    /// Lets real time pass (idle time, lifetime, breaker cool-down).
    Sleep(u64),
    /// Yields to the scheduler this many times (an interleaving point).
    Yield(u8),
    /// After this many ms (an interleaving point: others queue meanwhile),
    /// `close(grace ms)`; only generated in the last round.
    Close(u64, u64),
}

/// A case: options, then rounds; the tasks of a round run concurrently,
/// and quiescent invariants are checked between rounds.
#[derive(Clone)]
pub struct Case {
    pub cfg: Config,
    pub rounds: Vec<Vec<Vec<Op>>>,
}

impl Case {
    /// Operations in the case (for the "shrunk counterexample is short" check).
    pub fn op_count(&self) -> usize {
        self.rounds.iter().flatten().map(Vec::len).sum()
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?}", self.cfg)?;
        for (r, tasks) in self.rounds.iter().enumerate() {
            for (t, ops) in tasks.iter().enumerate() {
                writeln!(f, "  round {r} task {t}: {ops:?}")?;
            }
        }
        Ok(())
    }
}

fn config() -> impl Strategy<Value = Config> {
    (
        (1usize..=3, 0usize..=1, any::<bool>(), 150u64..400),
        (
            proptest::option::weighted(0.4, 60u64..250),
            proptest::option::weighted(0.4, 80u64..300),
            prop_oneof![Just(None), Just(Some(0)), Just(Some(40))],
        ),
        (0u32..=2, proptest::option::weighted(0.5, (1u32..=3, 30u64..120))),
        (proptest::option::weighted(0.5, 20u64..80), any::<bool>(), prop_oneof![Just(0), Just(1)]),
    )
        .prop_map(
            |(
                (pool_size, min_idle, fifo, pool_timeout_ms),
                (idle, life, ping),
                (retries, breaker),
                (reaper, auth, db),
            )| {
                Config {
                    pool_size,
                    min_idle: min_idle.min(pool_size),
                    fifo,
                    pool_timeout_ms,
                    idle_time_ms: idle,
                    lifetime_ms: life,
                    ping_after_idle_ms: ping,
                    max_retries: retries,
                    breaker,
                    reaper_ms: reaper,
                    auth,
                    db,
                }
            },
        )
}

fn fault_kind() -> impl Strategy<Value = FaultKind> {
    prop_oneof![
        (20u64..150).prop_map(FaultKind::Latency),
        Just(FaultKind::Stall),
        Just(FaultKind::Reset),
        Just(FaultKind::FinMidReply),
        (1u64..=4).prop_map(FaultKind::RefuseDials),
        (1u64..=2).prop_map(FaultKind::AuthFail),
    ]
}

fn op(last_round: bool) -> BoxedStrategy<Op> {
    let common = prop_oneof![
        4 => Just(Op::Echo),
        2 => Just(Op::Query),
        1 => prop_oneof![(10u64..150), (500u64..700)].prop_map(Op::Slow),
        1 => Just(Op::DebugSleep),
        1 => Just(Op::Blpop),
        2 => prop_oneof![Just(CmdPoint::BeforeWrite), Just(CmdPoint::AfterWrite), Just(CmdPoint::MidReply)]
            .prop_map(Op::DropCmd),
        2 => prop_oneof![
            Just(GetPoint::Waiting),
            Just(GetPoint::Dialling),
            Just(GetPoint::Handshake),
            Just(GetPoint::HealthCheck)
        ]
        .prop_map(Op::DropGet),
        2 => (10u64..300).prop_map(Op::Hold),
        3 => (2u8..5, 30u64..300).prop_map(|(n, ms)| Op::Burst(n, ms)),
        1 => Just(Op::Kill),
        2 => fault_kind().prop_map(Op::Fault),
        1 => (20u64..250).prop_map(Op::Sleep),
        2 => (1u8..6).prop_map(Op::Yield),
    ];
    if last_round {
        prop_oneof![7 => common, 2 => (0u64..150, 20u64..300).prop_map(|(after, grace)| Op::Close(after, grace))]
            .boxed()
    } else {
        common.boxed()
    }
}

fn round(last: bool) -> impl Strategy<Value = Vec<Vec<Op>>> {
    proptest::collection::vec(proptest::collection::vec(op(last), 1..=4), 1..=3)
}

/// The generated cases: 1 to 3 rounds of 1 to 3 tasks of 1 to 4 operations.
pub fn case() -> impl Strategy<Value = Case> {
    (config(), proptest::collection::vec(round(false), 0..=2), round(true)).prop_map(|(cfg, mut rounds, last)| {
        rounds.push(last);
        Case { cfg, rounds }
    })
}
