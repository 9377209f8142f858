//! The public pool API: [`Pool`], its builder, checked-out connections,
//! stats and the health check. The close protocol is in `close`, the retry
//! rules in `retry`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::config::{ConnectionConfig, PoolOptions, Protocol, Sabotage, TlsConfig};
use super::conn::Connection;
use super::error::{Error, Failure};
use super::inner::{spawn_tasks, CloseReason, Inner, Slot};
use super::value::{Cmd, ToArg, Value};

/// A Redis connection pool with go-redis's options and a graceful close.
///
/// Cloning is cheap and shares the pool. Dropping the last clone without
/// [`Pool::close`] still closes the idle connections and stops the
/// background tasks, but cannot wait for them or for checked-out
/// connections (those close when their guards drop).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use redis_harness::{pool::Pool, FakeRedis};
///
/// let server = FakeRedis::start().await;
/// let pool = Pool::builder(&server.url()).pool_size(4).build().unwrap();
/// pool.set("greeting", "hello").await.unwrap();
/// assert_eq!(pool.get_value("greeting").await.unwrap().as_deref(), Some(&b"hello"[..]));
/// let report = pool.close(Duration::from_secs(1)).await;
/// assert_eq!(report.idle_closed, 1);
/// server.wait_for_open_connections(0, Duration::from_secs(5)).await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct Pool {
    handle: Arc<Handle>,
}

/// Owned by the `Pool` clones only (guards hold `Inner` directly), so its
/// drop means "the application let go of the pool".
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.inner.close_started.swap(true, Ordering::AcqRel) {
            let n = self.inner.begin_close();
            tracing::info!(addr = %self.inner.addr, idle_closed = n, "pool dropped without close(): idle connections closed, background tasks told to stop");
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("addr", &self.inner().addr).field("stats", &self.stats()).finish()
    }
}

/// Configures a [`Pool`]. Unset write and pool timeouts follow the read
/// timeout as in go-redis (write = read, pool wait = read + 1s).
#[must_use = "a PoolBuilder does nothing until build()"]
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    cfg: Result<ConnectionConfig, Error>,
    opts: PoolOptions,
    write_set: bool,
    pool_timeout_set: bool,
    sabotage: Sabotage,
}

macro_rules! opt_setter {
    ($(#[$doc:meta])* $name:ident : $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, v: $ty) -> Self {
            self.opts.$name = v;
            self
        }
    };
}

macro_rules! timeout_setter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, v: impl Into<Option<Duration>>) -> Self {
            self.opts.$name = v.into();
            self
        }
    };
}

impl PoolBuilder {
    fn cfg_mut(&mut self) -> Option<&mut ConnectionConfig> {
        self.cfg.as_mut().ok()
    }

    /// Replaces every option at once.
    pub fn options(mut self, opts: PoolOptions) -> Self {
        self.opts = opts;
        self.write_set = true;
        self.pool_timeout_set = true;
        self
    }

    opt_setter!(
        /// Maximum connections checked out or dialling at once (go-redis `PoolSize`).
        pool_size: usize
    );
    opt_setter!(
        /// Idle connections kept ready by the background filler (`MinIdleConns`).
        min_idle: usize
    );
    opt_setter!(
        /// Idle connections kept at most, `None` = unlimited (`MaxIdleConns`).
        max_idle: Option<usize>
    );
    opt_setter!(
        /// FIFO instead of LIFO (`PoolFIFO`).
        fifo: bool
    );
    opt_setter!(
        /// Retries after the first attempt, 0 = none (`MaxRetries`).
        max_retries: u32
    );
    opt_setter!(
        /// Fraction of the lifetime subtracted at random per connection.
        conn_max_lifetime_jitter: f64
    );
    timeout_setter!(
        /// Bound on connect + TLS + handshake (`DialTimeout`); `None` = no bound.
        dial_timeout
    );
    timeout_setter!(
        /// Idle time after which a connection is closed (`ConnMaxIdleTime`).
        conn_max_idle_time
    );
    timeout_setter!(
        /// Age after which a connection is closed (`ConnMaxLifetime`).
        conn_max_lifetime
    );
    timeout_setter!(
        /// Idle time after which checkout PINGs the connection first.
        ping_after_idle
    );
    timeout_setter!(
        /// How often the reaper sweeps idle connections.
        reaper_interval
    );

    /// Bound on each reply (`ReadTimeout`); also the default write and pool timeouts.
    pub fn read_timeout(mut self, v: impl Into<Option<Duration>>) -> Self {
        self.opts.read_timeout = v.into();
        if !self.write_set {
            self.opts.write_timeout = self.opts.read_timeout;
        }
        if !self.pool_timeout_set {
            self.opts.pool_timeout = self.opts.read_timeout.map(|r| r + Duration::from_secs(1));
        }
        self
    }

    /// Bound on each write (`WriteTimeout`).
    pub fn write_timeout(mut self, v: impl Into<Option<Duration>>) -> Self {
        self.opts.write_timeout = v.into();
        self.write_set = true;
        self
    }

    /// How long `get()` waits for a free connection (`PoolTimeout`).
    pub fn pool_timeout(mut self, v: impl Into<Option<Duration>>) -> Self {
        self.opts.pool_timeout = v.into();
        self.pool_timeout_set = true;
        self
    }

    /// Retry backoff bounds (`MinRetryBackoff`, `MaxRetryBackoff`).
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.opts.min_retry_backoff = min;
        self.opts.max_retry_backoff = max;
        self
    }

    /// Dial circuit breaker: open after `threshold` consecutive dial
    /// failures (0 = never), probe again after `cooldown`.
    pub fn breaker(mut self, threshold: u32, cooldown: Duration) -> Self {
        self.opts.breaker_threshold = threshold;
        self.opts.breaker_cooldown = cooldown;
        self
    }

    /// Password (`AUTH pass`, or with [`PoolBuilder::username`] `AUTH user pass`).
    pub fn password(mut self, pw: impl Into<String>) -> Self {
        if let Some(c) = self.cfg_mut() {
            c.password = Some(pw.into());
        }
        self
    }

    /// ACL user name.
    pub fn username(mut self, user: impl Into<String>) -> Self {
        if let Some(c) = self.cfg_mut() {
            c.username = Some(user.into());
        }
        self
    }

    /// Database index.
    pub fn db(mut self, db: i64) -> Self {
        if let Some(c) = self.cfg_mut() {
            c.db = db;
        }
        self
    }

    /// `CLIENT SETNAME` for every connection.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        if let Some(c) = self.cfg_mut() {
            c.client_name = Some(name.into());
        }
        self
    }

    /// RESP2 or RESP3 (default).
    pub fn protocol(mut self, p: Protocol) -> Self {
        if let Some(c) = self.cfg_mut() {
            c.protocol = p;
        }
        self
    }

    /// TLS settings (needs the `tls` feature to dial).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        if let Some(c) = self.cfg_mut() {
            c.tls = Some(tls);
        }
        self
    }

    /// Internal, for redis-harness's own tests (feature `__sabotage`): see [`Sabotage`].
    #[cfg(feature = "__sabotage")]
    #[doc(hidden)]
    pub fn sabotage(mut self, s: Sabotage) -> Self {
        self.sabotage = s;
        self
    }

    /// Builds the pool and starts its background tasks. Must run inside a
    /// tokio runtime; dials nothing itself (the min-idle filler dials in the background).
    pub fn build(self) -> Result<Pool, Error> {
        Pool::start(self.cfg?, self.opts, self.sabotage)
    }
}

/// Counters and gauges, as go-redis's `PoolStats` plus close reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Checkouts served by an idle connection.
    pub hits: u64,
    /// Checkouts that had to dial.
    pub misses: u64,
    /// Checkouts that gave up after `pool_timeout`.
    pub timeouts: u64,
    /// Checkouts that had to wait for a turn.
    pub waits: u64,
    /// Total time spent waiting for a turn.
    pub wait_duration: Duration,
    /// Connections open (idle + checked out + in flight).
    pub total_conns: usize,
    /// Idle connections.
    pub idle_conns: usize,
    /// Checked-out connections.
    pub in_use: usize,
    /// Connections dialled successfully.
    pub created: u64,
    /// Dials that failed.
    pub dial_errors: u64,
    /// Retries performed by the pool's command methods.
    pub retries: u64,
    /// Closed for being idle too long.
    pub closed_idle_time: u64,
    /// Closed for being too old.
    pub closed_lifetime: u64,
    /// Closed after an error, a cancelled command, or a failed checkout check.
    pub closed_broken: u64,
    /// Closed by the pool's close (or drop).
    pub closed_close: u64,
    /// Closed on return because `max_idle` were already idle.
    pub closed_excess_idle: u64,
}

/// The result of [`Pool::health_check`].
#[derive(Debug, Clone)]
pub struct Health {
    /// Checkout plus PING round trip.
    pub latency: Duration,
    /// The stats at that moment.
    pub stats: PoolStats,
}

impl Pool {
    /// A builder from a `redis://`, `rediss://` or `unix://` URL (an invalid
    /// URL is reported by `build()`).
    pub fn builder(url: &str) -> PoolBuilder {
        Pool::builder_with(ConnectionConfig::from_url(url))
    }

    /// A builder from a connection configuration.
    pub fn builder_for(cfg: ConnectionConfig) -> PoolBuilder {
        Pool::builder_with(Ok(cfg))
    }

    fn builder_with(cfg: Result<ConnectionConfig, Error>) -> PoolBuilder {
        PoolBuilder {
            cfg,
            opts: PoolOptions::default(),
            write_set: false,
            pool_timeout_set: false,
            sabotage: Sabotage::None,
        }
    }

    /// A pool with the given settings. Must be called inside a tokio runtime.
    pub fn new(cfg: ConnectionConfig, opts: PoolOptions) -> Result<Pool, Error> {
        Pool::start(cfg, opts, Sabotage::None)
    }

    fn start(cfg: ConnectionConfig, opts: PoolOptions, sabotage: Sabotage) -> Result<Pool, Error> {
        opts.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config("Pool::new must be called inside a tokio runtime".into()));
        }
        let inner = Arc::new(Inner::new(cfg, opts, sabotage));
        spawn_tasks(&inner);
        Ok(Pool { handle: Arc::new(Handle { inner }) })
    }

    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// The options in force.
    pub fn options(&self) -> &PoolOptions {
        &self.inner().opts
    }

    /// Checks out a connection. Fails at once with [`Error::Closed`] after
    /// close; waits at most `pool_timeout` for a turn. Dropping the future
    /// at any point gives back everything it held.
    pub async fn get(&self) -> Result<PooledConnection, Error> {
        self.inner().get().await
    }

    /// Runs one command with retries (see the module docs for when a retry
    /// is safe). An error reply is returned as [`Error::Redis`].
    pub async fn query(&self, cmd: &Cmd) -> Result<Value, Error> {
        let addr = self.inner().addr.clone();
        let mut v = self.run(std::slice::from_ref(cmd), cmd.is_retry_safe()).await?;
        match v.pop() {
            Some(Value::Error { code, msg }) => Err(Error::from_reply(&addr, &code, &msg)),
            Some(v) => Ok(v),
            None => Err(Error::Protocol { addr, detail: "no reply".into() }),
        }
    }

    /// Runs commands as one pipeline on one connection, with retries when
    /// every command is retry-safe or nothing was sent.
    pub async fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Value>, Error> {
        let safe = cmds.iter().all(Cmd::is_retry_safe);
        self.run(cmds, safe).await
    }

    /// `GET key` (retried: read-only).
    pub async fn get_value(&self, key: impl ToArg) -> Result<Option<Bytes>, Error> {
        match self.query(&Cmd::new("GET").arg(key)).await? {
            Value::Nil => Ok(None),
            Value::Bulk(b) => Ok(Some(b)),
            other => Err(self.unexpected("GET", &other)),
        }
    }

    /// `SET key value` (not retried once it may have been sent).
    pub async fn set(&self, key: impl ToArg, value: impl ToArg) -> Result<(), Error> {
        match self.query(&Cmd::new("SET").arg(key).arg(value)).await? {
            v if v.is_ok() => Ok(()),
            other => Err(self.unexpected("SET", &other)),
        }
    }

    /// `DEL key`: whether it existed.
    pub async fn del(&self, key: impl ToArg) -> Result<bool, Error> {
        match self.query(&Cmd::new("DEL").arg(key)).await? {
            Value::Int(n) => Ok(n > 0),
            other => Err(self.unexpected("DEL", &other)),
        }
    }

    /// `INCR key` (never retried once it may have been sent).
    pub async fn incr(&self, key: impl ToArg) -> Result<i64, Error> {
        match self.query(&Cmd::new("INCR").arg(key)).await? {
            Value::Int(n) => Ok(n),
            other => Err(self.unexpected("INCR", &other)),
        }
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), Error> {
        match self.query(&Cmd::new("PING")).await? {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(self.unexpected("PING", &other)),
        }
    }

    fn unexpected(&self, cmd: &str, v: &Value) -> Error {
        Error::Protocol { addr: self.inner().addr.clone(), detail: format!("unexpected reply to {cmd}: {v:?}") }
    }

    /// Readiness probe: checks out a connection and PINGs it.
    pub async fn health_check(&self) -> Result<Health, Error> {
        let started = Instant::now();
        let mut c = self.get().await?;
        c.ping().await?;
        drop(c);
        Ok(Health { latency: started.elapsed(), stats: self.stats() })
    }

    /// The counters and gauges now.
    pub fn stats(&self) -> PoolStats {
        let inner = self.inner();
        let s = &inner.stats;
        let (idle, out) = {
            let st = inner.lock();
            (st.idle.len(), st.out.len())
        };
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        PoolStats {
            hits: get(&s.hits),
            misses: get(&s.misses),
            timeouts: get(&s.timeouts),
            waits: get(&s.waits),
            wait_duration: Duration::from_nanos(get(&s.wait_nanos)),
            total_conns: s.open.load(Ordering::Acquire),
            idle_conns: idle,
            in_use: out,
            created: get(&s.created),
            dial_errors: get(&s.dial_errors),
            retries: get(&s.retries),
            closed_idle_time: get(&s.closed_idle_time),
            closed_lifetime: get(&s.closed_lifetime),
            closed_broken: get(&s.closed_broken),
            closed_close: get(&s.closed_close),
            closed_excess_idle: get(&s.closed_excess_idle),
        }
    }

    /// Background tasks still running (reaper, min-idle filler): 0 after close().
    pub fn background_tasks(&self) -> usize {
        self.inner().tracker.len()
    }

    /// The tracker of the background tasks, so a test can await them after
    /// dropping the pool.
    #[doc(hidden)]
    pub fn task_tracker(&self) -> tokio_util::task::TaskTracker {
        self.inner().tracker.clone()
    }

    /// Whether close() has started (or the pool was dropped).
    pub fn is_closed(&self) -> bool {
        self.inner().is_closed()
    }
}

/// A connection checked out of a [`Pool`]. Dropping it returns the
/// connection (closed instead if the pool is closed, or the connection is
/// broken, too old, or had a command cancelled) and frees its turn.
pub struct PooledConnection {
    inner: Arc<Inner>,
    id: u64,
    slot: Arc<Slot>,
    permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection").field("addr", &self.inner.addr).field("guard", &self.id).finish()
    }
}

impl PooledConnection {
    pub(crate) fn new(inner: Arc<Inner>, id: u64, slot: Arc<Slot>, permit: Option<OwnedSemaphorePermit>) -> Self {
        PooledConnection { inner, id, slot, permit }
    }

    /// Runs one command (no retries: this is one connection). An error reply
    /// becomes [`Error::Redis`].
    pub async fn query(&mut self, cmd: &Cmd) -> Result<Value, Error> {
        let mut v = self.exec(std::slice::from_ref(cmd)).await.map_err(|f| f.err)?;
        match v.pop() {
            Some(Value::Error { code, msg }) => Err(Error::from_reply(&self.inner.addr, &code, &msg)),
            Some(v) => Ok(v),
            None => Err(Error::Protocol { addr: self.inner.addr.clone(), detail: "no reply".into() }),
        }
    }

    /// Sends the commands as one pipeline; error replies stay in the list.
    pub async fn pipeline(&mut self, cmds: &[Cmd]) -> Result<Vec<Value>, Error> {
        self.exec(cmds).await.map_err(|f| f.err)
    }

    /// `PING`.
    pub async fn ping(&mut self) -> Result<(), Error> {
        match self.query(&Cmd::new("PING")).await? {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(Error::Protocol {
                addr: self.inner.addr.clone(),
                detail: format!("unexpected reply to PING: {other:?}"),
            }),
        }
    }

    /// `GET key`.
    pub async fn get(&mut self, key: impl ToArg) -> Result<Option<Bytes>, Error> {
        match self.query(&Cmd::new("GET").arg(key)).await? {
            Value::Nil => Ok(None),
            Value::Bulk(b) => Ok(Some(b)),
            other => Err(Error::Protocol {
                addr: self.inner.addr.clone(),
                detail: format!("unexpected reply to GET: {other:?}"),
            }),
        }
    }

    /// `SET key value`.
    pub async fn set(&mut self, key: impl ToArg, value: impl ToArg) -> Result<(), Error> {
        match self.query(&Cmd::new("SET").arg(key).arg(value)).await? {
            v if v.is_ok() => Ok(()),
            other => Err(Error::Protocol {
                addr: self.inner.addr.clone(),
                detail: format!("unexpected reply to SET: {other:?}"),
            }),
        }
    }

    /// The underlying connection's id (None once it was discarded).
    pub fn connection_id(&self) -> Option<u64> {
        self.slot.lock().as_ref().map(Connection::id)
    }

    /// Whether the connection is still usable (no earlier error, cancellation or close).
    pub fn is_usable(&self) -> bool {
        self.slot.lock().as_ref().is_some_and(Connection::is_reusable)
    }

    pub(crate) async fn exec(&mut self, cmds: &[Cmd]) -> Result<Vec<Value>, Failure> {
        let taken = self.slot.lock().take();
        let Some(conn) = taken else {
            let err = if self.inner.hard.is_cancelled() {
                Error::Aborted { addr: self.inner.addr.clone() }
            } else {
                Error::Unusable { addr: self.inner.addr.clone() }
            };
            return Err(Failure::unsent(err));
        };
        let mut flight = InFlight::new(&self.inner, &self.slot, conn);
        let block = block_timeout(cmds);
        let outcome = {
            let hard = &self.inner.hard;
            let Some(conn) = flight.conn.as_mut() else { return Err(Failure::unsent(self.inner.closed_err())) };
            tokio::select! {
                biased;
                _ = hard.cancelled() => None,
                r = conn.exec(cmds, block) => Some(r),
            }
        };
        match outcome {
            None => {
                flight.discard(CloseReason::Close);
                self.inner.stats.commands_aborted.fetch_add(1, Ordering::Relaxed);
                Err(Failure::sent(Error::Aborted { addr: self.inner.addr.clone() }))
            }
            Some(Ok(v)) => {
                flight.finish();
                Ok(v)
            }
            Some(Err(f)) => {
                flight.discard(CloseReason::Broken);
                Err(f)
            }
        }
    }
}

/// For a pipeline: forever if any command may block forever, else the longest.
fn block_timeout(cmds: &[Cmd]) -> Option<Option<Duration>> {
    let mut out: Option<Option<Duration>> = None;
    for c in cmds {
        match (c.block_timeout(), out) {
            (None, _) => {}
            (Some(None), _) => return Some(None),
            (Some(Some(d)), Some(Some(cur))) => out = Some(Some(d.max(cur))),
            (Some(Some(d)), _) => out = Some(Some(d)),
        }
    }
    out
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        // The connection is pooled or closed before the guard leaves the
        // checked-out table: close() stops draining once the table is
        // empty, and must not return while this socket is still open.
        let conn = self.slot.lock().take();
        if let Some(conn) = conn {
            self.inner.put_back(conn);
        }
        let closing = {
            let mut st = self.inner.lock();
            st.out.remove(&self.id);
            st.closed
        };
        if closing && !self.inner.hard.is_cancelled() {
            self.inner.stats.drained.fetch_add(1, Ordering::Relaxed);
        }
        drop(self.permit.take());
        self.inner.returned.notify_waiters();
        self.inner.fill.notify_one();
    }
}

/// A connection taken out of its slot for one command. Finished, it goes
/// back to the slot; dropped unfinished (the command future was cancelled)
/// it is closed, because its reply may still arrive.
struct InFlight<'a> {
    inner: &'a Inner,
    slot: &'a Slot,
    conn: Option<Connection>,
}

impl<'a> InFlight<'a> {
    fn new(inner: &'a Inner, slot: &'a Slot, conn: Connection) -> Self {
        inner.inflight.fetch_add(1, Ordering::AcqRel);
        InFlight { inner, slot, conn: Some(conn) }
    }

    fn finish(&mut self) {
        if let Some(c) = self.conn.take() {
            if self.inner.hard.is_cancelled() {
                // The close deadline passed while the reply arrived: close()
                // may already have swept the slots, so do not put it back.
                self.inner.stats.closed(CloseReason::Close);
                drop(c);
            } else {
                *self.slot.lock() = Some(c);
            }
        }
    }

    fn discard(&mut self, why: CloseReason) {
        if self.conn.take().is_some() {
            self.inner.stats.closed(why);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.take() {
            if self.inner.sabotage == Sabotage::ReuseCancelled {
                c.force_clean();
                *self.slot.lock() = Some(c);
            } else {
                tracing::debug!(addr = %self.inner.addr, conn = c.id(), "command cancelled: closing its connection");
                self.inner.stats.closed(CloseReason::Broken);
                drop(c);
            }
        }
        self.inner.inflight.fetch_sub(1, Ordering::AcqRel);
        self.inner.inflight_done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Pool>();
        check::<PooledConnection>();
        check::<Error>();
        check::<Connection>();
    }
}
