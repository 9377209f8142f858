//! The thread a script that can loop runs on (see the command side of long
//! scripts in `cmd/busy.rs`): its caller waits like a blocked client while
//! the script runs with the Lua state it needs (EVAL's engine, or the
//! functions' state lent by the libraries), each `redis.call` taking the
//! state lock for that call. Built with the `scripting` feature only.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::engine::busy::{self, Busy, Stop};
use crate::engine::command::{BlockSpec, ConnState};
use crate::engine::state::{Shared, State};
use crate::protocol::Reply;
use crate::script::functions::Lent;
use crate::script::Engine;

/// One script run for [`offload`]: runs it on the engine, each command it
/// sends going through the callback; `None` if the script is not cached.
pub(crate) type OffloadRun =
    Box<dyn FnOnce(&mut Engine, &mut dyn FnMut(Vec<Bytes>, u8) -> Reply) -> Option<Reply> + Send + 'static>;

/// How a script's caller describes it to [`offload`].
pub(crate) struct Offload {
    /// EVAL (else FCALL): which BUSY text and which KILL command apply.
    pub eval: bool,
    /// Its SHA-1 or function name as registered (logs, FUNCTION STATS, a killed script's error).
    pub name: String,
    /// The script's flag checks, already made (`functions::prepare_run`):
    /// what its `redis.call`s may do.
    pub checks: crate::cmd::functions::ScriptRun,
    /// A "slow script" fault: it starts by stalling this long on the server's clock.
    pub stall: Option<Duration>,
}

/// Whether this call of a script may run on its own thread: from a
/// client's socket (not from EXEC, another script or the test's handle),
/// with EVAL's engine in place.
pub(crate) fn can_offload(ctx: &Ctx<'_>) -> bool {
    can_offload_function(ctx) && ctx.st.scripts.is_some()
}

/// Whether this FCALL may run its function on its own thread: from a
/// client's socket (not from EXEC, another script or the test's handle).
pub(crate) fn can_offload_function(ctx: &Ctx<'_>) -> bool {
    !ctx.conn.in_exec && ctx.conn.pushes.is_some() && ctx.st.busy.shared().is_some()
}

/// A script handed to the script thread, with the Lua state it runs on
/// (taken out of the state for the run, put back when it ends).
enum Job {
    /// EVAL and its siblings: EVAL's engine and the run (taken when it starts).
    Eval(Box<Engine>, Option<OffloadRun>),
    /// FCALL: the function with the functions' Lua state, its keys and arguments.
    Function(Box<Lent>, Vec<Bytes>, Vec<Bytes>),
}

impl Job {
    /// Puts the Lua state back where it was taken from.
    fn give_back(self, st: &mut State) -> Option<OffloadRun> {
        match self {
            Job::Eval(engine, run) => {
                st.scripts = Some(engine);
                run
            }
            Job::Function(lent, ..) => {
                st.functions.give_back(lent);
                None
            }
        }
    }
}

/// Starts `run` on a thread of its own; the caller's connection waits for
/// its reply like a blocked client (the handler returns what this returns).
/// `Err(run)` when no thread could be started: run it inline then.
pub(crate) fn offload(ctx: &mut Ctx<'_>, what: Offload, run: OffloadRun) -> Result<Reply, OffloadRun> {
    if ctx.st.busy.shared().is_none() {
        return Err(run);
    }
    let Some(engine) = ctx.st.scripts.take() else { return Err(run) };
    match start(ctx, what, Vec::new(), Job::Eval(engine, Some(run))) {
        Ok(reply) => Ok(reply),
        Err(job) => match job.give_back(ctx.st) {
            Some(run) => Err(run),
            None => Ok(Reply::error("ERR redis-harness: the script thread failed")),
        },
    }
}

/// FCALL's [`offload`]: runs the function `lent` (the functions' Lua
/// state with it) on the script thread with `keys` and `args`;
/// `command` is the caller's command line (FUNCTION STATS shows it).
/// `Err(lent)` when no thread could be started: run it inline then.
pub(crate) fn offload_function(
    ctx: &mut Ctx<'_>,
    what: Offload,
    command: Vec<Bytes>,
    lent: Box<Lent>,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
) -> Result<Reply, Box<Lent>> {
    match start(ctx, what, command, Job::Function(lent, keys, args)) {
        Ok(reply) => Ok(reply),
        Err(Job::Function(lent, ..)) => Err(lent),
        Err(job) => {
            job.give_back(ctx.st);
            Ok(Reply::error("ERR redis-harness: the script thread failed"))
        }
    }
}

/// Both offloads: records the script as running, hands `job` to the
/// script thread and makes the caller wait. `Err(job)` (the record
/// cleared) when no thread could be started.
fn start(ctx: &mut Ctx<'_>, what: Offload, command: Vec<Bytes>, mut job: Job) -> Result<Reply, Job> {
    let record = ctx.st.busy.clone();
    let Some(shared) = record.shared() else { return Err(job) };
    match &mut job {
        Job::Eval(engine, _) => engine.watch(record.clone()),
        Job::Function(lent, ..) => lent.watch(record.clone()),
    }
    // Redis's script client: the caller's db and user, RESP2, never blocking.
    let client = ConnState::script_client(ctx.conn);
    let threshold = ctx.st.config().get("busy-reply-threshold").and_then(|v| v.parse().ok()).unwrap_or(5000);
    let caller = ctx.conn.id;
    let now = ctx.now;
    record.begin(what.eval, &what.name, command, threshold);
    // The thread's job owns the script; a refused job gives it back.
    let slot = std::sync::Arc::new(Mutex::new(Some(job)));
    let thread_job: busy::Job = {
        let (record, slot) = (record.clone(), slot.clone());
        Box::new(move || {
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(job) = taken {
                run_script(&shared, &record, job, client, now, caller, what);
            }
        })
    };
    match record.spawn(thread_job) {
        Ok(()) => {
            // Wait like a blocked client without keys (no timeout); `run_script` answers it.
            ctx.conn.effects.block = Some(BlockSpec {
                db: ctx.db(),
                keys: Vec::new(),
                timeout: None,
                on_timeout: Reply::Nil,
                rerun: None,
                on_delete: false,
                command: None,
            });
            Ok(Reply::None)
        }
        Err(thread_job) => {
            drop(thread_job);
            record.end();
            tracing::warn!("redis-harness: cannot start the script thread; running the script inline");
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            match taken {
                Some(job) => Err(job),
                None => Ok(Reply::error("ERR redis-harness: the script thread failed")),
            }
        }
    }
}

/// Ends the record however the script's thread ends (a panic included),
/// so that the connections waiting in [`check`] never wait for nothing.
struct EndGuard<'a>(Option<&'a Busy>);

impl EndGuard<'_> {
    /// Ends the record now (under the state lock, before the caller is answered).
    fn end(mut self) {
        if let Some(b) = self.0.take() {
            b.end();
        }
    }
}

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.end();
        }
    }
}

/// The script's thread: runs it, then (under the lock) puts the Lua state
/// back, wakes blocked clients its writes served, and answers its caller.
fn run_script(
    shared: &Shared,
    record: &Busy,
    mut job: Job,
    mut client: ConnState,
    now: u64,
    caller: u64,
    what: Offload,
) {
    let end = EndGuard(Some(record));
    let stalled = what.stall.and_then(|d| record.stall(d));
    let reply = match stalled {
        Some(Stop::Killed) => {
            // Killed before its first line ran: where its code starts.
            let at = match &job {
                Job::Eval(..) => "@user_script:1".to_string(),
                Job::Function(lent, ..) => format!("@user_function:{}", lent.line()),
            };
            Reply::error(format!("ERR {} script: {}, on {at}.", busy::KILLED_MESSAGE, what.name))
        }
        Some(_) => Reply::error("ERR Script aborted: the server is shutting down"),
        None => {
            let mut checks = what.checks;
            let mut call = |args: Vec<Bytes>, resp: u8| {
                let mut st = shared.lock();
                let mut ctx = Ctx { st: &mut st, conn: &mut client, now, clock: &shared.clock };
                crate::cmd::functions::script_call(&mut ctx, &args, resp, &mut checks)
            };
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &mut job {
                Job::Eval(engine, run) => run
                    .take()
                    .and_then(|run| run(engine, &mut call))
                    .unwrap_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL.")),
                Job::Function(lent, keys, args) => lent.run(keys, args, &mut call),
            }));
            ran.unwrap_or_else(|_| Reply::error("ERR redis-harness: the script's thread panicked"))
        }
    };
    let mut st = shared.lock();
    job.give_back(&mut st);
    crate::engine::blocking::serve_ready(&mut st, &shared.clock);
    // Ended under the lock, before the caller hears back: a connection the
    // gate lets through then finds the Lua state in place, and whoever the
    // caller tells next sees no script running.
    end.end();
    if record.stopping() {
        // The server is going (a script aborted by it, or one that ended
        // just then): the caller's connection closes without a reply, as
        // Redis's does on SHUTDOWN NOSAVE, whichever of the two it sees first.
        crate::engine::blocking::remove_client(&mut st, caller);
    } else {
        crate::engine::blocking::answer(&mut st, caller, reply);
    }
}
