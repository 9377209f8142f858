//! The connection-host core under both front ends, [`FakeRedis`](crate::FakeRedis)
//! and [`FaultProxy`](crate::FaultProxy): what a server of client sockets
//! needs whatever it does with the bytes.
//!
//! - [`listen`]: the listening socket, with `SO_REUSEADDR` as Redis sets it.
//! - [`Sockets`]: the exact count of open client sockets and the stop signal;
//!   [`Registration`], the guard that keeps a socket counted until it is closed;
//!   the bounded leak waits behind `wait_for_open_connections` and `assert_no_leaks`.
//! - [`ConnectionHost`]: the adapter each front end implements over its own
//!   client table (the fake's lives in its `State`, next to everything a
//!   command may read; the proxy's is a small map of its own).
//! - [`worker`]: each server on its own thread and current-thread runtime,
//!   started from a pool of parked workers, stopped synchronously from `Drop`.
//! - the public reports both front ends return: [`ClientSnapshot`],
//!   [`LeakError`], [`StartError`].

pub(crate) mod listen;
mod report;
pub(crate) mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

pub use report::{ClientSnapshot, LeakError, StartError};

/// Open client sockets and the stop signal of one server.
///
/// The count moves only through [`Registration`]: up when a socket is
/// registered (synchronously in the accept loop, so it is right the moment
/// accept returns), down when the registration drops, after the socket.
pub(crate) struct Sockets {
    open: watch::Sender<usize>,
    shutdown: watch::Sender<bool>,
}

impl Default for Sockets {
    fn default() -> Self {
        Sockets { open: watch::channel(0).0, shutdown: watch::channel(false).0 }
    }
}

impl Sockets {
    /// Client sockets open right now.
    pub(crate) fn open(&self) -> usize {
        *self.open.borrow()
    }

    /// A receiver that turns true once, when the server stops.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells the accept loop and every connection to stop.
    pub(crate) fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until exactly `n` sockets are open; false after `timeout`.
    pub(crate) async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.open.subscribe();
        let reached = matches!(tokio::time::timeout(timeout, rx.wait_for(|open| *open == n)).await, Ok(Ok(_)));
        reached
    }

    /// [`Sockets::wait_for`] without a runtime (plain `#[test]`s): parks the
    /// thread on the count's channel, bounded by `timeout`.
    pub(crate) fn wait_for_blocking(&self, n: usize, timeout: Duration) -> bool {
        let started = Instant::now();
        let mut rx = self.open.subscribe();
        loop {
            if *rx.borrow_and_update() == n {
                return true;
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return false;
            }
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build();
            let Ok(rt) = rt else {
                // No runtime to wait with (out of descriptors): poll, bounded by `timeout`.
                std::thread::sleep(Duration::from_millis(1).min(left));
                continue;
            };
            let _ = rt.block_on(async { tokio::time::timeout(left, rx.changed()).await });
        }
    }
}

/// What a front end keeps per client, seen through one interface.
pub(crate) trait ConnectionHost: Send + Sync + 'static {
    /// Its socket count and stop signal.
    fn sockets(&self) -> &Sockets;
    /// Forgets client `id` (its table entry and whatever else the host
    /// keeps per client); called once, when its connection has closed.
    fn forget(&self, id: u64);
    /// The clients connected now, ordered by id.
    fn clients(&self) -> Vec<ClientSnapshot>;
    /// Closes every client connection except `except`; returns how many.
    fn kill_all(&self, except: Option<u64>) -> usize;
}

/// A registered client socket: counted from [`Registration::new`] until
/// the guard drops, which forgets the client, however its connection ends
/// (EOF, error, kill, server shutdown dropping the task).
///
/// Keep it declared after the socket (fields drop in declaration order),
/// so that a socket is counted until it is really closed.
pub(crate) struct Registration<H: ConnectionHost> {
    host: Arc<H>,
    /// The client's id.
    pub id: u64,
    /// Notified when the client is killed (CLIENT KILL, kill-all, faults).
    pub kill: Arc<Notify>,
}

impl<H: ConnectionHost> Registration<H> {
    /// Counts a socket whose client `id` the host has just put in its table.
    pub(crate) fn new(host: &Arc<H>, id: u64, kill: Arc<Notify>) -> Registration<H> {
        host.sockets().open.send_modify(|n| *n += 1);
        Registration { host: host.clone(), id, kill }
    }

    /// The host the client belongs to.
    pub(crate) fn host(&self) -> &Arc<H> {
        &self.host
    }

    /// A receiver that turns true when the server stops.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.host.sockets().shutdown_signal()
    }
}

impl<H: ConnectionHost> Drop for Registration<H> {
    fn drop(&mut self) {
        self.host.forget(self.id);
        self.host.sockets().open.send_modify(|n| *n -= 1);
    }
}

/// Waits until exactly `n` client sockets of `host` (listening at `addr`)
/// are open, or fails after `timeout` with the clients still open.
pub(crate) async fn wait_for_open<H: ConnectionHost + ?Sized>(
    host: &H,
    addr: SocketAddr,
    n: usize,
    timeout: Duration,
) -> Result<(), LeakError> {
    let started = Instant::now();
    let settled = host.sockets().wait_for(n, timeout).await;
    leak_check(host, addr, n, started, settled)
}

/// [`wait_for_open`] without a runtime.
pub(crate) fn wait_for_open_blocking<H: ConnectionHost + ?Sized>(
    host: &H,
    addr: SocketAddr,
    n: usize,
    timeout: Duration,
) -> Result<(), LeakError> {
    let started = Instant::now();
    let settled = host.sockets().wait_for_blocking(n, timeout);
    leak_check(host, addr, n, started, settled)
}

/// The end of a leak wait begun at `started`: `Ok` if the count `settled` at
/// `n`, else the error naming the clients still open.
fn leak_check<H: ConnectionHost + ?Sized>(
    host: &H,
    addr: SocketAddr,
    n: usize,
    started: Instant,
    settled: bool,
) -> Result<(), LeakError> {
    if settled {
        return Ok(());
    }
    Err(LeakError { expected: n, open: host.clients(), waited: started.elapsed(), addr })
}

/// `REDIS_HARNESS_SEED`, the seed of every server and proxy that is not given one.
pub(crate) fn seed_from_env() -> Option<u64> {
    std::env::var("REDIS_HARNESS_SEED").ok()?.trim().parse().ok()
}

/// A server's seed: the one given, else `REDIS_HARNESS_SEED`, else random.
pub(crate) fn pick_seed(given: Option<u64>) -> u64 {
    given.or_else(seed_from_env).unwrap_or_else(|| fastrand::u64(..))
}
