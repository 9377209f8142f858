//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing itself happens in `dispatch` (every command but the few below
//! replies `+QUEUED` inside MULTI); a command rejected while queueing
//! (unknown, wrong arity, ...) marks the transaction aborted.

use bytes::Bytes;

use super::util::eq_ic;
use super::{cmd, execute, CommandSpec, Ctx};
use crate::protocol::Reply;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "multi",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["fast", "transaction"],
        multi,
    ),
    cmd("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), &["slow", "transaction"], exec),
    cmd(
        "discard",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["fast", "transaction"],
        discard,
    ),
    cmd(
        "watch",
        -2,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (1, -1, 1),
        &["fast", "transaction"],
        watch,
    ),
    cmd(
        "unwatch",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["fast", "transaction"],
        unwatch,
    ),
];

/// An open transaction.
#[derive(Debug, Default)]
pub(crate) struct Multi {
    /// Commands queued so far, already checked.
    pub queued: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A command was rejected while queueing: EXEC replies EXECABORT.
    pub aborted: bool,
}

/// Commands that run at once even inside MULTI (Redis never queues them).
pub(crate) fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// A command failed the checks before execution: Redis flags the open
/// transaction (EXEC will abort), and a rejected EXEC itself also discards
/// the transaction, quoting the reason.
pub(crate) fn rejected(ctx: &mut Ctx<'_>, args: &[Bytes], err: Reply) -> Reply {
    if let Some(m) = ctx.conn.multi.as_mut() {
        m.aborted = true;
    }
    if !eq_ic(&args[0], "exec") {
        return err;
    }
    reset(ctx);
    let Reply::Error(text) = err else { return err };
    // Reasons Redis formats itself carry no code; shared errors keep theirs.
    let reason = text.strip_prefix(b"ERR ").unwrap_or(&text);
    Reply::error(format!("EXECABORT Transaction discarded because of: {}", String::from_utf8_lossy(reason)))
}

/// Queues a checked command inside MULTI.
pub(crate) fn queue(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let Some(m) = ctx.conn.multi.as_mut() else {
        return execute(ctx, spec, args);
    };
    m.queued.push((spec, args.to_vec()));
    let n = m.queued.len() as i64;
    set_multi_count(ctx, n);
    Reply::status("QUEUED")
}

/// CLIENT LIST's `multi=` field: queued commands, -1 outside MULTI.
fn set_multi_count(ctx: &mut Ctx<'_>, n: i64) {
    if let Some(c) = ctx.st.clients.get_mut(&ctx.conn.id) {
        c.multi = n;
    }
}

/// Leaves MULTI (if in it) and unwatches every key: what DISCARD does, and
/// what RESET must do for the transaction part of the connection state.
pub(crate) fn reset(ctx: &mut Ctx<'_>) {
    ctx.conn.multi = None;
    set_multi_count(ctx, -1);
    ctx.st.unwatch_all(ctx.conn.id);
}

fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    ctx.conn.multi = Some(Multi::default());
    set_multi_count(ctx, 0);
    Reply::ok()
}

fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    reset(ctx);
    Reply::ok()
}

fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let Some(m) = ctx.conn.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    set_multi_count(ctx, -1);
    let id = ctx.conn.id;
    if m.aborted {
        ctx.st.unwatch_all(id);
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let failed = ctx.st.watch_failed(id, ctx.now);
    ctx.st.unwatch_all(id);
    if failed {
        return Reply::NilArray;
    }
    ctx.conn.in_exec = true;
    let mut replies = Vec::with_capacity(m.queued.len());
    for (spec, args) in &m.queued {
        let reply = execute(ctx, spec, args);
        // Pushes for this very client (a PUBLISH to itself, a keyspace
        // notification) land inside the EXEC array, before the reply of the
        // command that caused them, as Redis 7.0 writes them; they do not
        // count as elements.
        let mut pushes = Vec::new();
        if let Some(rx) = ctx.conn.pushes.as_mut() {
            while let Some(p) = rx.try_recv() {
                pushes.push(p);
            }
        }
        if pushes.is_empty() {
            replies.push(reply);
        } else {
            pushes.push(reply);
            replies.push(Reply::Multi(pushes));
        }
    }
    ctx.conn.in_exec = false;
    Reply::Array(replies)
}

fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let (id, db) = (ctx.conn.id, ctx.db());
    // Once a watched key was touched EXEC fails anyway; more keys change nothing.
    if !ctx.st.dirty_clients.contains(&id) {
        for key in &args[1..] {
            ctx.st.watch(id, db, key, ctx.now);
        }
    }
    Reply::ok()
}

fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.st.unwatch_all(ctx.conn.id);
    Reply::ok()
}
