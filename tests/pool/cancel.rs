//! Cancellation at each await point: a dropped `get()` never leaks its
//! turn, a dropped command never leaves its reply for the next user. Each
//! guarantee is also checked to fail under the matching sabotage, so these
//! tests are known to be able to see the bug.

use std::time::Duration;

use redis_harness::pool::{Cmd, Error, Pool, Sabotage, TimeoutKind, Value};

use crate::support::{until, Scripted, WAIT};

/// A pool whose `get()` gives up after `pool_timeout`; 300 ms where only a
/// sabotaged pool waits for a turn, so that its failure comes quickly.
fn pool_waiting(server: &Scripted, size: usize, sabotage: Sabotage, pool_timeout: Duration) -> Pool {
    Pool::builder(&server.url())
        .pool_size(size)
        .max_retries(0)
        .pool_timeout(pool_timeout)
        .sabotage(sabotage)
        .build()
        .unwrap()
}

fn pool(server: &Scripted, size: usize, sabotage: Sabotage) -> Pool {
    pool_waiting(server, size, sabotage, Duration::from_millis(300))
}

/// Cancels a `get()` while it dials (the server never answers HELLO), then
/// tells whether the turn came back.
async fn cancel_get_during_dial(sabotage: Sabotage) -> bool {
    let server = Scripted::start();
    server.hold("HELLO");
    let pool = pool(&server, 1, sabotage);
    let p = pool.clone();
    let task = tokio::spawn(async move { p.get().await.map(|_| ()) });
    server.wait_for("HELLO", 1).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The half-open connection is closed with the future.
    server.wait_open(0).await;
    server.unhold("HELLO");
    pool.get().await.is_ok()
}

#[tokio::test]
async fn cancelled_get_during_dial_returns_its_turn() {
    assert!(cancel_get_during_dial(Sabotage::None).await);
}

#[tokio::test]
async fn sabotage_leak_permit_is_detected() {
    assert!(!cancel_get_during_dial(Sabotage::LeakPermitOnCancel).await);
}

#[tokio::test]
async fn cancelled_get_while_waiting_for_a_turn() {
    let server = Scripted::start();
    // The waiter must still be waiting when it is aborted, however slowly this machine gets there.
    let pool = pool_waiting(&server, 1, Sabotage::None, WAIT);
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|_| ()) });
    until("the waiter to queue", || pool.stats().waits == 1).await;
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    drop(held);
    let mut again = pool.get().await.unwrap();
    again.ping().await.unwrap();
    assert_eq!(pool.stats().hits, 1);
}

#[tokio::test]
async fn cancelled_checkout_ping_closes_the_connection() {
    let server = Scripted::start();
    let pool = Pool::builder(&server.url()).pool_size(1).ping_after_idle(Duration::ZERO).build().unwrap();
    drop(pool.get().await.unwrap());
    server.hold("PING");
    let p = pool.clone();
    let task = tokio::spawn(async move { p.get().await.map(|_| ()) });
    server.wait_for("PING", 1).await;
    task.abort();
    let _ = task.await;
    server.wait_open(0).await;
    server.unhold("PING");
    server.release(1);
    assert_eq!(pool.stats().total_conns, 0);
    pool.get().await.unwrap();
}

/// Cancels a GET whose reply the server holds, releases the reply, and
/// runs another GET through the pool: tells whether it got its own reply.
async fn cancel_command_then_reuse(sabotage: Sabotage) -> bool {
    let server = Scripted::start();
    server.hold("GET");
    let pool = pool(&server, 1, sabotage);
    let p = pool.clone();
    let task = tokio::spawn(async move {
        let mut c = p.get().await?;
        c.query(&Cmd::from_args(["GET", "first"])).await
    });
    server.wait_for("GET", 1).await;
    task.abort();
    let _ = task.await;
    server.unhold("GET");
    // Release the held reply only once the next user holds a connection, so
    // the checkout's idle check cannot see it first.
    let mut c = pool.get().await.unwrap();
    server.release(1);
    let v = c.query(&Cmd::from_args(["GET", "second"])).await.unwrap();
    v == Value::Bulk("value-of-second".into())
}

#[tokio::test]
async fn cancelled_command_never_leaves_its_reply_behind() {
    assert!(cancel_command_then_reuse(Sabotage::None).await);
}

#[tokio::test]
async fn sabotage_reuse_cancelled_is_detected() {
    assert!(!cancel_command_then_reuse(Sabotage::ReuseCancelled).await);
}

#[tokio::test]
async fn cancelled_command_closes_its_socket_and_keeps_the_guard_honest() {
    let server = Scripted::start();
    server.hold("GET");
    let pool = pool(&server, 1, Sabotage::None);
    let mut c = pool.get().await.unwrap();
    {
        let cmd = Cmd::from_args(["GET", "k"]);
        let fut = c.query(&cmd);
        tokio::pin!(fut);
        // Drive it until the server has the command, then drop it mid-read.
        tokio::select! {
            _ = &mut fut => panic!("the held GET completed"),
            _ = server.wait_for("GET", 1) => {}
        }
    }
    server.wait_open(0).await;
    assert!(!c.is_usable());
    assert!(matches!(c.ping().await, Err(Error::Unusable { .. })));
    drop(c);
    let s = pool.stats();
    assert_eq!((s.closed_broken, s.in_use, s.total_conns), (1, 0, 0));
}

#[tokio::test]
async fn cancelled_write_closes_the_socket() {
    let server = Scripted::start();
    let pool = pool(&server, 1, Sabotage::None);
    let mut c = pool.get().await.unwrap();
    server.pause_reading(true);
    let big = vec![b'x'; 32 << 20];
    {
        let cmd = Cmd::new("SET").arg("k").arg(big);
        let fut = c.query(&cmd);
        // With the server not reading, the write cannot finish; give it a bound.
        let r = tokio::time::timeout(Duration::from_millis(200), fut).await;
        assert!(r.is_err(), "a 32 MiB write to a server that does not read completed");
    }
    server.pause_reading(false);
    server.wait_open(0).await;
    drop(c);
    assert_eq!(pool.stats().total_conns, 0);
}

#[tokio::test]
async fn write_timeout_is_typed() {
    let server = Scripted::start();
    let pool = Pool::builder(&server.url()).write_timeout(Duration::from_millis(100)).max_retries(0).build().unwrap();
    let mut c = pool.get().await.unwrap();
    server.pause_reading(true);
    let err = c.query(&Cmd::new("SET").arg("k").arg(vec![b'x'; 32 << 20])).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { kind: TimeoutKind::Write, .. }), "{err:?}");
    server.pause_reading(false);
    drop(c);
    server.wait_open(0).await;
}
