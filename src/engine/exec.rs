//! The one execute path. A front end (a connection, [`crate::FakeRedis::run`],
//! a unit test) hands [`execute`] a client's state and a command and gets
//! back what happens: the reply, and whether the client must now wait (a
//! blocking command), sleep (DEBUG SLEEP) or close (QUIT, RESET of a
//! protocol error). Below it:
//!
//! - [`dispatch`] makes Redis's checks in Redis's order (unknown command,
//!   arity, authentication, ACL, maxmemory, pub/sub context), queues inside
//!   MULTI, counts errors and applies CLIENT REPLY; Lua's `redis.call` enters
//!   here, after its own checks;
//! - [`run_checked`] calls the handler and publishes the keyspace events it
//!   raised; EXEC's queued commands and the re-run of a blocked client come
//!   here too.

use std::time::Duration;

use bytes::Bytes;

use super::blocking::{self, Waiter};
use super::clock::Clock;
use super::command::{filter_reply, lookup_sub, CommandSpec, ConnState, Ctx};
use super::errors::{unknown_command, unknown_subcommand, wrong_arity};
use super::multi;
use super::state::State;
use crate::protocol::Reply;

/// What running one command asks of the front end that sent it.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The reply to send now (`Reply::None`: nothing, as under CLIENT REPLY
    /// OFF, or while the client waits).
    pub reply: Reply,
    /// The client is blocked: its reply comes through this waiter (served,
    /// timed out, unblocked). Only for a client that can wait
    /// ([`ConnState::can_wait`]); one that cannot gets the timeout reply.
    pub waiter: Option<Waiter>,
    /// Wait this long before sending the reply (DEBUG SLEEP).
    pub sleep: Option<Duration>,
    /// Close the connection after the reply.
    pub close: bool,
    /// Pushes the command caused for this very client (a PUBLISH to itself,
    /// keyspace events in RESP3), which go out before its reply, as Redis
    /// writes them while the command runs. Pushes raised by the clients it
    /// unblocked stay queued: they follow the reply.
    pub pushes: Vec<Reply>,
}

/// Runs one command for `conn` at `now` (unix ms on `clock`): checks,
/// queueing or execution, keyspace events, the client's blocking
/// registration, and the serving of clients blocked on keys the command
/// made ready — all under the caller's one lock of the state, so nothing
/// else runs in between.
pub(crate) fn execute(st: &mut State, conn: &mut ConnState, clock: &Clock, now: u64, args: &[Bytes]) -> Outcome {
    let mut reply = dispatch(&mut Ctx { st, conn, now, clock }, args);
    let mut pushes = Vec::new();
    if let Some(rx) = conn.pushes.as_mut() {
        while let Some(p) = rx.try_recv() {
            pushes.push(p);
        }
    }
    let mut waiter = None;
    if let Some(block) = conn.effects.block.take() {
        if matches!(reply, Reply::None) {
            if conn.can_wait {
                // Registered under the command's own lock: no push can slip in between.
                match blocking::block(st, conn, args, block) {
                    Ok(w) => waiter = Some(w),
                    Err(r) => reply = r,
                }
            } else {
                reply = block.on_timeout;
            }
        }
    }
    blocking::serve_ready(st, clock);
    // `block` was taken above: the rest of the effects are two plain fields.
    let (sleep, close) = (conn.effects.sleep.take(), std::mem::take(&mut conn.effects.close));
    Outcome { reply, waiter, sleep, close, pushes }
}

/// Runs one command with Redis's pre-execution checks; CLIENT REPLY OFF/SKIP
/// then decide whether its reply (errors included) is sent.
pub(crate) fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let reply = dispatch_checked(ctx, args);
    if let Reply::Error(e) = &reply {
        ctx.st.count_error(e);
    }
    filter_reply(ctx.conn, reply)
}

fn dispatch_checked(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let st = &mut *ctx.st;
    st.stats.commands_processed += 1;
    st.recorded.record(ctx.conn.id, args);
    let spec = match check(ctx, args) {
        Ok(spec) => spec,
        Err(e) => return multi::rejected(ctx, args, e),
    };
    if ctx.conn.multi.is_some() && !multi::runs_inside_multi(spec) {
        return multi::queue(ctx, spec, args);
    }
    run_checked(ctx, spec, args)
}

/// The checks Redis makes before running (or queueing) a command.
fn check(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
    // HARNESS (when --admin is on) is checked like any command: NOAUTH, ACL, MULTI.
    let Some(spec) = ctx.st.commands().lookup(&args[0]).or_else(|| ctx.st.admin_command(&args[0])) else {
        note_unsupported(ctx.st, &args[..1]);
        return Err(unknown_command(args));
    };
    let spec = if spec.subcommands.is_empty() || args.len() < 2 {
        spec
    } else {
        match lookup_sub(spec, &args[1]) {
            Some(sub) => sub,
            None => {
                note_unsupported(ctx.st, &args[..2]);
                return Err(unknown_subcommand(spec.name, &args[1]));
            }
        }
    };
    // Redis sets the client's last command (CLIENT INFO's `cmd=`) as soon as
    // it finds it, so the ACL LOG's client info names the refused command.
    if let Some(info) = ctx.st.client_mut(ctx.conn.id) {
        info.last_cmd = spec.name;
    }
    if !spec.arity_ok(args.len()) {
        return Err(wrong_arity(spec.name));
    }
    if !ctx.conn.authenticated && !spec.has_flag("no_auth") {
        return Err(Reply::error("NOAUTH Authentication required."));
    }
    super::acl::check_permissions(ctx, spec, args)?;
    // One comparison when no maxmemory is set: the common case stays free.
    if ctx.st.config().mm.limit != 0 && !ctx.conn.in_script {
        check_memory(ctx, spec)?;
    }
    super::pubsub::check_context(ctx, spec)?;
    if ctx.conn.multi.is_some() && spec.has_flag("no_multi") {
        return Err(Reply::error("ERR Command not allowed inside a transaction"));
    }
    Ok(spec)
}

/// Redis's maxmemory step of `processCommand`, between the ACL check and
/// the pub/sub context check: evict per `maxmemory-policy` (before every
/// command, reads included), then, if memory is still over the limit,
/// refuse a `denyoom` command, an EXEC whose queue holds one, or (queueing
/// may use unlimited memory) any command inside MULTI but EXEC, DISCARD,
/// QUIT and RESET. A refusal inside MULTI flags the transaction, so EXEC
/// answers EXECABORT; commands EXEC runs are not checked again, and neither
/// are blocked commands re-run when their key is ready.
fn check_memory(ctx: &mut Ctx<'_>, spec: &'static CommandSpec) -> Result<(), Reply> {
    let evicted = ctx.st.stats.evicted_keys;
    let oom = ctx.st.perform_evictions(ctx.now);
    if ctx.st.stats.evicted_keys != evicted {
        // Redis publishes each `evicted` event as it evicts, before the command runs.
        ctx.st.deliver_events();
    }
    if !oom {
        return Ok(());
    }
    let reject = match &ctx.conn.multi {
        _ if spec.has_flag("denyoom") => true,
        Some(m) if spec.name == "exec" => m.queued.iter().any(|(s, _)| s.has_flag("denyoom")),
        Some(_) => !matches!(spec.name, "discard" | "quit" | "reset"),
        None => false,
    };
    if reject {
        return Err(Reply::error(super::evict::OOM_ERROR));
    }
    Ok(())
}

/// Most distinct names `State::unsupported` keeps (a fuzzer sends endless ones).
const UNSUPPORTED_LIMIT: usize = 1000;

/// Counts a command (`[name]`) or subcommand (`[container, sub]`) the fake
/// answered as unknown, and logs the first time each name is seen: the
/// reply stays Redis's own error, the log says whether it is a Redis 7.0
/// command the fake lacks or one Redis would refuse too.
#[cold]
fn note_unsupported(st: &mut State, words: &[Bytes]) {
    let name: Vec<String> =
        words.iter().map(|w| String::from_utf8_lossy(&w[..w.len().min(64)]).to_ascii_uppercase()).collect();
    let name = name.join(" ");
    if let Some(n) = st.unsupported.get_mut(&name) {
        *n += 1;
        return;
    }
    if st.unsupported.len() >= UNSUPPORTED_LIMIT {
        return;
    }
    st.unsupported.insert(name.clone(), 1);
    let known = match words {
        [cmd] => crate::catalog::is_redis_command(&String::from_utf8_lossy(cmd)),
        [cmd, sub] => crate::catalog::is_redis_command(&format!(
            "{}|{}",
            String::from_utf8_lossy(cmd),
            String::from_utf8_lossy(sub)
        )),
        _ => false,
    };
    if known {
        tracing::warn!(command = %name, "redis-harness: the fake does not implement {name} (a Redis 7.0 command); it answered with Redis's unknown-command error");
    } else {
        tracing::info!(command = %name, "redis-harness: {name} is not a Redis 7.0 command; answered with Redis's unknown-command error, as Redis does");
    }
}

/// Runs a checked command and publishes the keyspace events it caused: the
/// one place a handler is called (dispatch, EXEC's queued commands and the
/// re-run of a blocked command all come here). A command that asks to block
/// is tagged with its spec, so that the blocking registry can re-run it
/// without looking commands up.
pub(crate) fn run_checked(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let reply = (spec.handler)(ctx, args);
    if let Some(block) = ctx.conn.effects.block.as_mut() {
        block.command.get_or_insert(spec);
    }
    ctx.st.deliver_events();
    reply
}
