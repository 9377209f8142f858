//! ZCOUNT, ZLEXCOUNT, the ZRANGE family (ZRANGEBYSCORE, ZRANGEBYLEX, their
//! REV forms, ZRANGESTORE) and ZREMRANGEBY*, with the score and lex range
//! parsing they share.

use bytes::Bytes;

use crate::cmd::util::{eq_ic, not_integer, parse_i64, syntax_error, tri};
use crate::cmd::Ctx;
use crate::num::{c_str, strtod};
use crate::protocol::Reply;
use crate::store::ZSet;

use super::{after_write, cloned, members_reply, rank_bounds, read_zset, store_result, write_zset};

/// One end of a score range (`zslParseRange`): `(` makes it exclusive; the
/// rest goes through plain strtod, so spaces in front, an empty string and
/// out-of-range values are accepted as C accepts them.
pub(super) fn parse_range_item(b: &[u8]) -> Option<(f64, bool)> {
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

pub(super) fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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

pub(super) fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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

pub(super) fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Auto, None)
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Score, Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Score, Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Lex, Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Lex, Some(true))
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, 1, None, RangeType::Rank, Some(true))
}

pub(super) fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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
    let resp = ctx.resp();
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

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let start = tri!(parse_i64(&args[2]).ok_or_else(not_integer));
    let end = tri!(parse_i64(&args[3]).ok_or_else(not_integer));
    remrange_generic(ctx, &args[1], RangeSpec::Rank(start, end), "zremrangebyrank")
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = tri!(ScoreRange::parse(&args[2], &args[3]));
    remrange_generic(ctx, &args[1], RangeSpec::Score(range), "zremrangebyscore")
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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
