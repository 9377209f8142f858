//! [`FaultProxy`]: the fault rules of the fake server, in front of any Redis.
//!
//! The proxy parses RESP both ways (with the `redis-protocol` crate):
//! client commands so rules can match them, server replies so it knows
//! where each reply ends. Replies map to commands in order, as Redis sends
//! them; RESP3 push frames are passed through as they come. What it cannot
//! map — after `MONITOR`, `CLIENT REPLY`, RESP2 `SUBSCRIBE`, or bytes that
//! do not parse — it forwards untouched from then on, with faults on
//! replies no longer applied on that connection.
//!
//! It stands on the same connection-host core as the fake server
//! (`crate::host`): the same listener (`SO_REUSEADDR`), socket registry
//! (exact counts, leak waits, kill-all) and worker threads, each with its
//! own runtime; dropping it closes everything.

mod conn;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::engine::state::CommandLog;
use crate::fault::{FaultGuard, FaultHost, FaultRule, Hub, RuleInfo};
use crate::host::{ClientSnapshot, ConnectionHost, LeakError, Sockets, StartError};
use crate::server::RecordedCommand;

/// A TCP proxy that forwards to a real Redis and injects faults.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use redis_harness::{fault::FaultRule, FaultProxy};
///
/// let proxy = FaultProxy::start("127.0.0.1:6379".parse().unwrap()).await;
/// let _slow = proxy.fault(FaultRule::latency(Duration::from_millis(200)).on(["GET"]));
/// let client = redis::Client::open(proxy.url()).unwrap();
/// // ... code under test talks to the real Redis through the proxy ...
/// # }
/// ```
pub struct FaultProxy {
    shared: Arc<ProxyShared>,
    running: crate::host::worker::Running,
    addr: SocketAddr,
}

/// Configures a [`FaultProxy`].
#[derive(Debug, Clone)]
#[must_use = "a ProxyBuilder does nothing until you call start()"]
pub struct ProxyBuilder {
    upstream: SocketAddr,
    bind: SocketAddr,
    seed: Option<u64>,
    admin: bool,
    record_commands: bool,
    record_limit: usize,
}

/// One client connection as the proxy tracks it.
pub(crate) struct ProxyClient {
    pub peer: String,
    pub name: Bytes,
    pub created: Instant,
    pub last_interaction: Instant,
    pub last_command: String,
    pub kill: Arc<Notify>,
}

#[derive(Default)]
pub(crate) struct ProxyState {
    pub clients: BTreeMap<u64, ProxyClient>,
    pub next_id: u64,
    pub total_connections: u64,
    pub recorded: CommandLog,
}

/// What the accept loop, the connections and the handle share.
pub(crate) struct ProxyShared {
    state: Mutex<ProxyState>,
    pub faults: Hub,
    /// Where new connections are forwarded; [`FaultProxy::set_upstream`] moves it.
    upstream: Mutex<SocketAddr>,
    /// Open client sockets and the stop signal (`crate::host`).
    pub sockets: Sockets,
}

impl ProxyShared {
    /// Where a connection accepted now is forwarded.
    pub(crate) fn upstream(&self) -> SocketAddr {
        *self.upstream.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The proxy as a connection host: its own small client table.
impl ConnectionHost for ProxyShared {
    fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    fn forget(&self, id: u64) {
        self.lock().clients.remove(&id);
    }

    /// Only the fields the proxy knows are filled (it does not follow
    /// SELECT or CLIENT SETINFO: db 0, RESP as last seen in HELLO).
    fn clients(&self) -> Vec<ClientSnapshot> {
        let st = self.lock();
        let now = Instant::now();
        st.clients
            .iter()
            .map(|(id, c)| ClientSnapshot {
                id: *id,
                peer: c.peer.clone(),
                name: String::from_utf8_lossy(&c.name).into_owned(),
                lib_name: String::new(),
                lib_ver: String::new(),
                db: 0,
                resp: 2,
                age: now.duration_since(c.created),
                idle: now.duration_since(c.last_interaction),
                last_command: c.last_command.clone(),
            })
            .collect()
    }

    fn kill_all(&self, except: Option<u64>) -> usize {
        let st = self.lock();
        let mut n = 0;
        for (id, c) in &st.clients {
            if Some(*id) != except {
                c.kill.notify_one();
                n += 1;
            }
        }
        n
    }
}

impl FaultHost for ProxyShared {
    fn hub(&self) -> &Hub {
        &self.faults
    }

    fn received(&self) -> Vec<String> {
        self.lock()
            .recorded
            .iter()
            .map(|c| format!("[client {}] {}", c.client_id, crate::fault::render_command(&c.args)))
            .collect()
    }
}

impl ProxyBuilder {
    /// Listens on `addr` instead of `127.0.0.1:0`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Seed for every random choice (probability, jitter). Defaults to
    /// `REDIS_HARNESS_SEED` or a random seed; see [`FaultProxy::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Answers `HARNESS ...` admin commands itself instead of forwarding them,
    /// once the upstream has agreed the client may run an admin command
    /// (authenticated, allowed `CONFIG GET`; see docs/faults.md).
    pub fn admin(mut self, on: bool) -> Self {
        self.admin = on;
        self
    }

    /// Whether to record every command forwarded (default on).
    pub fn record_commands(mut self, on: bool) -> Self {
        self.record_commands = on;
        self
    }

    /// How many recorded commands to keep (default
    /// [`DEFAULT_RECORD_LIMIT`](crate::DEFAULT_RECORD_LIMIT)); beyond it the
    /// oldest are dropped and counted by [`FaultProxy::commands_dropped`].
    pub fn record_limit(mut self, commands: usize) -> Self {
        self.record_limit = commands;
        self
    }

    /// Starts the proxy. Usable from any async runtime.
    pub async fn start(self) -> FaultProxy {
        self.start_blocking()
    }

    /// Starts the proxy, panicking with the reason if it cannot.
    pub fn start_blocking(self) -> FaultProxy {
        match self.try_start() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts the proxy, returning why it could not. The upstream is not
    /// contacted until a client connects.
    pub fn try_start(self) -> Result<FaultProxy, StartError> {
        let listener = crate::host::listen::bind_reusable(self.bind)
            .map_err(|e| StartError::proxy(format!("binding the proxy to {} (is the port in use?)", self.bind), e))?;
        let addr = listener.local_addr().map_err(|e| StartError::proxy("reading the proxy's address", e))?;
        let shared = Arc::new(ProxyShared {
            state: Mutex::new(ProxyState {
                next_id: 1,
                recorded: CommandLog::new(self.record_commands, self.record_limit),
                ..Default::default()
            }),
            faults: Hub::new(crate::host::pick_seed(self.seed)),
            upstream: Mutex::new(self.upstream),
            sockets: Sockets::default(),
        });
        shared.faults.set_admin(self.admin);
        let sh = shared.clone();
        let running = crate::host::worker::spawn(move || accept_loop(sh, listener))
            .map_err(|e| StartError::proxy("spawning the proxy thread", e))?;
        Ok(FaultProxy { shared, running, addr })
    }
}

async fn accept_loop(shared: Arc<ProxyShared>, listener: std::net::TcpListener) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("redis-harness proxy: cannot register the listener: {e}");
            return;
        }
    };
    let mut shutdown = shared.sockets.shutdown_signal();
    // Every connection task lives in this set, so stopping the proxy aborts
    // and awaits all of them: their sockets are closed when this returns.
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {
                tasks.shutdown().await;
                return;
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            r = shared.faults.accepting_then(|| listener.accept()) => {
                // TCP_NODELAY comes from the listener on Linux (see `host::listen`).
                let Ok((stream, peer)) = r else { continue };
                #[cfg(not(target_os = "linux"))]
                let _ = stream.set_nodelay(true);
                if let Some(action) = shared.faults.on_accept() {
                    crate::fault::refuse(stream, action);
                    continue;
                }
                let registration = conn::register(&shared, peer);
                tasks.spawn(conn::serve(stream, registration));
            }
        }
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of the Redis at `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        FaultProxy::builder(upstream).start().await
    }

    /// A builder for the non-default cases.
    pub fn builder(upstream: SocketAddr) -> ProxyBuilder {
        ProxyBuilder {
            upstream,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            admin: false,
            record_commands: true,
            record_limit: crate::DEFAULT_RECORD_LIMIT,
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://ADDR` of the proxy (add credentials the upstream needs yourself).
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// The Redis it forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream()
    }

    /// Forwards connections accepted from now on to `upstream` (for a Redis
    /// that came back on another port, like a restarted container).
    /// Connections already open keep their upstream until they close.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().unwrap_or_else(|e| e.into_inner()) = upstream;
    }

    /// The seed behind every random choice.
    pub fn seed(&self) -> u64 {
        self.shared.faults.seed()
    }

    /// Installs a fault rule until the guard is dropped (as [`crate::FakeRedis::fault`]).
    pub fn fault(&self, rule: FaultRule) -> FaultGuard {
        let host: Arc<dyn FaultHost> = self.shared.clone();
        FaultGuard::install(&host, rule)
    }

    /// The rules installed now, in the order they are tried.
    pub fn fault_rules(&self) -> Vec<RuleInfo> {
        self.shared.faults.list()
    }

    /// Closes every client connection now (and its upstream connection);
    /// returns how many.
    pub fn kill_all(&self) -> usize {
        ConnectionHost::kill_all(&*self.shared, None)
    }

    /// Client sockets open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.sockets.open()
    }

    /// Client connections accepted since start (refused ones excluded).
    pub fn total_connections(&self) -> u64 {
        self.shared.lock().total_connections
    }

    /// Every command forwarded or faulted, in order (empty if recording is
    /// off): the most recent [`ProxyBuilder::record_limit`] of them.
    pub fn commands(&self) -> Vec<RecordedCommand> {
        self.shared.lock().recorded.to_vec()
    }

    /// How many recorded commands were dropped to stay within the limit.
    pub fn commands_dropped(&self) -> u64 {
        self.shared.lock().recorded.dropped()
    }

    /// The client connections open now (only the fields the proxy knows are filled).
    pub fn clients(&self) -> Vec<ClientSnapshot> {
        ConnectionHost::clients(&*self.shared)
    }

    /// Waits until exactly `n` client sockets are open, or fails after
    /// `timeout` with the clients still open.
    pub async fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> Result<(), LeakError> {
        crate::host::wait_for_open(&*self.shared, self.addr, n, timeout).await
    }

    /// Blocking form of [`FaultProxy::wait_for_open_connections`] for plain `#[test]`s.
    pub fn wait_for_open_connections_blocking(&self, n: usize, timeout: Duration) -> Result<(), LeakError> {
        crate::host::wait_for_open_blocking(&*self.shared, self.addr, n, timeout)
    }

    /// Panics unless every client socket is closed within `timeout`.
    pub async fn assert_no_leaks(&self, timeout: Duration) {
        if let Err(e) = self.wait_for_open_connections(0, timeout).await {
            panic!("socket leak through the fault proxy in front of {}: {e}", self.upstream());
        }
    }

    /// Stops the proxy and closes every socket it holds.
    pub fn stop(&mut self) {
        self.shared.sockets.stop();
        self.running.wait();
    }
}

impl Drop for FaultProxy {
    /// Stops the proxy, then verifies the expectations of rules whose guards
    /// are still alive (panicking, unless already panicking).
    fn drop(&mut self) {
        self.stop();
        crate::fault::verify_on_drop(&*self.shared);
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy").field("addr", &self.addr).field("upstream", &self.upstream()).finish()
    }
}
