//! Hash commands: HSET, HGET, HINCRBYFLOAT, HRANDFIELD, HSCAN, ...
//!
//! Hashes are `IndexMap`s kept in insertion order, which is the order Redis's
//! listpack encoding (small hashes) iterates in; an update keeps a field's
//! place and a delete closes the gap, as in a listpack.

use bytes::Bytes;
use indexmap::IndexMap;

use super::random::{self, check_paired_count, parse_count, Picks};
use super::scan::parse_cursor;
use super::scan::{parse_scan_opts, scan_batch, scan_reply};
use super::util::{eq_ic, int_arg, not_float, parse_i64, syntax_error, tri, wrong_arity, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::engine::state::State;
use crate::num::longdouble::{self, LongDouble};
use crate::protocol::Reply;
use crate::store::{keep, EncodingHint, Entry, Value};

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

type Hash = IndexMap<Bytes, Bytes>;

/// Reads an integer config parameter, falling back to Redis's default.
pub(crate) fn config_usize(st: &State, name: &str, default: usize) -> usize {
    st.config().get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Whether Redis would keep this hash as a listpack (iterated in insertion
/// order, scanned in one call). Redis never converts back, so a hash that
/// shrank may really be a hash table; its order is undefined then anyway.
fn is_listpack(st: &State, h: &Hash) -> bool {
    let (entries, value) = (st.config().encoding.hash_entries, st.config().encoding.hash_value);
    h.len() <= entries && h.iter().all(|(f, v)| f.len() <= value && v.len() <= value)
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
        ctx.st.store_entry(db, key, Entry::new(Value::Hash(Hash::new()), ctx.now));
    }
    match ctx.st.entry_mut(db, key) {
        Some(Entry { value: Value::Hash(h), .. }) => Ok(h),
        _ => Err(wrongtype()),
    }
}

/// Signals a write and queues the keyspace event.
fn written(ctx: &mut Ctx<'_>, key: &Bytes, event: &'static str) {
    let db = ctx.db();
    ctx.st.signal_modified(db, key);
    ctx.st.notify(db, 'h', event, key);
}

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        let name = if eq_ic(&args[0], "hset") { "hset" } else { "hmset" };
        return wrong_arity(name);
    }
    let key = &args[1];
    let db = ctx.db();
    let max_value = ctx.st.db(db).limits.hash_value;
    tri!(hash_or_create(ctx, key));
    // Redis converts on any long argument before setting, so a long value
    // overwritten later in the same command still leaves a hashtable.
    if args[2..].iter().any(|a| a.len() > max_value) {
        ctx.st.set_encoding(db, key, EncodingHint::Converted);
    }
    let h = tri!(hash_or_create(ctx, key));
    let mut created = 0;
    for pair in args[2..].chunks(2) {
        if h.insert(keep(&pair[0]), keep(&pair[1])).is_none() {
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
    tri!(hash_or_create(ctx, key)).insert(keep(&args[2]), keep(&args[3]));
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
            ctx.st.remove_entry(db, key);
        }
        written(ctx, key, "hdel");
        if emptied {
            ctx.st.notify(db, 'g', "del", key);
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
    tri!(hash_or_create(ctx, key)).insert(keep(field), Bytes::from(new.to_string()));
    written(ctx, key, "hincrby");
    Reply::Int(new)
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, field) = (&args[1], &args[2]);
    let incr = match longdouble::parse(&args[3]) {
        Some(v) if v.is_inf() => return Reply::error("ERR value is NaN or Infinity"),
        Some(v) => v,
        None => return not_float(),
    };
    let old = match tri!(get_hash(ctx, key, false)).and_then(|h| h.get(field)) {
        // A stored "inf" parses, and any sum with it is infinite.
        Some(v) => match longdouble::parse(v) {
            Some(v) => v,
            None => return Reply::error("ERR hash value is not a float"),
        },
        None => LongDouble::ZERO,
    };
    let sum = match old.add(incr) {
        Some(v) if !v.is_inf() => v,
        _ => return Reply::error("ERR increment would produce NaN or Infinity"),
    };
    let text = Bytes::from(sum.to_human());
    tri!(hash_or_create(ctx, key)).insert(keep(field), text.clone());
    written(ctx, key, "hincrbyfloat");
    Reply::Bulk(text)
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
            tri!(check_paired_count(count));
            true
        }
        _ => return syntax_error(),
    };
    let resp3 = ctx.resp() >= 3;
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
    let picks: Vec<usize> = match tri!(random::plan(&mut st.rng, h.len(), count)) {
        Picks::Repeated(picks) => picks,
        Picks::All => (0..h.len()).collect(),
        Picks::Distinct(k) if is_listpack(st, &h) => random::sample_sorted(&mut st.rng, h.len(), k),
        Picks::Distinct(k) => random::distinct(&mut st.rng, h.len(), k),
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

fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let Some(h) = tri!(get_hash(ctx, &args[1], true)) else { return scan_reply(0, Vec::new()) };
    let h = h.clone();
    let opts = tri!(parse_scan_opts(&args[3..], false));
    let (indexes, next) =
        if is_listpack(ctx.st, &h) { ((0..h.len()).collect(), 0) } else { scan_batch(h.keys(), cursor, opts.count) };
    let mut out = Vec::new();
    for i in indexes {
        let Some((f, v)) = h.get_index(i) else { continue };
        if opts.matches(f) {
            out.push(Reply::Bulk(f.clone()));
            out.push(Reply::Bulk(v.clone()));
        }
    }
    scan_reply(next, out)
}
