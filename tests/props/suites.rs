//! The suite against each backend, and the waiter-order property.

use std::time::Duration;

use proptest::prelude::*;
use redis_harness::pool::Pool;
use redis_harness::FakeRedis;

use crate::backend::{wait_until, Fake, Real};
use crate::runner::{cases, check};

/// Default case counts: the whole binary stays well under 2 minutes on 2 cores.
const FAKE_CASES: u32 = 32;
const REAL_CASES: u32 = 16;

#[test]
fn pool_invariants_hold_against_the_fake_server() {
    check("pool_invariants_hold_against_the_fake_server", &Fake, FAKE_CASES);
}

#[test]
fn pool_invariants_hold_against_a_real_server_behind_the_proxy() {
    let test = "pool_invariants_hold_against_a_real_server_behind_the_proxy";
    let Some(real) = Real::start_or_skip(test) else { return };
    check(test, &real, REAL_CASES);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(16),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(crate::runner::REGRESSIONS))),
        ..ProptestConfig::default()
    })]

    /// Waiters are served in the order they queued (pool_size 1, each
    /// waiter queued only once the previous one is counted as waiting).
    #[test]
    fn waiters_are_served_in_order(waiters in 2usize..6, fifo in any::<bool>()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let order = rt.block_on(async move {
            let server = FakeRedis::start().await;
            let pool = Pool::builder(&server.url())
                .pool_size(1)
                .fifo(fifo)
                .pool_timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let held = pool.get().await.unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let mut tasks = Vec::new();
            for i in 0..waiters {
                let (p, tx) = (pool.clone(), tx.clone());
                tasks.push(tokio::spawn(async move {
                    let c = p.get().await.unwrap();
                    tx.send(i).unwrap();
                    drop(c);
                }));
                let queued = wait_until(Duration::from_secs(5), || pool.stats().waits as usize == i + 1).await;
                assert!(queued, "waiter {i} never queued");
            }
            drop(held);
            let mut order = Vec::new();
            for _ in 0..waiters {
                order.push(tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap());
            }
            for t in tasks {
                t.await.unwrap();
            }
            pool.close(Duration::from_secs(1)).await;
            order
        });
        prop_assert_eq!(order, (0..waiters).collect::<Vec<_>>(), "[waiters_served_in_order]");
    }
}
