//! The transaction state of a client between MULTI and EXEC/DISCARD: what
//! the engine queues instead of running, and how a rejected command aborts
//! the transaction. The MULTI/EXEC/DISCARD/WATCH handlers are in
//! the command layer's `transactions` module.

use bytes::Bytes;

use super::command::{CommandSpec, Ctx};
use crate::protocol::Reply;

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
    if !args[0].eq_ignore_ascii_case(b"exec") {
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
        return super::exec::run_checked(ctx, spec, args);
    };
    m.queued.push((spec, args.to_vec()));
    let n = m.queued.len() as i64;
    set_multi_count(ctx, n);
    Reply::status("QUEUED")
}

/// CLIENT LIST's `multi=` field: queued commands, -1 outside MULTI.
pub(crate) fn set_multi_count(ctx: &mut Ctx<'_>, n: i64) {
    if let Some(c) = ctx.st.client_mut(ctx.conn.id) {
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
