//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, TIME, DEBUG, CONFIG.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;

use super::util::{eq_ic, syntax_error};
use super::{cmd, CommandSpec, Ctx};
use crate::engine::config::{self, Mutability};
use crate::protocol::Reply;
use crate::store::glob::glob_match;

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];

const CONFIG_SUBS: &[CommandSpec] = &[
    cmd("config|help", 2, &["loading", "stale"], (0, 0, 0), &["slow"], config_help),
    cmd("config|get", -3, ADMIN, (0, 0, 0), ADMIN_ACL, config_get),
    cmd("config|rewrite", 2, ADMIN, (0, 0, 0), ADMIN_ACL, config_rewrite),
    cmd("config|resetstat", 2, ADMIN, (0, 0, 0), ADMIN_ACL, config_resetstat),
    cmd("config|set", -4, ADMIN, (0, 0, 0), ADMIN_ACL, config_set),
];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("dbsize", 1, &["readonly", "fast"], (0, 0, 0), &["keyspace", "read", "fast"], dbsize),
    cmd("flushdb", -1, &["write"], (0, 0, 0), &["keyspace", "write", "slow", "dangerous"], flushdb),
    cmd("flushall", -1, &["write"], (0, 0, 0), &["keyspace", "write", "slow", "dangerous"], flushall),
    cmd("time", 1, &["loading", "stale", "fast"], (0, 0, 0), &["fast"], time),
    cmd("debug", -2, ADMIN, (0, 0, 0), ADMIN_ACL, debug),
    cmd("info", -1, &["loading", "stale"], (0, 0, 0), &["slow", "dangerous"], super::info::info),
    CommandSpec {
        name: "config",
        arity: -2,
        flags: &[],
        keys: (0, 0, 0),
        acl: &["slow"],
        handler: config_help,
        subcommands: CONFIG_SUBS,
    },
];

/// A HELP reply: one status line per entry, as Redis's `addReplyHelp` writes it.
pub(crate) fn help_reply(lines: &[&str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status(Bytes::copy_from_slice(l.as_bytes()))).collect())
}

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.st.db(ctx.db()).len() as i64)
}

/// FLUSHDB/FLUSHALL take an optional ASYNC or SYNC.
fn flush_mode_ok(args: &[Bytes]) -> bool {
    match args.len() {
        1 => true,
        2 => eq_ic(&args[1], "async") || eq_ic(&args[1], "sync"),
        _ => false,
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    let db = ctx.db();
    ctx.st.flush_db(db);
    Reply::ok()
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    ctx.st.flush_all();
    Reply::ok()
}

fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let us = ctx.clock.now_us();
    Reply::Array(vec![
        Reply::Bulk(Bytes::from((us / 1_000_000).to_string())),
        Reply::Bulk(Bytes::from((us % 1_000_000).to_string())),
    ])
}

/// The longest DEBUG SLEEP honoured: a test asking for more is surely a
/// mistake, and an unbounded wait would hang it.
const MAX_DEBUG_SLEEP: f64 = 3600.0;

fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if eq_ic(&args[1], "sleep") && args.len() == 3 {
        // Redis reads the seconds with strtod and ignores what it cannot parse.
        let secs = crate::num::strtod(crate::num::c_str(&args[2])).value;
        if secs.is_finite() && secs > 0.0 {
            ctx.conn.effects.sleep = Some(Duration::from_secs_f64(secs.min(MAX_DEBUG_SLEEP)));
        }
        return Reply::ok();
    }
    if eq_ic(&args[1], "set-active-expire") && args.len() == 3 {
        // Redis reads the flag with atoi: "abc" is 0 and turns it off.
        ctx.st.active_expire = crate::num::atoi(&args[2]) != 0;
        return Reply::ok();
    }
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(&args[1])
    ))
}

fn config_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ])
}

fn is_glob(p: &[u8]) -> bool {
    p.iter().any(|c| matches!(c, b'*' | b'?' | b'['))
}

fn config_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cfg = ctx.st.config();
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for pat in &args[2..] {
        if !is_glob(pat) {
            // An exact name is echoed back as the client spelled it.
            let name = String::from_utf8_lossy(pat).into_owned();
            if let Some(p) = config::param(&name) {
                if seen.insert(p.name.to_string()) {
                    let v = cfg.shown(p.name).unwrap_or_default().into_owned();
                    out.push((Reply::Bulk(Bytes::from(name)), Reply::Bulk(Bytes::from(v))));
                }
            }
            continue;
        }
        for name in cfg.params.keys() {
            if glob_match(pat, name.as_bytes(), true) && seen.insert(name.to_string()) {
                let value = cfg.shown(name).unwrap_or_default().into_owned();
                out.push((Reply::Bulk(Bytes::from_static(name.as_bytes())), Reply::Bulk(Bytes::from(value))));
            }
        }
    }
    Reply::Map(out)
}

fn config_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !args.len().is_multiple_of(2) {
        return syntax_error();
    }
    let fail = |arg: &[u8], why: &str| {
        Reply::error(format!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
            String::from_utf8_lossy(arg)
        ))
    };
    // First pass: names (unknown, immutable, protected, duplicate), like Redis.
    let mut params = Vec::new();
    let mut seen: Vec<&'static str> = Vec::new();
    for pair in args[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).into_owned();
        let Some(p) = config::param(&name) else {
            return Reply::error(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        match p.mutability {
            Mutability::Immutable => return fail(&pair[0], "can't set immutable config"),
            Mutability::Protected => return fail(&pair[0], "can't set protected config"),
            Mutability::Mutable => {}
        }
        if seen.contains(&p.name) {
            return fail(&pair[0], "duplicate parameter");
        }
        seen.push(p.name);
        params.push((p, &pair[0], &pair[1]));
    }
    // Second pass: validate every value before applying any (Redis rolls back).
    let mut values = Vec::with_capacity(params.len());
    for (p, arg, value) in &params {
        match ctx.st.config().normalize(p, value) {
            Ok(v) => values.push(v),
            Err(why) => return fail(arg, &why),
        }
    }
    ctx.st.set_config(params.into_iter().zip(values).map(|((p, _, _), v)| (p, v)));
    Reply::ok()
}

fn config_rewrite(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::error("ERR The server is running without a config file")
}

fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let total_connections = ctx.st.stats.total_connections;
    ctx.st.stats = Default::default();
    ctx.st.net.reset();
    // Redis zeroes total_connections_received too, but the facade's
    // `total_connections()` promises a count over the server's whole life.
    ctx.st.stats.total_connections = total_connections;
    Reply::ok()
}
