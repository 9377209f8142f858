//! Faults for scripts (issue 14, item 7): EVALSHA answering NOSCRIPT so a
//! client proves its fallback, a slow script that makes others see BUSY,
//! and error replies from inside `redis.call`, all as ordinary fault rules
//! (guards, expectations, hit counts, rule text).

use std::time::Duration;

use redis_harness::fault::{errors, FaultRule};
use redis_harness::FakeRedis;

use crate::common::RawConn;

const BUSY_EVAL: &[u8] = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const GENEROUS: Duration = Duration::from_secs(30);

fn sha1_hex(body: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn wait_running(server: &FakeRedis) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    rt.block_on(server.wait_for_blocked_clients(1, GENEROUS)).expect("the script's caller waits");
}

#[tokio::test]
async fn noscript_makes_redis_rs_fall_back_and_the_script_still_runs() {
    let server = FakeRedis::start().await;
    let mut c = super::conn(&server).await;
    let script = redis::Script::new("return redis.call('INCR', KEYS[1])");
    // Cached first, as after a long-running client's first call.
    let n: i64 = script.key("n").invoke_async(&mut c).await.expect("first invoke");
    assert_eq!(n, 1);
    server.clear_commands();
    let failover = server.fault(FaultRule::noscript().times(1).expect(1));
    let n: i64 = script.key("n").invoke_async(&mut c).await.expect("invoke after NOSCRIPT");
    assert_eq!(n, 2, "the script ran once, after the fallback");
    assert_eq!(failover.hits(), 1);
    let names: Vec<String> = server.commands().iter().map(|c| c.name()).collect();
    let first = names.iter().position(|n| n == "EVALSHA").expect("EVALSHA sent");
    assert!(
        names[first + 1..].iter().any(|n| n == "EVAL" || n == "SCRIPT"),
        "after NOSCRIPT the client loaded or sent the script: {names:?}"
    );
}

#[test]
fn noscript_is_redis_text_and_reads_as_rule_text() {
    let server = FakeRedis::builder().start_blocking();
    let _g = server.fault("error NOSCRIPT cmd=EVALSHA".parse::<FaultRule>().expect("rule"));
    let mut c = RawConn::tcp(server.addr());
    let sha = sha1_hex("return 1");
    assert_eq!(c.call(&["SCRIPT", "LOAD", "return 1"]), format!("${}\r\n{sha}\r\n", sha.len()).into_bytes());
    assert_eq!(c.call(&["EVALSHA", &sha, "0"]), format!("-{}\r\n", errors::NOSCRIPT).into_bytes());
    assert_eq!(c.call(&["EVAL", "return 1", "0"]), b":1\r\n", "EVAL is not targeted");
}

#[test]
fn a_slow_script_makes_others_see_busy_until_it_ends() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    let slow = server.fault(FaultRule::slow_script(Duration::from_secs(6)).on(["EVAL"]).times(1).expect(1));
    let mut a = RawConn::tcp(server.addr());
    a.send(&["EVAL", "return redis.call('INCR', 'k')", "0"]);
    let a = std::thread::spawn(move || a.read_reply());
    wait_running(&server);
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["GET", "k"]), BUSY_EVAL, "past busy-reply-threshold");
    // The stall ends on the server's clock; the script then runs.
    server.clock().advance(Duration::from_millis(1000));
    assert_eq!(a.join().expect("eval thread"), Some(b":1\r\n".to_vec()));
    assert_eq!(b.call(&["GET", "k"]), b"$1\r\n1\r\n");
    assert_eq!(slow.hits(), 1);
    // times(1): the next script is not slowed (it runs inline at once).
    assert_eq!(b.call(&["EVAL", "return redis.call('INCR', 'k')", "0"]), b":2\r\n");
}

#[test]
fn a_slow_script_can_be_killed() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    let _slow = server.fault("slow-script 1m cmd=EVAL".parse::<FaultRule>().expect("rule"));
    let body = "return redis.call('INCR', 'k')";
    let mut a = RawConn::tcp(server.addr());
    a.send(&["EVAL", body, "0"]);
    let a = std::thread::spawn(move || a.read_reply());
    wait_running(&server);
    server.clock().advance(Duration::from_millis(5000));
    let mut b = RawConn::tcp(server.addr());
    assert_eq!(b.call(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let want =
        format!("-ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.\r\n", sha1_hex(body));
    assert_eq!(a.join().expect("eval thread"), Some(want.into_bytes()));
    assert_eq!(server.get("k"), None, "killed before it ran");
}

#[test]
fn an_error_from_inside_redis_call_is_targeted_by_command_name() {
    let server = FakeRedis::builder().start_blocking();
    let inner = server.fault(FaultRule::error("ERR injected").on(["INCR"]).in_scripts().times(2).expect(2));
    let mut c = RawConn::tcp(server.addr());
    // A client's own INCR is not targeted.
    assert_eq!(c.call(&["INCR", "k"]), b":1\r\n");
    let body = "return redis.call('INCR', 'k')";
    assert_eq!(
        c.call(&["EVAL", body, "0"]),
        format!("-ERR injected script: {}, on @user_script:1.\r\n", sha1_hex(body)).into_bytes(),
        "redis.call raises the error"
    );
    assert_eq!(
        c.call(&["EVAL", "local r = redis.pcall('INCR', 'k') return {r.err, redis.call('GET', 'k')}", "0"]),
        b"*2\r\n$12\r\nERR injected\r\n$1\r\n1\r\n",
        "redis.pcall returns it; the other commands run"
    );
    assert_eq!(inner.hits(), 2);
    assert_eq!(c.call(&["EVAL", body, "0"]), b":2\r\n", "times(2) is spent");
}

#[test]
fn script_fault_rules_round_trip_as_text() {
    for text in ["error \"ERR injected\" cmd=INCR in-script", "slow-script 6s cmd=EVAL,EVALSHA times=1"] {
        let rule: FaultRule = text.parse().expect("parses");
        assert_eq!(rule.to_string(), text);
    }
    let err = "latency 1ms in-script".parse::<FaultRule>().expect_err("only errors apply inside scripts");
    assert!(err.to_string().contains("in-script"), "{err}");
}
