//! XINFO STREAM [FULL [COUNT n]], GROUPS, CONSUMERS and HELP, field for
//! field as Redis 7.0.15 (`xinfoCommand`, `xinfoReplyWithStreamInfo`).

use bytes::Bytes;

use super::{entry_reply, error_bytes, id_reply, long_arg, stream_read, subcommand_syntax_error};
use crate::cmd::server::help_reply;
use crate::cmd::util::{eq_ic, tri};
use crate::cmd::Ctx;
use crate::protocol::Reply;
use crate::store::stream::{Group, Stream, StreamId, INVALID_ENTRIES_READ};

fn field(name: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(name.as_bytes()))
}

fn entries_read(g: &Group) -> Reply {
    if g.entries_read == INVALID_ENTRIES_READ {
        Reply::Nil
    } else {
        Reply::Int(g.entries_read)
    }
}

fn lag(s: &Stream, g: &Group) -> Reply {
    s.lag(g).map_or(Reply::Nil, Reply::Int)
}

/// The stream at `args[2]`, or Redis's `ERR no such key`.
fn lookup<'a>(ctx: &'a mut Ctx<'_>, args: &[Bytes]) -> Result<&'a Stream, Reply> {
    match stream_read(ctx, &args[2])? {
        Some(s) => Ok(s),
        None => Err(Reply::error("ERR no such key")),
    }
}

/// XINFO CONSUMERS key group.
pub(super) fn xinfo_consumers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let s = tri!(lookup(ctx, args));
    let Some(g) = s.groups.get(&args[3][..]) else {
        return error_bytes(&[b"NOGROUP No such consumer group '", &args[3], b"' for key name '", &args[2], b"'"]);
    };
    Reply::Array(
        g.consumers
            .iter()
            .map(|(name, c)| {
                Reply::Map(vec![
                    (field("name"), Reply::Bulk(name.clone())),
                    (field("pending"), Reply::Int(c.pel.len() as i64)),
                    (field("idle"), Reply::Int((now as i64 - c.seen_time as i64).max(0))),
                ])
            })
            .collect(),
    )
}

/// XINFO GROUPS key.
pub(super) fn xinfo_groups(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let s = tri!(lookup(ctx, args));
    Reply::Array(
        s.groups
            .iter()
            .map(|(name, g)| {
                Reply::Map(vec![
                    (field("name"), Reply::Bulk(name.clone())),
                    (field("consumers"), Reply::Int(g.consumers.len() as i64)),
                    (field("pending"), Reply::Int(g.pel.len() as i64)),
                    (field("last-delivered-id"), id_reply(g.last_id)),
                    (field("entries-read"), entries_read(g)),
                    (field("lag"), lag(s, g)),
                ])
            })
            .collect(),
    )
}

/// XINFO STREAM key [FULL [COUNT n]].
pub(super) fn xinfo_stream(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let s = tri!(lookup(ctx, args));
    let rest = &args[3..];
    let mut count: i64 = 10;
    let full = !rest.is_empty();
    if full {
        if (rest.len() != 1 && rest.len() != 3) || !eq_ic(&rest[0], "full") {
            return subcommand_syntax_error(args);
        }
        if rest.len() == 3 {
            if !eq_ic(&rest[1], "count") {
                return subcommand_syntax_error(args);
            }
            count = tri!(long_arg(&rest[2]));
            if count < 0 {
                count = 10;
            }
        }
    }
    let mut out = vec![
        (field("length"), Reply::Int(s.len() as i64)),
        (field("radix-tree-keys"), Reply::Int(s.radix_tree_keys() as i64)),
        (field("radix-tree-nodes"), Reply::Int(s.radix_tree_nodes() as i64)),
        (field("last-generated-id"), id_reply(s.last_id)),
        (field("max-deleted-entry-id"), id_reply(s.max_deleted)),
        (field("entries-added"), Reply::Int(s.entries_added as i64)),
        (field("recorded-first-entry-id"), id_reply(s.first_id())),
    ];
    if !full {
        let edge = |rev: bool| {
            s.range(StreamId::ZERO, StreamId::MAX, rev).next().map_or(Reply::Nil, |(id, f)| entry_reply(id, f))
        };
        out.push((field("groups"), Reply::Int(s.groups.len() as i64)));
        out.push((field("first-entry"), edge(false)));
        out.push((field("last-entry"), edge(true)));
        return Reply::Map(out);
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    let entries = s.range(StreamId::ZERO, StreamId::MAX, false).take(limit).map(|(id, f)| entry_reply(id, f)).collect();
    out.push((field("entries"), Reply::Array(entries)));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pel
                .iter()
                .take(limit)
                .map(|(id, n)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(n.consumer.clone()),
                        Reply::Int(n.delivery_time as i64),
                        Reply::Int(n.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pel = c
                        .pel
                        .iter()
                        .take(limit)
                        .filter_map(|id| g.pel.get(id).map(|n| (id, n)))
                        .map(|(id, n)| {
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(n.delivery_time as i64),
                                Reply::Int(n.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        (field("name"), Reply::Bulk(cname.clone())),
                        (field("seen-time"), Reply::Int(c.seen_time as i64)),
                        (field("pel-count"), Reply::Int(c.pel.len() as i64)),
                        (field("pending"), Reply::Array(pel)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (field("name"), Reply::Bulk(name.clone())),
                (field("last-delivered-id"), id_reply(g.last_id)),
                (field("entries-read"), entries_read(g)),
                (field("lag"), lag(s, g)),
                (field("pel-count"), Reply::Int(g.pel.len() as i64)),
                (field("pending"), Reply::Array(pending)),
                (field("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    out.push((field("groups"), Reply::Array(groups)));
    Reply::Map(out)
}

/// XINFO HELP.
pub(super) fn xinfo_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ])
}
