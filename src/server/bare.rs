//! The server machinery behind [`FakeRedis`](super::FakeRedis): its own
//! thread and current-thread runtime, the accept loops, active expiry.
//!
//! Owning a thread and runtime lets `Drop` stop the server synchronously
//! from any test runtime (or none), as wiremock's bare server does.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::connection::{self, Peer};
use super::state::Shared;

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
    /// Fires when the server has stopped and every connection task is gone.
    /// In a Mutex only so that `FakeRedis` is `Sync`; nothing contends for it.
    stopped: Option<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>,
}

/// A server to run on a worker thread.
struct Job {
    shared: Arc<Shared>,
    listeners: Listeners,
    stopped: std::sync::mpsc::Sender<()>,
}

/// Parked worker threads, each with its runtime, ready for the next server.
///
/// Start-up time is what a test pays for isolation, and creating a thread
/// and a runtime is most of it; so a stopped server's thread parks here and
/// serves the next one. Every server still runs alone on its own thread and
/// runtime; a worker is reused only after everything of the previous server
/// (listeners, connection tasks, timers) has been dropped.
static IDLE_WORKERS: std::sync::Mutex<Vec<(u64, std::sync::mpsc::Sender<Job>)>> = std::sync::Mutex::new(Vec::new());
static NEXT_WORKER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a parked worker waits for another server before its thread exits.
const WORKER_IDLE: Duration = Duration::from_secs(5);
/// At most this many workers park; more exit at once.
const MAX_IDLE_WORKERS: usize = 8;
/// How long a worker that just stopped a server polls for the next one
/// before it sleeps. A test suite starts servers back to back; a worker
/// still awake takes the next one without the cross-CPU wake-up (tens of µs
/// on a VM) that the starting thread would otherwise pay. Go's scheduler
/// spins idle threads briefly for the same reason.
const WORKER_SPIN: Duration = Duration::from_micros(200);
/// How long a new server keeps polling its sockets without sleeping: the
/// test's first connect and command usually arrive within this, and find
/// the server awake instead of waiting for it to be woken.
const START_SPIN: Duration = Duration::from_micros(500);

impl BareServer {
    pub(crate) fn spawn(shared: Arc<Shared>, listeners: Listeners) -> io::Result<BareServer> {
        // Created non-blocking on Linux (see bind_reusable).
        #[cfg(not(target_os = "linux"))]
        listeners.tcp.set_nonblocking(true)?;
        if let Some(u) = &listeners.unix {
            u.set_nonblocking(true)?;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let mut job = Job { shared: shared.clone(), listeners, stopped: tx };
        loop {
            let worker = IDLE_WORKERS.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match worker {
                Some((_, w)) => match w.send(job) {
                    Ok(()) => break,
                    // That worker exited meanwhile; try another.
                    Err(std::sync::mpsc::SendError(j)) => job = j,
                },
                None => {
                    spawn_worker(job)?;
                    break;
                }
            }
        }
        Ok(BareServer { shared, stopped: Some(std::sync::Mutex::new(rx)) })
    }

    /// Signals shutdown and waits until the server and all its connections are gone.
    pub(crate) fn stop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(rx) = self.stopped.take() {
            // Bounded: a worker stops within one poll of its tasks; the bound
            // only guards against a bug turning Drop into a hang.
            let rx = rx.into_inner().unwrap_or_else(|e| e.into_inner());
            let _ = rx.recv_timeout(Duration::from_secs(30));
        }
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn new_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

fn spawn_worker(first: Job) -> io::Result<()> {
    let mut rt = new_runtime()?;
    std::thread::Builder::new().name("redis-harness-server".into()).spawn(move || {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let me = NEXT_WORKER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut job = first;
        loop {
            let stopped = job.stopped.clone();
            rt.block_on(run(job.shared, job.listeners));
            drop(job.stopped);
            // Any task still alive (none should be) would outlive its server
            // on a reused runtime: then start the next server on a fresh one.
            if rt.metrics().num_alive_tasks() > 0 {
                drop(std::mem::replace(
                    &mut rt,
                    match new_runtime() {
                        Ok(r) => r,
                        Err(_) => {
                            let _ = stopped.send(());
                            return;
                        }
                    },
                ));
            }
            // Park before reporting the stop: a test that starts its next
            // server right after dropping this one then finds this thread
            // idle instead of spawning a new one (a job sent meanwhile waits
            // in the channel).
            let parked = {
                let mut idle = IDLE_WORKERS.lock().unwrap_or_else(|e| e.into_inner());
                idle.len() < MAX_IDLE_WORKERS && {
                    idle.push((me, tx.clone()));
                    true
                }
            };
            let _ = stopped.send(());
            if !parked {
                return;
            }
            match spin_then_recv(&rx) {
                Ok(j) => job = j,
                Err(_) => {
                    // Leave the pool; a job sent just before we got the lock is still ours.
                    let mut idle = IDLE_WORKERS.lock().unwrap_or_else(|e| e.into_inner());
                    idle.retain(|(id, _)| *id != me);
                    drop(idle);
                    match rx.try_recv() {
                        Ok(j) => job = j,
                        Err(_) => return,
                    }
                }
            }
        }
    })?;
    Ok(())
}

/// The next job: polled for [`WORKER_SPIN`], then waited for up to [`WORKER_IDLE`].
fn spin_then_recv(rx: &std::sync::mpsc::Receiver<Job>) -> Result<Job, std::sync::mpsc::RecvTimeoutError> {
    let until = std::time::Instant::now() + WORKER_SPIN;
    while std::time::Instant::now() < until {
        match rx.try_recv() {
            Ok(j) => return Ok(j),
            Err(std::sync::mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                return Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
            }
        }
    }
    rx.recv_timeout(WORKER_IDLE)
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
    let mut shutdown = shared.shutdown.subscribe();
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
                if let Some((stream, peer)) = r.and_then(|(s, p)| Some((crate::fault::server::admit(&shared, s)?, p))) {
                    // Linux copies TCP_NODELAY from the listener (see bind_reusable).
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
                if let Some(stream) = backoff.check(r).and_then(|s| crate::fault::server::admit(&shared, s)) {
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
