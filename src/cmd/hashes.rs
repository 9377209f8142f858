//! Hash commands: HSET, HGET, HINCRBYFLOAT, HRANDFIELD, HSCAN, ...
//!
//! Hashes are `IndexMap`s kept in insertion order, which is the order Redis's
//! listpack encoding (small hashes) iterates in; an update keeps a field's
//! place and a delete closes the gap, as in a listpack.

mod longdouble;

use bytes::Bytes;
use indexmap::IndexMap;

use super::util::{eq_ic, int_arg, not_float, parse_i64, syntax_error, tri, wrong_arity, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::server::state::State;
use crate::store::glob::glob_match;
use crate::store::{scan_hash, EncodingHint, Entry, Value};
use longdouble::Ld;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("hset", -4, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "hash", "fast"], hset),
    cmd("hmset", -4, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "hash", "fast"], hset),
    cmd("hsetnx", 4, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "hash", "fast"], hsetnx),
    cmd("hget", 3, &["readonly", "fast"], (1, 1, 1), &["read", "hash", "fast"], hget),
    cmd("hmget", -3, &["readonly", "fast"], (1, 1, 1), &["read", "hash", "fast"], hmget),
    cmd("hdel", -3, &["write", "fast"], (1, 1, 1), &["write", "hash", "fast"], hdel),
    cmd("hexists", 3, &["readonly", "fast"], (1, 1, 1), &["read", "hash", "fast"], hexists),
    cmd("hlen", 2, &["readonly", "fast"], (1, 1, 1), &["read", "hash", "fast"], hlen),
    cmd("hstrlen", 3, &["readonly", "fast"], (1, 1, 1), &["read", "hash", "fast"], hstrlen),
    cmd("hkeys", 2, &["readonly"], (1, 1, 1), &["read", "hash", "slow"], hkeys),
    cmd("hvals", 2, &["readonly"], (1, 1, 1), &["read", "hash", "slow"], hvals),
    cmd("hgetall", 2, &["readonly"], (1, 1, 1), &["read", "hash", "slow"], hgetall),
    cmd("hincrby", 4, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "hash", "fast"], hincrby),
    cmd("hincrbyfloat", 4, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "hash", "fast"], hincrbyfloat),
    cmd("hrandfield", -2, &["readonly"], (1, 1, 1), &["read", "hash", "slow"], hrandfield),
    cmd("hscan", -3, &["readonly"], (1, 1, 1), &["read", "hash", "slow"], hscan),
];

/// Most elements a random-pick reply with a negative count may hold. Redis
/// streams any count; the fake builds the reply in memory, so a client
/// asking for billions gets an error instead of exhausting memory.
pub(crate) const MAX_RANDOM_REPLY: u64 = 1 << 22;

/// The error for counts beyond [`MAX_RANDOM_REPLY`].
pub(crate) fn count_too_large() -> Reply {
    Reply::error(format!("ERR count is too large for the fake server (at most {MAX_RANDOM_REPLY} elements)"))
}

type Hash = IndexMap<Bytes, Bytes>;

/// Reads an integer config parameter, falling back to Redis's default.
pub(crate) fn config_usize(st: &State, name: &str, default: usize) -> usize {
    st.config.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Whether Redis would keep this hash as a listpack (iterated in insertion
/// order, scanned in one call). Redis never converts back, so a hash that
/// shrank may really be a hash table; its order is undefined then anyway.
fn is_listpack(st: &State, h: &Hash) -> bool {
    let entries = config_usize(st, "hash-max-listpack-entries", 128);
    let value = config_usize(st, "hash-max-listpack-value", 64);
    h.len() <= entries && h.iter().all(|(f, v)| f.len() <= value && v.len() <= value)
}

/// The encoding OBJECT ENCODING reports for a hash (approximate: Redis never
/// converts a hash table back to a listpack, the fake cannot tell).
pub(crate) fn hash_encoding(st: &State, h: &Hash) -> &'static str {
    if is_listpack(st, h) {
        "listpack"
    } else {
        "hashtable"
    }
}

/// Looks a hash up: `Ok(None)` if missing, WRONGTYPE for another type.
/// `read` counts keyspace hits/misses as Redis's lookupKeyRead does.
fn get_hash<'a>(ctx: &'a mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<&'a mut Hash>, Reply> {
    let db = ctx.db();
    let entry = if read { ctx.st.lookup_read(db, key, ctx.now) } else { ctx.st.lookup(db, key, ctx.now) };
    match entry {
        None => Ok(None),
        Some(Entry { value: Value::Hash(h), .. }) => Ok(Some(h)),
        Some(_) => Err(wrongtype()),
    }
}

/// The hash at `key` for writing, created empty if missing (callers only
/// create when they are about to add a field).
fn hash_or_create<'a>(ctx: &'a mut Ctx<'_>, key: &Bytes) -> Result<&'a mut Hash, Reply> {
    let db = ctx.db();
    if get_hash(ctx, key, false)?.is_none() {
        ctx.st.dbs[db].insert(key.clone(), Entry::new(Value::Hash(Hash::new()), ctx.now));
    }
    match ctx.st.dbs[db].raw_get_mut(key) {
        Some(Entry { value: Value::Hash(h), .. }) => Ok(h),
        _ => Err(wrongtype()),
    }
}

/// Signals a write and queues the keyspace event.
fn written(ctx: &mut Ctx<'_>, key: &Bytes, event: &'static str) {
    let db = ctx.db();
    ctx.st.signal_modified(db, key);
    ctx.st.notify(db, 'h', event, key.clone());
}

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        let name = if eq_ic(&args[0], "hset") { "hset" } else { "hmset" };
        return wrong_arity(name);
    }
    let key = &args[1];
    let db = ctx.db();
    let max_value = ctx.st.dbs[db].limits.hash_value;
    tri!(hash_or_create(ctx, key));
    // Redis converts on any long argument before setting, so a long value
    // overwritten later in the same command still leaves a hashtable.
    if args[2..].iter().any(|a| a.len() > max_value) {
        if let Some(e) = ctx.st.dbs[db].raw_get_mut(key) {
            e.enc = EncodingHint::Converted;
        }
    }
    let h = tri!(hash_or_create(ctx, key));
    let mut created = 0;
    for pair in args[2..].chunks(2) {
        if h.insert(pair[0].clone(), pair[1].clone()).is_none() {
            created += 1;
        }
    }
    written(ctx, key, "hset");
    if eq_ic(&args[0], "hset") {
        Reply::Int(created)
    } else {
        Reply::ok()
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    if tri!(get_hash(ctx, key, false)).is_some_and(|h| h.contains_key(&args[2])) {
        return Reply::Int(0);
    }
    tri!(hash_or_create(ctx, key)).insert(args[2].clone(), args[3].clone());
    written(ctx, key, "hset");
    Reply::Int(1)
}

fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match tri!(get_hash(ctx, &args[1], true)) {
        Some(h) => Reply::from(h.get(&args[2]).cloned()),
        None => Reply::Nil,
    }
}

fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Array(args[2..].iter().map(|f| Reply::from(h.as_ref().and_then(|h| h.get(f).cloned()))).collect())
}

fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let Some(h) = tri!(get_hash(ctx, key, false)) else { return Reply::Int(0) };
    let mut deleted = 0;
    for f in &args[2..] {
        // shift_remove keeps the listpack order of the remaining fields.
        if h.shift_remove(f).is_some() {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let emptied = h.is_empty();
    if deleted > 0 {
        let db = ctx.db();
        if emptied {
            ctx.st.dbs[db].remove(key);
        }
        written(ctx, key, "hdel");
        if emptied {
            ctx.st.notify(db, 'g', "del", key.clone());
        }
    }
    Reply::Int(deleted)
}

fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Int(h.is_some_and(|h| h.contains_key(&args[2])) as i64)
}

fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Int(h.map_or(0, |h| h.len() as i64))
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Int(h.and_then(|h| h.get(&args[2])).map_or(0, |v| v.len() as i64))
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Array(h.map(|h| h.keys().cloned().map(Reply::Bulk).collect()).unwrap_or_default())
}

fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Array(h.map(|h| h.values().cloned().map(Reply::Bulk).collect()).unwrap_or_default())
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx, &args[1], true));
    Reply::Map(
        h.map(|h| h.iter().map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone()))).collect())
            .unwrap_or_default(),
    )
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, field) = (&args[1], &args[2]);
    let incr = tri!(int_arg(&args[3]));
    let old = match tri!(get_hash(ctx, key, false)).and_then(|h| h.get(field)) {
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not an integer"),
        },
        None => 0,
    };
    let Some(new) = old.checked_add(incr) else {
        return Reply::error("ERR increment or decrement would overflow");
    };
    tri!(hash_or_create(ctx, key)).insert(field.clone(), Bytes::from(new.to_string()));
    written(ctx, key, "hincrby");
    Reply::Int(new)
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, field) = (&args[1], &args[2]);
    let incr = match Ld::parse(&args[3]) {
        Ok(Some(v)) => v,
        Ok(None) => return not_float(),
        Err(_) => return Reply::error("ERR value is NaN or Infinity"),
    };
    let old = match tri!(get_hash(ctx, key, false)).and_then(|h| h.get(field)) {
        Some(v) => match Ld::parse(v) {
            Ok(Some(v)) => Some(v),
            // A stored "inf" parses, and any sum with it is infinite.
            Err(_) => None,
            Ok(None) => return Reply::error("ERR hash value is not a float"),
        },
        None => Some(Ld::from_i64(0)),
    };
    let Some(sum) = old.and_then(|old| old.add(incr)) else {
        return Reply::error("ERR increment would produce NaN or Infinity");
    };
    let text = Bytes::from(sum.to_human());
    tri!(hash_or_create(ctx, key)).insert(field.clone(), text.clone());
    written(ctx, key, "hincrbyfloat");
    Reply::Bulk(text)
}

/// Parses a random-pick count the way Redis's getRangeLongFromObjectOrReply
/// does with the range [-LONG_MAX, LONG_MAX].
pub(crate) fn parse_count(arg: &[u8]) -> Result<i64, Reply> {
    let n = int_arg(arg)?;
    if n == i64::MIN {
        return Err(Reply::error(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(n)
}

/// Picks `k` distinct indexes of `0..n` in ascending order (selection
/// sampling), as Redis's listpack random-pairs-unique returns them.
pub(crate) fn sample_sorted(rng: &mut fastrand::Rng, n: usize, k: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(k.min(n));
    let mut needed = k.min(n);
    for i in 0..n {
        if needed == 0 {
            break;
        }
        if rng.usize(0..n - i) < needed {
            out.push(i);
            needed -= 1;
        }
    }
    out
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        let Some(len) = tri!(get_hash(ctx, &args[1], true)).map(|h| h.len()) else { return Reply::Nil };
        let i = ctx.st.rng.usize(0..len);
        let field = tri!(get_hash(ctx, &args[1], false)).and_then(|h| h.get_index(i).map(|(f, _)| f.clone()));
        return Reply::from(field);
    }
    let count = tri!(parse_count(&args[2]));
    let withvalues = match args.len() {
        3 => false,
        4 if eq_ic(&args[3], "withvalues") => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                return Reply::error("ERR value is out of range");
            }
            true
        }
        _ => return syntax_error(),
    };
    let resp3 = ctx.conn.resp >= 3;
    let db = ctx.db();
    let now = ctx.now;
    let st = &mut *ctx.st;
    let h = match st.lookup_read(db, &args[1], now) {
        None => return Reply::Array(Vec::new()),
        Some(Entry { value: Value::Hash(h), .. }) => h.clone(),
        Some(_) => return wrongtype(),
    };
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    let picks: Vec<usize> = if count < 0 || count == 1 {
        let n = count.unsigned_abs();
        if n > MAX_RANDOM_REPLY {
            return count_too_large();
        }
        (0..n).map(|_| st.rng.usize(0..h.len())).collect()
    } else if count as u64 >= h.len() as u64 {
        (0..h.len()).collect()
    } else if is_listpack(st, &h) {
        sample_sorted(&mut st.rng, h.len(), count as usize)
    } else {
        let mut all: Vec<usize> = (0..h.len()).collect();
        st.rng.shuffle(&mut all);
        all.truncate(count as usize);
        all
    };
    let mut out = Vec::new();
    for i in picks {
        let Some((f, v)) = h.get_index(i) else { continue };
        match (withvalues, resp3) {
            (false, _) => out.push(Reply::Bulk(f.clone())),
            (true, false) => {
                out.push(Reply::Bulk(f.clone()));
                out.push(Reply::Bulk(v.clone()));
            }
            (true, true) => out.push(Reply::Array(vec![Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])),
        }
    }
    Reply::Array(out)
}

/// Parses a SCAN cursor like Redis's strtoul-based parseScanCursorOrReply:
/// optional sign (a negative value wraps), leading zeros, the empty string
/// as 0; no leading space, no trailing garbage, no overflow.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error("ERR invalid cursor");
    if arg.first().is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b) {
        return Err(invalid());
    }
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul consumed nothing: the cursor is 0 only if nothing follows either.
        return if arg.is_empty() { Ok(0) } else { Err(invalid()) };
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// HSCAN/SSCAN options after the cursor: COUNT (>= 1) and MATCH.
pub(crate) struct ScanOpts {
    pub count: usize,
    pub pattern: Option<Bytes>,
}

/// Parses `[MATCH pattern] [COUNT n]` as scanGenericCommand does.
pub(crate) fn parse_scan_opts(args: &[Bytes]) -> Result<ScanOpts, Reply> {
    let mut opts = ScanOpts { count: 10, pattern: None };
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq_ic(&args[i], "count") && more {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(syntax_error());
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(&args[i], "match") && more {
            let p = &args[i + 1];
            opts.pattern = if &p[..] == b"*" { None } else { Some(p.clone()) };
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    Ok(opts)
}

/// Picks the next batch of a hash-table scan: indexes (in scan order) of
/// the elements whose `scan_hash` is at least `cursor`, about `count` of
/// them, and the cursor to continue from (0 when done). Elements present
/// for a whole iteration are returned exactly once, whatever changes.
pub(crate) fn scan_batch<'a>(items: impl Iterator<Item = &'a Bytes>, cursor: u64, count: usize) -> (Vec<usize>, u64) {
    let mut cand: Vec<(u64, usize)> =
        items.enumerate().map(|(i, k)| (scan_hash(k), i)).filter(|(h, _)| *h >= cursor).collect();
    if cand.len() <= count {
        cand.sort_unstable();
        return (cand.into_iter().map(|(_, i)| i).collect(), 0);
    }
    cand.select_nth_unstable(count);
    let boundary = cand[count].0;
    let mut batch: Vec<(u64, usize)> = cand.iter().copied().filter(|(h, _)| *h < boundary).collect();
    let next = if batch.is_empty() {
        // Hash collision at the boundary: take the whole colliding group.
        batch = cand.iter().copied().filter(|(h, _)| *h == boundary).collect();
        cand.iter().map(|(h, _)| *h).filter(|h| *h > boundary).min().unwrap_or(0)
    } else {
        boundary
    };
    batch.sort_unstable();
    (batch.into_iter().map(|(_, i)| i).collect(), next)
}

/// The `[cursor, [elements...]]` reply.
pub(crate) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Bulk(Bytes::from(cursor.to_string())), Reply::Array(items)])
}

fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let Some(h) = tri!(get_hash(ctx, &args[1], true)) else { return scan_reply(0, Vec::new()) };
    let h = h.clone();
    let opts = tri!(parse_scan_opts(&args[3..]));
    let (indexes, next) =
        if is_listpack(ctx.st, &h) { ((0..h.len()).collect(), 0) } else { scan_batch(h.keys(), cursor, opts.count) };
    let mut out = Vec::new();
    for i in indexes {
        let Some((f, v)) = h.get_index(i) else { continue };
        if opts.pattern.as_ref().is_some_and(|p| !glob_match(p, f, false)) {
            continue;
        }
        out.push(Reply::Bulk(f.clone()));
        out.push(Reply::Bulk(v.clone()));
    }
    scan_reply(next, out)
}
