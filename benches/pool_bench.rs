//! Pool benchmark: GET/SET throughput with 1, 16 and 128 concurrent tasks,
//! redis-harness's pool side by side with deadpool-redis, bb8-redis and a
//! single redis-rs `MultiplexedConnection`, against the fake and a real
//! redis-server; plus checkout+return latency. Prints numbers, asserts nothing.
//!
//! Run: `just bench-pool` (= `cargo bench --bench pool_bench`).
//! `POOL_BENCH_SECS` sets the seconds per measurement (default 1).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_harness::backend::RedisProcess;
use redis_harness::pool::Pool;
use redis_harness::FakeRedis;

const POOL_SIZE: usize = 16;
const CONCURRENCY: [usize; 3] = [1, 16, 128];

/// One operation of the GET/SET mix: even counters SET, odd ones GET.
trait Client: Clone + Send + Sync + 'static {
    fn op(&self, i: u64) -> impl std::future::Future<Output = ()> + Send;
}

#[derive(Clone)]
struct Harness(Pool);
impl Client for Harness {
    async fn op(&self, i: u64) {
        let key = format!("k{}", i % 1024);
        if i.is_multiple_of(2) {
            self.0.set(key, "value").await.expect("SET");
        } else {
            self.0.get_value(key).await.expect("GET");
        }
    }
}

#[derive(Clone)]
struct Deadpool(deadpool_redis::Pool);
impl Client for Deadpool {
    async fn op(&self, i: u64) {
        let mut c = self.0.get().await.expect("deadpool get");
        redis_op(&mut *c, i).await;
    }
}

#[derive(Clone)]
struct Bb8(bb8_redis::bb8::Pool<bb8_redis::RedisConnectionManager>);
impl Client for Bb8 {
    async fn op(&self, i: u64) {
        let mut c = self.0.get().await.expect("bb8 get");
        redis_op(&mut *c, i).await;
    }
}

#[derive(Clone)]
struct Multiplexed(redis::aio::MultiplexedConnection);
impl Client for Multiplexed {
    async fn op(&self, i: u64) {
        let mut c = self.0.clone();
        redis_op(&mut c, i).await;
    }
}

async fn redis_op<C: redis::aio::ConnectionLike + Send>(c: &mut C, i: u64) {
    let key = format!("k{}", i % 1024);
    if i.is_multiple_of(2) {
        let _: () = redis::cmd("SET").arg(&key).arg("value").query_async(c).await.expect("SET");
    } else {
        let _: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(c).await.expect("GET");
    }
}

/// Ops per second with `tasks` concurrent tasks for `secs`.
async fn throughput<C: Client>(client: C, tasks: usize, secs: Duration) -> f64 {
    // Warm up: fill the pool and the server's key space.
    for i in 0..(2 * POOL_SIZE as u64) {
        client.op(i).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (client, stop, done) = (client.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = t as u64 * 1_000_003;
                while !stop.load(Ordering::Relaxed) {
                    client.op(i).await;
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.expect("task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Median and p99 of checkout + return (no command), one task.
async fn checkout_latency<F, Fut>(mut checkout: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..100 {
        checkout().await;
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let t = Instant::now();
        checkout().await;
        samples.push(t.elapsed());
    }
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

async fn bench_backend(name: &str, url: &str, secs: Duration) {
    println!("\n## {name} ({url})\n");
    println!("| client | 1 task | 16 tasks | 128 tasks |");
    println!("|---|---:|---:|---:|");

    let harness = Harness(Pool::builder(url).pool_size(POOL_SIZE).build().expect("pool"));
    let mut cfg = deadpool_redis::Config::from_url(url);
    cfg.pool = Some(deadpool_redis::PoolConfig::new(POOL_SIZE));
    let deadpool = Deadpool(cfg.create_pool(Some(deadpool_redis::Runtime::Tokio1)).expect("deadpool"));
    let bb8 = Bb8(bb8_redis::bb8::Pool::builder()
        .max_size(POOL_SIZE as u32)
        .build(bb8_redis::RedisConnectionManager::new(url).expect("bb8 manager"))
        .await
        .expect("bb8"));
    let client = redis::Client::open(url).expect("redis client");
    let mux = Multiplexed(client.get_multiplexed_async_connection().await.expect("multiplexed"));

    let row = |label: &str, v: Vec<f64>| {
        println!("| {label} | {:.0} | {:.0} | {:.0} |", v[0], v[1], v[2]);
    };
    let mut v = Vec::new();
    for t in CONCURRENCY {
        v.push(throughput(harness.clone(), t, secs).await);
    }
    row("redis-harness pool", v);
    let mut v = Vec::new();
    for t in CONCURRENCY {
        v.push(throughput(deadpool.clone(), t, secs).await);
    }
    row("deadpool-redis", v);
    let mut v = Vec::new();
    for t in CONCURRENCY {
        v.push(throughput(bb8.clone(), t, secs).await);
    }
    row("bb8-redis", v);
    let mut v = Vec::new();
    for t in CONCURRENCY {
        v.push(throughput(mux.clone(), t, secs).await);
    }
    row("redis-rs MultiplexedConnection (1 conn)", v);

    println!("\ncheckout + return, no command (median / p99):\n");
    let (m, p) = checkout_latency(|| {
        let p = harness.0.clone();
        async move {
            drop(p.get().await.expect("get"));
        }
    })
    .await;
    println!("- redis-harness pool: {m:?} / {p:?}");
    let (m, p) = checkout_latency(|| {
        let p = deadpool.0.clone();
        async move {
            drop(p.get().await.expect("get"));
        }
    })
    .await;
    println!("- deadpool-redis: {m:?} / {p:?}");
    let (m, p) = checkout_latency(|| {
        let p = bb8.0.clone();
        async move {
            drop(p.get().await.expect("get"));
        }
    })
    .await;
    println!("- bb8-redis: {m:?} / {p:?}");
    let report = harness.0.close(Duration::from_secs(5)).await;
    assert_eq!(report.aborted, 0);
}

fn main() {
    let secs = std::env::var("POOL_BENCH_SECS").ok().and_then(|s| s.parse().ok()).map(Duration::from_secs_f64);
    let secs = secs.unwrap_or(Duration::from_secs(1));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("pool benchmark: pool size {POOL_SIZE}, {secs:?} per cell, GET/SET 50/50, ops/s");
        let fake = FakeRedis::start().await;
        bench_backend("fake (redis-harness FakeRedis)", &fake.url(), secs).await;
        match RedisProcess::start() {
            Ok(real) => bench_backend("real redis-server", &real.url(), secs).await,
            Err(e) => println!("\nreal redis-server skipped: {e}"),
        }
    });
}
