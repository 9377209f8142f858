//! The same pool tests on every backend (`common::backend_kinds`: the fake, a
//! redis-server process, a container; or only `REDIS_HARNESS_BACKEND`'s),
//! skipping those this machine cannot run. Socket counts come from the fake,
//! or from the fault proxy in front of a real Redis.

use std::time::Duration;

use redis_harness::backend::Backend;
use redis_harness::pool::{Cmd, Error, Pool, Protocol, TimeoutKind, Value};

use crate::support::WAIT;

#[path = "../common/mod.rs"]
#[allow(unused_imports)]
pub(crate) mod common;

#[tokio::test]
async fn real_server_handshake_blocking_and_timeouts() {
    for kind in common::backend_kinds() {
        // Not "local": container clients come from the Docker bridge, not loopback.
        let b = Backend::builder(kind).real_server_args(["--enable-debug-command", "yes"]);
        let Some(redis) = Backend::start_or_skip(b, "real_server_handshake_blocking_and_timeouts") else { continue };
        handshake_blocking_and_timeouts(&redis).await;
    }
}

/// The read timeout of the timing checks: long enough that a loaded machine
/// answers a plain command within it, short enough to keep the test quick.
const READ: Duration = Duration::from_secs(1);

async fn handshake_blocking_and_timeouts(redis: &Backend) {
    let kind = redis.kind();
    // The handshake and plain commands run without a tight budget...
    let pool = Pool::builder(&format!("{}/2", redis.url())).client_name("harness").max_retries(0).build().unwrap();
    pool.set("k", "v").await.unwrap_or_else(|e| panic!("{kind}: SET: {e}"));
    let list = pool.query(&Cmd::from_args(["CLIENT", "LIST"])).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    let text = String::from_utf8_lossy(list.as_bytes().unwrap()).into_owned();
    assert!(text.contains("name=harness") && text.contains("db=2"), "{kind}: {text}");
    assert!(text.contains("resp=3"), "{kind}: {text}");
    // Redis 7.0 has no CLIENT SETINFO: its error was ignored, as go-redis does.
    let report = pool.close(WAIT).await;
    assert_eq!(report.aborted, 0, "{kind}: {report:?}");

    // ...and the timing checks have a margin of READ either way: BLPOP 1.5
    // replies 0.5 s before its extended deadline (READ + 1.5 s); DEBUG SLEEP
    // 1.5 cannot reply before READ has passed, however slow the machine.
    let timed = Pool::builder(&redis.url()).read_timeout(READ).max_retries(0).build().unwrap();
    timed.ping().await.unwrap_or_else(|e| panic!("{kind}: PING within {READ:?}: {e}"));
    let v = timed.query(&Cmd::from_args(["BLPOP", "nothing", "1.5"])).await;
    assert_eq!(v.unwrap_or_else(|e| panic!("{kind}: BLPOP outliving the read timeout: {e}")), Value::Nil, "{kind}");
    let err = timed.query(&Cmd::from_args(["DEBUG", "SLEEP", "1.5"])).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { kind: TimeoutKind::Read, .. }), "{kind}: {err:?}");
    timed.close(WAIT).await;

    let resp2 = Pool::builder(&redis.url()).protocol(Protocol::Resp2).client_name("two").build().unwrap();
    let list = resp2.query(&Cmd::from_args(["CLIENT", "INFO"])).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    let text = String::from_utf8_lossy(list.as_bytes().unwrap()).into_owned();
    assert!(text.contains("name=two") && text.contains("resp=2"), "{kind}: {text}");
    resp2.close(WAIT).await;
}

#[tokio::test]
async fn close_closes_idle_connections_on_every_backend() {
    for kind in common::backend_kinds() {
        let Some(server) = Backend::start_or_skip(Backend::builder(kind), "close_closes_idle_connections") else {
            continue;
        };
        let pool = Pool::builder(&server.url()).pool_size(4).build().unwrap();
        let (a, b, c) = (pool.get().await.unwrap(), pool.get().await.unwrap(), pool.get().await.unwrap());
        drop((a, b, c));
        server.wait_for_open_connections(3, WAIT).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let report = pool.close(WAIT).await;
        assert_eq!((report.idle_closed, report.drained, report.aborted), (3, 0, 0), "{kind}");
        server.assert_no_leaks(WAIT).await;
        let before = server.total_connections();
        assert!(matches!(pool.get().await.unwrap_err(), Error::Closed { .. }), "{kind}");
        assert_eq!(server.total_connections(), before, "{kind}: a get() after close dialled");
    }
}

#[tokio::test]
async fn dropping_the_pool_closes_sockets_on_every_backend() {
    for kind in common::backend_kinds() {
        let Some(server) = Backend::start_or_skip(Backend::builder(kind), "dropping_the_pool_closes_sockets") else {
            continue;
        };
        let pool = Pool::builder(&server.url()).pool_size(4).min_idle(1).build().unwrap();
        let c = pool.get().await.unwrap();
        server.wait_for_open_connections(2, WAIT).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        drop(pool);
        server.wait_for_open_connections(1, WAIT).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        drop(c);
        server.assert_no_leaks(WAIT).await;
    }
}

#[tokio::test]
async fn injected_server_errors_reach_the_caller_on_every_backend() {
    for kind in common::backend_kinds() {
        let Some(server) = Backend::start_or_skip(Backend::builder(kind), "injected_server_errors") else { continue };
        let pool = Pool::builder(&server.url()).max_retries(0).build().unwrap();
        pool.set("k", "v").await.unwrap();
        let _loading =
            server.fault(redis_harness::fault::FaultRule::error("LOADING Redis is loading").on(["GET"]).nth(1));
        let err = pool.get_value("k").await.unwrap_err();
        assert!(err.to_string().contains("LOADING"), "{kind}: {err}");
        assert_eq!(pool.get_value("k").await.unwrap().as_deref(), Some(&b"v"[..]), "{kind}");
        pool.close(WAIT).await;
        server.assert_no_leaks(WAIT).await;
    }
}
