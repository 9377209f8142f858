//! The fake Redis server: a thin public facade ([`FakeRedis`], [`Builder`])
//! over the machinery in `bare`, `connection` and `state`.

pub(crate) mod bare;
#[cfg(test)]
mod blocking_tests;
pub(crate) mod connection;
pub(crate) mod faults;
mod host;
pub(crate) mod tls;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use crate::engine::clock::Clock;
pub use crate::engine::pubsub::{Subscription, SubscriptionKind};
pub use crate::engine::state::{RecordedCommand, DEFAULT_RECORD_LIMIT};

use crate::engine::command::ConnState;
use crate::engine::config::Config;
use crate::engine::state::{Shared, State};
use crate::host::{ClientSnapshot, ConnectionHost, LeakError, StartError};
use crate::protocol::Reply;
use bare::{BareServer, Listeners};

/// An in-process fake Redis server, isolated and fast to start.
///
/// Dropping it stops the server and closes every client socket.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = redis_harness::FakeRedis::start().await;
/// assert!(server.url().starts_with("redis://127.0.0.1:"));
/// assert_eq!(server.open_connections(), 0);
/// # }
/// ```
pub struct FakeRedis {
    bare: BareServer,
    addr: SocketAddr,
    unix_path: Option<PathBuf>,
    tls: Option<Arc<tls::TlsState>>,
    // Removed on drop, after the server has stopped (field order).
    _tempdir: Option<tempfile::TempDir>,
}

/// Configures a [`FakeRedis`] before it starts.
#[derive(Debug, Clone)]
#[must_use = "a Builder does nothing until you call start()"]
pub struct Builder {
    bind: SocketAddr,
    unix: Option<Option<PathBuf>>,
    requirepass: Option<String>,
    max_bulk_len: Option<u64>,
    record_commands: bool,
    record_limit: usize,
    paused_clock_at: Option<u64>,
    databases: usize,
    seed: Option<u64>,
    /// None = plaintext; Some(require_client_cert) = TLS.
    #[cfg(feature = "tls")]
    tls: Option<bool>,
    /// The PKI to serve TLS from (None: a fresh one); a restarted embedded
    /// backend keeps its predecessor's, so its clients still trust it.
    #[cfg(feature = "tls")]
    pki: Option<Arc<crate::tls::TestPki>>,
    notify_keyspace_events: Option<String>,
    admin: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            unix: None,
            requirepass: None,
            max_bulk_len: None,
            record_commands: true,
            record_limit: crate::engine::state::DEFAULT_RECORD_LIMIT,
            paused_clock_at: None,
            databases: 16,
            seed: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            pki: None,
            notify_keyspace_events: None,
            admin: false,
        }
    }
}

impl Builder {
    /// Binds TCP to `addr` instead of `127.0.0.1:0`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Also listens on a unix socket in a fresh temporary directory (removed on drop).
    pub fn unix_socket(mut self) -> Self {
        self.unix = Some(None);
        self
    }

    /// Also listens on a unix socket at `path` (the file is not removed on drop).
    pub fn unix_socket_at(mut self, path: impl Into<PathBuf>) -> Self {
        self.unix = Some(Some(path.into()));
        self
    }

    /// Requires clients to `AUTH` with this password (Redis's `requirepass`).
    pub fn requirepass(mut self, password: impl Into<String>) -> Self {
        self.requirepass = Some(password.into());
        self
    }

    /// Forgets a [`Builder::requirepass`] (a restarted backend takes its current password).
    pub(crate) fn clear_requirepass(mut self) -> Self {
        self.requirepass = None;
        self
    }

    /// Largest bulk string accepted (`proto-max-bulk-len`, default 512 MiB).
    pub fn max_bulk_len(mut self, bytes: u64) -> Self {
        self.max_bulk_len = Some(bytes);
        self
    }

    /// Whether to record every command received (default on).
    pub fn record_commands(mut self, on: bool) -> Self {
        self.record_commands = on;
        self
    }

    /// How many recorded commands to keep (default [`DEFAULT_RECORD_LIMIT`],
    /// 100 000): beyond
    /// it the oldest are dropped and counted by [`FakeRedis::commands_dropped`],
    /// so a long-running test's memory stays bounded.
    pub fn record_limit(mut self, commands: usize) -> Self {
        self.record_limit = commands;
        self
    }

    /// Starts with the expiry clock paused at the current time; advance it
    /// with [`FakeRedis::advance_time`].
    pub fn paused_clock(mut self) -> Self {
        self.paused_clock_at = Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        );
        self
    }

    /// Starts with the expiry clock paused at `unix_ms`.
    pub fn paused_clock_at(mut self, unix_ms: u64) -> Self {
        self.paused_clock_at = Some(unix_ms);
        self
    }

    /// Number of databases (default 16).
    pub fn databases(mut self, n: usize) -> Self {
        self.databases = n.max(1);
        self
    }

    /// Seed for every random choice the server makes (RANDOMKEY, SPOP, ...).
    /// Defaults to `REDIS_HARNESS_SEED` or a random seed; see [`FakeRedis::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Serves TLS (on TCP and the unix socket) with a certificate from a
    /// fresh in-memory test PKI; trust it with [`FakeRedis::tls_client_config`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self) -> Self {
        self.tls = Some(false);
        self
    }

    /// Like [`Builder::tls`], and clients must present a certificate signed by
    /// the PKI's CA (mTLS; see [`FakeRedis::client_identity`]).
    #[cfg(feature = "tls")]
    pub fn mtls(mut self) -> Self {
        self.tls = Some(true);
        self
    }

    /// Serves TLS from `pki` rather than a fresh PKI (for a server that
    /// replaces another, as `Backend::restart_server` does).
    #[cfg(feature = "tls")]
    pub(crate) fn with_pki(mut self, pki: Arc<crate::tls::TestPki>) -> Self {
        self.pki = Some(pki);
        self
    }

    /// Starts with `notify-keyspace-events` set to `flags` (Redis's syntax,
    /// e.g. `"KEA"` or `"Ex"`), as CONFIG SET would set it. An invalid flag
    /// makes [`Builder::try_start`] fail.
    pub fn notify_keyspace_events(mut self, flags: impl Into<String>) -> Self {
        self.notify_keyspace_events = Some(flags.into());
        self
    }

    /// Enables the `HARNESS` admin namespace (fault rules, kill-all, password
    /// rotation over RESP, for clients in other languages). Off by default:
    /// `HARNESS` is then an unknown command, exactly as in Redis.
    pub fn admin(mut self, on: bool) -> Self {
        self.admin = on;
        self
    }

    /// Starts the server. Usable from any async runtime.
    pub async fn start(self) -> FakeRedis {
        self.start_blocking()
    }

    /// Starts the server, panicking with the reason if it cannot.
    ///
    /// The server runs on its own thread, so this needs no runtime: use it
    /// from plain `#[test]` functions.
    pub fn start_blocking(self) -> FakeRedis {
        match self.try_start() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts the server, returning why it could not.
    pub fn try_start(self) -> Result<FakeRedis, StartError> {
        let tcp = crate::host::listen::bind_reusable(self.bind)
            .map_err(|e| StartError::new(format!("binding {} (is the port already in use?)", self.bind), e))?;
        let addr = tcp.local_addr().map_err(|e| StartError::new("reading the bound address", e))?;
        let tls = self.make_tls()?;
        let (unix, unix_path, tempdir) = match self.unix {
            None => (None, None, None),
            Some(path) => {
                let (path, dir) = match path {
                    Some(p) => (p, None),
                    None => {
                        let dir = tempfile::Builder::new()
                            .prefix("redis-harness-")
                            .tempdir()
                            .map_err(|e| StartError::new("creating a temp dir for the unix socket", e))?;
                        (dir.path().join("redis.sock"), Some(dir))
                    }
                };
                let l = std::os::unix::net::UnixListener::bind(&path)
                    .map_err(|e| StartError::new(format!("binding unix socket {}", path.display()), e))?;
                (Some(l), Some(path), dir)
            }
        };
        let mut config = Config::default();
        if let Some(flags) = &self.notify_keyspace_events {
            config.set_notify_keyspace_events(flags).map_err(|reason| {
                StartError::new(
                    format!("notify-keyspace-events {flags:?}"),
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
                )
            })?;
        }
        config.params.insert("port", addr.port().to_string().into());
        if let Some(p) = &self.requirepass {
            config.params.insert("requirepass", p.clone().into());
        }
        if let Some(n) = self.max_bulk_len {
            config.params.insert("proto-max-bulk-len", n.to_string().into());
        }
        config.params.insert("databases", self.databases.to_string().into());
        if let Some(p) = &unix_path {
            config.params.insert("unixsocket", p.display().to_string().into());
        }
        // As Redis at start-up: no more clients than file descriptors allow.
        config.sync_derived();
        let maxclients = bare::fd_limited_maxclients(config.maxclients());
        if maxclients != config.maxclients() {
            config.params.insert("maxclients", maxclients.to_string().into());
        }
        let seed = crate::host::pick_seed(self.seed);
        let recorded = crate::engine::state::CommandLog::new(self.record_commands, self.record_limit);
        let state = State::new(config, self.databases, seed, recorded, crate::cmd::table());
        let clock = match self.paused_clock_at {
            Some(t) => Clock::paused_at(t),
            None => Clock::real(),
        };
        let shared = Shared::new(state, clock);
        shared.faults.set_admin(self.admin);
        let bare = BareServer::spawn(shared, Listeners { tcp, unix, tls: tls.clone() })
            .map_err(|e| StartError::new("spawning the server thread", e))?;
        Ok(FakeRedis { bare, addr, unix_path, tls, _tempdir: tempdir })
    }

    #[cfg(feature = "tls")]
    fn make_tls(&self) -> Result<Option<Arc<tls::TlsState>>, StartError> {
        let Some(require_client_cert) = self.tls else { return Ok(None) };
        let fail = |e: crate::tls::TlsError| StartError::new("setting up TLS", std::io::Error::other(e));
        let pki = match &self.pki {
            Some(p) => p.clone(),
            None => Arc::new(crate::tls::TestPki::generate().map_err(fail)?),
        };
        Ok(Some(Arc::new(tls::TlsState::new(pki, require_client_cert).map_err(fail)?)))
    }

    #[cfg(not(feature = "tls"))]
    fn make_tls(&self) -> Result<Option<Arc<tls::TlsState>>, StartError> {
        Ok(None)
    }
}

/// What [`FakeRedis::shutdown`] closed.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    /// Client connections that were open and were closed by the shutdown.
    pub closed: Vec<ClientSnapshot>,
    /// Total connections accepted over the server's life.
    pub total_connections: u64,
}

impl FakeRedis {
    /// Starts a server with default settings on `127.0.0.1:0`.
    pub async fn start() -> FakeRedis {
        Builder::default().start().await
    }

    /// A builder for the non-default cases.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.bare.shared
    }

    /// The TCP address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://127.0.0.1:PORT` (`rediss://` with TLS; with the password if
    /// `requirepass` is set).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        match self.shared().lock().config().requirepass() {
            Some(pw) => format!("{scheme}://:{}@{}", pw, self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    /// The unix socket path, if one was requested.
    pub fn unix_path(&self) -> Option<&Path> {
        self.unix_path.as_deref()
    }

    /// The seed behind every random choice of this server.
    pub fn seed(&self) -> u64 {
        self.shared().lock().seed
    }

    /// Client sockets open right now (accepted and not yet seen closed).
    pub fn open_connections(&self) -> usize {
        self.shared().sockets.open()
    }

    /// Connections accepted since start.
    pub fn total_connections(&self) -> u64 {
        self.shared().lock().stats.total_connections
    }

    /// The clients connected right now.
    pub fn clients(&self) -> Vec<ClientSnapshot> {
        ConnectionHost::clients(&**self.shared())
    }

    /// Waits until exactly `n` client sockets are open, or fails after `timeout`
    /// with the list of clients still open.
    pub async fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> Result<(), LeakError> {
        crate::host::wait_for_open(&**self.shared(), self.addr, n, timeout).await
    }

    /// Blocking form of [`FakeRedis::wait_for_open_connections`] for plain `#[test]`s.
    pub fn wait_for_open_connections_blocking(&self, n: usize, timeout: Duration) -> Result<(), LeakError> {
        crate::host::wait_for_open_blocking(&**self.shared(), self.addr, n, timeout)
    }

    /// Panics unless every client socket is closed within `timeout`, listing
    /// the clients still open.
    pub async fn assert_no_leaks(&self, timeout: Duration) {
        if let Err(e) = self.wait_for_open_connections(0, timeout).await {
            panic!("socket leak: {e}");
        }
    }

    /// Clients blocked right now in BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, ...
    /// (INFO's `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.shared().lock().blocking.len()
    }

    /// Keys that at least one blocked client waits on (what Redis 7.2 reports
    /// as `total_blocking_keys`). It drops back to 0 once no client is
    /// blocked: nothing is left queued for a client that timed out or went away.
    pub fn blocking_keys(&self) -> usize {
        self.shared().lock().blocking.keys_len()
    }

    /// Waits until exactly `n` clients are blocked, so a test can push only
    /// once its clients are waiting. Fails after `timeout` with the number
    /// blocked at that moment.
    pub async fn wait_for_blocked_clients(&self, n: usize, timeout: Duration) -> Result<(), usize> {
        let mut rx = self.shared().lock().blocking.subscribe();
        let reached = matches!(tokio::time::timeout(timeout, rx.wait_for(|b| *b == n)).await, Ok(Ok(_)));
        if reached {
            Ok(())
        } else {
            Err(self.blocked_clients())
        }
    }

    /// The script running on a thread of its own right now, if any: its
    /// SHA-1 (EVAL) or function name (FCALL). A script whose code can loop
    /// runs there, so that other clients get BUSY past
    /// `busy-reply-threshold` and can SCRIPT KILL it; its caller counts as
    /// a blocked client meanwhile ([`FakeRedis::wait_for_blocked_clients`]
    /// waits for it to start).
    pub fn running_script(&self) -> Option<String> {
        self.shared().busy.current().map(|r| r.name)
    }

    /// Every command received so far, in order (empty if recording is off).
    pub fn commands(&self) -> Vec<RecordedCommand> {
        self.shared().lock().recorded.to_vec()
    }

    /// How many recorded commands were dropped, oldest first, to keep at
    /// most [`Builder::record_limit`] of them (0 unless that many were sent).
    pub fn commands_dropped(&self) -> u64 {
        self.shared().lock().recorded.dropped()
    }

    /// Turns command recording on or off.
    pub fn set_record_commands(&self, on: bool) {
        self.shared().lock().recorded.on = on;
    }

    /// Forgets the commands recorded so far (and the count of dropped ones).
    pub fn clear_commands(&self) {
        self.shared().lock().recorded.clear();
    }

    /// The commands the server answered with Redis's unknown-command (or
    /// unknown-subcommand) error, upper case (`WAIT`, `CLIENT TRACKING`), with
    /// how many times each was sent, in name order. The first of each is also
    /// logged through `tracing`, saying whether Redis 7.0 has it (the fake
    /// does not implement it) or not (Redis would refuse it too).
    ///
    /// ```
    /// # let server = redis_harness::FakeRedis::builder().start_blocking();
    /// server.run(["WAIT", "1", "0"]);
    /// server.run(["WAIT", "2", "0"]);
    /// assert_eq!(server.unsupported_commands(), vec![("WAIT".to_string(), 2)]);
    /// ```
    pub fn unsupported_commands(&self) -> Vec<(String, u64)> {
        self.shared().lock().unsupported.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Runs a command directly against the server's data, as a client on db 0
    /// would, without a socket. Use it to seed and inspect data.
    ///
    /// ```
    /// # let server = redis_harness::FakeRedis::builder().start_blocking();
    /// use redis_harness::Reply;
    /// server.run(["SET", "k", "v"]);
    /// assert_eq!(server.run(["GET", "k"]), Reply::bulk("v"));
    /// ```
    pub fn run<I, A>(&self, args: I) -> Reply
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.run_in_db(0, args)
    }

    /// [`FakeRedis::run`] against database `db`.
    pub fn run_in_db<I, A>(&self, db: usize, args: I) -> Reply
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<Bytes> = args.into_iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        if args.is_empty() {
            return Reply::error("ERR empty command");
        }
        let shared = self.shared().clone();
        let mut st = shared.lock();
        if db >= st.db_count() {
            return Reply::error("ERR DB index is out of range");
        }
        let record = std::mem::replace(&mut st.recorded.on, false);
        // Client id 0 never belongs to a socket.
        let mut conn = ConnState::handle(db);
        let now = shared.clock.now_ms();
        // No connection can wait here (`can_wait` is off): a command that
        // would block gets its timeout reply.
        let reply = crate::engine::exec::execute(&mut st, &mut conn, &shared.clock, now, &args).reply;
        // The handle's client has no connection: nothing it subscribes to
        // or WATCHes may outlive the call.
        st.pubsub.detach(0);
        st.unwatch_all(0);
        st.recorded.on = record;
        reply
    }

    /// Reads a string key without a client (None if missing or not a string).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<Bytes> {
        match self.run([b"GET".as_ref(), key.as_ref()]) {
            Reply::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// Sets a string key without a client.
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.run([b"SET".as_ref(), key.as_ref(), value.as_ref()]);
    }

    /// The expiry clock.
    pub fn clock(&self) -> &Clock {
        &self.shared().clock
    }

    /// Advances the expiry clock (pausing it if it was real) and expires
    /// every key whose time has come, as Redis's active expiry would
    /// (unless a client turned it off with `DEBUG SET-ACTIVE-EXPIRE 0`: then
    /// keys expire only when they are accessed). Clients idle for longer
    /// than the `timeout` parameter on this clock are closed.
    pub fn advance_time(&self, by: Duration) {
        let shared = self.shared();
        shared.clock.advance(by);
        let now = shared.clock.now_ms();
        let mut st = shared.lock();
        st.expire_cycle(now);
        st.deliver_events();
        // And closes the clients idle longer than `timeout`, as Redis's client cron would.
        st.close_idle_clients(now);
    }

    /// Publishes `message` on `channel` as a client's PUBLISH would, and
    /// returns how many subscriptions received it (pattern matches included).
    ///
    /// ```
    /// # let server = redis_harness::FakeRedis::builder().start_blocking();
    /// assert_eq!(server.publish("news", "hello"), 0); // nobody subscribed yet
    /// ```
    pub fn publish(&self, channel: impl AsRef<[u8]>, message: impl AsRef<[u8]>) -> usize {
        let channel = Bytes::copy_from_slice(channel.as_ref());
        let message = Bytes::copy_from_slice(message.as_ref());
        self.shared().lock().publish(&channel, &message)
    }

    /// Every current channel, pattern and shard-channel subscription with
    /// the id of the client holding it, ordered by client id, then kind,
    /// then the order the client subscribed in.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.shared().lock().pubsub.snapshot()
    }

    /// Installs a fault rule until the returned guard is dropped; see [`crate::fault`].
    ///
    /// Rules are tried in installation order and the first that fires wins.
    /// The guard checks the rule's [`FaultRule::expect`](crate::fault::FaultRule::expect)
    /// when dropped (or the server does, if it goes first).
    pub fn fault(&self, rule: crate::fault::FaultRule) -> crate::fault::FaultGuard {
        let host: Arc<dyn crate::fault::FaultHost> = self.shared().clone();
        crate::fault::FaultGuard::install(&host, rule)
    }

    /// The rules installed now, in the order they are tried.
    pub fn fault_rules(&self) -> Vec<crate::fault::RuleInfo> {
        self.shared().faults.list()
    }

    /// Closes every client connection now (FIN), as if the server crashed
    /// and came back; returns how many it closed. The server keeps accepting.
    pub fn kill_all(&self) -> usize {
        ConnectionHost::kill_all(&**self.shared(), None)
    }

    /// Changes `requirepass` at runtime (empty: no password), as
    /// `CONFIG SET requirepass` does in Redis: the default user's passwords
    /// become exactly this one (`nopass` when empty), also after
    /// `ACL SETUSER default ...` changed that user. Connections already
    /// authenticated keep working; new ones need the new password.
    pub fn set_password(&self, password: impl AsRef<str>) {
        crate::server::faults::set_password(self.shared(), password.as_ref());
    }

    /// Stops the server, closes every client socket, and reports what it closed.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let closed = self.clients();
        let total_connections = self.total_connections();
        self.bare.stop();
        ShutdownReport { closed, total_connections }
    }
}

/// TLS controls (feature `tls`), for a server built with [`Builder::tls`] or
/// [`Builder::mtls`]. They panic on a plaintext server: that is a bug in the test.
#[cfg(feature = "tls")]
impl FakeRedis {
    fn tls_state(&self) -> &tls::TlsState {
        self.tls.as_deref().expect("this FakeRedis was not built with .tls() or .mtls()")
    }

    /// The test PKI behind the server's certificates.
    pub fn tls_pki(&self) -> &crate::tls::TestPki {
        &self.tls_state().pki
    }

    /// Whether it serves TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The PKI, to hand to a server that replaces this one.
    pub(crate) fn tls_pki_shared(&self) -> Arc<crate::tls::TestPki> {
        self.tls_state().pki.clone()
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> String {
        self.tls_pki().ca_pem()
    }

    /// A rustls client config that trusts the server's CA, with no client certificate.
    pub fn tls_client_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls_pki().client_config(None).expect("building a rustls client config from the test PKI")
    }

    /// A client certificate signed by the server's CA, for mTLS.
    pub fn client_identity(&self, name: &str) -> crate::tls::CertKey {
        self.tls_pki().client_identity(name).expect("issuing a client certificate from the test PKI")
    }

    /// Presents this kind of certificate to new connections from now on
    /// (expired, not yet valid, wrong host, unknown CA, or valid again).
    pub fn set_tls_server_cert(&self, kind: crate::tls::ServerCertKind) {
        self.tls_state().set_server_cert(kind).expect("building the server TLS config");
    }

    /// Requires (or stops requiring) a client certificate from new connections.
    pub fn set_tls_require_client_cert(&self, on: bool) {
        self.tls_state().set_require_client_cert(on).expect("building the server TLS config");
    }
}

impl Drop for FakeRedis {
    /// Stops the server, then verifies the expectations of fault rules whose
    /// guards are still alive (panicking, unless already panicking, with
    /// every failure).
    fn drop(&mut self) {
        self.bare.stop();
        crate::fault::verify_on_drop(&**self.shared());
    }
}

impl fmt::Debug for FakeRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeRedis").field("addr", &self.addr).field("unix_path", &self.unix_path).finish()
    }
}
