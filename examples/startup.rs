//! Start-up benchmark: time from `FakeRedis::start` to the first `+PONG`
//! read by a client, over many starts in one process. Run by `just bench`.
//!
//! `cargo run --release --example startup -- [STARTS]`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redis_harness::FakeRedis;

fn main() {
    let starts: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut samples: Vec<Duration> = Vec::with_capacity(starts);
    for _ in 0..starts {
        let t0 = Instant::now();
        let server = FakeRedis::builder().start_blocking();
        let mut s = TcpStream::connect(server.addr()).expect("connect to the fake server");
        s.set_nodelay(true).expect("nodelay");
        s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write PING");
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).expect("read PONG");
        let elapsed = t0.elapsed();
        assert_eq!(&buf, b"+PONG\r\n");
        samples.push(elapsed);
        drop(s);
        drop(server);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "start-to-first-PONG over {starts} starts: median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, min {:.3} ms",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.9).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3
    );
}
