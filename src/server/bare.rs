//! The server machinery behind [`FakeRedis`](super::FakeRedis): the accept
//! loops and active expiry, run on a thread and runtime of its own
//! (`crate::host::worker`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::connection::{self, Peer};
use crate::engine::state::Shared;

/// Listeners bound by the caller (so bind errors surface at start).
pub(crate) struct Listeners {
    pub tcp: std::net::TcpListener,
    pub unix: Option<std::os::unix::net::UnixListener>,
    /// TLS on both listeners, if enabled.
    pub tls: Option<Arc<super::tls::TlsState>>,
}

/// A running server: a worker thread serving it until `stop`.
pub(crate) struct BareServer {
    pub shared: Arc<Shared>,
    running: crate::host::worker::Running,
}

/// How long a new server keeps polling its sockets without sleeping: the
/// test's first connect and command usually arrive within this, and find
/// the server awake instead of waiting for it to be woken.
const START_SPIN: Duration = Duration::from_micros(500);

impl BareServer {
    pub(crate) fn spawn(shared: Arc<Shared>, listeners: Listeners) -> io::Result<BareServer> {
        // The TCP listener is non-blocking already (see `host::listen`).
        if let Some(u) = &listeners.unix {
            u.set_nonblocking(true)?;
        }
        let sh = shared.clone();
        let running = crate::host::worker::spawn(move || run(sh, listeners))?;
        Ok(BareServer { shared, running })
    }

    /// Signals shutdown and waits until the server and all its connections are gone.
    pub(crate) fn stop(&mut self) {
        self.shared.sockets.stop();
        self.running.wait();
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run(shared: Arc<Shared>, listeners: Listeners) {
    let tcp = match tokio::net::TcpListener::from_std(listeners.tcp) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("redis-harness: cannot register TCP listener: {e}");
            return;
        }
    };
    let unix = listeners.unix.and_then(|u| tokio::net::UnixListener::from_std(u).ok());
    let mut shutdown = shared.sockets.shutdown_signal();
    let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut expiry_tick = tokio::time::interval(Duration::from_millis(100));
    expiry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Every connection task lives in this set, so stopping the server aborts
    // and awaits all of them: their sockets are closed when `run` returns.
    let mut tasks = tokio::task::JoinSet::new();
    // Yielding makes the runtime poll its sockets without sleeping (see
    // START_SPIN). One future for the whole spin, so that each poll costs an
    // `epoll_wait` and not the rebuilding of every branch below.
    let spin_until = tokio::time::Instant::now() + START_SPIN;
    let spin = async move {
        while tokio::time::Instant::now() < spin_until {
            tokio::task::yield_now().await;
        }
    };
    tokio::pin!(spin);
    let mut spinning = true;
    // After an accept error that more attempts cannot fix at once (out of
    // file descriptors, buffers or memory), accepting pauses until then,
    // for a delay that doubles with every failure: never a busy loop.
    let mut backoff = Backoff::default();
    loop {
        let accepting = backoff.until.is_none();
        let resume = backoff.until.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            _ = tokio::time::sleep_until(resume), if !accepting => backoff.until = None,
            _ = &mut spin, if spinning => spinning = false,
            _ = shutdown.wait_for(|s| *s) => {
                tasks.shutdown().await;
                return;
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            // Fault hooks: `accepting` holds accepts under a stop-accepting rule,
            // `admit` lets a refuse/max-clients rule take the new socket.
            r = shared.faults.accepting_then(|| tcp.accept()), if accepting => {
                let r = backoff.check(r);
                if let Some((stream, peer)) = r.and_then(|(s, p)| Some((crate::server::faults::admit(&shared, s)?, p))) {
                    // Linux copies TCP_NODELAY from the listener (see `host::listen`).
                    #[cfg(not(target_os = "linux"))]
                    let _ = stream.set_nodelay(true);
                    let fd = raw_fd(&stream);
                    match connection::register(&shared, Peer { peer: peer.to_string(), local: local.clone(), unix: false, fd }) {
                        Some(reg) => {
                            tasks.spawn(super::tls::accept(stream, reg, listeners.tls.clone()));
                            // Let the new connection read its first command before this loop
                            // asks the listener for another client (usually to hear EAGAIN).
                            tokio::task::yield_now().await;
                        }
                        // A fresh socket's send buffer is empty: the line goes out whole, then the close.
                        None => drop(stream.try_write(connection::MAX_CLIENTS_REACHED)),
                    }
                }
            }
            r = shared.faults.accepting_then(|| accept_unix(unix.as_ref())), if accepting => {
                if let Some(stream) = backoff.check(r).and_then(|s| crate::server::faults::admit(&shared, s)) {
                    let fd = raw_fd(&stream);
                    let path = stream.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.display().to_string())).unwrap_or_default();
                    match connection::register(&shared, Peer { peer: format!("{path}:0"), local: format!("{path}:0"), unix: true, fd }) {
                        Some(reg) => drop(tasks.spawn(super::tls::accept(stream, reg, listeners.tls.clone()))),
                        None => drop(stream.try_write(connection::MAX_CLIENTS_REACHED)),
                    }
                }
            }
            // Redis runs no active expiry while a script runs (src/cmd/busy.rs).
            _ = expiry_tick.tick(), if !shared.busy.running() => {
                let now = shared.clock.now_ms();
                let mut st = shared.lock();
                st.expire_cycle(now);
                st.deliver_events();
                st.close_idle_clients(now);
            }
        }
    }
}

/// The accept loop's pause after errors that retrying at once cannot fix.
#[derive(Debug, Default)]
struct Backoff {
    /// The current delay (zero after a successful accept).
    delay: Duration,
    /// Accepting resumes then.
    until: Option<tokio::time::Instant>,
}

/// The first pause after such an error, and the longest.
const BACKOFF_MIN: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(100);

impl Backoff {
    /// The accepted socket, or `None` after an error: a lack of resources
    /// (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting, doubling the
    /// pause each time up to [`BACKOFF_MAX`]; other errors concern one
    /// connection only (it was aborted before it was accepted) and do not.
    fn check<T>(&mut self, r: io::Result<T>) -> Option<T> {
        match r {
            Ok(s) => {
                self.delay = Duration::ZERO;
                Some(s)
            }
            Err(e) if is_resource_error(&e) => {
                self.delay = (self.delay * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                if self.delay == BACKOFF_MIN {
                    tracing::warn!(error = %e, "accepting client connection failed; pausing accepts");
                }
                self.until = Some(tokio::time::Instant::now() + self.delay);
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting client connection failed");
                None
            }
        }
    }
}

/// Whether an accept error is a lack of resources, which an immediate retry would only repeat.
fn is_resource_error(e: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(Errno::from_io_error(e), Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM))
        || e.kind() == io::ErrorKind::OutOfMemory
}

/// Descriptors Redis keeps for itself beyond its clients (CONFIG_MIN_RESERVED_FDS).
const RESERVED_FDS: u64 = 32;

/// The `maxclients` this process's descriptor limit allows when `wanted`
/// are asked for, as Redis adjusts it at start-up: the soft limit is
/// raised (towards the hard limit) to make room for `wanted` clients plus
/// [`RESERVED_FDS`]; when it cannot be, `maxclients` is lowered to what fits,
/// and a warning says so. The process's limit is examined (and raised) once,
/// by the first server that starts, for the default `maxclients`.
pub(crate) fn fd_limited_maxclients(wanted: u64) -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let limit = *LIMIT.get_or_init(|| raise_fd_limit(10_000 + RESERVED_FDS));
    let allowed = limit.saturating_sub(RESERVED_FDS).max(1);
    if wanted > allowed {
        tracing::warn!(
            requested = wanted,
            open_files_limit = limit,
            maxclients = allowed,
            "maxclients has been reduced to compensate for a low open files limit; raise 'ulimit -n' for more"
        );
        allowed
    } else {
        wanted
    }
}

/// Raises the soft RLIMIT_NOFILE to `want` (no further than the hard
/// limit) if it is lower; returns the soft limit in force afterwards.
fn raise_fd_limit(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    // None: unlimited.
    let Some(cur) = lim.current else { return u64::MAX };
    if cur >= want {
        return cur;
    }
    let target = lim.maximum.map_or(want, |max| want.min(max));
    if target > cur {
        match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: lim.maximum }) {
            Ok(()) => {
                tracing::info!(from = cur, to = target, "increased the maximum number of open files");
                return target;
            }
            Err(e) => tracing::warn!(to = target, error = %e, "could not raise the maximum number of open files"),
        }
    }
    cur
}

async fn accept_unix(l: Option<&tokio::net::UnixListener>) -> io::Result<tokio::net::UnixStream> {
    match l {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

fn raw_fd<T: std::os::fd::AsRawFd>(s: &T) -> i64 {
    s.as_raw_fd() as i64
}
