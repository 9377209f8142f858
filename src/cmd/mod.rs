//! Command handlers: one file per command group, and the table the engine
//! dispatches from ([`table`]).
//!
//! Every group module exposes `COMMANDS: &[CommandSpec]`. The engine
//! (`crate::engine::exec`) makes Redis's checks and calls the handler with
//! the parsed arguments (the command name first) and a [`Ctx`] holding the
//! locked state and this connection's state; the handler returns the
//! [`Reply`]. Handlers import the engine and the layers below it, never a
//! front end (`server`, `proxy`); shared argument parsing lives in
//! [`support`] ([`util`], [`scan`], [`random`]), so that listing `cmd/`
//! shows the command groups.
//!
//! Handlers reach the keyspace only through `State`'s operations, whose
//! structural writes (store, remove, expire, flush, swap) signal WATCH,
//! ready keys and memory accounting themselves. What a write handler still
//! does, as each Redis command does:
//! - call `ctx.st.signal_modified(db, key)` after an in-place edit
//!   (`lookup`, `entry_mut`) that changed the key (WATCH, and the key's
//!   memory accounting for `maxmemory`);
//! - call `ctx.st.notify(db, class, event, key)` with its event's name;
//! - call `ctx.st.signal_ready(db, key)` when an existing list, sorted set
//!   or stream gains elements;
//! - delete an aggregate it emptied (`support::util::drop_if_empty`).

pub(crate) mod support;

pub(crate) mod acl;
pub(crate) mod auth;
pub(crate) mod bitmaps;
pub(crate) mod busy;
pub(crate) mod client;
pub(crate) mod command;
pub(crate) mod connection;
pub(crate) mod dump;
#[cfg(feature = "scripting")]
pub(crate) mod functions;
pub(crate) mod geo;
pub(crate) mod harness;
pub(crate) mod hashes;
pub(crate) mod hyperloglog;
pub(crate) mod info;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod memory;
pub(crate) mod pubsub;
#[cfg(feature = "scripting")]
pub(crate) mod scripting;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod sort;
pub(crate) mod streams;
pub(crate) mod strings;
pub(crate) mod transactions;
pub(crate) mod zsets;

use std::sync::OnceLock;

pub(crate) use support::{random, scan, util};

#[cfg(test)]
pub(crate) use crate::engine::command::ConnState;
pub(crate) use crate::engine::command::{cmd, container_cmd, lookup_sub, CommandSpec, CommandTable, Ctx};
pub(crate) use crate::engine::exec::dispatch;
#[cfg(doc)]
use crate::protocol::Reply;

/// Every command group's table (without the `scripting` feature, none of
/// EVAL, SCRIPT, FUNCTION or FCALL: they answer as unknown commands).
fn groups() -> Vec<&'static [CommandSpec]> {
    vec![
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
        streams::COMMANDS,
        geo::COMMANDS,
        transactions::COMMANDS,
        pubsub::COMMANDS,
        #[cfg(feature = "scripting")]
        scripting::COMMANDS,
        busy::COMMANDS,
        #[cfg(feature = "scripting")]
        functions::COMMANDS,
    ]
}

/// Every command the fake implements, with HARNESS as the admin command:
/// the table the server hands the engine.
pub(crate) fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(|| CommandTable::new(groups().iter(), &harness::COMMAND))
}

/// Looks a command up by name, case-insensitively.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    table().lookup(name)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{dispatch, ConnState, Ctx};
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;
    use crate::engine::state::State;
    use crate::store::Value;

    /// Every byte string the keyspace holds after `cmds` ran, each with
    /// where it came from.
    fn stored(st: &State) -> Vec<(String, Bytes)> {
        let mut out = Vec::new();
        for (key, e) in st.db(0).iter() {
            let name = String::from_utf8_lossy(key).into_owned();
            out.push((format!("key {name}"), key.clone()));
            let items: Vec<Bytes> = match &e.value {
                Value::Str(s) => vec![s.clone()],
                Value::List(l) => l.iter().cloned().collect(),
                Value::Hash(h) => h.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect(),
                Value::Set(s) => s.iter().cloned().collect(),
                Value::ZSet(z) => z.iter().map(|(m, _)| m.clone()).collect(),
                Value::Stream(s) => s
                    .range(Default::default(), crate::store::stream::StreamId::MAX, false)
                    .flat_map(|(_, f)| f.to_vec())
                    .collect(),
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
        let mut st =
            State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table());
        let clock = Clock::paused_at(1_700_000_000_000);
        let mut conn = ConnState::new(1, true);
        for cmd in cmds {
            let args: Vec<Bytes> = cmd.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
            let mut ctx = Ctx { st: &mut st, conn: &mut conn, now: clock.now_ms(), clock: &clock };
            let reply = dispatch(&mut ctx, &args);
            assert!(!matches!(reply, crate::protocol::Reply::Error(_)), "{cmd:?}: {reply:?}");
            for (i, db) in st.dbs().enumerate() {
                assert_eq!(db.used_memory(), db.measured_memory(), "db {i} after {cmd:?}");
            }
            if cmd[0] == "ZREMRANGEBYRANK" {
                assert!(st.used_memory() > crate::store::mem::STARTUP + 500, "{}", st.used_memory());
            }
        }
        assert_eq!(st.used_memory(), crate::store::mem::STARTUP + st.db(1).used_memory() as u64);
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
        let mut st =
            State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table());
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
