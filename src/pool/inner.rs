//! The pool's shared state and the machinery behind the public API:
//! permits, the idle list, checkout checks, dialling through the circuit
//! breaker, returning connections, and the background tasks.
//!
//! Implementation notes:
//! - A semaphore permit is a *turn*: it is held by every checked-out
//!   connection and every dial, so `pool_size` bounds both (go-redis's
//!   `queue`). Idle connections hold no permit.
//! - Every resource is wrapped in its guard before the next `.await`
//!   (`PermitGuard`, `Admission`, `PooledConnection`, `InFlight`), so a
//!   future dropped at any await point gives back what it held.
//! - `State` is behind a std `Mutex`: nothing awaits while it is held.
//!   `closed` and the checked-out table live under the same lock, so a
//!   connection can never be checked out after `close()` saw the table empty.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::{ConnectionConfig, PoolOptions, Sabotage};
use super::conn::{Connection, LiveGuard, Timeouts};
use super::error::{Error, TimeoutKind};

/// Why a connection was closed, for the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    IdleTime,
    Lifetime,
    Broken,
    Close,
    ExcessIdle,
}

/// Lock-free counters behind [`PoolStats`](super::PoolStats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub timeouts: AtomicU64,
    pub waits: AtomicU64,
    pub wait_nanos: AtomicU64,
    pub created: AtomicU64,
    pub dial_errors: AtomicU64,
    pub closed_idle_time: AtomicU64,
    pub closed_lifetime: AtomicU64,
    pub closed_broken: AtomicU64,
    pub closed_close: AtomicU64,
    pub closed_excess_idle: AtomicU64,
    pub retries: AtomicU64,
    /// Sockets alive anywhere (idle, checked out, in flight).
    pub open: Arc<AtomicUsize>,
    // Close bookkeeping.
    pub drained: AtomicU64,
    pub dials_cancelled: AtomicU64,
    pub commands_aborted: AtomicU64,
}

impl Counters {
    pub(crate) fn closed(&self, why: CloseReason) {
        let c = match why {
            CloseReason::IdleTime => &self.closed_idle_time,
            CloseReason::Lifetime => &self.closed_lifetime,
            CloseReason::Broken => &self.closed_broken,
            CloseReason::Close => &self.closed_close,
            CloseReason::ExcessIdle => &self.closed_excess_idle,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The state under the pool's lock.
#[derive(Default)]
pub(crate) struct State {
    pub idle: VecDeque<Connection>,
    pub closed: bool,
    /// Checked-out connections by guard id: close() takes their sockets at the deadline.
    pub out: HashMap<u64, Arc<Slot>>,
}

/// Where a checked-out connection lives between commands. A running command
/// takes it out, so at the close deadline an idle-but-held connection can be
/// closed from outside while a running one is cancelled through `hard`.
#[derive(Default)]
pub(crate) struct Slot {
    pub conn: Mutex<Option<Connection>>,
}

impl Slot {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

enum BreakerState {
    Closed,
    Open { until: Instant },
    Probing,
}

struct Breaker {
    failures: u32,
    state: BreakerState,
    last: Option<Error>,
}

pub(crate) struct Inner {
    pub cfg: ConnectionConfig,
    pub opts: PoolOptions,
    /// The broken behaviour a test asked for (see `Sabotage`); `None` outside the crate's tests.
    pub sabotage: Sabotage,
    pub addr: Arc<str>,
    pub sem: Arc<Semaphore>,
    state: Mutex<State>,
    breaker: Mutex<Breaker>,
    pub stats: Counters,
    /// Cancelled when close starts: dials, retry backoffs, background tasks.
    pub soft: CancellationToken,
    /// Cancelled at the close deadline: commands still in flight.
    pub hard: CancellationToken,
    pub tracker: TaskTracker,
    /// Signalled whenever a checked-out connection comes back.
    pub returned: Notify,
    /// Wakes the min-idle filler.
    pub fill: Arc<Notify>,
    /// Commands running right now (their connection is outside its slot).
    pub inflight: AtomicUsize,
    pub inflight_done: Notify,
    /// Checkouts holding a socket outside every slot (a dial, a health-check
    /// PING): close() cancels them through `soft` and waits for them to let go.
    pub checking: AtomicUsize,
    pub checking_done: Notify,
    pub close_started: AtomicBool,
    next_guard: AtomicU64,
}

impl Inner {
    pub(crate) fn new(cfg: ConnectionConfig, opts: PoolOptions, sabotage: Sabotage) -> Inner {
        Inner {
            sabotage,
            addr: cfg.addr_label(),
            sem: Arc::new(Semaphore::new(opts.pool_size)),
            cfg,
            state: Mutex::new(State::default()),
            breaker: Mutex::new(Breaker { failures: 0, state: BreakerState::Closed, last: None }),
            stats: Counters::default(),
            soft: CancellationToken::new(),
            hard: CancellationToken::new(),
            tracker: TaskTracker::new(),
            returned: Notify::new(),
            fill: Arc::new(Notify::new()),
            inflight: AtomicUsize::new(0),
            inflight_done: Notify::new(),
            checking: AtomicUsize::new(0),
            checking_done: Notify::new(),
            close_started: AtomicBool::new(false),
            next_guard: AtomicU64::new(1),
            opts,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a
        // way that matters more than refusing to close sockets would.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn closed_err(&self) -> Error {
        Error::Closed { addr: self.addr.clone() }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Takes a turn: at once if one is free, else waits up to `pool_timeout`.
    async fn acquire(&self) -> Result<OwnedSemaphorePermit, Error> {
        match self.sem.clone().try_acquire_owned() {
            Ok(p) => return Ok(p),
            Err(TryAcquireError::Closed) => return Err(self.closed_err()),
            Err(TryAcquireError::NoPermits) => {}
        }
        self.stats.waits.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let acquire = self.sem.clone().acquire_owned();
        let result = match self.opts.pool_timeout {
            Some(d) => tokio::time::timeout(d, acquire).await,
            None => Ok(acquire.await),
        };
        self.stats.wait_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match result {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(self.closed_err()),
            Err(_) => {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(Error::Timeout {
                    kind: TimeoutKind::PoolWait { pool_size: self.opts.pool_size },
                    addr: self.addr.clone(),
                    after: self.opts.pool_timeout,
                })
            }
        }
    }

    /// Checks out a connection: an idle one that passes the checks, else a new one.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<super::PooledConnection, Error> {
        if self.is_closed() {
            return Err(self.closed_err());
        }
        let permit = self.acquire().await?;
        let mut permit = PermitGuard { permit: Some(permit), leak: self.sabotage == Sabotage::LeakPermitOnCancel };
        let result = self.checkout(&mut permit).await;
        if result.is_err() {
            // An error, not a cancellation: the turn goes back in every mode.
            drop(permit.take());
        }
        result
    }

    async fn checkout(self: &Arc<Self>, permit: &mut PermitGuard) -> Result<super::PooledConnection, Error> {
        // First local, so it is released last: after the connection was
        // checked out or dropped.
        let _busy = Busy::new(self);
        loop {
            let candidate = {
                let mut st = self.lock();
                if st.closed {
                    return Err(self.closed_err());
                }
                if self.opts.fifo {
                    st.idle.pop_front()
                } else {
                    st.idle.pop_back()
                }
            };
            let Some(conn) = candidate else { break };
            if let Some(conn) = self.vet(conn).await {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                return self.check_out(conn, permit.take());
            }
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let conn = self.dial().await?;
        self.fill.notify_one();
        self.check_out(conn, permit.take())
    }

    /// The checkout checks: age, idleness, the non-blocking socket check,
    /// and a PING only after long idleness. Returns None if it was closed.
    async fn vet(&self, mut conn: Connection) -> Option<Connection> {
        let now = Instant::now();
        let reason = if conn.expires.is_some_and(|e| now >= e) {
            Some(CloseReason::Lifetime)
        } else if self.opts.conn_max_idle_time.is_some_and(|t| now.duration_since(conn.last_used) >= t) {
            Some(CloseReason::IdleTime)
        } else if let Err(why) = conn.idle_check() {
            tracing::debug!(addr = %self.addr, conn = conn.id(), why, "discarding an idle connection at checkout");
            Some(CloseReason::Broken)
        } else {
            None
        };
        if let Some(r) = reason {
            self.stats.closed(r);
            return None;
        }
        if self.opts.ping_after_idle.is_some_and(|t| now.duration_since(conn.last_used) >= t) {
            // Counted as broken if the PING fails or the checkout is cancelled.
            let mut guard = CountOnDrop { inner: self, conn: Some(conn) };
            let ping = match guard.conn.as_mut() {
                // Close cancels the PING: its socket must not outlive close().
                Some(c) => tokio::select! {
                    biased;
                    _ = self.soft.cancelled() => return None,
                    r = c.ping() => r,
                },
                None => return None,
            };
            if let Err(e) = ping {
                tracing::debug!(addr = %self.addr, error = %e, "idle connection failed its PING");
                return None;
            }
            return guard.conn.take();
        }
        Some(conn)
    }

    fn check_out(
        self: &Arc<Self>,
        conn: Connection,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<super::PooledConnection, Error> {
        let id = self.next_guard.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot { conn: Mutex::new(Some(conn)) });
        {
            let mut st = self.lock();
            if st.closed {
                drop(st);
                self.stats.closed(CloseReason::Close);
                return Err(self.closed_err());
            }
            st.out.insert(id, slot.clone());
        }
        Ok(super::PooledConnection::new(self.clone(), id, slot, permit))
    }

    /// Dials through the breaker; cancelled at once by close.
    pub(crate) async fn dial(&self) -> Result<Connection, Error> {
        let admission = self.admit()?;
        let timeouts =
            Timeouts { dial: self.opts.dial_timeout, read: self.opts.read_timeout, write: self.opts.write_timeout };
        tracing::debug!(addr = %self.addr, probe = admission.probe, "dialling");
        let result = tokio::select! {
            biased;
            _ = self.soft.cancelled() => {
                self.stats.dials_cancelled.fetch_add(1, Ordering::Relaxed);
                return Err(self.closed_err());
            }
            r = Connection::connect(&self.cfg, timeouts) => r,
        };
        match result {
            Ok(mut conn) => {
                admission.success();
                self.stats.created.fetch_add(1, Ordering::Relaxed);
                self.stats.open.fetch_add(1, Ordering::AcqRel);
                conn.live = Some(LiveGuard(self.stats.open.clone()));
                if let Some(life) = self.opts.conn_max_lifetime {
                    let jitter = life.mul_f64(self.opts.conn_max_lifetime_jitter * fastrand::f64());
                    conn.expires = Some(conn.created + life.saturating_sub(jitter));
                }
                tracing::debug!(addr = %self.addr, conn = conn.id(), resp3 = conn.is_resp3(), "dialled");
                Ok(conn)
            }
            Err(e) => {
                self.stats.dial_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(addr = %self.addr, error = %e, "dial failed");
                if counts_for_breaker(&e) {
                    admission.failure(e.clone());
                }
                Err(e)
            }
        }
    }

    fn admit(&self) -> Result<Admission<'_>, Error> {
        if self.opts.breaker_threshold == 0 {
            return Ok(Admission { inner: self, probe: false, settled: false });
        }
        let mut b = self.breaker();
        let now = Instant::now();
        match b.state {
            BreakerState::Closed => Ok(Admission { inner: self, probe: false, settled: false }),
            BreakerState::Open { until } if now >= until => {
                b.state = BreakerState::Probing;
                Ok(Admission { inner: self, probe: true, settled: false })
            }
            BreakerState::Open { until } => Err(self.circuit_open(&b, until - now)),
            BreakerState::Probing => Err(self.circuit_open(&b, Duration::ZERO)),
        }
    }

    fn circuit_open(&self, b: &Breaker, retry_in: Duration) -> Error {
        Error::CircuitOpen {
            addr: self.addr.clone(),
            failures: b.failures,
            retry_in,
            last: Box::new(b.last.clone().unwrap_or_else(|| self.closed_err())),
        }
    }

    /// Returns a connection from a guard: pooled if healthy and the pool is
    /// open, closed otherwise.
    pub(crate) fn put_back(&self, mut conn: Connection) {
        let sabotage = self.sabotage;
        let mut st = self.lock();
        let reason = if st.closed && sabotage != Sabotage::PoolAfterClose {
            Some(CloseReason::Close)
        } else if !conn.is_reusable() && sabotage != Sabotage::ReuseCancelled {
            Some(CloseReason::Broken)
        } else if conn.expires.is_some_and(|e| Instant::now() >= e) {
            Some(CloseReason::Lifetime)
        } else if self.opts.max_idle.is_some_and(|m| st.idle.len() >= m) {
            Some(CloseReason::ExcessIdle)
        } else {
            None
        };
        match reason {
            None => {
                conn.last_used = Instant::now();
                st.idle.push_back(conn);
            }
            Some(r) => {
                drop(st);
                self.stats.closed(r);
                drop(conn);
            }
        }
    }

    /// Closes idle connections past their idle time or lifetime.
    pub(crate) fn reap(&self) {
        let now = Instant::now();
        let mut dead = Vec::new();
        {
            let mut st = self.lock();
            let mut keep = VecDeque::with_capacity(st.idle.len());
            while let Some(c) = st.idle.pop_front() {
                if c.expires.is_some_and(|e| now >= e) {
                    dead.push((c, CloseReason::Lifetime));
                } else if self.opts.conn_max_idle_time.is_some_and(|t| now.duration_since(c.last_used) >= t) {
                    dead.push((c, CloseReason::IdleTime));
                } else {
                    keep.push_back(c);
                }
            }
            st.idle = keep;
        }
        for (c, r) in dead {
            self.stats.closed(r);
            drop(c);
        }
    }

    /// Dials until `min_idle` connections are idle (never past `pool_size`).
    pub(crate) async fn fill_min_idle(&self) {
        loop {
            {
                let st = self.lock();
                if st.closed
                    || st.idle.len() >= self.opts.min_idle
                    || st.idle.len() + st.out.len() >= self.opts.pool_size
                {
                    return;
                }
            }
            let Ok(permit) = self.sem.clone().try_acquire_owned() else { return };
            match self.dial().await {
                Ok(conn) => {
                    self.put_back(conn);
                    drop(permit);
                }
                Err(_) => return,
            }
        }
    }

    /// Marks the pool closed and closes the idle connections; returns how
    /// many. Shared by close() and by dropping the last handle.
    pub(crate) fn begin_close(&self) -> usize {
        let idle: Vec<Connection> = {
            let mut st = self.lock();
            st.closed = true;
            st.idle.drain(..).collect()
        };
        if self.sabotage != Sabotage::NoWakeOnClose {
            // Wakes every waiter with an error now, and fails later acquires.
            self.sem.close();
        }
        self.soft.cancel();
        self.tracker.close();
        let n = idle.len();
        for c in idle {
            self.stats.closed(CloseReason::Close);
            drop(c);
        }
        n
    }
}

fn counts_for_breaker(e: &Error) -> bool {
    matches!(
        e,
        Error::ConnectionRefused { .. }
            | Error::Reset { .. }
            | Error::Io { .. }
            | Error::Tls { .. }
            | Error::Timeout { kind: TimeoutKind::Dial, .. }
    )
}

/// A connection being PINGed at checkout: closed and counted as broken
/// unless the PING succeeds and it is taken back out.
struct CountOnDrop<'a> {
    inner: &'a Inner,
    conn: Option<Connection>,
}

/// Counts a checkout in progress: between leaving the idle list (or being
/// dialled) and entering the checked-out table, its socket is in no list
/// close() looks at, so close() waits until no checkout is in progress.
struct Busy<'a>(&'a Inner);

impl<'a> Busy<'a> {
    fn new(inner: &'a Inner) -> Busy<'a> {
        inner.checking.fetch_add(1, Ordering::AcqRel);
        Busy(inner)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.checking.fetch_sub(1, Ordering::AcqRel);
        self.0.checking_done.notify_waiters();
    }
}

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.inner.stats.closed(CloseReason::Broken);
        }
    }
}

/// A turn held by a `get()` in progress. Dropped with the future, it gives
/// the turn back (unless the test-only sabotage leaks it).
struct PermitGuard {
    permit: Option<OwnedSemaphorePermit>,
    leak: bool,
}

impl PermitGuard {
    fn take(&mut self) -> Option<OwnedSemaphorePermit> {
        self.permit.take()
    }
}

impl Drop for PermitGuard {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            if self.leak {
                p.forget();
            }
        }
    }
}

/// Permission to dial from the breaker. Settled by success or failure; a
/// probe dropped unsettled (cancelled) reopens the breaker with an expired
/// cool-down, so the next caller probes: the breaker can never latch.
struct Admission<'a> {
    inner: &'a Inner,
    probe: bool,
    settled: bool,
}

impl Admission<'_> {
    fn success(mut self) {
        self.settled = true;
        let mut b = self.inner.breaker();
        if self.probe || b.failures > 0 {
            tracing::info!(addr = %self.inner.addr, "dial succeeded: breaker closed");
        }
        b.failures = 0;
        b.last = None;
        b.state = BreakerState::Closed;
    }

    fn failure(mut self, e: Error) {
        self.settled = true;
        let opts = &self.inner.opts;
        let mut b = self.inner.breaker();
        b.failures = b.failures.saturating_add(1);
        b.last = Some(e);
        let reopen = self.probe || b.failures >= opts.breaker_threshold;
        if reopen && opts.breaker_threshold > 0 {
            tracing::warn!(addr = %self.inner.addr, failures = b.failures, cooldown = ?opts.breaker_cooldown, "breaker open: failing dials fast");
            b.state = BreakerState::Open { until: Instant::now() + opts.breaker_cooldown };
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.probe && !self.settled {
            let mut b = self.inner.breaker();
            if matches!(b.state, BreakerState::Probing) {
                b.state = BreakerState::Open { until: Instant::now() };
            }
        }
    }
}

/// Spawns the reaper and the min-idle filler. They hold only a `Weak`
/// reference, so they never keep the pool alive, and stop on `soft`.
pub(crate) fn spawn_tasks(inner: &Arc<Inner>) {
    let stop = inner.soft.clone();
    if let Some(every) = inner.opts.reaper_interval {
        if inner.opts.conn_max_idle_time.is_some() || inner.opts.conn_max_lifetime.is_some() {
            let weak: Weak<Inner> = Arc::downgrade(inner);
            let stop = stop.clone();
            inner.tracker.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    match weak.upgrade() {
                        Some(inner) => inner.reap(),
                        None => return,
                    }
                }
            });
        }
    }
    if inner.opts.min_idle > 0 {
        let weak: Weak<Inner> = Arc::downgrade(inner);
        let wake = inner.fill.clone();
        inner.tracker.spawn(async move {
            loop {
                if let Some(inner) = weak.upgrade() {
                    inner.fill_min_idle().await;
                } else {
                    return;
                }
                // Woken by checkouts and closes; the timer retries after dial errors.
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }
}
