//! Redis's client limits and fairness in the fake: output buffer limits
//! (`client-output-buffer-limit`), `client-query-buffer-limit`,
//! `maxclients` (and its start-up adjustment to the descriptor limit),
//! `timeout`, DEBUG SLEEP noticing a hang-up, accept errors without a busy
//! loop, and one connection's pipeline not starving the others.
//!
//! No test sleeps to synchronise: waits are on the server's own signals
//! (open connections, replies) with generous bounds, and time-based limits
//! run on the paused clock.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use redis_harness::{FakeRedis, Reply};

#[path = "../common/mod.rs"]
mod common;

/// Generous bound for any one wait.
const WAIT: Duration = Duration::from_secs(30);

fn connect(server: &FakeRedis) -> TcpStream {
    let s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn request(args: &[&[u8]]) -> Vec<u8> {
    common::multibulk(args)
}

/// Reads one line (the replies read this way are one line long).
fn line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(_) => line.push(b[0]),
            Err(e) => panic!("reading a reply: {e} (got {:?} so far)", String::from_utf8_lossy(&line)),
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

fn call(s: &mut TcpStream, args: &[&[u8]]) -> String {
    s.write_all(&request(args)).unwrap();
    line(s)
}

/// Reads until EOF (bounded by the read timeout); returns how many bytes came.
fn read_to_eof(s: &mut TcpStream) -> usize {
    let mut n = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return n,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return n,
            Err(e) => panic!("expected the server to close the connection, but: {e} after {n} bytes"),
        }
    }
}

fn config_set(server: &FakeRedis, name: &str, value: &str) {
    assert_eq!(server.run(["CONFIG", "SET", name, value]), Reply::ok(), "CONFIG SET {name} {value}");
}

fn wait_open(server: &FakeRedis, n: usize) {
    if let Err(e) = server.wait_for_open_connections_blocking(n, WAIT) {
        panic!("{e}");
    }
}

/// An INFO section's text.
fn info(server: &FakeRedis, section: &str) -> String {
    match server.run(["INFO", section]) {
        Reply::Bulk(text) | Reply::Verbatim(_, text) => String::from_utf8_lossy(&text).into_owned(),
        other => panic!("INFO {section}: {other:?}"),
    }
}

/// A subscriber's `omem` in CLIENT LIST.
fn omem(server: &FakeRedis) -> u64 {
    let Reply::Verbatim(_, text) = server.run(["CLIENT", "LIST", "TYPE", "pubsub"]) else { panic!("CLIENT LIST") };
    let text = String::from_utf8_lossy(&text).into_owned();
    let field =
        text.split(' ').find_map(|f| f.strip_prefix("omem=")).unwrap_or_else(|| panic!("no subscriber: {text}"));
    field.parse().unwrap()
}

/// A subscriber to `ch` that has read its confirmation.
fn subscriber(server: &FakeRedis) -> TcpStream {
    let mut sub = connect(server);
    sub.write_all(&request(&[b"SUBSCRIBE", b"ch"])).unwrap();
    let mut confirm = [0u8; 32]; // *3 $9 subscribe $2 ch :1
    sub.read_exact(&mut confirm[..31]).unwrap();
    assert!(confirm.starts_with(b"*3\r\n$9\r\nsubscribe\r\n"));
    sub
}

const MESSAGE: [u8; 10 * 1024] = [b'm'; 10 * 1024];

/// Publishes 10 KB messages to `ch` (at most `n`) while the subscriber is
/// still there; returns how many were published to it.
fn flood(server: &FakeRedis, n: usize) -> usize {
    (0..n).take_while(|_| server.publish("ch", MESSAGE) == 1).count()
}

/// Finding 7: a subscriber that never reads is closed at the pubsub class's
/// hard limit, and what it has not read stops growing.
#[test]
fn subscriber_that_never_reads_is_closed_at_the_hard_limit() {
    let server = FakeRedis::builder().start_blocking();
    config_set(&server, "client-output-buffer-limit", "pubsub 1mb 0 0");
    let mut sub = subscriber(&server);
    // 20 MB: more than the limit plus every socket buffer on the way.
    flood(&server, 2000);
    wait_open(&server, 0);
    let got = read_to_eof(&mut sub);
    assert!(got < 20 * 1024 * 1024, "the subscriber was closed before the flood ended ({got} bytes)");
}

/// Redis's default pubsub limit (32mb hard) applies without any CONFIG SET.
#[test]
fn default_pubsub_limit_closes_a_subscriber_that_never_reads() {
    let server = FakeRedis::builder().start_blocking();
    let mut sub = subscriber(&server);
    // 80 MB, well past 32 MB and the socket buffers.
    flood(&server, 8000);
    wait_open(&server, 0);
    read_to_eof(&mut sub);
}

/// `omem` (and `tot-mem`) in CLIENT LIST report what waits for a slow
/// subscriber, and fall back once it reads.
#[test]
fn omem_reports_the_queued_output() {
    let server = FakeRedis::builder().start_blocking();
    config_set(&server, "client-output-buffer-limit", "pubsub 0 0 0");
    let mut sub = subscriber(&server);
    assert_eq!(omem(&server), 0);
    assert_eq!(flood(&server, 1500), 1500);
    let queued = omem(&server);
    // 15 MB published; the socket buffers hold a few of them.
    assert!(queued > 1024 * 1024, "omem={queued}");
    assert!(queued < 16 * 1024 * 1024, "omem={queued}");
    let recent: u64 = info(&server, "clients")
        .lines()
        .find_map(|l| l.strip_prefix("client_recent_max_output_buffer:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(recent >= queued / 2, "client_recent_max_output_buffer:{recent} with omem={queued}");
    // Reading everything empties it.
    let total = 1500 * (MESSAGE.len() + 30);
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0;
    while read < total - 64 * 1024 {
        read += sub.read(&mut buf).unwrap();
    }
    let mut left = omem(&server);
    for _ in 0..10_000 {
        if left == 0 {
            break;
        }
        let _ = sub.read(&mut buf).unwrap();
        left = omem(&server);
    }
    assert_eq!(left, 0);
}

/// The soft limit closes a subscriber only once it has been over it for
/// longer than its seconds, on the server's (paused) clock.
#[test]
fn soft_limit_closes_after_its_seconds() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    config_set(&server, "client-output-buffer-limit", "pubsub 0 1mb 10");
    let mut sub = subscriber(&server);
    assert_eq!(flood(&server, 2000), 2000, "over the soft limit, but not for long yet");
    server.advance_time(Duration::from_secs(10));
    assert_eq!(server.publish("ch", "x"), 1, "10 s over a 10 s soft limit is not more than 10 s");
    assert_eq!(server.open_connections(), 1);
    server.advance_time(Duration::from_secs(1));
    server.publish("ch", "x");
    wait_open(&server, 0);
    read_to_eof(&mut sub);
}

/// The normal class's hard limit closes a client whose reply is too large,
/// with nothing written (as redis-server 7.0.15 does).
#[test]
fn normal_class_hard_limit_closes_before_writing() {
    let server = FakeRedis::builder().start_blocking();
    config_set(&server, "client-output-buffer-limit", "normal 1mb 0 0");
    server.set("big", vec![b'x'; 2_000_000]);
    server.set("small", vec![b'x'; 500_000]);
    let mut c = connect(&server);
    assert_eq!(call(&mut c, &[b"STRLEN", b"small"]), ":500000\r\n");
    c.write_all(&request(&[b"GET", b"small"])).unwrap();
    let mut small = vec![0u8; 500_000 + 11]; // $500000\r\n ... \r\n
    c.read_exact(&mut small).unwrap();
    c.write_all(&request(&[b"GET", b"big"])).unwrap();
    assert_eq!(read_to_eof(&mut c), 0);
}

/// `client-query-buffer-limit` closes a client whose unparsed request
/// passes it, without a reply (even a request that would be complete
/// later, as redis-server 7.0.15 does); one under it is served.
#[test]
fn query_buffer_limit_closes_the_client() {
    let server = FakeRedis::builder().start_blocking();
    config_set(&server, "client-query-buffer-limit", "1mb");
    let mut under = connect(&server);
    under.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$900000\r\n").unwrap();
    under.write_all(&vec![b'x'; 500_000]).unwrap();
    let mut over = connect(&server);
    // The server may close it before it has sent everything.
    let _ = over.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    let _ = over.write_all(&vec![b'x'; 2_000_000]);
    let _ = over.write_all(b"\r\n");
    assert_eq!(read_to_eof(&mut over), 0);
    under.write_all(&vec![b'x'; 400_000]).unwrap();
    under.write_all(b"\r\n").unwrap();
    assert_eq!(line(&mut under), "+OK\r\n");
}

/// Finding 8: the client past `maxclients` gets Redis's error, then EOF;
/// it is counted in `rejected_connections`, and a freed slot is reused.
#[test]
fn maxclients_refuses_with_the_redis_error() {
    let server = FakeRedis::builder().start_blocking();
    assert_eq!(
        server.run(["CONFIG", "GET", "maxclients"]),
        Reply::Map(vec![(Reply::bulk("maxclients"), Reply::bulk("10000"))]),
    );
    config_set(&server, "maxclients", "2");
    let mut a = connect(&server);
    let mut b = connect(&server);
    assert_eq!(call(&mut a, &[b"PING"]), "+PONG\r\n");
    assert_eq!(call(&mut b, &[b"PING"]), "+PONG\r\n");
    let mut refused = connect(&server);
    let mut reply = Vec::new();
    refused.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"-ERR max number of clients reached\r\n");
    assert!(info(&server, "stats").contains("rejected_connections:1\r\n"));
    assert_eq!(server.total_connections(), 2);
    drop(a);
    wait_open(&server, 1);
    let mut c = connect(&server);
    assert_eq!(call(&mut c, &[b"PING"]), "+PONG\r\n");
    assert_eq!(call(&mut b, &[b"PING"]), "+PONG\r\n");
}

/// `timeout` closes idle clients once they have been idle for more than
/// its seconds on the server's clock; subscribers and blocked clients stay.
#[test]
fn timeout_closes_idle_clients_only() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    config_set(&server, "timeout", "10");
    let mut idle = connect(&server);
    assert_eq!(call(&mut idle, &[b"PING"]), "+PONG\r\n");
    let _sub = subscriber(&server);
    let mut blocked = connect(&server);
    blocked.write_all(&request(&[b"BLPOP", b"list", b"0"])).unwrap();
    for _ in 0..10_000_000 {
        if server.blocked_clients() == 1 {
            break;
        }
        std::thread::yield_now();
    }
    assert_eq!(server.blocked_clients(), 1);
    let mut active = connect(&server);
    assert_eq!(call(&mut active, &[b"PING"]), "+PONG\r\n");
    server.advance_time(Duration::from_secs(10));
    assert_eq!(server.open_connections(), 4, "10 s idle is not more than a 10 s timeout");
    assert_eq!(call(&mut active, &[b"PING"]), "+PONG\r\n");
    server.advance_time(Duration::from_secs(1));
    assert_eq!(read_to_eof(&mut idle), 0);
    wait_open(&server, 3);
    assert_eq!(call(&mut active, &[b"PING"]), "+PONG\r\n");
    server.run(["RPUSH", "list", "v"]);
    assert_eq!(line(&mut blocked), "*2\r\n");
}

/// Client 1, in `DEBUG SLEEP 3600` (once the server has recorded it).
fn sleeping_client(server: &FakeRedis) -> TcpStream {
    let mut sleeper = connect(server);
    assert_eq!(call(&mut sleeper, &[b"CLIENT", b"ID"]), ":1\r\n");
    sleeper.write_all(&request(&[b"DEBUG", b"SLEEP", b"3600"])).unwrap();
    // The sleep has begun once the command is recorded.
    for _ in 0..1_000_000 {
        if server.commands().iter().any(|c| c.name() == "DEBUG") {
            break;
        }
        std::thread::yield_now();
    }
    sleeper
}

/// Finding 9: a client that hangs up during DEBUG SLEEP is closed at once
/// (the fake's DEBUG SLEEP holds only its own connection).
#[test]
fn hang_up_during_debug_sleep_closes_at_once() {
    let server = FakeRedis::builder().start_blocking();
    let sleeper = sleeping_client(&server);
    sleeper.shutdown(Shutdown::Both).unwrap();
    wait_open(&server, 0);
}

/// Killing a client during DEBUG SLEEP closes it at once too.
#[test]
fn kill_during_debug_sleep_closes_at_once() {
    let server = FakeRedis::builder().start_blocking();
    let mut sleeper = sleeping_client(&server);
    assert_eq!(server.run(["CLIENT", "KILL", "ID", "1"]), Reply::Int(1));
    assert_eq!(read_to_eof(&mut sleeper), 0);
    wait_open(&server, 0);
}

/// Finding 10: a client pipelining a long run of commands does not keep a
/// new connection waiting until it has run a great many of them: the
/// newcomer is accepted and answered within a few of the pipeline's turns
/// (256 commands each; 16 allowed), where it used to wait for tokio's
/// budget of 128 reads (about 13 800 commands here) to run out.
///
/// The bound is in commands, not time: the counter is read after the
/// newcomer's GET was sent, so a slow test thread only makes it easier.
#[test]
fn a_long_pipeline_does_not_starve_a_new_connection() {
    const N: usize = 1_000_000;
    const FAIR: usize = 4096;
    let server = FakeRedis::builder().record_commands(false).start_blocking();
    let mut hog = connect(&server);
    assert_eq!(call(&mut hog, &[b"PING"]), "+PONG\r\n");
    let pipeline: Vec<u8> = request(&[b"INCR", b"c"]).repeat(N);
    let mut writer = hog.try_clone().unwrap();
    let write = std::thread::spawn(move || {
        let _ = writer.write_all(&pipeline);
    });
    let mut reader = hog.try_clone().unwrap();
    let read = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    let count = || server.get("c").map_or(0, |v| String::from_utf8_lossy(&v).parse::<usize>().unwrap());
    // The pipeline has started.
    for _ in 0..10_000_000 {
        if count() > 0 {
            break;
        }
        std::thread::yield_now();
    }
    let mut probe = connect(&server);
    probe.write_all(&request(&[b"GET", b"c"])).unwrap();
    let sent = count();
    assert!(sent < N, "the pipeline ended before the probe could be sent");
    let header = line(&mut probe);
    assert!(header.starts_with('$'), "{header}");
    let seen: usize = line(&mut probe).trim_end().parse().unwrap();
    assert!(
        seen.saturating_sub(sent) < FAIR,
        "the new connection waited for {} of the pipeline's commands (sent at {sent}, served at {seen})",
        seen - sent
    );
    hog.shutdown(Shutdown::Both).unwrap();
    write.join().unwrap();
    read.join().unwrap();
}

// `serve` under a low descriptor limit (finding 8 at start-up) runs the
// binary, so it lives with the CLI: cli/tests/cli/main.rs.
