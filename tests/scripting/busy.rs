//! Long scripts as Redis 7.0.15 runs them (issue 14, item 6): past
//! `busy-reply-threshold` other clients get BUSY, SCRIPT KILL stops a script
//! that has not written (UNKILLABLE once it has), SHUTDOWN NOSAVE still
//! works, and dropping the server never hangs on a running script.
//!
//! Synchronisation is explicit: the server's clock is paused, a test waits
//! for the script's caller to count as blocked (the script runs on its own
//! thread), then advances the clock past the threshold.

use std::thread::JoinHandle;
use std::time::Duration;

use redis_harness::FakeRedis;

use crate::common::RawConn;

const BUSY_EVAL: &[u8] = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
/// Hang guard for the explicit waits below (never reached when things work).
const GENEROUS: Duration = Duration::from_secs(30);

/// A server on a paused clock.
fn server() -> FakeRedis {
    FakeRedis::builder().paused_clock().start_blocking()
}

/// Sends `EVAL body 0` on a connection of its own; the thread returns the reply (None: closed).
fn eval_in_thread(server: &FakeRedis, body: &'static str) -> JoinHandle<Option<Vec<u8>>> {
    let addr = server.addr();
    let mut c = RawConn::tcp(addr);
    c.send(&["EVAL", body, "0"]);
    std::thread::spawn(move || c.read_reply())
}

/// Waits until the script runs on its thread (its caller counts as blocked).
fn wait_running(server: &FakeRedis) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    rt.block_on(server.wait_for_blocked_clients(1, GENEROUS)).expect("the script's caller waits");
    assert!(server.running_script().is_some(), "a script runs");
}

/// What the caller of a script killed at line 1 gets.
fn killed(body: &str) -> Vec<u8> {
    use sha1::Digest;
    let sha: String = sha1::Sha1::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n").into_bytes()
}

#[test]
fn past_the_threshold_others_get_busy_and_script_kill_stops_the_script() {
    let server = server();
    let body = "while true do end";
    let a = eval_in_thread(&server, body);
    wait_running(&server);
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["PING"]), BUSY_EVAL);
    assert_eq!(b.call(&["GET", "k"]), BUSY_EVAL);
    // Errors Redis checks before BUSY still come first.
    assert_eq!(b.call(&["GET"]), b"-ERR wrong number of arguments for 'get' command\r\n");
    // Only SHUTDOWN NOSAVE may stop a busy server.
    assert_eq!(b.call(&["SHUTDOWN"]), BUSY_EVAL);
    assert_eq!(b.call(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert_eq!(a.join().expect("eval thread"), Some(killed(body)));
    assert_eq!(b.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.call(&["SCRIPT", "KILL"]), b"-NOTBUSY No scripts in execution right now.\r\n");
    assert_eq!(server.running_script(), None);
    // The engine is back: the script cache survived the thread.
    assert_eq!(b.call(&["EVAL", "return 1", "0"]), b":1\r\n");
}

#[test]
fn a_kill_reaches_through_pcall() {
    let server = server();
    let body = "while true do pcall(function() while true do end end) end";
    let a = eval_in_thread(&server, body);
    wait_running(&server);
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let reply = a.join().expect("eval thread").expect("a reply");
    assert!(
        reply.starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_stops_the_server() {
    let server = server();
    let a = eval_in_thread(&server, "redis.call('set','w','1') while true do end");
    wait_running(&server);
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["SCRIPT", "KILL"]), UNKILLABLE);
    b.send(&["SHUTDOWN", "NOSAVE"]);
    assert_eq!(b.read_reply(), None, "SHUTDOWN NOSAVE closes the connection without a reply");
    assert_eq!(a.join().expect("eval thread"), None, "the script's caller is closed too, as by Redis");
    server.wait_for_open_connections_blocking(0, GENEROUS).expect("every connection closed");
}

#[test]
fn a_busy_transaction_is_aborted_like_redis_does() {
    let server = server();
    let a = eval_in_thread(&server, "while true do end");
    wait_running(&server);
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["MULTI"]), b"+OK\r\n", "MULTI has allow-busy");
    assert_eq!(b.call(&["SET", "x", "1"]), BUSY_EVAL);
    // EXEC has no allow-busy: refused, it discards the transaction quoting the reason.
    assert_eq!(
        b.call(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    // Inside MULTI SCRIPT KILL would be queued (as by Redis): another connection kills.
    let mut c = RawConn::tcp(server.addr());
    assert_eq!(c.call(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert!(a.join().expect("eval thread").is_some());
    assert_eq!(b.call(&["EXEC"]), b"-ERR EXEC without MULTI\r\n");
    assert_eq!(server.get("x"), None);
}

#[test]
fn before_the_threshold_others_wait_for_the_script() {
    // A real clock and the default threshold (5 s): the script ends long before it.
    let server = FakeRedis::builder().start_blocking();
    let a =
        eval_in_thread(&server, "local i = 0 while i < 2000000 do i = i + 1 end redis.call('set','k','done') return i");
    wait_running(&server);
    let mut b = RawConn::tcp(server.addr());
    // Sent while the script runs: served only after it (scripts are atomic).
    assert_eq!(b.call(&["GET", "k"]), b"$4\r\ndone\r\n");
    assert_eq!(a.join().expect("eval thread"), Some(b":2000000\r\n".to_vec()));
}

#[test]
fn the_threshold_is_busy_reply_threshold_alias_lua_time_limit() {
    let server = server();
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["CONFIG", "SET", "lua-time-limit", "100"]), b"+OK\r\n");
    assert_eq!(
        b.call(&["CONFIG", "GET", "busy-reply-threshold"]),
        b"*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n100\r\n"
    );
    let a = eval_in_thread(&server, "while true do end");
    wait_running(&server);
    server.clock().advance(Duration::from_millis(100));
    assert_eq!(b.call(&["PING"]), BUSY_EVAL);
    assert_eq!(b.call(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert!(a.join().expect("eval thread").is_some());
}

#[test]
fn dropping_the_server_never_hangs_on_a_running_script() {
    let server = server();
    let a = eval_in_thread(&server, "while true do end");
    wait_running(&server);
    // Another client waits for the script (before the threshold) when the server goes.
    let mut b = RawConn::tcp(server.addr());
    b.send(&["PING"]);
    drop(server);
    assert_eq!(a.join().expect("eval thread"), None, "the caller's connection closes");
    // The waiting client was closed, or answered just before the end.
    let _ = b.read_reply();
}
