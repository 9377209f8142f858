//! MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.
//!
//! The numbers come from the fake's own memory accounting
//! (`crate::store::mem`), not from an allocator, so they differ from
//! jemalloc's; what holds is the relations Redis users rely on: a key
//! holding more (longer strings, more or longer elements, a longer key name)
//! reports more, and MEMORY STATS adds up as Redis's does.
//!
//! - MEMORY USAGE is the key's accounted share of `used_memory` without its
//!   TTL entry (Redis does not count the expires dict either): the key
//!   overhead and name, plus the value's overhead and bytes. Like Redis it
//!   looks the key up without expiring it or counting a hit or miss, and
//!   checks SAMPLES (an integer, not negative) before the lookup; the
//!   accounting already covers every element, so SAMPLES changes nothing.
//! - MEMORY STATS has redis-server 7.0's fields in 7.0's order: the totals
//!   are INFO memory's, each non-empty database's hash-table overheads are
//!   computed as Redis sizes its dicts (24 bytes an entry, 8 a bucket, the
//!   bucket count a power of two of at least 4, plus a 16-byte object per
//!   key in the main dict), and the derived fields follow Redis's formulas
//!   (percentages in single precision, as Redis computes them).
//! - MEMORY DOCTOR gives Redis's answer for a server under 5 MB ("this
//!   instance is empty or is using very little memory"), and its all-clear
//!   above that (the fake has none of the conditions Redis reports).

use bytes::Bytes;

use super::info::{mem_figures, MemFigures};
use super::server::help_reply;
use super::util::{eq_ic, int_arg, syntax_error, unknown_subcommand};
use super::{cmd, container_cmd, CommandSpec, Ctx};
use crate::engine::state::State;
use crate::protocol::Reply;
use crate::store::mem::{EXPIRE_OVERHEAD, STARTUP};

pub(crate) const COMMANDS: &[CommandSpec] = &[container_cmd(
    "memory",
    container,
    &[
        cmd("memory|doctor", 2, &[], (0, 0, 0), &["slow"], doctor),
        cmd("memory|help", 2, &["loading", "stale"], (0, 0, 0), &["slow"], help),
        cmd("memory|malloc-stats", 2, &[], (0, 0, 0), &["slow"], malloc_stats),
        cmd("memory|purge", 2, &[], (0, 0, 0), &["slow"], purge),
        cmd("memory|stats", 2, &[], (0, 0, 0), &["slow"], stats),
        cmd("memory|usage", -3, &["readonly"], (2, 2, 1), &["read", "slow"], usage),
    ],
)];

/// Never called: dispatch resolves MEMORY to a subcommand first.
fn container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    unknown_subcommand("memory", args.get(1).map_or(&b""[..], |a| a.as_ref()))
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ])
}

/// The bytes MEMORY USAGE reports for a key: its accounted share of
/// `used_memory` minus the expires-dict entry of a key with a TTL.
pub(crate) fn key_usage(st: &State, db: usize, key: &[u8]) -> Option<u64> {
    let e = st.peek(db, key)?;
    let ttl = if e.expire_at.is_some() { EXPIRE_OVERHEAD } else { 0 };
    Some((e.mem() - ttl) as u64)
}

fn usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut j = 3;
    while j < args.len() {
        if eq_ic(&args[j], "samples") && j + 1 < args.len() {
            match int_arg(&args[j + 1]) {
                Ok(n) if n < 0 => return syntax_error(),
                Ok(_) => {}
                Err(e) => return e,
            }
            j += 2;
        } else {
            return syntax_error();
        }
    }
    match key_usage(ctx.st, ctx.db(), &args[2]) {
        Some(n) => Reply::Int(n as i64),
        None => Reply::Nil,
    }
}

/// Buckets of a Redis dict holding `n` entries (0 when it was never filled).
fn dict_slots(n: usize) -> u64 {
    if n == 0 {
        0
    } else {
        n.next_power_of_two().max(4) as u64
    }
}

/// `functions.caches` of a server without functions (redis-server 7.0).
const FUNCTIONS_CACHES: u64 = 200;

fn stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let st = &*ctx.st;
    let MemFigures { used, peak, rss, active, resident } = mem_figures(st);
    let key = |name: &'static str| Reply::Bulk(Bytes::from_static(name.as_bytes()));
    let int = |name: &'static str, v: u64| (key(name), Reply::Int(v.min(i64::MAX as u64) as i64));
    let float = |name: &'static str, v: f32| (key(name), Reply::Double(f64::from(v)));
    let mut out = vec![
        int("peak.allocated", peak),
        int("total.allocated", used),
        int("startup.allocated", STARTUP),
        int("replication.backlog", 0),
        int("clients.slaves", 0),
        int("clients.normal", 0),
        int("cluster.links", 0),
        int("aof.buffer", 0),
        int("lua.caches", 0),
        int("functions.caches", FUNCTIONS_CACHES),
    ];
    let mut overhead = STARTUP + FUNCTIONS_CACHES;
    let mut keys = 0u64;
    for (i, d) in st.dbs().enumerate() {
        let (n, volatile) = (d.len(), d.volatile_len());
        if n == 0 {
            continue;
        }
        keys += n as u64;
        let main = n as u64 * (24 + 16) + dict_slots(n) * 8;
        let expires = volatile as u64 * 24 + dict_slots(volatile) * 8;
        overhead += main + expires;
        out.push((
            Reply::Bulk(Bytes::from(format!("db.{i}"))),
            Reply::Map(vec![
                int("overhead.hashtable.main", main),
                int("overhead.hashtable.expires", expires),
                int("overhead.hashtable.slot-to-keys", 0),
            ]),
        ));
    }
    let net = if used > STARTUP { used - STARTUP } else { 1 };
    let dataset = used.saturating_sub(overhead);
    let ratio = |a: u64, b: u64| a as f32 / b.max(1) as f32;
    out.extend([
        int("overhead.total", overhead),
        int("keys.count", keys),
        int("keys.bytes-per-key", net.checked_div(keys).unwrap_or(0)),
        int("dataset.bytes", dataset),
        float("dataset.percentage", dataset as f32 * 100.0 / net as f32),
        float("peak.percentage", used as f32 * 100.0 / peak.max(1) as f32),
        int("allocator.allocated", used),
        int("allocator.active", active),
        int("allocator.resident", resident),
        float("allocator-fragmentation.ratio", ratio(active, used)),
        int("allocator-fragmentation.bytes", active - used),
        float("allocator-rss.ratio", ratio(resident, active)),
        int("allocator-rss.bytes", resident - active),
        float("rss-overhead.ratio", ratio(rss, resident)),
        int("rss-overhead.bytes", rss - resident),
        float("fragmentation", ratio(rss, used)),
        int("fragmentation.bytes", rss - used),
    ]);
    Reply::Map(out)
}

/// Below this much memory Redis's doctor declines to diagnose.
const DOCTOR_MIN: u64 = 5 * 1024 * 1024;

fn doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let text = if ctx.st.used_memory() < DOCTOR_MIN {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    };
    Reply::Verbatim("txt", Bytes::from_static(text.as_bytes()))
}

/// The fake has no allocator statistics: Redis's answer when built
/// without jemalloc.
fn malloc_stats(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Verbatim("txt", Bytes::from_static(b"Stats not supported for the current allocator"))
}

/// Nothing to give back to an allocator: OK, as Redis replies.
fn purge(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::{dispatch, ConnState, Ctx};
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;
    use crate::engine::state::{CommandLog, State};
    use crate::protocol::Reply;

    fn run(st: &mut State, conn: &mut ConnState, clock: &Clock, cmd: &[&str]) -> Reply {
        let args: Vec<Bytes> = cmd.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut ctx = Ctx { st, conn, now: clock.now_ms(), clock };
        dispatch(&mut ctx, &args)
    }

    #[test]
    fn usage_orders_keys_as_redis_does() {
        let mut st = State::new(Config::default(), 16, 1, CommandLog::new(false, 0), crate::cmd::table());
        let clock = Clock::paused_at(1_700_000_000_000);
        let mut conn = ConnState::new(1, true);
        let mut usage = |cmds: &[&[&str]], key: &str| {
            for c in cmds {
                assert!(!matches!(run(&mut st, &mut conn, &clock, c), Reply::Error(_)), "{c:?}");
            }
            match run(&mut st, &mut conn, &clock, &["MEMORY", "USAGE", key, "SAMPLES", "0"]) {
                Reply::Int(n) => n,
                r => panic!("{key}: {r:?}"),
            }
        };
        let big = "x".repeat(1000);
        let small_str = usage(&[&["SET", "s", "v"]], "s");
        let big_str = usage(&[&["SET", "b", &big]], "b");
        assert!(big_str >= small_str + 999, "{small_str} {big_str}");
        let short_list = usage(&[&["RPUSH", "l1", "a"]], "l1");
        let long_list = usage(&[&["RPUSH", "l2", "a", "b", "c", "d"]], "l2");
        assert!(long_list > short_list);
        let zset = usage(&[&["ZADD", "z", "1", "a", "2", "b"]], "z");
        let bigger_zset = usage(&[&["ZADD", "z", "3", &big]], "z");
        assert!(bigger_zset > zset + 1000);
        // A longer key name costs more; a TTL does not count (Redis leaves out the expires dict).
        let long_name = usage(&[&["SET", "a-much-longer-key-name", "v"]], "a-much-longer-key-name");
        assert!(long_name > small_str);
        assert_eq!(usage(&[&["EXPIRE", "s", "100"]], "s"), small_str);
        assert_eq!(run(&mut st, &mut conn, &clock, &["MEMORY", "USAGE", "missing"]), Reply::Nil);
        assert!(matches!(run(&mut st, &mut conn, &clock, &["MEMORY", "USAGE", "s", "SAMPLES", "-1"]), Reply::Error(_)));
    }

    #[test]
    fn stats_add_up() {
        let mut st = State::new(Config::default(), 16, 1, CommandLog::new(false, 0), crate::cmd::table());
        let clock = Clock::paused_at(1_700_000_000_000);
        let mut conn = ConnState::new(1, true);
        for i in 0..5 {
            run(&mut st, &mut conn, &clock, &["SET", &format!("k{i}"), "v"]);
        }
        run(&mut st, &mut conn, &clock, &["EXPIRE", "k0", "100"]);
        let Reply::Map(fields) = run(&mut st, &mut conn, &clock, &["MEMORY", "STATS"]) else { panic!() };
        let get = |name: &str| {
            fields.iter().find(|(k, _)| *k == Reply::Bulk(Bytes::from(name.to_string()))).map(|f| f.1.clone())
        };
        assert_eq!(fields.len(), 28);
        assert_eq!(get("keys.count"), Some(Reply::Int(5)));
        assert_eq!(
            get("db.0"),
            Some(Reply::Map(vec![
                (Reply::Bulk(Bytes::from_static(b"overhead.hashtable.main")), Reply::Int(5 * 40 + 8 * 8)),
                (Reply::Bulk(Bytes::from_static(b"overhead.hashtable.expires")), Reply::Int(24 + 4 * 8)),
                (Reply::Bulk(Bytes::from_static(b"overhead.hashtable.slot-to-keys")), Reply::Int(0)),
            ]))
        );
        assert_eq!(get("total.allocated"), Some(Reply::Int(st.used_memory() as i64)));
    }
}
