//! Retries only where safe, backoff, and the dial circuit breaker.

use std::time::Duration;

use redis_harness::pool::{Cmd, Error, Pool};
use redis_harness::FakeRedis;

use crate::support::{refused_addr, Scripted, WAIT};

fn fast_retries(url: &str) -> redis_harness::pool::PoolBuilder {
    Pool::builder(url).max_retries(3).retry_backoff(Duration::from_millis(1), Duration::from_millis(4))
}

#[tokio::test]
async fn a_write_that_may_have_run_is_never_retried() {
    let server = Scripted::start();
    server.drop_after_read("INCR");
    let pool = fast_retries(&server.url()).build().unwrap();
    let err = pool.incr("counter").await.unwrap_err();
    assert!(matches!(err, Error::Reset { .. }), "{err:?}");
    assert_eq!(server.count("INCR"), 1);
    assert_eq!(pool.stats().retries, 0);
}

#[tokio::test]
async fn idempotent_and_read_only_commands_are_retried() {
    let server = Scripted::start();
    server.drop_after_read("SET");
    server.drop_after_read("GET");
    let pool = fast_retries(&server.url()).build().unwrap();
    let err = pool.query(&Cmd::from_args(["SET", "k", "v"]).idempotent()).await.unwrap_err();
    assert!(matches!(err, Error::Reset { .. }));
    assert_eq!(server.count("SET"), 4, "first attempt + max_retries");
    assert!(pool.get_value("k").await.is_err());
    assert_eq!(server.count("GET"), 4);
    assert_eq!(pool.stats().retries, 6);
}

#[tokio::test]
async fn dial_failures_are_retried_then_reported() {
    let addr = refused_addr();
    let pool = fast_retries(&format!("redis://{addr}")).breaker(0, Duration::ZERO).build().unwrap();
    let err = pool.incr("k").await.unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused { .. }));
    let s = pool.stats();
    assert_eq!((s.dial_errors, s.retries), (4, 3));
}

#[tokio::test]
async fn not_executed_replies_are_retried_even_for_writes() {
    let server = Scripted::start();
    let pool = fast_retries(&server.url()).build().unwrap();
    // The scripted server answers its LOADING command with -LOADING.
    let err = pool.query(&Cmd::new("LOADING")).await.unwrap_err();
    assert!(matches!(&err, Error::Redis { code, .. } if code == "LOADING"), "{err:?}");
    assert_eq!(server.count("LOADING"), 4);
}

#[tokio::test]
async fn retry_after_a_read_timeout_only_when_idempotent() {
    let server = Scripted::start();
    server.hold("SET");
    let pool = fast_retries(&server.url()).read_timeout(Duration::from_millis(50)).build().unwrap();
    let err = pool.set("k", "v").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }));
    assert_eq!(server.count("SET"), 1, "a SET that timed out after being sent is not retried");
    server.release(10);
}

#[tokio::test]
async fn max_retries_zero_means_one_attempt() {
    let addr = refused_addr();
    let pool = Pool::builder(&format!("redis://{addr}")).max_retries(0).build().unwrap();
    assert!(pool.ping().await.is_err());
    assert_eq!(pool.stats().dial_errors, 1);
}

#[tokio::test]
async fn breaker_fails_fast_then_probes_and_recovers() {
    let addr = refused_addr();
    let pool = Pool::builder(&format!("redis://{addr}"))
        .max_retries(0)
        .breaker(3, Duration::from_secs(1))
        .dial_timeout(None)
        .read_timeout(None)
        .build()
        .unwrap();
    tokio::time::pause();
    for _ in 0..3 {
        assert!(matches!(pool.get().await.unwrap_err(), Error::ConnectionRefused { .. }));
    }
    let err = pool.get().await.unwrap_err();
    match &err {
        Error::CircuitOpen { failures, last, .. } => {
            assert_eq!(*failures, 3);
            assert!(matches!(**last, Error::ConnectionRefused { .. }));
        }
        other => panic!("expected the breaker to be open, got {other:?}"),
    }
    assert!(err.to_string().contains("the last 3 dials failed"), "{err}");
    assert_eq!(pool.stats().dial_errors, 3, "an open breaker does not dial");
    // After the cool-down one probe goes through; it fails, so it reopens.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(matches!(pool.get().await.unwrap_err(), Error::ConnectionRefused { .. }));
    assert!(matches!(pool.get().await.unwrap_err(), Error::CircuitOpen { .. }));
    // The server comes up: the next probe closes the breaker.
    tokio::time::resume();
    let server = FakeRedis::builder().bind(addr).start().await;
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(1)).await;
    tokio::time::resume();
    pool.get().await.unwrap().ping().await.unwrap();
    pool.close(WAIT).await;
    server.wait_for_open_connections(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn a_cancelled_probe_does_not_latch_the_breaker() {
    let server = Scripted::start();
    server.hold("HELLO");
    let pool = Pool::builder(&server.url())
        .max_retries(0)
        .breaker(1, Duration::ZERO)
        // The first dial must time out, the last must not: 2 s leaves a loaded machine room for the last.
        .dial_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    // One timed-out dial opens the breaker (threshold 1, no cool-down).
    assert!(pool.get().await.unwrap_err().is_timeout());
    // The probe is cancelled mid-dial.
    let p = pool.clone();
    let probe = tokio::spawn(async move { p.get().await.map(|_| ()) });
    server.wait_for("HELLO", 2).await;
    probe.abort();
    let _ = probe.await;
    server.unhold("HELLO");
    server.release(10);
    pool.get().await.expect("a new probe is allowed after a cancelled one");
}

#[tokio::test]
async fn dial_errors_give_the_turn_back() {
    let addr = refused_addr();
    // Even under the permit-leak sabotage, which only leaks on cancellation.
    for sabotage in [redis_harness::pool::Sabotage::None, redis_harness::pool::Sabotage::LeakPermitOnCancel] {
        let pool = Pool::builder(&format!("redis://{addr}"))
            .pool_size(1)
            .max_retries(0)
            .breaker(0, Duration::ZERO)
            .pool_timeout(Duration::from_millis(200))
            .sabotage(sabotage)
            .build()
            .unwrap();
        for _ in 0..3 {
            assert!(matches!(pool.get().await.unwrap_err(), Error::ConnectionRefused { .. }));
        }
    }
}
