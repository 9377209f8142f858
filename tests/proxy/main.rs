//! The fault proxy in front of a real redis-server (skipped, with the
//! reason printed, when none is installed; a failure under
//! `REDIS_HARNESS_REQUIRE_REAL=1`).

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redis_harness::fault::{errors, FaultRule};
use redis_harness::FaultProxy;

#[path = "../common/mod.rs"]
mod common;
use common::{read_exact_counting, read_to_end, real_redis_or_skip, RawConn};

const BOUND: Duration = Duration::from_secs(10);

async fn connect(proxy: &FaultProxy, response_timeout: Option<Duration>) -> redis::aio::MultiplexedConnection {
    // The timeout applies after the handshake, so only the commands under test are timed.
    let mut con = common::connect_patiently(&proxy.url()).await.unwrap();
    if let Some(t) = response_timeout {
        con.set_response_timeout(t);
    }
    con
}

fn raw(proxy: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

#[test]
fn proxy_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FaultProxy>();
}

#[tokio::test]
async fn forwards_transparently_with_pipelining() {
    let Some(redis) = real_redis_or_skip("forwards_transparently_with_pipelining") else { return };
    let proxy = FaultProxy::start(redis.addr()).await;
    let mut con = connect(&proxy, None).await;
    let (a, b, c): (String, i64, Option<String>) = redis::pipe()
        .cmd("SET")
        .arg("k")
        .arg("v")
        .ignore()
        .cmd("GET")
        .arg("k")
        .cmd("INCR")
        .arg("n")
        .cmd("GET")
        .arg("missing")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a.as_str(), b, c), ("v", 1, None));
    assert!(proxy.commands().iter().any(|c| c.name() == "INCR"));
    drop(con);
    proxy.assert_no_leaks(BOUND).await;
}

#[tokio::test]
async fn recording_keeps_the_most_recent_forwarded_commands() {
    let Some(redis) = real_redis_or_skip("recording_keeps_the_most_recent_forwarded_commands") else { return };
    let proxy = FaultProxy::builder(redis.addr()).record_limit(2).start().await;
    let mut con = connect(&proxy, None).await;
    for i in 0..4 {
        let _: String = redis::cmd("ECHO").arg(i).query_async(&mut con).await.unwrap();
    }
    let echoed: Vec<String> = proxy
        .commands()
        .iter()
        .filter(|c| c.name() == "ECHO")
        .map(|c| String::from_utf8_lossy(&c.args[1]).into_owned())
        .collect();
    assert_eq!(echoed, ["2", "3"]);
    assert!(proxy.commands_dropped() >= 2, "dropped {}", proxy.commands_dropped());
    drop(con);
    proxy.assert_no_leaks(BOUND).await;
}

#[tokio::test]
async fn injected_error_keeps_pipeline_order() {
    let Some(redis) = real_redis_or_skip("injected_error_keeps_pipeline_order") else { return };
    let proxy = FaultProxy::start(redis.addr()).await;
    let guard = proxy.fault(FaultRule::error(errors::READONLY).on(["SET"]).nth(1).expect(1));
    let mut c = RawConn::tcp(proxy.addr());
    c.send_raw(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+PONG\r\n");
    assert_eq!(c.read_reply().unwrap(), b"-READONLY You can't write against a read only replica.\r\n");
    assert_eq!(c.read_reply().unwrap(), b"$2\r\nhi\r\n");
    // The faulted SET never reached Redis.
    assert_eq!(c.call(&["EXISTS", "k"]), b":0\r\n");
    assert_eq!(guard.hits(), 1);
}

#[tokio::test]
async fn latency_is_at_least_the_injected_delay() {
    let Some(redis) = real_redis_or_skip("latency_is_at_least_the_injected_delay") else { return };
    let proxy = FaultProxy::start(redis.addr()).await;
    let delay = Duration::from_millis(250);
    let _g = proxy.fault(FaultRule::latency(delay).on(["PING"]));
    let _h = proxy.fault(FaultRule::latency(delay).before_command().on(["ECHO"]));
    let mut con = connect(&proxy, None).await;
    let started = Instant::now();
    assert_eq!(redis::cmd("PING").query_async::<String>(&mut con).await.unwrap(), "PONG");
    assert!(started.elapsed() >= delay);
    let started = Instant::now();
    assert_eq!(redis::cmd("ECHO").arg("x").query_async::<String>(&mut con).await.unwrap(), "x");
    assert!(started.elapsed() >= delay);
}

#[tokio::test]
async fn stall_times_the_client_out() {
    let Some(redis) = real_redis_or_skip("stall_times_the_client_out") else { return };
    let proxy = FaultProxy::start(redis.addr()).await;
    let _g = proxy.fault(FaultRule::stall().on(["GET"]));
    let mut con = connect(&proxy, Some(Duration::from_millis(200))).await;
    let err = redis::cmd("GET").arg("k").query_async::<Option<String>>(&mut con).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    drop(con);
    proxy.assert_no_leaks(BOUND).await;
}

#[test]
fn close_and_reset_after_part_of_a_reply() {
    let Some(redis) = real_redis_or_skip("close_and_reset_after_part_of_a_reply") else { return };
    let proxy = FaultProxy::builder(redis.addr()).start_blocking();
    let fin = proxy.fault(FaultRule::close().after_bytes(3).on(["ECHO"]).client_id(1));
    let mut s = raw(&proxy);
    s.write_all(b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n").unwrap();
    assert_eq!(read_to_end(&mut s), (b"$5\r".to_vec(), Ok(())));
    drop(fin);
    let _rst = proxy.fault(FaultRule::reset().on(["ECHO"]));
    let mut s = raw(&proxy);
    s.write_all(b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n").unwrap();
    assert_eq!(read_to_end(&mut s), (Vec::new(), Err(ErrorKind::ConnectionReset)));
}

#[test]
fn partial_reply_arrives_in_slices() {
    let Some(redis) = real_redis_or_skip("partial_reply_arrives_in_slices") else { return };
    let proxy = FaultProxy::builder(redis.addr()).start_blocking();
    let _g = proxy.fault(FaultRule::partial(3, Duration::from_millis(30)).on(["ECHO"]));
    let mut s = raw(&proxy);
    s.write_all(b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n").unwrap();
    let (got, reads) = read_exact_counting(&mut s, 11);
    assert_eq!(got, b"$5\r\nhello\r\n");
    assert!(reads >= 2, "{reads}");
}

#[test]
fn drop_reply_swallows_one_reply_of_an_executed_command() {
    let Some(redis) = real_redis_or_skip("drop_reply_swallows_one_reply_of_an_executed_command") else { return };
    let proxy = FaultProxy::builder(redis.addr()).start_blocking();
    let _g = proxy.fault(FaultRule::drop_reply().on(["SET"]));
    let mut c = RawConn::tcp(proxy.addr());
    c.send(&["SET", "k", "v"]);
    assert_eq!(c.call(&["GET", "k"]), b"$1\r\nv\r\n");
}

#[test]
fn resp3_pushes_pass_through_between_replies() {
    let Some(redis) = real_redis_or_skip("resp3_pushes_pass_through_between_replies") else { return };
    let proxy = FaultProxy::builder(redis.addr()).start_blocking();
    let _g = proxy.fault(FaultRule::error("ERR injected").on(["ECHO"]));
    let mut sub = RawConn::tcp(proxy.addr());
    sub.hello3();
    sub.send(&["SUBSCRIBE", "ch"]);
    let confirm = sub.read_reply().unwrap();
    assert!(confirm.starts_with(b">3\r\n"), "{confirm:?}");
    let mut publisher = RawConn::tcp(redis.addr());
    assert_eq!(publisher.call(&["PUBLISH", "ch", "m1"]), b":1\r\n");
    // The message push arrives, then the injected error in place of ECHO's reply, then PING's.
    let push = sub.read_reply().unwrap();
    assert!(push.starts_with(b">3\r\n$7\r\nmessage\r\n"), "{push:?}");
    sub.send(&["ECHO", "x"]);
    assert_eq!(sub.read_reply().unwrap(), b"-ERR injected\r\n");
    sub.send(&["PING"]);
    assert_eq!(sub.read_reply().unwrap(), b"+PONG\r\n");
}

#[test]
fn max_clients_and_refuse_at_accept() {
    let Some(redis) = real_redis_or_skip("max_clients_and_refuse_at_accept") else { return };
    let proxy = FaultProxy::builder(redis.addr()).start_blocking();
    let g = proxy.fault(FaultRule::max_clients().times(1));
    let mut s = raw(&proxy);
    assert_eq!(read_to_end(&mut s), (b"-ERR max number of clients reached\r\n".to_vec(), Ok(())));
    drop(g);
    let _g = proxy.fault(FaultRule::refuse_connections());
    let mut s = raw(&proxy);
    assert_eq!(read_to_end(&mut s), (Vec::new(), Ok(())));
    assert_eq!(proxy.total_connections(), 0);
}

#[tokio::test]
async fn kill_all_and_socket_accounting() {
    let Some(redis) = real_redis_or_skip("kill_all_and_socket_accounting") else { return };
    let proxy = FaultProxy::start(redis.addr()).await;
    let mut a = connect(&proxy, None).await;
    let _b = connect(&proxy, None).await;
    proxy.wait_for_open_connections(2, BOUND).await.unwrap();
    assert_eq!(proxy.kill_all(), 2);
    proxy.assert_no_leaks(BOUND).await;
    assert!(redis::cmd("PING").query_async::<String>(&mut a).await.is_err());
}

#[test]
fn seeded_probability_is_reproducible_through_the_proxy() {
    let Some(redis) = real_redis_or_skip("seeded_probability_is_reproducible_through_the_proxy") else { return };
    let pattern = |seed: u64| {
        let proxy = FaultProxy::builder(redis.addr()).seed(seed).start_blocking();
        let _g = proxy.fault(FaultRule::error("ERR coin").on(["PING"]).probability(0.5));
        let mut c = RawConn::tcp(proxy.addr());
        (0..32).map(|_| c.call(&["PING"])[0] == b'-').collect::<Vec<bool>>()
    };
    let a = pattern(11);
    assert_eq!(a, pattern(11));
    assert!(a.contains(&true) && a.contains(&false));
}

#[test]
#[should_panic(expected = "was expected to fire exactly 1 time(s) but fired 0 time(s) (seed 5")]
fn expectation_failure_through_the_proxy() {
    // No traffic is needed, so no upstream either: the proxy contacts it only when a client connects.
    let proxy = FaultProxy::builder("127.0.0.1:1".parse().unwrap()).seed(5).start_blocking();
    let _g = proxy.fault(FaultRule::drop_reply().on(["DEL"]).expect(1));
}

#[test]
fn admin_namespace_through_the_proxy() {
    let Some(redis) = real_redis_or_skip("admin_namespace_through_the_proxy") else { return };
    let proxy = FaultProxy::builder(redis.addr()).admin(true).start_blocking();
    let mut c = RawConn::tcp(proxy.addr());
    assert_eq!(c.call(&["HARNESS", "FAULT", "ADD", "error OOM cmd=SET"]), b":1\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]), b"-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert_eq!(c.call(&["HARNESS", "FAULT", "CLEAR"]), b"+OK\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]), b"+OK\r\n");
    // Without --admin the real Redis answers HARNESS itself.
    let plain = FaultProxy::builder(redis.addr()).start_blocking();
    let mut d = RawConn::tcp(plain.addr());
    assert_eq!(d.call(&["HARNESS", "SEED"]), b"-ERR unknown command 'HARNESS', with args beginning with: 'SEED' \r\n");
}

#[test]
fn dropping_the_proxy_closes_client_sockets() {
    let Some(redis) = real_redis_or_skip("dropping_the_proxy_closes_client_sockets") else { return };
    let proxy = FaultProxy::builder(redis.addr()).start_blocking();
    let mut c = RawConn::tcp(proxy.addr());
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    drop(proxy);
    assert_eq!(c.read_reply(), None);
}

/// `set_upstream` moves new connections to another Redis (a restarted
/// container on a new port); a connection already open keeps its upstream.
#[test]
fn set_upstream_moves_new_connections_only() {
    let a = redis_harness::FakeRedis::builder().start_blocking();
    let b = redis_harness::FakeRedis::builder().start_blocking();
    a.run(["SET", "who", "a"]);
    b.run(["SET", "who", "b"]);
    let proxy = FaultProxy::builder(a.addr()).start_blocking();
    let mut old = RawConn::tcp(proxy.addr());
    assert_eq!(old.call(&["GET", "who"]), b"$1\r\na\r\n");
    proxy.set_upstream(b.addr());
    assert_eq!(proxy.upstream(), b.addr());
    let mut new = RawConn::tcp(proxy.addr());
    assert_eq!(new.call(&["GET", "who"]), b"$1\r\nb\r\n");
    assert_eq!(old.call(&["GET", "who"]), b"$1\r\na\r\n", "an open connection keeps its upstream");
}

/// The proxy used to bind its listener without `SO_REUSEADDR` (the fake had
/// it): a proxy restarted on its port failed while the connections the old
/// one closed sat in TIME_WAIT. Both now bind through one listener.
#[test]
fn a_proxy_restarted_on_its_port_binds_past_time_wait() {
    let fake = redis_harness::FakeRedis::builder().start_blocking();
    let proxy = FaultProxy::builder(fake.addr()).start_blocking();
    let addr = proxy.addr();
    let mut c = RawConn::tcp(addr);
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    proxy.wait_for_open_connections_blocking(1, BOUND).unwrap();
    // The proxy closes first, so its end of the connection is the one left in TIME_WAIT.
    drop(proxy);
    assert_eq!(c.read_reply(), None, "a stopped proxy closes its clients");
    let again = FaultProxy::builder(fake.addr()).bind(addr).try_start().unwrap_or_else(|e| panic!("{e}"));
    let mut d = RawConn::tcp(again.addr());
    assert_eq!(d.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(again.clients().len(), 1);
    assert_eq!(again.kill_all(), 1);
    assert_eq!(d.read_reply(), None, "kill_all closes the client");
    again.wait_for_open_connections_blocking(0, BOUND).unwrap();
}
