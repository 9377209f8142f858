//! The ACL command (WHOAMI, SETUSER, DELUSER, LIST, USERS, GETUSER, CAT, GENPASS,
//! DRYRUN, LOG, LOAD, SAVE, HELP).
//!
//!
//! The model (users, permissions, the log) is `crate::engine::acl`.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::server::help_reply;
use super::{cmd, CommandSpec, Ctx};
use crate::catalog::CATEGORIES;
use crate::engine::acl::*;
use crate::engine::config::Config;
use crate::engine::pubsub::SubscriptionKind;
use crate::protocol::Reply;

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];

const ACL_SUBS: &[CommandSpec] = &[
    cmd("acl|cat", -2, &["noscript", "loading", "stale"], (0, 0, 0), &["slow"], cat),
    cmd("acl|deluser", -3, ADMIN, (0, 0, 0), ADMIN_ACL, deluser),
    cmd("acl|dryrun", -4, ADMIN, (0, 0, 0), ADMIN_ACL, dryrun),
    cmd("acl|genpass", -2, &["noscript", "loading", "stale"], (0, 0, 0), &["slow"], genpass),
    cmd("acl|getuser", 3, ADMIN, (0, 0, 0), ADMIN_ACL, getuser),
    cmd("acl|help", 2, &["loading", "stale"], (0, 0, 0), &["slow"], help),
    cmd("acl|list", 2, ADMIN, (0, 0, 0), ADMIN_ACL, list),
    cmd("acl|load", 2, ADMIN, (0, 0, 0), ADMIN_ACL, no_acl_file),
    cmd("acl|log", -2, ADMIN, (0, 0, 0), ADMIN_ACL, log),
    cmd("acl|save", 2, ADMIN, (0, 0, 0), ADMIN_ACL, no_acl_file),
    cmd("acl|setuser", -3, ADMIN, (0, 0, 0), ADMIN_ACL, setuser),
    cmd("acl|users", 2, ADMIN, (0, 0, 0), ADMIN_ACL, users),
    cmd("acl|whoami", 2, &["noscript", "loading", "stale"], (0, 0, 0), &["slow"], whoami),
];

pub(crate) const COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    flags: &[],
    keys: (0, 0, 0),
    acl: &["slow"],
    handler: help,
    subcommands: ACL_SUBS,
}];

/// ACL subcommands with optional arguments reject extra ones this way.
fn too_many_args(sub: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn whoami(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Bulk(ctx.conn.user().clone())
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ])
}

fn all_users(cfg: &Config) -> BTreeMap<String, User> {
    let mut m = cfg.acl.users.clone();
    if cfg.acl.default_derived {
        m.insert("default".into(), User::default_for(&cfg_pass(cfg)));
    }
    m
}

fn setuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[2]).into_owned();
    if has_spaces(&args[2]) {
        return Reply::error("ERR Usernames can't contain spaces or null characters");
    }
    let ops = match merge_selectors(&args[3..]) {
        Ok(ops) => ops,
        Err(start) => {
            let start = String::from_utf8_lossy(&args[3 + start]);
            let start = c_str(&start);
            return Reply::error(format!("ERR Unmatched parenthesis in acl selector starting at '{start}'."));
        }
    };
    // A new user, and `reset`, start from `acl-pubsub-default`, as in Redis.
    let all_channels_default =
        ctx.st.config().get("acl-pubsub-default").is_some_and(|v| v.eq_ignore_ascii_case("allchannels"));
    let original = ctx.st.acl_user(&name);
    // Rules apply to a copy: an invalid one leaves the user untouched.
    let mut user = original.clone().unwrap_or_else(|| {
        let mut u = User::new();
        if all_channels_default {
            u.channels = vec!["*".into()];
        }
        u
    });
    for op in ops {
        if op.is_empty() {
            // Redis's ACLSetUser takes an empty rule as a no-op.
            continue;
        }
        if op.starts_with('(') {
            let why = "selectors are not supported by the redis-harness fake server (use a real Redis backend)";
            return Reply::error(format!("ERR Error in ACL SETUSER modifier '{op}': {why}"));
        }
        if let Err(why) = user.apply(&op) {
            let op = c_str(&op);
            return Reply::error(format!("ERR Error in ACL SETUSER modifier '{op}': {why}"));
        }
        if all_channels_default && op.eq_ignore_ascii_case("reset") {
            user.channels = vec!["*".into()];
        }
    }
    if let Some(original) = original {
        kill_pubsub_clients_if_needed(ctx, &name, &original, &user);
    }
    ctx.st.put_acl_user(name, user);
    Reply::ok()
}

/// Redis's `ACLKillPubsubClientsIfNeeded`: when ACL SETUSER narrows a user's
/// channel permissions, the clients logged in as that user whose
/// subscriptions the new rules no longer allow are disconnected (channels
/// and shard channels by pattern matching, PSUBSCRIBE patterns literally).
/// The caller itself is closed after this reply (Redis 7.0.15 crashes there).
fn kill_pubsub_clients_if_needed(ctx: &mut Ctx<'_>, name: &str, old: &User, new: &User) {
    // Widening (or keeping) the permissions kills nobody.
    if new.all_channels() || (!old.all_channels() && old.channels.iter().all(|c| new.channels.contains(c))) {
        return;
    }
    let st = &mut *ctx.st;
    let doomed: Vec<u64> = st
        .clients()
        .filter(|c| c.user().as_ref() == name.as_bytes())
        .map(|c| c.id)
        .filter(|&id| {
            let names = |kind| st.pubsub.names(id, kind);
            names(SubscriptionKind::Pattern).iter().any(|p| !new.may_use_channel(p, true))
                || names(SubscriptionKind::Channel).iter().any(|c| !new.may_use_channel(c, false))
                || names(SubscriptionKind::ShardChannel).iter().any(|c| !new.may_use_channel(c, false))
        })
        .collect();
    for id in doomed {
        ctx.kill_client(id);
    }
}

/// Redis's `ACLMergeSelectorArguments`: a rule that opens a selector with
/// `(` runs over the following arguments, joined with spaces, until one ends
/// with `)`. Returns the merged rules, or the index of a selector left open.
fn merge_selectors(args: &[Bytes]) -> Result<Vec<String>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, String)> = None;
    for (i, a) in args.iter().enumerate() {
        let op = String::from_utf8_lossy(a);
        let closes = a.last() == Some(&b')');
        match &mut open {
            None if a.first() == Some(&b'(') && !closes => open = Some((i, op.into_owned())),
            None => out.push(op.into_owned()),
            Some((_, sel)) => {
                sel.push(' ');
                sel.push_str(&op);
                if closes {
                    out.extend(open.take().map(|(_, sel)| sel));
                }
            }
        }
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

fn deluser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut n = 0;
    for a in &args[2..] {
        if a.as_ref() == b"default" {
            return Reply::error("ERR The 'default' user cannot be removed");
        }
    }
    for a in &args[2..] {
        let name = String::from_utf8_lossy(a).into_owned();
        // Redis disconnects the clients authenticated as a deleted user.
        if ctx.st.delete_acl_user(&name) {
            n += 1;
        }
    }
    Reply::Int(n)
}

fn list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Array(all_users(ctx.st.config()).iter().map(|(n, u)| Reply::Bulk(Bytes::from(u.describe(n)))).collect())
}

fn users(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Array(all_users(ctx.st.config()).keys().map(|n| Reply::Bulk(Bytes::from(n.clone()))).collect())
}

fn getuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[2]).into_owned();
    let Some(u) = all_users(ctx.st.config()).remove(&name) else {
        return Reply::Nil;
    };
    let mut flags = vec![Reply::from(if u.enabled { "on" } else { "off" })];
    if u.nopass {
        flags.push(Reply::from("nopass"));
    }
    flags.extend(u.sanitize.map(Reply::from));
    let channels: Vec<String> = u.channels.iter().map(|c| format!("&{c}")).collect();
    let bulk = |s: String| Reply::Bulk(Bytes::from(s));
    Reply::Map(vec![
        (Reply::from("flags"), Reply::Set(flags)),
        (Reply::from("passwords"), Reply::Array(u.passwords.iter().map(|p| bulk(p.clone())).collect())),
        (Reply::from("commands"), bulk(u.commands_text())),
        (Reply::from("keys"), bulk(u.keys.join(" "))),
        (Reply::from("channels"), bulk(channels.join(" "))),
        (Reply::from("selectors"), Reply::Array(vec![])),
    ])
}

fn cat(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return too_many_args(&args[1]);
    }
    if args.len() == 2 {
        return Reply::Array(CATEGORIES.iter().map(|c| Reply::from(*c)).collect());
    }
    let want = String::from_utf8_lossy(&args[2]).to_ascii_lowercase();
    if !CATEGORIES.contains(&want.as_str()) {
        return Reply::error(format!("ERR Unknown category '{}'", String::from_utf8_lossy(&args[2])));
    }
    let mut out = Vec::new();
    for spec in super::table().values() {
        let specs: Vec<&CommandSpec> =
            if spec.subcommands.is_empty() { vec![spec] } else { spec.subcommands.iter().collect() };
        for s in specs {
            if crate::catalog::categories(s.name, s.acl).contains(&want) {
                out.push(Reply::Bulk(Bytes::from(s.name.to_string())));
            }
        }
    }
    Reply::Array(out)
}

fn genpass(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return too_many_args(&args[1]);
    }
    let bits = if args.len() == 3 {
        match super::util::parse_i64(&args[2]) {
            None => return super::util::not_integer(),
            Some(b) if (1..=4096).contains(&b) => b as usize,
            _ => return Reply::error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        }
    } else {
        256
    };
    let chars = bits.div_ceil(4);
    let s: String = (0..chars).map(|_| char::from_digit(ctx.st.rng.u32(0..16), 16).unwrap_or('0')).collect();
    Reply::Bulk(Bytes::from(s))
}

fn dryrun(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[2]).into_owned();
    let cfg = ctx.st.config();
    let Some(user) = cfg.acl.get(&cfg_pass(cfg), &name) else {
        return Reply::error(format!("ERR User '{name}' not found"));
    };
    let cmd_args = &args[3..];
    let found = super::lookup(&cmd_args[0]).or_else(|| ctx.st.admin_command(&cmd_args[0]));
    let Some(mut spec) = found else {
        return Reply::error(format!("ERR Command '{}' not found", String::from_utf8_lossy(&cmd_args[0])));
    };
    if !spec.subcommands.is_empty() && cmd_args.len() >= 2 {
        if let Some(s) = super::lookup_sub(spec, &cmd_args[1]) {
            spec = s;
        }
    }
    let argc = cmd_args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return Reply::error(format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    match user_may_run(&user, spec, cmd_args) {
        Ok(()) => Reply::ok(),
        Err(d) => Reply::Bulk(Bytes::from(d.dryrun_text())),
    }
}

fn log(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return too_many_args(&args[1]);
    }
    // Redis's ACL LOG: 10 entries unless told, a negative count shows none.
    let mut count = 10usize;
    if args.len() == 3 {
        if super::util::eq_ic(&args[2], "reset") {
            ctx.st.acl_log.entries.clear();
            return Reply::ok();
        }
        match super::util::parse_i64(&args[2]) {
            None => return super::util::not_integer(),
            Some(n) => count = usize::try_from(n).unwrap_or(0),
        }
    }
    let now = ctx.now;
    let bulk = |s: &'static str| Reply::from(s);
    let entries = ctx.st.acl_log.entries.iter().take(count).map(|e| {
        Reply::Map(vec![
            (bulk("count"), Reply::Int(e.count as i64)),
            (bulk("reason"), bulk(e.reason.name())),
            (bulk("context"), bulk(e.context.name())),
            (bulk("object"), Reply::Bulk(e.object.clone())),
            (bulk("username"), Reply::Bulk(e.username.clone())),
            // Redis subtracts milliseconds as signed numbers: a clock set back shows a negative age.
            (bulk("age-seconds"), Reply::Double((now as i64).wrapping_sub(e.ctime as i64) as f64 / 1000.0)),
            (bulk("client-info"), Reply::Bulk(Bytes::from(e.client_info.clone()))),
        ])
    });
    Reply::Array(entries.collect())
}

fn no_acl_file(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
}
