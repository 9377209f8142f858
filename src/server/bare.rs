//! The server machinery behind [`FakeRedis`](super::FakeRedis): its own
//! thread and current-thread runtime, the accept loops, active expiry.
//!
//! Owning a thread and runtime lets `Drop` stop the server synchronously
//! from any test runtime (or none), as wiremock's bare server does.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::connection::{self, Peer};
use super::state::Shared;

/// Listeners bound by the caller (so bind errors surface at start).
pub(crate) struct Listeners {
    pub tcp: std::net::TcpListener,
    pub unix: Option<std::os::unix::net::UnixListener>,
}

/// A running server thread.
pub(crate) struct BareServer {
    pub shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BareServer {
    pub(crate) fn spawn(shared: Arc<Shared>, listeners: Listeners) -> io::Result<BareServer> {
        listeners.tcp.set_nonblocking(true)?;
        if let Some(u) = &listeners.unix {
            u.set_nonblocking(true)?;
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let sh = shared.clone();
        let thread = std::thread::Builder::new().name("redis-harness-server".into()).spawn(move || {
            rt.block_on(run(sh, listeners));
            // Dropping the runtime drops every connection task, which
            // closes its socket and unregisters it.
            drop(rt);
        })?;
        Ok(BareServer { shared, thread: Some(thread) })
    }

    /// Signals shutdown and waits for the server thread to finish.
    pub(crate) fn stop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run(shared: Arc<Shared>, listeners: Listeners) {
    let tcp = match tokio::net::TcpListener::from_std(listeners.tcp) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("redis-harness: cannot register TCP listener: {e}");
            return;
        }
    };
    let unix = listeners.unix.and_then(|u| tokio::net::UnixListener::from_std(u).ok());
    let mut shutdown = shared.shutdown.subscribe();
    let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut expiry_tick = tokio::time::interval(Duration::from_millis(100));
    expiry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            // Fault hooks: `accepting` holds accepts under a stop-accepting rule,
            // `admit` lets a refuse/max-clients rule take the new socket.
            r = shared.faults.accepting_then(tcp.accept()) => {
                if let Some((stream, peer)) = r.ok().and_then(|(s, p)| Some((crate::fault::server::admit(&shared, s)?, p))) {
                    let _ = stream.set_nodelay(true);
                    let fd = raw_fd(&stream);
                    let (id, kill) = connection::register(&shared, Peer { peer: peer.to_string(), local: local.clone(), unix: false, fd });
                    tokio::spawn(connection::serve(stream, shared.clone(), id, kill));
                }
            }
            r = shared.faults.accepting_then(accept_unix(unix.as_ref())) => {
                if let Some(stream) = r.ok().and_then(|s| crate::fault::server::admit(&shared, s)) {
                    let fd = raw_fd(&stream);
                    let path = stream.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.display().to_string())).unwrap_or_default();
                    let (id, kill) = connection::register(&shared, Peer { peer: format!("{path}:0"), local: format!("{path}:0"), unix: true, fd });
                    tokio::spawn(connection::serve(stream, shared.clone(), id, kill));
                }
            }
            _ = expiry_tick.tick() => {
                let now = shared.clock.now_ms();
                shared.lock().expire_cycle(now);
            }
        }
    }
}

async fn accept_unix(l: Option<&tokio::net::UnixListener>) -> io::Result<tokio::net::UnixStream> {
    match l {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

fn raw_fd<T: std::os::fd::AsRawFd>(s: &T) -> i64 {
    s.as_raw_fd() as i64
}
