//! A scripted RESP server that fails on purpose: it holds chosen commands
//! until released, never answers the handshake, drops connections after
//! reading a command, or stops reading altogether. It runs on its own
//! thread and runtime (like `FakeRedis`), so tests may pause their clock.

#![allow(dead_code)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use redis_protocol::resp2::types::BytesFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// What the server does with a command whose name is in a set.
#[derive(Default)]
struct Script {
    /// Held until `release()` gives a permit (or forever).
    hold: HashSet<String>,
    /// The connection is closed after the command is read, with no reply.
    drop_after_read: HashSet<String>,
    /// Answered after this real delay (a slow server, not test synchronisation).
    delay: Vec<(String, Duration)>,
    /// HELLO is refused, so clients stay on RESP2.
    refuse_hello: bool,
}

struct Shared {
    script: Mutex<Script>,
    gate: Semaphore,
    /// Names of the commands received, in order.
    log: Mutex<Vec<String>>,
    log_tx: watch::Sender<usize>,
    open_tx: watch::Sender<usize>,
    accepted: AtomicUsize,
    /// While set, connections stop reading (a server that does not drain its input).
    paused: AtomicBool,
    kill: watch::Sender<u64>,
    inject: watch::Sender<(u64, Vec<u8>)>,
}

/// Handle to the scripted server; dropping it stops the thread.
pub struct Scripted {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scripted {
    pub fn start() -> Scripted {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            script: Mutex::new(Script::default()),
            gate: Semaphore::new(0),
            log: Mutex::new(Vec::new()),
            log_tx: watch::channel(0).0,
            open_tx: watch::channel(0).0,
            accepted: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
            kill: watch::channel(0).0,
            inject: watch::channel((0, Vec::new())).0,
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let sh = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                let accept = async {
                    loop {
                        let Ok((sock, _)) = listener.accept().await else { continue };
                        sh.accepted.fetch_add(1, Ordering::SeqCst);
                        sh.open_tx.send_modify(|n| *n += 1);
                        let sh = sh.clone();
                        tokio::spawn(async move {
                            serve(sock, &sh).await;
                            sh.open_tx.send_modify(|n| *n -= 1);
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            // Dropping the runtime drops every connection task and socket.
        });
        Scripted { addr, shared, stop: Some(stop_tx), thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn hold(&self, cmd: &str) {
        self.shared.script.lock().unwrap().hold.insert(cmd.to_uppercase());
    }

    pub fn unhold(&self, cmd: &str) {
        self.shared.script.lock().unwrap().hold.remove(&cmd.to_uppercase());
    }

    pub fn drop_after_read(&self, cmd: &str) {
        self.shared.script.lock().unwrap().drop_after_read.insert(cmd.to_uppercase());
    }

    pub fn delay(&self, cmd: &str, by: Duration) {
        self.shared.script.lock().unwrap().delay.push((cmd.to_uppercase(), by));
    }

    pub fn refuse_hello(&self) {
        self.shared.script.lock().unwrap().refuse_hello = true;
    }

    pub fn pause_reading(&self, on: bool) {
        self.shared.paused.store(on, Ordering::SeqCst);
    }

    /// Lets `n` held commands through.
    pub fn release(&self, n: usize) {
        self.shared.gate.add_permits(n);
    }

    /// Closes every connection from the server side.
    pub fn kill_all(&self) {
        self.shared.kill.send_modify(|n| *n += 1);
    }

    /// Writes unsolicited bytes to every connection.
    pub fn inject(&self, bytes: &[u8]) {
        self.shared.inject.send_modify(|(n, b)| {
            *n += 1;
            *b = bytes.to_vec();
        });
    }

    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn count(&self, cmd: &str) -> usize {
        self.log().iter().filter(|c| c.eq_ignore_ascii_case(cmd)).count()
    }

    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub fn open(&self) -> usize {
        *self.shared.open_tx.borrow()
    }

    /// Waits (bounded) until `n` connections are open.
    pub async fn wait_open(&self, n: usize) {
        let mut rx = self.shared.open_tx.subscribe();
        let r = tokio::time::timeout(WAIT, rx.wait_for(|v| *v == n)).await;
        assert!(r.is_ok(), "expected {n} open connections, have {}", self.open());
    }

    /// Waits (bounded) until `cmd` has been received `n` times.
    pub async fn wait_for(&self, cmd: &str, n: usize) {
        let mut rx = self.shared.log_tx.subscribe();
        let r = tokio::time::timeout(WAIT, rx.wait_for(|_| self.count(cmd) >= n)).await;
        assert!(r.is_ok(), "expected {cmd} {n} times, log: {:?}", self.log());
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode(buf: &mut BytesMut) -> Option<Vec<String>> {
    let (frame, used) = redis_protocol::resp2::decode::decode_bytes(&buf.clone().freeze()).ok()??;
    buf.advance(used);
    match frame {
        BytesFrame::Array(items) => Some(
            items
                .into_iter()
                .map(|f| match f {
                    BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect(),
        ),
        _ => Some(vec!["?".into()]),
    }
}

fn reply_for(args: &[String], resp3: bool, refuse_hello: bool) -> Vec<u8> {
    let name = args.first().map(|s| s.to_uppercase()).unwrap_or_default();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match name.as_str() {
        "HELLO" if refuse_hello => b"-ERR unknown command 'HELLO', with args beginning with: '3' \r\n".to_vec(),
        "HELLO" => b"%1\r\n+proto\r\n:3\r\n".to_vec(),
        "PING" => b"+PONG\r\n".to_vec(),
        "GET" | "BLPOP" => {
            let v = format!("value-of-{}", arg(1));
            format!("${}\r\n{}\r\n", v.len(), v).into_bytes()
        }
        "INCR" => b":1\r\n".to_vec(),
        "LOADING" => b"-LOADING Redis is loading the dataset in memory\r\n".to_vec(),
        _ => {
            let _ = resp3;
            b"+OK\r\n".to_vec()
        }
    }
}

async fn serve(mut sock: TcpStream, sh: &Shared) {
    let mut buf = BytesMut::new();
    let mut kill = sh.kill.subscribe();
    let mut inject = sh.inject.subscribe();
    kill.borrow_and_update();
    inject.borrow_and_update();
    let mut resp3 = false;
    loop {
        while let Some(args) = decode(&mut buf) {
            let name = args.first().map(|s| s.to_uppercase()).unwrap_or_default();
            sh.log.lock().unwrap().push(name.clone());
            sh.log_tx.send_modify(|n| *n += 1);
            let (held, dropped, delay, refuse) = {
                let s = sh.script.lock().unwrap();
                (
                    s.hold.contains(&name),
                    s.drop_after_read.contains(&name),
                    s.delay.iter().find(|(c, _)| *c == name).map(|(_, d)| *d),
                    s.refuse_hello,
                )
            };
            if dropped {
                return;
            }
            if held {
                // Wait for a release, but notice the client going away.
                let mut scratch = [0u8; 4096];
                loop {
                    tokio::select! {
                        p = sh.gate.acquire() => {
                            if let Ok(p) = p { p.forget(); }
                            break;
                        }
                        n = sock.read(&mut scratch) => match n {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&scratch[..n]),
                        },
                        _ = kill.changed() => return,
                    }
                }
            }
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            if name == "HELLO" && !refuse {
                resp3 = true;
            }
            if sock.write_all(&reply_for(&args, resp3, refuse)).await.is_err() {
                return;
            }
        }
        while sh.paused.load(Ordering::SeqCst) {
            tokio::select! {
                _ = kill.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
        let mut scratch = [0u8; 65536];
        tokio::select! {
            n = sock.read(&mut scratch) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&scratch[..n]),
            },
            _ = kill.changed() => return,
            r = inject.changed() => {
                if r.is_err() { return; }
                let bytes = inject.borrow_and_update().1.clone();
                if sock.write_all(&bytes).await.is_err() { return; }
            }
        }
    }
}

/// A port with nothing listening on it (bound, then released).
pub fn refused_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Waits (bounded, no sleeping) until `cond` holds, yielding to other tasks.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let r = tokio::time::timeout(WAIT, async {
        while !cond() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(r.is_ok(), "timed out waiting for: {what}");
}
