//! Every guarantee of `close()` and of dropping the pool.

use std::time::Duration;

use redis_harness::pool::{Cmd, Error, Pool, Sabotage};
use redis_harness::FakeRedis;

use crate::support::{until, Scripted, WAIT};

#[tokio::test]
async fn close_closes_idle_connections_and_fails_later_gets_without_dialling() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(4).build().unwrap();
    let (a, b, c) = (pool.get().await.unwrap(), pool.get().await.unwrap(), pool.get().await.unwrap());
    drop((a, b, c));
    assert_eq!(server.open_connections(), 3);
    let report = pool.close(WAIT).await;
    assert_eq!((report.idle_closed, report.drained, report.aborted, report.already_closed), (3, 0, 0, false));
    server.wait_for_open_connections(0, WAIT).await.unwrap();
    let before = server.total_connections();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }));
    assert!(err.to_string().contains("is closed"), "{err}");
    assert!(matches!(pool.ping().await, Err(Error::Closed { .. })));
    assert_eq!(server.total_connections(), before, "a get() after close dialled");
    assert_eq!(pool.stats().total_conns, 0);
}

#[tokio::test]
async fn second_close_is_a_no_op() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).build().unwrap();
    pool.ping().await.unwrap();
    assert_eq!(pool.close(WAIT).await.idle_closed, 1);
    let again = pool.close(WAIT).await;
    assert!(again.already_closed);
    assert_eq!(again.idle_closed, 0);
}

/// Blocks the only turn, queues a waiter, closes: tells whether the waiter
/// was woken with `Closed` promptly.
async fn waiter_woken_at_close(sabotage: Sabotage) -> bool {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url())
        .pool_size(1)
        .pool_timeout(Duration::from_secs(3))
        .sabotage(sabotage)
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|_| ()) });
    until("the waiter to queue", || pool.stats().waits == 1).await;
    let closer = {
        let p = pool.clone();
        tokio::spawn(async move { p.close(WAIT).await })
    };
    let woken = tokio::time::timeout(Duration::from_secs(1), waiter).await;
    drop(held);
    let report = tokio::time::timeout(WAIT, closer).await.expect("close finished").unwrap();
    assert_eq!(report.drained, 1);
    server.wait_for_open_connections(0, WAIT).await.unwrap();
    matches!(woken, Ok(Ok(Err(Error::Closed { .. }))))
}

#[tokio::test]
async fn close_wakes_every_waiter_now() {
    assert!(waiter_woken_at_close(Sabotage::None).await);
}

#[tokio::test]
async fn sabotage_no_wake_is_detected() {
    assert!(!waiter_woken_at_close(Sabotage::NoWakeOnClose).await);
}

#[tokio::test]
async fn checked_out_connections_finish_their_command_within_the_deadline() {
    let server = Scripted::start();
    server.hold("GET");
    let pool = Pool::builder(&server.url()).pool_size(2).build().unwrap();
    let mut c = pool.get().await.unwrap();
    let user = tokio::spawn(async move {
        let r = c.query(&Cmd::from_args(["GET", "k"])).await;
        // Returned after close started: closed, never pooled.
        drop(c);
        r
    });
    server.wait_for("GET", 1).await;
    let p = pool.clone();
    let closer = tokio::spawn(async move { p.close(WAIT).await });
    until("close to start", || pool.is_closed()).await;
    server.release(1);
    let reply = user.await.unwrap().unwrap();
    assert_eq!(reply.as_bytes(), Some(&b"value-of-k"[..]));
    let report = closer.await.unwrap();
    assert_eq!((report.drained, report.aborted, report.commands_aborted), (1, 0, 0));
    assert_eq!(pool.stats().idle_conns, 0);
    server.wait_open(0).await;
}

#[tokio::test]
async fn after_the_deadline_pending_commands_fail_and_sockets_close() {
    let server = Scripted::start();
    server.hold("GET");
    let pool = Pool::builder(&server.url()).pool_size(3).read_timeout(None).build().unwrap();
    let mut busy = pool.get().await.unwrap();
    // Held by the application but not running anything.
    let mut lazy = pool.get().await.unwrap();
    let user = tokio::spawn(async move { busy.query(&Cmd::from_args(["GET", "k"])).await });
    server.wait_for("GET", 1).await;
    let report = pool.close(Duration::from_millis(100)).await;
    assert_eq!((report.aborted, report.commands_aborted, report.unresponsive), (2, 1, 0), "{report:?}");
    // Both sockets are closed although `lazy` is still alive.
    server.wait_open(0).await;
    let err = user.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Aborted { .. }), "{err:?}");
    assert!(err.to_string().contains("close deadline"), "{err}");
    assert!(matches!(lazy.ping().await, Err(Error::Aborted { .. })));
    assert_eq!(pool.stats().total_conns, 0);
}

/// Leaves a connection checked out past the deadline: tells whether its
/// socket was closed after close() returned, waiting at most `patience`
/// (generous where it must close; the sabotaged socket never closes while held).
async fn socket_closed_at_deadline(sabotage: Sabotage, patience: Duration) -> bool {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).sabotage(sabotage).build().unwrap();
    let held = pool.get().await.unwrap();
    pool.close(Duration::from_millis(50)).await;
    let closed = server.wait_for_open_connections(0, patience).await.is_ok();
    drop(held);
    closed
}

#[tokio::test]
async fn sockets_are_closed_at_the_deadline() {
    assert!(socket_closed_at_deadline(Sabotage::None, WAIT).await);
}

#[tokio::test]
async fn sabotage_keep_socket_is_detected() {
    assert!(!socket_closed_at_deadline(Sabotage::KeepSocketAfterDeadline, Duration::from_millis(500)).await);
}

/// Returns a connection after close: tells whether it was closed, not pooled.
async fn returned_after_close_is_closed(sabotage: Sabotage) -> bool {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).sabotage(sabotage).build().unwrap();
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let closer = tokio::spawn(async move { p.close(WAIT).await });
    until("close to start", || pool.is_closed()).await;
    drop(held);
    closer.await.unwrap();
    // A sabotaged pool keeps the connection idle, so the generous wait only runs when it must succeed.
    pool.stats().idle_conns == 0 && server.wait_for_open_connections(0, WAIT).await.is_ok()
}

#[tokio::test]
async fn connections_returned_after_close_are_closed() {
    assert!(returned_after_close_is_closed(Sabotage::None).await);
}

#[tokio::test]
async fn sabotage_pool_after_close_is_detected() {
    assert!(!returned_after_close_is_closed(Sabotage::PoolAfterClose).await);
}

#[tokio::test]
async fn close_cancels_dials_in_progress() {
    let server = Scripted::start();
    server.hold("HELLO");
    let pool = Pool::builder(&server.url()).dial_timeout(None).build().unwrap();
    let p = pool.clone();
    let getter = tokio::spawn(async move { p.get().await.map(|_| ()) });
    server.wait_for("HELLO", 1).await;
    let report = tokio::time::timeout(WAIT, pool.close(WAIT)).await.unwrap();
    assert_eq!(report.dials_cancelled, 1);
    assert!(matches!(getter.await.unwrap(), Err(Error::Closed { .. })));
    server.wait_open(0).await;
}

#[tokio::test]
async fn close_stops_and_awaits_background_tasks() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(4).min_idle(2).build().unwrap();
    assert_eq!(pool.background_tasks(), 2);
    // The server counts a connection when it accepts it, before the handshake: wait on the pool.
    until("the filler to dial two", || pool.stats().idle_conns == 2).await;
    let report = pool.close(WAIT).await;
    assert_eq!(report.idle_closed, 2);
    assert_eq!(pool.background_tasks(), 0);
    server.wait_for_open_connections(0, WAIT).await.unwrap();
    assert_eq!(pool.stats().total_conns, 0);
}

#[tokio::test]
async fn close_stops_retries() {
    let addr = crate::support::refused_addr();
    let pool = Pool::builder(&format!("redis://{addr}"))
        .max_retries(1000)
        .retry_backoff(Duration::from_secs(30), Duration::from_secs(60))
        .breaker(0, Duration::ZERO)
        .build()
        .unwrap();
    let p = pool.clone();
    let query = tokio::spawn(async move { p.ping().await });
    until("the first dial to fail", || pool.stats().dial_errors >= 1).await;
    pool.close(WAIT).await;
    let r = tokio::time::timeout(Duration::from_secs(2), query).await.expect("retries stopped at close").unwrap();
    assert!(matches!(r, Err(Error::ConnectionRefused { .. })), "{r:?}");
}

#[tokio::test]
async fn dropping_the_pool_closes_idle_sockets_and_stops_tasks() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(4).min_idle(1).build().unwrap();
    let c = pool.get().await.unwrap();
    server.wait_for_open_connections(2, WAIT).await.unwrap();
    let tasks = pool.task_tracker();
    drop(pool);
    // The idle one closes now; the checked-out one when its guard drops.
    server.wait_for_open_connections(1, WAIT).await.unwrap();
    drop(c);
    server.wait_for_open_connections(0, WAIT).await.unwrap();
    tokio::time::timeout(WAIT, tasks.wait()).await.expect("background tasks stopped after drop");
    assert!(tasks.is_closed() && tasks.is_empty());
}
