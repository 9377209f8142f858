//! Long scripts on the command side (the record itself is
//! `crate::script::busy`): the gate every connection passes before it locks
//! the state and SHUTDOWN; the thread a script that can loop runs on is
//! `cmd/support/script_thread.rs`.
//!
//! Why a thread: the server runs every connection on one thread, so a
//! script run inside its command's handler would keep everyone else from
//! being answered, BUSY and SCRIPT KILL included. A script that can loop
//! (an EVAL script, or an FCALL of a function whose library can loop), or
//! one a "slow script" fault fired for, therefore runs on a thread of its
//! own with the Lua state it needs (EVAL's engine, or the functions' state
//! lent by the libraries) while its caller waits like a blocked client;
//! each `redis.call` takes the state lock for that call.
//! Other connections wait in [`check`] while it runs (no command of
//! theirs runs in between: the script stays atomic) until
//! `busy-reply-threshold` passes on the server's clock; then they get
//! Redis's BUSY error (its EVAL or its FUNCTION text, by the kind of
//! script), except for the commands flagged `allow-busy` (SCRIPT KILL,
//! FUNCTION KILL, FUNCTION STATS, SHUTDOWN NOSAVE, MULTI, ...).
//!
//! Not atomic against the test's own handle: `FakeRedis::run` and friends
//! may run between two `redis.call`s of such a script. Active expiry skips
//! its cycles while a script runs, as Redis's does.

use std::time::Duration;

use bytes::Bytes;

use super::util::eq_ic;
use super::{cmd, lookup, lookup_sub, CommandSpec, Ctx};
use crate::engine::busy::{self, Busy};
use crate::engine::command::ConnState;
use crate::engine::state::Shared;
use crate::protocol::Reply;

/// How long [`check`] waits for a script before it lets the command through
/// anyway: a guard against a lost wake-up, past the script's own cap.
const GATE_BOUND: Duration = Duration::from_secs(busy::RUN_CAP.as_secs() + 10);

/// The gate: called by a connection for each command before it locks the
/// state. `None` (the usual case: one atomic load) lets the command run;
/// `Some` is the reply instead (BUSY). While a script runs and has not
/// timed out yet this blocks, as Redis serves no one meanwhile.
pub(crate) fn check(shared: &Shared, args: &[Bytes], conn: &mut ConnState) -> Option<Reply> {
    let record = &shared.busy;
    if !record.running() {
        return None;
    }
    if !record.timed_out() {
        record.wait_while_running(GATE_BOUND);
        if !record.timed_out() {
            return None;
        }
    }
    let reply = refuse(record, args, conn)?;
    // Redis's rejectCommand: an open transaction is flagged, a refused EXEC
    // discards it (the script takes the lock only per call now).
    let mut st = shared.lock();
    let mut ctx = Ctx { st: &mut st, conn, now: shared.clock.now_ms(), clock: &shared.clock };
    Some(crate::engine::multi::rejected(&mut ctx, args, reply))
}

/// Redis's `processCommand` while a script is timed out: errors that come
/// before the busy check (unknown command, arity, NOAUTH) are left to
/// dispatch; `allow-busy` commands run; the rest get BUSY.
fn refuse(record: &Busy, args: &[Bytes], conn: &ConnState) -> Option<Reply> {
    let spec = resolve(args)?;
    let a = spec.arity;
    if (a > 0 && args.len() as i32 != a) || (a < 0 && (args.len() as i32) < -a) {
        return None;
    }
    if !conn.authenticated && !spec.has_flag("no_auth") {
        return None;
    }
    if spec.has_flag("allow_busy") {
        return match spec.name {
            // Only SHUTDOWN NOSAVE can stop a server that is busy.
            "shutdown" if !args[1..].iter().any(|a| eq_ic(a, "nosave")) => Some(record.busy_error()),
            // FUNCTION STATS cannot describe a running EVAL.
            "function|stats" if record.is_eval() => Some(Reply::error(busy::BUSY_EVAL)),
            _ => None,
        };
    }
    Some(record.busy_error())
}

/// The command (or subcommand) `args` names.
fn resolve(args: &[Bytes]) -> Option<&'static CommandSpec> {
    let spec = lookup(args.first()?)?;
    match (spec.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => lookup_sub(spec, sub),
        _ => Some(spec),
    }
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: stops the fake server
/// (the fake has nothing to save). While a script is timed out only
/// SHUTDOWN NOSAVE gets here (see [`check`]).
pub(crate) const COMMANDS: &[CommandSpec] = &[cmd(
    "shutdown",
    -1,
    &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
    (0, 0, 0),
    &["admin", "slow", "dangerous"],
    shutdown,
)];

fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for a in &args[1..] {
        if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
            other = true;
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return Reply::error("ERR syntax error");
        }
    }
    if (nosave && save) || (abort && (nosave || save || other)) {
        return Reply::error("ERR syntax error");
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    let Some(shared) = ctx.st.busy.shared() else {
        return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
    };
    tracing::warn!("User requested shutdown...");
    // Every connection (this one too) closes, a running script is aborted
    // by its hook, and the handle's Drop finds the server already stopped.
    shared.sockets.stop();
    ctx.conn.effects.close = true;
    Reply::None
}
