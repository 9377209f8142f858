//! Every pool option, against the fake (and the scripted server where the
//! fake cannot misbehave). Time-based options run on a paused clock.

use std::time::Duration;

use redis_harness::pool::{Error, Pool, PoolOptions, TimeoutKind};
use redis_harness::FakeRedis;

use crate::support::{Scripted, WAIT};

#[test]
fn defaults_follow_go_redis() {
    let o = PoolOptions::default();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(o.pool_size, 10 * cpus);
    assert_eq!((o.min_idle, o.max_idle, o.fifo), (0, None, false));
    assert_eq!(o.dial_timeout, Some(Duration::from_secs(5)));
    assert_eq!(o.read_timeout, Some(Duration::from_secs(3)));
    assert_eq!(o.write_timeout, o.read_timeout);
    assert_eq!(o.pool_timeout, Some(Duration::from_secs(4)));
    assert_eq!(o.conn_max_idle_time, Some(Duration::from_secs(1800)));
    assert_eq!(o.conn_max_lifetime, None);
    assert_eq!(o.max_retries, 3);
    assert_eq!((o.min_retry_backoff, o.max_retry_backoff), (Duration::from_millis(8), Duration::from_millis(512)));
}

#[tokio::test]
async fn read_timeout_sets_unset_write_and_pool_timeouts_like_go_redis() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).read_timeout(Duration::from_secs(7)).build().unwrap();
    assert_eq!(pool.options().write_timeout, Some(Duration::from_secs(7)));
    assert_eq!(pool.options().pool_timeout, Some(Duration::from_secs(8)));
    let pool = Pool::builder(&server.url())
        .write_timeout(None)
        .pool_timeout(Duration::from_secs(1))
        .read_timeout(None)
        .build()
        .unwrap();
    assert_eq!((pool.options().write_timeout, pool.options().pool_timeout), (None, Some(Duration::from_secs(1))));
}

#[tokio::test]
async fn pool_size_bounds_checkouts_and_pool_timeout_says_what_to_do() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(2).pool_timeout(Duration::from_millis(50)).build().unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { kind: TimeoutKind::PoolWait { pool_size: 2 }, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("all 2 connections to {} busy for 50ms — raise pool_size or find who holds connections", server.addr())
    );
    let s = pool.stats();
    assert_eq!((s.timeouts, s.waits, s.in_use, s.misses), (1, 1, 2, 2));
    assert!(s.wait_duration >= Duration::from_millis(50));
    drop((a, b));
    assert_eq!(server.open_connections(), 2);
    let c = pool.get().await.unwrap();
    assert_eq!(pool.stats().hits, 1);
    drop(c);
}

#[tokio::test]
async fn max_idle_closes_extra_connections_on_return() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(4).max_idle(Some(1)).build().unwrap();
    let conns = vec![pool.get().await.unwrap(), pool.get().await.unwrap(), pool.get().await.unwrap()];
    drop(conns);
    let s = pool.stats();
    assert_eq!((s.idle_conns, s.closed_excess_idle, s.total_conns), (1, 2, 1));
    server.wait_for_open_connections(1, WAIT).await.unwrap();
}

async fn order(fifo: bool) -> (u64, u64, u64) {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).fifo(fifo).build().unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let (ida, idb) = (a.connection_id().unwrap(), b.connection_id().unwrap());
    drop(a);
    drop(b);
    let next = pool.get().await.unwrap().connection_id().unwrap();
    (ida, idb, next)
}

#[tokio::test]
async fn lifo_by_default_fifo_on_request() {
    let (_, b, next) = order(false).await;
    assert_eq!(next, b, "LIFO hands out the most recently returned");
    let (a, _, next) = order(true).await;
    assert_eq!(next, a, "FIFO hands out the oldest returned");
}

#[tokio::test]
async fn min_idle_is_kept_up() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(3).min_idle(2).build().unwrap();
    crate::support::until("the filler to dial two", || pool.stats().idle_conns == 2).await;
    // Taking one leaves one idle: the filler dials another.
    let c = pool.get().await.unwrap();
    crate::support::until("the filler to dial a third", || pool.stats().idle_conns == 2).await;
    // Never past pool_size.
    let d = pool.get().await.unwrap();
    let e = pool.get().await.unwrap();
    assert_eq!(server.open_connections(), 3);
    drop((c, d, e));
    pool.close(WAIT).await;
    server.wait_for_open_connections(0, WAIT).await.unwrap();
}

/// Idle time, lifetime and the reaper on a paused clock. No timeout may be
/// pending while real I/O is in flight (the paused clock would jump to it),
/// hence no dial/read/write timeouts here.
fn paused_pool(server: &FakeRedis) -> redis_harness::pool::PoolBuilder {
    Pool::builder(&server.url())
        .dial_timeout(None)
        .read_timeout(None)
        .write_timeout(None)
        .ping_after_idle(None)
        .reaper_interval(None)
}

#[tokio::test]
async fn conn_max_idle_time_closes_at_checkout() {
    let server = FakeRedis::start().await;
    let pool = paused_pool(&server).conn_max_idle_time(Duration::from_secs(60)).build().unwrap();
    let first = pool.get().await.unwrap().connection_id();
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(pool.get().await.unwrap().connection_id(), first, "59s idle is fine");
    tokio::time::advance(Duration::from_secs(61)).await;
    let next = pool.get().await.unwrap().connection_id();
    assert_ne!(next, first);
    assert_eq!(pool.stats().closed_idle_time, 1);
    tokio::time::resume();
    server.wait_for_open_connections(1, WAIT).await.unwrap();
}

#[tokio::test]
async fn conn_max_lifetime_with_jitter() {
    let server = FakeRedis::start().await;
    let pool =
        paused_pool(&server).conn_max_lifetime(Duration::from_secs(100)).conn_max_lifetime_jitter(0.5).build().unwrap();
    tokio::time::pause();
    let first = pool.get().await.unwrap().connection_id();
    tokio::time::advance(Duration::from_secs(49)).await;
    assert_eq!(pool.get().await.unwrap().connection_id(), first, "jitter takes at most half the lifetime");
    tokio::time::advance(Duration::from_secs(52)).await;
    assert_ne!(pool.get().await.unwrap().connection_id(), first);
    assert_eq!(pool.stats().closed_lifetime, 1);
}

#[tokio::test]
async fn reaper_closes_stale_idle_connections_in_the_background() {
    let server = FakeRedis::start().await;
    let pool = paused_pool(&server)
        .conn_max_idle_time(Duration::from_secs(10))
        .reaper_interval(Duration::from_secs(5))
        .build()
        .unwrap();
    tokio::time::pause();
    drop(pool.get().await.unwrap());
    assert_eq!(pool.stats().idle_conns, 1);
    tokio::time::advance(Duration::from_secs(16)).await;
    crate::support::until("the reaper to run", || pool.stats().closed_idle_time == 1).await;
    assert_eq!(pool.stats().total_conns, 0);
    tokio::time::resume();
    server.wait_for_open_connections(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn checkout_discards_connections_closed_by_the_server_without_a_round_trip() {
    let server = Scripted::start();
    let pool = Pool::builder(&server.url()).ping_after_idle(None).max_retries(0).build().unwrap();
    drop(pool.get().await.unwrap());
    server.kill_all();
    server.wait_open(0).await;
    let pings = server.count("PING");
    // The GET is not retryable after a send: it only succeeds if the dead
    // connection was never used.
    let mut c = pool.get().await.unwrap();
    c.set("k", "v").await.unwrap();
    assert_eq!(pool.stats().closed_broken, 1);
    assert_eq!(server.count("PING"), pings, "the check is free: no PING");
}

#[tokio::test]
async fn checkout_discards_connections_with_unexpected_bytes() {
    let server = Scripted::start();
    let pool = Pool::builder(&server.url()).ping_after_idle(None).build().unwrap();
    let first = pool.get().await.unwrap().connection_id();
    server.inject(b"+stray\r\n");
    // Check out until the stray bytes have arrived and the check saw them
    // (the connection is reused unchanged until then, which is also correct).
    let r = tokio::time::timeout(WAIT, async {
        loop {
            let c = pool.get().await.unwrap();
            if c.connection_id() != first {
                return c;
            }
            drop(c);
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut fresh = r.expect("the stray bytes were never noticed");
    assert_eq!(pool.stats().closed_broken, 1);
    assert_eq!(fresh.get("k").await.unwrap().as_deref(), Some(&b"value-of-k"[..]));
}

#[tokio::test]
async fn long_idle_connections_are_pinged_at_checkout() {
    let server = Scripted::start();
    let pool = Pool::builder(&server.url()).ping_after_idle(Duration::ZERO).build().unwrap();
    drop(pool.get().await.unwrap());
    assert_eq!(server.count("PING"), 0, "a fresh connection is not pinged");
    drop(pool.get().await.unwrap());
    assert_eq!(server.count("PING"), 1);
}

#[tokio::test]
async fn health_check_for_readiness_endpoints() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).build().unwrap();
    let h = pool.health_check().await.unwrap();
    assert_eq!((h.stats.misses, h.stats.idle_conns), (1, 1));
    pool.close(WAIT).await;
    assert!(matches!(pool.health_check().await, Err(Error::Closed { .. })));
}
