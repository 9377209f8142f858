//! Consumer-group commands: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER,
//! DELCONSUMER, HELP), XACK, XPENDING, XCLAIM and XAUTOCLAIM, with Redis
//! 7.0's argument order, errors and PEL rules.

use bytes::Bytes;

use super::{
    entry_reply, error_bytes, id_reply, interval_end, interval_start, long_arg, long_arg_msg, reaccount, stream_read,
    stream_write, strict_id, subcommand_syntax_error,
};
use crate::cmd::server::help_reply;
use crate::cmd::util::{eq_ic, syntax_error, tri, wrongtype};
use crate::cmd::Ctx;
use crate::protocol::Reply;
use crate::store::stream::{parse_id, Group, Stream, StreamId, INVALID_ENTRIES_READ};
use crate::store::{Entry, Value};

/// `NOGROUP No such key 'k' or consumer group 'g'` (XPENDING, XCLAIM, XAUTOCLAIM).
fn no_key_or_group(key: &[u8], group: &[u8]) -> Reply {
    error_bytes(&[b"NOGROUP No such key '", key, b"' or consumer group '", group, b"'"])
}

/// The stream at `key` in the current db, already known to exist.
fn stream_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Option<&'a mut Stream> {
    let db = ctx.db();
    match ctx.st.entry_mut(db, key) {
        Some(Entry { value: Value::Stream(s), .. }) => Some(s),
        _ => None,
    }
}

/// Parses `ENTRIESREAD n` values.
fn entries_read_arg(arg: &[u8]) -> Result<i64, Reply> {
    let n = long_arg(arg)?;
    if n < 0 && n != INVALID_ENTRIES_READ {
        return Err(Reply::error("ERR value for ENTRIESREAD must be positive or -1"));
    }
    Ok(n)
}

/// Every XGROUP subcommand but HELP (`xgroupCommand`).
pub(super) fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let opt = &args[1];
    let (key, group) = (&args[2], &args[3]);
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let create = eq_ic(opt, "create");
    let setid = eq_ic(opt, "setid");
    if (create || setid) && args.len() >= 5 {
        let mut i = 5;
        while i < args.len() {
            if create && eq_ic(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if eq_ic(&args[i], "entriesread") && i + 1 < args.len() {
                entries_read = tri!(entries_read_arg(&args[i + 1]));
                i += 2;
            } else {
                return subcommand_syntax_error(args);
            }
        }
    }
    let (db, now) = (ctx.db(), ctx.now);
    let exists = tri!(stream_write(ctx, key)).is_some();
    if !mkstream {
        if !exists {
            return Reply::error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
        }
        let has_group = stream_mut(ctx, key).is_some_and(|s| s.groups.contains_key(&group[..]));
        let needs_group = setid || eq_ic(opt, "createconsumer") || eq_ic(opt, "delconsumer");
        if !has_group && needs_group {
            return error_bytes(&[b"NOGROUP No such consumer group '", group, b"' for key name '", key, b"'"]);
        }
    }
    if create && args.len() <= 8 {
        let id = if &args[4][..] == b"$" {
            stream_mut(ctx, key).map_or(StreamId::ZERO, |s| s.last_id)
        } else {
            tri!(strict_id(&args[4]))
        };
        if !exists {
            ctx.st.set_value(db, key, Value::Stream(Box::new(Stream::new())), now);
        }
        let Some(s) = stream_mut(ctx, key) else { return wrongtype() };
        if s.groups.contains_key(&group[..]) {
            return Reply::error("BUSYGROUP Consumer Group name already exists");
        }
        s.groups.insert(crate::store::keep(group), Group::new(id, entries_read));
        reaccount(ctx, key);
        ctx.st.notify(db, 't', "xgroup-create", key);
        Reply::ok()
    } else if setid && (args.len() == 5 || args.len() == 7) {
        let Some(s) = stream_mut(ctx, key) else { return wrongtype() };
        let id = if &args[4][..] == b"$" {
            s.last_id
        } else {
            match parse_id(&args[4], 0, false, false) {
                Some(p) => p.id,
                None => return super::invalid_id(),
            }
        };
        let Some(g) = s.groups.get_mut(&group[..]) else { return wrongtype() };
        g.last_id = id;
        g.entries_read = entries_read;
        ctx.st.notify(db, 't', "xgroup-setid", key);
        Reply::ok()
    } else if eq_ic(opt, "destroy") && args.len() == 4 {
        let Some(s) = stream_mut(ctx, key) else { return wrongtype() };
        if s.groups.remove(&group[..]).is_none() {
            return Reply::Int(0);
        }
        reaccount(ctx, key);
        ctx.st.notify(db, 't', "xgroup-destroy", key);
        // Blocked XREADGROUP clients of the group answer NOGROUP.
        ctx.st.signal_ready(db, key);
        Reply::Int(1)
    } else if eq_ic(opt, "createconsumer") && args.len() == 5 {
        let Some(g) = stream_mut(ctx, key).and_then(|s| s.groups.get_mut(&group[..])) else { return wrongtype() };
        let created = g.create_consumer(&args[4], now);
        if created {
            reaccount(ctx, key);
            ctx.st.notify(db, 't', "xgroup-createconsumer", key);
        }
        Reply::Int(created as i64)
    } else if eq_ic(opt, "delconsumer") && args.len() == 5 {
        let Some(g) = stream_mut(ctx, key).and_then(|s| s.groups.get_mut(&group[..])) else { return wrongtype() };
        let Some(pending) = g.delete_consumer(&args[4]) else { return Reply::Int(0) };
        reaccount(ctx, key);
        ctx.st.notify(db, 't', "xgroup-delconsumer", key);
        Reply::Int(pending as i64)
    } else {
        subcommand_syntax_error(args)
    }
}

/// XGROUP HELP.
pub(super) fn xgroup_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ])
}

/// XACK key group id...: all IDs parsed first, then acknowledged.
pub(super) fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let has_group = match tri!(stream_read(ctx, key)) {
        Some(s) => s.groups.contains_key(&args[2][..]),
        None => false,
    };
    if !has_group {
        return Reply::Int(0);
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in &args[3..] {
        ids.push(tri!(strict_id(a)));
    }
    let Some(g) = stream_mut(ctx, key).and_then(|s| s.groups.get_mut(&args[2][..])) else { return Reply::Int(0) };
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    if acked > 0 {
        reaccount(ctx, key);
    }
    Reply::Int(acked as i64)
}

/// XPENDING key group [[IDLE ms] start end count [consumer]].
pub(super) fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return syntax_error();
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle: i64 = 0;
        if eq_ic(&args[3], "idle") {
            min_idle = tri!(long_arg(&args[4]));
            if argc < 8 {
                return syntax_error();
            }
            at += 2;
        }
        let count = tri!(long_arg(&args[at + 2])).max(0) as u64;
        let start = tri!(interval_start(&args[at]));
        let end = tri!(interval_end(&args[at + 1]));
        let consumer = args.get(at + 3);
        range = Some((min_idle, start, end, count, consumer));
    }
    let (key, group) = (&args[1], &args[2]);
    let now = ctx.now;
    let Some(s) = tri!(stream_read(ctx, key)) else { return no_key_or_group(key, group) };
    let Some(g) = s.groups.get(&group[..]) else { return no_key_or_group(key, group) };
    let Some((min_idle, start, end, count, consumer)) = range else {
        if g.pel.is_empty() {
            return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
        }
        let first = g.pel.keys().next().copied().unwrap_or_default();
        let last = g.pel.keys().next_back().copied().unwrap_or_default();
        let owners: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(name, c)| Reply::Array(vec![Reply::Bulk(name.clone()), Reply::bulk(c.pel.len().to_string())]))
            .collect();
        return Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(owners),
        ]);
    };
    let ids: Box<dyn Iterator<Item = StreamId> + '_> = match consumer {
        Some(name) => match g.consumers.get(&name[..]) {
            Some(c) if start <= end => Box::new(c.pel.range(start..=end).copied()),
            Some(_) => Box::new(std::iter::empty()),
            None => return Reply::Array(vec![]),
        },
        None if start <= end => Box::new(g.pel.range(start..=end).map(|(id, _)| *id)),
        None => Box::new(std::iter::empty()),
    };
    let mut out = Vec::new();
    let mut left = count;
    for id in ids {
        if left == 0 {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        let idle = now as i64 - n.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        left -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::Bulk(n.consumer.clone()),
            Reply::Int(idle.max(0)),
            Reply::Int(n.delivery_count as i64),
        ]));
    }
    Reply::Array(out)
}

/// What XCLAIM and XAUTOCLAIM do to claim `id` for consumer `name`: the
/// consumer is looked up (seen now) or created, and the pending entry moves
/// to it. Returns the NACK and whether the consumer was created.
fn take_over<'g>(g: &'g mut Group, id: StreamId, name: &Bytes, now: u64) -> (&'g mut crate::store::stream::Nack, bool) {
    let created = match g.consumers.get_mut(&name[..]) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => g.create_consumer(name, now),
    };
    let owner = g.consumers.get_key_value(&name[..]).map_or_else(|| name.clone(), |(k, _)| k.clone());
    (g.assign(id, &owner, now), created)
}

/// XCLAIM key group consumer min-idle id... [IDLE ms] [TIME ms]
/// [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id].
pub(super) fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, group, name) = (&args[1], &args[2], &args[3]);
    let has_group = match tri!(stream_read(ctx, key)) {
        Some(s) => s.groups.contains_key(&group[..]),
        None => false,
    };
    if !has_group {
        return no_key_or_group(key, group);
    }
    let min_idle = tri!(long_arg_msg(&args[4], "ERR Invalid min-idle-time argument for XCLAIM")).max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(&args[j], 0, true, false) {
            Some(p) => ids.push(p.id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut delivery: i64 = -1;
    let mut last_id = StreamId::ZERO;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = &args[j];
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && more {
            j += 1;
            let idle = tri!(long_arg_msg(&args[j], "ERR Invalid IDLE option argument for XCLAIM"));
            delivery = (now as i64).wrapping_sub(idle);
        } else if eq_ic(opt, "time") && more {
            j += 1;
            delivery = tri!(long_arg_msg(&args[j], "ERR Invalid TIME option argument for XCLAIM"));
        } else if eq_ic(opt, "retrycount") && more {
            j += 1;
            retrycount = tri!(long_arg_msg(&args[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM"));
        } else if eq_ic(opt, "lastid") && more {
            j += 1;
            last_id = tri!(strict_id(&args[j]));
        } else {
            return error_bytes(&[b"ERR Unrecognized XCLAIM option '", opt, b"'"]);
        }
        j += 1;
    }
    let delivery = if delivery < 0 || delivery > now as i64 { now } else { delivery as u64 };
    let db = ctx.db();
    let Some(s) = stream_mut(ctx, key) else { return wrongtype() };
    let Some(mut g) = s.groups.remove(&group[..]) else { return wrongtype() };
    if last_id > g.last_id {
        g.last_id = last_id;
    }
    let mut out = Vec::new();
    let mut created = false;
    for id in ids {
        if !s.contains(id) {
            // The entry is gone: so is its pending record.
            g.ack(id);
            continue;
        }
        let fresh = !g.pel.contains_key(&id);
        if fresh && !force {
            continue;
        }
        if !fresh && min_idle != 0 {
            let idle = now as i64 - g.pel[&id].delivery_time as i64;
            if idle < min_idle {
                continue;
            }
        }
        let (nack, new) = take_over(&mut g, id, name, now);
        created |= new;
        nack.delivery_time = delivery;
        if retrycount >= 0 {
            nack.delivery_count = retrycount as u64;
        } else if !justid {
            nack.delivery_count += 1;
        }
        out.push(if justid { id_reply(id) } else { entry_reply(id, s.get(id).unwrap_or(&[])) });
    }
    s.groups.insert(group.clone(), g);
    reaccount(ctx, key);
    if created {
        ctx.st.notify(db, 't', "xgroup-createconsumer", key);
    }
    Reply::Array(out)
}

/// XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID]: the
/// next cursor, the claimed entries, and (7.0) the IDs whose entries were
/// deleted, which leave the PEL.
pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, group, name) = (&args[1], &args[2], &args[3]);
    let min_idle = tri!(long_arg_msg(&args[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")).max(0);
    let start = tri!(interval_start(&args[5]));
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        if eq_ic(&args[j], "count") && j + 1 < args.len() {
            count = tri!(super::super::util::range_long(&args[j + 1], 1, i64::MAX / 16, "ERR COUNT must be > 0"));
            j += 1;
        } else if eq_ic(&args[j], "justid") {
            justid = true;
        } else {
            return syntax_error();
        }
        j += 1;
    }
    let has_group = match tri!(stream_read(ctx, key)) {
        Some(s) => s.groups.contains_key(&group[..]),
        None => false,
    };
    if !has_group {
        return no_key_or_group(key, group);
    }
    let (db, now) = (ctx.db(), ctx.now);
    let Some(s) = stream_mut(ctx, key) else { return wrongtype() };
    let Some(mut g) = s.groups.remove(&group[..]) else { return wrongtype() };
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut created = false;
    let mut cursor = start;
    let mut next: Option<StreamId> = g.pel.range(cursor..).next().map(|(id, _)| *id);
    while attempts > 0 && left > 0 {
        attempts -= 1;
        let Some(id) = next else { break };
        cursor = id;
        if !s.contains(id) {
            g.ack(id);
            deleted.push(id_reply(id));
            left -= 1;
            next = g.pel.range(cursor..).next().map(|(id, _)| *id);
            continue;
        }
        next = cursor.incr().and_then(|c| g.pel.range(c..).next().map(|(id, _)| *id));
        if min_idle != 0 && (now as i64 - g.pel[&id].delivery_time as i64) < min_idle {
            continue;
        }
        let (nack, new) = take_over(&mut g, id, name, now);
        created |= new;
        nack.delivery_time = now;
        if !justid {
            nack.delivery_count += 1;
        }
        claimed.push(if justid { id_reply(id) } else { entry_reply(id, s.get(id).unwrap_or(&[])) });
        left -= 1;
    }
    // The cursor is the PEL entry after the last one looked at (0-0 at the end).
    let cursor_id = next.unwrap_or(StreamId::ZERO);
    s.groups.insert(group.clone(), g);
    reaccount(ctx, key);
    if created {
        ctx.st.notify(db, 't', "xgroup-createconsumer", key);
    }
    Reply::Array(vec![id_reply(cursor_id), Reply::Array(claimed), Reply::Array(deleted)])
}
