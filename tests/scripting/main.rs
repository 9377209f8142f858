//! Lua scripting through a real client library: redis-rs's `Script` sends
//! EVALSHA first and falls back to EVAL on NOSCRIPT; a runaway script is
//! killed with SCRIPT KILL while others get BUSY (`busy`), a runaway function
//! killed with FUNCTION KILL (`busy_functions`); script faults
//! (`faults`); functions (`functions`); the README's rate limiter and lock
//! on every backend (`backends`).
#![cfg(feature = "scripting")]

use redis_harness::FakeRedis;

#[path = "../common/mod.rs"]
mod common;

mod backends;
mod busy;
mod busy_functions;
mod faults;
mod functions;

async fn conn(server: &FakeRedis) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).expect("valid url");
    // A script may run until it is killed: no client-side reply timeout.
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    client.get_multiplexed_async_connection_with_config(&config).await.expect("connect")
}

#[tokio::test]
async fn redis_rs_script_round_trip_falls_back_to_eval_then_hits_the_cache() {
    let server = FakeRedis::start().await;
    let mut c = conn(&server).await;
    let script = redis::Script::new("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1]) .. '!'");
    let exists: Vec<bool> =
        redis::cmd("SCRIPT").arg("EXISTS").arg(script.get_hash()).query_async(&mut c).await.expect("exists");
    assert_eq!(exists, vec![false], "the cache starts empty");
    // EVALSHA answers NOSCRIPT, redis-rs loads the script and retries.
    let v: String = script.key("k").arg("v").invoke_async(&mut c).await.expect("first invoke");
    assert_eq!(v, "v!");
    let exists: Vec<bool> =
        redis::cmd("SCRIPT").arg("EXISTS").arg(script.get_hash()).query_async(&mut c).await.expect("exists");
    assert_eq!(exists, vec![true], "the fallback cached the script under redis-rs's SHA-1");
    let v: String = script.key("k").arg("w").invoke_async(&mut c).await.expect("second invoke");
    assert_eq!(v, "w!");
    let got: String = redis::cmd("GET").arg("k").query_async(&mut c).await.expect("get");
    assert_eq!(got, "w");
}
