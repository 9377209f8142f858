//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, SWAPDB, HELLO, AUTH.

use bytes::Bytes;

use super::util::tri;
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("ping", -1, &["fast", "sentinel"], (0, 0, 0), &["fast", "connection"], ping),
    cmd("echo", 2, &["fast"], (0, 0, 0), &["fast", "connection"], echo),
    cmd(
        "quit",
        -1,
        &["allow_busy", "noscript", "loading", "stale", "fast", "no_auth"],
        (0, 0, 0),
        &["fast", "connection"],
        quit,
    ),
    cmd(
        "hello",
        -1,
        &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0),
        &["fast", "connection"],
        hello,
    ),
    cmd(
        "auth",
        -2,
        &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0),
        &["fast", "connection"],
        auth,
    ),
    cmd("select", 2, &["loading", "stale", "fast"], (0, 0, 0), &["fast", "connection"], select),
    cmd(
        "reset",
        1,
        &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0),
        &["fast", "connection"],
        reset,
    ),
    cmd("swapdb", 3, &["write", "fast"], (0, 0, 0), &["keyspace", "write", "fast", "dangerous"], swapdb),
];

fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // A subscribed RESP2 connection gets PING's answer in pub/sub message form.
    if args.len() <= 2 && ctx.resp() == 2 && super::pubsub::is_subscribed(ctx) {
        let arg = args.get(1).cloned().unwrap_or_default();
        return Reply::Array(vec![Reply::from("pong"), Reply::Bulk(arg)]);
    }
    match args.len() {
        1 => Reply::status("PONG"),
        2 => Reply::Bulk(args[1].clone()),
        _ => super::util::wrong_arity("ping"),
    }
}

fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.conn.effects.close = true;
    Reply::ok()
}

fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let idx = tri!(super::util::db_index(&args[1], ctx.st.db_count()));
    ctx.select_db(idx);
    Reply::ok()
}

/// The Redis version the fake reports (HELLO, INFO server).
pub(crate) const REDIS_VERSION: &str = "7.0.15";

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut proto = ctx.resp();
    if args.len() >= 2 {
        match super::util::parse_i64(&args[1]) {
            Some(v) if v == 2 || v == 3 => proto = v as u8,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
    }
    // Options act in order, as in Redis: an AUTH before a bad SETNAME
    // still authenticates the connection.
    let mut name: Option<Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if super::util::eq_ic(&args[i], "auth") && more >= 2 {
            if let Err(e) = super::auth::check(ctx, &args[0], &args[i + 1], &args[i + 2]) {
                return e;
            }
            i += 3;
        } else if super::util::eq_ic(&args[i], "setname") && more >= 1 {
            if let Err(e) = super::client::validate_name(&args[i + 1]) {
                return e;
            }
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i])));
        }
    }
    if !ctx.conn.authenticated {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        if let Some(c) = ctx.st.client_mut(ctx.conn.id) {
            c.name = n;
        }
    }
    ctx.set_protocol(proto);
    Reply::Map(vec![
        (Reply::from("server"), Reply::from("redis")),
        (Reply::from("version"), Reply::from(REDIS_VERSION)),
        (Reply::from("proto"), Reply::Int(proto as i64)),
        (Reply::from("id"), Reply::Int(ctx.conn.id as i64)),
        (Reply::from("mode"), Reply::from("standalone")),
        (Reply::from("role"), Reply::from("master")),
        (Reply::from("modules"), Reply::Array(vec![])),
    ])
}

/// RESET: the connection goes back to the state of a fresh one.
///
/// Transaction (MULTI, WATCH) and subscription state are cleared by the
/// transaction and pub/sub code.
fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let id = ctx.conn.id;
    crate::engine::multi::reset(ctx);
    super::pubsub::reset(ctx);
    ctx.set_protocol(2);
    ctx.select_db(0);
    ctx.set_user(Bytes::from_static(b"default"));
    ctx.conn.authenticated = super::auth::default_user_autoauth(ctx.st.config());
    if let Some(c) = ctx.st.client_mut(id) {
        c.name = Bytes::new();
        c.no_evict = false;
        c.no_touch = false;
    }
    super::client::reset_reply_mode(ctx);
    Reply::status("RESET")
}

fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // getIntFromObjectOrReply with a message: one text for a non-integer and
    // for one outside a C int.
    let (min, max) = (i64::from(i32::MIN), i64::from(i32::MAX));
    let a = tri!(super::util::range_long(&args[1], min, max, "ERR invalid first DB index"));
    let b = tri!(super::util::range_long(&args[2], min, max, "ERR invalid second DB index"));
    let n = ctx.st.db_count() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Reply::error("ERR DB index is out of range");
    }
    let (a, b) = (a as usize, b as usize);
    ctx.st.swap_dbs(a, b, ctx.now);
    Reply::ok()
}

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (user, pass) = match args.len() {
        2 => (Bytes::from_static(b"default"), args[1].clone()),
        3 => (args[1].clone(), args[2].clone()),
        _ => return super::util::syntax_error(),
    };
    if args.len() == 2 && super::auth::default_user_nopass(ctx.st.config()) {
        return Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    match super::auth::check(ctx, &args[0], &user, &pass) {
        Ok(()) => Reply::ok(),
        Err(e) => e,
    }
}
