//! Start-up benchmark: time from `FakeRedis::start` to the first `+PONG`
//! read by a client, over many starts in one process. Run by `just bench`.
//!
//! The same loop also runs against the least a server can do (a thread
//! already awake that binds, accepts, reads and writes with bare system
//! calls), interleaved with the fake's starts, so that the report shows how
//! far the fake is from this machine's floor as well as its absolute time:
//! on a shared VM the absolute numbers drift by tens of percent.
//!
//! `cargo run --release --example startup -- [STARTS]`

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis_harness::FakeRedis;

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// One start-to-PONG against a fresh fake server.
fn fake_once() -> Duration {
    let t0 = Instant::now();
    let server = FakeRedis::builder().start_blocking();
    let elapsed = ping(server.addr(), t0);
    drop(server);
    elapsed
}

/// Connects, sends PING, reads `+PONG`: the time since `t0`.
fn ping(addr: std::net::SocketAddr, t0: Instant) -> Duration {
    let mut s = TcpStream::connect(addr).expect("connect to the server");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(PING).expect("write PING");
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).expect("read PONG");
    let elapsed = t0.elapsed();
    assert_eq!(&buf, b"+PONG\r\n");
    // Close with RST: thousands of starts would otherwise leave as many
    // TIME_WAIT sockets, and a port range nearly full of them makes every
    // later bind and connect search longer (and the numbers drift upwards).
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    elapsed
}

/// The floor: a thread that busy-polls for the next listener (for 200 µs,
/// as the fake's workers do), then for a client, then for its command, and
/// writes `+PONG`.
struct Floor {
    listeners: mpsc::Sender<TcpListener>,
    done: mpsc::Receiver<()>,
}

impl Floor {
    fn start() -> Floor {
        let (tx, rx) = mpsc::channel::<TcpListener>();
        let (done_tx, done) = mpsc::channel();
        std::thread::spawn(move || loop {
            // Busy-polls for a while, then sleeps, so that it leaves the
            // CPU to the fake's starts between blocks.
            let until = Instant::now() + Duration::from_micros(200);
            let next = loop {
                match rx.try_recv() {
                    Ok(l) => break Some(l),
                    Err(mpsc::TryRecvError::Empty) if Instant::now() < until => std::hint::spin_loop(),
                    Err(mpsc::TryRecvError::Empty) => break rx.recv().ok(),
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            };
            let Some(l) = next else { return };
            l.set_nonblocking(true).expect("non-blocking listener");
            let mut s = loop {
                match l.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                    Err(e) => panic!("accept: {e}"),
                }
            };
            s.set_nonblocking(true).expect("non-blocking socket");
            let mut buf = [0u8; 64];
            let mut got = 0;
            while got < PING.len() {
                match s.read(&mut buf[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                    Err(e) => panic!("read: {e}"),
                }
            }
            s.write_all(b"+PONG\r\n").expect("write PONG");
            let _ = done_tx.send(());
        });
        Floor { listeners: tx, done }
    }

    fn once(&self) -> Duration {
        let t0 = Instant::now();
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("local addr");
        self.listeners.send(l).expect("the floor thread runs");
        let elapsed = ping(addr, t0);
        self.done.recv().expect("the floor thread answers");
        elapsed
    }
}

fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    format!("median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, min {:.3} ms", pct(0.5), pct(0.9), pct(0.99), pct(0.0))
}

fn main() {
    let starts: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let floor = Floor::start();
    let mut fake = Vec::with_capacity(starts);
    let mut bare = Vec::with_capacity(starts);
    // Interleaved in blocks, so drift in the machine's speed hits both alike.
    for block in 0..starts.div_ceil(100) {
        let n = 100.min(starts - block * 100);
        fake.extend((0..n).map(|_| fake_once()));
        bare.extend((0..n).map(|_| floor.once()));
    }
    let (f, b) = (summary(&mut fake), summary(&mut bare));
    let ratio = fake[fake.len() / 2].as_secs_f64() / bare[bare.len() / 2].as_secs_f64();
    println!("start-to-first-PONG over {starts} starts: {f}");
    println!("floor (bare busy-polling thread, same run): {b}; fake/floor {ratio:.2}");
}
