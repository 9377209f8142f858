//! Blocking list commands against the fake server: FIFO fairness, timeouts,
//! and that nothing a blocked client leaves behind (queue entry, task,
//! socket) survives its disconnect or the server's shutdown.
//!
//! Every wait is on the server's own counters (`wait_for_blocked_clients`,
//! `wait_for_open_connections`), never on sleeps.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use redis_harness::{FakeRedis, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Bound on every wait in this file.
const WAIT: Duration = Duration::from_secs(30);

/// A connection with no client-side response timeout: BLPOP may wait long.
async fn conn(server: &FakeRedis) -> MultiplexedConnection {
    let client = redis::Client::open(server.url()).expect("valid url");
    let config = AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(Some(WAIT));
    client.get_multiplexed_async_connection_with_config(&config).await.expect("connect")
}

async fn wait_blocked(server: &FakeRedis, n: usize) {
    if let Err(now) = server.wait_for_blocked_clients(n, WAIT).await {
        panic!("expected {n} blocked clients, {now} after {WAIT:?}");
    }
}

/// Spawns `BLPOP keys... timeout` on its own connection.
fn spawn_blpop(mut c: MultiplexedConnection, keys: &[&str], timeout: &str) -> JoinHandle<Option<(String, String)>> {
    let mut cmd = redis::cmd("BLPOP");
    for k in keys {
        cmd.arg(*k);
    }
    cmd.arg(timeout);
    tokio::spawn(async move { cmd.query_async(&mut c).await.expect("BLPOP reply") })
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// A raw socket that sent `args` and did not read the reply.
async fn raw_blocked(server: &FakeRedis, args: &[&str]) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).await.expect("connect");
    s.write_all(&resp(args)).await.expect("send");
    s
}

fn pair(k: &str, v: &str) -> Option<(String, String)> {
    Some((k.to_string(), v.to_string()))
}

#[tokio::test]
async fn fifo_order_across_three_clients() {
    let server = FakeRedis::start().await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        tasks.push(spawn_blpop(conn(&server).await, &["q"], "0"));
        // Each blocks before the next one starts: the queue order is known.
        wait_blocked(&server, i + 1).await;
    }
    assert_eq!(server.blocking_keys(), 1);
    // One element: only the oldest is served, the others keep their places.
    assert_eq!(server.run(["RPUSH", "q", "a"]), Reply::Int(1));
    wait_blocked(&server, 2).await;
    assert_eq!(server.run(["RPUSH", "q", "b", "c"]), Reply::Int(2));
    wait_blocked(&server, 0).await;
    let got: Vec<_> = futures_join(tasks).await;
    assert_eq!(got, vec![pair("q", "a"), pair("q", "b"), pair("q", "c")]);
    assert_eq!(server.run(["EXISTS", "q"]), Reply::Int(0));
    assert_eq!(server.blocking_keys(), 0);
}

async fn futures_join<T>(tasks: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(tokio::time::timeout(WAIT, t).await.expect("task finished in time").expect("task ok"));
    }
    out
}

#[tokio::test]
async fn a_client_pushing_serves_the_oldest_waiter_first() {
    let server = FakeRedis::start().await;
    let first = spawn_blpop(conn(&server).await, &["x", "q"], "0");
    wait_blocked(&server, 1).await;
    let second = spawn_blpop(conn(&server).await, &["q"], "0");
    wait_blocked(&server, 2).await;
    let mut pusher = conn(&server).await;
    let n: i64 = redis::cmd("RPUSH").arg("q").arg("1").query_async(&mut pusher).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(first.await.unwrap(), pair("q", "1"));
    wait_blocked(&server, 1).await;
    // The served client's other key no longer holds it.
    assert_eq!(server.blocking_keys(), 1);
    let _: i64 = redis::cmd("RPUSH").arg("q").arg("2").query_async(&mut pusher).await.unwrap();
    assert_eq!(second.await.unwrap(), pair("q", "2"));
}

#[tokio::test]
async fn timeout_zero_blocks_until_a_push() {
    let server = FakeRedis::start().await;
    let forever = spawn_blpop(conn(&server).await, &["q"], "0");
    wait_blocked(&server, 1).await;
    // Another client's short timeout comes and goes; the first still waits.
    let short = spawn_blpop(conn(&server).await, &["other"], "0.05");
    assert_eq!(short.await.unwrap(), None);
    wait_blocked(&server, 1).await;
    assert!(!forever.is_finished());
    server.run(["LPUSH", "q", "v"]);
    assert_eq!(forever.await.unwrap(), pair("q", "v"));
}

#[tokio::test]
async fn fractional_timeouts_reply_null_after_roughly_that_long() {
    let server = FakeRedis::start().await;
    let mut c = conn(&server).await;
    let started = Instant::now();
    let r: Option<(String, String)> = redis::cmd("BLPOP").arg("q").arg("0.15").query_async(&mut c).await.unwrap();
    assert_eq!(r, None);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(150), "timed out early: {took:?}");
    assert!(took < WAIT);
    let r: Option<String> = redis::cmd("BRPOPLPUSH").arg("q").arg("d").arg(0.01).query_async(&mut c).await.unwrap();
    assert_eq!(r, None);
    let r: Option<(String, Vec<String>)> =
        redis::cmd("BLMPOP").arg("0.01").arg(1).arg("q").arg("LEFT").query_async(&mut c).await.unwrap();
    assert_eq!(r, None);
    // The connection works on after its timeouts.
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!((server.blocked_clients(), server.blocking_keys()), (0, 0));
}

#[tokio::test]
async fn blocked_in_another_database_is_not_woken() {
    let server = FakeRedis::start().await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let mut cmds = resp(&["SELECT", "1"]);
    cmds.extend(resp(&["BLPOP", "q", "0"]));
    s.write_all(&cmds).await.unwrap();
    wait_blocked(&server, 1).await;
    server.run(["RPUSH", "q", "db0"]);
    assert_eq!(server.blocked_clients(), 1);
    server.run_in_db(1, ["RPUSH", "q", "db1"]);
    wait_blocked(&server, 0).await;
    let mut buf = Vec::new();
    let want = b"+OK\r\n*2\r\n$1\r\nq\r\n$3\r\ndb1\r\n";
    while buf.len() < want.len() {
        let mut chunk = [0u8; 256];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk)).await.expect("reply in time").unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(buf, want);
    assert_eq!(server.run(["LLEN", "q"]), Reply::Int(1));
}

#[tokio::test]
async fn disconnect_while_blocked_releases_every_queue_entry() {
    let server = FakeRedis::start().await;
    let s = raw_blocked(&server, &["BLPOP", "a", "b", "c", "0"]).await;
    let kept = spawn_blpop(conn(&server).await, &["b"], "0");
    wait_blocked(&server, 2).await;
    assert_eq!(server.blocking_keys(), 3);
    drop(s);
    wait_blocked(&server, 1).await;
    assert_eq!(server.blocking_keys(), 1);
    // Nobody is left on "a": the push stays in the list.
    server.run(["RPUSH", "a", "x"]);
    assert_eq!(server.run(["LLEN", "a"]), Reply::Int(1));
    // The dropped client was first on "b"; the second one gets the element.
    server.run(["RPUSH", "b", "y"]);
    assert_eq!(kept.await.unwrap(), pair("b", "y"));
    assert_eq!((server.blocked_clients(), server.blocking_keys()), (0, 0));
    server.assert_no_leaks(WAIT).await;
}

/// The soft limit on open files, from /proc (no libc needed).
fn max_open_files() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test]
async fn thousands_of_blocked_clients_leave_nothing_behind() {
    let server = FakeRedis::start().await;
    // Each client costs two descriptors in this process (both socket ends).
    let mut n = 2000;
    if let Some(limit) = max_open_files() {
        if limit < 2 * n + 200 {
            n = limit.saturating_sub(200) / 2;
            eprintln!("open-file limit {limit}: blocking {n} clients instead of 2000");
        }
    }
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        let key = format!("k{}", i % 10);
        socks.push(raw_blocked(&server, &["BLPOP", &key, "shared", "0"]).await);
    }
    wait_blocked(&server, n).await;
    assert_eq!(server.blocking_keys(), 11);
    assert_eq!(server.open_connections(), n);
    // Serve a few, so that both served and dropped clients are covered.
    server.run(["RPUSH", "shared", "1", "2", "3"]);
    wait_blocked(&server, n - 3).await;
    drop(socks);
    wait_blocked(&server, 0).await;
    assert_eq!(server.blocking_keys(), 0);
    server.assert_no_leaks(WAIT).await;
    // The server is still healthy and nothing waits on the keys any more.
    server.run(["RPUSH", "shared", "after"]);
    assert_eq!(server.run(["LRANGE", "shared", "0", "-1"]), Reply::Array(vec![Reply::bulk("after")]));
}

#[tokio::test]
async fn client_side_timeout_leaves_the_server_side_block_until_disconnect() {
    let server = FakeRedis::start().await;
    let client = redis::Client::open(server.url()).unwrap();
    // Connect without a budget, then time the BLPOP only (BLPOP 0 never answers).
    let config = AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(Some(WAIT));
    let mut c = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
    c.set_response_timeout(Duration::from_millis(100));
    let r: redis::RedisResult<Option<(String, String)>> = redis::cmd("BLPOP").arg("q").arg(0).query_async(&mut c).await;
    let err = r.expect_err("the client gives up first");
    assert!(err.is_timeout(), "expected a client-side timeout, got {err:?}");
    // As with Redis, the server still holds the client blocked...
    assert_eq!(server.blocked_clients(), 1);
    drop(c);
    drop(client);
    // ... until the connection goes away.
    wait_blocked(&server, 0).await;
    server.assert_no_leaks(WAIT).await;
    server.run(["RPUSH", "q", "kept"]);
    assert_eq!(server.run(["LLEN", "q"]), Reply::Int(1));
}

#[tokio::test]
async fn blpop_with_redis_crate_typed_api() {
    use redis::AsyncCommands;
    let server = FakeRedis::start().await;
    let mut c = conn(&server).await;
    let none: Option<[String; 2]> = c.blpop("q", 0.05).await.unwrap();
    assert_eq!(none, None);
    let waiter = {
        let mut c2 = conn(&server).await;
        tokio::spawn(async move {
            let r: Option<[String; 2]> = c2.brpop("q", 0.0).await.unwrap();
            r
        })
    };
    wait_blocked(&server, 1).await;
    let _: i64 = c.rpush("q", &["a", "b"]).await.unwrap();
    assert_eq!(waiter.await.unwrap(), Some(["q".to_string(), "b".to_string()]));
    let left: Vec<String> = c.lrange("q", 0, -1).await.unwrap();
    assert_eq!(left, vec!["a"]);
}

#[tokio::test]
async fn commands_sent_while_blocked_run_after_it() {
    let server = FakeRedis::start().await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let mut cmds = resp(&["BLPOP", "q", "0"]);
    cmds.extend(resp(&["RPUSH", "q", "own"]));
    cmds.extend(resp(&["LLEN", "q"]));
    s.write_all(&cmds).await.unwrap();
    wait_blocked(&server, 1).await;
    // Its own buffered RPUSH has not run: the list does not exist yet.
    assert_eq!(server.run(["EXISTS", "q"]), Reply::Int(0));
    server.run(["RPUSH", "q", "other"]);
    let want = b"*2\r\n$1\r\nq\r\n$5\r\nother\r\n:1\r\n:1\r\n";
    let mut buf = Vec::new();
    while buf.len() < want.len() {
        let mut chunk = [0u8; 256];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk)).await.expect("replies in time").unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(buf, want);
}

#[tokio::test]
async fn shutdown_closes_blocked_clients() {
    let server = FakeRedis::start().await;
    let mut socks = Vec::new();
    for i in 0..5 {
        socks.push(raw_blocked(&server, &["BRPOPLPUSH", &format!("src{i}"), "dst", "0"]).await);
    }
    let crate_client = {
        let mut c = conn(&server).await;
        tokio::spawn(async move {
            let r: redis::RedisResult<Option<(String, String)>> =
                redis::cmd("BLPOP").arg("q").arg(0).query_async(&mut c).await;
            r
        })
    };
    wait_blocked(&server, 6).await;
    let report = server.shutdown().await;
    assert_eq!(report.closed.len(), 6);
    for mut s in socks {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, s.read(&mut buf)).await.expect("closed in time");
        // EOF (or a reset): no reply, the connection is gone.
        assert!(matches!(n, Ok(0) | Err(_)), "expected the socket closed, read {n:?}");
    }
    let r = tokio::time::timeout(WAIT, crate_client).await.expect("client saw the close").unwrap();
    assert!(r.is_err(), "BLPOP must fail when the server goes away, got {r:?}");
}
