//! Set commands: SADD, SMEMBERS, SPOP, SINTER/SUNION/SDIFF and their STORE
//! forms, SINTERCARD, SSCAN, ...
//!
//! Redis 7.0 keeps small all-integer sets as an intset, which iterates in
//! ascending numeric order; other sets are hash tables with no defined order.
//! The fake keeps every set that Redis could hold as an intset sorted that
//! way ([`normalize`]), so replies for such sets match Redis exactly.

use bytes::Bytes;
use indexmap::IndexSet;

use super::random::{self, parse_count, Picks};
use super::scan::parse_cursor;
use super::scan::{parse_scan_opts, scan_batch, scan_reply};
use super::util::{self, count_arg, drop_if_empty, eq_ic, parse_i64, syntax_error, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::engine::state::State;
use crate::protocol::Reply;
use crate::store::{keep, Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("sadd", -3, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "set", "fast"], sadd),
    cmd("srem", -3, &["write", "fast"], (1, 1, 1), &["write", "set", "fast"], srem),
    cmd("smembers", 2, &["readonly"], (1, 1, 1), &["read", "set", "slow"], smembers),
    cmd("sismember", 3, &["readonly", "fast"], (1, 1, 1), &["read", "set", "fast"], sismember),
    cmd("smismember", -3, &["readonly", "fast"], (1, 1, 1), &["read", "set", "fast"], smismember),
    cmd("scard", 2, &["readonly", "fast"], (1, 1, 1), &["read", "set", "fast"], scard),
    cmd("spop", -2, &["write", "fast"], (1, 1, 1), &["write", "set", "fast"], spop),
    cmd("srandmember", -2, &["readonly"], (1, 1, 1), &["read", "set", "slow"], srandmember),
    cmd("smove", 4, &["write", "fast"], (1, 2, 1), &["write", "set", "fast"], smove),
    cmd("sinter", -2, &["readonly"], (1, -1, 1), &["read", "set", "slow"], sinter),
    cmd("sintercard", -3, &["readonly", "movablekeys"], (0, 0, 0), &["read", "set", "slow"], sintercard),
    cmd("sinterstore", -3, &["write", "denyoom"], (1, -1, 1), &["write", "set", "slow"], sinterstore),
    cmd("sunion", -2, &["readonly"], (1, -1, 1), &["read", "set", "slow"], sunion),
    cmd("sunionstore", -3, &["write", "denyoom"], (1, -1, 1), &["write", "set", "slow"], sunionstore),
    cmd("sdiff", -2, &["readonly"], (1, -1, 1), &["read", "set", "slow"], sdiff),
    cmd("sdiffstore", -3, &["write", "denyoom"], (1, -1, 1), &["write", "set", "slow"], sdiffstore),
    cmd("sscan", -3, &["readonly"], (1, 1, 1), &["read", "set", "slow"], sscan),
];

type Set = IndexSet<Bytes>;

/// `set-max-intset-entries`.
fn intset_limit(st: &State) -> usize {
    st.config().encoding.set_intset_entries
}

/// Whether Redis could hold this set as an intset (all members integers as
/// string2ll reads them, and few enough of them).
fn is_intset(set: &Set, limit: usize) -> bool {
    set.len() <= limit && set.iter().all(|m| parse_i64(m).is_some())
}

/// Sorts a set Redis would keep as an intset into intset order (ascending
/// numeric); leaves any other set alone (its order is undefined in Redis).
pub(crate) fn normalize(set: &mut Set, limit: usize) {
    if set.len() < 2 || set.len() > limit {
        return;
    }
    let mut prev = i64::MIN;
    let mut sorted = true;
    for m in set.iter() {
        let Some(v) = parse_i64(m) else { return };
        sorted &= v >= prev;
        prev = v;
    }
    if !sorted {
        set.sort_by_cached_key(|m| parse_i64(m).unwrap_or(0));
    }
}

/// Looks a set up: `Ok(None)` if missing, WRONGTYPE for another type.
/// `read` counts keyspace hits/misses (Redis's lookupKeyRead).
fn get_set<'a>(ctx: &'a mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<&'a mut Set>, Reply> {
    let db = ctx.db();
    let entry = if read { ctx.st.lookup_read(db, key, ctx.now) } else { ctx.st.lookup(db, key, ctx.now) };
    match entry {
        None => Ok(None),
        Some(Entry { value: Value::Set(s), .. }) => Ok(Some(s)),
        Some(_) => Err(wrongtype()),
    }
}

fn bulk_all<'a>(it: impl Iterator<Item = &'a Bytes>) -> Vec<Reply> {
    it.cloned().map(Reply::Bulk).collect()
}

fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let db = ctx.db();
    let limit = intset_limit(ctx.st);
    if tri!(get_set(ctx, key, false)).is_none() {
        ctx.st.store_entry(db, key, Entry::new(Value::Set(Set::new()), ctx.now));
    }
    let Some(set) = tri!(get_set(ctx, key, false)) else { return Reply::Int(0) };
    let mut added = 0;
    for m in &args[2..] {
        added += i64::from(set.insert(keep(m)));
    }
    normalize(set, limit);
    if added > 0 {
        ctx.st.signal_modified(db, key);
        ctx.st.notify(db, 's', "sadd", key);
    }
    Reply::Int(added)
}

fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let db = ctx.db();
    let limit = intset_limit(ctx.st);
    let Some(set) = tri!(get_set(ctx, key, false)) else { return Reply::Int(0) };
    let mut deleted = 0;
    for m in &args[2..] {
        if set.swap_remove(m) {
            deleted += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    normalize(set, limit);
    if deleted > 0 {
        ctx.st.signal_modified(db, key);
        ctx.st.notify(db, 's', "srem", key);
        drop_if_empty(ctx, key);
    }
    Reply::Int(deleted)
}

fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // Redis 7.0 serves SMEMBERS with SINTER of one key.
    sinter_generic(ctx, &args[1..], None, None)
}

fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let set = tri!(get_set(ctx, &args[1], true));
    Reply::Int(set.is_some_and(|s| s.contains(&args[2])) as i64)
}

fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let set = tri!(get_set(ctx, &args[1], true));
    Reply::Array(args[2..].iter().map(|m| Reply::Int(set.as_ref().is_some_and(|s| s.contains(m)) as i64)).collect())
}

fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let set = tri!(get_set(ctx, &args[1], true));
    Reply::Int(set.map_or(0, |s| s.len() as i64))
}

fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let db = ctx.db();
    let limit = intset_limit(ctx.st);
    let count = match args.len() {
        2 => None,
        3 => Some(tri!(count_arg(&args[2], 0, "ERR value is out of range, must be positive"))),
        _ => return syntax_error(),
    };
    let Some(len) = tri!(get_set(ctx, key, false)).map(|s| s.len()) else {
        return if count.is_some() { Reply::Set(Vec::new()) } else { Reply::Nil };
    };
    if count == Some(0) {
        return Reply::Set(Vec::new());
    }
    let want = count.unwrap_or(1);
    let picks: Vec<usize> =
        if want >= len as u64 { (0..len).collect() } else { random::distinct(&mut ctx.st.rng, len, want as usize) };
    let Some(set) = tri!(get_set(ctx, key, false)) else { return Reply::Nil };
    let popped: Vec<Bytes> = picks.iter().filter_map(|&i| set.get_index(i).cloned()).collect();
    for m in &popped {
        set.swap_remove(m);
    }
    normalize(set, limit);
    ctx.st.notify(db, 's', "spop", key);
    drop_if_empty(ctx, key);
    ctx.st.signal_modified(db, key);
    match count {
        None => Reply::from(popped.into_iter().next()),
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
    }
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = match args.len() {
        2 => None,
        3 => Some(tri!(parse_count(&args[2]))),
        _ => return syntax_error(),
    };
    let Some(set) = tri!(get_set(ctx, &args[1], true)) else {
        return if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil };
    };
    let len = set.len();
    let Some(count) = count else {
        let i = ctx.st.rng.usize(0..len);
        let m = tri!(get_set(ctx, &args[1], false)).and_then(|s| s.get_index(i).cloned());
        return Reply::from(m);
    };
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    let picks: Vec<usize> = match tri!(random::plan(&mut ctx.st.rng, len, count)) {
        Picks::Repeated(picks) => picks,
        Picks::All => (0..len).collect(),
        Picks::Distinct(k) => random::distinct(&mut ctx.st.rng, len, k),
    };
    let Some(set) = tri!(get_set(ctx, &args[1], false)) else { return Reply::Array(Vec::new()) };
    Reply::Array(picks.iter().filter_map(|&i| set.get_index(i).cloned()).map(Reply::Bulk).collect())
}

fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let db = ctx.db();
    let limit = intset_limit(ctx.st);
    let Some(src_has) = tri!(get_set(ctx, src, false)).map(|s| s.contains(member)) else {
        return Reply::Int(0);
    };
    let dst_exists = tri!(get_set(ctx, dst, false)).is_some();
    if src == dst {
        return Reply::Int(src_has as i64);
    }
    if !src_has {
        return Reply::Int(0);
    }
    if let Some(set) = tri!(get_set(ctx, src, false)) {
        set.swap_remove(member);
        normalize(set, limit);
    }
    ctx.st.notify(db, 's', "srem", src);
    drop_if_empty(ctx, src);
    if !dst_exists {
        ctx.st.store_entry(db, dst, Entry::new(Value::Set(Set::new()), ctx.now));
    }
    ctx.st.signal_modified(db, src);
    let added = match tri!(get_set(ctx, dst, false)) {
        Some(set) => {
            let added = set.insert(keep(member));
            normalize(set, limit);
            added
        }
        None => false,
    };
    if added {
        ctx.st.signal_modified(db, dst);
        ctx.st.notify(db, 's', "sadd", dst);
    }
    Reply::Int(1)
}

/// Looks every source key up in order, failing on the first wrong type as
/// Redis does (missing keys are `None` and do not stop the checks).
fn source_sets(ctx: &mut Ctx<'_>, keys: &[Bytes], read: bool) -> Result<Vec<Option<Bytes>>, Reply> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        out.push(get_set(ctx, k, read)?.map(|_| k.clone()));
    }
    Ok(out)
}

/// Stores a STORE command's result in intset order when Redis would keep an intset.
fn store_result(ctx: &mut Ctx<'_>, dst: &Bytes, mut result: Set, event: &'static str) -> Reply {
    normalize(&mut result, intset_limit(ctx.st));
    let len = result.len();
    util::store_result(ctx, dst, Value::Set(result), len, 's', event)
}

/// SINTER, SINTERSTORE (`dst`), SINTERCARD (`card` = limit, 0 for none).
fn sinter_generic(ctx: &mut Ctx<'_>, keys: &[Bytes], dst: Option<&Bytes>, card: Option<u64>) -> Reply {
    let found = tri!(source_sets(ctx, keys, dst.is_none()));
    let db = ctx.db();
    let result: Vec<Bytes> = if found.iter().any(Option::is_none) {
        Vec::new()
    } else {
        let dbref = ctx.st.db(db);
        let mut sets: Vec<&Set> = found
            .iter()
            .flatten()
            .filter_map(|k| match dbref.raw_get(k) {
                Some(Entry { value: Value::Set(s), .. }) => Some(s),
                _ => None,
            })
            .collect();
        // Smallest first, like Redis (a stable sort keeps key order for ties).
        sets.sort_by_key(|s| s.len());
        let limit = card.filter(|&l| l > 0).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        if let Some((first, rest)) = sets.split_first() {
            for m in first.iter() {
                if rest.iter().all(|s| s.contains(m)) {
                    out.push(m.clone());
                    if out.len() as u64 >= limit {
                        break;
                    }
                }
            }
        }
        out
    };
    if card.is_some() {
        return Reply::Int(result.len() as i64);
    }
    match dst {
        Some(dst) => store_result(ctx, dst, result.into_iter().collect(), "sinterstore"),
        None => Reply::Set(result.into_iter().map(Reply::Bulk).collect()),
    }
}

/// SUNION/SDIFF and their STORE forms.
fn union_diff(ctx: &mut Ctx<'_>, keys: &[Bytes], dst: Option<&Bytes>, diff: bool) -> Reply {
    let found = tri!(source_sets(ctx, keys, dst.is_none()));
    let db = ctx.db();
    let limit = intset_limit(ctx.st);
    let dbref = ctx.st.db(db);
    let sets: Vec<Option<&Set>> = found
        .iter()
        .map(|k| match k.as_ref().and_then(|k| dbref.raw_get(k)) {
            Some(Entry { value: Value::Set(s), .. }) => Some(s),
            _ => None,
        })
        .collect();
    let mut result = Set::new();
    if diff {
        if let Some(Some(first)) = sets.first() {
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                    result.insert(m.clone());
                }
            }
        }
    } else {
        for s in sets.iter().flatten() {
            result.extend(s.iter().cloned());
        }
    }
    match dst {
        Some(dst) => store_result(ctx, dst, result, if diff { "sdiffstore" } else { "sunionstore" }),
        None => {
            normalize(&mut result, limit);
            Reply::Set(bulk_all(result.iter()))
        }
    }
}

fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    sinter_generic(ctx, &args[1..], None, None)
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    sinter_generic(ctx, &args[2..], Some(&args[1]), None)
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = tri!(count_arg(&args[1], 1, "ERR numkeys should be greater than 0"));
    if numkeys > (args.len() - 2) as u64 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < args.len() {
        if eq_ic(&args[i], "limit") && i + 1 < args.len() {
            limit = tri!(count_arg(&args[i + 1], 0, "ERR LIMIT can't be negative"));
            i += 2;
        } else {
            return syntax_error();
        }
    }
    sinter_generic(ctx, &args[2..keys_end], None, Some(limit))
}

fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    union_diff(ctx, &args[1..], None, false)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    union_diff(ctx, &args[2..], Some(&args[1]), false)
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    union_diff(ctx, &args[1..], None, true)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    union_diff(ctx, &args[2..], Some(&args[1]), true)
}

fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let limit = intset_limit(ctx.st);
    let Some(set) = tri!(get_set(ctx, &args[1], true)) else { return scan_reply(0, Vec::new()) };
    let set = set.clone();
    let opts = tri!(parse_scan_opts(&args[3..], false));
    let (indexes, next) =
        if is_intset(&set, limit) { ((0..set.len()).collect(), 0) } else { scan_batch(set.iter(), cursor, opts.count) };
    let items = indexes
        .into_iter()
        .filter_map(|i| set.get_index(i))
        .filter(|m| opts.matches(m))
        .cloned()
        .map(Reply::Bulk)
        .collect();
    scan_reply(next, items)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::cmd::{dispatch, ConnState};
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;

    struct Harness {
        st: State,
        conn: ConnState,
        clock: Clock,
    }

    impl Harness {
        fn new() -> Harness {
            let config = Config { notify_flags: "KEA".into(), ..Config::default() };
            Harness {
                st: State::new(config, 16, 7, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table()),
                conn: ConnState::new(1, true),
                clock: Clock::paused_at(1_000_000),
            }
        }

        fn run(&mut self, line: &str) -> Reply {
            let args: Vec<Bytes> = line.split(' ').map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
            let now = self.clock.now_ms();
            let mut ctx = Ctx { st: &mut self.st, conn: &mut self.conn, now, clock: &self.clock };
            dispatch(&mut ctx, &args)
        }

        /// The keyspace events queued since the last call, as "event:key".
        fn events(&mut self) -> Vec<String> {
            self.st.event_log.drain(..).map(|e| format!("{}:{}", e.event, String::from_utf8_lossy(&e.key))).collect()
        }

        /// Watches `key` as client 99 and clears earlier dirtiness.
        fn watch(&mut self, key: &str) {
            let now = self.clock.now_ms();
            self.st.watch(99, 0, &Bytes::copy_from_slice(key.as_bytes()), now);
            self.st.clear_dirty();
        }

        fn dirty(&self) -> bool {
            self.st.is_dirty(99)
        }
    }

    #[test]
    fn set_writes_notify_with_redis_event_names() {
        let mut h = Harness::new();
        h.run("SADD s a b");
        assert_eq!(h.events(), ["sadd:s"]);
        h.run("SADD s a");
        assert!(h.events().is_empty(), "no event when nothing was added");
        h.run("SREM s a z");
        assert_eq!(h.events(), ["srem:s"]);
        h.run("SREM s b");
        assert_eq!(h.events(), ["srem:s", "del:s"]);
        h.run("SADD s 1 2 3");
        h.events();
        h.run("SPOP s");
        assert_eq!(h.events(), ["spop:s"]);
        h.run("SPOP s 5");
        assert_eq!(h.events(), ["spop:s", "del:s"]);
        h.run("SADD a 1 2");
        h.run("SADD b 2 3");
        h.events();
        h.run("SMOVE a c 1");
        assert_eq!(h.events(), ["srem:a", "sadd:c"]);
        h.run("SMOVE a b 2");
        assert_eq!(h.events(), ["srem:a", "del:a"]);
        h.run("SINTERSTORE d b c");
        assert!(h.events().is_empty(), "an empty result for a missing destination deletes nothing");
        h.run("SUNIONSTORE d b c");
        assert_eq!(h.events(), ["sunionstore:d"]);
        h.run("SINTERSTORE d b c");
        assert_eq!(h.events(), ["del:d"]);
        h.run("SDIFFSTORE d b c");
        assert_eq!(h.events(), ["sdiffstore:d"]);
        h.run("SINTERSTORE d b");
        assert_eq!(h.events(), ["sinterstore:d"]);
    }

    #[test]
    fn hash_writes_notify_with_redis_event_names() {
        let mut h = Harness::new();
        h.run("HSET h a 1");
        h.run("HMSET h a 1");
        h.run("HSETNX h a 2");
        h.run("HSETNX h b 2");
        assert_eq!(h.events(), ["hset:h", "hset:h", "hset:h"]);
        h.run("HINCRBY h a 1");
        h.run("HINCRBYFLOAT h a 1.5");
        assert_eq!(h.events(), ["hincrby:h", "hincrbyfloat:h"]);
        h.run("HDEL h zz");
        assert!(h.events().is_empty());
        h.run("HDEL h a b");
        assert_eq!(h.events(), ["hdel:h", "del:h"]);
        assert_eq!(h.run("EXISTS h"), Reply::Int(0));
    }

    #[test]
    fn writes_touch_watched_keys_and_noops_do_not() {
        let mut h = Harness::new();
        h.run("SADD s a");
        h.watch("s");
        h.run("SADD s a");
        assert!(!h.dirty());
        h.run("SREM s zz");
        assert!(!h.dirty());
        h.run("SADD s b");
        assert!(h.dirty());
        h.watch("h");
        h.run("HSET h f v");
        assert!(h.dirty());
        h.watch("dst");
        h.run("SINTERSTORE dst s nokey");
        assert!(!h.dirty(), "deleting a missing destination changes nothing");
        h.run("SUNIONSTORE dst s");
        assert!(h.dirty());
        h.watch("s");
        h.run("SMOVE s s a");
        assert!(!h.dirty());
        h.run("SMOVE s t a");
        assert!(h.dirty());
    }

    #[test]
    fn wrong_type_errors_leave_no_empty_keys() {
        let mut h = Harness::new();
        h.run("HINCRBY newh f x");
        h.run("HINCRBYFLOAT newh f nan");
        h.run("SINTERSTORE newd nokey");
        h.run("SMOVE nokey newd a");
        assert_eq!(h.run("EXISTS newh newd"), Reply::Int(0));
    }

    /// The SCAN guarantee on a hash-table set: every member present for the
    /// whole iteration is returned, exactly once, while others come and go.
    #[test]
    fn sscan_returns_stable_members_exactly_once() {
        let mut h = Harness::new();
        let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        h.run(&format!("SADD big {}", members.join(" ")));
        let mut seen: Vec<Bytes> = Vec::new();
        let mut cursor = "0".to_string();
        let mut calls: u32 = 0;
        loop {
            calls += 1;
            assert!(calls < 10_000, "scan did not terminate");
            let Reply::Array(parts) = h.run(&format!("SSCAN big {cursor} COUNT 7")) else { panic!("not an array") };
            let (Reply::Bulk(c), Reply::Array(items)) = (&parts[0], &parts[1]) else { panic!("bad shape") };
            for it in items {
                if let Reply::Bulk(b) = it {
                    seen.push(b.clone());
                }
            }
            // Churn: add and remove members that are not part of the stable set.
            h.run(&format!("SADD big extra{calls}"));
            h.run(&format!("SREM big extra{}", calls.saturating_sub(1)));
            cursor = String::from_utf8_lossy(c).into_owned();
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 50, "a large set is scanned in several calls");
        let stable: Vec<&Bytes> = seen.iter().filter(|b| b.starts_with(b"m")).collect();
        let unique: HashSet<&&Bytes> = stable.iter().collect();
        assert_eq!(stable.len(), 1000);
        assert_eq!(unique.len(), 1000);
    }

    #[test]
    fn small_integer_sets_iterate_in_intset_order() {
        let mut h = Harness::new();
        h.run("SADD s 10 -3 7 0");
        let want: Vec<Reply> = ["-3", "0", "7", "10"].into_iter().map(Reply::from).collect();
        assert_eq!(h.run("SMEMBERS s"), Reply::Set(want));
        h.run("SADD s x");
        h.run("SREM s x");
        let Reply::Set(items) = h.run("SMEMBERS s") else { panic!("not a set") };
        assert_eq!(items.len(), 4);
    }
}
