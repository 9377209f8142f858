//! Server commands: DBSIZE, FLUSHDB, FLUSHALL.

use bytes::Bytes;

use super::util::{eq_ic, syntax_error};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("dbsize", 1, &["readonly", "fast"], (0, 0, 0), &["keyspace", "read", "fast"], dbsize),
    cmd("flushdb", -1, &["write"], (0, 0, 0), &["keyspace", "write", "slow", "dangerous"], flushdb),
    cmd("flushall", -1, &["write"], (0, 0, 0), &["keyspace", "write", "slow", "dangerous"], flushall),
];

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.st.dbs[ctx.db()].len() as i64)
}

/// FLUSHDB/FLUSHALL take an optional ASYNC or SYNC.
fn flush_mode_ok(args: &[Bytes]) -> bool {
    match args.len() {
        1 => true,
        2 => eq_ic(&args[1], "async") || eq_ic(&args[1], "sync"),
        _ => false,
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    let db = ctx.db();
    ctx.st.dbs[db].clear();
    ctx.st.signal_flushed(Some(db));
    Reply::ok()
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    for db in ctx.st.dbs.iter_mut() {
        db.clear();
    }
    ctx.st.signal_flushed(None);
    Reply::ok()
}
