//! The fake server's lifecycle, socket accounting and protocol handling, as
//! a user of the public API sees them.

#[path = "../common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::RawConn;
use redis::AsyncCommands;
use redis_harness::{FakeRedis, Reply};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FakeRedis>();
    assert_send_sync::<redis_harness::LeakError>();
    assert_send_sync::<redis_harness::Clock>();
}

#[test]
fn counts_a_socket_from_accept_until_it_is_closed() {
    let server = FakeRedis::builder().start_blocking();
    assert_eq!(server.open_connections(), 0);
    let mut a = RawConn::tcp(server.addr());
    let b = RawConn::tcp(server.addr());
    // A round trip on `a` proves the server accepted it; `b` is accepted by then
    // or shortly after, which the bounded wait covers.
    assert_eq!(a.call(&["PING"]), b"+PONG\r\n");
    server.wait_for_open_connections_blocking(2, WAIT).unwrap();
    assert_eq!(server.total_connections(), 2);
    drop(b);
    server.wait_for_open_connections_blocking(1, WAIT).unwrap();
    drop(a);
    server.wait_for_open_connections_blocking(0, WAIT).unwrap();
    assert_eq!(server.total_connections(), 2);
}

#[test]
fn leak_error_lists_the_clients_still_open() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    c.call(&["CLIENT", "SETNAME", "leaky-worker"]);
    c.call(&["PING"]);
    let err = server.wait_for_open_connections_blocking(0, Duration::from_millis(50)).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.open.len(), 1);
    assert!(msg.contains("expected 0 open connection(s)"), "{msg}");
    assert!(msg.contains(&server.addr().to_string()), "{msg}");
    assert!(msg.contains("last-cmd=ping"), "{msg}");
}

#[tokio::test]
#[should_panic(expected = "socket leak: expected 0 open connection(s)")]
async fn assert_no_leaks_panics_with_the_open_clients() {
    let server = FakeRedis::start().await;
    let mut c = RawConn::tcp(server.addr());
    c.call(&["PING"]);
    server.assert_no_leaks(Duration::from_millis(20)).await;
}

#[test]
fn drop_closes_every_client_socket() {
    let server = FakeRedis::builder().start_blocking();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    drop(server);
    let mut rest = Vec::new();
    // EOF (Ok) or reset (Err) both mean closed; a timeout would mean it is still open.
    match s.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty()),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "socket still open after drop"),
    }
}

#[tokio::test]
async fn shutdown_reports_what_it_closed() {
    let server = FakeRedis::start().await;
    let mut c = RawConn::tcp(server.addr());
    c.call(&["PING"]);
    server.wait_for_open_connections(1, WAIT).await.unwrap();
    let report = server.shutdown().await;
    assert_eq!(report.closed.len(), 1);
    assert_eq!(report.total_connections, 1);
    assert_eq!(c.read_reply(), None, "client must see the connection closed");
}

#[test]
fn servers_are_isolated_even_when_threads_are_reused() {
    for i in 0..50 {
        let server = FakeRedis::builder().start_blocking();
        assert_eq!(server.run(["DBSIZE"]), Reply::Int(0), "server {i} saw a previous server's data");
        server.set("k", format!("{i}"));
        let mut c = RawConn::tcp(server.addr());
        assert_eq!(c.call(&["GET", "k"]), format!("${}\r\n{i}\r\n", i.to_string().len()).into_bytes());
    }
}

#[test]
fn protocol_errors_reply_like_redis_and_close() {
    let server = FakeRedis::builder().start_blocking();
    for (input, err) in [
        (&b"*1\r\n$99999999999\r\n"[..], &b"-ERR Protocol error: invalid bulk length\r\n"[..]),
        (b"*99999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"SET \"a\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ] {
        let mut c = RawConn::tcp(server.addr());
        c.send_raw(input);
        assert_eq!(c.read_reply().as_deref(), Some(err));
        assert_eq!(c.read_reply(), None, "connection must be closed after a protocol error");
    }
    server.wait_for_open_connections_blocking(0, WAIT).unwrap();
}

#[test]
fn max_bulk_len_is_configurable() {
    let server = FakeRedis::builder().max_bulk_len(10).start_blocking();
    let mut c = RawConn::tcp(server.addr());
    c.send_raw(b"*2\r\n$4\r\nECHO\r\n$11\r\n");
    assert_eq!(c.read_reply().as_deref(), Some(&b"-ERR Protocol error: invalid bulk length\r\n"[..]));
}

#[test]
fn a_thousand_pipelined_commands_in_one_write() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch
            .extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{i}\r\n", i.to_string().len()).as_bytes());
        batch.extend_from_slice(b"PING\r\n");
    }
    c.send_raw(&batch);
    for _ in 0..1000 {
        assert_eq!(c.read_reply().as_deref(), Some(&b"+OK\r\n"[..]));
        assert_eq!(c.read_reply().as_deref(), Some(&b"+PONG\r\n"[..]));
    }
    assert_eq!(server.get("k").as_deref(), Some(&b"999"[..]));
}

#[test]
fn records_commands_per_client_and_can_stop() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    c.call(&["SET", "a", "1"]);
    c.call(&["get", "a"]);
    let cmds = server.commands();
    assert_eq!(cmds.iter().map(|c| c.name()).collect::<Vec<_>>(), ["SET", "GET"]);
    assert_eq!(cmds[0].args[1], "a");
    server.set_record_commands(false);
    c.call(&["PING"]);
    assert_eq!(server.commands().len(), 2);
    server.clear_commands();
    assert!(server.commands().is_empty());
}

#[test]
fn recording_keeps_the_most_recent_commands_within_its_limit() {
    let server = FakeRedis::builder().record_limit(3).start_blocking();
    let mut c = RawConn::tcp(server.addr());
    for i in 0..5 {
        c.call(&["ECHO", &i.to_string()]);
    }
    let kept: Vec<String> =
        server.commands().iter().map(|c| String::from_utf8_lossy(&c.args[1]).into_owned()).collect();
    assert_eq!(kept, ["2", "3", "4"]);
    assert_eq!(server.commands_dropped(), 2);
    server.clear_commands();
    assert_eq!((server.commands().len(), server.commands_dropped()), (0, 0));

    // A limit of 0 keeps nothing and counts everything.
    let none = FakeRedis::builder().record_limit(0).start_blocking();
    let mut c = RawConn::tcp(none.addr());
    c.call(&["PING"]);
    assert_eq!((none.commands().len(), none.commands_dropped()), (0, 1));
    assert_eq!(redis_harness::DEFAULT_RECORD_LIMIT, 100_000);
}

#[test]
fn paused_clock_makes_expiry_exact() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    server.run(["SET", "k", "v", "PX", "1000"]);
    server.advance_time(Duration::from_millis(999));
    assert_eq!(server.get("k").as_deref(), Some(&b"v"[..]));
    server.advance_time(Duration::from_millis(1));
    assert_eq!(server.get("k"), None);
    assert_eq!(server.run(["DBSIZE"]), Reply::Int(0), "active expiry reclaims the key");
}

#[test]
fn unix_socket_lives_in_a_temp_dir_removed_on_drop() {
    let server = FakeRedis::builder().unix_socket().start_blocking();
    let path = server.unix_path().expect("unix socket requested").to_path_buf();
    let mut c = RawConn::unix(&path);
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    assert!(server.clients()[0].peer.ends_with(":0"));
    drop(c);
    drop(server);
    assert!(!path.exists(), "{} should be removed on drop", path.display());
}

#[test]
fn works_from_a_plain_test_without_a_runtime() {
    let server = FakeRedis::builder().start_blocking();
    let client = redis::Client::open(server.url()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let v: String = rt.block_on(async {
        let mut con = client.get_multiplexed_async_connection_with_config(&common::patient()).await.unwrap();
        let _: () = con.set("x", "y").await.unwrap();
        con.get("x").await.unwrap()
    });
    assert_eq!(v, "y");
}

async fn redis_crate_round_trip(url: String) {
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection_with_config(&common::patient()).await.unwrap();
    let _: () = con.set("key", "value").await.unwrap();
    let v: Option<String> = con.get("key").await.unwrap();
    assert_eq!(v.as_deref(), Some("value"));
    let missing: Option<String> = con.get("nope").await.unwrap();
    assert_eq!(missing, None);
    let n: i64 = con.del(&["key", "nope"]).await.unwrap();
    assert_eq!(n, 1);
    let err = redis::cmd("SET").arg("only-key").query_async::<()>(&mut con).await.unwrap_err();
    assert!(err.to_string().contains("wrong number of arguments"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn redis_crate_over_tcp_resp2_current_thread() {
    let server = FakeRedis::start().await;
    redis_crate_round_trip(server.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crate_over_tcp_resp3_multi_thread() {
    let server = FakeRedis::start().await;
    redis_crate_round_trip(format!("{}?protocol=resp3", server.url())).await;
}

#[tokio::test]
async fn redis_crate_over_unix_socket_resp2_and_resp3() {
    let server = FakeRedis::builder().unix_socket().start().await;
    let path = server.unix_path().unwrap().display().to_string();
    redis_crate_round_trip(format!("redis+unix://{path}")).await;
    redis_crate_round_trip(format!("redis+unix://{path}?protocol=resp3")).await;
}
