//! Start-up time of each backend: from `start()` until a first PING is
//! answered, median over several runs; plus the median time to stop.
//!
//! `cargo run --release --example backend_startup --all-features [RUNS]`
//! (container runs need `REDIS_HARNESS_IMAGE` or the default image present).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use redis_harness::backend::{Backend, BackendKind};

fn ping(addr: std::net::SocketAddr) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"+PONG\r\n");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    println!("| backend | runs | median start (to first PONG) | median stop |");
    println!("| --- | --- | --- | --- |");
    for kind in BackendKind::ALL {
        let builder = Backend::builder(kind).fault_proxy(false);
        if let Err(e) = builder.check_available() {
            println!("| {kind} | 0 | skipped: {e} | |");
            continue;
        }
        let n = if runs > 0 {
            runs
        } else {
            match kind {
                BackendKind::Embedded => 101,
                BackendKind::Process => 21,
                BackendKind::Container => 11,
            }
        };
        let (mut starts, mut stops) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let t = Instant::now();
            let b = builder.clone().start().unwrap_or_else(|e| panic!("{e}"));
            ping(b.addr());
            starts.push(t.elapsed());
            let t = Instant::now();
            drop(b);
            stops.push(t.elapsed());
        }
        println!("| {kind} | {n} | {:.2?} | {:.2?} |", median(starts), median(stops));
    }
}
