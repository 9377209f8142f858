//! The same pool against a real redis-server (skipped when none is installed).

use std::time::Duration;

use redis_harness::pool::{Cmd, Error, Pool, Protocol, TimeoutKind, Value};

use crate::support::WAIT;

#[path = "../common/mod.rs"]
#[allow(unused_imports)]
pub(crate) mod common;

#[tokio::test]
async fn real_server_handshake_blocking_and_timeouts() {
    // Checks that a server is installed (or fails under REDIS_HARNESS_REQUIRE_REAL).
    let Some(probe) = common::real_redis_or_skip("real_server_handshake_blocking_and_timeouts") else { return };
    drop(probe);
    let redis = redis_harness::backend::RedisProcess::builder()
        .args(["--enable-debug-command", "local"])
        .start()
        .expect("redis-server started");
    let pool = Pool::builder(&format!("{}/2", redis.url()))
        .client_name("harness")
        .read_timeout(Duration::from_millis(100))
        .max_retries(0)
        .build()
        .unwrap();
    pool.set("k", "v").await.unwrap();
    let list = pool.query(&Cmd::from_args(["CLIENT", "LIST"])).await.unwrap();
    let text = String::from_utf8_lossy(list.as_bytes().unwrap()).into_owned();
    assert!(text.contains("name=harness") && text.contains("db=2"), "{text}");
    assert!(text.contains("resp=3"), "{text}");
    // Redis 7.0 has no CLIENT SETINFO: its error was ignored, as go-redis does.
    // BLPOP 0.3 outlives the 100ms read timeout without failing.
    assert_eq!(pool.query(&Cmd::from_args(["BLPOP", "nothing", "0.3"])).await.unwrap(), Value::Nil);
    let err = pool.query(&Cmd::from_args(["DEBUG", "SLEEP", "0.3"])).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { kind: TimeoutKind::Read, .. }), "{err:?}");
    let report = pool.close(WAIT).await;
    assert_eq!(report.aborted, 0);

    let resp2 = Pool::builder(&redis.url()).protocol(Protocol::Resp2).client_name("two").build().unwrap();
    let list = resp2.query(&Cmd::from_args(["CLIENT", "INFO"])).await.unwrap();
    let text = String::from_utf8_lossy(list.as_bytes().unwrap()).into_owned();
    assert!(text.contains("name=two") && text.contains("resp=2"), "{text}");
    resp2.close(WAIT).await;
}
