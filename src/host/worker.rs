//! Each server (fake or proxy) on its own thread and current-thread runtime.
//!
//! Owning a thread and runtime lets `Drop` stop a server synchronously from
//! any test runtime (or none), as wiremock's bare server does.
//!
//! Start-up time is what a test pays for isolation, and creating a thread
//! and a runtime is most of it; so a stopped server's thread parks here and
//! serves the next one. Every server still runs alone on its own thread and
//! runtime; a worker is reused only after everything of the previous server
//! (listeners, connection tasks, timers) has been dropped.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::mpsc;
use std::time::Duration;

/// What a worker runs: builds the server's future on the worker's thread
/// (it need not be `Send`: it never leaves that thread).
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A job and the channel that reports its end.
struct Assignment {
    job: Job,
    stopped: mpsc::Sender<()>,
}

/// Parked worker threads, each with its runtime, ready for the next server.
static IDLE_WORKERS: std::sync::Mutex<Vec<(u64, mpsc::Sender<Assignment>)>> = std::sync::Mutex::new(Vec::new());
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
/// How long [`Running::wait`] waits for a stopping server: a worker stops
/// within one poll of its tasks; the bound only guards against a bug
/// turning `Drop` into a hang.
const STOP_BOUND: Duration = Duration::from_secs(30);

/// A server running on a worker; [`Running::wait`] returns once its future
/// has finished and every task of its runtime is gone.
pub(crate) struct Running {
    /// In a Mutex only so that the handles holding it are `Sync`; nothing contends for it.
    stopped: Option<std::sync::Mutex<mpsc::Receiver<()>>>,
}

impl Running {
    /// Waits (bounded) for the server to finish. The caller has told it to
    /// stop (see [`super::Sockets::stop`]). Later calls return at once.
    pub(crate) fn wait(&mut self) {
        if let Some(rx) = self.stopped.take() {
            let rx = rx.into_inner().unwrap_or_else(|e| e.into_inner());
            let _ = rx.recv_timeout(STOP_BOUND);
        }
    }
}

/// Runs the future `make` builds on a worker thread of its own: a parked
/// one if there is one, else a new thread named `redis-harness-host`.
///
/// The future must end only once everything it spawned has ended (keep
/// connection tasks in a `JoinSet` and shut it down): a task left alive
/// costs the next server a fresh runtime.
pub(crate) fn spawn<F, Fut>(make: F) -> io::Result<Running>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let mut a = Assignment { job: Box::new(move || Box::pin(make())), stopped: tx };
    loop {
        let worker = IDLE_WORKERS.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match worker {
            Some((_, w)) => match w.send(a) {
                Ok(()) => break,
                // That worker exited meanwhile; try another.
                Err(mpsc::SendError(back)) => a = back,
            },
            None => {
                spawn_worker(a)?;
                break;
            }
        }
    }
    Ok(Running { stopped: Some(std::sync::Mutex::new(rx)) })
}

fn new_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

fn spawn_worker(first: Assignment) -> io::Result<()> {
    let mut rt = new_runtime()?;
    std::thread::Builder::new().name("redis-harness-host".into()).spawn(move || {
        let (tx, rx) = mpsc::channel::<Assignment>();
        let me = NEXT_WORKER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut a = first;
        loop {
            let stopped = a.stopped.clone();
            rt.block_on((a.job)());
            drop(a.stopped);
            // Any task still alive would outlive its server on a reused
            // runtime: then start the next server on a fresh one.
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
                Ok(next) => a = next,
                Err(_) => {
                    // Leave the pool; a job sent just before we got the lock is still ours.
                    let mut idle = IDLE_WORKERS.lock().unwrap_or_else(|e| e.into_inner());
                    idle.retain(|(id, _)| *id != me);
                    drop(idle);
                    match rx.try_recv() {
                        Ok(next) => a = next,
                        Err(_) => return,
                    }
                }
            }
        }
    })?;
    Ok(())
}

/// The next job: polled for [`WORKER_SPIN`], then waited for up to [`WORKER_IDLE`].
fn spin_then_recv(rx: &mpsc::Receiver<Assignment>) -> Result<Assignment, mpsc::RecvTimeoutError> {
    let until = std::time::Instant::now() + WORKER_SPIN;
    while std::time::Instant::now() < until {
        match rx.try_recv() {
            Ok(a) => return Ok(a),
            Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Disconnected) => return Err(mpsc::RecvTimeoutError::Disconnected),
        }
    }
    rx.recv_timeout(WORKER_IDLE)
}
