//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.

use bytes::Bytes;

use crate::cmd::util::{eq_ic, not_integer, parse_i64, range_long, syntax_error, tri, wrongtype};
use crate::cmd::Ctx;
use crate::num::string2d;
use crate::protocol::Reply;
use crate::store::Value;

use super::{members_reply, store_result};

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

pub(super) fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zunion", None, 1, SetOp::Union, false)
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zinter", None, 1, SetOp::Inter, false)
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zdiff", None, 1, SetOp::Diff, false)
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zunionstore", Some(&args[1]), 2, SetOp::Union, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zinterstore", Some(&args[1]), 2, SetOp::Inter, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, "zdiffstore", Some(&args[1]), 2, SetOp::Diff, false)
}

pub(super) fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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

    let dbref = ctx.st.db(db);
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
        None => members_reply(ctx.resp(), result, withscores),
    }
}
