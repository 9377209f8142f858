//! ZPOPMIN/ZPOPMAX, ZMPOP, their blocking forms (BZPOPMIN, BZPOPMAX,
//! BZMPOP) and ZRANDMEMBER.

use bytes::Bytes;

use crate::cmd::random::{self, check_paired_count, parse_count, Picks};
use crate::cmd::util::{eq_ic, parse_mpop, range_long, syntax_error, tri};
use crate::cmd::Ctx;
use crate::engine::blocking;
use crate::protocol::Reply;
use crate::store::{Entry, Value};

use super::{after_write, cloned, members_reply, read_zset, write_zset};

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// Reply shape of a pop (Redis's `emitkey` / `use_nested_array` switches).
#[derive(Debug, Clone, Copy)]
struct PopShape {
    /// Put the key name in front (BZPOP*, ZMPOP, BZMPOP).
    emitkey: bool,
    /// Each member as a `[member, score]` pair.
    nested: bool,
}

/// Redis's `genericZpopCommand`: pops from the first existing key among
/// `keys`; `count` -1 is a plain single pop.
fn pop_generic(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    max: bool,
    count: i64,
    shape: PopShape,
    nil_when_empty: bool,
) -> Reply {
    let mut found = None;
    for key in keys {
        if tri!(write_zset(ctx, key)).is_some() {
            found = Some(key);
            break;
        }
    }
    let Some(key) = found else {
        return if nil_when_empty { Reply::NilArray } else { Reply::Array(Vec::new()) };
    };
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    let count = if count == -1 { 1 } else { count as usize };
    let Some(z) = tri!(write_zset(ctx, key)) else { return Reply::Array(Vec::new()) };
    let mut popped = Vec::new();
    while popped.len() < count {
        match z.pop(max) {
            Some(p) => popped.push(p),
            None => break,
        }
    }
    after_write(ctx, key, if max { "zpopmax" } else { "zpopmin" });
    let mut elems: Vec<Reply> = Vec::with_capacity(popped.len() * 2 + 1);
    for (m, s) in popped {
        if shape.nested {
            elems.push(Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]));
        } else {
            elems.push(Reply::Bulk(m));
            elems.push(Reply::Double(s));
        }
    }
    match (shape.emitkey, shape.nested) {
        (false, _) => Reply::Array(elems),
        (true, false) => {
            elems.insert(0, Reply::Bulk(key.clone()));
            Reply::Array(elems)
        }
        (true, true) => Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Array(elems)]),
    }
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    zpop_command(ctx, args, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    zpop_command(ctx, args, true)
}

fn zpop_command(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Reply {
    if args.len() > 3 {
        return syntax_error();
    }
    let mut count = -1;
    if args.len() == 3 {
        count = tri!(range_long(&args[2], 0, i64::MAX, "ERR value is out of range, must be positive"));
    }
    let shape = PopShape { emitkey: false, nested: ctx.resp() > 2 && count != -1 };
    pop_generic(ctx, &args[1..2], max, count, shape, false)
}

pub(super) fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let p = tri!(parse_mpop(args, 1, ["min", "max"]));
    pop_generic(ctx, &args[p.keys], !p.first_end, p.count as i64, PopShape { emitkey: true, nested: true }, true)
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let keys = &args[1..args.len() - 1];
    blocking_pop(ctx, keys, false, &args[args.len() - 1], -1, PopShape { emitkey: true, nested: false })
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let keys = &args[1..args.len() - 1];
    blocking_pop(ctx, keys, true, &args[args.len() - 1], -1, PopShape { emitkey: true, nested: false })
}

pub(super) fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let p = tri!(parse_mpop(args, 2, ["min", "max"]));
    blocking_pop(ctx, &args[p.keys], !p.first_end, &args[1], p.count as i64, PopShape { emitkey: true, nested: true })
}

/// Redis's `blockingGenericZpopCommand`: pops at once from the first
/// non-empty key, otherwise blocks (or, inside EXEC, replies a null array).
/// Re-run for a key that became ready, it considers only that key, and
/// stays blocked if the key now holds another type (as Redis 7.0 does).
fn blocking_pop(ctx: &mut Ctx<'_>, keys: &[Bytes], max: bool, timeout: &[u8], count: i64, shape: PopShape) -> Reply {
    let timeout = tri!(crate::cmd::util::parse_timeout(timeout));
    let serving = ctx.conn.serving_key.is_some();
    for key in blocking::candidate_keys(ctx.conn, keys) {
        match write_zset(ctx, &key) {
            Ok(Some(z)) if !z.is_empty() => {
                return pop_generic(ctx, std::slice::from_ref(&key), max, count, shape, true)
            }
            Ok(_) => {}
            Err(e) if !serving => return e,
            Err(_) => {}
        }
    }
    blocking::block_on(ctx, keys.to_vec(), timeout, Reply::NilArray, Reply::NilArray)
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN
// ---------------------------------------------------------------------------

pub(super) fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let resp = ctx.resp();
    if args.len() < 3 {
        let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Nil };
        let n = z.len();
        let i = ctx.st.rng.usize(0..n);
        let Some(Entry { value: Value::ZSet(z), .. }) = ctx.st.peek(ctx.db(), &args[1]) else {
            return Reply::Nil;
        };
        return z.iter().nth(i).map_or(Reply::Nil, |(m, _)| Reply::Bulk(m.clone()));
    }
    let l = tri!(parse_count(&args[2]));
    let mut withscores = false;
    if args.len() > 4 || (args.len() == 4 && !eq_ic(&args[3], "withscores")) {
        return syntax_error();
    } else if args.len() == 4 {
        withscores = true;
        tri!(check_paired_count(l));
    }
    let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Array(Vec::new()) };
    if l == 0 {
        return Reply::Array(Vec::new());
    }
    let all: Vec<(Bytes, f64)> = cloned(z.iter());
    let rng = &mut ctx.st.rng;
    let picked: Vec<(Bytes, f64)> = match tri!(random::plan(rng, all.len(), l)) {
        Picks::Repeated(picks) => picks.into_iter().map(|i| all[i].clone()).collect(),
        // The whole set, in the order Redis's set-operation iterator walks
        // it: from the highest score down.
        Picks::All => all.into_iter().rev().collect(),
        Picks::Distinct(k) => random::distinct(rng, all.len(), k).into_iter().map(|i| all[i].clone()).collect(),
    };
    members_reply(resp, picked, withscores)
}
