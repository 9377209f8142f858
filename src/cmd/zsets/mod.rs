//! Sorted-set commands, as Redis 7.0's `t_zset.c` behaves: argument checks
//! in Redis's order, Redis's error texts, RESP2/RESP3 reply shapes (RESP3
//! WITHSCORES replies are arrays of `[member, score]` pairs), and the
//! number parsing quirks of `strtod` that clients can observe.
//!
//! Here: the command table, key access and reply helpers, ZADD/ZINCRBY/ZREM,
//! the single-key reads and ZSCAN; ranges in `range`, pops and ZRANDMEMBER
//! in `pop`, ZUNION/ZINTER/ZDIFF in `setops`.

use bytes::Bytes;

use super::scan::parse_cursor;
use super::scan::{parse_scan_opts, scan_batch, scan_reply};
use super::util::{self, eq_ic, not_float, syntax_error, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::num::string2d;
use crate::protocol::reply::format_double;
use crate::protocol::Reply;
use crate::store::{keep, Entry, Value, ZSet};

mod pop;
mod range;
mod setops;

use pop::{bzmpop, bzpopmax, bzpopmin, zmpop, zpopmax, zpopmin, zrandmember};
use range::{
    zcount, zlexcount, zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex, zremrangebyrank,
    zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
use setops::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};

const W: &[&str] = &["write", "sortedset", "fast"];
const WS: &[&str] = &["write", "sortedset", "slow"];
const R: &[&str] = &["read", "sortedset", "fast"];
const RS: &[&str] = &["read", "sortedset", "slow"];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("zadd", -4, &["write", "denyoom", "fast"], (1, 1, 1), W, zadd),
    cmd("zincrby", 4, &["write", "denyoom", "fast"], (1, 1, 1), W, zincrby),
    cmd("zrem", -3, &["write", "fast"], (1, 1, 1), W, zrem),
    cmd("zcard", 2, &["readonly", "fast"], (1, 1, 1), R, zcard),
    cmd("zscore", 3, &["readonly", "fast"], (1, 1, 1), R, zscore),
    cmd("zmscore", -3, &["readonly", "fast"], (1, 1, 1), R, zmscore),
    cmd("zrank", 3, &["readonly", "fast"], (1, 1, 1), R, zrank),
    cmd("zrevrank", 3, &["readonly", "fast"], (1, 1, 1), R, zrevrank),
    cmd("zcount", 4, &["readonly", "fast"], (1, 1, 1), R, zcount),
    cmd("zlexcount", 4, &["readonly", "fast"], (1, 1, 1), R, zlexcount),
    cmd("zrange", -4, &["readonly"], (1, 1, 1), RS, zrange),
    cmd("zrangebyscore", -4, &["readonly"], (1, 1, 1), RS, zrangebyscore),
    cmd("zrevrangebyscore", -4, &["readonly"], (1, 1, 1), RS, zrevrangebyscore),
    cmd("zrangebylex", -4, &["readonly"], (1, 1, 1), RS, zrangebylex),
    cmd("zrevrangebylex", -4, &["readonly"], (1, 1, 1), RS, zrevrangebylex),
    cmd("zrevrange", -4, &["readonly"], (1, 1, 1), RS, zrevrange),
    cmd("zrangestore", -5, &["write", "denyoom"], (1, 2, 1), WS, zrangestore),
    cmd("zpopmin", -2, &["write", "fast"], (1, 1, 1), W, zpopmin),
    cmd("zpopmax", -2, &["write", "fast"], (1, 1, 1), W, zpopmax),
    cmd("zmpop", -4, &["write", "movablekeys"], (0, 0, 0), WS, zmpop),
    cmd(
        "bzpopmin",
        -3,
        &["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        &["write", "sortedset", "fast", "blocking"],
        bzpopmin,
    ),
    cmd(
        "bzpopmax",
        -3,
        &["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        &["write", "sortedset", "fast", "blocking"],
        bzpopmax,
    ),
    cmd(
        "bzmpop",
        -5,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        &["write", "sortedset", "slow", "blocking"],
        bzmpop,
    ),
    cmd("zremrangebyrank", 4, &["write"], (1, 1, 1), WS, zremrangebyrank),
    cmd("zremrangebyscore", 4, &["write"], (1, 1, 1), WS, zremrangebyscore),
    cmd("zremrangebylex", 4, &["write"], (1, 1, 1), WS, zremrangebylex),
    cmd("zunion", -3, &["readonly", "movablekeys"], (0, 0, 0), RS, zunion),
    cmd("zinter", -3, &["readonly", "movablekeys"], (0, 0, 0), RS, zinter),
    cmd("zdiff", -3, &["readonly", "movablekeys"], (0, 0, 0), RS, zdiff),
    cmd("zunionstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), WS, zunionstore),
    cmd("zinterstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), WS, zinterstore),
    cmd("zdiffstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), WS, zdiffstore),
    cmd("zintercard", -3, &["readonly", "movablekeys"], (0, 0, 0), RS, zintercard),
    cmd("zrandmember", -2, &["readonly"], (1, 1, 1), RS, zrandmember),
    cmd("zscan", -3, &["readonly"], (1, 1, 1), RS, zscan),
];

// ---------------------------------------------------------------------------
// Key access and replies
// ---------------------------------------------------------------------------

/// Looks a sorted set up for a read command (counts a keyspace hit or miss).
pub(crate) fn read_zset<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup_read(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::ZSet(z), .. }) => Ok(Some(z)),
        Some(_) => Err(wrongtype()),
    }
}

/// Looks a sorted set up for a write command.
fn write_zset<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::ZSet(z), .. }) => Ok(Some(z)),
        Some(_) => Err(wrongtype()),
    }
}

/// Bookkeeping after a command removed or changed members of `key`: WATCH,
/// the zset event, and deleting the key (with its `del` event) if it became empty.
fn after_write(ctx: &mut Ctx<'_>, key: &Bytes, event: &'static str) {
    let db = ctx.db();
    ctx.st.signal_modified(db, key);
    ctx.st.notify(db, 'z', event, key);
    util::drop_if_empty(ctx, key);
}

/// Writes the result of a *STORE command.
pub(crate) fn store_result(ctx: &mut Ctx<'_>, dst: &Bytes, items: Vec<(Bytes, f64)>, event: &'static str) -> Reply {
    let z = ZSet::from_items(items);
    let len = z.len();
    util::store_result(ctx, dst, Value::ZSet(z), len, 'z', event)
}

/// Members (and scores): RESP2 flat `[m, s, m, s]`, RESP3 `[[m, s], [m, s]]`.
fn members_reply(resp: u8, items: Vec<(Bytes, f64)>, withscores: bool) -> Reply {
    if !withscores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if resp >= 3 {
        Reply::Array(items.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)])).collect())
    } else {
        let mut out = Vec::with_capacity(items.len() * 2);
        for (m, s) in items {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
        Reply::Array(out)
    }
}

/// Start and end (inclusive) of a rank range after Redis's index sanitising.
fn rank_bounds(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

fn cloned<'a>(items: impl Iterator<Item = (&'a Bytes, f64)>) -> Vec<(Bytes, f64)> {
    items.map(|(m, s)| (m.clone(), s)).collect()
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------

/// ZADD's option flags.
#[derive(Debug, Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

/// What adding one member did (Redis's `zsetAdd` out flags).
enum AddOutcome {
    Added,
    Updated,
    /// Processed, score unchanged.
    Same,
    /// Skipped by NX/XX/GT/LT.
    Nop,
    /// The increment produced NaN.
    Nan,
}

fn zset_add(z: &mut ZSet, member: &Bytes, score: f64, f: AddFlags, newscore: &mut f64) -> AddOutcome {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return AddOutcome::Nop;
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return AddOutcome::Nan;
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return AddOutcome::Nop;
            }
            *newscore = score;
            if score != cur {
                z.insert(keep(member), score);
                AddOutcome::Updated
            } else {
                AddOutcome::Same
            }
        }
        None if !f.xx => {
            z.insert(keep(member), score);
            *newscore = score;
            AddOutcome::Added
        }
        None => AddOutcome::Nop,
    }
}

fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    zadd_generic(ctx, args, true)
}

/// ZADD (and ZINCRBY when `zincrby`) over `args` (`args[0]` is not read);
/// GEOADD runs its rewritten arguments through it, as Redis does.
pub(crate) fn zadd_generic(ctx: &mut Ctx<'_>, args: &[Bytes], zincrby: bool) -> Reply {
    let key = &args[1];
    let mut f = AddFlags { incr: zincrby, ..AddFlags::default() };
    let mut ch = false;
    let mut idx = 2;
    // ZINCRBY shares ZADD's option loop (Redis runs zaddGenericCommand for
    // both): `ZINCRBY key NX member` takes NX as an option and then finds
    // too few arguments, a syntax error.
    while idx < args.len() {
        let o = &args[idx];
        if eq_ic(o, "nx") {
            f.nx = true;
        } else if eq_ic(o, "xx") {
            f.xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            f.incr = true;
        } else if eq_ic(o, "gt") {
            f.gt = true;
        } else if eq_ic(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let rest = args.len() - idx;
    if !rest.is_multiple_of(2) || rest == 0 {
        return syntax_error();
    }
    if f.nx && f.xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if [f.gt, f.lt, f.nx].iter().filter(|&&x| x).count() > 1 {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest / 2);
    for p in args[idx..].chunks(2) {
        match string2d(&p[0]) {
            Some(s) => pairs.push((s, &p[1])),
            None => return not_float(),
        }
    }
    let db = ctx.db();
    let now = ctx.now;
    let exists = tri!(write_zset(ctx, key)).is_some();
    if !exists {
        if f.xx {
            return if f.incr { Reply::Nil } else { Reply::Int(0) };
        }
        ctx.st.store_entry(db, key, Entry::new(Value::ZSet(ZSet::new()), now));
    }
    let Some(Entry { value: Value::ZSet(z), .. }) = ctx.st.entry_mut(db, key) else {
        return wrongtype();
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    for (s, member) in pairs {
        let mut newscore = s;
        match zset_add(z, member, s, f, &mut newscore) {
            AddOutcome::Added => added += 1,
            AddOutcome::Updated => updated += 1,
            AddOutcome::Same => {}
            AddOutcome::Nop => continue,
            AddOutcome::Nan => {
                nan = true;
                break;
            }
        }
        processed += 1;
        score = newscore;
    }
    if added > 0 || updated > 0 {
        ctx.st.signal_modified(db, key);
        ctx.st.notify(db, 'z', if f.incr { "zincr" } else { "zadd" }, key);
    }
    if added > 0 {
        ctx.st.signal_ready(db, key);
    }
    if nan {
        return Reply::error("ERR resulting score is not a number (NaN)");
    }
    if f.incr {
        if processed > 0 {
            Reply::Double(score)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if ch { added + updated } else { added })
    }
}

fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let Some(z) = tri!(write_zset(ctx, key)) else { return Reply::Int(0) };
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        after_write(ctx, key, "zrem");
    }
    Reply::Int(deleted)
}

// ---------------------------------------------------------------------------
// Simple reads
// ---------------------------------------------------------------------------

fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(read_zset(ctx, &args[1])).map_or(0, |z| z.len() as i64))
}

fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match tri!(read_zset(ctx, &args[1])).and_then(|z| z.score(&args[2])) {
        Some(s) => Reply::Double(s),
        None => Reply::Nil,
    }
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let z = tri!(read_zset(ctx, &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => Reply::Double(s),
                None => Reply::Nil,
            })
            .collect(),
    )
}

fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Reply {
    let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Nil };
    match z.rank(&args[2]) {
        Some(r) if rev => Reply::Int((z.len() - 1 - r) as i64),
        Some(r) => Reply::Int(r as i64),
        None => Reply::Nil,
    }
}

/// A score as a listpack holds it: integral values in ±2^62 as integers.
fn listpack_score(s: f64) -> Bytes {
    const LIM: f64 = 4611686018427387904.0;
    if (-LIM..=LIM).contains(&s) && s == s.trunc() {
        Bytes::from((s as i64).to_string())
    } else {
        Bytes::from(format_double(s))
    }
}

fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let Some(z) = tri!(read_zset(ctx, &args[1])) else { return scan_reply(0, Vec::new()) };
    let opts = tri!(parse_scan_opts(&args[3..], false));
    let (next, batch): (u64, Vec<(Bytes, Bytes)>) = if z.is_listpack() {
        (0, z.iter().map(|(m, s)| (m.clone(), listpack_score(s))).collect())
    } else {
        let all: Vec<(&Bytes, f64)> = z.iter().collect();
        let (indexes, next) = scan_batch(all.iter().map(|(m, _)| *m), cursor, opts.count);
        (next, indexes.into_iter().map(|i| (all[i].0.clone(), Bytes::from(format_double(all[i].1)))).collect())
    };
    let mut out = Vec::with_capacity(batch.len() * 2);
    for (m, s) in batch {
        if opts.matches(&m) {
            out.push(Reply::Bulk(m));
            out.push(Reply::Bulk(s));
        }
    }
    scan_reply(next, out)
}

#[cfg(test)]
mod tests {
    use super::range::parse_range_item;
    use super::*;
    use crate::cmd::{dispatch, ConnState};
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;
    use crate::engine::state::State;
    use std::time::Duration;

    /// A server state with keyspace events on, and one connection.
    fn setup() -> (State, ConnState, Clock) {
        let config = Config { notify_flags: "KEA".into(), ..Config::default() };
        (
            State::new(config, 16, 7, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table()),
            ConnState::new(1, true),
            Clock::real(),
        )
    }

    fn run(st: &mut State, conn: &mut ConnState, clock: &Clock, line: &str) -> Reply {
        let args: Vec<Bytes> = line.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut ctx = Ctx { st, conn, now: clock.now_ms(), clock };
        dispatch(&mut ctx, &args)
    }

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))).collect())
    }

    fn add_set(st: &mut State, key: &str, members: &[&str]) {
        let set = members.iter().map(|m| Bytes::copy_from_slice(m.as_bytes())).collect();
        st.store_entry(0, &Bytes::copy_from_slice(key.as_bytes()), Entry::new(Value::Set(set), 0));
    }

    #[test]
    fn plain_sets_count_as_score_one() {
        let (mut st, mut c, clock) = setup();
        add_set(&mut st, "s", &["a", "b", "c"]);
        run(&mut st, &mut c, &clock, "ZADD z 5 a 7 d");
        let r = run(&mut st, &mut c, &clock, "ZUNION 2 s z WITHSCORES");
        let d = |x| Reply::Double(x);
        let b = |x: &'static str| Reply::from(x);
        assert_eq!(r, Reply::Array(vec![b("b"), d(1.0), b("c"), d(1.0), b("a"), d(6.0), b("d"), d(7.0)]));
        let r = run(&mut st, &mut c, &clock, "ZINTER 2 s z WEIGHTS 3 1 WITHSCORES");
        assert_eq!(r, Reply::Array(vec![b("a"), d(8.0)]));
        assert_eq!(run(&mut st, &mut c, &clock, "ZDIFF 2 s z"), bulks(&["b", "c"]));
        assert_eq!(run(&mut st, &mut c, &clock, "ZINTERCARD 2 z s"), Reply::Int(1));
        assert_eq!(run(&mut st, &mut c, &clock, "ZDIFFSTORE s 1 s"), Reply::Int(3));
        let r = run(&mut st, &mut c, &clock, "ZRANGE s 0 -1 WITHSCORES");
        assert_eq!(r, Reply::Array(vec![b("a"), d(1.0), b("b"), d(1.0), b("c"), d(1.0)]));
        assert_eq!(run(&mut st, &mut c, &clock, "ZADD s 1 x"), Reply::Int(1), "the set was replaced by a zset");
    }

    #[test]
    fn writes_emit_events_and_delete_empty_keys() {
        let (mut st, mut c, clock) = setup();
        run(&mut st, &mut c, &clock, "ZADD z 1 a 2 b");
        run(&mut st, &mut c, &clock, "ZINCRBY z 1 a");
        run(&mut st, &mut c, &clock, "ZADD z 2 a");
        run(&mut st, &mut c, &clock, "ZPOPMIN z");
        run(&mut st, &mut c, &clock, "ZREM z b");
        run(&mut st, &mut c, &clock, "ZUNIONSTORE d 1 nokey");
        run(&mut st, &mut c, &clock, "ZADD d 1 a");
        run(&mut st, &mut c, &clock, "ZINTERSTORE d 1 nokey");
        let events: Vec<(char, &str)> = st.event_log.iter().map(|e| (e.class, e.event)).collect();
        assert_eq!(
            events,
            vec![
                ('z', "zadd"),
                ('z', "zincr"),
                ('z', "zpopmin"),
                ('z', "zrem"),
                ('g', "del"),
                ('z', "zadd"),
                ('g', "del")
            ]
        );
        assert!(!st.exists(0, b"z", clock.now_ms()));
    }

    #[test]
    fn bz_commands_block_only_outside_exec() {
        let (mut st, mut c, clock) = setup();
        assert_eq!(run(&mut st, &mut c, &clock, "BZPOPMIN k1 k2 1.5"), Reply::None);
        let spec = c.effects.block.take().expect("blocked");
        assert_eq!(spec.keys, vec![Bytes::from("k1"), Bytes::from("k2")]);
        assert_eq!(spec.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(spec.on_timeout, Reply::NilArray);
        assert_eq!(run(&mut st, &mut c, &clock, "BZMPOP 0 1 k1 MIN"), Reply::None);
        assert_eq!(c.effects.block.take().map(|b| b.timeout), Some(None));
        c.in_exec = true;
        assert_eq!(run(&mut st, &mut c, &clock, "BZPOPMAX k1 0"), Reply::NilArray);
        assert!(c.effects.block.is_none());
        // Once a key has elements, the re-run pops at once.
        c.in_exec = false;
        run(&mut st, &mut c, &clock, "ZADD k2 3 m");
        let r = run(&mut st, &mut c, &clock, "BZPOPMIN k1 k2 1.5");
        assert_eq!(r, Reply::Array(vec![Reply::from("k2"), Reply::from("m"), Reply::Double(3.0)]));
        assert!(c.effects.block.is_none());
    }

    #[test]
    fn skiplist_scan_pages_cover_every_member_once() {
        let (mut st, mut c, clock) = setup();
        let pairs: Vec<String> = (0..300).map(|i| format!("{i} m{i}")).collect();
        run(&mut st, &mut c, &clock, &format!("ZADD z {}", pairs.join(" ")));
        let mut cursor = "0".to_string();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let Reply::Array(parts) = run(&mut st, &mut c, &clock, &format!("ZSCAN z {cursor} COUNT 7")) else {
                panic!("not an array")
            };
            let (Reply::Bulk(next), Reply::Array(items)) = (&parts[0], &parts[1]) else { panic!("bad shape") };
            assert!(items.len() <= 14);
            for pair in items.chunks(2) {
                let (Reply::Bulk(m), Reply::Bulk(s)) = (&pair[0], &pair[1]) else { panic!("bad pair") };
                assert_eq!(&m[1..], &s[..]);
                assert!(seen.insert(m.clone()), "duplicate {m:?}");
            }
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
    }

    #[test]
    fn random_members_are_members() {
        let (mut st, mut c, clock) = setup();
        run(&mut st, &mut c, &clock, "ZADD z 1 a 2 b 3 c 4 d 5 e");
        for _ in 0..50 {
            let Reply::Array(items) = run(&mut st, &mut c, &clock, "ZRANDMEMBER z 3") else { panic!() };
            let mut names: Vec<Bytes> =
                items.iter().map(|r| if let Reply::Bulk(b) = r { b.clone() } else { panic!() }).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), 3, "distinct picks");
            assert!(names.iter().all(|n| n.len() == 1 && (b'a'..=b'e').contains(&n[0])));
            let Reply::Array(items) = run(&mut st, &mut c, &clock, "ZRANDMEMBER z -8") else { panic!() };
            assert_eq!(items.len(), 8);
        }
        assert!(!run(&mut st, &mut c, &clock, "HELLO 3").is_error());
        let Reply::Array(items) = run(&mut st, &mut c, &clock, "ZRANDMEMBER z -2 WITHSCORES") else { panic!() };
        assert!(items.iter().all(|p| matches!(p, Reply::Array(v) if v.len() == 2)));
        let r = run(&mut st, &mut c, &clock, "ZRANDMEMBER z -9223372036854775807");
        assert!(r.is_error(), "absurd repeat counts are refused rather than exhausting memory");
    }

    #[test]
    fn range_items_like_strtod() {
        assert_eq!(parse_range_item(b""), Some((0.0, false)));
        assert_eq!(parse_range_item(b"("), Some((0.0, true)));
        assert_eq!(parse_range_item(b" 1"), Some((1.0, false)));
        assert_eq!(parse_range_item(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_range_item(b"1 "), None);
        assert_eq!(parse_range_item(b"(nan"), None);
    }

    #[test]
    fn timeouts_like_redis() {
        assert_eq!(crate::cmd::util::parse_timeout(b"0").unwrap(), None);
        assert_eq!(crate::cmd::util::parse_timeout(b"-0.0001").unwrap(), None);
        assert_eq!(crate::cmd::util::parse_timeout(b"1.5").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(crate::cmd::util::parse_timeout(b"0.0001").unwrap(), Some(Duration::from_millis(1)));
        assert_eq!(crate::cmd::util::parse_timeout(b"1e-400").unwrap(), Some(Duration::from_millis(1)));
        for neg in [&b"-1"[..], b"inf", b"1e400", b"1e30"] {
            assert_eq!(crate::cmd::util::parse_timeout(neg).unwrap_err(), Reply::error("ERR timeout is negative"));
        }
        for bad in [&b" 1"[..], b"", b"x", b"nan", b"1e5000"] {
            assert_eq!(
                crate::cmd::util::parse_timeout(bad).unwrap_err(),
                Reply::error("ERR timeout is not a float or out of range")
            );
        }
    }

    #[test]
    fn listpack_scores_print_integers() {
        assert_eq!(listpack_score(123456789012345678.0), Bytes::from("123456789012345680"));
        assert_eq!(listpack_score(5e18), Bytes::from("5e+18"));
        assert_eq!(listpack_score(-4611686018427387904.0), Bytes::from("-4611686018427387904"));
        assert_eq!(listpack_score(1e-5), Bytes::from("1.0000000000000001e-05"));
        assert_eq!(listpack_score(f64::NEG_INFINITY), Bytes::from("-inf"));
    }
}
