//! Runs one case: builds the pool, spawns each round's tasks together,
//! checks the per-step invariants after every operation and the quiescent
//! ones between rounds, then closes and checks what close promises.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis_harness::fault::FaultGuard;
use redis_harness::fault::FaultRule;
use redis_harness::pool::{
    Cmd, ConnectionConfig, Error, Pool, PoolOptions, PoolStats, PooledConnection, Sabotage, TimeoutKind, Value,
};
use tokio::time::Instant;

use crate::backend::{wait_until, Backend, BackendFactory, PASSWORD};
use crate::invariants as inv;
use crate::model::{Case, CmdPoint, Config, FaultKind, GetPoint, Op, DIAL_TIMEOUT, READ_TIMEOUT};

/// Slack added to every bound: a loaded 2-core machine schedules late.
const SLACK: Duration = Duration::from_secs(2);
/// The pool's own grace for commands that must notice the close deadline.
const ABORT_GRACE: Duration = Duration::from_secs(1);
/// Bounded waits on server counters.
const SETTLE: Duration = Duration::from_secs(3);

static TAGS: AtomicU64 = AtomicU64::new(0);

/// `waiter_woken_at_close` without timing margins: close() wakes every
/// waiter at one instant (`woke_by` is stamped just after it), so a get
/// pending at close that fails with a pool-wait (or dial) timeout was not
/// woken exactly when that timeout was not due yet at that instant (its
/// earliest deadline, from the moment the test called `get()`, is later).
/// A get can end before `woke_by` is stamped; its verdict then waits for it.
#[derive(Default)]
struct WakeCheck {
    woke_by: Option<Instant>,
    /// Timeouts seen before `woke_by` was stamped: (earliest deadline, ended, error).
    deferred: Vec<(Instant, Instant, String)>,
}

impl WakeCheck {
    fn verdict(woke_by: Instant, due: Instant, ended: Instant, what: String) -> Option<inv::Verdict> {
        (due > woke_by).then(|| inv::waiter_woken_at_close(ended.saturating_duration_since(woke_by), &what))
    }

    /// The violation, if this timeout proves a waiter was not woken (now or once `woke_by` is known).
    fn judge(&mut self, due: Instant, ended: Instant, what: String) -> Option<inv::Verdict> {
        match self.woke_by {
            Some(w) => Self::verdict(w, due, ended, what),
            None => {
                self.deferred.push((due, ended, what));
                None
            }
        }
    }

    /// Stamps the wake-up; returns the violations among the deferred timeouts.
    fn woke(&mut self, at: Instant) -> Vec<inv::Verdict> {
        let w = *self.woke_by.get_or_insert(at);
        self.deferred.drain(..).filter_map(|(due, ended, what)| Self::verdict(w, due, ended, what)).collect()
    }
}

/// Builds the pool options of a case.
pub fn options(cfg: &Config) -> PoolOptions {
    let ms = Duration::from_millis;
    PoolOptions {
        pool_size: cfg.pool_size,
        min_idle: cfg.min_idle,
        max_idle: None,
        fifo: cfg.fifo,
        pool_timeout: Some(ms(cfg.pool_timeout_ms)),
        dial_timeout: Some(DIAL_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        write_timeout: Some(READ_TIMEOUT),
        conn_max_idle_time: cfg.idle_time_ms.map(ms),
        conn_max_lifetime: cfg.lifetime_ms.map(ms),
        conn_max_lifetime_jitter: 0.0,
        max_retries: cfg.max_retries,
        min_retry_backoff: ms(5),
        max_retry_backoff: ms(20),
        ping_after_idle: cfg.ping_after_idle_ms.map(ms),
        breaker_threshold: cfg.breaker.map_or(0, |b| b.0),
        breaker_cooldown: ms(cfg.breaker.map_or(0, |b| b.1)),
        reaper_interval: cfg.reaper_ms.map(ms),
    }
}

struct Ctx {
    pool: Pool,
    backend: Arc<dyn Backend>,
    cfg: Config,
    calm: bool,
    violations: Mutex<Vec<String>>,
    last_stats: Mutex<PoolStats>,
    guards: Mutex<Vec<FaultGuard>>,
    /// Gets in progress: id -> start.
    pending: Mutex<HashMap<u64, Instant>>,
    next_get: AtomicU64,
    /// Set when close() is called: its start and the gets pending then.
    close_start: Mutex<Option<(Instant, HashSet<u64>)>>,
    /// The waiters-woken check (see [`WakeCheck`]).
    wake: Mutex<WakeCheck>,
    close_returned: AtomicBool,
    /// Connection id -> first seen (just after the get that first returned it).
    first_seen: Mutex<HashMap<u64, Instant>>,
    /// Connection id -> when it was last given back (just after the drop).
    returned_at: Mutex<HashMap<u64, Instant>>,
}

impl Ctx {
    fn violate(&self, v: inv::Verdict) {
        if let Err(msg) = v {
            self.violations.lock().unwrap().push(msg);
        }
    }

    fn ms(&self, n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn get_bound(&self) -> Duration {
        self.ms(self.cfg.pool_timeout_ms) + DIAL_TIMEOUT + (2 * READ_TIMEOUT) * self.cfg.pool_size as u32 + SLACK
    }

    fn cmd_bound(&self) -> Duration {
        2 * READ_TIMEOUT + Duration::from_secs(1) + SLACK
    }

    /// The per-step invariants.
    fn step(&self) {
        let mut last = self.last_stats.lock().unwrap();
        let now = self.pool.stats();
        self.violate(inv::sockets_within_pool_size(&now, self.cfg.pool_size));
        self.violate(inv::counters_only_grow(&last, &now));
        *last = now;
    }

    fn tag(&self) -> String {
        format!("tag-{}", TAGS.fetch_add(1, Ordering::Relaxed))
    }

    fn closed(&self) -> bool {
        self.close_start.lock().unwrap().is_some()
    }

    /// `get()` with the bound, the waiter bookkeeping and the hand-out checks.
    async fn get(&self) -> Option<Result<PooledConnection, Error>> {
        let id = self.next_get.fetch_add(1, Ordering::Relaxed);
        let called = Instant::now();
        let after_close = self.close_returned.load(Ordering::Acquire);
        self.pending.lock().unwrap().insert(id, called);
        struct Unregister<'a>(&'a Ctx, u64);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                self.0.pending.lock().unwrap().remove(&self.1);
            }
        }
        let _unregister = Unregister(self, id);
        let bound = self.get_bound();
        let r = match tokio::time::timeout(bound, self.pool.get()).await {
            Ok(r) => r,
            Err(_) => {
                self.violate(inv::bounded_wait("get()", bound));
                return None;
            }
        };
        let ended = Instant::now();
        let pending_at_close = self.close_start.lock().unwrap().as_ref().is_some_and(|(_, p)| p.contains(&id));
        if pending_at_close {
            // A timeout that was not yet due when close woke the waiters means it was not woken.
            let due = match &r {
                Err(Error::Timeout { kind: TimeoutKind::PoolWait { .. }, .. }) => {
                    Some(called + self.ms(self.cfg.pool_timeout_ms))
                }
                Err(Error::Timeout { kind: TimeoutKind::Dial, .. }) => Some(called + DIAL_TIMEOUT),
                _ => None,
            };
            if let Some(due) = due {
                let what = format!("{:?}", r.as_ref().err());
                let late = self.wake.lock().unwrap().judge(due, ended, what);
                if let Some(v) = late {
                    self.violate(v);
                }
            }
        }
        match &r {
            Ok(c) => self.handed_out(c, called),
            Err(e) if after_close => self.violate(inv::get_after_close_is_closed(&Err(e.clone()), 0)),
            Err(e) if self.calm => self.violate(inv::calm_get_succeeds(e)),
            Err(_) => {}
        }
        Some(r)
    }

    fn handed_out(&self, c: &PooledConnection, called: Instant) {
        let Some(id) = c.connection_id() else { return };
        let now = Instant::now();
        let age = {
            let mut seen = self.first_seen.lock().unwrap();
            let first = *seen.entry(id).or_insert(now);
            (first < called).then(|| called - first)
        };
        let idle = self.returned_at.lock().unwrap().get(&id).and_then(|r| (*r < called).then(|| called - *r));
        self.violate(inv::not_expired(
            id,
            age,
            self.cfg.lifetime_ms.map(|m| self.ms(m)),
            idle,
            self.cfg.idle_time_ms.map(|m| self.ms(m)),
        ));
    }

    fn give_back(&self, c: PooledConnection) {
        let id = c.connection_id();
        // A get() already waiting may be handed this connection (on another
        // worker) the moment it is dropped, before the new return time is
        // stored: it must not judge idleness by the previous return's time.
        if let Some(id) = id {
            self.returned_at.lock().unwrap().remove(&id);
        }
        drop(c);
        if let Some(id) = id {
            self.returned_at.lock().unwrap().insert(id, Instant::now());
        }
    }

    /// Runs a command on a checked-out connection with the bound; checks the reply.
    async fn run(&self, c: &mut PooledConnection, cmd: &Cmd, expect: &Value, must_succeed: bool) {
        let bound = self.cmd_bound() + block_of(cmd);
        match tokio::time::timeout(bound, c.query(cmd)).await {
            Err(_) => self.violate(inv::bounded_wait(&format!("{cmd:?}"), bound)),
            Ok(Ok(v)) => self.violate(inv::reply_is_own(&format!("{cmd:?}"), expect, &v)),
            Ok(Err(e)) if must_succeed && self.calm => {
                self.violate(inv::calm_command_succeeds(&format!("{cmd:?}"), &e))
            }
            Ok(Err(_)) => {}
        }
    }

    fn fault(&self, rule: FaultRule) {
        self.guards.lock().unwrap().push(self.backend.fault(rule));
    }

    async fn op(self: &Arc<Self>, op: &Op) {
        match op {
            Op::Echo => self.echo(&self.tag(), true).await,
            Op::Query => {
                let tag = self.tag();
                let bound = self.get_bound() + self.cmd_bound() * (self.cfg.max_retries + 1);
                let r = tokio::time::timeout(bound, self.pool.query(&echo(&tag))).await;
                // The pool gave some connection back at an unknown moment:
                // forget every return time rather than judge idleness wrongly.
                self.returned_at.lock().unwrap().clear();
                match r {
                    Err(_) => self.violate(inv::bounded_wait("pool.query(ECHO)", bound)),
                    Ok(Ok(v)) => self.violate(inv::reply_is_own("pool.query(ECHO)", &bulk(&tag), &v)),
                    Ok(Err(e)) if self.calm && !inv::benign_in_calm(&e) => {
                        self.violate(inv::calm_command_succeeds("pool.query(ECHO)", &e))
                    }
                    Ok(Err(_)) => {}
                }
            }
            Op::Slow(ms) => {
                let tag = self.tag();
                let t = tag.clone();
                let _g = self.backend.fault(
                    FaultRule::latency(self.ms(*ms))
                        .when(move |a: &[Bytes]| a.get(1).is_some_and(|x| x == t.as_bytes())),
                );
                let must = self.ms(*ms) < READ_TIMEOUT / 2;
                self.echo(&tag, must).await;
            }
            Op::DebugSleep => {
                let Some(Ok(mut c)) = self.get().await else { return };
                self.run(&mut c, &Cmd::from_args(["DEBUG", "SLEEP", "0.05"]), &Value::Simple("OK".into()), true).await;
                self.give_back(c);
            }
            Op::Blpop => {
                let key = self.tag();
                let Some(Ok(mut c)) = self.get().await else { return };
                self.run(&mut c, &Cmd::from_args(["BLPOP", key.as_str(), "0.05"]), &Value::Nil, true).await;
                self.give_back(c);
            }
            Op::DropCmd(point) => self.drop_cmd(*point).await,
            Op::DropGet(point) => self.drop_get(*point).await,
            Op::Hold(ms) => {
                let Some(Ok(mut c)) = self.get().await else { return };
                // Holding is the behaviour under test (a user keeps the
                // connection, maybe past the close deadline), not a synchronisation.
                tokio::time::sleep(self.ms(*ms)).await;
                let tag = self.tag();
                self.run(&mut c, &echo(&tag), &bulk(&tag), true).await;
                self.give_back(c);
            }
            Op::Burst(n, ms) => {
                let mut subs = Vec::new();
                for _ in 0..*n {
                    let (ctx, hold) = (self.clone(), self.ms(*ms));
                    subs.push(tokio::spawn(async move {
                        let Some(Ok(mut c)) = ctx.get().await else { return };
                        tokio::time::sleep(hold).await;
                        let tag = ctx.tag();
                        ctx.run(&mut c, &echo(&tag), &bulk(&tag), true).await;
                        ctx.give_back(c);
                    }));
                }
                for s in subs {
                    if let Err(e) = s.await {
                        self.violate(Err(format!("[task] a burst sub-task panicked: {e}")));
                    }
                }
            }
            Op::Kill => {
                let b = &self.backend;
                let (open, total) = (b.open_connections(), b.total_connections());
                let killed = b.kill_all();
                // The server closes the sockets on its own thread: wait until it
                // has (connections accepted since may still be open), so that a
                // later checkout can see the FIN. Not a pool invariant.
                wait_until(SETTLE, || {
                    b.open_connections() <= open.saturating_sub(killed) + (b.total_connections() - total) as usize
                })
                .await;
            }
            Op::Fault(kind) => match kind {
                FaultKind::Latency(ms) => self.fault(FaultRule::latency(self.ms(*ms)).on(["ECHO"])),
                FaultKind::Stall => self.fault(FaultRule::stall().on(["ECHO"]).times(1)),
                FaultKind::Reset => self.fault(FaultRule::reset().on(["ECHO"]).times(1)),
                FaultKind::FinMidReply => self.fault(FaultRule::close().after_bytes(3).on(["ECHO"]).times(1)),
                FaultKind::RefuseDials(n) => self.fault(FaultRule::refuse_connections().times(*n)),
                FaultKind::AuthFail(n) if self.cfg.auth => self.fault(FaultRule::auth_failures(*n)),
                FaultKind::AuthFail(_) => {}
            },
            Op::Sleep(ms) => tokio::time::sleep(self.ms(*ms)).await,
            Op::Yield(n) => {
                for _ in 0..*n {
                    tokio::task::yield_now().await;
                }
            }
            Op::Close(after, grace) => {
                tokio::time::sleep(self.ms(*after)).await;
                self.close(self.ms(*grace)).await
            }
        }
    }

    /// get, ECHO `tag`, give back.
    async fn echo(&self, tag: &str, must_succeed: bool) {
        let Some(Ok(mut c)) = self.get().await else { return };
        self.run(&mut c, &echo(tag), &bulk(tag), must_succeed).await;
        self.give_back(c);
    }

    async fn drop_cmd(&self, point: CmdPoint) {
        let Some(Ok(mut c)) = self.get().await else { return };
        let tag = match point {
            // Long enough that a trickled reply takes far longer than the drop point.
            CmdPoint::MidReply => format!("{}-{}", self.tag(), "x".repeat(48)),
            _ => self.tag(),
        };
        let t = tag.clone();
        let on_tag = move |a: &[Bytes]| a.get(1).is_some_and(|x| x == t.as_bytes());
        let _guard = match point {
            CmdPoint::BeforeWrite => None,
            CmdPoint::AfterWrite => Some(self.backend.fault(FaultRule::latency(self.ms(150)).when(on_tag))),
            CmdPoint::MidReply => Some(self.backend.fault(FaultRule::partial(4, self.ms(10)).when(on_tag))),
        };
        let cmd = echo(&tag);
        let dropped = match point {
            CmdPoint::BeforeWrite => {
                drop(c.query(&cmd));
                true
            }
            CmdPoint::AfterWrite | CmdPoint::MidReply => match tokio::time::timeout(self.ms(40), c.query(&cmd)).await {
                Err(_) => true,
                Ok(Ok(v)) => {
                    self.violate(inv::reply_is_own("ECHO before its drop point", &bulk(&tag), &v));
                    false
                }
                Ok(Err(_)) => false,
            },
        };
        // Reuse the same checked-out connection: it must be unusable after a
        // cancelled command that was written, and must never yield the old reply.
        let tag2 = self.tag();
        let must = dropped && point == CmdPoint::BeforeWrite;
        self.run(&mut c, &echo(&tag2), &bulk(&tag2), must).await;
        self.give_back(c);
    }

    async fn drop_get(&self, point: GetPoint) {
        let _guard = match point {
            GetPoint::Waiting => None,
            GetPoint::Dialling => Some(self.backend.fault(FaultRule::stop_accepting())),
            GetPoint::Handshake => {
                Some(self.backend.fault(FaultRule::latency(self.ms(250)).on(["HELLO", "AUTH"]).times(1)))
            }
            GetPoint::HealthCheck => Some(self.backend.fault(FaultRule::latency(self.ms(250)).on(["PING"]).times(1))),
        };
        let wait = if point == GetPoint::Waiting { 15 } else { 50 };
        if let Ok(Some(Ok(c))) = tokio::time::timeout(self.ms(wait), self.get()).await {
            self.give_back(c);
        }
    }

    async fn close(&self, grace: Duration) {
        let start = Instant::now();
        {
            let mut cs = self.close_start.lock().unwrap();
            if cs.is_none() {
                let pending = self.pending.lock().unwrap().keys().copied().collect();
                *cs = Some((start, pending));
            }
        }
        let bound = grace + ABORT_GRACE + SLACK;
        let mut closing = std::pin::pin!(tokio::time::timeout(bound, self.pool.close(grace)));
        // close() wakes the waiters in its first poll (before its first await):
        // every waiter it woke was woken by the instant stamped just after.
        let first =
            std::future::poll_fn(|cx| std::task::Poll::Ready(std::future::Future::poll(closing.as_mut(), cx))).await;
        let woken = self.wake.lock().unwrap().woke(Instant::now());
        for v in woken {
            self.violate(v);
        }
        let closed = match first {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => closing.await,
        };
        let report = match closed {
            Ok(r) => r,
            Err(_) => return self.violate(inv::bounded_wait("close()", bound)),
        };
        if !report.already_closed {
            self.violate(inv::nothing_left_at_close_return(&self.pool.stats(), self.pool.background_tasks()));
            self.close_returned.store(true, Ordering::Release);
        }
    }

    /// Between rounds: counts settle, every turn can be taken, accounting matches.
    async fn quiescent(&self) {
        let (pool, backend) = (&self.pool, &self.backend);
        // Killed or cancelled sockets disappear from the server's count.
        wait_until(SETTLE, || backend.open_connections() <= pool.stats().total_conns).await;
        // Take every turn at once; dead idle connections must be weeded out.
        let recovery = self.ms(self.cfg.breaker.map_or(0, |b| b.1)) + DIAL_TIMEOUT + SLACK;
        let deadline = Instant::now() + recovery;
        let mut held = Vec::new();
        while held.len() < self.cfg.pool_size {
            let r = match tokio::time::timeout(self.get_bound(), pool.get()).await {
                Ok(r) => r,
                Err(_) => return self.violate(inv::bounded_wait("capacity check get()", self.get_bound())),
            };
            match r {
                Ok(mut c) => {
                    let tag = self.tag();
                    match c.query(&echo(&tag)).await {
                        Ok(v) => {
                            self.violate(inv::reply_is_own("capacity check ECHO", &bulk(&tag), &v));
                            held.push(c);
                        }
                        // A connection killed this round may be found dead now; a calm round may not.
                        Err(e) if self.calm => {
                            return self.violate(inv::calm_command_succeeds("capacity check ECHO", &e))
                        }
                        Err(_) if Instant::now() < deadline => drop(c),
                        Err(e) => return self.violate(inv::recovers_after_dial_failures(&e, recovery)),
                    }
                }
                Err(e @ Error::Timeout { kind: redis_harness::pool::TimeoutKind::PoolWait { .. }, .. }) => {
                    return self.violate(inv::capacity_restored(&e, held.len(), self.cfg.pool_size));
                }
                Err(Error::CircuitOpen { retry_in, .. }) if Instant::now() < deadline => {
                    // Waiting out the breaker's cool-down is the behaviour under test.
                    tokio::time::sleep(retry_in + Duration::from_millis(1)).await;
                }
                Err(e) => return self.violate(inv::recovers_after_dial_failures(&e, recovery)),
            }
        }
        for c in held {
            self.give_back(c);
        }
        let settled = wait_until(SETTLE, || {
            let s = pool.stats();
            s.in_use == 0 && s.total_conns == s.idle_conns && backend.open_connections() == s.total_conns
        })
        .await;
        let s = pool.stats();
        let open = backend.open_connections();
        self.violate(inv::quiescent_accounting(settled, &s, open));
        self.violate(inv::server_sockets_within_pool_size(open, self.cfg.pool_size));
    }
}

fn echo(tag: &str) -> Cmd {
    Cmd::from_args(["ECHO", tag])
}

fn bulk(tag: &str) -> Value {
    Value::Bulk(Bytes::copy_from_slice(tag.as_bytes()))
}

fn block_of(cmd: &Cmd) -> Duration {
    if format!("{cmd:?}").contains("BLPOP") {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    }
}

/// A round without faults, kills, closes or stalled dials: every command must succeed.
fn is_calm(tasks: &[Vec<Op>]) -> bool {
    tasks
        .iter()
        .flatten()
        .all(|op| !matches!(op, Op::Kill | Op::Fault(_) | Op::Close(..) | Op::DropGet(GetPoint::Dialling)))
}

/// Runs one case against a fresh backend from `factory`; the violations, if any.
pub async fn run_case(factory: &dyn BackendFactory, case: &Case, sabotage: Sabotage) -> Result<(), String> {
    let backend: Arc<dyn Backend> = Arc::from(factory.start(case.cfg.auth));
    let mut cfg = ConnectionConfig::from_url(&backend.url()).map_err(|e| e.to_string())?;
    if case.cfg.auth {
        cfg.password = Some(PASSWORD.into());
    }
    cfg.db = case.cfg.db;
    let pool = Pool::builder_for(cfg)
        .options(options(&case.cfg))
        .sabotage(sabotage)
        .build()
        .map_err(|e| format!("{}: {e}", backend.name()))?;
    let mut ctx = Arc::new(Ctx {
        last_stats: Mutex::new(pool.stats()),
        pool,
        backend: backend.clone(),
        cfg: case.cfg.clone(),
        calm: true,
        violations: Mutex::new(Vec::new()),
        guards: Mutex::new(Vec::new()),
        pending: Mutex::new(HashMap::new()),
        next_get: AtomicU64::new(0),
        close_start: Mutex::new(None),
        wake: Mutex::new(WakeCheck::default()),
        close_returned: AtomicBool::new(false),
        first_seen: Mutex::new(HashMap::new()),
        returned_at: Mutex::new(HashMap::new()),
    });
    for (r, tasks) in case.rounds.iter().enumerate() {
        Arc::get_mut(&mut ctx).expect("no task outlives its round").calm = is_calm(tasks);
        let mut handles = Vec::new();
        for ops in tasks {
            let ctx = ctx.clone();
            let ops = ops.clone();
            handles.push(tokio::spawn(async move {
                for op in &ops {
                    ctx.op(op).await;
                    ctx.step();
                }
            }));
        }
        for h in handles {
            if let Err(e) = h.await {
                ctx.violate(Err(format!("[task] a task of round {r} panicked: {e}")));
            }
        }
        ctx.guards.lock().unwrap().clear();
        first_violation(&ctx)?;
        if !ctx.closed() {
            ctx.quiescent().await;
            first_violation(&ctx)?;
        }
    }
    // Close (or close again), then everything close promises.
    let was_closed = ctx.closed();
    if was_closed {
        let again = ctx.pool.close(Duration::from_millis(10)).await;
        if !again.already_closed {
            ctx.violate(Err("[close_is_idempotent] a second close() did work again".into()));
        }
    } else {
        ctx.close(Duration::from_millis(200)).await;
    }
    first_violation(&ctx)?;
    let settled = wait_until(SETTLE, || backend.open_connections() == 0).await;
    ctx.violate(inv::server_sees_no_socket_after_close(settled, backend.open_connections()));
    ctx.violate(inv::nothing_left_at_close_return(&ctx.pool.stats(), ctx.pool.background_tasks()));
    let before = backend.total_connections();
    let r = ctx.pool.get().await.map(drop);
    let q = ctx.pool.query(&echo("after-close")).await.map(drop);
    ctx.violate(inv::get_after_close_is_closed(&r, backend.total_connections() - before));
    ctx.violate(inv::get_after_close_is_closed(&q, backend.total_connections() - before));
    ctx.violate(inv::handshake_first(&backend.commands(), case.cfg.db));
    first_violation(&ctx)
}

fn first_violation(ctx: &Ctx) -> Result<(), String> {
    match ctx.violations.lock().unwrap().first() {
        Some(v) => Err(format!("{} (against {})", v, ctx.backend.name())),
        None => Ok(()),
    }
}
