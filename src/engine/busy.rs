//! Long scripts, as Redis 7.0 runs them: the record of the script that is
//! running (since when on the server's clock, EVAL or FCALL, its name and
//! its caller's command line, whether it wrote, whether someone asked to
//! kill it), read without the state lock by the other connections, and the
//! rules of SCRIPT KILL / FUNCTION KILL.
//!
//! How a script gets to run while others are served (the command layer's
//! `busy` module): a script whose code can loop (it has `while`, `for`,
//! `repeat`, `function`, or can load code at run time; for FCALL, a
//! function whose library can) runs on a thread of its own, taking the
//! state lock for each `redis.call` only; its caller waits like a blocked
//! client. Other connections check this record before they lock the state:
//! until `busy-reply-threshold` has passed they wait for the script
//! (nothing else runs meanwhile, as in Redis), past it they get `-BUSY`
//! unless the command has the `allow-busy` flag. A script that cannot loop
//! runs each instruction at most once and runs inline, under the lock of
//! its caller's command, as before (Redis's own hook only fires every
//! 100 000 instructions, so such a script never times out there either).
//!
//! The Lua hook ([`Busy::on_hook`]) aborts a script that was killed (SCRIPT
//! KILL / FUNCTION KILL), whose server is shutting down (dropping
//! `FakeRedis`, `shutdown()`, `SHUTDOWN NOSAVE`), or that has run for
//! [`RUN_CAP`] of real time: a test that forgets a script in an infinite
//! loop gets an error instead of a hang.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

pub(crate) use crate::script::busy::{Stop, KILLED_MESSAGE, RUN_CAP};

use bytes::Bytes;

use super::clock::Clock;
use super::state::Shared;
use crate::protocol::Reply;
use crate::script::busy::Watch;

/// Redis's `shared.slowevalerr`: what other clients get while an EVAL is busy.
pub(crate) const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Redis's `shared.slowscripterr`: the same while an FCALL is busy.
pub(crate) const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL / FUNCTION KILL with no script running.
pub(crate) const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
/// SCRIPT KILL / FUNCTION KILL once the script has written.
pub(crate) const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

const IDLE: u8 = 0;
/// A script runs and other connections wait for it.
const RUNNING: u8 = 1;
/// A script runs past `busy-reply-threshold`: other connections get BUSY.
const TIMED_OUT: u8 = 2;

/// What the hook needs of the server, set once the server's shared state exists.
struct Bound {
    shared: Weak<Shared>,
    clock: Clock,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The running script's record; one per server, shared by the state (for
/// handlers) and [`Shared`] (for connections, without the lock).
#[derive(Default)]
pub(crate) struct Busy {
    phase: AtomicU8,
    /// The running script came from EVAL (else FCALL).
    eval: AtomicBool,
    /// It ran a write command: it can no longer be killed.
    written: AtomicBool,
    /// SCRIPT KILL / FUNCTION KILL asked to stop it.
    kill: AtomicBool,
    /// When it started, on the server's clock (unix ms).
    started_ms: AtomicU64,
    /// `busy-reply-threshold` when it started.
    threshold_ms: AtomicU64,
    /// When it started in real time (for [`RUN_CAP`]), its name and its command.
    info: Mutex<Option<Info>>,
    /// A "slow script" fault armed for a connection's next script (client id, stall).
    armed: Mutex<Option<(u64, Duration)>>,
    /// Connections waiting for the script to end or to time out.
    changed: Condvar,
    changed_lock: Mutex<()>,
    bound: OnceLock<Bound>,
    /// The thread scripts run on, started by the first one that needs it;
    /// it ends when this record (the server) goes and the sender with it.
    runner: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

/// What the record keeps of the running script besides its atomics.
struct Info {
    /// When it started, in real time (for [`RUN_CAP`]).
    started: Instant,
    /// Its SHA-1 (EVAL) or function name as registered (FCALL).
    name: String,
    /// Its caller's command line, as sent (FUNCTION STATS's `command`).
    command: Vec<Bytes>,
}

/// A script run handed to the script thread.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

impl std::fmt::Debug for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Busy").field("phase", &self.phase.load(Ordering::Relaxed)).finish()
    }
}

/// What FUNCTION STATS reports of the running script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    /// The script's SHA-1 (EVAL) or function name (FCALL).
    pub name: String,
    /// Whether it came from EVAL.
    pub eval: bool,
    /// Its caller's command line, as sent (`FCALL name numkeys ...`).
    pub command: Vec<Bytes>,
    /// How long it has run, on the server's clock.
    pub duration_ms: u64,
}

impl Busy {
    /// Connects the record to its server (its clock and shutdown signal);
    /// called once by `Shared::new`.
    pub(crate) fn bind(&self, shared: &Arc<Shared>) {
        let _ = self.bound.set(Bound {
            shared: Arc::downgrade(shared),
            clock: shared.clock.clone(),
            shutdown: shared.sockets.shutdown_signal(),
        });
    }

    /// The server this record belongs to (`None` before `bind` or after the server is gone).
    pub(crate) fn shared(&self) -> Option<Arc<Shared>> {
        self.bound.get()?.shared.upgrade()
    }

    fn now_ms(&self) -> u64 {
        match self.bound.get() {
            Some(b) => b.clock.now_ms(),
            None => 0,
        }
    }

    /// Runs `job` on the server's script thread (started on first use).
    /// `Err(job)` when no thread could be started.
    pub(crate) fn spawn(&self, job: Job) -> Result<(), Job> {
        let mut runner = self.runner.lock().unwrap_or_else(|p| p.into_inner());
        let job = match runner.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                // The thread ended (a job panicked past its guard): start another.
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let started = std::thread::Builder::new().name("redis-harness-script".into()).spawn(move || {
            while let Ok(job) = rx.recv() {
                job();
            }
        });
        if started.is_err() {
            return Err(job);
        }
        match tx.send(job) {
            Ok(()) => {
                *runner = Some(tx);
                Ok(())
            }
            Err(std::sync::mpsc::SendError(job)) => Err(job),
        }
    }

    /// Arms a "slow script" fault for client `id`'s script command about to run.
    pub(crate) fn arm_stall(&self, id: u64, stall: Duration) {
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, stall));
    }

    /// The stall armed for client `id`'s script, if any (taken: it applies once).
    pub(crate) fn take_stall(&self, id: u64) -> Option<Duration> {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        match *armed {
            Some((who, d)) if who == id => {
                *armed = None;
                Some(d)
            }
            _ => None,
        }
    }

    /// Records the start of a script that other connections may observe
    /// (one that runs on its own thread): EVAL or FCALL, its name, its
    /// caller's command line.
    pub(crate) fn begin(&self, eval: bool, name: &str, command: Vec<Bytes>, threshold_ms: u64) {
        self.eval.store(eval, Ordering::Relaxed);
        self.written.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.started_ms.store(self.now_ms(), Ordering::Relaxed);
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        *self.info.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Info { started: Instant::now(), name: name.to_string(), command });
        self.phase.store(RUNNING, Ordering::Release);
    }

    /// Records the end of the script and wakes the connections waiting for it.
    pub(crate) fn end(&self) {
        *self.info.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.kill.store(false, Ordering::Relaxed);
        self.phase.store(IDLE, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        let _g = self.changed_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.changed.notify_all();
    }

    /// Whether a script runs that other connections must wait for or be refused by.
    pub(crate) fn running(&self) -> bool {
        self.phase.load(Ordering::Acquire) != IDLE
    }

    /// Whether the running script passed `busy-reply-threshold` (others get BUSY).
    pub(crate) fn timed_out(&self) -> bool {
        self.phase.load(Ordering::Acquire) == TIMED_OUT
    }

    /// Whether the running script came from EVAL (else FCALL).
    pub(crate) fn is_eval(&self) -> bool {
        self.eval.load(Ordering::Relaxed)
    }

    /// The running script, for FUNCTION STATS (`None` when none runs).
    pub(crate) fn current(&self) -> Option<Running> {
        if !self.running() {
            return None;
        }
        let info = self.info.lock().unwrap_or_else(|p| p.into_inner());
        let info = info.as_ref()?;
        let duration_ms = self.now_ms().saturating_sub(self.started_ms.load(Ordering::Relaxed));
        Some(Running { name: info.name.clone(), eval: self.is_eval(), command: info.command.clone(), duration_ms })
    }

    /// The BUSY error for the running script's kind.
    pub(crate) fn busy_error(&self) -> Reply {
        Reply::error(if self.is_eval() { BUSY_EVAL } else { BUSY_FUNCTION })
    }

    /// A write command is about to run from the script (Redis's `SCRIPT_WRITE_DIRTY`).
    pub(crate) fn wrote(&self) {
        self.written.store(true, Ordering::Relaxed);
    }

    /// Keeps the running script going until the server's clock has passed
    /// `start + delay` (a "slow script" fault): a paused clock holds it
    /// until the test advances the clock. The hook's checks run meanwhile,
    /// so the script times out, can be killed, and stops with the server.
    pub(crate) fn stall(&self, delay: Duration) -> Option<Stop> {
        let until = self.started_ms.load(Ordering::Relaxed).saturating_add(delay.as_millis() as u64);
        while self.now_ms() < until {
            if let Some(stop) = self.on_hook() {
                return Some(stop);
            }
            // The fault's own pace (this is the script's thread, not a test's).
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    /// Whether the server is stopping (its connections are closing).
    pub(crate) fn stopping(&self) -> bool {
        self.bound.get().is_some_and(|b| *b.shutdown.borrow())
    }

    /// Called by the Lua hook every few thousand instructions of a script
    /// running on its own thread: marks the script timed out once
    /// `busy-reply-threshold` passed, and says whether it must stop.
    pub(crate) fn on_hook(&self) -> Option<Stop> {
        let stop = if self.kill.load(Ordering::Relaxed) {
            Some(Stop::Killed)
        } else if self.stopping() {
            Some(Stop::Shutdown)
        } else if self
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|i| i.started.elapsed() > RUN_CAP)
        {
            Some(Stop::Cap)
        } else {
            None
        };
        if stop.is_some() {
            return stop;
        }
        if self.phase.load(Ordering::Relaxed) == RUNNING {
            let threshold = self.threshold_ms.load(Ordering::Relaxed);
            let elapsed = self.now_ms().saturating_sub(self.started_ms.load(Ordering::Relaxed));
            // As Redis: a threshold of 0 times out at the first check.
            if elapsed >= threshold {
                let name = self.info.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|i| i.name.clone());
                // Redis's scriptInterrupt names the command that can stop this kind of script.
                let kill = if self.is_eval() { "SCRIPT KILL" } else { "FUNCTION KILL" };
                tracing::warn!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {kill} command. Script name is: {}.",
                    name.unwrap_or_default()
                );
                self.phase.store(TIMED_OUT, Ordering::Release);
                self.wake();
            }
        }
        None
    }

    /// Blocks until no script runs or the running one timed out, for at
    /// most `bound` (a guard against a lost wake-up turning into a hang).
    pub(crate) fn wait_while_running(&self, bound: Duration) {
        let until = Instant::now() + bound;
        let mut g = self.changed_lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.phase.load(Ordering::Acquire) == RUNNING {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            // Short waits: the script's thread may end between the check and the wait.
            let step = left.min(Duration::from_millis(50));
            g = self.changed.wait_timeout(g, step).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

impl Watch for Busy {
    fn running(&self) -> bool {
        Busy::running(self)
    }

    fn on_hook(&self) -> Option<Stop> {
        Busy::on_hook(self)
    }
}

/// SCRIPT KILL (`by_script_kill`) or FUNCTION KILL: Redis's `scriptKill`.
/// Both commands call this.
pub(crate) fn kill(busy: &Busy, by_script_kill: bool) -> Reply {
    if !busy.running() {
        return Reply::error(NOTBUSY);
    }
    if busy.written.load(Ordering::Relaxed) {
        return Reply::error(UNKILLABLE);
    }
    match (by_script_kill, busy.is_eval()) {
        // SCRIPT KILL cannot kill a function, nor FUNCTION KILL an EVAL.
        (true, false) => return Reply::error(BUSY_FUNCTION),
        (false, true) => return Reply::error(BUSY_EVAL),
        _ => {}
    }
    busy.kill.store(true, Ordering::Relaxed);
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_follows_scriptkill_rules() {
        let b = Busy::default();
        assert_eq!(kill(&b, true), Reply::error(NOTBUSY));
        b.begin(true, "sha", Vec::new(), 5000);
        assert_eq!(kill(&b, false), Reply::error(BUSY_EVAL));
        b.wrote();
        assert_eq!(kill(&b, true), Reply::error(UNKILLABLE));
        b.end();
        let command = vec![Bytes::from("FCALL"), Bytes::from("F"), Bytes::from("0")];
        b.begin(false, "f", command.clone(), 5000);
        assert_eq!(b.current().map(|r| (r.name, r.eval, r.command)), Some(("f".to_string(), false, command)));
        assert_eq!(kill(&b, true), Reply::error(BUSY_FUNCTION));
        assert_eq!(kill(&b, false), Reply::ok());
        assert_eq!(b.on_hook(), Some(Stop::Killed));
        b.end();
        assert!(!b.running());
    }
}
