//! maxmemory on the fake: its own memory accounting (INFO used_memory),
//! the `-OOM` refusal under noeviction (also at MULTI queue time), and each
//! eviction policy choosing the keys Redis's would, with `evicted` events,
//! WATCH and INFO evicted_keys. The clock is paused so idle times are exact.

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use common::RawConn;
use redis_harness::{FakeRedis, Reply};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn server() -> FakeRedis {
    FakeRedis::builder().paused_clock().seed(42).start_blocking()
}

fn run(s: &FakeRedis, args: &[&str]) -> Reply {
    s.run(args)
}

fn ok(s: &FakeRedis, args: &[&str]) {
    let r = run(s, args);
    assert!(!matches!(r, Reply::Error(_)), "{args:?}: {r:?}");
}

fn bulk_text(r: Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("not a bulk reply: {other:?}"),
    }
}

/// A numeric INFO field.
fn info_field(s: &FakeRedis, section: &str, field: &str) -> u64 {
    let text = bulk_text(run(s, &["INFO", section]));
    let prefix = format!("{field}:");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {field} in {text}"));
    line[prefix.len()..].parse().unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn used(s: &FakeRedis) -> u64 {
    info_field(s, "memory", "used_memory")
}

fn exists(s: &FakeRedis, key: &str) -> bool {
    run(s, &["EXISTS", key]) == Reply::Int(1)
}

fn present(s: &FakeRedis, keys: &[&str]) -> Vec<String> {
    keys.iter().filter(|k| exists(s, k)).map(|k| k.to_string()).collect()
}

fn oom() -> Reply {
    Reply::Error(OOM.into())
}

/// Sets maxmemory to `over` bytes below current usage, so that the next
/// command evicts until at least that much is freed.
fn limit_below_usage(s: &FakeRedis, over: u64) {
    let limit = used(s) - over;
    ok(s, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
}

#[test]
fn used_memory_is_the_fake_accounting_and_moves_with_writes() {
    let s = server();
    let empty = used(&s);
    assert_eq!(info_field(&s, "memory", "used_memory_startup"), empty);
    ok(&s, &["SET", "key", "value"]);
    let one = used(&s);
    assert!(one > empty + 8, "{empty} -> {one}");
    ok(&s, &["APPEND", "key", &"x".repeat(1000)]);
    assert_eq!(used(&s), one + 1000, "an in-place write is accounted byte for byte");
    ok(&s, &["RPUSH", "list", "a", "b", "c"]);
    let with_list = used(&s);
    ok(&s, &["RPUSH", "list", "d"]);
    assert!(used(&s) > with_list);
    ok(&s, &["DEL", "key", "list"]);
    assert_eq!(used(&s), empty, "deleting everything gives the memory back");
    // Connections do not count: only the keyspace does.
    let _c = RawConn::tcp(s.addr());
    let mut c2 = RawConn::tcp(s.addr());
    assert_eq!(c2.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(used(&s), empty);
}

#[test]
fn noeviction_refuses_denyoom_commands_with_redis_text() {
    let s = server();
    ok(&s, &["SET", "a", "1"]);
    let limit = used(&s) + 200;
    ok(&s, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    assert_eq!(info_field(&s, "memory", "maxmemory"), limit);
    // Under the limit before each command: both run, the second one crosses it.
    ok(&s, &["SET", "b", &"x".repeat(60)]);
    ok(&s, &["SET", "c", &"x".repeat(60)]);
    assert!(used(&s) > limit);
    assert_eq!(run(&s, &["SET", "d", "1"]), oom());
    assert_eq!(run(&s, &["RPUSH", "l", "1"]), oom());
    assert_eq!(run(&s, &["INCR", "a"]), oom(), "denyoom even when it would not grow");
    // Reads and deletions still run; nothing was evicted.
    assert_eq!(run(&s, &["GET", "a"]), Reply::Bulk("1".into()));
    assert_eq!(run(&s, &["DBSIZE"]), Reply::Int(3));
    assert_eq!(info_field(&s, "stats", "evicted_keys"), 0);
    let mut c = RawConn::tcp(s.addr());
    assert_eq!(c.call(&["SET", "d", "1"]), format!("-{OOM}\r\n").into_bytes());
    assert_eq!(c.call(&["DEL", "b"]), b":1\r\n");
    assert_eq!(c.call(&["SET", "d", "1"]), b"+OK\r\n", "freeing memory lifts the refusal");
    // maxmemory 0 is no limit at all.
    ok(&s, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(run(&s, &["SET", "e", "1"]), oom());
    ok(&s, &["CONFIG", "SET", "maxmemory", "0"]);
    ok(&s, &["SET", "e", &"x".repeat(100_000)]);
    let errors = bulk_text(run(&s, &["INFO", "errorstats"]));
    assert!(errors.contains("errorstat_OOM:count=5"), "{errors}");
}

#[test]
fn oom_inside_multi_is_refused_at_queue_time_and_exec_aborts() {
    let s = server();
    let mut c = RawConn::tcp(s.addr());
    ok(&s, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(c.call(&["MULTI"]), b"+OK\r\n");
    let refused = format!("-{OOM}\r\n").into_bytes();
    assert_eq!(c.call(&["SET", "k", "v"]), refused);
    // Inside MULTI even a read is refused: queueing itself uses memory.
    assert_eq!(c.call(&["GET", "k"]), refused);
    assert_eq!(c.call(&["PING"]), refused);
    assert_eq!(c.call(&["EXEC"]), b"-EXECABORT Transaction discarded because of previous errors.\r\n".to_vec());
    // DISCARD is never refused.
    assert_eq!(c.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.call(&["DISCARD"]), b"+OK\r\n");
    // Queued while under the limit, EXEC'd when over: EXEC itself is refused.
    ok(&s, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(c.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]), b"+QUEUED\r\n");
    ok(&s, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(c.call(&["EXEC"]), format!("-EXECABORT Transaction discarded because of: {OOM}\r\n").into_bytes());
    assert_eq!(c.call(&["EXISTS", "k"]), b":0\r\n");
    // A transaction of reads queued under the limit still runs.
    ok(&s, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(c.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]), b"+QUEUED\r\n");
    ok(&s, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(c.call(&["EXEC"]), b"*1\r\n$-1\r\n");
    let errors = bulk_text(run(&s, &["INFO", "errorstats"]));
    assert!(errors.contains("errorstat_OOM:count=3"), "{errors}");
}

#[test]
fn allkeys_lru_evicts_the_least_recently_used() {
    let s = server();
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    for k in ["k1", "k2", "k3", "k4"] {
        ok(&s, &["SET", k, "value"]);
        s.advance_time(Duration::from_secs(10));
    }
    // k1 is the oldest write but was read last.
    ok(&s, &["GET", "k1"]);
    s.advance_time(Duration::from_secs(1));
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &["k1", "k2", "k3", "k4"]), ["k1", "k3", "k4"]);
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &["k1", "k3", "k4"]), ["k1", "k4"]);
    assert_eq!(info_field(&s, "stats", "evicted_keys"), 2);
    // An evicting policy makes room for writes instead of refusing them.
    ok(&s, &["SET", "k5", "a-bigger-value-than-the-others"]);
    ok(&s, &["SET", "k6", "a-bigger-value-than-the-others"]);
    assert!(!exists(&s, "k1") || !exists(&s, "k4"));
    assert!(exists(&s, "k5"));
}

#[test]
fn volatile_lru_only_evicts_keys_with_a_ttl() {
    let s = server();
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"]);
    ok(&s, &["SET", "persistent-old", "v"]);
    s.advance_time(Duration::from_secs(5));
    ok(&s, &["SET", "volatile-old", "v", "EX", "1000"]);
    s.advance_time(Duration::from_secs(5));
    ok(&s, &["SET", "volatile-new", "v", "EX", "1000"]);
    s.advance_time(Duration::from_secs(5));
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &["persistent-old", "volatile-old", "volatile-new"]), ["persistent-old", "volatile-new"]);
    // Once no key has a TTL, nothing can be evicted: OOM.
    ok(&s, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(run(&s, &["SET", "more", "v"]), oom());
    assert_eq!(present(&s, &["persistent-old", "volatile-new"]), ["persistent-old"]);
    assert_eq!(info_field(&s, "stats", "evicted_keys"), 2);
}

#[test]
fn volatile_ttl_evicts_the_soonest_expiring_first() {
    let s = server();
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]);
    ok(&s, &["SET", "forever", "v"]);
    ok(&s, &["SET", "late", "v", "EX", "3000"]);
    ok(&s, &["SET", "soon", "v", "EX", "100"]);
    ok(&s, &["SET", "middle", "v", "EX", "2000"]);
    let keys = ["forever", "late", "soon", "middle"];
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &keys), ["forever", "late", "middle"]);
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &keys), ["forever", "late"]);
}

#[test]
fn allkeys_lfu_keeps_hot_keys_and_object_freq_is_real() {
    let s = server();
    ok(&s, &["SET", "hot", "v"]);
    assert_eq!(
        run(&s, &["OBJECT", "FREQ", "hot"]),
        Reply::Error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
                .into()
        )
    );
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    ok(&s, &["FLUSHALL"]);
    ok(&s, &["SET", "hot", "v"]);
    assert_eq!(run(&s, &["OBJECT", "FREQ", "hot"]), Reply::Int(5), "LFU_INIT_VAL");
    ok(&s, &["GET", "hot"]);
    assert_eq!(run(&s, &["OBJECT", "FREQ", "hot"]), Reply::Int(6), "the first hit always counts");
    for _ in 0..200 {
        ok(&s, &["GET", "hot"]);
    }
    let Reply::Int(freq) = run(&s, &["OBJECT", "FREQ", "hot"]) else { panic!() };
    assert!((8..=20).contains(&freq), "logarithmic: {freq}");
    // Decay: one step per lfu-decay-time minute.
    s.advance_time(Duration::from_secs(3 * 60));
    assert_eq!(run(&s, &["OBJECT", "FREQ", "hot"]), Reply::Int(freq - 3));
    // lfu-log-factor 0 counts every access.
    ok(&s, &["CONFIG", "SET", "lfu-log-factor", "0"]);
    for _ in 0..5 {
        ok(&s, &["GET", "hot"]);
    }
    assert_eq!(run(&s, &["OBJECT", "FREQ", "hot"]), Reply::Int(freq + 2));
    ok(&s, &["SET", "warm", "v"]);
    for _ in 0..3 {
        ok(&s, &["GET", "warm"]);
    }
    assert_eq!(run(&s, &["OBJECT", "FREQ", "warm"]), Reply::Int(8));
    ok(&s, &["SET", "cold1", "v"]);
    ok(&s, &["SET", "cold2", "v"]);
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &["hot", "warm", "cold1", "cold2"]), ["hot", "warm"]);
    assert_eq!(
        run(&s, &["OBJECT", "IDLETIME", "hot"]),
        Reply::Error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
                .into()
        )
    );
}

#[test]
fn volatile_lfu_evicts_the_least_used_key_with_a_ttl() {
    let s = server();
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"]);
    ok(&s, &["CONFIG", "SET", "lfu-log-factor", "0"]);
    ok(&s, &["SET", "persistent-cold", "v"]);
    ok(&s, &["SET", "volatile-hot", "v", "EX", "1000"]);
    ok(&s, &["SET", "volatile-cold", "v", "EX", "1000"]);
    for _ in 0..5 {
        ok(&s, &["GET", "volatile-hot"]);
    }
    let keys = ["persistent-cold", "volatile-hot", "volatile-cold"];
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &keys), ["persistent-cold", "volatile-hot"]);
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert_eq!(present(&s, &keys), ["persistent-cold"]);
}

/// Runs the same random eviction on a server with `seed`; returns the survivors.
fn random_survivors(seed: u64, policy: &str) -> Vec<String> {
    let s = FakeRedis::builder().paused_clock().seed(seed).start_blocking();
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", policy]);
    let volatile = policy.starts_with("volatile");
    let keys: Vec<String> = (0..20).map(|i| format!("key:{i:02}")).collect();
    let mut victim_size = 0;
    for (i, k) in keys.iter().enumerate() {
        let before = used(&s);
        // For volatile-random the even keys have a TTL; allkeys-random gets
        // same-sized keys only, so the number evicted is exact.
        if volatile && i % 2 == 0 {
            ok(&s, &["SET", k, "v", "EX", "1000"]);
        } else {
            ok(&s, &["SET", k, "v"]);
        }
        if i == 0 {
            victim_size = used(&s) - before;
        }
    }
    limit_below_usage(&s, victim_size * 4 + 1);
    ok(&s, &["PING"]);
    assert_eq!(info_field(&s, "stats", "evicted_keys"), 5, "{policy}");
    let refs: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    present(&s, &refs)
}

/// What the server reports with an empty keyspace (the startup figure).
fn used_after_flush(s: &FakeRedis) -> u64 {
    info_field(s, "memory", "used_memory_startup")
}

#[test]
fn random_policies_are_reproducible_from_the_seed() {
    for policy in ["allkeys-random", "volatile-random"] {
        let a = random_survivors(7, policy);
        assert_eq!(a.len(), 15, "{policy}: {a:?}");
        assert_eq!(a, random_survivors(7, policy), "{policy}: the same seed evicts the same keys");
        if policy == "volatile-random" {
            // Every odd (persistent) key survives.
            for i in (1..20).step_by(2) {
                assert!(a.contains(&format!("key:{i:02}")), "{a:?}");
            }
        }
    }
    let seeds: Vec<Vec<String>> = (1..6).map(|seed| random_survivors(seed, "allkeys-random")).collect();
    assert!(seeds.iter().any(|s| s != &seeds[0]), "different seeds should pick differently");
}

#[test]
fn eviction_raises_evicted_events_and_fails_watchers() {
    let s = server();
    ok(&s, &["CONFIG", "SET", "notify-keyspace-events", "KEe"]);
    ok(&s, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    ok(&s, &["SET", "victim", "v"]);
    s.advance_time(Duration::from_secs(60));
    ok(&s, &["SET", "keeper", "v"]);
    let mut sub = RawConn::tcp(s.addr());
    sub.call(&["SUBSCRIBE", "__keyevent@0__:evicted", "__keyspace@0__:victim"]);
    sub.read_reply().expect("second subscribe confirmation");
    let mut watcher = RawConn::tcp(s.addr());
    assert_eq!(watcher.call(&["WATCH", "victim"]), b"+OK\r\n");
    limit_below_usage(&s, 1);
    ok(&s, &["PING"]);
    assert!(!exists(&s, "victim") && exists(&s, "keeper"));
    // Redis publishes the keyspace form first, then the keyevent one.
    let space = sub.read_reply().expect("keyspace message");
    assert_eq!(
        space,
        b"*3\r\n$7\r\nmessage\r\n$21\r\n__keyspace@0__:victim\r\n$7\r\nevicted\r\n".to_vec(),
        "{}",
        String::from_utf8_lossy(&space)
    );
    let event = sub.read_reply().expect("keyevent message");
    assert_eq!(event, b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n$6\r\nvictim\r\n".to_vec());
    assert_eq!(watcher.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(watcher.call(&["PING"]), b"+QUEUED\r\n");
    assert_eq!(watcher.call(&["EXEC"]), b"*-1\r\n", "an evicted WATCHed key fails the transaction");
    assert_eq!(info_field(&s, "stats", "evicted_keys"), 1);
}

#[test]
fn every_policy_evicts_down_to_the_limit_across_databases() {
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        let s = server();
        ok(&s, &["CONFIG", "SET", "maxmemory-policy", policy]);
        for db in 0..3 {
            for i in 0..30 {
                assert!(!matches!(s.run_in_db(db, ["SET", &format!("k{i}"), "value"]), Reply::Error(_)));
            }
        }
        let limit = used_after_flush(&s) + (used(&s) - used_after_flush(&s)) / 3;
        ok(&s, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        ok(&s, &["PING"]);
        assert!(used(&s) <= limit, "{policy}");
        let evicted = info_field(&s, "stats", "evicted_keys");
        assert!((59..=61).contains(&evicted), "{policy}: {evicted}");
        // maxmemory 1: everything goes, and writes are then refused.
        ok(&s, &["CONFIG", "SET", "maxmemory", "1"]);
        assert_eq!(run(&s, &["SET", "x", "1"]), oom(), "{policy}");
        assert_eq!(info_field(&s, "stats", "evicted_keys"), 90, "{policy}");
    }
}
