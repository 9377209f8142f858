//! Pub/sub: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.
//!
//! The registry and delivery live in `server::pubsub`; these handlers only
//! shape Redis's replies. Confirmations are one push frame per channel
//! (`Reply::Multi` of `Reply::Push`, arrays in RESP2).

use bytes::Bytes;

use super::{cmd, CommandSpec, Ctx};
use crate::engine::pubsub::SubscriptionKind;
use crate::protocol::Reply;

const SUB_FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const SUB_ACL: &[&str] = &["pubsub", "slow"];
const PUBSUB_SUB_FLAGS: &[&str] = &["pubsub", "loading", "stale"];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("subscribe", -2, SUB_FLAGS, (0, 0, 0), SUB_ACL, subscribe),
    cmd("unsubscribe", -1, SUB_FLAGS, (0, 0, 0), SUB_ACL, unsubscribe),
    cmd("psubscribe", -2, SUB_FLAGS, (0, 0, 0), SUB_ACL, psubscribe),
    cmd("punsubscribe", -1, SUB_FLAGS, (0, 0, 0), SUB_ACL, punsubscribe),
    cmd("ssubscribe", -2, SUB_FLAGS, (1, -1, 1), SUB_ACL, ssubscribe),
    cmd("sunsubscribe", -1, SUB_FLAGS, (1, -1, 1), SUB_ACL, sunsubscribe),
    cmd("publish", 3, &["pubsub", "loading", "stale", "fast"], (0, 0, 0), &["pubsub", "fast"], publish),
    cmd("spublish", 3, &["pubsub", "loading", "stale", "fast"], (1, 1, 1), &["pubsub", "fast"], spublish),
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: &[],
        keys: (0, 0, 0),
        acl: &["slow"],
        handler: pubsub_help,
        subcommands: &[
            cmd("pubsub|channels", -2, PUBSUB_SUB_FLAGS, (0, 0, 0), SUB_ACL, channels),
            cmd("pubsub|numsub", -2, PUBSUB_SUB_FLAGS, (0, 0, 0), SUB_ACL, numsub),
            cmd("pubsub|numpat", 2, PUBSUB_SUB_FLAGS, (0, 0, 0), SUB_ACL, numpat),
            cmd("pubsub|shardchannels", -2, PUBSUB_SUB_FLAGS, (0, 0, 0), SUB_ACL, shardchannels),
            cmd("pubsub|shardnumsub", -2, PUBSUB_SUB_FLAGS, (0, 0, 0), SUB_ACL, shardnumsub),
            cmd("pubsub|help", 2, &["loading", "stale"], (0, 0, 0), &["slow"], pubsub_help),
        ],
    },
];

pub(crate) use crate::engine::pubsub::is_subscribed;

/// Drops every subscription without confirmations: the pub/sub part of RESET.
pub(crate) fn reset(ctx: &mut Ctx<'_>) {
    let id = ctx.conn.id;
    for kind in [SubscriptionKind::Channel, SubscriptionKind::Pattern, SubscriptionKind::ShardChannel] {
        for name in ctx.st.pubsub.names(id, kind) {
            ctx.st.pubsub.unsubscribe(id, kind, &name);
        }
    }
    ctx.st.sync_sub_counts(id);
}

/// The confirmation name and the count it reports for each kind.
fn confirm(ctx: &Ctx<'_>, kind: SubscriptionKind, subscribing: bool, name: Reply) -> Reply {
    let (c, p, s) = ctx.st.pubsub.counts(ctx.conn.id);
    let (verb, count) = match (kind, subscribing) {
        (SubscriptionKind::Channel, true) => ("subscribe", c + p),
        (SubscriptionKind::Channel, false) => ("unsubscribe", c + p),
        (SubscriptionKind::Pattern, true) => ("psubscribe", c + p),
        (SubscriptionKind::Pattern, false) => ("punsubscribe", c + p),
        (SubscriptionKind::ShardChannel, true) => ("ssubscribe", s),
        (SubscriptionKind::ShardChannel, false) => ("sunsubscribe", s),
    };
    Reply::Push(vec![Reply::from(verb), name, Reply::Int(count as i64)])
}

fn do_subscribe(ctx: &mut Ctx<'_>, args: &[Bytes], kind: SubscriptionKind) -> Reply {
    let id = ctx.conn.id;
    let mut out = Vec::with_capacity(args.len() - 1);
    for name in &args[1..] {
        ctx.st.pubsub.subscribe(id, kind, name);
        out.push(confirm(ctx, kind, true, Reply::Bulk(name.clone())));
    }
    ctx.st.sync_sub_counts(id);
    Reply::Multi(out)
}

fn do_unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes], kind: SubscriptionKind) -> Reply {
    let id = ctx.conn.id;
    let names = if args.len() > 1 { args[1..].to_vec() } else { ctx.st.pubsub.names(id, kind) };
    if names.is_empty() {
        return confirm(ctx, kind, false, Reply::Nil);
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        ctx.st.pubsub.unsubscribe(id, kind, &name);
        out.push(confirm(ctx, kind, false, Reply::Bulk(name)));
    }
    ctx.st.sync_sub_counts(id);
    Reply::Multi(out)
}

fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    do_subscribe(ctx, args, SubscriptionKind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    do_subscribe(ctx, args, SubscriptionKind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    do_subscribe(ctx, args, SubscriptionKind::ShardChannel)
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    do_unsubscribe(ctx, args, SubscriptionKind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    do_unsubscribe(ctx, args, SubscriptionKind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    do_unsubscribe(ctx, args, SubscriptionKind::ShardChannel)
}

fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(ctx.st.publish(&args[1], &args[2]) as i64)
}

fn spublish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(ctx.st.spublish(&args[1], &args[2]) as i64)
}

/// CHANNELS and SHARDCHANNELS take at most one pattern.
fn list_active(ctx: &mut Ctx<'_>, args: &[Bytes], kind: SubscriptionKind) -> Reply {
    if args.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&args[1])
        ));
    }
    let pattern = args.get(2).map(|p| &p[..]);
    Reply::Array(ctx.st.pubsub.active(kind, pattern).into_iter().map(Reply::Bulk).collect())
}

fn channels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    list_active(ctx, args, SubscriptionKind::Channel)
}

fn shardchannels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    list_active(ctx, args, SubscriptionKind::ShardChannel)
}

fn count_subscribers(ctx: &mut Ctx<'_>, args: &[Bytes], kind: SubscriptionKind) -> Reply {
    // A flat array even in RESP3, as Redis 7.0 replies.
    let mut out = Vec::with_capacity(2 * (args.len() - 2));
    for c in &args[2..] {
        out.push(Reply::Bulk(c.clone()));
        out.push(Reply::Int(ctx.st.pubsub.numsub(kind, c) as i64));
    }
    Reply::Array(out)
}

fn numsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    count_subscribers(ctx, args, SubscriptionKind::Channel)
}

fn shardnumsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    count_subscribers(ctx, args, SubscriptionKind::ShardChannel)
}

fn numpat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.st.pubsub.numpat() as i64)
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Array(HELP.iter().map(|&l| Reply::status(l)).collect())
}
