//! String commands: GET, SET and its variants, MGET/MSET, GETEX/GETDEL,
//! APPEND, STRLEN, the INCR family, INCRBYFLOAT, GETRANGE/SETRANGE and LCS.
//!
//! Argument checks run in the order Redis 7.0 runs them, because the order
//! decides which error a client sees when several things are wrong.

use bytes::{Bytes, BytesMut};

use super::util::{eq_ic, int_arg, not_float, not_integer, parse_i64, syntax_error, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::num::longdouble::{self, LongDouble};
use crate::protocol::Reply;
use crate::store::{keep, EncodingHint, Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, &["readonly", "fast"], (1, 1, 1), &["read", "string", "fast"], get),
    cmd("set", -3, &["write", "denyoom"], (1, 1, 1), &["write", "string", "slow"], set),
    cmd("setnx", 3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], setnx),
    cmd("setex", 4, &["write", "denyoom"], (1, 1, 1), &["write", "string", "slow"], setex),
    cmd("psetex", 4, &["write", "denyoom"], (1, 1, 1), &["write", "string", "slow"], psetex),
    cmd("mget", -2, &["readonly", "fast"], (1, -1, 1), &["read", "string", "fast"], mget),
    cmd("mset", -3, &["write", "denyoom"], (1, -1, 2), &["write", "string", "slow"], mset),
    cmd("msetnx", -3, &["write", "denyoom"], (1, -1, 2), &["write", "string", "slow"], msetnx),
    cmd("getset", 3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], getset),
    cmd("getdel", 2, &["write", "fast"], (1, 1, 1), &["write", "string", "fast"], getdel),
    cmd("getex", -2, &["write", "fast"], (1, 1, 1), &["write", "string", "fast"], getex),
    cmd("append", 3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], append),
    cmd("strlen", 2, &["readonly", "fast"], (1, 1, 1), &["read", "string", "fast"], strlen),
    cmd("incr", 2, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], incr),
    cmd("decr", 2, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], decr),
    cmd("incrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], incrby),
    cmd("decrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], decrby),
    cmd("incrbyfloat", 3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "string", "fast"], incrbyfloat),
    cmd("getrange", 4, &["readonly"], (1, 1, 1), &["read", "string", "slow"], getrange),
    cmd("substr", 4, &["readonly"], (1, 1, 1), &["read", "string", "slow"], getrange),
    cmd("setrange", 4, &["write", "denyoom"], (1, 1, 1), &["write", "string", "slow"], setrange),
    cmd("lcs", -3, &["readonly"], (1, 2, 1), &["read", "string", "slow"], lcs),
];

/// Reads a string value: Ok(None) if missing, Err(WRONGTYPE) if not a string.
pub(crate) fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup_read(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::Str(s), .. }) => Ok(Some(s.clone())),
        Some(_) => Err(wrongtype()),
    }
}

/// Like [`read_string`] for a write command (no hit/miss statistics, as
/// Redis's `lookupKeyWrite`).
fn write_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::Str(s), .. }) => Ok(Some(s.clone())),
        Some(_) => Err(wrongtype()),
    }
}

/// `ERR invalid expire time in '<cmd>' command`.
fn invalid_expire(cmd: &str) -> Reply {
    Reply::error(format!("ERR invalid expire time in '{cmd}' command"))
}

/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)` when a
/// string would grow past `proto-max-bulk-len` (Redis's `checkStringLength`).
fn check_string_length(ctx: &Ctx<'_>, size: u64, append: u64) -> Result<(), Reply> {
    match size.checked_add(append) {
        Some(total) if total <= ctx.st.config().max_bulk_len() => Ok(()),
        _ => Err(Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
    }
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::from(tri!(read_string(ctx, &args[1])))
}

/// The expiry option of SET/GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Options of SET (and the subset GETEX takes), parsed as Redis's
/// `parseExtendedStringArgumentsOrReply`: a repeated option is allowed, a
/// conflicting one is a syntax error.
#[derive(Default)]
struct StringOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a Bytes)>,
}

fn parse_string_opts(args: &[Bytes], start: usize, is_set: bool) -> Result<StringOpts<'_>, Reply> {
    let mut o = StringOpts::default();
    let mut i = start;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let kind = o.expire.map(|(k, _)| k);
        let other_expire = |k: ExpireKind| kind.is_some_and(|cur| cur != k);
        let expire_kind = if eq_ic(a, "ex") {
            Some(ExpireKind::Ex)
        } else if eq_ic(a, "px") {
            Some(ExpireKind::Px)
        } else if eq_ic(a, "exat") {
            Some(ExpireKind::ExAt)
        } else if eq_ic(a, "pxat") {
            Some(ExpireKind::PxAt)
        } else {
            None
        };
        if is_set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ic(a, "get") {
            o.get = true;
        } else if is_set && eq_ic(a, "keepttl") && !o.persist && kind.is_none() {
            o.keepttl = true;
        } else if !is_set && eq_ic(a, "persist") && kind.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(k), Some(next)) = (expire_kind, next) {
            if o.keepttl || o.persist || other_expire(k) {
                return Err(syntax_error());
            }
            o.expire = Some((k, next));
            i += 1;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    Ok(o)
}

/// The absolute expiry in unix ms for an EX/PX/EXAT/PXAT argument, with
/// Redis's checks: not positive, or overflowing once converted, is invalid.
fn expire_at_ms(ctx: &Ctx<'_>, kind: ExpireKind, arg: &[u8], cmd: &str) -> Result<u64, Reply> {
    let n = int_arg(arg)?;
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid_expire(cmd));
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if matches!(kind, ExpireKind::Ex | ExpireKind::Px) {
        // Redis adds the current time in C and checks for a wrapped result.
        ms = ms.wrapping_add(ctx.now as i64);
    }
    if ms <= 0 {
        return Err(invalid_expire(cmd));
    }
    Ok(ms as u64)
}

/// Redis's `setKey`: stores a string from a client argument (fresh object,
/// natural encoding), with TTL `expire` (unix ms), or the old one when
/// `keep_ttl`, or none.
fn store_string(ctx: &mut Ctx<'_>, key: &Bytes, val: &Bytes, keep_ttl: bool, expire: Option<u64>) {
    let db = ctx.db();
    // Redis looks the key up first, so an expired old value is reclaimed
    // (and its "expired" event sent) before the new one is stored.
    ctx.st.expire_if_needed(db, key, ctx.now);
    let old_expire = if keep_ttl { ctx.st.peek(db, key).and_then(|e| e.expire_at) } else { None };
    ctx.st.set_value_expiring(db, key, Value::Str(keep(val)), expire.or(old_expire), ctx.now);
}

/// Redis's `setGenericCommand`, shared by SET, SETNX, SETEX and PSETEX.
/// Returns `None` when the value was written, or the abort reply.
fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    val: &Bytes,
    opts: &StringOpts<'_>,
    cmd: &str,
) -> Result<(Option<Bytes>, bool), Reply> {
    let expire = match opts.expire {
        Some((kind, arg)) => Some(expire_at_ms(ctx, kind, arg, cmd)?),
        None => None,
    };
    let old = if opts.get { read_string(ctx, key)? } else { None };
    let db = ctx.db();
    let found = ctx.st.lookup(db, key, ctx.now).is_some();
    if (opts.nx && found) || (opts.xx && !found) {
        return Ok((old, false));
    }
    // A time already past is kept as is: Redis 7.0 lets lazy or active
    // expiry reclaim the key rather than deleting it here.
    store_string(ctx, key, val, opts.keepttl, expire);
    ctx.st.notify(db, '$', "set", key);
    if expire.is_some() {
        ctx.st.notify(db, 'g', "expire", key);
    }
    Ok((old, true))
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let opts = tri!(parse_string_opts(args, 3, true));
    let (old, written) = tri!(set_generic(ctx, &args[1], &args[2], &opts, "set"));
    if opts.get {
        Reply::from(old)
    } else if written {
        Reply::ok()
    } else {
        Reply::Nil
    }
}

fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let opts = StringOpts { nx: true, ..StringOpts::default() };
    let (_, written) = tri!(set_generic(ctx, &args[1], &args[2], &opts, "setnx"));
    Reply::Int(written as i64)
}

fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let opts = StringOpts { expire: Some((ExpireKind::Ex, &args[2])), ..StringOpts::default() };
    tri!(set_generic(ctx, &args[1], &args[3], &opts, "setex"));
    Reply::ok()
}

fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let opts = StringOpts { expire: Some((ExpireKind::Px, &args[2])), ..StringOpts::default() };
    tri!(set_generic(ctx, &args[1], &args[3], &opts, "psetex"));
    Reply::ok()
}

fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let out = args[1..]
        .iter()
        .map(|k| match ctx.st.lookup_read(db, k, ctx.now) {
            Some(Entry { value: Value::Str(s), .. }) => Reply::Bulk(s.clone()),
            _ => Reply::Nil,
        })
        .collect();
    Reply::Array(out)
}

fn mset_generic(ctx: &mut Ctx<'_>, args: &[Bytes], nx: bool) -> Reply {
    if args.len().is_multiple_of(2) {
        return super::util::wrong_arity(if nx { "msetnx" } else { "mset" });
    }
    let db = ctx.db();
    if nx && args[1..].chunks(2).any(|kv| ctx.st.lookup(db, &kv[0], ctx.now).is_some()) {
        return Reply::Int(0);
    }
    for kv in args[1..].chunks(2) {
        store_string(ctx, &kv[0], &kv[1], false, None);
        ctx.st.notify(db, '$', "set", &kv[0]);
    }
    if nx {
        Reply::Int(1)
    } else {
        Reply::ok()
    }
}

fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    mset_generic(ctx, args, false)
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    mset_generic(ctx, args, true)
}

fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let old = tri!(read_string(ctx, &args[1]));
    store_string(ctx, &args[1], &args[2], false, None);
    ctx.st.notify(ctx.db(), '$', "set", &args[1]);
    Reply::from(old)
}

fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let old = tri!(read_string(ctx, &args[1]));
    if old.is_some() {
        let db = ctx.db();
        ctx.st.delete(db, &args[1], ctx.now);
        ctx.st.notify(db, 'g', "del", &args[1]);
    }
    Reply::from(old)
}

fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let opts = tri!(parse_string_opts(args, 2, false));
    let key = &args[1];
    let Some(val) = tri!(read_string(ctx, key)) else { return Reply::Nil };
    let expire = match opts.expire {
        Some((kind, arg)) => Some((kind, tri!(expire_at_ms(ctx, kind, arg, "getex")))),
        None => None,
    };
    let db = ctx.db();
    match expire {
        Some((ExpireKind::ExAt | ExpireKind::PxAt, at)) if at <= ctx.now => {
            // An absolute time already past deletes the key at once.
            ctx.st.delete(db, key, ctx.now);
            ctx.st.notify(db, 'g', "del", key);
        }
        Some((_, at)) => {
            ctx.st.set_expire(db, key, Some(at));
            ctx.st.notify(db, 'g', "expire", key);
        }
        None if opts.persist && ctx.st.peek(db, key).is_some_and(|e| e.expire_at.is_some()) => {
            ctx.st.set_expire(db, key, None);
            ctx.st.notify(db, 'g', "persist", key);
        }
        None => {}
    }
    Reply::Bulk(val)
}

fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, tail) = (&args[1], &args[2]);
    let db = ctx.db();
    let len = match tri!(write_string(ctx, key)) {
        None => {
            ctx.st.set_value(db, key, Value::Str(keep(tail)), ctx.now);
            tail.len()
        }
        Some(old) => {
            tri!(check_string_length(ctx, old.len() as u64, tail.len() as u64));
            let mut buf = BytesMut::with_capacity(old.len() + tail.len());
            buf.extend_from_slice(&old);
            buf.extend_from_slice(tail);
            let len = buf.len();
            if let Some(e) = ctx.st.entry_mut(db, key) {
                e.value = Value::Str(buf.freeze());
                e.enc = EncodingHint::Raw;
            }
            ctx.st.signal_modified(db, key);
            len
        }
    };
    ctx.st.notify(db, '$', "append", key);
    Reply::Int(len as i64)
}

fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(read_string(ctx, &args[1])).map_or(0, |s| s.len() as i64))
}

/// Replaces a string in place (keeping its TTL) or creates it, as Redis's
/// `dbOverwrite`/`dbAdd` after computing a new value.
pub(crate) fn overwrite_string(ctx: &mut Ctx<'_>, key: &Bytes, val: Bytes, enc: EncodingHint) {
    let db = ctx.db();
    match ctx.st.entry_mut(db, key) {
        Some(e) => {
            e.value = Value::Str(val);
            e.enc = enc;
            e.last_access = ctx.now;
            ctx.st.signal_modified(db, key);
        }
        None => {
            ctx.st.set_value(db, key, Value::Str(val), ctx.now);
            ctx.st.set_encoding(db, key, enc);
        }
    }
}

fn incr_decr(ctx: &mut Ctx<'_>, key: &Bytes, by: i64) -> Reply {
    let old = tri!(write_string(ctx, key));
    let cur = match old {
        None => 0,
        Some(s) => match parse_i64(&s) {
            Some(n) => n,
            None => return not_integer(),
        },
    };
    let Some(new) = cur.checked_add(by) else {
        return Reply::error("ERR increment or decrement would overflow");
    };
    overwrite_string(ctx, key, Bytes::from(new.to_string()), EncodingHint::Natural);
    ctx.st.notify(ctx.db(), '$', "incrby", key);
    Reply::Int(new)
}

fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    incr_decr(ctx, &args[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    incr_decr(ctx, &args[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let by = tri!(int_arg(&args[2]));
    incr_decr(ctx, &args[1], by)
}

fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let by = tri!(int_arg(&args[2]));
    if by == i64::MIN {
        return Reply::error("ERR decrement would overflow");
    }
    incr_decr(ctx, &args[1], -by)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let old = tri!(write_string(ctx, key));
    let cur = match old {
        None => LongDouble::ZERO,
        Some(s) => match longdouble::parse(&s) {
            Some(v) => v,
            None => return not_float(),
        },
    };
    let Some(by) = longdouble::parse(&args[2]) else { return not_float() };
    let sum = match cur.add(by) {
        Some(v) if !v.is_inf() => v,
        _ => return Reply::error("ERR increment would produce NaN or Infinity"),
    };
    let text = Bytes::from(sum.to_human());
    overwrite_string(ctx, key, text.clone(), EncodingHint::NoInt);
    ctx.st.notify(ctx.db(), '$', "incrbyfloat", key);
    Reply::Bulk(text)
}

fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut start = tri!(int_arg(&args[2]));
    let mut end = tri!(int_arg(&args[3]));
    let Some(s) = tri!(read_string(ctx, &args[1])) else { return Reply::Bulk(Bytes::new()) };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Reply::Bulk(Bytes::new());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Reply::Bulk(Bytes::new());
    }
    Reply::Bulk(s.slice(start as usize..=end as usize))
}

fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, value) = (&args[1], &args[3]);
    let offset = tri!(int_arg(&args[2]));
    if offset < 0 {
        return Reply::error("ERR offset is out of range");
    }
    let offset = offset as u64;
    let db = ctx.db();
    let old = tri!(write_string(ctx, key));
    let base = match old {
        None => {
            if value.is_empty() {
                return Reply::Int(0);
            }
            tri!(check_string_length(ctx, offset, value.len() as u64));
            Bytes::new()
        }
        Some(old) => {
            if value.is_empty() {
                return Reply::Int(old.len() as i64);
            }
            tri!(check_string_length(ctx, offset, value.len() as u64));
            old
        }
    };
    // Bounded by proto-max-bulk-len just above.
    let offset = offset as usize;
    let new_len = base.len().max(offset + value.len());
    let mut buf = BytesMut::with_capacity(new_len);
    buf.extend_from_slice(&base);
    buf.resize(new_len, 0);
    buf[offset..offset + value.len()].copy_from_slice(value);
    overwrite_string(ctx, key, buf.freeze(), EncodingHint::Raw);
    ctx.st.notify(db, '$', "setrange", key);
    Reply::Int(new_len as i64)
}

/// LCS options.
struct LcsOpts {
    idx: bool,
    len: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let mut strings = [Bytes::new(), Bytes::new()];
    let mut bad_type = false;
    for (i, key) in args[1..3].iter().enumerate() {
        match ctx.st.lookup_read(db, key, ctx.now) {
            Some(Entry { value: Value::Str(s), .. }) => strings[i] = s.clone(),
            Some(_) => bad_type = true,
            None => {}
        }
    }
    if bad_type {
        return Reply::error("ERR The specified keys must contain string values");
    }
    let mut o = LcsOpts { idx: false, len: false, with_match_len: false, min_match_len: 0 };
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "idx") {
            o.idx = true;
        } else if eq_ic(a, "len") {
            o.len = true;
        } else if eq_ic(a, "withmatchlen") {
            o.with_match_len = true;
        } else if eq_ic(a, "minmatchlen") && i + 1 < args.len() {
            o.min_match_len = tri!(int_arg(&args[i + 1])).max(0) as u64;
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    if o.idx && o.len {
        return Reply::error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (a, b) = (&strings[0], &strings[1]);
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.st.config().max_bulk_len() {
        return Reply::error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    lcs_reply(a, b, &o)
}

/// The classic dynamic-programming LCS, walked back from the end the way
/// Redis walks it (on a tie it moves along `b`), so that the reported match
/// ranges are the same ones Redis reports.
fn lcs_reply(a: &[u8], b: &[u8], o: &LcsOpts) -> Reply {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut dp = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    if o.len && !o.idx {
        return Reply::Int(total as i64);
    }
    let mut result = vec![0u8; total as usize];
    let mut matches = Vec::new();
    // Current range as (a_start, a_end, b_start, b_end), open while Some.
    let mut range: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j, mut k) = (alen, blen, total as usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[k - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                Some(r) => {
                    if r.0 == i && r.2 == j {
                        r.0 -= 1;
                        r.2 -= 1;
                    } else {
                        emit = true;
                    }
                }
            }
            if range.is_some_and(|r| r.0 == 0 || r.2 == 0) {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some((as_, ae, bs, be)) = range.take() {
                let match_len = (ae - as_ + 1) as u64;
                if o.min_match_len == 0 || match_len >= o.min_match_len {
                    let mut item = vec![
                        Reply::Array(vec![Reply::Int(as_ as i64), Reply::Int(ae as i64)]),
                        Reply::Array(vec![Reply::Int(bs as i64), Reply::Int(be as i64)]),
                    ];
                    if o.with_match_len {
                        item.push(Reply::Int(match_len as i64));
                    }
                    matches.push(Reply::Array(item));
                }
            }
        }
    }
    if o.idx {
        Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Int(total as i64)),
        ])
    } else {
        Reply::Bulk(Bytes::from(result))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::cmd::{dispatch, ConnState};
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;
    use crate::engine::state::State;

    /// Runs commands against a state holding a list under `l` (no other
    /// command group is needed to create one).
    fn with_list(cmds: &[&[&str]]) -> Vec<Reply> {
        let mut st =
            State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table());
        let clock = Clock::paused_at(1_700_000_000_000);
        st.store_entry(0, &Bytes::from_static(b"l"), Entry::new(Value::List(VecDeque::from([Bytes::from("a")])), 0));
        let mut conn = ConnState::new(1, true);
        cmds.iter()
            .map(|args| {
                let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
                let mut ctx = Ctx { st: &mut st, conn: &mut conn, now: clock.now_ms(), clock: &clock };
                dispatch(&mut ctx, &args)
            })
            .collect()
    }

    #[test]
    fn string_commands_refuse_other_types() {
        let cmds: &[&[&str]] = &[
            &["GET", "l"],
            &["SET", "l", "v", "GET"],
            &["SET", "l", "v", "NX", "GET"],
            &["GETSET", "l", "v"],
            &["GETDEL", "l"],
            &["GETEX", "l"],
            &["GETEX", "l", "EX", "abc"],
            &["APPEND", "l", "x"],
            &["STRLEN", "l"],
            &["INCR", "l"],
            &["DECR", "l"],
            &["INCRBY", "l", "1"],
            &["DECRBY", "l", "1"],
            &["INCRBYFLOAT", "l", "1"],
            &["INCRBYFLOAT", "l", "abc"],
            &["GETRANGE", "l", "0", "1"],
            &["SUBSTR", "l", "0", "1"],
            &["SETRANGE", "l", "0", "x"],
            &["SETRANGE", "l", "0", ""],
        ];
        for (args, r) in cmds.iter().zip(with_list(cmds)) {
            assert_eq!(r, wrongtype(), "{args:?}");
        }
    }

    #[test]
    fn argument_errors_come_before_the_type_check() {
        let cmds: &[&[&str]] = &[
            &["INCRBY", "l", "abc"],
            &["DECRBY", "l", "-9223372036854775808"],
            &["GETRANGE", "l", "a", "1"],
            &["GETEX", "l", "foo"],
            &["SET", "l", "v", "EX", "0", "GET"],
            &["SETRANGE", "l", "-1", "x"],
        ];
        let got = with_list(cmds);
        assert_eq!(got[0], not_integer());
        assert_eq!(got[1], Reply::error("ERR decrement would overflow"));
        assert_eq!(got[2], not_integer());
        assert_eq!(got[3], syntax_error());
        assert_eq!(got[4], Reply::error("ERR invalid expire time in 'set' command"));
        assert_eq!(got[5], Reply::error("ERR offset is out of range"));
    }

    #[test]
    fn other_types_in_multi_key_and_overwriting_commands() {
        let got = with_list(&[
            &["MGET", "l", "nokey"],
            &["LCS", "l", "nokey"],
            &["SETNX", "l", "v"],
            &["MSETNX", "l", "v", "x", "y"],
            &["TYPE", "l"],
            &["OBJECT", "ENCODING", "l"],
            &["SET", "l", "v", "XX"],
            &["TYPE", "l"],
            &["GET", "l"],
        ]);
        assert_eq!(got[0], Reply::Array(vec![Reply::Nil, Reply::Nil]));
        assert_eq!(got[1], Reply::error("ERR The specified keys must contain string values"));
        assert_eq!(got[2], Reply::Int(0));
        assert_eq!(got[3], Reply::Int(0));
        assert_eq!(got[4], Reply::status("list"));
        assert_eq!(got[5], Reply::bulk("quicklist"));
        assert_eq!(got[6], Reply::ok());
        assert_eq!(got[7], Reply::status("string"));
        assert_eq!(got[8], Reply::bulk("v"));
    }
}
