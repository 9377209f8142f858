//! Keyspace behaviour that needs control over time or randomness: TTLs with
//! a paused clock (no sleeps), SCAN's guarantee under concurrent writes, and
//! RANDOMKEY's determinism for a fixed seed.

use std::collections::HashSet;
use std::time::Duration;

use redis::{Connection, Value};
use redis_harness::FakeRedis;

/// A fixed "now" for the paused clock, so absolute times are exact.
const T0: u64 = 1_700_000_000_000;

fn connect(server: &FakeRedis) -> Connection {
    let client = redis::Client::open(server.url()).expect("valid url");
    let con = client.get_connection_with_timeout(Duration::from_secs(10)).expect("connect to the fake");
    con.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    con
}

fn q<T: redis::FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn int(con: &mut Connection, args: &[&str]) -> i64 {
    q(con, args)
}

#[test]
fn ttl_counts_down_and_active_expiry_reclaims_the_key() {
    let server = FakeRedis::builder().paused_clock_at(T0).start_blocking();
    let mut con = connect(&server);
    let _: () = q(&mut con, &["SET", "k", "v", "EX", "10"]);
    assert_eq!(int(&mut con, &["TTL", "k"]), 10);
    assert_eq!(int(&mut con, &["PTTL", "k"]), 10_000);
    assert_eq!(int(&mut con, &["PEXPIRETIME", "k"]), (T0 + 10_000) as i64);

    server.advance_time(Duration::from_millis(4_000));
    assert_eq!(int(&mut con, &["TTL", "k"]), 6);
    server.advance_time(Duration::from_millis(5_499));
    assert_eq!(int(&mut con, &["PTTL", "k"]), 501);
    // TTL rounds to the nearest second, as Redis does.
    assert_eq!(int(&mut con, &["TTL", "k"]), 1);
    server.advance_time(Duration::from_millis(1));
    assert_eq!(int(&mut con, &["TTL", "k"]), 1);

    // One millisecond short of the deadline the key is still there...
    server.advance_time(Duration::from_millis(499));
    assert_eq!(int(&mut con, &["PTTL", "k"]), 1);
    assert_eq!(int(&mut con, &["DBSIZE"]), 1);
    // ...and at the deadline active expiry removes it without any access.
    server.advance_time(Duration::from_millis(1));
    assert_eq!(int(&mut con, &["DBSIZE"]), 0);
    assert_eq!(int(&mut con, &["TTL", "k"]), -2);
    let v: Option<String> = q(&mut con, &["GET", "k"]);
    assert_eq!(v, None);
}

#[test]
fn lazily_expired_keys_are_never_visible() {
    let server = FakeRedis::builder().paused_clock_at(T0).start_blocking();
    let mut con = connect(&server);
    let _: () = q(&mut con, &["SET", "gone", "v", "PX", "50"]);
    let _: () = q(&mut con, &["SET", "stays", "v"]);
    // Move the clock without running the active cycle: only lazy expiry can hide the key.
    server.clock().advance(Duration::from_millis(50));
    let v: Option<String> = q(&mut con, &["GET", "gone"]);
    assert_eq!(v, None);
    assert_eq!(int(&mut con, &["EXISTS", "gone", "stays"]), 1);
    assert_eq!(int(&mut con, &["TTL", "gone"]), -2);
    let keys: Vec<String> = q(&mut con, &["KEYS", "*"]);
    assert_eq!(keys, vec!["stays".to_string()]);
    let (cursor, found): (String, Vec<String>) = q(&mut con, &["SCAN", "0", "COUNT", "100"]);
    assert_eq!((cursor.as_str(), found), ("0", vec!["stays".to_string()]));
    let t: String = q(&mut con, &["TYPE", "gone"]);
    assert_eq!(t, "none");
    // A write to the expired key starts from nothing.
    assert_eq!(int(&mut con, &["INCR", "gone"]), 1);
    assert_eq!(int(&mut con, &["TTL", "gone"]), -1);
}

#[test]
fn expire_options_and_absolute_times_are_exact() {
    let server = FakeRedis::builder().paused_clock_at(T0).start_blocking();
    let mut con = connect(&server);
    let _: () = q(&mut con, &["SET", "k", "v", "PX", "1500"]);
    assert_eq!(int(&mut con, &["PEXPIRETIME", "k"]), (T0 + 1_500) as i64);
    // (T0 + 1500) ms rounds to the nearest second.
    assert_eq!(int(&mut con, &["EXPIRETIME", "k"]), (T0 / 1000 + 2) as i64);
    assert_eq!(int(&mut con, &["PEXPIRE", "k", "1000", "GT"]), 0);
    assert_eq!(int(&mut con, &["PEXPIRE", "k", "1000", "LT"]), 1);
    assert_eq!(int(&mut con, &["PTTL", "k"]), 1000);

    // An absolute time equal to now deletes the key at once.
    let now = T0.to_string();
    assert_eq!(int(&mut con, &["PEXPIREAT", "k", &now]), 1);
    assert_eq!(int(&mut con, &["EXISTS", "k"]), 0);

    // One millisecond later is still the future.
    let _: () = q(&mut con, &["SET", "k", "v"]);
    let next = (T0 + 1).to_string();
    assert_eq!(int(&mut con, &["PEXPIREAT", "k", &next]), 1);
    assert_eq!(int(&mut con, &["PTTL", "k"]), 1);
    server.advance_time(Duration::from_millis(1));
    assert_eq!(int(&mut con, &["EXISTS", "k"]), 0);

    // GETEX with an absolute time in the past returns the value, then deletes.
    let _: () = q(&mut con, &["SET", "g", "v"]);
    let v: String = q(&mut con, &["GETEX", "g", "EXAT", "1"]);
    assert_eq!(v, "v");
    assert_eq!(int(&mut con, &["EXISTS", "g"]), 0);

    // SET with a past EXAT is accepted; the key is simply never visible.
    let _: () = q(&mut con, &["SET", "p", "v", "EXAT", "1"]);
    assert_eq!(int(&mut con, &["EXISTS", "p"]), 0);

    // KEEPTTL keeps the deadline across overwrites; a plain SET drops it.
    let _: () = q(&mut con, &["SET", "kt", "v", "EX", "100"]);
    server.advance_time(Duration::from_secs(40));
    let _: () = q(&mut con, &["SET", "kt", "w", "KEEPTTL"]);
    assert_eq!(int(&mut con, &["TTL", "kt"]), 60);
    let _: () = q(&mut con, &["SET", "kt", "x"]);
    assert_eq!(int(&mut con, &["TTL", "kt"]), -1);

    // RENAME and COPY carry the deadline with the value.
    let _: () = q(&mut con, &["SET", "r", "v", "EX", "30"]);
    let _: () = q(&mut con, &["RENAME", "r", "r2"]);
    assert_eq!(int(&mut con, &["COPY", "r2", "r3"]), 1);
    server.advance_time(Duration::from_secs(10));
    assert_eq!(int(&mut con, &["TTL", "r2"]), 20);
    assert_eq!(int(&mut con, &["TTL", "r3"]), 20);
    server.advance_time(Duration::from_secs(20));
    assert_eq!(int(&mut con, &["EXISTS", "r", "r2", "r3"]), 0);
}

#[test]
fn object_idletime_follows_the_clock_and_reads_reset_it() {
    let server = FakeRedis::builder().paused_clock_at(T0).start_blocking();
    let mut con = connect(&server);
    let _: () = q(&mut con, &["SET", "k", "v"]);
    server.advance_time(Duration::from_secs(7));
    // TYPE, TTL, EXISTS and OBJECT do not count as an access.
    let _: String = q(&mut con, &["TYPE", "k"]);
    let _: i64 = q(&mut con, &["TTL", "k"]);
    assert_eq!(int(&mut con, &["OBJECT", "IDLETIME", "k"]), 7);
    let _: String = q(&mut con, &["GET", "k"]);
    assert_eq!(int(&mut con, &["OBJECT", "IDLETIME", "k"]), 0);
}

#[test]
fn scan_returns_every_key_present_throughout_despite_concurrent_writes() {
    let server = FakeRedis::builder().start_blocking();
    let mut con = connect(&server);
    let mut writer = connect(&server);
    let total = 2000;
    for chunk in (0..total).collect::<Vec<_>>().chunks(200) {
        let mut c = redis::cmd("MSET");
        for i in chunk {
            c.arg(format!("keep:{i}")).arg("v");
        }
        let _: () = c.query(&mut con).expect("MSET");
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 10_000, "SCAN did not finish");
        let (next, batch): (String, Vec<String>) = q(&mut con, &["SCAN", &cursor, "COUNT", "17"]);
        seen.extend(batch);
        // Between calls another client adds keys and deletes the ones it added before.
        let _: () = q(&mut writer, &["SET", &format!("new:{rounds}"), "v"]);
        let _: () = q(&mut writer, &["SET", &format!("new2:{rounds}"), "v"]);
        let _: i64 = q(&mut writer, &["DEL", &format!("new:{}", rounds - 1)]);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let missing: Vec<_> = (0..total).map(|i| format!("keep:{i}")).filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "keys present throughout the scan were not returned: {missing:?}");
    assert!(rounds > total / 17, "COUNT 17 should take many rounds, took {rounds}");

    // MATCH and TYPE filter what a full iteration returns.
    let mut cursor = "0".to_string();
    let mut matched = HashSet::new();
    for _ in 0..10_000 {
        let (next, batch): (String, Vec<String>) =
            q(&mut con, &["SCAN", &cursor, "MATCH", "keep:1??", "TYPE", "string", "COUNT", "50"]);
        matched.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let expected: HashSet<String> = (100..200).map(|i| format!("keep:{i}")).collect();
    assert_eq!(matched, expected);
}

fn seeded_with_keys(seed: u64) -> FakeRedis {
    let server = FakeRedis::builder().seed(seed).start_blocking();
    for i in 0..50 {
        server.set(format!("key:{i}"), "v");
    }
    server
}

fn random_keys(server: &FakeRedis, n: usize) -> Vec<String> {
    let mut con = connect(server);
    (0..n).map(|_| q::<String>(&mut con, &["RANDOMKEY"])).collect()
}

#[test]
fn randomkey_is_deterministic_for_a_seed() {
    let a = random_keys(&seeded_with_keys(42), 40);
    let b = random_keys(&seeded_with_keys(42), 40);
    assert_eq!(a, b, "same seed, same keys, same picks");
    let distinct: HashSet<_> = a.iter().collect();
    assert!(distinct.len() > 10, "RANDOMKEY should spread its picks: {distinct:?}");
    assert!(a.iter().all(|k| k.starts_with("key:")));
}

#[test]
fn randomkey_skips_and_reclaims_expired_keys() {
    let server = FakeRedis::builder().paused_clock_at(T0).seed(1).start_blocking();
    let mut con = connect(&server);
    for i in 0..20 {
        let _: () = q(&mut con, &["SET", &format!("tmp:{i}"), "v", "PX", "10"]);
    }
    let _: () = q(&mut con, &["SET", "live", "v"]);
    server.clock().advance(Duration::from_millis(10));
    for _ in 0..5 {
        let k: String = q(&mut con, &["RANDOMKEY"]);
        assert_eq!(k, "live");
    }
    let _: i64 = q(&mut con, &["DEL", "live"]);
    let v: Value = q(&mut con, &["RANDOMKEY"]);
    assert_eq!(v, Value::Nil);
    assert_eq!(int(&mut con, &["DBSIZE"]), 0);
}
