//! SORT and SORT_RO: sort a list, set or sorted set (or read it in its own
//! order), weighting elements by other keys (BY), returning other keys'
//! values (GET), and storing the result as a list (STORE, SORT only).
//!
//! The order is Redis 7.0's (`sort.c`):
//! - numeric (the default): each element's score is its BY value (or the
//!   element itself) read by glibc `strtod` over the whole string; a value
//!   that is not a number, NaN or out of range fails the command with
//!   "One or more scores can't be converted into double"; a missing BY key
//!   scores 0; equal scores compare the elements as binary strings;
//! - ALPHA: the elements (or BY values, a missing one first) compare as C
//!   strings (`strcoll` in the C locale, so up to the first NUL byte), or as
//!   binary strings when STORE is given (Redis compares binary there);
//! - DESC reverses the comparison, ties included;
//! - a BY pattern without `*` means no sorting: a list or sorted set keeps
//!   its own order (DESC reverses it), a set is returned in its own
//!   iteration order, except with STORE, where Redis sorts it ALPHA so the
//!   stored list is deterministic.
//!
//! Options are parsed (syntax errors, LIMIT integers, the ACL rule for BY
//! and GET) before the key is looked up. Sorting a sorted set converts a
//! listpack one to a skiplist, as Redis does (OBJECT ENCODING shows it).

use std::cmp::Ordering;
use std::collections::VecDeque;

use bytes::Bytes;

use super::util::{eq_ic, int_arg, store_result, syntax_error, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::num::strtod;
use crate::protocol::Reply;
use crate::store::{EncodingHint, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "sort",
        -2,
        &["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        &["write", "set", "sortedset", "list", "slow", "dangerous"],
        sort,
    ),
    cmd(
        "sort_ro",
        -2,
        &["readonly", "movablekeys"],
        (1, 1, 1),
        &["read", "set", "sortedset", "list", "slow", "dangerous"],
        sort_ro,
    ),
];

/// The parsed options of one SORT call.
struct Opts {
    desc: bool,
    alpha: bool,
    offset: i64,
    count: i64,
    by: Option<Bytes>,
    /// BY with a pattern that has no `*`.
    dontsort: bool,
    gets: Vec<Bytes>,
    store: Option<Bytes>,
}

/// Parses the options as Redis does, left to right, stopping at the first error.
fn parse(ctx: &Ctx<'_>, args: &[Bytes], readonly: bool) -> Result<Opts, Reply> {
    let full_access = crate::engine::acl::full_key_read_access(ctx);
    let mut o =
        Opts { desc: false, alpha: false, offset: 0, count: -1, by: None, dontsort: false, gets: vec![], store: None };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            o.offset = int_arg(&args[j + 1])?;
            o.count = int_arg(&args[j + 2])?;
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let p = &args[j + 1];
            o.by = Some(p.clone());
            if cstr(p).contains(&b'*') {
                if !full_access {
                    return Err(Reply::error("ERR BY option of SORT denied due to insufficient ACL permissions."));
                }
            } else {
                o.dontsort = true;
            }
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            if !full_access {
                return Err(Reply::error("ERR GET option of SORT denied due to insufficient ACL permissions."));
            }
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    Ok(o)
}

/// The part of `b` a C string function sees: up to the first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and a `->field` after it (with a
/// non-empty field) reads that hash field. A pattern without `*`, a missing
/// key or a key of the wrong type gives `None`.
fn lookup_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], elem: &Bytes) -> Option<Bytes> {
    let head = cstr(pattern);
    if head == b"#" {
        return Some(elem.clone());
    }
    let star = head.iter().position(|&c| c == b'*')?;
    let arrow = head[star + 1..].windows(2).position(|w| w == b"->").map(|i| star + 1 + i);
    let (key_end, field) = match arrow {
        Some(i) if i + 2 < pattern.len() => (i, Some(&pattern[i + 2..])),
        _ => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let db = ctx.db();
    let entry = ctx.st.lookup_read(db, &key, ctx.now)?;
    match (&entry.value, field) {
        (Value::Hash(h), Some(f)) => h.get(f).cloned(),
        (Value::Str(s), None) => Some(s.clone()),
        _ => None,
    }
}

/// One element to sort and what it sorts by.
struct Item {
    elem: Bytes,
    score: f64,
    /// The BY value of an ALPHA sort by pattern (`None`: missing).
    cmp: Option<Bytes>,
}

/// Redis's `sortCompare`.
fn compare(a: &Item, b: &Item, o: &Opts, by_pattern: bool) -> Ordering {
    let binary = o.store.is_some();
    let text = |x: &[u8], y: &[u8]| if binary { x.cmp(y) } else { cstr(x).cmp(cstr(y)) };
    let c = if !o.alpha {
        a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.elem.cmp(&b.elem))
    } else if by_pattern {
        match (&a.cmp, &b.cmp) {
            (Some(x), Some(y)) => text(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    } else {
        text(&a.elem, &b.elem)
    };
    if o.desc {
        c.reverse()
    } else {
        c
    }
}

/// The `start..=end` range LIMIT selects among `n` elements, clamped as
/// Redis clamps it; `None` when it is empty.
fn limit_range(offset: i64, count: i64, n: usize) -> Option<(usize, usize)> {
    let n = n as i64;
    let mut start = offset.max(0).min(n);
    let count = count.max(-1).min(n);
    let mut end = if count < 0 { n - 1 } else { start + count - 1 };
    if start >= n {
        start = n - 1;
        end = n - 2;
    }
    end = end.min(n - 1);
    (end >= start && start >= 0).then_some((start as usize, end as usize))
}

fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[Bytes], readonly: bool) -> Reply {
    let mut o = tri!(parse(ctx, args, readonly));
    let db = ctx.db();
    let (mut elems, ordered): (Vec<Bytes>, bool) = match ctx.st.lookup_read(db, &args[1], ctx.now) {
        None => (Vec::new(), true),
        Some(e) => match &e.value {
            Value::List(l) => (l.iter().cloned().collect(), true),
            Value::Set(s) => (s.iter().cloned().collect(), false),
            Value::ZSet(z) => {
                let v = z.iter().map(|(m, _)| m.clone()).collect();
                // Redis converts the sorted set to a skiplist before reading it.
                e.enc = EncodingHint::Converted;
                (v, true)
            }
            _ => return wrongtype(),
        },
    };
    if o.dontsort && !ordered && o.store.is_some() {
        // A stored set must not depend on the set's iteration order.
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let range = limit_range(o.offset, o.count, elems.len());
    let pick = |v: &[Bytes]| range.map_or(Vec::new(), |(start, end)| v[start..=end].to_vec());
    if o.dontsort {
        if ordered && o.desc {
            elems.reverse();
        }
        return output(ctx, &o, &pick(&elems));
    }
    let by_pattern = o.by.is_some();
    let mut items = Vec::with_capacity(elems.len());
    let mut bad_score = false;
    for elem in elems {
        let by = match &o.by {
            Some(p) => lookup_pattern(ctx, p, &elem),
            None => Some(elem.clone()),
        };
        let mut item = Item { elem, score: 0.0, cmp: None };
        if o.alpha {
            if by_pattern {
                item.cmp = by;
            }
        } else if let Some(v) = by {
            let r = strtod(&v);
            // Redis checks that strtod stopped at the string's end (a C string: its first NUL).
            bad_score |= r.used != cstr(&v).len() || r.erange || r.value.is_nan();
            item.score = r.value;
        }
        items.push(item);
    }
    if bad_score {
        return Reply::error("ERR One or more scores can't be converted into double");
    }
    items.sort_by(|a, b| compare(a, b, &o, by_pattern));
    let sorted: Vec<Bytes> = items.into_iter().map(|i| i.elem).collect();
    output(ctx, &o, &pick(&sorted))
}

/// Replies with (or stores) the selected elements, each replaced by its
/// GET values when GET is given.
fn output(ctx: &mut Ctx<'_>, o: &Opts, elems: &[Bytes]) -> Reply {
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(elems.len() * o.gets.len().max(1));
    for elem in elems {
        if o.gets.is_empty() {
            out.push(Some(elem.clone()));
        }
        for g in &o.gets {
            out.push(lookup_pattern(ctx, g, elem));
        }
    }
    match &o.store {
        None => Reply::Array(out.into_iter().map(|v| v.map_or(Reply::Nil, Reply::Bulk)).collect()),
        Some(dst) => {
            let len = out.len();
            let list: VecDeque<Bytes> = out.into_iter().map(Option::unwrap_or_default).collect();
            store_result(ctx, dst, Value::List(list), len, 'l', "sortstore")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_clamps_like_redis() {
        assert_eq!(limit_range(0, -1, 5), Some((0, 4)));
        assert_eq!(limit_range(-3, 2, 5), Some((0, 1)));
        assert_eq!(limit_range(3, -7, 5), Some((3, 4)));
        assert_eq!(limit_range(5, 1, 5), None);
        assert_eq!(limit_range(i64::MAX, i64::MAX, 5), None);
        assert_eq!(limit_range(1, i64::MAX, 5), Some((1, 4)));
        assert_eq!(limit_range(0, 0, 5), None);
        assert_eq!(limit_range(0, 1, 0), None);
        assert_eq!(limit_range(i64::MIN, i64::MIN, 3), Some((0, 2)));
    }

    #[test]
    fn patterns_split_like_redis() {
        assert_eq!(cstr(b"a\0b"), b"a");
        assert_eq!(cstr(b"ab"), b"ab");
    }
}
