//! Fault injection in the fake server, observed from the client side: the
//! `redis` crate for errors and timings, raw sockets for FIN, RST and slices.
//!
//! Timing checks are lower bounds only (an injected delay is never shorter
//! than asked); ordering is established with explicit waits, not sleeps.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis_harness::fault::{errors, FaultRule};
use redis_harness::FakeRedis;

#[path = "../common/mod.rs"]
mod common;
use common::{read_exact_counting, read_to_end, RawConn};

mod targeting;

const BOUND: Duration = Duration::from_secs(10);

/// A redis-rs connection; `response_timeout` applies after the handshake,
/// so only the commands under test are timed.
async fn connect(server: &FakeRedis, response_timeout: Option<Duration>) -> redis::aio::MultiplexedConnection {
    let mut con = common::connect_patiently(&server.url()).await.unwrap();
    if let Some(t) = response_timeout {
        con.set_response_timeout(t);
    }
    con
}

async fn get(con: &mut redis::aio::MultiplexedConnection, key: &str) -> redis::RedisResult<Option<String>> {
    redis::cmd("GET").arg(key).query_async(con).await
}

fn raw(server: &FakeRedis) -> TcpStream {
    let s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn send(s: &mut TcpStream, args: &[&str]) {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(out.as_bytes()).unwrap();
}

/// Polls `cond` until it holds, failing after a generous bound.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < BOUND, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn wait_until_blocking(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < BOUND, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FaultRule>();
    check::<redis_harness::fault::FaultGuard>();
    check::<redis_harness::fault::Fault>();
}

#[tokio::test]
async fn error_replaces_the_reply_then_stops_after_times() {
    let server = FakeRedis::start().await;
    server.set("k", "v");
    let guard = server.fault(FaultRule::error(errors::LOADING).on(["get"]).times(1).expect(1));
    let mut con = connect(&server, None).await;
    let err = get(&mut con, "k").await.unwrap_err();
    assert_eq!(err.code(), Some("LOADING"));
    assert!(err.to_string().contains("Redis is loading the dataset in memory"), "{err}");
    assert_eq!(get(&mut con, "k").await.unwrap().as_deref(), Some("v"));
    assert_eq!(guard.hits(), 1);
}

#[tokio::test]
async fn custom_error_text_and_command_not_run() {
    let server = FakeRedis::start().await;
    let _g = server.fault(FaultRule::error("BUSYGROUP custom words").on(["SET"]));
    let mut con = connect(&server, None).await;
    let err = redis::cmd("SET").arg("k").arg("v").query_async::<()>(&mut con).await.unwrap_err();
    assert_eq!(err.code(), Some("BUSYGROUP"));
    assert_eq!(server.get("k"), None, "a replaced command must not run");
}

#[tokio::test]
async fn latency_before_reply_runs_the_command_first() {
    let server = FakeRedis::start().await;
    let delay = Duration::from_millis(300);
    let guard = server.fault(FaultRule::latency(delay).on(["SET"]));
    let mut con = connect(&server, None).await;
    let started = Instant::now();
    let set = tokio::spawn(async move {
        redis::cmd("SET").arg("k").arg("v").query_async::<()>(&mut con).await.unwrap();
        started.elapsed()
    });
    // The write is visible while the reply is still held back.
    wait_until("the SET ran", || server.get("k").is_some()).await;
    assert!(set.await.unwrap() >= delay);
    assert_eq!(guard.hits(), 1);
}

#[tokio::test]
async fn latency_before_command_holds_the_command() {
    let server = FakeRedis::start().await;
    let delay = Duration::from_millis(300);
    let guard = server.fault(FaultRule::latency(delay).before_command().on(["SET"]));
    let mut con = connect(&server, None).await;
    let started = Instant::now();
    let set = tokio::spawn(async move {
        redis::cmd("SET").arg("k").arg("v").query_async::<()>(&mut con).await.unwrap();
        started.elapsed()
    });
    wait_until("the rule fired", || guard.hits() == 1).await;
    assert_eq!(server.get("k"), None, "the command must wait with the request");
    assert!(set.await.unwrap() >= delay);
    assert_eq!(server.get("k").as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn jitter_never_shortens_the_delay() {
    let server = FakeRedis::builder().seed(5).start().await;
    let delay = Duration::from_millis(100);
    let _g = server.fault(FaultRule::latency(delay).jitter(Duration::from_millis(50)).on(["PING"]));
    let mut con = connect(&server, None).await;
    for _ in 0..3 {
        let started = Instant::now();
        redis::cmd("PING").query_async::<String>(&mut con).await.unwrap();
        assert!(started.elapsed() >= delay);
    }
}

#[tokio::test]
async fn stall_never_answers_and_does_not_run() {
    let server = FakeRedis::start().await;
    let _g = server.fault(FaultRule::stall().on(["SET"]));
    let mut con = connect(&server, Some(Duration::from_millis(200))).await;
    let err = redis::cmd("SET").arg("k").arg("v").query_async::<()>(&mut con).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.get("k"), None);
    // The stalled connection stays open until the client goes.
    assert_eq!(server.open_connections(), 1);
    drop(con);
    server.assert_no_leaks(BOUND).await;
}

#[test]
fn close_sends_fin_after_running_the_command() {
    let server = FakeRedis::builder().start_blocking();
    let _g = server.fault(FaultRule::close().on(["SET"]));
    let mut s = raw(&server);
    send(&mut s, &["SET", "k", "v"]);
    assert_eq!(read_to_end(&mut s), (Vec::new(), Ok(())), "FIN reads as a clean EOF");
    assert_eq!(server.get("k").as_deref(), Some(&b"v"[..]));
    server.wait_for_open_connections_blocking(0, BOUND).unwrap();
}

#[test]
fn reset_sends_rst() {
    let server = FakeRedis::builder().start_blocking();
    let _g = server.fault(FaultRule::reset().on(["PING"]));
    let mut s = raw(&server);
    send(&mut s, &["PING"]);
    assert_eq!(read_to_end(&mut s), (Vec::new(), Err(ErrorKind::ConnectionReset)));
    server.wait_for_open_connections_blocking(0, BOUND).unwrap();
}

#[test]
fn close_after_part_of_the_reply() {
    let server = FakeRedis::builder().start_blocking();
    server.set("k", "0123456789");
    let _g = server.fault(FaultRule::close().after_bytes(6).on(["GET"]));
    let mut s = raw(&server);
    send(&mut s, &["GET", "k"]);
    assert_eq!(read_to_end(&mut s), (b"$10\r\n0".to_vec(), Ok(())));
}

#[test]
fn reset_after_part_of_the_reply() {
    let server = FakeRedis::builder().start_blocking();
    server.set("k", "0123456789");
    let _g = server.fault(FaultRule::reset().after_bytes(6).on(["GET"]));
    let mut s = raw(&server);
    send(&mut s, &["GET", "k"]);
    let (got, end) = read_to_end(&mut s);
    assert_eq!(end, Err(ErrorKind::ConnectionReset));
    // Linux delivers the bytes that arrived before the RST; never more than asked.
    assert!(b"$10\r\n0".starts_with(&got), "{got:?}");
}

#[test]
fn slow_close_waits_then_closes() {
    let server = FakeRedis::builder().start_blocking();
    let delay = Duration::from_millis(250);
    let _g = server.fault(FaultRule::slow_close(delay).on(["PING"]));
    let mut s = raw(&server);
    let started = Instant::now();
    send(&mut s, &["PING"]);
    assert_eq!(read_to_end(&mut s), (Vec::new(), Ok(())));
    assert!(started.elapsed() >= delay);
}

#[test]
fn partial_writes_arrive_as_several_reads() {
    let server = FakeRedis::builder().start_blocking();
    server.set("k", "abcdefghij");
    let _g = server.fault(FaultRule::partial(4, Duration::from_millis(40)).on(["GET"]));
    let mut s = raw(&server);
    let started = Instant::now();
    send(&mut s, &["GET", "k"]);
    let (got, reads) = read_exact_counting(&mut s, 17);
    assert_eq!(got, b"$10\r\nabcdefghij\r\n");
    assert!(reads >= 2, "expected several reads, got {reads}");
    // 17 bytes in slices of 4: five slices, four gaps.
    assert!(started.elapsed() >= Duration::from_millis(160));
    // The connection goes on normally.
    send(&mut s, &["PING"]);
    assert_eq!(read_exact_counting(&mut s, 7).0, b"+PONG\r\n");
}

#[tokio::test]
async fn bandwidth_limits_the_reply_rate() {
    let server = FakeRedis::start().await;
    let value = "x".repeat(300);
    server.set("k", &value);
    let _g = server.fault(FaultRule::bandwidth(1000).on(["GET"]));
    let mut con = connect(&server, None).await;
    let started = Instant::now();
    assert_eq!(get(&mut con, "k").await.unwrap(), Some(value));
    // 307 bytes at 1000 B/s.
    assert!(started.elapsed() >= Duration::from_millis(307));
}

#[test]
fn drop_reply_runs_the_command_and_answers_the_next() {
    let server = FakeRedis::builder().start_blocking();
    let guard = server.fault(FaultRule::drop_reply().on(["SET"]));
    let mut s = raw(&server);
    send(&mut s, &["SET", "k", "v"]);
    send(&mut s, &["PING"]);
    assert_eq!(read_exact_counting(&mut s, 7).0, b"+PONG\r\n");
    assert_eq!(server.get("k").as_deref(), Some(&b"v"[..]));
    assert_eq!(guard.hits(), 1);
}

#[test]
fn pipelined_replies_before_a_faulted_one_are_delivered() {
    let server = FakeRedis::builder().start_blocking();
    let _g = server.fault(FaultRule::close().on(["ECHO"]));
    let mut s = raw(&server);
    s.write_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n").unwrap();
    assert_eq!(read_to_end(&mut s), (b"+PONG\r\n".to_vec(), Ok(())));
}

#[test]
fn refuse_connections_accepts_and_closes() {
    let server = FakeRedis::builder().start_blocking();
    let guard = server.fault(FaultRule::refuse_connections());
    let mut s = raw(&server);
    assert_eq!(read_to_end(&mut s), (Vec::new(), Ok(())));
    assert_eq!(guard.hits(), 1);
    drop(guard);
    let mut s = raw(&server);
    send(&mut s, &["PING"]);
    assert_eq!(read_exact_counting(&mut s, 7).0, b"+PONG\r\n");
}

#[test]
fn max_clients_answers_like_redis_then_closes() {
    let server = FakeRedis::builder().start_blocking();
    let _g = server.fault(FaultRule::max_clients());
    let mut s = raw(&server);
    assert_eq!(read_to_end(&mut s), (b"-ERR max number of clients reached\r\n".to_vec(), Ok(())));
}

#[tokio::test]
async fn max_clients_is_an_error_for_the_redis_crate() {
    let server = FakeRedis::start().await;
    let _g = server.fault(FaultRule::max_clients());
    let client = redis::Client::open(server.url()).unwrap();
    // The client may notice while it sets the connection up, or on the first command.
    let failed = match client.get_multiplexed_async_connection_with_config(&common::patient()).await {
        Err(e) => e,
        Ok(mut con) => redis::cmd("PING").query_async::<String>(&mut con).await.unwrap_err(),
    };
    assert!(
        failed.to_string().contains("max number of clients reached")
            || failed.is_io_error()
            || failed.is_connection_dropped(),
        "{failed:?}"
    );
}

#[test]
fn stop_accepting_holds_new_connections_until_the_rule_goes() {
    let server = FakeRedis::builder().start_blocking();
    let guard = server.fault(FaultRule::stop_accepting());
    let mut s = raw(&server);
    send(&mut s, &["PING"]);
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 16];
    let r = s.read(&mut buf);
    assert!(matches!(&r, Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut), "{r:?}");
    assert_eq!(server.total_connections(), 0);
    assert_eq!(guard.hits(), 1);
    drop(guard);
    s.set_read_timeout(Some(BOUND)).unwrap();
    assert_eq!(read_exact_counting(&mut s, 7).0, b"+PONG\r\n");
}

#[tokio::test]
async fn kill_all_closes_every_connection() {
    let server = FakeRedis::start().await;
    let mut a = connect(&server, None).await;
    let _b = connect(&server, None).await;
    server.wait_for_open_connections(2, BOUND).await.unwrap();
    assert_eq!(server.kill_all(), 2);
    server.assert_no_leaks(BOUND).await;
    assert!(redis::cmd("PING").query_async::<String>(&mut a).await.is_err());
    // The server still accepts.
    let mut c = connect(&server, None).await;
    assert_eq!(redis::cmd("PING").query_async::<String>(&mut c).await.unwrap(), "PONG");
}

#[test]
fn targets_a_client_by_name_and_by_id() {
    let server = FakeRedis::builder().start_blocking();
    let _named = server.fault(FaultRule::error("ERR named").client_name("victim").on(["PING"]));
    let mut a = raw(&server);
    send(&mut a, &["HELLO", "2", "SETNAME", "victim"]);
    let mut buf = [0u8; 4096];
    assert!(a.read(&mut buf).unwrap() > 0);
    let mut b = raw(&server);
    send(&mut a, &["PING"]);
    assert_eq!(read_exact_counting(&mut a, 12).0, b"-ERR named\r\n");
    send(&mut b, &["PING"]);
    assert_eq!(read_exact_counting(&mut b, 7).0, b"+PONG\r\n");

    let b_id = server.clients().into_iter().find(|c| c.name.is_empty()).unwrap().id;
    let _by_id = server.fault(FaultRule::error("ERR by id").client_id(b_id).on(["PING"]));
    send(&mut b, &["PING"]);
    assert_eq!(read_exact_counting(&mut b, 12).0, b"-ERR by id\r\n");
}

#[test]
fn new_connections_only() {
    let server = FakeRedis::builder().start_blocking();
    let mut old = raw(&server);
    wait_until_blocking("the old connection is registered", || server.open_connections() == 1);
    let _g = server.fault(FaultRule::error("ERR new").new_connections().on(["PING"]));
    let mut new = raw(&server);
    send(&mut old, &["PING"]);
    assert_eq!(read_exact_counting(&mut old, 7).0, b"+PONG\r\n");
    send(&mut new, &["PING"]);
    assert_eq!(read_exact_counting(&mut new, 10).0, b"-ERR new\r\n");
}

/// Sends `n` PINGs on one raw connection; true where the reply was an error.
fn ping_pattern(server: &FakeRedis, n: usize) -> Vec<bool> {
    let mut s = raw(server);
    (0..n)
        .map(|_| {
            send(&mut s, &["PING"]);
            let mut first = [0u8; 1];
            s.read_exact(&mut first).unwrap();
            let mut rest = Vec::new();
            let mut b = [0u8; 1];
            while !rest.ends_with(b"\r\n") {
                s.read_exact(&mut b).unwrap();
                rest.push(b[0]);
            }
            first[0] == b'-'
        })
        .collect()
}

#[test]
fn nth_and_times_pick_occurrences() {
    let server = FakeRedis::builder().start_blocking();
    let g = server.fault(FaultRule::error("ERR x").on(["PING"]).nth(2));
    assert_eq!(ping_pattern(&server, 4), [false, true, false, false]);
    assert_eq!(g.hits(), 1);
    drop(g);
    let _g = server.fault(FaultRule::error("ERR x").on(["PING"]).times(2..4));
    assert_eq!(ping_pattern(&server, 5), [false, true, true, false, false]);
}

#[test]
fn predicate_on_arguments() {
    let server = FakeRedis::builder().start_blocking();
    let _g =
        server.fault(FaultRule::error("ERR bad key").when(|args: &[Bytes]| args.get(1).is_some_and(|k| k == "bad")));
    let mut s = raw(&server);
    send(&mut s, &["GET", "good"]);
    assert_eq!(read_exact_counting(&mut s, 5).0, b"$-1\r\n");
    send(&mut s, &["GET", "bad"]);
    assert_eq!(read_exact_counting(&mut s, 14).0, b"-ERR bad key\r\n");
}

#[test]
fn window_outside_now_never_fires() {
    let server = FakeRedis::builder().start_blocking();
    let later = server.fault(FaultRule::error("ERR later").from(Duration::from_secs(3600)));
    let over = server.fault(FaultRule::error("ERR over").until(Duration::ZERO));
    assert_eq!(ping_pattern(&server, 2), [false, false]);
    assert_eq!((later.hits(), over.hits()), (0, 0));
}

#[test]
fn first_rule_that_fires_wins() {
    let server = FakeRedis::builder().start_blocking();
    let never = server.fault(FaultRule::error("ERR never").on(["PING"]).probability(0.0));
    let first = server.fault(FaultRule::error("ERR first").on(["PING"]));
    let second = server.fault(FaultRule::error("ERR second").on(["PING"]));
    let mut s = raw(&server);
    send(&mut s, &["PING"]);
    assert_eq!(read_exact_counting(&mut s, 12).0, b"-ERR first\r\n");
    assert_eq!((never.hits(), first.hits(), second.hits()), (0, 1, 0));
    assert_eq!(server.fault_rules().len(), 3);
}

#[test]
fn seeded_probability_is_reproducible() {
    let pattern = |seed: u64| {
        let server = FakeRedis::builder().seed(seed).start_blocking();
        assert_eq!(server.seed(), seed);
        let _g = server.fault(FaultRule::error("ERR coin").on(["PING"]).probability(0.5));
        ping_pattern(&server, 48)
    };
    let a = pattern(42);
    assert_eq!(a, pattern(42), "same seed, same firings");
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
    assert_ne!(a, pattern(43), "another seed, other firings");
}

#[test]
#[should_panic(
    expected = "fault rule `error \"ERR x\" cmd=PING expect=2` was expected to fire exactly 2 time(s) but fired 1 time(s) (seed 99; rerun with REDIS_HARNESS_SEED=99)\ncommands received (2):\n  [client 1] PING\n  [client 1] ECHO hi"
)]
fn guard_expectation_failure_names_rule_counts_seed_and_commands() {
    let server = FakeRedis::builder().seed(99).start_blocking();
    let guard = server.fault(FaultRule::error("ERR x").on(["PING"]).expect(2));
    let mut s = raw(&server);
    send(&mut s, &["PING"]);
    read_exact_counting(&mut s, 7);
    send(&mut s, &["ECHO", "hi"]);
    read_exact_counting(&mut s, 8);
    drop(guard);
}

#[test]
#[should_panic(expected = "was expected to fire between 1 and 2 time(s) but fired 0 time(s) (seed 7")]
fn kept_rule_is_verified_when_the_server_drops() {
    let server = FakeRedis::builder().seed(7).start_blocking();
    server.fault(FaultRule::drop_reply().on(["SET"]).expect(1..=2)).keep();
    assert_eq!(server.fault_rules().len(), 1);
    drop(server);
}

#[test]
fn met_expectations_do_not_panic() {
    let server = FakeRedis::builder().start_blocking();
    let g = server.fault(FaultRule::error("ERR x").on(["PING"]).expect(1..));
    assert_eq!(ping_pattern(&server, 2), [true, true]);
    drop(g);
    assert!(server.fault_rules().is_empty());
}

#[tokio::test]
async fn auth_failures_then_success() {
    let server = FakeRedis::builder().requirepass("pw").start().await;
    let guard = server.fault(FaultRule::auth_failures(1));
    let client = redis::Client::open(server.url()).unwrap();
    let err = client.get_multiplexed_async_connection_with_config(&common::patient()).await.unwrap_err();
    assert_eq!(err.kind(), redis::ErrorKind::AuthenticationFailed, "{err:?}");
    let mut con = client.get_multiplexed_async_connection_with_config(&common::patient()).await.unwrap();
    assert_eq!(redis::cmd("PING").query_async::<String>(&mut con).await.unwrap(), "PONG");
    assert_eq!(guard.hits(), 1);
}

#[tokio::test]
async fn set_password_rotates_for_new_connections_only() {
    let server = FakeRedis::builder().requirepass("old").start().await;
    let old_url = server.url();
    let mut existing = redis::Client::open(old_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&common::patient())
        .await
        .unwrap();
    server.set_password("new");
    assert_eq!(redis::cmd("PING").query_async::<String>(&mut existing).await.unwrap(), "PONG");
    let err = redis::Client::open(old_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&common::patient())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), redis::ErrorKind::AuthenticationFailed, "{err:?}");
    assert!(server.url().contains(":new@"));
    let mut fresh = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&common::patient())
        .await
        .unwrap();
    assert_eq!(redis::cmd("PING").query_async::<String>(&mut fresh).await.unwrap(), "PONG");
}

#[test]
fn harness_is_an_unknown_command_unless_enabled() {
    let server = FakeRedis::builder().start_blocking();
    let mut s = raw(&server);
    send(&mut s, &["HARNESS", "FAULT", "LIST"]);
    let want = b"-ERR unknown command 'HARNESS', with args beginning with: 'FAULT' 'LIST' \r\n";
    assert_eq!(read_exact_counting(&mut s, want.len()).0, want);
}

#[test]
fn harness_admin_namespace() {
    let server = FakeRedis::builder().admin(true).seed(3).start_blocking();
    let mut c = RawConn::tcp(server.addr());
    // Words as redis-cli sends them, or the whole rule as one argument.
    assert_eq!(c.call(&["HARNESS", "FAULT", "ADD", "error", "BUSY no way", "cmd=get"]), b":1\r\n");
    assert_eq!(c.call(&["HARNESS", "FAULT", "ADD", "drop-reply cmd=SET"]), b":2\r\n");
    assert_eq!(c.call(&["GET", "k"]), b"-BUSY no way\r\n");
    let list = c.call(&["harness", "fault", "list"]);
    let text = String::from_utf8_lossy(&list);
    assert!(text.contains("id=1 hits=1 rule=error \"BUSY no way\" cmd=GET"), "{text}");
    assert!(text.contains("id=2 hits=0 rule=drop-reply cmd=SET"), "{text}");
    assert_eq!(c.call(&["HARNESS", "FAULT", "DEL", "1"]), b":1\r\n");
    assert_eq!(c.call(&["HARNESS", "FAULT", "DEL", "1"]), b":0\r\n");
    assert_eq!(c.call(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(c.call(&["HARNESS", "FAULT", "CLEAR"]), b"+OK\r\n");
    assert!(server.fault_rules().is_empty());
    assert_eq!(c.call(&["HARNESS", "SEED"]), b"$1\r\n3\r\n");
    let bad = c.call(&["HARNESS", "FAULT", "ADD", "explode"]);
    assert_eq!(bad, b"-ERR invalid fault rule `explode`: unknown fault `explode`\r\n");
    let unknown = c.call(&["HARNESS", "NOPE"]);
    assert_eq!(unknown, b"-ERR unknown subcommand 'NOPE'. Try HARNESS HELP.\r\n");
    // KILL-ALL spares the connection that asked.
    let mut other = RawConn::tcp(server.addr());
    assert_eq!(other.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.call(&["HARNESS", "KILL-ALL"]), b":1\r\n");
    assert_eq!(other.read_reply(), None);
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.call(&["HARNESS", "SET-PASSWORD", "s3cret"]), b"+OK\r\n");
    let mut fresh = RawConn::tcp(server.addr());
    assert_eq!(fresh.call(&["GET", "k"]), b"-NOAUTH Authentication required.\r\n");
}
