//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, the EXPIRE and
//! TTL families, PERSIST, KEYS, SCAN, RENAME(NX), RANDOMKEY, COPY, OBJECT.

use bytes::Bytes;

use super::scan::{parse_scan_opts, scan_reply};
use super::util::{eq_ic, int_arg, syntax_error, tri};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::glob::glob_match;
use crate::store::{EncodingHint, EncodingLimits, Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, &["write"], (1, -1, 1), &["keyspace", "write", "slow"], del),
    cmd("unlink", -2, &["write", "fast"], (1, -1, 1), &["keyspace", "write", "fast"], del),
    cmd("exists", -2, &["readonly", "fast"], (1, -1, 1), &["keyspace", "read", "fast"], exists),
    cmd("type", 2, &["readonly", "fast"], (1, 1, 1), &["keyspace", "read", "fast"], type_),
    cmd("touch", -2, &["readonly", "fast"], (1, -1, 1), &["keyspace", "read", "fast"], touch),
    cmd("expire", -3, &["write", "fast"], (1, 1, 1), &["keyspace", "write", "fast"], expire),
    cmd("pexpire", -3, &["write", "fast"], (1, 1, 1), &["keyspace", "write", "fast"], pexpire),
    cmd("expireat", -3, &["write", "fast"], (1, 1, 1), &["keyspace", "write", "fast"], expireat),
    cmd("pexpireat", -3, &["write", "fast"], (1, 1, 1), &["keyspace", "write", "fast"], pexpireat),
    cmd("ttl", 2, &["readonly", "fast"], (1, 1, 1), &["keyspace", "read", "fast"], ttl),
    cmd("pttl", 2, &["readonly", "fast"], (1, 1, 1), &["keyspace", "read", "fast"], pttl),
    cmd("expiretime", 2, &["readonly", "fast"], (1, 1, 1), &["keyspace", "read", "fast"], expiretime),
    cmd("pexpiretime", 2, &["readonly", "fast"], (1, 1, 1), &["keyspace", "read", "fast"], pexpiretime),
    cmd("persist", 2, &["write", "fast"], (1, 1, 1), &["keyspace", "write", "fast"], persist),
    cmd("keys", 2, &["readonly"], (0, 0, 0), &["keyspace", "read", "slow", "dangerous"], keys),
    cmd("scan", -2, &["readonly"], (0, 0, 0), &["keyspace", "read", "slow"], scan),
    cmd("rename", 3, &["write"], (1, 2, 1), &["keyspace", "write", "slow"], rename),
    cmd("renamenx", 3, &["write", "fast"], (1, 2, 1), &["keyspace", "write", "fast"], renamenx),
    cmd("randomkey", 1, &["readonly"], (0, 0, 0), &["keyspace", "read", "slow"], randomkey),
    cmd("copy", -3, &["write", "denyoom"], (1, 2, 1), &["keyspace", "write", "slow"], copy),
    cmd("move", 3, &["write", "fast"], (1, 1, 1), &["keyspace", "write", "fast"], move_key),
    CommandSpec {
        name: "object",
        arity: -2,
        flags: &[],
        keys: (0, 0, 0),
        acl: &["slow"],
        handler: object_container,
        subcommands: &[
            cmd("object|help", 2, &["loading", "stale"], (0, 0, 0), &["keyspace", "slow"], object_help),
            cmd("object|freq", 3, &["readonly"], (2, 2, 1), &["keyspace", "read", "slow"], object_freq),
            cmd("object|encoding", 3, &["readonly"], (2, 2, 1), &["keyspace", "read", "slow"], object_encoding),
            cmd("object|idletime", 3, &["readonly"], (2, 2, 1), &["keyspace", "read", "slow"], object_idletime),
            cmd("object|refcount", 3, &["readonly"], (2, 2, 1), &["keyspace", "read", "slow"], object_refcount),
        ],
    },
];

/// Redis's `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: expires the key lazily
/// and counts a keyspace hit or miss, but leaves the access time alone
/// (TYPE, TTL, EXISTS and OBJECT must not make a key look recently used).
fn peek<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Option<&'a Entry> {
    let db = ctx.db();
    ctx.st.expire_if_needed(db, key, ctx.now);
    let e = ctx.st.peek(db, key);
    if e.is_some() {
        ctx.st.stats.keyspace_hits += 1;
    } else {
        ctx.st.stats.keyspace_misses += 1;
    }
    ctx.st.peek(db, key)
}

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let mut n = 0;
    for k in &args[1..] {
        if ctx.st.delete(db, k, ctx.now) {
            ctx.st.notify(db, 'g', "del", k);
            n += 1;
        }
    }
    Reply::Int(n)
}

fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let n = args[1..].iter().filter(|k| peek(ctx, k).is_some()).count();
    Reply::Int(n as i64)
}

fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = peek(ctx, &args[1]).map_or("none", |e| e.value.type_name());
    Reply::status(name)
}

fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let n = args[1..].iter().filter(|k| ctx.st.lookup_read(db, k, ctx.now).is_some()).count();
    Reply::Int(n as i64)
}

/// EXPIRE's NX/XX/GT/LT flags.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(args: &[Bytes]) -> Result<ExpireFlags, Reply> {
    let mut f = ExpireFlags::default();
    for a in args {
        if eq_ic(a, "nx") {
            f.nx = true;
        } else if eq_ic(a, "xx") {
            f.xx = true;
        } else if eq_ic(a, "gt") {
            f.gt = true;
        } else if eq_ic(a, "lt") {
            f.lt = true;
        } else {
            let opt = String::from_utf8_lossy(a).replace(['\r', '\n'], " ");
            return Err(Reply::error(format!("ERR Unsupported option {opt}")));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if f.gt && f.lt {
        return Err(Reply::error("ERR GT and LT options at the same time are not compatible"));
    }
    Ok(f)
}

/// Redis's `expireGenericCommand`. `relative` adds the current time;
/// `seconds` scales the argument to milliseconds.
fn expire_generic(ctx: &mut Ctx<'_>, args: &[Bytes], relative: bool, seconds: bool, name: &str) -> Reply {
    let flags = tri!(parse_expire_flags(&args[3..]));
    let mut when = tri!(int_arg(&args[2]));
    let invalid = || Reply::error(format!("ERR invalid expire time in '{name}' command"));
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return invalid();
        }
        when *= 1000;
    }
    let base = if relative { ctx.now as i64 } else { 0 };
    if when > i64::MAX - base {
        return invalid();
    }
    when += base;
    let db = ctx.db();
    let key = &args[1];
    let Some(e) = ctx.st.lookup(db, key, ctx.now) else { return Reply::Int(0) };
    // -1 stands for "no expiry" (an infinite TTL), as in Redis.
    let current = e.expire_at.map_or(-1, |t| t as i64);
    if (flags.nx && current != -1)
        || (flags.xx && current == -1)
        || (flags.gt && (when <= current || current == -1))
        || (flags.lt && current != -1 && when >= current)
    {
        return Reply::Int(0);
    }
    if when <= ctx.now as i64 {
        ctx.st.delete(db, key, ctx.now);
        ctx.st.notify(db, 'g', "del", key);
    } else {
        ctx.st.set_expire(db, key, Some(when as u64));
        ctx.st.notify(db, 'g', "expire", key);
    }
    Reply::Int(1)
}

fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, true, false, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, false, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, false, false, "pexpireat")
}

/// Redis's `ttlGenericCommand`: -2 missing, -1 no expiry, otherwise the
/// remaining (or absolute) time, seconds rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> Reply {
    let now = ctx.now as i64;
    let Some(e) = peek(ctx, key) else { return Reply::Int(-2) };
    let Some(at) = e.expire_at else { return Reply::Int(-1) };
    let at = at as i64;
    let t = if absolute { at } else { at.saturating_sub(now) }.max(0);
    // Rounded in unsigned arithmetic, so times near i64::MAX do not wrap.
    Reply::Int(if ms { t } else { ((t as u64 + 500) / 1000) as i64 })
}

fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], false, false)
}

fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], true, true)
}

fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let key = &args[1];
    match ctx.st.lookup(db, key, ctx.now) {
        Some(e) if e.expire_at.is_some() => {
            ctx.st.set_expire(db, key, None);
            ctx.st.notify(db, 'g', "persist", key);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let pattern = &args[1];
    let all = pattern.as_ref() == b"*";
    let now = ctx.now;
    // Expired keys are skipped but, as in Redis, not deleted here.
    let out = ctx
        .st
        .db(ctx.db())
        .iter()
        .filter(|(k, e)| e.expire_at.is_none_or(|at| at > now) && (all || glob_match(pattern, k, false)))
        .map(|(k, _)| Reply::Bulk(k.clone()))
        .collect();
    Reply::Array(out)
}

fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cursor = tri!(super::scan::parse_cursor(&args[1]));
    let opts = tri!(parse_scan_opts(&args[2..], true));
    let count = opts.count;
    let db = ctx.db();
    // Visit `count` keys in the fixed hash order starting at the cursor; the
    // next cursor is the hash of the first key not visited. Keys that share
    // a hash are never split across calls, so the cursor always advances.
    let mut visited: Vec<Bytes> = Vec::new();
    let mut next = 0u64;
    let mut last_hash = None;
    for (h, k) in ctx.st.db(db).scan_from(cursor) {
        if visited.len() >= count && last_hash != Some(*h) {
            next = *h;
            break;
        }
        last_hash = Some(*h);
        visited.push(k.clone());
    }
    let mut out = Vec::new();
    for k in visited {
        if !opts.matches(&k) {
            continue;
        }
        // Redis looks the type up first (deleting an expired key, which then
        // has type "none") and filters expired keys only after that, by which
        // time the key is gone: so TYPE none returns the keys that just expired.
        let expired = ctx.st.expire_if_needed(db, &k, ctx.now);
        if let Some(t) = &opts.type_filter {
            let name = ctx.st.peek(db, &k).map_or("none", |e| e.value.type_name());
            if !t.eq_ignore_ascii_case(name.as_bytes()) {
                continue;
            }
        } else if expired {
            continue;
        }
        out.push(Reply::Bulk(k));
    }
    scan_reply(next, out)
}

/// Moves the entry at `src` to `dst` (each a db and a key), as RENAME and
/// MOVE do: wakes clients blocked on the destination, signals WATCH on both
/// and raises the `from`/`to` keyspace events. False if `src` is missing.
fn relocate(
    ctx: &mut Ctx<'_>,
    (src_db, src): (usize, &Bytes),
    (dst_db, dst): (usize, &Bytes),
    (from, to): (&'static str, &'static str),
) -> bool {
    let Some(entry) = ctx.st.remove_entry(src_db, src) else { return false };
    // Both operations signal WATCH, and storing wakes clients blocked on `dst`.
    ctx.st.store_entry(dst_db, dst, entry);
    ctx.st.notify(src_db, 'g', from, src);
    ctx.st.notify(dst_db, 'g', to, dst);
    true
}

fn rename_generic(ctx: &mut Ctx<'_>, args: &[Bytes], nx: bool) -> Reply {
    let (src, dst) = (&args[1], &args[2]);
    let db = ctx.db();
    if ctx.st.lookup(db, src, ctx.now).is_none() {
        return Reply::error("ERR no such key");
    }
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::ok() };
    }
    if ctx.st.lookup(db, dst, ctx.now).is_some() {
        if nx {
            return Reply::Int(0);
        }
        ctx.st.remove_entry(db, dst);
    }
    if !relocate(ctx, (db, src), (db, dst), ("rename_from", "rename_to")) {
        return Reply::error("ERR no such key");
    }
    if nx {
        Reply::Int(1)
    } else {
        Reply::ok()
    }
}

fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, true)
}

fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let db = ctx.db();
    // Each expired pick is deleted, so this ends within len + 1 rounds.
    loop {
        let len = ctx.st.db(db).len();
        if len == 0 {
            return Reply::Nil;
        }
        let n = ctx.st.rng.usize(..len);
        let Some(key) = ctx.st.db(db).nth_key(n).cloned() else { return Reply::Nil };
        if !ctx.st.expire_if_needed(db, &key, ctx.now) {
            return Reply::Bulk(key);
        }
    }
}

fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (src, dst) = (&args[1], &args[2]);
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq_ic(&args[i], "replace") {
            replace = true;
        } else if eq_ic(&args[i], "db") && i + 1 < args.len() {
            dst_db = tri!(super::util::db_index(&args[i + 1], ctx.st.db_count()));
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    if src_db == dst_db && src == dst {
        return Reply::error("ERR source and destination objects are the same");
    }
    let now = ctx.now;
    let Some(e) = ctx.st.lookup_read(src_db, src, now) else { return Reply::Int(0) };
    let mut dup = e.clone();
    dup.last_access = now;
    // A duplicated object starts a fresh LFU counter.
    (dup.lfu, dup.lfu_time) = (crate::store::LFU_INIT_VAL, crate::store::lfu_minutes(now));
    // Redis duplicates the object: an int string is then a private object
    // rather than a shared integer.
    if dup.enc == EncodingHint::Natural && matches!(&dup.value, Value::Str(_)) && dup.encoding() == "int" {
        dup.enc = EncodingHint::Unshared;
    }
    if ctx.st.lookup(dst_db, dst, now).is_some() {
        if !replace {
            return Reply::Int(0);
        }
        ctx.st.remove_entry(dst_db, dst);
    }
    ctx.st.store_entry(dst_db, dst, dup);
    ctx.st.notify(dst_db, 'g', "copy_to", dst);
    Reply::Int(1)
}

/// MOVE moves the entry itself (value, TTL, encoding and LRU clock), as
/// Redis moves the object pointer rather than copying it.
fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let src_db = ctx.db();
    let n = tri!(super::util::db_index(&args[2], ctx.st.db_count()));
    let dst_db = n;
    if dst_db == src_db {
        return Reply::error("ERR source and destination objects are the same");
    }
    let now = ctx.now;
    if ctx.st.lookup(src_db, key, now).is_none() || ctx.st.lookup(dst_db, key, now).is_some() {
        return Reply::Int(0);
    }
    Reply::Int(relocate(ctx, (src_db, key), (dst_db, key), ("move_from", "move_to")) as i64)
}

/// Never called: dispatch resolves OBJECT to a subcommand first.
fn object_container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::util::unknown_subcommand("object", args.get(1).map_or(&b""[..], |a| a.as_ref()))
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Array(OBJECT_HELP.iter().map(|l| Reply::status(l)).collect())
}

/// The eviction policy, which decides what OBJECT FREQ/IDLETIME may report.
fn maxmemory_policy(ctx: &Ctx<'_>) -> String {
    ctx.st.config().get("maxmemory-policy").unwrap_or("noeviction").to_ascii_lowercase()
}

/// The compact-encoding thresholds in force (see `Config::encoding`).
pub(crate) fn encoding_limits(ctx: &Ctx<'_>) -> EncodingLimits {
    ctx.st.config().encoding
}

fn object_encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = encoding_limits(ctx);
    match peek(ctx, &args[2]) {
        Some(e) => Reply::bulk(e.encoding_with(&limits)),
        None => Reply::Nil,
    }
}

fn object_refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // Redis stops sharing integer objects under an LRU/LFU maxmemory policy.
    let policy = maxmemory_policy(ctx);
    let maxmemory = ctx.st.config().get("maxmemory").is_some_and(|m| m != "0");
    let shared = !(maxmemory && (policy.contains("lru") || policy.contains("lfu")));
    match peek(ctx, &args[2]) {
        Some(e) => Reply::Int(e.refcount(shared)),
        None => Reply::Nil,
    }
}

/// OBJECT FREQ: the key's LFU counter, decayed to now (without counting
/// this access), under an LFU policy; Redis's error otherwise.
fn object_freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mm = ctx.st.config().mm;
    let now = ctx.now;
    let Some(freq) = peek(ctx, &args[2]).map(|e| crate::engine::evict::lfu_decayed(e, &mm, now)) else {
        return Reply::Nil;
    };
    if !mm.policy.is_lfu() {
        return Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    Reply::Int(i64::from(freq))
}

fn object_idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let lfu = maxmemory_policy(ctx).contains("lfu");
    let now = ctx.now;
    let Some(last) = peek(ctx, &args[2]).map(|e| e.last_access) else { return Reply::Nil };
    if lfu {
        return Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    Reply::Int((now.saturating_sub(last) / 1000) as i64)
}
