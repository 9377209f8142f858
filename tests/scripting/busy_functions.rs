//! Long FCALLs as Redis 7.0.15 runs them, the FUNCTION side of `busy`: a
//! function whose library can loop runs on the script thread, so past
//! `busy-reply-threshold` other clients get the functions' BUSY text,
//! FUNCTION KILL stops a function that has not written (UNKILLABLE once it
//! has), FUNCTION STATS shows it running, SCRIPT KILL and FUNCTION KILL
//! refuse the other kind of script, SHUTDOWN NOSAVE still works, and
//! dropping the server never hangs on a running function.
//!
//! Every reply text below was checked by hand against redis-server 7.0.15
//! (Debian's build): one connection sent the looping FCALL, another (after
//! `CONFIG SET busy-reply-threshold 100`) sent PING, SCRIPT KILL, SHUTDOWN,
//! EVAL, FUNCTION STATS in RESP2 and RESP3, FUNCTION KILL, and read the
//! caller's error; the same for a function that wrote first (UNKILLABLE
//! from both KILLs, then SHUTDOWN NOSAVE) and for a looping EVAL (FUNCTION
//! KILL and FUNCTION STATS answer the EVAL BUSY text). Only
//! `duration_ms` differs: the server's clock is paused here, so it is
//! exactly what the test advanced.
//!
//! Synchronisation is explicit, as in `busy`: the clock is paused, a test
//! waits for the function's caller to count as blocked, then advances the
//! clock past the threshold.

use std::thread::JoinHandle;
use std::time::Duration;

use redis_harness::fault::FaultRule;
use redis_harness::{FakeRedis, Reply};

use crate::common::RawConn;

const BUSY_FUNCTION: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_EVAL: &[u8] = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
const NOTBUSY: &[u8] = b"-NOTBUSY No scripts in execution right now.\r\n";
/// Hang guard for the explicit waits below (never reached when things work).
const GENEROUS: Duration = Duration::from_secs(30);

/// The library: line 2 loops, line 3 writes then loops, line 4 is a
/// read-only loop, line 5 counts to `args[1]` then writes, line 6 cannot
/// loop (it runs inline on its own), line 7 waits for its first key to be
/// set (only the test's handle can: it passes no gate) then sets its second.
const LIBRARY: &str = "#!lua name=spinners
redis.register_function('spin', function(keys, args) while true do end end)
redis.register_function('Wspin', function(keys, args) redis.call('set', 'w', '1') while true do end end)
redis.register_function{function_name='ro_spin', callback=function(keys, args) while true do end end, flags={'no-writes'}}
redis.register_function('count', function(keys, args) local i = 0 while i < tonumber(args[1]) do i = i + 1 end redis.call('set', keys[1], i) return i end)
redis.register_function('incr', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function('await', function(keys, args) while not redis.call('get', keys[1]) do end redis.call('set', keys[2], 'done') return 1 end)";

/// A server on a paused clock with [`LIBRARY`] loaded.
fn server() -> FakeRedis {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    load(&server);
    server
}

fn load(server: &FakeRedis) {
    assert_eq!(server.run(["FUNCTION", "LOAD", LIBRARY]), Reply::Bulk("spinners".into()));
}

/// Sends `args` on a connection of its own; the thread returns the reply (None: closed).
fn call_in_thread(server: &FakeRedis, args: &[&str]) -> JoinHandle<Option<Vec<u8>>> {
    let mut c = RawConn::tcp(server.addr());
    c.send(args);
    std::thread::spawn(move || c.read_reply())
}

/// Waits until the script runs on its thread (its caller counts as blocked).
fn wait_running(server: &FakeRedis, name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    rt.block_on(server.wait_for_blocked_clients(1, GENEROUS)).expect("the script's caller waits");
    assert_eq!(server.running_script().as_deref(), Some(name), "the script runs");
}

/// What the caller of a function killed at `line` of [`LIBRARY`] gets.
fn killed(name: &str, line: usize) -> Vec<u8> {
    format!("-ERR Script killed by user with SCRIPT KILL... script: {name}, on @user_function:{line}.\r\n").into_bytes()
}

/// FUNCTION STATS's reply (RESP2) while `command` runs function `name` for `ms`.
fn stats_running_resp2(name: &str, command: &[&str], ms: u64) -> Vec<u8> {
    let mut out = format!("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n${}\r\n{name}\r\n", name.len());
    out.push_str(&format!("$7\r\ncommand\r\n*{}\r\n", command.len()));
    for a in command {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    out.push_str(&format!("$11\r\nduration_ms\r\n:{ms}\r\n"));
    out.push_str(
        "$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:6\r\n",
    );
    out.into_bytes()
}

#[test]
fn past_the_threshold_others_get_busy_and_function_kill_stops_the_function() {
    let server = server();
    // Called in another case than registered: FUNCTION STATS and the error name it as registered.
    let a = call_in_thread(&server, &["FCALL", "SPIN", "1", "k1", "a1"]);
    wait_running(&server, "spin");
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["PING"]), BUSY_FUNCTION);
    assert_eq!(b.call(&["GET", "k"]), BUSY_FUNCTION);
    assert_eq!(b.call(&["EVAL", "return 1", "0"]), BUSY_FUNCTION);
    assert_eq!(b.call(&["FUNCTION", "LIST"]), BUSY_FUNCTION, "only FUNCTION KILL and STATS have allow-busy");
    assert_eq!(b.call(&["FUNCTION", "KILL", "x"]), b"-ERR wrong number of arguments for 'function|kill' command\r\n");
    // Only SHUTDOWN NOSAVE may stop a busy server; SCRIPT KILL cannot kill a function.
    assert_eq!(b.call(&["SHUTDOWN"]), BUSY_FUNCTION);
    assert_eq!(b.call(&["SCRIPT", "KILL"]), BUSY_FUNCTION);
    // FUNCTION STATS: the registered name, the caller's command line as sent, the time on the server's clock.
    assert_eq!(b.call(&["FUNCTION", "STATS"]), stats_running_resp2("spin", &["FCALL", "SPIN", "1", "k1", "a1"], 5000));
    server.clock().advance(Duration::from_millis(250));
    let mut c = RawConn::tcp(server.addr());
    c.hello3();
    assert_eq!(
        c.call(&["FUNCTION", "STATS"]),
        b"%2\r\n$14\r\nrunning_script\r\n%3\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n$5\r\nFCALL\r\n$4\r\nSPIN\r\n$1\r\n1\r\n$2\r\nk1\r\n$2\r\na1\r\n$11\r\nduration_ms\r\n:5250\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:6\r\n"
    );
    assert_eq!(b.call(&["FUNCTION", "KILL"]), b"+OK\r\n");
    assert_eq!(a.join().expect("fcall thread"), Some(killed("spin", 2)));
    assert_eq!(b.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.call(&["FUNCTION", "KILL"]), NOTBUSY);
    assert_eq!(b.call(&["SCRIPT", "KILL"]), NOTBUSY);
    assert_eq!(server.running_script(), None);
    assert_eq!(
        b.call(&["FUNCTION", "STATS"]),
        b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:6\r\n"
    );
    // The Lua state is back: the libraries survived the thread.
    assert_eq!(b.call(&["FCALL", "incr", "1", "n"]), b":1\r\n");
    assert_eq!(b.call(&["FCALL", "count", "1", "c", "10"]), b":10\r\n");
}

#[test]
fn a_function_that_wrote_is_unkillable_and_shutdown_nosave_stops_the_server() {
    let server = server();
    let a = call_in_thread(&server, &["FCALL", "Wspin", "0"]);
    wait_running(&server, "Wspin");
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["FUNCTION", "KILL"]), UNKILLABLE);
    // A function that wrote: SCRIPT KILL says UNKILLABLE too (Redis checks the write first).
    assert_eq!(b.call(&["SCRIPT", "KILL"]), UNKILLABLE);
    b.send(&["SHUTDOWN", "NOSAVE"]);
    assert_eq!(b.read_reply(), None, "SHUTDOWN NOSAVE closes the connection without a reply");
    assert_eq!(a.join().expect("fcall thread"), None, "the function's caller is closed too, as by Redis");
    server.wait_for_open_connections_blocking(0, GENEROUS).expect("every connection closed");
}

#[test]
fn a_read_only_function_is_killed_and_reports_its_own_line() {
    let server = server();
    let a = call_in_thread(&server, &["FCALL_RO", "ro_spin", "0"]);
    wait_running(&server, "ro_spin");
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["FUNCTION", "STATS"]), stats_running_resp2("ro_spin", &["FCALL_RO", "ro_spin", "0"], 5000));
    assert_eq!(b.call(&["FUNCTION", "KILL"]), b"+OK\r\n");
    assert_eq!(a.join().expect("fcall thread"), Some(killed("ro_spin", 4)));
}

#[test]
fn function_kill_and_function_stats_refuse_a_running_eval() {
    let server = server();
    let mut a = RawConn::tcp(server.addr());
    a.send(&["EVAL", "while true do end", "0"]);
    let a = std::thread::spawn(move || a.read_reply());
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    rt.block_on(server.wait_for_blocked_clients(1, GENEROUS)).expect("the script's caller waits");
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["FUNCTION", "KILL"]), BUSY_EVAL);
    assert_eq!(b.call(&["FUNCTION", "STATS"]), BUSY_EVAL);
    // The test's handle sees the same (it passes no gate).
    assert_eq!(
        server.run(["FUNCTION", "STATS"]),
        Reply::Error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into())
    );
    assert_eq!(b.call(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert!(a.join().expect("eval thread").is_some());
}

#[test]
fn before_the_threshold_others_wait_for_the_function() {
    // The clock stays paused: the function never reaches the threshold.
    let server = server();
    let a = call_in_thread(&server, &["FCALL", "await", "2", "go", "k"]);
    wait_running(&server, "await");
    let mut b = RawConn::tcp(server.addr());
    // Sent while the function runs: served only after it (functions are atomic).
    b.send(&["GET", "k"]);
    // The test's handle is not held off: it lets the function end.
    assert_eq!(server.run(["SET", "go", "1"]), Reply::Status("OK".into()));
    assert_eq!(b.read_reply(), Some(b"$4\r\ndone\r\n".to_vec()));
    assert_eq!(a.join().expect("fcall thread"), Some(b":1\r\n".to_vec()));
}

#[test]
fn the_test_handle_cannot_change_the_libraries_under_a_running_function() {
    let server = server();
    let a = call_in_thread(&server, &["FCALL", "spin", "0"]);
    wait_running(&server, "spin");
    let busy =
        Reply::Error("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into());
    assert_eq!(server.run(["FUNCTION", "FLUSH"]), busy);
    assert_eq!(server.run(["FUNCTION", "DELETE", "spinners"]), busy);
    assert_eq!(server.run(["FUNCTION", "LOAD", "REPLACE", LIBRARY]), busy);
    assert_eq!(server.run(["FCALL", "incr", "1", "n"]), busy);
    // Reading them is fine: FUNCTION STATS still counts them.
    let Reply::Map(stats) = server.run(["FUNCTION", "STATS"]) else { panic!("FUNCTION STATS is a map") };
    assert!(matches!(&stats[0].1, Reply::Map(running) if running.len() == 3), "{stats:?}");
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["FUNCTION", "KILL"]), b"+OK\r\n");
    assert_eq!(a.join().expect("fcall thread"), Some(killed("spin", 2)));
    assert_eq!(server.run(["FCALL", "incr", "1", "n"]), Reply::Int(1));
}

#[test]
fn the_threshold_follows_busy_reply_threshold() {
    let server = server();
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["CONFIG", "SET", "busy-reply-threshold", "100"]), b"+OK\r\n");
    let a = call_in_thread(&server, &["FCALL", "spin", "0"]);
    wait_running(&server, "spin");
    server.clock().advance(Duration::from_millis(100));
    assert_eq!(b.call(&["PING"]), BUSY_FUNCTION);
    assert_eq!(b.call(&["FUNCTION", "KILL"]), b"+OK\r\n");
    assert!(a.join().expect("fcall thread").is_some());
}

#[test]
fn dropping_the_server_never_hangs_on_a_running_function() {
    let server = server();
    let a = call_in_thread(&server, &["FCALL", "spin", "0"]);
    wait_running(&server, "spin");
    // Another client waits for the function (before the threshold) when the server goes.
    let mut b = RawConn::tcp(server.addr());
    b.send(&["PING"]);
    drop(server);
    assert_eq!(a.join().expect("fcall thread"), None, "the caller's connection closes");
    // The waiting client was closed, or answered just before the end.
    let _ = b.read_reply();
}

#[test]
fn a_slow_script_fault_makes_an_fcall_busy_until_it_ends_or_is_killed() {
    let server = server();
    // `incr` cannot loop: only the fault puts it on the script thread.
    let slow = server.fault(FaultRule::slow_script(Duration::from_secs(6)).on(["FCALL"]).times(1).expect(1));
    let a = call_in_thread(&server, &["FCALL", "incr", "1", "k"]);
    wait_running(&server, "incr");
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["GET", "k"]), BUSY_FUNCTION, "past busy-reply-threshold");
    // The stall ends on the server's clock; the function then runs.
    server.clock().advance(Duration::from_millis(1000));
    assert_eq!(a.join().expect("fcall thread"), Some(b":1\r\n".to_vec()));
    assert_eq!(slow.hits(), 1);
    assert_eq!(b.call(&["FCALL", "incr", "1", "k"]), b":2\r\n", "times(1): the next one is not slowed");

    let _slow = server.fault("slow-script 1m cmd=FCALL".parse::<FaultRule>().expect("rule"));
    let a = call_in_thread(&server, &["FCALL", "incr", "1", "k"]);
    wait_running(&server, "incr");
    server.clock().advance(Duration::from_millis(5000));
    assert_eq!(b.call(&["FUNCTION", "KILL"]), b"+OK\r\n");
    // Killed before it ran: at the line its code starts.
    assert_eq!(a.join().expect("fcall thread"), Some(killed("incr", 6)));
    assert_eq!(server.get("k").as_deref(), Some(&b"2"[..]));
}
