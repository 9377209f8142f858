//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH.

use bytes::Bytes;

use super::util::{int_arg, tri};
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
];

fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // A subscribed RESP2 connection gets PING's answer in pub/sub message form.
    if args.len() <= 2 && ctx.conn.resp == 2 && super::pubsub::is_subscribed(ctx) {
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
    let idx = tri!(int_arg(&args[1]).map_err(|_| Reply::error("ERR value is not an integer or out of range")));
    if idx < 0 || idx as usize >= ctx.st.dbs.len() {
        return Reply::error("ERR DB index is out of range");
    }
    ctx.conn.db = idx as usize;
    if let Some(c) = ctx.st.clients.get_mut(&ctx.conn.id) {
        c.db = idx as usize;
    }
    Reply::ok()
}

/// The Redis version the fake reports (HELLO, INFO server).
pub(crate) const REDIS_VERSION: &str = "7.0.15";

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut i = 1;
    let mut proto = ctx.conn.resp;
    if args.len() >= 2 {
        match super::util::parse_i64(&args[1]) {
            Some(v) if v == 2 || v == 3 => proto = v as u8,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut auth: Option<(Bytes, Bytes)> = None;
    let mut name: Option<Bytes> = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if super::util::eq_ic(&args[i], "auth") && more >= 2 {
            auth = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if super::util::eq_ic(&args[i], "setname") && more >= 1 {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i])));
        }
    }
    if let Some((user, pass)) = auth {
        if let Err(e) = super::auth::check(ctx, &user, &pass) {
            return e;
        }
    }
    if !ctx.conn.authenticated {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        if let Err(e) = super::client::validate_name(&n) {
            return e;
        }
        if let Some(c) = ctx.st.clients.get_mut(&ctx.conn.id) {
            c.name = n;
        }
    }
    ctx.conn.resp = proto;
    if let Some(c) = ctx.st.clients.get_mut(&ctx.conn.id) {
        c.resp = proto;
    }
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

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (user, pass) = match args.len() {
        2 => (Bytes::from_static(b"default"), args[1].clone()),
        3 => (args[1].clone(), args[2].clone()),
        _ => return super::util::syntax_error(),
    };
    if args.len() == 2 && ctx.st.config.requirepass().is_none() {
        return Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    match super::auth::check(ctx, &user, &pass) {
        Ok(()) => Reply::ok(),
        Err(e) => e,
    }
}
