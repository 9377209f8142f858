//! Generic key commands: DEL, EXISTS.

use bytes::Bytes;

use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, &["write"], (1, -1, 1), &["keyspace", "write", "slow"], del),
    cmd("exists", -2, &["readonly", "fast"], (1, -1, 1), &["keyspace", "read", "fast"], exists),
];

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let mut n = 0;
    for k in &args[1..] {
        if ctx.st.delete(db, k, ctx.now) {
            ctx.st.notify(db, 'g', "del", k.clone());
            n += 1;
        }
    }
    Reply::Int(n)
}

fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let n = args[1..].iter().filter(|k| ctx.st.exists(db, k, ctx.now)).count();
    Reply::Int(n as i64)
}
