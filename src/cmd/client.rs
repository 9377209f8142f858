//! CLIENT subcommands: ID, SETNAME, GETNAME, SETINFO, INFO, LIST, KILL,
//! NO-EVICT, NO-TOUCH, REPLY, HELP.
//!
//! SETINFO and NO-TOUCH are Redis 7.2 subcommands (7.0 lacks them) that
//! clients send on connect; they behave as in 7.2. KILL's MAXAGE filter is
//! 7.4's. PAUSE/UNPAUSE and the tracking subcommands are not implemented.

use std::time::Instant;

use bytes::Bytes;

use super::server::help_reply;
use super::util::{eq_ic, parse_i64, syntax_error};
use super::{cmd, CommandSpec, Ctx};
use crate::engine::command::{REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT};
use crate::engine::state::ClientInfo;
use crate::protocol::Reply;

const CONN: &[&str] = &["noscript", "loading", "stale"];
const CONN_ACL: &[&str] = &["slow", "connection"];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous", "connection"];

const CLIENT_SUBS: &[CommandSpec] = &[
    cmd("client|help", 2, &["loading", "stale"], (0, 0, 0), CONN_ACL, help),
    cmd("client|getname", 2, CONN, (0, 0, 0), CONN_ACL, getname),
    cmd("client|kill", -3, ADMIN, (0, 0, 0), ADMIN_ACL, kill),
    cmd("client|list", -2, ADMIN, (0, 0, 0), ADMIN_ACL, list),
    cmd("client|id", 2, CONN, (0, 0, 0), CONN_ACL, id),
    cmd("client|no-evict", 3, ADMIN, (0, 0, 0), ADMIN_ACL, no_evict),
    cmd("client|no-touch", 3, &["noscript", "loading", "stale"], (0, 0, 0), CONN_ACL, no_touch),
    cmd("client|info", 2, CONN, (0, 0, 0), CONN_ACL, info),
    cmd("client|setname", 3, CONN, (0, 0, 0), CONN_ACL, setname),
    cmd("client|setinfo", 4, CONN, (0, 0, 0), CONN_ACL, setinfo),
    cmd("client|reply", 3, CONN, (0, 0, 0), CONN_ACL, reply),
    CLIENT_UNBLOCK,
];

pub(crate) const COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "client",
    arity: -2,
    flags: &[],
    keys: (0, 0, 0),
    acl: &["slow"],
    handler: help,
    subcommands: CLIENT_SUBS,
}];

/// Redis refuses connection names with spaces, newlines or other
/// non-printable characters.
pub(crate) fn validate_name(name: &Bytes) -> Result<(), Reply> {
    if !printable(name) {
        return Err(Reply::error("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

fn printable(b: &[u8]) -> bool {
    b.iter().all(|c| (b'!'..=b'~').contains(c))
}

/// RESET turns replies back on.
pub(crate) fn reset_reply_mode(ctx: &mut Ctx<'_>) {
    ctx.conn.reply_mode = REPLY_ON;
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    ])
}

fn id(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.conn.id as i64)
}

fn getname(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    match ctx.st.client(ctx.conn.id) {
        Some(c) if !c.name.is_empty() => Reply::Bulk(c.name.clone()),
        _ => Reply::Nil,
    }
}

fn setname(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if let Err(e) = validate_name(&args[2]) {
        return e;
    }
    if let Some(c) = ctx.st.client_mut(ctx.conn.id) {
        c.name = args[2].clone();
    }
    Reply::ok()
}

fn setinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let attr = String::from_utf8_lossy(&args[2]).into_owned();
    let lib_name = eq_ic(&args[2], "lib-name");
    if !lib_name && !eq_ic(&args[2], "lib-ver") {
        return Reply::error(format!("ERR Unrecognized option '{attr}'"));
    }
    if !printable(&args[3]) {
        return Reply::error(format!("ERR {attr} cannot contain spaces, newlines or special characters."));
    }
    if let Some(c) = ctx.st.client_mut(ctx.conn.id) {
        if lib_name {
            c.lib_name = args[3].clone();
        } else {
            c.lib_ver = args[3].clone();
        }
    }
    Reply::ok()
}

fn on_off(arg: &[u8]) -> Option<bool> {
    if eq_ic(arg, "on") {
        Some(true)
    } else if eq_ic(arg, "off") {
        Some(false)
    } else {
        None
    }
}

fn no_evict(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(on) = on_off(&args[2]) else { return syntax_error() };
    if let Some(c) = ctx.st.client_mut(ctx.conn.id) {
        c.no_evict = on;
    }
    Reply::ok()
}

fn no_touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(on) = on_off(&args[2]) else { return syntax_error() };
    if let Some(c) = ctx.st.client_mut(ctx.conn.id) {
        c.no_touch = on;
    }
    Reply::ok()
}

fn reply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if eq_ic(&args[2], "on") {
        ctx.conn.reply_mode = REPLY_ON;
        Reply::ok()
    } else if eq_ic(&args[2], "off") {
        ctx.conn.reply_mode = REPLY_OFF;
        Reply::None
    } else if eq_ic(&args[2], "skip") {
        if ctx.conn.reply_mode != REPLY_OFF {
            ctx.conn.reply_mode = REPLY_SKIP_NEXT;
        }
        Reply::None
    } else {
        syntax_error()
    }
}

/// Client kinds for the TYPE filters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn client_type(arg: &[u8]) -> Result<ClientType, Reply> {
    let s = String::from_utf8_lossy(arg).to_ascii_lowercase();
    match s.as_str() {
        "normal" => Ok(ClientType::Normal),
        "slave" | "replica" => Ok(ClientType::Replica),
        "master" => Ok(ClientType::Master),
        "pubsub" => Ok(ClientType::PubSub),
        _ => Err(Reply::error(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(arg)))),
    }
}

fn type_of(c: &ClientInfo) -> ClientType {
    if c.sub + c.psub + c.ssub > 0 {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

fn info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Verbatim("txt", Bytes::from(crate::engine::clients::info_line(ctx.st, ctx.conn.id)))
}

fn list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut ty: Option<ClientType> = None;
    let mut ids: Option<Vec<u64>> = None;
    if args.len() == 4 && eq_ic(&args[2], "type") {
        ty = Some(match client_type(&args[3]) {
            Ok(t) => t,
            Err(e) => return e,
        });
    } else if args.len() > 3 && eq_ic(&args[2], "id") {
        let mut v = Vec::new();
        for a in &args[3..] {
            match parse_i64(a) {
                Some(n) if n > 0 => v.push(n as u64),
                _ => return Reply::error("ERR Invalid client ID"),
            }
        }
        ids = Some(v);
    } else if args.len() != 2 {
        return syntax_error();
    }
    let now = Instant::now();
    let mut text = String::new();
    match ids {
        Some(ids) => {
            for id in ids {
                if let Some(c) = ctx.st.client(id) {
                    text.push_str(&crate::engine::clients::line(
                        c,
                        now,
                        ctx.st.blocking.is_blocked(c.id),
                        ctx.st.pubsub.output(c.id),
                    ));
                }
            }
        }
        None => {
            for c in ctx.st.clients() {
                if ty.is_none_or(|t| t == type_of(c)) {
                    text.push_str(&crate::engine::clients::line(
                        c,
                        now,
                        ctx.st.blocking.is_blocked(c.id),
                        ctx.st.pubsub.output(c.id),
                    ));
                }
            }
        }
    }
    Reply::Verbatim("txt", Bytes::from(text))
}

/// CLIENT KILL's filters; every one given must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    ty: Option<ClientType>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    user: Option<Bytes>,
    max_age: Option<u64>,
    skipme: bool,
}

fn kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() == 3 {
        // The old form: CLIENT KILL ip:port, replying +OK or an error.
        let target = args[2].clone();
        let found = ctx.st.clients().find(|c| c.peer.as_bytes() == target.as_ref()).map(|c| c.id);
        return match found {
            Some(id) => {
                kill_one(ctx, id);
                Reply::ok()
            }
            None => Reply::error("ERR No such client"),
        };
    }
    let mut f = KillFilter { skipme: true, ..Default::default() };
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return syntax_error();
        }
        let (opt, val) = (&args[i], &args[i + 1]);
        if eq_ic(opt, "id") {
            match parse_i64(val) {
                Some(n) if n > 0 => f.id = Some(n as u64),
                _ => return Reply::error("ERR client-id should be greater than 0"),
            }
        } else if eq_ic(opt, "type") {
            f.ty = Some(match client_type(val) {
                Ok(t) => t,
                Err(e) => return e,
            });
        } else if eq_ic(opt, "addr") {
            f.addr = Some(val.clone());
        } else if eq_ic(opt, "laddr") {
            f.laddr = Some(val.clone());
        } else if eq_ic(opt, "user") {
            let name = String::from_utf8_lossy(val).into_owned();
            let exists = name == "default" || crate::engine::acl::user_exists(ctx.st.config(), &name);
            if !exists {
                return Reply::error(format!("ERR No such user '{name}'"));
            }
            f.user = Some(val.clone());
        } else if eq_ic(opt, "skipme") {
            f.skipme = match () {
                _ if eq_ic(val, "yes") => true,
                _ if eq_ic(val, "no") => false,
                _ => return syntax_error(),
            };
        } else if eq_ic(opt, "maxage") {
            match parse_i64(val) {
                Some(n) if n >= 0 => f.max_age = Some(n as u64),
                _ => return syntax_error(),
            }
        } else {
            return syntax_error();
        }
        i += 2;
    }
    let now = Instant::now();
    let me = ctx.conn.id;
    let victims: Vec<u64> = ctx
        .st
        .clients()
        .filter(|c| {
            f.id.is_none_or(|id| c.id == id)
                && f.ty.is_none_or(|t| t == type_of(c))
                && f.addr.as_ref().is_none_or(|a| c.peer.as_bytes() == a.as_ref())
                && f.laddr.as_ref().is_none_or(|a| c.local.as_bytes() == a.as_ref())
                && f.user.as_ref().is_none_or(|u| c.user().as_ref() == u.as_ref())
                && f.max_age.is_none_or(|m| now.duration_since(c.created).as_secs() >= m)
                && !(f.skipme && c.id == me)
                // Redis frees a killed client at once: one still closing here is gone there.
                && !c.is_killed()
        })
        .map(|c| c.id)
        .collect();
    for &id in &victims {
        kill_one(ctx, id);
    }
    Reply::Int(victims.len() as i64)
}

/// Closes client `id`: the current connection after its reply, any other at once.
fn kill_one(ctx: &mut Ctx<'_>, id: u64) {
    ctx.kill_client(id);
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`. Wire it into CLIENT's subcommand table.
pub(crate) const CLIENT_UNBLOCK: CommandSpec = cmd(
    "client|unblock",
    -3,
    &["admin", "noscript", "loading", "stale"],
    (0, 0, 0),
    &["admin", "slow", "dangerous"],
    client_unblock,
);

fn client_unblock(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 4 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
        ));
    }
    let error = match args.get(3) {
        None => false,
        Some(r) if eq_ic(r, "timeout") => false,
        Some(r) if eq_ic(r, "error") => true,
        Some(_) => return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let Some(id) = parse_i64(&args[2]) else { return super::util::not_integer() };
    let unblocked = u64::try_from(id).is_ok_and(|id| crate::engine::blocking::unblock(ctx.st, id, error));
    Reply::Int(unblocked as i64)
}
