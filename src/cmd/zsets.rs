//! Sorted-set commands, as Redis 7.0's `t_zset.c` behaves: argument checks
//! in Redis's order, Redis's error texts, RESP2/RESP3 reply shapes (RESP3
//! WITHSCORES replies are arrays of `[member, score]` pairs), and the
//! number parsing quirks of `strtod` that clients can observe.

use bytes::Bytes;

use super::random::{self, check_paired_count, parse_count, Picks};
use super::scan::parse_cursor;
use super::scan::{parse_scan_opts, scan_batch, scan_reply};
use super::util::{
    self, eq_ic, not_float, not_integer, parse_i64, parse_mpop, range_long, syntax_error, tri, wrongtype,
};
use super::{cmd, CommandSpec, Ctx};
use crate::engine::blocking;
use crate::num::{c_str, string2d, strtod};
use crate::protocol::reply::format_double;
use crate::protocol::Reply;
use crate::store::{keep, Entry, Value, ZSet};

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

/// One end of a score range (`zslParseRange`): `(` makes it exclusive; the
/// rest goes through plain strtod, so spaces in front, an empty string and
/// out-of-range values are accepted as C accepts them.
fn parse_range_item(b: &[u8]) -> Option<(f64, bool)> {
    let b = c_str(b);
    let (ex, s) = if b.first() == Some(&b'(') { (true, &b[1..]) } else { (false, b) };
    let r = strtod(s);
    if r.used != s.len() || r.value.is_nan() {
        return None;
    }
    Some((r.value, ex))
}

/// A score interval.
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
        let err = || Reply::error("ERR min or max is not a float");
        let (min, minex) = parse_range_item(min).ok_or_else(err)?;
        let (max, maxex) = parse_range_item(max).ok_or_else(err)?;
        Ok(ScoreRange { min, minex, max, maxex })
    }

    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    fn contains(&self, s: f64) -> bool {
        self.gte_min(s) && self.lte_max(s)
    }
}

/// One end of a lexicographic range.
#[derive(Debug, Clone)]
enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

impl LexBound {
    fn parse(b: &Bytes) -> Option<LexBound> {
        match b.first() {
            Some(b'+') if b.len() == 1 || b[1] == 0 => Some(LexBound::Max),
            Some(b'-') if b.len() == 1 || b[1] == 0 => Some(LexBound::Min),
            Some(b'(') => Some(LexBound::Excl(b.slice(1..))),
            Some(b'[') => Some(LexBound::Incl(b.slice(1..))),
            _ => None,
        }
    }

    /// Whether the bound itself is exclusive (`-` and `+` count as exclusive in Redis).
    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    fn rank(&self) -> (u8, &[u8]) {
        match self {
            LexBound::Min => (0, b""),
            LexBound::Incl(s) | LexBound::Excl(s) => (1, s),
            LexBound::Max => (2, b""),
        }
    }
}

/// A lexicographic interval.
#[derive(Debug, Clone)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, Reply> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Reply::error("ERR min or max not valid string range item")),
        }
    }

    /// Ranges that can never match anything, as Redis tests them up front.
    fn is_empty(&self) -> bool {
        let cmp = self.min.rank().cmp(&self.max.rank());
        cmp.is_gt() || (cmp.is_eq() && (self.min.exclusive() || self.max.exclusive()))
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(s) => m >= &s[..],
            LexBound::Excl(s) => m > &s[..],
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(s) => m <= &s[..],
            LexBound::Excl(s) => m < &s[..],
        }
    }
}

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
        ctx.st.dbs[db].insert(key, Entry::new(Value::ZSet(ZSet::new()), now));
    }
    let Some(Entry { value: Value::ZSet(z), .. }) = ctx.st.dbs[db].raw_get_mut(key) else {
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

fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = tri!(ScoreRange::parse(&args[2], &args[3]));
    let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Int(0) };
    Reply::Int(z.iter().filter(|(_, s)| range.contains(*s)).count() as i64)
}

/// Positions of the members a lex range selects, walking the sorted order
/// as Redis walks its listpack: from the first member at or above `min`
/// (or, reversed, the last at or below `max`), skipping `offset` members,
/// then while they stay inside the other end. Members with differing
/// scores therefore behave as in Redis's (undocumented) behaviour.
fn lex_positions(members: &[&Bytes], range: &LexRange, reverse: bool, offset: i64, limit: i64) -> Vec<usize> {
    let mut out = Vec::new();
    let (Some(first), Some(last)) = (members.first(), members.last()) else { return out };
    if range.is_empty() || !range.gte_min(last) || !range.lte_max(first) || offset < 0 {
        return out;
    }
    let mut limit = limit;
    if !reverse {
        let Some(start) = members.iter().position(|m| range.gte_min(m)) else { return out };
        if !range.lte_max(members[start]) {
            return out;
        }
        let mut i = start.saturating_add(offset as usize);
        while i < members.len() && limit != 0 {
            if !range.lte_max(members[i]) {
                break;
            }
            out.push(i);
            i += 1;
            limit -= 1;
        }
    } else {
        let Some(start) = members.iter().rposition(|m| range.lte_max(m)) else { return out };
        if !range.gte_min(members[start]) {
            return out;
        }
        let Some(mut i) = start.checked_sub(offset as usize).map(|i| i as i64) else { return out };
        while i >= 0 && limit != 0 {
            if !range.gte_min(members[i as usize]) {
                break;
            }
            out.push(i as usize);
            i -= 1;
            limit -= 1;
        }
    }
    out
}

fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = tri!(LexRange::parse(&args[2], &args[3]));
    let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Int(0) };
    let members: Vec<&Bytes> = z.iter().map(|(m, _)| m).collect();
    Reply::Int(lex_positions(&members, &range, false, 0, -1).len() as i64)
}

// ---------------------------------------------------------------------------
// ZRANGE family
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The selection a range command makes.
enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Auto, None)
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Lex, Some(true))
}

fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Rank, Some(true))
}

fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 2, Some(&args[1]), RangeType::Auto, None)
}

/// Redis's `zrangeGenericCommand`: `src` is the index of the source key;
/// `rangetype` Auto and `direction` None let BYSCORE/BYLEX/REV choose.
fn range_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    src: usize,
    store: Option<&Bytes>,
    mut rangetype: RangeType,
    direction: Option<bool>,
) -> Reply {
    let key = &args[src];
    let (mut minidx, mut maxidx) = (src + 1, src + 2);
    let mut reverse = direction;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = tri!(parse_i64(&args[j + 1]).ok_or_else(not_integer));
            limit = tri!(parse_i64(&args[j + 2]).ok_or_else(not_integer));
            j += 2;
        } else if direction.is_none() && reverse.is_none() && eq_ic(a, "rev") {
            reverse = Some(true);
        } else if rangetype == RangeType::Auto && eq_ic(a, "bylex") {
            rangetype = RangeType::Lex;
        } else if rangetype == RangeType::Auto && eq_ic(a, "byscore") {
            rangetype = RangeType::Score;
        } else {
            return syntax_error();
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    if rangetype == RangeType::Auto {
        rangetype = RangeType::Rank;
    }
    if limit != -1 && rangetype == RangeType::Rank {
        return Reply::error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    }
    if withscores && rangetype == RangeType::Lex {
        return Reply::error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    if reverse && rangetype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let spec = match rangetype {
        RangeType::Score => RangeSpec::Score(tri!(ScoreRange::parse(&args[minidx], &args[maxidx]))),
        RangeType::Lex => RangeSpec::Lex(tri!(LexRange::parse(&args[minidx], &args[maxidx]))),
        _ => {
            let start = tri!(parse_i64(&args[minidx]).ok_or_else(not_integer));
            let end = tri!(parse_i64(&args[maxidx]).ok_or_else(not_integer));
            RangeSpec::Rank(start, end)
        }
    };
    let resp = ctx.conn.resp;
    let items = match read_zset(ctx, key) {
        Err(e) => return e,
        Ok(None) => Vec::new(),
        Ok(Some(z)) => select_range(z, &spec, reverse, offset, limit),
    };
    match store {
        Some(dst) => store_result(ctx, dst, items, "zrangestore"),
        None => members_reply(resp, items, withscores),
    }
}

/// The members (with scores) a range selects, in reply order.
fn select_range(z: &ZSet, spec: &RangeSpec, reverse: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    match spec {
        RangeSpec::Rank(start, end) => {
            let Some((start, end)) = rank_bounds(z.len(), *start, *end) else { return Vec::new() };
            let n = end - start + 1;
            if reverse {
                cloned(z.iter().rev().skip(start).take(n))
            } else {
                cloned(z.iter().skip(start).take(n))
            }
        }
        RangeSpec::Score(range) => {
            if offset < 0 {
                return Vec::new();
            }
            let take = if limit < 0 { usize::MAX } else { limit as usize };
            let offset = offset as usize;
            if reverse {
                cloned(z.iter().rev().filter(|(_, s)| range.contains(*s)).skip(offset).take(take))
            } else {
                cloned(z.iter().filter(|(_, s)| range.contains(*s)).skip(offset).take(take))
            }
        }
        RangeSpec::Lex(range) => {
            let all: Vec<(&Bytes, f64)> = z.iter().collect();
            let members: Vec<&Bytes> = all.iter().map(|(m, _)| *m).collect();
            lex_positions(&members, range, reverse, offset, limit)
                .into_iter()
                .map(|i| (all[i].0.clone(), all[i].1))
                .collect()
        }
    }
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let start = tri!(parse_i64(&args[2]).ok_or_else(not_integer));
    let end = tri!(parse_i64(&args[3]).ok_or_else(not_integer));
    remrange_generic(ctx, &args[1], RangeSpec::Rank(start, end), "zremrangebyrank")
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = tri!(ScoreRange::parse(&args[2], &args[3]));
    remrange_generic(ctx, &args[1], RangeSpec::Score(range), "zremrangebyscore")
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = tri!(LexRange::parse(&args[2], &args[3]));
    remrange_generic(ctx, &args[1], RangeSpec::Lex(range), "zremrangebylex")
}

fn remrange_generic(ctx: &mut Ctx<'_>, key: &Bytes, spec: RangeSpec, event: &'static str) -> Reply {
    let Some(z) = tri!(write_zset(ctx, key)) else { return Reply::Int(0) };
    let doomed = select_range(z, &spec, false, 0, -1);
    for (m, _) in &doomed {
        z.remove(m);
    }
    if !doomed.is_empty() {
        after_write(ctx, key, event);
    }
    Reply::Int(doomed.len() as i64)
}

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

fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    zpop_command(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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
    let shape = PopShape { emitkey: false, nested: ctx.conn.resp > 2 && count != -1 };
    pop_generic(ctx, &args[1..2], max, count, shape, false)
}

fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let p = tri!(parse_mpop(args, 1, ["min", "max"]));
    pop_generic(ctx, &args[p.keys], !p.first_end, p.count as i64, PopShape { emitkey: true, nested: true }, true)
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let keys = &args[1..args.len() - 1];
    blocking_pop(ctx, keys, false, &args[args.len() - 1], -1, PopShape { emitkey: true, nested: false })
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let keys = &args[1..args.len() - 1];
    blocking_pop(ctx, keys, true, &args[args.len() - 1], -1, PopShape { emitkey: true, nested: false })
}

fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let p = tri!(parse_mpop(args, 2, ["min", "max"]));
    blocking_pop(ctx, &args[p.keys], !p.first_end, &args[1], p.count as i64, PopShape { emitkey: true, nested: true })
}

/// Redis's `blockingGenericZpopCommand`: pops at once from the first
/// non-empty key, otherwise blocks (or, inside EXEC, replies a null array).
/// Re-run for a key that became ready, it considers only that key, and
/// stays blocked if the key now holds another type (as Redis 7.0 does).
fn blocking_pop(ctx: &mut Ctx<'_>, keys: &[Bytes], max: bool, timeout: &[u8], count: i64, shape: PopShape) -> Reply {
    let timeout = tri!(super::util::parse_timeout(timeout));
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
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate` (inf + -inf sums to 0; a NaN value never wins MIN/MAX).
    fn apply(self, target: &mut f64, val: f64) {
        match self {
            Aggregate::Sum => {
                *target += val;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if val < *target {
                    *target = val;
                }
            }
            Aggregate::Max => {
                if val > *target {
                    *target = val;
                }
            }
        }
    }
}

/// One input of a set operation: a sorted set, a plain set (every member
/// scores 1), or a missing key.
struct Src<'a> {
    value: Option<&'a Value>,
    weight: f64,
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self.value {
            Some(Value::ZSet(z)) => z.len(),
            Some(Value::Set(s)) => s.len(),
            _ => 0,
        }
    }

    fn items(&self) -> Vec<(&Bytes, f64)> {
        match self.value {
            Some(Value::ZSet(z)) => z.iter().collect(),
            Some(Value::Set(s)) => s.iter().map(|m| (m, 1.0)).collect(),
            _ => Vec::new(),
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self.value {
            Some(Value::ZSet(z)) => z.score(m),
            Some(Value::Set(s)) => s.contains(m).then_some(1.0),
            _ => None,
        }
    }
}

fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zunion", None, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zinter", None, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zdiff", None, 1, SetOp::Diff, false)
}

fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zunionstore", Some(&args[1]), 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zinterstore", Some(&args[1]), 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zdiffstore", Some(&args[1]), 2, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zintercard", None, 1, SetOp::Inter, true)
}

/// Redis's `zunionInterDiffGenericCommand`.
fn setop_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    name: &str,
    dst: Option<&Bytes>,
    numkeys_idx: usize,
    op: SetOp,
    cardinality_only: bool,
) -> Reply {
    let setnum = tri!(parse_i64(&args[numkeys_idx]).ok_or_else(not_integer));
    if setnum < 1 {
        return Reply::error(format!("ERR at least 1 input key is needed for '{name}' command"));
    }
    if setnum > (args.len() - numkeys_idx - 1) as i64 {
        return syntax_error();
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    let db = ctx.db();
    for k in keys {
        let entry = if dst.is_some() { ctx.st.lookup(db, k, ctx.now) } else { ctx.st.lookup_read(db, k, ctx.now) };
        if let Some(e) = entry {
            if !matches!(e.value, Value::ZSet(_) | Value::Set(_)) {
                return wrongtype();
            }
        }
    }
    let mut weights = vec![1.0; setnum];
    let mut aggregate = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !cardinality_only && remaining > setnum && eq_ic(a, "weights") {
            for (i, w) in args[j + 1..j + 1 + setnum].iter().enumerate() {
                weights[i] = tri!(string2d(w).ok_or_else(|| Reply::error("ERR weight value is not a float")));
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !cardinality_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = &args[j + 1];
            aggregate = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return syntax_error();
            };
            j += 2;
        } else if dst.is_none() && !cardinality_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if cardinality_only && remaining >= 2 && eq_ic(a, "limit") {
            limit = tri!(range_long(&args[j + 1], 0, i64::MAX, "ERR LIMIT can't be negative"));
            j += 2;
        } else {
            return syntax_error();
        }
    }

    let dbref = &ctx.st.dbs[db];
    let mut srcs: Vec<Src<'_>> =
        keys.iter().zip(weights).map(|(k, weight)| Src { value: dbref.raw_get(k).map(|e| &e.value), weight }).collect();
    if op != SetOp::Diff {
        // Smallest first, as Redis orders its inputs (it affects float sums).
        srcs.sort_by_key(Src::len);
    }
    let mut result: Vec<(Bytes, f64)> = Vec::new();
    let mut cardinality = 0i64;
    match op {
        SetOp::Inter => {
            if srcs[0].len() > 0 {
                'members: for (m, s) in srcs[0].items() {
                    let mut score = srcs[0].weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for other in &srcs[1..] {
                        match other.find(m) {
                            Some(v) => aggregate.apply(&mut score, v * other.weight),
                            None => continue 'members,
                        }
                    }
                    if cardinality_only {
                        cardinality += 1;
                        if limit != 0 && cardinality >= limit {
                            break;
                        }
                    } else {
                        result.push((m.clone(), score));
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: indexmap::IndexMap<&Bytes, f64> = indexmap::IndexMap::new();
            for src in &srcs {
                for (m, s) in src.items() {
                    let mut score = src.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate.apply(t, score),
                        None => {
                            acc.insert(m, score);
                        }
                    }
                }
            }
            result = acc.into_iter().map(|(m, s)| (m.clone(), s)).collect();
        }
        SetOp::Diff => {
            for (m, s) in srcs[0].items() {
                if srcs[1..].iter().all(|o| o.find(m).is_none()) {
                    result.push((m.clone(), s));
                }
            }
        }
    }
    if cardinality_only {
        return Reply::Int(cardinality);
    }
    result.sort_by(|a, b| {
        crate::store::zset::Score(a.1).cmp(&crate::store::zset::Score(b.1)).then_with(|| a.0.cmp(&b.0))
    });
    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, dst, result, event)
        }
        None => members_reply(ctx.conn.resp, result, withscores),
    }
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN
// ---------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let resp = ctx.conn.resp;
    if args.len() < 3 {
        let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Nil };
        let n = z.len();
        let i = ctx.st.rng.usize(0..n);
        let Some(Entry { value: Value::ZSet(z), .. }) = ctx.st.dbs[ctx.conn.db].raw_get(&args[1]) else {
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
        st.dbs[0].insert(&Bytes::copy_from_slice(key.as_bytes()), Entry::new(Value::Set(set), 0));
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
        c.resp = 3;
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
        assert_eq!(super::util::parse_timeout(b"0").unwrap(), None);
        assert_eq!(super::util::parse_timeout(b"-0.0001").unwrap(), None);
        assert_eq!(super::util::parse_timeout(b"1.5").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(super::util::parse_timeout(b"0.0001").unwrap(), Some(Duration::from_millis(1)));
        assert_eq!(super::util::parse_timeout(b"1e-400").unwrap(), Some(Duration::from_millis(1)));
        for neg in [&b"-1"[..], b"inf", b"1e400", b"1e30"] {
            assert_eq!(super::util::parse_timeout(neg).unwrap_err(), Reply::error("ERR timeout is negative"));
        }
        for bad in [&b" 1"[..], b"", b"x", b"nan", b"1e5000"] {
            assert_eq!(
                super::util::parse_timeout(bad).unwrap_err(),
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
