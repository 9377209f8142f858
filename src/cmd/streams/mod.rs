//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID here;
//! XREAD and XREADGROUP (blocking ones included) in `read`; the consumer
//! group commands in `groups`; XINFO in `info`. The value itself is
//! `store::stream`.
//!
//! Redis 7.0.15's write rules for streams: XADD, XDEL, XTRIM and a
//! MKSTREAM creation signal the key as modified (WATCH); XSETID and the
//! consumer-group commands change the value without signalling it (they
//! only re-measure its memory share here). XADD and a new stream key wake blocked readers;
//! deleting the key, or XGROUP DESTROY, wakes blocked XREADGROUP clients so
//! they can answer with an error.

mod groups;
mod info;
mod read;

use bytes::Bytes;

use super::util::{eq_ic, parse_i64, syntax_error, tri, wrong_arity, wrongtype};
use super::{cmd, container_cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::stream::{parse_id, NodeLimits, ParsedId, Stream, StreamId, Trim, TrimStrategy};
use crate::store::{Entry, Value};

const W_FAST: &[&str] = &["write", "stream", "fast"];
const W_SLOW: &[&str] = &["write", "stream", "slow"];
const R_SLOW: &[&str] = &["read", "stream", "slow"];
const HELP_FLAGS: &[&str] = &["loading", "stale"];
const HELP_ACL: &[&str] = &["stream", "slow"];

const XGROUP_SUBS: &[CommandSpec] = &[
    cmd("xgroup|create", -5, &["write", "denyoom"], (2, 2, 1), W_SLOW, groups::xgroup),
    cmd("xgroup|createconsumer", 5, &["write", "denyoom"], (2, 2, 1), W_SLOW, groups::xgroup),
    cmd("xgroup|delconsumer", 5, &["write"], (2, 2, 1), W_SLOW, groups::xgroup),
    cmd("xgroup|destroy", 4, &["write"], (2, 2, 1), W_SLOW, groups::xgroup),
    cmd("xgroup|help", 2, HELP_FLAGS, (0, 0, 0), HELP_ACL, groups::xgroup_help),
    cmd("xgroup|setid", -5, &["write"], (2, 2, 1), W_SLOW, groups::xgroup),
];

const XINFO_SUBS: &[CommandSpec] = &[
    cmd("xinfo|consumers", 4, &["readonly"], (2, 2, 1), R_SLOW, info::xinfo_consumers),
    cmd("xinfo|groups", 3, &["readonly"], (2, 2, 1), R_SLOW, info::xinfo_groups),
    cmd("xinfo|help", 2, HELP_FLAGS, (0, 0, 0), HELP_ACL, info::xinfo_help),
    cmd("xinfo|stream", -3, &["readonly"], (2, 2, 1), R_SLOW, info::xinfo_stream),
];

/// The stream commands of Redis 7.0, with their COMMAND INFO metadata.
pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("xadd", -5, &["write", "denyoom", "fast"], (1, 1, 1), W_FAST, xadd),
    cmd("xlen", 2, &["readonly", "fast"], (1, 1, 1), &["read", "stream", "fast"], xlen),
    cmd("xrange", -4, &["readonly"], (1, 1, 1), R_SLOW, xrange),
    cmd("xrevrange", -4, &["readonly"], (1, 1, 1), R_SLOW, xrevrange),
    cmd("xdel", -3, &["write", "fast"], (1, 1, 1), W_FAST, xdel),
    cmd("xtrim", -4, &["write"], (1, 1, 1), W_SLOW, xtrim),
    cmd("xsetid", -3, &["write", "denyoom", "fast"], (1, 1, 1), W_FAST, xsetid),
    cmd(
        "xread",
        -4,
        &["readonly", "blocking", "movablekeys"],
        (0, 0, 0),
        &["read", "stream", "slow", "blocking"],
        read::xread,
    ),
    cmd(
        "xreadgroup",
        -7,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        &["write", "stream", "slow", "blocking"],
        read::xreadgroup,
    ),
    cmd("xack", -4, &["write", "fast"], (1, 1, 1), W_FAST, groups::xack),
    cmd("xpending", -3, &["readonly"], (1, 1, 1), R_SLOW, groups::xpending),
    cmd("xclaim", -6, &["write", "fast"], (1, 1, 1), W_FAST, groups::xclaim),
    cmd("xautoclaim", -6, &["write", "fast"], (1, 1, 1), W_FAST, groups::xautoclaim),
    container_cmd("xgroup", unknown_sub, XGROUP_SUBS),
    container_cmd("xinfo", unknown_sub, XINFO_SUBS),
];

/// Never called: dispatch resolves a container to a subcommand first.
fn unknown_sub(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    super::util::unknown_subcommand(&name, args.get(1).map_or(&b""[..], |a| a.as_ref()))
}

/// `ERR Invalid stream ID specified as stream command argument`.
pub(super) fn invalid_id() -> Reply {
    Reply::error("ERR Invalid stream ID specified as stream command argument")
}

/// An error built from text and argument bytes, with CR/LF made spaces as
/// Redis's `addReplyErrorFormat` does (key and group names are arbitrary bytes).
pub(super) fn error_bytes(parts: &[&[u8]]) -> Reply {
    let mut v: Vec<u8> = parts.concat();
    for c in &mut v {
        if matches!(*c, b'\r' | b'\n') {
            *c = b' ';
        }
    }
    Reply::Error(Bytes::from(v))
}

/// Redis's `addReplySubcommandSyntaxError` for XGROUP/XINFO.
pub(super) fn subcommand_syntax_error(args: &[Bytes]) -> Reply {
    let sub = &args[1][..args[1].len().min(128)];
    let container = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    error_bytes(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        sub,
        format!("'. Try {container} HELP.").as_bytes(),
    ])
}

/// A strict ID (`-`/`+` refused, missing seq 0), as most arguments are.
pub(super) fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    parse_id(arg, 0, true, false).map(|p| p.id).ok_or_else(invalid_id)
}

/// `streamParseIntervalIDOrReply`: an ID, `-`/`+`, or `(ID` for an
/// exclusive bound (strict then); returns the ID and whether it is exclusive.
pub(super) fn interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Reply> {
    if arg.len() > 1 && arg[0] == b'(' {
        let p = parse_id(&arg[1..], missing_seq, true, false).ok_or_else(invalid_id)?;
        return Ok((p.id, true));
    }
    parse_id(arg, missing_seq, false, false).map(|p| (p.id, false)).ok_or_else(invalid_id)
}

/// The start of an interval, moved past an exclusive bound.
pub(super) fn interval_start(arg: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = interval_id(arg, 0)?;
    if ex {
        return id.incr().ok_or_else(|| Reply::error("ERR invalid start ID for the interval"));
    }
    Ok(id)
}

/// The end of an interval, moved before an exclusive bound.
pub(super) fn interval_end(arg: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = interval_id(arg, u64::MAX)?;
    if ex {
        return id.decr().ok_or_else(|| Reply::error("ERR invalid end ID for the interval"));
    }
    Ok(id)
}

/// `getLongLongFromObjectOrReply` without a custom message.
pub(super) fn long_arg(arg: &[u8]) -> Result<i64, Reply> {
    super::util::int_arg(arg)
}

/// `getLongLongFromObjectOrReply` with its own message.
pub(super) fn long_arg_msg(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(msg))
}

/// An ID as a bulk string.
pub(super) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// One entry as Redis replies with it: `[id, [field, value, ...]]`.
pub(super) fn entry_reply(id: StreamId, fields: &[Bytes]) -> Reply {
    Reply::Array(vec![id_reply(id), Reply::Array(fields.iter().map(|f| Reply::Bulk(f.clone())).collect())])
}

/// The stream at `key` for a read command (counts a keyspace hit or miss):
/// `Ok(None)` when missing, WRONGTYPE for another type.
pub(super) fn stream_read<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Stream>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup_read(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::Stream(s), .. }) => Ok(Some(s)),
        Some(_) => Err(wrongtype()),
    }
}

/// Like [`stream_read`] for a write command (no hit/miss counting).
pub(super) fn stream_write<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Stream>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::Stream(s), .. }) => Ok(Some(s)),
        Some(_) => Err(wrongtype()),
    }
}

/// Re-measures a stream's memory share after a change that Redis does not
/// signal as a modification (consumer-group bookkeeping).
pub(super) fn reaccount(ctx: &mut Ctx<'_>, key: &[u8]) {
    let db = ctx.db();
    ctx.st.remeasure(db, key);
}

/// `stream-node-max-bytes` and `stream-node-max-entries` as configured.
fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    let get = |n: &str, d: u64| ctx.st.config().get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
    NodeLimits { max_bytes: get("stream-node-max-bytes", 4096), max_entries: get("stream-node-max-entries", 100) }
}

/// What XADD and XTRIM parsed (`streamParseAddOrTrimArgsOrReply`).
struct AddTrim {
    trim: Option<Trim>,
    nomkstream: bool,
    /// The explicit ID (XADD; `None` for `*`).
    id: Option<ParsedId>,
    /// Where the ID is (XADD; the fields follow it).
    id_pos: usize,
}

/// Parses XADD's options up to the ID, or XTRIM's options, in Redis's order
/// and with its errors.
fn parse_add_trim(ctx: &Ctx<'_>, args: &[Bytes], xadd: bool) -> Result<AddTrim, Reply> {
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut out = AddTrim { trim: None, nomkstream: false, id: None, id_pos: args.len() };
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            out.id_pos = i;
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(Reply::error(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let value = &args[i + 1];
            strategy = Some(if eq_ic(opt, "maxlen") {
                let n = long_arg(value)?;
                if n < 0 {
                    return Err(Reply::error("ERR The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(n as u64)
            } else {
                TrimStrategy::MinId(strict_id(value)?)
            });
            i += 1;
        } else if eq_ic(opt, "limit") && more > 0 {
            limit = long_arg(&args[i + 1])?;
            if limit < 0 {
                return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            out.nomkstream = true;
        } else if xadd {
            out.id = Some(parse_id(opt, 0, true, true).ok_or_else(invalid_id)?);
            out.id_pos = i;
            break;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    if limit != 0 && strategy.is_none() {
        return Err(Reply::error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && strategy.is_none() {
        return Err(Reply::error("ERR syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit_given {
        if !approx {
            return Err(Reply::error("ERR syntax error, LIMIT cannot be used without the special ~ option"));
        }
    } else if approx {
        let per_node = node_limits(ctx).max_entries as i64;
        limit = per_node.saturating_mul(100);
        if limit <= 0 || limit > 1_000_000 {
            limit = 1_000_000;
        }
    } else {
        limit = 0;
    }
    out.trim = strategy.map(|strategy| Trim { strategy, approx, limit: limit as u64 });
    Ok(out)
}

fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let parsed = tri!(parse_add_trim(ctx, args, true));
    let field_pos = parsed.id_pos + 1;
    if args.len() < field_pos + 2 || (args.len() - field_pos) % 2 == 1 {
        return wrong_arity("xadd");
    }
    if let Some(p) = parsed.id {
        if !p.seq_auto && p.id.is_zero() {
            return Reply::error("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let key = &args[1];
    let (db, now) = (ctx.db(), ctx.now);
    let limits = node_limits(ctx);
    if tri!(stream_write(ctx, key)).is_none() {
        if parsed.nomkstream {
            return Reply::Nil;
        }
        ctx.st.set_value(db, key, Value::Stream(Box::new(Stream::new())), now);
    }
    let Some(Entry { value: Value::Stream(s), .. }) = ctx.st.entry_mut(db, key) else {
        return wrongtype();
    };
    if s.last_id == StreamId::MAX {
        return Reply::error("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let smaller = || Reply::error("ERR The ID specified in XADD is equal or smaller than the target stream top item");
    let id = match parsed.id {
        None => {
            if now > s.last_id.ms {
                StreamId::new(now, 0)
            } else {
                match s.last_id.incr() {
                    Some(id) => id,
                    None => return smaller(),
                }
            }
        }
        Some(ParsedId { id, seq_auto: true }) if id.ms == s.last_id.ms => {
            if s.last_id.seq == u64::MAX {
                return smaller();
            }
            StreamId::new(id.ms, s.last_id.seq + 1)
        }
        Some(p) => p.id,
    };
    if id <= s.last_id {
        return smaller();
    }
    s.append(id, &args[field_pos..], limits);
    let trimmed = parsed.trim.map_or(0, |t| s.trim(&t));
    ctx.st.signal_modified(db, key);
    ctx.st.notify(db, 't', "xadd", key);
    if trimmed > 0 {
        ctx.st.notify(db, 't', "xtrim", key);
    }
    ctx.st.signal_ready(db, key);
    id_reply(id)
}

fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(stream_read(ctx, &args[1])).map_or(0, |s| s.len() as i64))
}

fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, true)
}

/// XRANGE/XREVRANGE: bounds, then COUNT, then the key (COUNT 0 on an
/// existing key is a null array, as in Redis 7.0).
fn range_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Reply {
    let (start_arg, end_arg) = if rev { (&args[3], &args[2]) } else { (&args[2], &args[3]) };
    let start = tri!(interval_start(start_arg));
    let end = tri!(interval_end(end_arg));
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(&args[j], "count") && j + 1 < args.len() {
            count = tri!(long_arg(&args[j + 1])).max(0);
            j += 2;
        } else {
            return syntax_error();
        }
    }
    let Some(s) = tri!(stream_read(ctx, &args[1])) else { return Reply::Array(vec![]) };
    if count == 0 {
        return Reply::NilArray;
    }
    let limit = if count < 0 { usize::MAX } else { count as usize };
    Reply::Array(s.range(start, end, rev).take(limit).map(|(id, f)| entry_reply(id, f)).collect())
}

fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    if tri!(stream_write(ctx, key)).is_none() {
        return Reply::Int(0);
    }
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        ids.push(tri!(strict_id(a)));
    }
    let db = ctx.db();
    let Some(s) = tri!(stream_write(ctx, key)) else { return Reply::Int(0) };
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        ctx.st.signal_modified(db, key);
        ctx.st.notify(db, 't', "xdel", key);
    }
    Reply::Int(deleted as i64)
}

fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    if tri!(stream_write(ctx, key)).is_none() {
        return Reply::Int(0);
    }
    let parsed = tri!(parse_add_trim(ctx, args, false));
    let db = ctx.db();
    let Some(s) = tri!(stream_write(ctx, key)) else { return Reply::Int(0) };
    let deleted = parsed.trim.map_or(0, |t| s.trim(&t));
    if deleted > 0 {
        ctx.st.notify(db, 't', "xtrim", key);
        ctx.st.signal_modified(db, key);
    }
    Reply::Int(deleted as i64)
}

fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let id = tri!(strict_id(&args[2]));
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::ZERO;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq_ic(&args[i], "entriesadded") && more {
            entries_added = tri!(long_arg(&args[i + 1]));
            if entries_added < 0 {
                return Reply::error("ERR entries_added must be positive");
            }
        } else if eq_ic(&args[i], "maxdeletedid") && more {
            max_deleted = tri!(strict_id(&args[i + 1]));
            if id < max_deleted {
                return Reply::error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
        } else {
            return syntax_error();
        }
        i += 2;
    }
    let key = &args[1];
    let db = ctx.db();
    let Some(s) = tri!(stream_write(ctx, key)) else { return Reply::error("ERR no such key") };
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Reply::error("ERR The ID specified in XSETID is smaller than the target stream top item");
        }
        if entries_added != -1 && s.len() as u64 > entries_added as u64 {
            return Reply::error("ERR The entries_added specified in XSETID is smaller than the target stream length");
        }
    }
    // 7.0.15 does not compare the ID with the current max-deleted-entry-id.
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        s.max_deleted = max_deleted;
    }
    // 7.0.15 raises the event but does not signal the key (WATCH holds).
    reaccount(ctx, key);
    ctx.st.notify(db, 't', "xsetid", key);
    Reply::ok()
}

#[cfg(test)]
mod tests;
