//! XREAD and XREADGROUP, blocking included (`xreadCommand` and
//! `serveClientsBlockedOnStreamKey` of Redis 7.0).
//!
//! A read that finds nothing and has BLOCK blocks the connection on its
//! keys through `server::blocking`. XREAD's `$` is resolved to the stream's
//! last ID when it blocks, and the command re-run on wake-up carries that ID
//! instead (`BlockSpec::rerun`). When a key it waits on becomes ready the
//! command is re-run with `serving_key` set, and serves that key alone, as
//! Redis does. XREADGROUP also wakes when its key is deleted or overwritten
//! (`UNBLOCKED the stream key no longer exists`) or its group destroyed
//! (`NOGROUP ...`).

use bytes::Bytes;

use super::{entry_reply, error_bytes, id_reply, invalid_id, long_arg, reaccount, stream_read};
use crate::cmd::util::{eq_ic, syntax_error, tri};
use crate::engine::command::{BlockSpec, Ctx};
use crate::protocol::Reply;
use crate::store::stream::{parse_id, Group, Stream, StreamId};
use crate::store::{Entry, Value};

/// How many entries a blocked read without COUNT gets when served
/// (`XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: u64 = 1000;

/// The parsed options of XREAD / XREADGROUP.
struct ReadArgs<'a> {
    /// BLOCK in ms (`Some(0)`: forever).
    block: Option<u64>,
    /// 0: no limit.
    count: u64,
    noack: bool,
    group: Option<(&'a Bytes, &'a Bytes)>,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

/// Parses the options in Redis's order with its errors.
fn parse<'a>(ctx: &Ctx<'_>, args: &'a [Bytes], xreadgroup: bool) -> Result<ReadArgs<'a>, Reply> {
    let mut out = ReadArgs { block: None, count: 0, noack: false, group: None, keys: &[], ids: &[] };
    let mut streams = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let o = &args[i];
        if eq_ic(o, "block") && more > 0 {
            if ctx.conn.in_script {
                let name = String::from_utf8_lossy(&args[0]).into_owned();
                return Err(Reply::error(format!("ERR {name} command is not allowed with BLOCK option from scripts")));
            }
            i += 1;
            let ms = parse_i64_or(&args[i], "ERR timeout is not an integer or out of range")?;
            if ms < 0 {
                return Err(Reply::error("ERR timeout is negative"));
            }
            out.block = Some(ms as u64);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            out.count = long_arg(&args[i])?.max(0) as u64;
        } else if eq_ic(o, "streams") && more > 0 {
            let n = args.len() - (i + 1);
            if !n.is_multiple_of(2) {
                // 7.0.15 says XREAD and '$' for XREADGROUP too.
                return Err(Reply::error(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            streams = Some(i + 1);
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((&args[i + 1], &args[i + 2]));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.noack = true;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    let Some(start) = streams else { return Err(syntax_error()) };
    if xreadgroup && out.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - start) / 2;
    out.keys = &args[start..start + n];
    out.ids = &args[start + n..];
    Ok(out)
}

fn parse_i64_or(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    crate::num::parse_i64(arg).ok_or_else(|| Reply::error(msg))
}

/// What an ID argument asks for.
#[derive(Clone, Copy)]
enum Want {
    /// Entries after this ID.
    After(StreamId),
    /// XREADGROUP's `>`: entries never delivered to the group.
    New,
}

/// `[key, entries]` pairs as XREAD replies with them: an array of pairs in
/// RESP2, a map in RESP3.
fn streams_reply(resp: u8, items: Vec<(Bytes, Reply)>) -> Reply {
    if resp == 2 {
        Reply::Array(items.into_iter().map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v])).collect())
    } else {
        Reply::Map(items.into_iter().map(|(k, v)| (Reply::Bulk(k), v)).collect())
    }
}

/// XREAD `[COUNT n] [BLOCK ms] STREAMS key... id...`.
pub(super) fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, false)
}

/// XREADGROUP `GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...`.
pub(super) fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, true)
}

fn read_generic(ctx: &mut Ctx<'_>, args: &[Bytes], xreadgroup: bool) -> Reply {
    let ra = tri!(parse(ctx, args, xreadgroup));
    if let Some(key) = ctx.conn.serving_key.clone() {
        return serve_blocked(ctx, &ra, &key);
    }
    // Resolve every key's ID (and group) first: errors before any effect.
    let mut wants = Vec::with_capacity(ra.keys.len());
    for (key, idarg) in ra.keys.iter().zip(ra.ids) {
        let s = tri!(stream_read(ctx, key)).map(|s| &*s);
        if let Some((group, _)) = ra.group {
            if !s.is_some_and(|s| s.groups.contains_key(group)) {
                return error_bytes(&[
                    b"NOGROUP No such key '",
                    key,
                    b"' or consumer group '",
                    group,
                    b"' in XREADGROUP with GROUP option",
                ]);
            }
        }
        let want = if &idarg[..] == b"$" {
            if xreadgroup {
                return Reply::error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            Want::After(s.map_or(StreamId::ZERO, |s| s.last_id))
        } else if &idarg[..] == b">" {
            if !xreadgroup {
                return Reply::error(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                );
            }
            Want::New
        } else {
            Want::After(tri!(parse_id(idarg, 0, true, false).map(|p| p.id).ok_or_else(invalid_id)))
        };
        wants.push(want);
    }
    // Serve what can be served now.
    let (db, now, resp) = (ctx.db(), ctx.now, ctx.resp());
    let mut served = Vec::new();
    for (key, want) in ra.keys.iter().zip(&wants) {
        if tri!(stream_read(ctx, key)).is_none() {
            continue;
        }
        let Some(Entry { value: Value::Stream(s), .. }) = ctx.st.entry_mut(db, key) else { continue };
        let reply = match (ra.group, *want) {
            (Some((group, consumer)), want) => {
                let mut created = false;
                let reply = {
                    let s: &mut Stream = s;
                    // The group exists: checked above, nothing ran in between.
                    let Some(mut g) = s.groups.remove(group) else { continue };
                    let serve = match want {
                        Want::After(_) => true,
                        Want::New => !s.is_empty() && s.last_valid_id() > g.last_id,
                    };
                    // 7.0.15 creates (and refreshes) the consumer only when it serves it.
                    if serve {
                        created |= g.create_consumer(consumer, now);
                        if let Some(c) = g.consumers.get_mut(&consumer[..]) {
                            c.seen_time = now;
                        }
                    }
                    let r = match want {
                        _ if !serve => None,
                        Want::After(id) => Some(history(s, &mut g, consumer, id, ra.count, now)),
                        Want::New => {
                            let from = g.last_id;
                            Some(deliver(s, &mut g, consumer, from, ra.count, ra.noack, now))
                        }
                    };
                    s.groups.insert(group.clone(), g);
                    r
                };
                if created {
                    ctx.st.notify(db, 't', "xgroup-createconsumer", key);
                }
                reaccount(ctx, key);
                reply
            }
            (None, Want::After(gt)) if !s.is_empty() && s.last_valid_id() > gt => Some(plain(s, gt, ra.count)),
            _ => None,
        };
        if let Some(r) = reply {
            served.push((key.clone(), r));
        }
    }
    if !served.is_empty() {
        return streams_reply(resp, served);
    }
    let Some(block) = ra.block else { return Reply::NilArray };
    if ctx.conn.in_exec {
        return Reply::NilArray;
    }
    // XREAD's `$` becomes the ID it stands for now.
    let mut rerun = args.to_vec();
    let start = args.len() - ra.ids.len();
    for (i, want) in wants.iter().enumerate() {
        if let Want::After(id) = want {
            rerun[start + i] = id.to_bytes();
        }
    }
    ctx.conn.effects.block = Some(BlockSpec {
        db,
        keys: ra.keys.to_vec(),
        timeout: (block > 0).then(|| std::time::Duration::from_millis(block.min(100 * 365 * 24 * 3600 * 1000))),
        on_timeout: Reply::NilArray,
        rerun: Some(rerun),
        on_delete: xreadgroup,
        command: None,
    });
    Reply::None
}

/// A blocked read re-run because `key` is ready: serve that key alone,
/// answer a vanished key or group with Redis's error, or stay blocked.
fn serve_blocked(ctx: &mut Ctx<'_>, ra: &ReadArgs<'_>, key: &Bytes) -> Reply {
    let (db, now, resp) = (ctx.db(), ctx.now, ctx.resp());
    let Some(pos) = ra.keys.iter().position(|k| k == key) else { return Reply::None };
    let count = if ra.count == 0 { BLOCKED_DEFAULT_COUNT } else { ra.count };
    let s = match ctx.st.entry_mut(db, key) {
        Some(Entry { value: Value::Stream(s), .. }) => s,
        _ if ra.group.is_some() => return Reply::error("UNBLOCKED the stream key no longer exists"),
        _ => return Reply::None,
    };
    let reply = match ra.group {
        None => {
            let gt = match parse_id(&ra.ids[pos], 0, true, false) {
                Some(p) => p.id,
                None => return Reply::None,
            };
            if s.last_id <= gt {
                return Reply::None;
            }
            plain(s, gt, count)
        }
        Some((group, consumer)) => {
            let Some(mut g) = s.groups.remove(&group[..]) else {
                return Reply::error("NOGROUP the consumer group this client was blocked on no longer exists");
            };
            if s.last_id <= g.last_id {
                s.groups.insert(group.clone(), g);
                return Reply::None;
            }
            let created = g.create_consumer(consumer, now);
            if let Some(c) = g.consumers.get_mut(&consumer[..]) {
                c.seen_time = now;
            }
            let from = g.last_id;
            let r = deliver(s, &mut g, consumer, from, count, ra.noack, now);
            s.groups.insert(group.clone(), g);
            if created {
                ctx.st.notify(db, 't', "xgroup-createconsumer", key);
            }
            reaccount(ctx, key);
            r
        }
    };
    streams_reply(resp, vec![(key.clone(), reply)])
}

/// XREAD's entries after `gt`, at most `count` (0: all).
fn plain(s: &Stream, gt: StreamId, count: u64) -> Reply {
    let Some(start) = gt.incr() else { return Reply::Array(vec![]) };
    let limit = if count == 0 { usize::MAX } else { count as usize };
    Reply::Array(s.range(start, StreamId::MAX, false).take(limit).map(|(id, f)| entry_reply(id, f)).collect())
}

/// Delivers entries after `from` to `consumer` (`>`): the group's last ID
/// and read counter move, and each entry goes into the PEL unless NOACK
/// (an entry already pending elsewhere changes owner, its count reset to 1).
fn deliver(s: &Stream, g: &mut Group, consumer: &Bytes, from: StreamId, count: u64, noack: bool, now: u64) -> Reply {
    let Some(start) = from.incr() else { return Reply::Array(vec![]) };
    let limit = if count == 0 { usize::MAX } else { count as usize };
    let mut out = Vec::new();
    for (id, f) in s.range(start, StreamId::MAX, false).take(limit) {
        s.advance_group(g, id);
        out.push(entry_reply(id, f));
        if !noack {
            let nack = g.assign(id, consumer, now);
            nack.delivery_time = now;
            nack.delivery_count = 1;
        }
    }
    Reply::Array(out)
}

/// A consumer's history after `gt` (`streamReplyWithRangeFromConsumerPEL`):
/// its pending entries, a deleted one as `[id, nil]`; each served entry's
/// delivery count and time move.
fn history(s: &Stream, g: &mut Group, consumer: &Bytes, gt: StreamId, count: u64, now: u64) -> Reply {
    let Some(start) = gt.incr() else { return Reply::Array(vec![]) };
    let Some(c) = g.consumers.get(&consumer[..]) else { return Reply::Array(vec![]) };
    let limit = if count == 0 { usize::MAX } else { count as usize };
    let ids: Vec<StreamId> = c.pel.range(start..).take(limit).copied().collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match s.get(id) {
            Some(f) => {
                out.push(entry_reply(id, f));
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
        }
    }
    Reply::Array(out)
}
