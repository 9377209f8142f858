//! Blocking stream reads against the fake server: XREAD and XREADGROUP
//! BLOCK woken by XADD in order of arrival, `$`, timeouts, the errors a
//! deleted key or group gives, CLIENT UNBLOCK, and `blocked_clients()`.
//!
//! Every wait is on the server's own counter (`wait_for_blocked_clients`)
//! or on a reply, bounded by [`WAIT`] as a hang guard; nothing sleeps.

use std::time::Duration;

use redis_harness::{FakeRedis, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on every wait in this file.
const WAIT: Duration = Duration::from_secs(30);

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

async fn wait_blocked(server: &FakeRedis, n: usize) {
    if let Err(now) = server.wait_for_blocked_clients(n, WAIT).await {
        panic!("expected {n} blocked clients, {now} after {WAIT:?}");
    }
}

/// A raw socket that sent `args`; waits until the server has `blocked` blocked clients.
async fn blocked(server: &FakeRedis, args: &[&str], blocked: usize) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).await.expect("connect");
    s.write_all(&resp(args)).await.expect("send");
    wait_blocked(server, blocked).await;
    s
}

/// Reads exactly `want.len()` bytes and compares them with `want`.
async fn expect(s: &mut TcpStream, want: &str) {
    let mut buf = vec![0u8; want.len()];
    tokio::time::timeout(WAIT, s.read_exact(&mut buf)).await.expect("reply in time").expect("read");
    assert_eq!(String::from_utf8_lossy(&buf), want);
}

/// `*1 *2 $key *1 *2 $id *2 $f $v`: one stream with one entry, RESP2.
fn one_entry(key: &str, id: &str, f: &str, v: &str) -> String {
    format!(
        "*1\r\n*2\r\n${}\r\n{key}\r\n*1\r\n*2\r\n${}\r\n{id}\r\n*2\r\n${}\r\n{f}\r\n${}\r\n{v}\r\n",
        key.len(),
        id.len(),
        f.len(),
        v.len()
    )
}

#[tokio::test]
async fn xread_block_is_woken_by_xadd_in_order_of_arrival() {
    let server = FakeRedis::start().await;
    server.run(["XADD", "s", "1-0", "a", "1"]);
    let mut first = blocked(&server, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], 1).await;
    let mut second = blocked(&server, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], 2).await;
    assert_eq!(server.blocking_keys(), 1);
    assert_eq!(server.run(["XADD", "s", "2-0", "b", "2"]), Reply::bulk("2-0"));
    // Plain readers all get the new entry, and `$` was the ID when they blocked.
    expect(&mut first, &one_entry("s", "2-0", "b", "2")).await;
    expect(&mut second, &one_entry("s", "2-0", "b", "2")).await;
    wait_blocked(&server, 0).await;
    assert_eq!(server.blocking_keys(), 0);
}

#[tokio::test]
async fn a_group_hands_each_new_entry_to_the_oldest_waiting_consumer() {
    let server = FakeRedis::start().await;
    server.run(["XGROUP", "CREATE", "jobs", "workers", "$", "MKSTREAM"]);
    let read = |c: &'static str| ["XREADGROUP", "GROUP", "workers", c, "BLOCK", "0", "STREAMS", "jobs", ">"];
    let mut a = blocked(&server, &read("a"), 1).await;
    let mut b = blocked(&server, &read("b"), 2).await;
    server.run(["XADD", "jobs", "1-0", "job", "1"]);
    expect(&mut a, &one_entry("jobs", "1-0", "job", "1")).await;
    wait_blocked(&server, 1).await;
    server.run(["XADD", "jobs", "2-0", "job", "2"]);
    expect(&mut b, &one_entry("jobs", "2-0", "job", "2")).await;
    let pending = server.run(["XPENDING", "jobs", "workers"]);
    let Reply::Array(p) = pending else { panic!("{pending:?}") };
    assert_eq!(p[0], Reply::Int(2));
}

#[tokio::test]
async fn blocked_xreadgroup_answers_a_deleted_key_or_group() {
    let server = FakeRedis::start().await;
    let read = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"];
    server.run(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut c = blocked(&server, &read, 1).await;
    server.run(["XGROUP", "DESTROY", "s", "g"]);
    expect(&mut c, "-NOGROUP the consumer group this client was blocked on no longer exists\r\n").await;

    server.run(["XGROUP", "CREATE", "s", "g", "$"]);
    c.write_all(&resp(&read)).await.unwrap();
    wait_blocked(&server, 1).await;
    server.run(["DEL", "s"]);
    expect(&mut c, "-UNBLOCKED the stream key no longer exists\r\n").await;

    server.run(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    c.write_all(&resp(&read)).await.unwrap();
    wait_blocked(&server, 1).await;
    server.run(["SET", "s", "not a stream"]);
    expect(&mut c, "-UNBLOCKED the stream key no longer exists\r\n").await;
    assert_eq!(server.blocked_clients(), 0);
}

#[tokio::test]
async fn plain_xread_stays_blocked_over_a_deletion() {
    let server = FakeRedis::start().await;
    server.run(["XADD", "s", "1-0", "a", "1"]);
    let mut c = blocked(&server, &["XREAD", "BLOCK", "0", "STREAMS", "s", "1-0"], 1).await;
    server.run(["DEL", "s"]);
    server.run(["SET", "s", "x"]);
    server.run(["DEL", "s"]);
    assert_eq!(server.blocked_clients(), 1);
    server.run(["XADD", "s", "3-0", "c", "3"]);
    expect(&mut c, &one_entry("s", "3-0", "c", "3")).await;
}

#[tokio::test]
async fn timeouts_and_client_unblock() {
    let server = FakeRedis::start().await;
    let mut c = blocked(&server, &["XREAD", "BLOCK", "20", "STREAMS", "s", "$"], 1).await;
    expect(&mut c, "*-1\r\n").await;
    wait_blocked(&server, 0).await;

    c.write_all(&resp(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])).await.unwrap();
    wait_blocked(&server, 1).await;
    let id = server.clients().iter().map(|c| c.id).max().expect("a client").to_string();
    assert_eq!(server.run(["CLIENT", "UNBLOCK", id.as_str(), "TIMEOUT"]), Reply::Int(1));
    expect(&mut c, "*-1\r\n").await;

    c.write_all(&resp(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"])).await.unwrap();
    expect(&mut c, "-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n").await;
    server.run(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    c.write_all(&resp(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"])).await.unwrap();
    wait_blocked(&server, 1).await;
    assert_eq!(server.run(["CLIENT", "UNBLOCK", id.as_str(), "ERROR"]), Reply::Int(1));
    expect(&mut c, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n").await;
    assert_eq!(server.blocked_clients(), 0);
}

#[tokio::test]
async fn resp3_readers_get_a_map() {
    let server = FakeRedis::start().await;
    let mut c = TcpStream::connect(server.addr()).await.unwrap();
    c.write_all(&resp(&["HELLO", "3"])).await.unwrap();
    let mut hello = vec![0u8; 1];
    c.read_exact(&mut hello).await.unwrap();
    assert_eq!(hello, b"%");
    // Drain the HELLO map: send a PING and read up to its reply.
    c.write_all(&resp(&["PING"])).await.unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"+PONG\r\n") {
        let mut b = [0u8; 256];
        let n = tokio::time::timeout(WAIT, c.read(&mut b)).await.expect("hello in time").unwrap();
        assert!(n > 0, "closed");
        seen.extend_from_slice(&b[..n]);
    }
    c.write_all(&resp(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])).await.unwrap();
    wait_blocked(&server, 1).await;
    server.run(["XADD", "s", "1-0", "f", "v"]);
    expect(&mut c, "%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n").await;
}
