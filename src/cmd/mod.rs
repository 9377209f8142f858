//! Commands: one file per command group, one dispatch table.
//!
//! Every group module exposes `COMMANDS: &[CommandSpec]`; [`lookup`] finds a
//! spec by name and [`dispatch`] runs Redis's checks in Redis's order
//! (unknown command, arity, authentication, ACL, maxmemory, pub/sub
//! context, transaction queueing) before
//! calling the handler. A handler gets the parsed arguments (the command
//! name first) and a [`Ctx`] holding the locked state and this connection's
//! state, and returns the [`Reply`].
//!
//! Rules every write handler follows, as Redis's do:
//! - call `ctx.st.signal_modified(db, key)` for each key it changes (WATCH,
//!   and the key's memory accounting for `maxmemory`);
//! - call `ctx.st.notify(db, class, event, key)` for keyspace notifications;
//! - call `ctx.st.signal_ready(db, key)` when a list/zset gains elements;
//! - delete an aggregate that became empty.

pub(crate) mod acl;
pub(crate) mod auth;
pub(crate) mod bitmaps;
pub(crate) mod busy;
#[cfg(test)]
mod catalog;
pub(crate) mod client;
pub(crate) mod command;
pub(crate) mod connection;
pub(crate) mod dump;
pub(crate) mod geo;
pub(crate) mod hashes;
pub(crate) mod hyperloglog;
pub(crate) mod info;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod longdouble;
pub(crate) mod memory;
pub(crate) mod num;
pub(crate) mod pubsub;
pub(crate) mod random;
pub(crate) mod scan;
pub(crate) mod scripting;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod sort;
pub(crate) mod strings;
pub(crate) mod transactions;
pub(crate) mod util;
pub(crate) mod zsets;

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::Reply;
use crate::server::state::State;

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

/// A command's static description: what COMMAND INFO reports, and its handler.
#[derive(Debug)]
pub(crate) struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Redis command flags (`write`, `readonly`, `fast`, `noscript`, ...).
    pub flags: &'static [&'static str],
    /// First key position, last key position (-1 = last arg), step.
    pub keys: (i32, i32, i32),
    /// ACL categories without the `@` (`string`, `keyspace`, `slow`, ...).
    pub acl: &'static [&'static str],
    pub handler: Handler,
    /// Subcommands (CLIENT, CONFIG, ...); the handler of a container is not called.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether the command has flag `f`.
    pub(crate) fn has_flag(&self, f: &str) -> bool {
        self.flags.contains(&f)
    }

    fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }
}

/// Every command group's table.
fn groups() -> [&'static [CommandSpec]; 21] {
    [
        connection::COMMANDS,
        client::COMMANDS,
        command::COMMANDS,
        acl::COMMANDS,
        server::COMMANDS,
        memory::COMMANDS,
        strings::COMMANDS,
        bitmaps::COMMANDS,
        hyperloglog::COMMANDS,
        keys::COMMANDS,
        sort::COMMANDS,
        dump::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        geo::COMMANDS,
        transactions::COMMANDS,
        pubsub::COMMANDS,
        scripting::COMMANDS,
        busy::COMMANDS,
    ]
}

/// All top-level commands, by lower-case name.
pub(crate) fn table() -> &'static crate::store::FastMap<&'static str, &'static CommandSpec> {
    static TABLE: OnceLock<crate::store::FastMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| groups().into_iter().flatten().map(|c| (c.name, c)).collect())
}

/// Looks a command up by name, case-insensitively.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let s = std::str::from_utf8(lower).ok()?;
    table().get(s).copied()
}

/// Finds the subcommand spec of a container command.
pub(crate) fn lookup_sub(spec: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    spec.subcommands.iter().find(|s| s.name.rsplit('|').next() == Some(lower.as_str()))
}

/// Side effects a handler asks of the connection, applied after it returns.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Close the connection after writing the reply (QUIT, protocol errors).
    pub close: bool,
    /// Wait this long before writing the reply (DEBUG SLEEP; blocks this connection only).
    pub sleep: Option<Duration>,
    /// Block this connection until one of the keys is ready (BLPOP, BZPOPMIN, ...).
    /// The handler returns `Reply::None`; the connection re-runs the same
    /// command when a key it waits on is signalled ready (`State::signal_ready`),
    /// clients being served in the order they blocked, and writes
    /// `on_timeout` if the timeout passes first.
    pub block: Option<BlockSpec>,
}

/// What a blocking command waits for.
#[derive(Debug, Clone)]
pub(crate) struct BlockSpec {
    /// Database of the keys.
    pub db: usize,
    /// Keys to wait on.
    pub keys: Vec<Bytes>,
    /// `None` blocks forever (a timeout of 0).
    pub timeout: Option<Duration>,
    /// Reply sent when the timeout passes (a null array for BLPOP, for example).
    pub on_timeout: Reply,
}

/// This connection's own state (the part other connections never read).
#[derive(Debug)]
pub(crate) struct ConnState {
    pub id: u64,
    /// 2 or 3.
    pub resp: u8,
    pub db: usize,
    pub authenticated: bool,
    pub user: Bytes,
    pub effects: Effects,
    /// True while EXEC runs this connection's queued commands: blocking
    /// commands must then reply at once instead of blocking, as in Redis.
    pub in_exec: bool,
    /// CLIENT REPLY state (see `client::filter_reply`).
    pub reply_mode: u8,
    /// Set while a blocked command is re-run because this key became ready.
    /// Redis 7.0 serves a blocked client from the ready key only (not from
    /// its first non-empty key), and leaves it blocked if that key holds
    /// another type; handlers consult it through `blocking::candidate_keys`.
    pub serving_key: Option<Bytes>,
    /// The open transaction (between MULTI and EXEC/DISCARD), if any.
    pub multi: Option<transactions::Multi>,
    /// Pub/sub messages and keyspace notifications for this connection
    /// (`None` for the test handle's socketless client).
    pub pushes: Option<crate::server::pubsub::PushReceiver>,
}

impl ConnState {
    pub(crate) fn new(id: u64, authenticated: bool) -> ConnState {
        ConnState {
            id,
            resp: 2,
            db: 0,
            authenticated,
            user: Bytes::from_static(b"default"),
            effects: Effects::default(),
            in_exec: false,
            reply_mode: client::REPLY_ON,
            serving_key: None,
            multi: None,
            pushes: None,
        }
    }
}

/// What a handler works with.
pub(crate) struct Ctx<'a> {
    pub st: &'a mut State,
    pub conn: &'a mut ConnState,
    /// Time of this command in unix ms (Redis caches it per command too).
    pub now: u64,
    /// The server's clock (TIME, and the clock the handle can pause).
    pub clock: &'a crate::server::clock::Clock,
}

impl Ctx<'_> {
    /// The selected database index.
    pub(crate) fn db(&self) -> usize {
        self.conn.db
    }
}

/// Runs one command with Redis's pre-execution checks; CLIENT REPLY OFF/SKIP
/// then decide whether its reply (errors included) is sent.
pub(crate) fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let reply = dispatch_checked(ctx, args);
    if let Reply::Error(e) = &reply {
        info::count_error(ctx.st, e);
    }
    client::filter_reply(ctx.conn, reply)
}

fn dispatch_checked(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let st = &mut *ctx.st;
    st.stats.commands_processed += 1;
    st.recorded.record(ctx.conn.id, args);
    let spec = match check(ctx, args) {
        Ok(spec) => spec,
        Err(e) => return transactions::rejected(ctx, args, e),
    };
    if ctx.conn.multi.is_some() && !transactions::runs_inside_multi(spec) {
        return transactions::queue(ctx, spec, args);
    }
    execute(ctx, spec, args)
}

/// The checks Redis makes before running (or queueing) a command.
fn check(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
    // HARNESS (when --admin is on) is checked like any command: NOAUTH, ACL, MULTI.
    let Some(spec) = lookup(&args[0]).or_else(|| ctx.st.admin_command(&args[0])) else {
        note_unsupported(ctx.st, &args[..1]);
        return Err(util::unknown_command(args));
    };
    let spec = if spec.subcommands.is_empty() || args.len() < 2 {
        spec
    } else {
        match lookup_sub(spec, &args[1]) {
            Some(sub) => sub,
            None => {
                note_unsupported(ctx.st, &args[..2]);
                return Err(util::unknown_subcommand(spec.name, &args[1]));
            }
        }
    };
    // Redis sets the client's last command (CLIENT INFO's `cmd=`) as soon as
    // it finds it, so the ACL LOG's client info names the refused command.
    if let Some(info) = ctx.st.clients.get_mut(&ctx.conn.id) {
        info.last_cmd = spec.name;
    }
    if !spec.arity_ok(args.len()) {
        return Err(util::wrong_arity(spec.name));
    }
    if !ctx.conn.authenticated && !spec.has_flag("no_auth") {
        return Err(Reply::error("NOAUTH Authentication required."));
    }
    acl::check_permissions(ctx, spec, args)?;
    // One comparison when no maxmemory is set: the common case stays free.
    if ctx.st.config.mm.limit != 0 {
        check_memory(ctx, spec)?;
    }
    pubsub::check_context(ctx, spec)?;
    if ctx.conn.multi.is_some() && spec.has_flag("no_multi") {
        return Err(Reply::error("ERR Command not allowed inside a transaction"));
    }
    Ok(spec)
}

/// Redis's maxmemory step of `processCommand`, between the ACL check and
/// the pub/sub context check: evict per `maxmemory-policy` (before every
/// command, reads included), then, if memory is still over the limit,
/// refuse a `denyoom` command, an EXEC whose queue holds one, or (queueing
/// may use unlimited memory) any command inside MULTI but EXEC, DISCARD,
/// QUIT and RESET. A refusal inside MULTI flags the transaction, so EXEC
/// answers EXECABORT; commands EXEC runs are not checked again, and neither
/// are blocked commands re-run when their key is ready.
fn check_memory(ctx: &mut Ctx<'_>, spec: &'static CommandSpec) -> Result<(), Reply> {
    let evicted = ctx.st.stats.evicted_keys;
    let oom = ctx.st.perform_evictions(ctx.now);
    if ctx.st.stats.evicted_keys != evicted {
        // Redis publishes each `evicted` event as it evicts, before the command runs.
        ctx.st.deliver_events();
    }
    if !oom {
        return Ok(());
    }
    let reject = match &ctx.conn.multi {
        _ if spec.has_flag("denyoom") => true,
        Some(m) if spec.name == "exec" => m.queued.iter().any(|(s, _)| s.has_flag("denyoom")),
        Some(_) => !matches!(spec.name, "discard" | "quit" | "reset"),
        None => false,
    };
    if reject {
        return Err(Reply::error(crate::server::evict::OOM_ERROR));
    }
    Ok(())
}

/// Most distinct names `State::unsupported` keeps (a fuzzer sends endless ones).
const UNSUPPORTED_LIMIT: usize = 1000;

/// Counts a command (`[name]`) or subcommand (`[container, sub]`) the fake
/// answered as unknown, and logs the first time each name is seen: the
/// reply stays Redis's own error, the log says whether it is a Redis 7.0
/// command the fake lacks or one Redis would refuse too.
#[cold]
fn note_unsupported(st: &mut State, words: &[Bytes]) {
    let name: Vec<String> =
        words.iter().map(|w| String::from_utf8_lossy(&w[..w.len().min(64)]).to_ascii_uppercase()).collect();
    let name = name.join(" ");
    if let Some(n) = st.unsupported.get_mut(&name) {
        *n += 1;
        return;
    }
    if st.unsupported.len() >= UNSUPPORTED_LIMIT {
        return;
    }
    st.unsupported.insert(name.clone(), 1);
    let known = match words {
        [cmd] => command::is_redis_command(&String::from_utf8_lossy(cmd)),
        [cmd, sub] => {
            command::is_redis_command(&format!("{}|{}", String::from_utf8_lossy(cmd), String::from_utf8_lossy(sub)))
        }
        _ => false,
    };
    if known {
        tracing::warn!(command = %name, "redis-harness: the fake does not implement {name} (a Redis 7.0 command); it answered with Redis's unknown-command error");
    } else {
        tracing::info!(command = %name, "redis-harness: {name} is not a Redis 7.0 command; answered with Redis's unknown-command error, as Redis does");
    }
}

/// Runs a checked command and publishes the keyspace events it caused
/// (EXEC runs its queued commands through this too).
pub(crate) fn execute(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let reply = (spec.handler)(ctx, args);
    ctx.st.deliver_events();
    reply
}

/// Builds a [`CommandSpec`] without subcommands (keeps the tables short).
pub(crate) const fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    handler: Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, acl, handler, subcommands: &[] }
}

/// A container command (MEMORY, SCRIPT, ...) as Redis declares one: arity
/// -2, no flags or keys, `@slow`; `handler` answers a missing or unknown
/// subcommand.
pub(crate) const fn container_cmd(
    name: &'static str,
    handler: Handler,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec { name, arity: -2, flags: &[], keys: (0, 0, 0), acl: &["slow"], handler, subcommands }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{dispatch, ConnState, Ctx};
    use crate::server::clock::Clock;
    use crate::server::config::Config;
    use crate::server::state::State;
    use crate::store::Value;

    /// Every byte string the keyspace holds after `cmds` ran, each with
    /// where it came from.
    fn stored(st: &State) -> Vec<(String, Bytes)> {
        let mut out = Vec::new();
        for (key, e) in st.dbs[0].iter() {
            let name = String::from_utf8_lossy(key).into_owned();
            out.push((format!("key {name}"), key.clone()));
            let items: Vec<Bytes> = match &e.value {
                Value::Str(s) => vec![s.clone()],
                Value::List(l) => l.iter().cloned().collect(),
                Value::Hash(h) => h.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect(),
                Value::Set(s) => s.iter().cloned().collect(),
                Value::ZSet(z) => z.iter().map(|(m, _)| m.clone()).collect(),
            };
            out.extend(items.into_iter().map(|b| (format!("element of {name}"), b)));
        }
        out
    }

    #[test]
    fn memory_accounting_follows_every_write() {
        // After each write, the incrementally kept used memory must equal a
        // from-scratch measurement: a write path that changes a value
        // without signal_modified (or bypasses Db) would drift here.
        let cmds: &[&[&str]] = &[
            &["SET", "s", "hello"],
            &["SETBIT", "bits", "100", "1"],
            &["SETBIT", "bits", "1000", "1"],
            &["SETBIT", "s", "7", "1"],
            &["BITFIELD", "bits", "SET", "u8", "2000", "255", "INCRBY", "i5", "3", "1"],
            &["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "100"],
            &["BITOP", "OR", "bits2", "bits", "s"],
            &["PFADD", "hll", "a", "b", "c"],
            &["PFCOUNT", "hll"],
            &["PFMERGE", "hll2", "hll"],
            &["PFDEBUG", "TODENSE", "hll2"],
            &["APPEND", "s", " world"],
            &["SETRANGE", "s", "20", "x"],
            &["INCR", "n"],
            &["INCRBYFLOAT", "n", "1.5"],
            &["MSET", "a", "1", "b", "22"],
            &["SETEX", "t", "100", "v"],
            &["EXPIRE", "a", "100"],
            &["PERSIST", "a"],
            &["PEXPIRE", "b", "100000"],
            &["GETSET", "b", "333"],
            &["GETEX", "s", "EX", "50"],
            &["SET", "k", "v", "KEEPTTL"],
            &["GETDEL", "k"],
            &["RPUSH", "l", "x", "y", "z"],
            &["LPUSH", "l", "w"],
            &["LSET", "l", "0", "longer-element"],
            &["LINSERT", "l", "BEFORE", "x", "q"],
            &["LREM", "l", "1", "q"],
            &["LTRIM", "l", "0", "2"],
            &["LPOP", "l"],
            &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
            &["RPOPLPUSH", "l2", "l"],
            &["HSET", "h", "f", "v", "g", "w"],
            &["HSET", "h", "f", "a-longer-value"],
            &["HSETNX", "h", "n", "1"],
            &["HINCRBY", "h", "n", "100"],
            &["HINCRBYFLOAT", "h", "n", "0.25"],
            &["HDEL", "h", "g"],
            &["SADD", "set", "a", "b", "c"],
            &["SREM", "set", "a"],
            &["SMOVE", "set", "set2", "b"],
            &["SPOP", "set"],
            &["SADD", "x1", "1", "2", "3"],
            &["SADD", "x2", "3", "4"],
            &["SUNIONSTORE", "u", "x1", "x2"],
            &["SINTERSTORE", "i", "x1", "x2"],
            &["SDIFFSTORE", "d", "x1", "x2"],
            &["ZADD", "z", "1", "m", "2", "n", "3", "o"],
            &["ZINCRBY", "z", "5", "m"],
            &["ZREM", "z", "n"],
            &["ZPOPMIN", "z"],
            &["ZADD", "z2", "1", "p"],
            &["ZUNIONSTORE", "zu", "2", "z", "z2"],
            &["ZRANGESTORE", "zr", "zu", "0", "-1"],
            &["ZREMRANGEBYRANK", "zu", "0", "0"],
            &["RENAME", "zr", "zr2"],
            &["COPY", "h", "h2"],
            &["MOVE", "h2", "1"],
            &["DEL", "a"],
            &["UNLINK", "x2"],
            &["SORT", "x1", "DESC", "STORE", "sorted"],
            &["SORT", "x1", "GET", "#", "GET", "nokey*", "STORE", "sorted"],
            &["SORT", "nokey", "STORE", "sorted"],
            &["SWAPDB", "0", "1"],
            &["SWAPDB", "0", "1"],
            &["FLUSHDB"],
        ];
        let mut st = State::new(Config::default(), 16, 1, crate::server::state::CommandLog::new(false, 0));
        let clock = Clock::paused_at(1_700_000_000_000);
        let mut conn = ConnState::new(1, true);
        for cmd in cmds {
            let args: Vec<Bytes> = cmd.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
            let mut ctx = Ctx { st: &mut st, conn: &mut conn, now: clock.now_ms(), clock: &clock };
            let reply = dispatch(&mut ctx, &args);
            assert!(!matches!(reply, crate::protocol::Reply::Error(_)), "{cmd:?}: {reply:?}");
            for (i, db) in st.dbs.iter().enumerate() {
                assert_eq!(db.used_memory(), db.measured_memory(), "db {i} after {cmd:?}");
            }
            if cmd[0] == "ZREMRANGEBYRANK" {
                assert!(st.used_memory() > crate::store::mem::STARTUP + 500, "{}", st.used_memory());
            }
        }
        assert_eq!(st.used_memory(), crate::store::mem::STARTUP + st.dbs[1].used_memory() as u64);
    }

    #[test]
    fn stored_arguments_do_not_pin_the_read_buffer() {
        // The arguments are slices of one buffer, as the parser hands them
        // out; what the keyspace keeps must be copies outside it.
        let cmds: &[&[&str]] = &[
            &["SET", "s", "v"],
            &["MSET", "m1", "a", "m2", "b"],
            &["APPEND", "ap", "tail"],
            &["RPUSH", "l", "x", "y"],
            &["LPUSH", "l", "w"],
            &["LSET", "l", "0", "z"],
            &["LINSERT", "l", "BEFORE", "z", "q"],
            &["HSET", "h", "f", "v"],
            &["HSETNX", "h", "g", "v"],
            &["HINCRBY", "h", "n", "1"],
            &["SADD", "set", "m"],
            &["SMOVE", "set", "set2", "m"],
            &["ZADD", "z", "1", "m"],
            &["ZINCRBY", "z", "1", "n"],
            &["RENAME", "s", "renamed"],
        ];
        let mut wire = Vec::new();
        let mut spans = Vec::new();
        for cmd in cmds {
            spans.push(
                cmd.iter()
                    .map(|a| {
                        let at = wire.len();
                        wire.extend_from_slice(a.as_bytes());
                        at..wire.len()
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let buffer = Bytes::from(wire);
        let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        let mut st = State::new(Config::default(), 16, 1, crate::server::state::CommandLog::new(false, 0));
        let clock = Clock::paused_at(1_700_000_000_000);
        let mut conn = ConnState::new(1, true);
        for (cmd, spans) in cmds.iter().zip(spans) {
            let args: Vec<Bytes> = spans.into_iter().map(|r| buffer.slice(r)).collect();
            let mut ctx = Ctx { st: &mut st, conn: &mut conn, now: clock.now_ms(), clock: &clock };
            let reply = dispatch(&mut ctx, &args);
            assert!(!matches!(reply, crate::protocol::Reply::Error(_)), "{cmd:?}: {reply:?}");
        }
        let held = stored(&st);
        assert!(held.len() >= 20, "the commands stored too little: {held:?}");
        for (what, b) in held {
            assert!(!range.contains(&(b.as_ptr() as usize)), "{what} ({b:?}) is a slice of the read buffer");
        }
    }
}
