//! List commands, blocking ones included (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP; the waiting itself lives in `server::blocking`).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::util::parse_timeout;
use super::util::{
    count_arg, drop_if_empty, eq_ic, int_arg, not_integer, parse_i64, parse_mpop, syntax_error, tri, wrongtype,
};
use super::{cmd, CommandSpec, Ctx};
use crate::engine::blocking::{block_on, candidate_keys};
use crate::protocol::Reply;
use crate::store::{keep, Entry, Value};

const PUSH_FLAGS: &[&str] = &["write", "denyoom", "fast"];
const PUSH_ACL: &[&str] = &["write", "list", "fast"];
const WRITE_SLOW: &[&str] = &["write", "list", "slow"];
const READ_SLOW: &[&str] = &["read", "list", "slow"];
const BLOCK_ACL: &[&str] = &["write", "list", "slow", "blocking"];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("lpush", -3, PUSH_FLAGS, (1, 1, 1), PUSH_ACL, lpush),
    cmd("rpush", -3, PUSH_FLAGS, (1, 1, 1), PUSH_ACL, rpush),
    cmd("lpushx", -3, PUSH_FLAGS, (1, 1, 1), PUSH_ACL, lpushx),
    cmd("rpushx", -3, PUSH_FLAGS, (1, 1, 1), PUSH_ACL, rpushx),
    cmd("lpop", -2, &["write", "fast"], (1, 1, 1), PUSH_ACL, lpop),
    cmd("rpop", -2, &["write", "fast"], (1, 1, 1), PUSH_ACL, rpop),
    cmd("llen", 2, &["readonly", "fast"], (1, 1, 1), &["read", "list", "fast"], llen),
    cmd("lrange", 4, &["readonly"], (1, 1, 1), READ_SLOW, lrange),
    cmd("lindex", 3, &["readonly"], (1, 1, 1), READ_SLOW, lindex),
    cmd("lset", 4, &["write", "denyoom"], (1, 1, 1), WRITE_SLOW, lset),
    cmd("linsert", 5, &["write", "denyoom"], (1, 1, 1), WRITE_SLOW, linsert),
    cmd("lrem", 4, &["write"], (1, 1, 1), WRITE_SLOW, lrem),
    cmd("ltrim", 4, &["write"], (1, 1, 1), WRITE_SLOW, ltrim),
    cmd("lpos", -3, &["readonly"], (1, 1, 1), READ_SLOW, lpos),
    cmd("lmove", 5, &["write", "denyoom"], (1, 2, 1), WRITE_SLOW, lmove),
    cmd("rpoplpush", 3, &["write", "denyoom"], (1, 2, 1), WRITE_SLOW, rpoplpush),
    cmd("lmpop", -4, &["write", "movablekeys"], (0, 0, 0), WRITE_SLOW, lmpop),
    cmd("blpop", -3, &["write", "noscript", "blocking"], (1, -2, 1), BLOCK_ACL, blpop),
    cmd("brpop", -3, &["write", "noscript", "blocking"], (1, -2, 1), BLOCK_ACL, brpop),
    cmd("brpoplpush", 4, &["write", "denyoom", "noscript", "blocking"], (1, 2, 1), BLOCK_ACL, brpoplpush),
    cmd("blmove", 6, &["write", "denyoom", "noscript", "blocking"], (1, 2, 1), BLOCK_ACL, blmove),
    cmd("blmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), BLOCK_ACL, blmpop),
];

/// A key's list for a write command: Ok(None) if missing, WRONGTYPE if not a list.
fn list_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut VecDeque<Bytes>>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::List(l), .. }) => Ok(Some(l)),
        Some(_) => Err(wrongtype()),
    }
}

/// Like [`list_mut`] for read commands (counts keyspace hits and misses).
fn list_read<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a VecDeque<Bytes>>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup_read(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::List(l), .. }) => Ok(Some(l)),
        Some(_) => Err(wrongtype()),
    }
}

fn pop_event(left: bool) -> &'static str {
    if left {
        "lpop"
    } else {
        "rpop"
    }
}

fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

/// LEFT or RIGHT (`true` for LEFT), else a syntax error.
fn direction(arg: &[u8]) -> Result<bool, Reply> {
    if eq_ic(arg, "left") {
        Ok(true)
    } else if eq_ic(arg, "right") {
        Ok(false)
    } else {
        Err(syntax_error())
    }
}

/// After elements left `key`: the pop event, deletion of an emptied list, WATCH.
fn popped(ctx: &mut Ctx<'_>, key: &Bytes, left: bool) {
    let db = ctx.db();
    ctx.st.notify(db, 'l', pop_event(left), key);
    drop_if_empty(ctx, key);
    ctx.st.signal_modified(db, key);
}

/// Pushes `items` at one end, creating the list unless `only_existing`;
/// returns the new length (0 if the key was missing and not created).
fn push_items(ctx: &mut Ctx<'_>, key: &Bytes, items: &[Bytes], left: bool, only_existing: bool) -> Result<i64, Reply> {
    let db = ctx.db();
    let len = match list_mut(ctx, key)? {
        Some(l) => {
            for it in items {
                if left {
                    l.push_front(keep(it))
                } else {
                    l.push_back(keep(it))
                }
            }
            l.len()
        }
        None if only_existing => return Ok(0),
        None => {
            let mut l = VecDeque::with_capacity(items.len());
            for it in items {
                if left {
                    l.push_front(keep(it))
                } else {
                    l.push_back(keep(it))
                }
            }
            let n = l.len();
            ctx.st.set_value(db, key, Value::List(l), ctx.now);
            n
        }
    };
    ctx.st.signal_modified(db, key);
    ctx.st.signal_ready(db, key);
    ctx.st.notify(db, 'l', push_event(left), key);
    Ok(len as i64)
}

fn push_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool, only_existing: bool) -> Reply {
    Reply::Int(tri!(push_items(ctx, &args[1], &args[2..], left, only_existing)))
}

fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_cmd(ctx, args, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_cmd(ctx, args, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_cmd(ctx, args, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_cmd(ctx, args, false, true)
}

/// Pops up to `count` elements from one end (RIGHT pops come tail first).
fn pop_n(l: &mut VecDeque<Bytes>, left: bool, count: u64) -> Vec<Reply> {
    let n = (l.len() as u64).min(count) as usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = if left { l.pop_front() } else { l.pop_back() };
        match v {
            Some(v) => out.push(Reply::Bulk(v)),
            None => break,
        }
    }
    out
}

fn pop_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> Reply {
    if args.len() > 3 {
        return super::util::wrong_arity(if left { "lpop" } else { "rpop" });
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => Some(tri!(count_arg(a, 0, "ERR value is out of range, must be positive"))),
    };
    let key = &args[1];
    let Some(l) = tri!(list_mut(ctx, key)) else {
        return if count.is_some() { Reply::NilArray } else { Reply::Nil };
    };
    let reply = match count {
        Some(0) => return Reply::Array(vec![]),
        Some(n) => Reply::Array(pop_n(l, left, n)),
        None => match pop_n(l, left, 1).pop() {
            Some(v) => v,
            None => Reply::Nil,
        },
    };
    popped(ctx, key, left);
    reply
}

fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop_cmd(ctx, args, true)
}

fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop_cmd(ctx, args, false)
}

fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(list_read(ctx, &args[1])).map_or(0, |l| l.len() as i64))
}

/// Resolves a negative index against `len`.
fn resolve(index: i64, len: usize) -> i64 {
    if index < 0 {
        index.saturating_add(len as i64)
    } else {
        index
    }
}

/// Redis's range clamping (LRANGE, LTRIM): the inclusive range, or None if empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let start = resolve(start, len).max(0);
    let end = resolve(end, len);
    if start > end || start >= len as i64 {
        return None;
    }
    let end = end.min(len as i64 - 1);
    Some((start as usize, end as usize))
}

fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let start = tri!(int_arg(&args[2]));
    let end = tri!(int_arg(&args[3]));
    let Some(l) = tri!(list_read(ctx, &args[1])) else { return Reply::Array(vec![]) };
    match clamp_range(start, end, l.len()) {
        Some((s, e)) => Reply::Array(l.range(s..=e).map(|v| Reply::Bulk(v.clone())).collect()),
        None => Reply::Array(vec![]),
    }
}

fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(l) = tri!(list_read(ctx, &args[1])) else { return Reply::Nil };
    let index = tri!(int_arg(&args[2]));
    let i = resolve(index, l.len());
    match usize::try_from(i).ok().and_then(|i| l.get(i)) {
        Some(v) => Reply::Bulk(v.clone()),
        None => Reply::Nil,
    }
}

fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let Some(l) = tri!(list_mut(ctx, key)) else { return Reply::error("ERR no such key") };
    let Some(index) = parse_i64(&args[2]) else { return not_integer() };
    let i = resolve(index, l.len());
    match usize::try_from(i).ok().and_then(|i| l.get_mut(i)) {
        Some(slot) => *slot = keep(&args[3]),
        None => return Reply::error("ERR index out of range"),
    }
    let db = ctx.db();
    ctx.st.signal_modified(db, key);
    ctx.st.notify(db, 'l', "lset", key);
    Reply::ok()
}

fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let after = if eq_ic(&args[2], "after") {
        true
    } else if eq_ic(&args[2], "before") {
        false
    } else {
        return syntax_error();
    };
    let key = &args[1];
    let Some(l) = tri!(list_mut(ctx, key)) else { return Reply::Int(0) };
    let Some(pos) = l.iter().position(|v| v == &args[3]) else { return Reply::Int(-1) };
    l.insert(if after { pos + 1 } else { pos }, keep(&args[4]));
    let len = l.len() as i64;
    let db = ctx.db();
    ctx.st.signal_modified(db, key);
    ctx.st.notify(db, 'l', "linsert", key);
    Reply::Int(len)
}

fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = tri!(int_arg(&args[2]));
    let key = &args[1];
    let Some(l) = tri!(list_mut(ctx, key)) else { return Reply::Int(0) };
    let limit = if count == 0 { u64::MAX } else { count.unsigned_abs() };
    let mut removed = 0u64;
    if count >= 0 {
        let mut i = 0;
        while i < l.len() && removed < limit {
            if l[i] == args[3] {
                l.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = l.len();
        while i > 0 && removed < limit {
            i -= 1;
            if l[i] == args[3] {
                l.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        let db = ctx.db();
        ctx.st.notify(db, 'l', "lrem", key);
        drop_if_empty(ctx, key);
        ctx.st.signal_modified(db, key);
    }
    Reply::Int(removed as i64)
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let start = tri!(int_arg(&args[2]));
    let end = tri!(int_arg(&args[3]));
    let key = &args[1];
    let Some(l) = tri!(list_mut(ctx, key)) else { return Reply::ok() };
    match clamp_range(start, end, l.len()) {
        Some((s, e)) => {
            l.truncate(e + 1);
            l.drain(..s);
        }
        None => l.clear(),
    }
    let db = ctx.db();
    ctx.st.notify(db, 'l', "ltrim", key);
    drop_if_empty(ctx, key);
    ctx.st.signal_modified(db, key);
    Reply::ok()
}

fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq_ic(&args[j], "rank") && more {
            j += 1;
            rank = tri!(int_arg(&args[j]));
            if rank == 0 {
                return Reply::error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
        } else if eq_ic(&args[j], "count") && more {
            j += 1;
            count = Some(tri!(count_arg(&args[j], 0, "ERR COUNT can't be negative")));
        } else if eq_ic(&args[j], "maxlen") && more {
            j += 1;
            maxlen = tri!(count_arg(&args[j], 0, "ERR MAXLEN can't be negative"));
        } else {
            return syntax_error();
        }
        j += 1;
    }
    let Some(l) = tri!(list_read(ctx, &args[1])) else {
        return if count.is_some() { Reply::Array(vec![]) } else { Reply::Nil };
    };
    let from_tail = rank < 0;
    // Redis negates a negative rank in a C long: LONG_MIN stays negative, so every match counts.
    let skip = match rank.checked_abs() {
        Some(r) => r.unsigned_abs() - 1,
        None => 0,
    };
    let len = l.len();
    let limit = if maxlen == 0 { len } else { len.min(maxlen.min(usize::MAX as u64) as usize) };
    let want = match count {
        Some(0) => u64::MAX,
        Some(c) => c,
        None => 1,
    };
    let mut matches = 0u64;
    let mut found = Vec::new();
    for step in 0..limit {
        let idx = if from_tail { len - 1 - step } else { step };
        if l[idx] == args[2] {
            matches += 1;
            if matches > skip {
                found.push(Reply::Int(idx as i64));
                if found.len() as u64 >= want {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    }
}

/// LMOVE's work once the directions are parsed (LMOVE, RPOPLPUSH, and the
/// blocking forms when the source has elements).
fn lmove_generic(ctx: &mut Ctx<'_>, src: &Bytes, dst: &Bytes, from_left: bool, to_left: bool) -> Reply {
    let db = ctx.db();
    match tri!(list_mut(ctx, src)) {
        Some(l) if !l.is_empty() => {}
        _ => return Reply::Nil,
    }
    if src != dst && matches!(ctx.st.lookup(db, dst, ctx.now), Some(e) if !matches!(e.value, Value::List(_))) {
        return wrongtype();
    }
    let Ok(Some(l)) = list_mut(ctx, src) else { return Reply::Nil };
    let Some(value) = (if from_left { l.pop_front() } else { l.pop_back() }) else { return Reply::Nil };
    if src == dst {
        if to_left {
            l.push_front(value.clone());
        } else {
            l.push_back(value.clone());
        }
        ctx.st.signal_modified(db, dst);
        ctx.st.notify(db, 'l', push_event(to_left), dst);
    } else if let Err(e) = push_items(ctx, dst, std::slice::from_ref(&value), to_left, false) {
        return e;
    }
    popped(ctx, src, from_left);
    Reply::Bulk(value)
}

fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let from = tri!(direction(&args[3]));
    let to = tri!(direction(&args[4]));
    lmove_generic(ctx, &args[1], &args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    lmove_generic(ctx, &args[1], &args[2], false, true)
}

/// Outcome of looking for elements among keys.
enum Found {
    Reply(Reply),
    /// No key had elements.
    Nothing,
}

/// Pops up to `count` elements from the first non-empty list among `keys`,
/// as `[key, [elements]]` (or `[key, element]` when `single`). When
/// serving a blocked client, a key of another type is skipped rather than an
/// error, as in Redis 7.0.
fn pop_first(ctx: &mut Ctx<'_>, keys: &[Bytes], left: bool, count: u64, single: bool) -> Found {
    let serving = ctx.conn.serving_key.is_some();
    for key in candidate_keys(ctx.conn, keys) {
        let l = match list_mut(ctx, &key) {
            Ok(Some(l)) if !l.is_empty() => l,
            Ok(_) => continue,
            Err(_) if serving => return Found::Nothing,
            Err(e) => return Found::Reply(e),
        };
        let mut items = pop_n(l, left, count);
        popped(ctx, &key, left);
        let value = if single { items.pop().unwrap_or(Reply::Nil) } else { Reply::Array(items) };
        return Found::Reply(Reply::Array(vec![Reply::Bulk(key), value]));
    }
    Found::Nothing
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let m = tri!(parse_mpop(args, 1, ["left", "right"]));
    match pop_first(ctx, &args[m.keys], m.first_end, m.count, false) {
        Found::Reply(r) => r,
        Found::Nothing => Reply::NilArray,
    }
}

fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let m = tri!(parse_mpop(args, 2, ["left", "right"]));
    let timeout = tri!(parse_timeout(&args[1]));
    bpop_generic(ctx, &args[m.keys], m.first_end, m.count, false, timeout)
}

fn bpop_generic(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    left: bool,
    count: u64,
    single: bool,
    timeout: Option<Duration>,
) -> Reply {
    match pop_first(ctx, keys, left, count, single) {
        Found::Reply(r) => r,
        Found::Nothing => block_on(ctx, keys.to_vec(), timeout, Reply::NilArray, Reply::NilArray),
    }
}

fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> Reply {
    let timeout = tri!(parse_timeout(&args[args.len() - 1]));
    bpop_generic(ctx, &args[1..args.len() - 1], left, 1, true, timeout)
}

fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bpop(ctx, args, true)
}

fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bpop(ctx, args, false)
}

fn blmove_generic(ctx: &mut Ctx<'_>, args: &[Bytes], from_left: bool, to_left: bool, timeout_idx: usize) -> Reply {
    let timeout = tri!(parse_timeout(&args[timeout_idx]));
    let (src, dst) = (&args[1], &args[2]);
    let serving = ctx.conn.serving_key.is_some();
    let has_elements = match list_mut(ctx, src) {
        Ok(l) => l.is_some_and(|l| !l.is_empty()),
        // Serving a blocked client from a key that changed type: it stays blocked (Redis 7.0).
        Err(_) if serving => false,
        Err(e) => return e,
    };
    if has_elements {
        lmove_generic(ctx, src, dst, from_left, to_left)
    } else {
        block_on(ctx, vec![src.clone()], timeout, Reply::NilArray, Reply::Nil)
    }
}

fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let from = tri!(direction(&args[3]));
    let to = tri!(direction(&args[4]));
    blmove_generic(ctx, args, from, to, 5)
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    blmove_generic(ctx, args, false, true, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;
    use crate::engine::state::State;

    fn call(st: &mut State, conn: &mut super::super::ConnState, args: &[&str]) -> Reply {
        let clock = Clock::real();
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        super::super::dispatch(&mut Ctx { st, conn, now: clock.now_ms(), clock: &clock }, &args)
    }

    #[test]
    fn inside_exec_blocking_commands_reply_at_once() {
        let mut st =
            State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table());
        let mut conn = super::super::ConnState::new(1, true);
        conn.in_exec = true;
        assert_eq!(call(&mut st, &mut conn, &["BLPOP", "q", "0"]), Reply::NilArray);
        assert_eq!(call(&mut st, &mut conn, &["BRPOP", "q", "r", "0"]), Reply::NilArray);
        assert_eq!(call(&mut st, &mut conn, &["BLMPOP", "0", "1", "q", "LEFT"]), Reply::NilArray);
        assert_eq!(call(&mut st, &mut conn, &["BLMOVE", "q", "d", "LEFT", "RIGHT", "0"]), Reply::Nil);
        assert_eq!(call(&mut st, &mut conn, &["BRPOPLPUSH", "q", "d", "0"]), Reply::Nil);
        assert!(conn.effects.block.is_none());
        // Argument errors still come first.
        assert_eq!(call(&mut st, &mut conn, &["BLPOP", "q", "-1"]), Reply::error("ERR timeout is negative"));
        call(&mut st, &mut conn, &["RPUSH", "q", "v"]);
        assert_eq!(
            call(&mut st, &mut conn, &["BLPOP", "q", "0"]),
            Reply::Array(vec![Reply::bulk("q"), Reply::bulk("v")])
        );
    }

    #[test]
    fn outside_exec_an_empty_blpop_asks_to_block() {
        let mut st =
            State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table());
        let mut conn = super::super::ConnState::new(1, true);
        assert_eq!(call(&mut st, &mut conn, &["SELECT", "3"]), Reply::ok());
        assert_eq!(call(&mut st, &mut conn, &["BLPOP", "a", "b", "1.5"]), Reply::None);
        let spec = conn.effects.block.take().expect("blocks");
        assert_eq!(spec.db, 3);
        assert_eq!(spec.keys, vec![Bytes::from("a"), Bytes::from("b")]);
        assert_eq!(spec.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(spec.on_timeout, Reply::NilArray);
    }

    #[test]
    fn serving_takes_only_the_ready_key_and_skips_other_types() {
        let mut st =
            State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table());
        let mut setup = super::super::ConnState::new(1, true);
        call(&mut st, &mut setup, &["RPUSH", "a", "1"]);
        call(&mut st, &mut setup, &["RPUSH", "b", "2"]);
        call(&mut st, &mut setup, &["SET", "s", "x"]);
        let mut conn = super::super::ConnState::new(2, true);
        conn.serving_key = Some(Bytes::from("b"));
        assert_eq!(
            call(&mut st, &mut conn, &["BLPOP", "a", "b", "0"]),
            Reply::Array(vec![Reply::bulk("b"), Reply::bulk("2")])
        );
        // A ready key of another type leaves the client blocked instead of erroring.
        conn.serving_key = Some(Bytes::from("s"));
        assert_eq!(call(&mut st, &mut conn, &["BLPOP", "s", "0"]), Reply::None);
        assert!(conn.effects.block.take().is_some());
        assert_eq!(call(&mut st, &mut conn, &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"]), Reply::None);
        assert!(conn.effects.block.take().is_some());
        // Outside a serve, the same command reports the type error.
        conn.serving_key = None;
        assert_eq!(call(&mut st, &mut conn, &["BLPOP", "s", "0"]), super::wrongtype());
    }
}
