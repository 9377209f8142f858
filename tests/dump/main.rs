//! DUMP payloads cross between the fake and a real redis-server 7.0: every
//! type in every encoding is dumped by one side, restored by the other, and
//! read back identically (skipped, with the reason printed, without a
//! redis-server). Byte-for-byte DUMP comparisons are in fixtures/diff/dump.redis.

use std::time::Duration;

use redis::{Connection, Value};
use redis_harness::FakeRedis;

#[path = "../common/mod.rs"]
mod common;

fn connect(url: &str) -> Connection {
    let client = redis::Client::open(url).expect("valid url");
    let con = client.get_connection_with_timeout(Duration::from_secs(10)).expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    con
}

fn run(con: &mut Connection, args: &[Vec<u8>]) -> Value {
    let mut c = redis::cmd(std::str::from_utf8(&args[0]).expect("command name"));
    for a in &args[1..] {
        c.arg(&a[..]);
    }
    c.query(con).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args[0])))
}

fn words(s: &str) -> Vec<Vec<u8>> {
    s.split_whitespace().map(|w| w.as_bytes().to_vec()).collect()
}

/// `(key, setup command, expected encoding)` for each type and encoding.
fn cases() -> Vec<(String, Vec<Vec<u8>>, &'static str)> {
    let mut out = Vec::new();
    let mut add = |key: &str, cmd: &str, items: Vec<String>, enc: &'static str| {
        let mut c = vec![cmd.as_bytes().to_vec(), key.as_bytes().to_vec()];
        c.extend(items.into_iter().map(String::into_bytes));
        out.push((key.to_string(), c, enc));
    };
    add("s_int", "SET", vec!["-123456".into()], "int");
    add("s_emb", "SET", vec!["hello world".into()], "embstr");
    add("s_raw", "SET", vec!["xyz".repeat(200)], "raw");
    add("s_bin", "SET", vec!["\u{1}\u{0}\u{ff}binary-ish text that is long enough".into()], "embstr");
    add("l_small", "RPUSH", ["a", "1", "-70000", "99999999999"].map(String::from).to_vec(), "quicklist");
    add("l_nodes", "RPUSH", (0..3000).map(|i| format!("item-{i}-{}", "p".repeat(i % 7))).collect(), "quicklist");
    add("set_int", "SADD", (0..100).map(|i| (i * 1_000_003 - 50).to_string()).collect(), "intset");
    add("set_ht", "SADD", (0..100).map(|i| format!("m{i}")).collect(), "hashtable");
    add("set_bigint", "SADD", (0..600).map(|i| i.to_string()).collect(), "hashtable");
    let pairs = |n: usize, vlen: usize| -> Vec<String> {
        (0..n).flat_map(|i| [format!("f{i}"), format!("{i}{}", "v".repeat(vlen))]).collect()
    };
    add("h_lp", "HSET", pairs(50, 3), "listpack");
    add("h_ht", "HSET", pairs(600, 1), "hashtable");
    add("h_long", "HSET", pairs(3, 100), "hashtable");
    let scored = |n: usize, mlen: usize| -> Vec<String> {
        (0..n).flat_map(|i| [format!("{}", i as f64 / 7.0 - 3.0), format!("m{i}{}", "z".repeat(mlen))]).collect()
    };
    add("z_lp", "ZADD", scored(100, 2), "listpack");
    add("z_sl", "ZADD", scored(300, 2), "skiplist");
    add("z_long", "ZADD", scored(3, 80), "skiplist");
    out
}

/// Everything a key holds, in a comparable form.
fn contents(con: &mut Connection, key: &str) -> Vec<Vec<u8>> {
    let t: String = redis::cmd("TYPE").arg(key).query(con).expect("TYPE");
    let cmd = match t.as_str() {
        "string" => format!("GET {key}"),
        "list" => format!("LRANGE {key} 0 -1"),
        "set" => format!("SMEMBERS {key}"),
        "hash" => format!("HGETALL {key}"),
        "zset" => format!("ZRANGE {key} 0 -1 WITHSCORES"),
        other => panic!("{key}: unexpected type {other}"),
    };
    let mut items: Vec<Vec<u8>> = match run(con, &words(&cmd)) {
        Value::BulkString(b) => vec![b],
        Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                Value::BulkString(b) => b,
                other => panic!("{key}: {other:?}"),
            })
            .collect(),
        other => panic!("{key}: {other:?}"),
    };
    if t == "set" {
        items.sort();
    }
    if t == "hash" {
        let mut pairs: Vec<Vec<u8>> = items.chunks(2).map(|p| [&p[0][..], b"=", &p[1][..]].concat()).collect();
        pairs.sort();
        items = pairs;
    }
    items
}

fn encoding(con: &mut Connection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query(con).expect("OBJECT ENCODING")
}

/// Dumps each case on `from` and restores it on `to`.
fn cross(from: &mut Connection, to: &mut Connection, direction: &str) {
    for (key, setup, enc) in cases() {
        let _: Value = run(from, &[b"DEL".to_vec(), key.as_bytes().to_vec()]);
        let _: Value = run(from, &setup);
        assert_eq!(encoding(from, &key), enc, "{direction} {key}: source encoding");
        let payload: Vec<u8> = redis::cmd("DUMP").arg(&key).query(from).expect("DUMP");
        let _: () = redis::cmd("RESTORE")
            .arg(&key)
            .arg(0)
            .arg(&payload)
            .arg("REPLACE")
            .query(to)
            .unwrap_or_else(|e| panic!("{direction} {key}: RESTORE refused the payload: {e}"));
        assert_eq!(encoding(to, &key), enc, "{direction} {key}: restored encoding");
        assert_eq!(contents(to, &key), contents(from, &key), "{direction} {key}: contents");
    }
}

#[test]
fn dumps_restore_across_the_fake_and_real_redis() {
    let Some(real) = common::reference_redis_or_skip("dumps_restore_across_the_fake_and_real_redis") else {
        return;
    };
    let fake = FakeRedis::builder().start_blocking();
    let mut f = connect(&fake.url());
    let mut r = connect(&real.url());
    cross(&mut f, &mut r, "fake->real");
    cross(&mut r, &mut f, "real->fake");
}
