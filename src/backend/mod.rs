//! One test, three Redises: the same test body against the embedded fake,
//! a real `redis-server` process, or Redis in a container.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use redis_harness::backend::{Backend, BackendKind};
//! use redis_harness::fault::FaultRule;
//!
//! // REDIS_HARNESS_BACKEND=embedded|process|container picks it (default embedded).
//! let Some(redis) = Backend::from_env_or_skip("my_test") else { return };
//! let _slow = redis.fault(FaultRule::error("ERR injected").on(["GET"]));
//! let client = redis::Client::open(redis.url()).unwrap();
//! // ... the code under test talks to `client` ...
//! redis.assert_no_leaks(std::time::Duration::from_secs(5)).await;
//! # }
//! ```
//!
//! | | embedded | process | container |
//! | --- | --- | --- | --- |
//! | what | [`FakeRedis`] in-process | [`RedisProcess`] | [`RedisContainer`] (feature `containers`) |
//! | faults | the fake's own | a [`FaultProxy`] in front | a [`FaultProxy`] in front |
//! | socket accounting | server-side | counted by the proxy | counted by the proxy |
//! | TLS / mTLS | in-memory PKI | certs-gen files | certs-gen files copied in |
//!
//! ## Implementation notes
//! Clients of a real backend talk to the proxy ([`Backend::addr`]) so that
//! fault rules and socket counts apply to them as they would on the fake;
//! [`Backend::server_addr`] bypasses it. The proxy speaks plaintext only, so
//! with TLS on a real backend [`Backend::addr`] is Redis's TLS port and
//! faults apply only to plaintext clients of [`Backend::fault_target`].

mod builder;
#[cfg(feature = "containers")]
pub mod container;
mod embedded;
mod password;
pub mod process;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[cfg(feature = "containers")]
pub use container::{RedisContainer, RedisContainerBuilder};
pub use process::{RedisProcess, RedisProcessBuilder, TlsFiles};

use crate::fault::{FaultGuard, FaultRule};
use crate::{FakeRedis, FaultProxy, LeakError};
pub use builder::BackendBuilder;
use embedded::Embedded;

/// The environment variable that picks the backend.
pub const BACKEND_ENV: &str = "REDIS_HARNESS_BACKEND";

/// Whether tests that need a real Redis must fail rather than skip
/// (`REDIS_HARNESS_REQUIRE_REAL=1`, set by CI).
pub fn require_real() -> bool {
    matches!(std::env::var("REDIS_HARNESS_REQUIRE_REAL").as_deref(), Ok("1") | Ok("true") | Ok("yes"))
}

/// The environment variable naming a file that [`report_skip`] appends
/// each skip to (`just test` sets it and prints the file as a summary).
pub const SKIP_LOG_ENV: &str = "REDIS_HARNESS_SKIP_LOG";

/// Reports that `test` is skipped and why, where a person running the tests
/// sees it: on stderr past the test harness's output capture (so `cargo
/// test` shows it next to the test's line even when the test passes), and
/// appended to the file named by `REDIS_HARNESS_SKIP_LOG`, if set, as one
/// `test: reason` line.
pub fn report_skip(test: &str, reason: impl std::fmt::Display) {
    use std::io::Write as _;
    let line = format!("skipped {test}: {reason}\n");
    // `eprintln!` would be captured and shown only for failing tests.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV) {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

const NO_REDIS_SERVER: &str =
    "no redis-server on PATH and REDIS_HARNESS_SERVER_BIN unset (Debian: apt-get install redis-server)";
#[cfg(not(feature = "containers"))]
const NO_CONTAINERS_FEATURE: &str = "built without the `containers` feature (cargo test --features containers)";

/// Which Redis a [`Backend`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The in-process fake ([`FakeRedis`]): starts in about a millisecond.
    Embedded,
    /// A `redis-server` child process ([`RedisProcess`]).
    Process,
    /// Redis in a Docker container (feature `containers`).
    Container,
}

impl BackendKind {
    /// All three, in order of start-up cost.
    pub const ALL: [BackendKind; 3] = [BackendKind::Embedded, BackendKind::Process, BackendKind::Container];

    /// `REDIS_HARNESS_BACKEND`, or `default` when it is unset or empty.
    /// An unknown value panics with the accepted ones: a typo in CI must not
    /// silently run the fake instead.
    pub fn from_env_or(default: BackendKind) -> BackendKind {
        match std::env::var(BACKEND_ENV) {
            Ok(v) if !v.trim().is_empty() => v.parse().unwrap_or_else(|e| panic!("{e}")),
            _ => default,
        }
    }

    /// `REDIS_HARNESS_BACKEND`, defaulting to [`BackendKind::Embedded`].
    pub fn from_env() -> BackendKind {
        BackendKind::from_env_or(BackendKind::Embedded)
    }

    /// The name `REDIS_HARNESS_BACKEND` uses.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Embedded => "embedded",
            BackendKind::Process => "process",
            BackendKind::Container => "container",
        }
    }

    /// Whether it runs the real Redis.
    pub fn is_real(self) -> bool {
        self != BackendKind::Embedded
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<BackendKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "embedded" | "fake" => Ok(BackendKind::Embedded),
            "process" | "redis-server" => Ok(BackendKind::Process),
            "container" | "docker" => Ok(BackendKind::Container),
            other => Err(format!("{BACKEND_ENV}={other:?}: expected embedded, process or container")),
        }
    }
}

/// Why a backend did not start.
#[derive(Debug)]
pub enum BackendError {
    /// This machine cannot run it (no `redis-server`, no Docker daemon, the
    /// `containers` feature is off): tests skip, unless
    /// `REDIS_HARNESS_REQUIRE_REAL=1`.
    Unavailable {
        /// The backend.
        kind: BackendKind,
        /// What is missing and how to provide it.
        reason: String,
    },
    /// It should have started and did not.
    Failed {
        /// The backend.
        kind: BackendKind,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Unavailable { kind, reason } => write!(f, "the {kind} backend is unavailable: {reason}"),
            BackendError::Failed { kind, source } => write!(f, "the {kind} backend did not start: {source}"),
        }
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BackendError::Failed { source, .. } => Some(&**source),
            BackendError::Unavailable { .. } => None,
        }
    }
}

/// TLS on a backend (only the `tls` feature's builder methods set it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
enum TlsMode {
    Tls,
    Mtls,
}

enum Server {
    Embedded(Embedded),
    Process(RedisProcess),
    // Boxed: a container handle is several times the size of the others.
    #[cfg(feature = "containers")]
    Container(Box<RedisContainer>),
}

impl Server {
    /// The listener a plaintext proxy can forward to (for the fake: its only one).
    fn plain_addr(&self) -> SocketAddr {
        match self {
            Server::Embedded(e) => e.addr,
            Server::Process(p) => p.addr(),
            #[cfg(feature = "containers")]
            Server::Container(c) => c.addr(),
        }
    }
}

/// A running Redis of any [`BackendKind`]; stops (kills, removes) on drop.
///
/// See the [module docs](self) for what each method means on each backend.
pub struct Backend {
    kind: BackendKind,
    // Declared before `server`: the proxy closes its sockets before Redis goes.
    proxy: Option<FaultProxy>,
    server: Server,
    /// The password now ([`Backend::set_password`] changes it).
    password: Option<String>,
    /// The password Redis was started with, which a restarted real Redis comes back with.
    start_password: Option<String>,
    tls: Option<TlsMode>,
    #[cfg(feature = "tls")]
    pki: Option<std::sync::Arc<crate::tls::TestPki>>,
    // The files copied into a container; kept until it is gone.
    _pki_dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// A builder for `kind`.
    pub fn builder(kind: BackendKind) -> BackendBuilder {
        BackendBuilder::new(kind)
    }

    /// Starts `kind` with default options.
    pub fn start(kind: BackendKind) -> Result<Backend, BackendError> {
        Backend::builder(kind).start()
    }

    /// Starts `builder`'s backend, or prints why this test is skipped and
    /// returns `None` when this machine cannot run it. Under
    /// `REDIS_HARNESS_REQUIRE_REAL=1` an unavailable backend panics instead;
    /// a backend that should have started and did not always panics.
    pub fn start_or_skip(builder: BackendBuilder, test: &str) -> Option<Backend> {
        let kind = builder.kind;
        if !Backend::available_or_skip(&builder, test) {
            return None;
        }
        match builder.start() {
            Ok(b) => Some(b),
            Err(BackendError::Unavailable { reason, .. }) => {
                if require_real() {
                    panic!("{test}: REDIS_HARNESS_REQUIRE_REAL=1 but the {kind} backend is unavailable: {reason}");
                }
                report_skip(&format!("{test} on the {kind} backend"), reason);
                None
            }
            Err(e) => panic!("{test}: {e}"),
        }
    }

    /// [`BackendBuilder::check_available`], printing why `test` is skipped
    /// when it is not (panicking instead under `REDIS_HARNESS_REQUIRE_REAL=1`).
    pub fn available_or_skip(builder: &BackendBuilder, test: &str) -> bool {
        match builder.check_available() {
            Ok(()) => true,
            Err(e) if require_real() => panic!("{test}: REDIS_HARNESS_REQUIRE_REAL=1 but {e}"),
            Err(e) => {
                report_skip(test, e);
                false
            }
        }
    }

    /// [`Backend::start_or_skip`] with the kind from `REDIS_HARNESS_BACKEND`.
    pub fn from_env_or_skip(test: &str) -> Option<Backend> {
        Backend::start_or_skip(Backend::builder(BackendKind::from_env()), test)
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// True on the fake; elsewhere prints that `test` is skipped because it
    /// needs the fake (`why`), and returns false. Use at the top of a test
    /// that only makes sense on the fake.
    pub fn require_embedded(&self, test: &str, why: &str) -> bool {
        if self.kind == BackendKind::Embedded {
            return true;
        }
        report_skip(&format!("{test} on the {} backend", self.kind), format!("it needs the embedded fake ({why})"));
        false
    }

    /// The address clients should connect to: the TLS listener with TLS,
    /// else the fault proxy in front of a real Redis, else Redis itself.
    pub fn addr(&self) -> SocketAddr {
        if self.tls.is_some() {
            if let Some(a) = self.tls_addr() {
                return a;
            }
        }
        self.fault_target().unwrap_or_else(|| self.server_addr())
    }

    /// `redis://` (`rediss://` with TLS) for [`Backend::addr`], with the
    /// password if one is set.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        match &self.password {
            Some(pw) => format!("{scheme}://:{pw}@{}", self.addr()),
            None => format!("{scheme}://{}", self.addr()),
        }
    }

    /// Redis's own plaintext address, bypassing any proxy (the fake's only
    /// listener, TLS if it was built with TLS).
    pub fn server_addr(&self) -> SocketAddr {
        self.server.plain_addr()
    }

    /// The TLS listener, if built with TLS.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls?;
        match &self.server {
            Server::Embedded(e) => Some(e.addr),
            Server::Process(p) => p.tls_addr(),
            #[cfg(feature = "containers")]
            Server::Container(c) => c.tls_addr(),
        }
    }

    /// A unix socket reaching Redis directly, where there is one (process only).
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.server {
            Server::Embedded(e) => e.fake.as_ref().and_then(FakeRedis::unix_path),
            Server::Process(p) => Some(p.unix_path()),
            #[cfg(feature = "containers")]
            Server::Container(_) => None,
        }
    }

    /// The password now: the one set with [`BackendBuilder::requirepass`],
    /// or with [`Backend::set_password`] since.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Where fault rules apply: the fake itself, or the proxy in front of a
    /// real Redis; `None` for a real backend started without the proxy.
    pub fn fault_target(&self) -> Option<SocketAddr> {
        match (&self.server, &self.proxy) {
            (Server::Embedded(e), _) => Some(e.addr),
            (_, Some(p)) => Some(p.addr()),
            _ => None,
        }
    }

    /// Installs a fault rule until the guard is dropped, on whichever of the
    /// fake or the proxy serves [`Backend::fault_target`]. Panics if there
    /// is neither (a real backend with `fault_proxy(false)`).
    pub fn fault(&self, rule: FaultRule) -> FaultGuard {
        match self.try_fault(rule) {
            Some(g) => g,
            None if self.fault_target().is_some() => {
                panic!("the embedded fake is stopped (kill_server): restart_server it before installing faults")
            }
            None => panic!("the {} backend was started with fault_proxy(false): it has no fault point", self.kind),
        }
    }

    /// [`Backend::fault`], or `None` when there is no fault point now: a real
    /// backend started with `fault_proxy(false)`, or the fake while it is stopped.
    pub fn try_fault(&self, rule: FaultRule) -> Option<FaultGuard> {
        match (&self.server, &self.proxy) {
            (Server::Embedded(e), _) => e.fake.as_ref().map(|f| f.fault(rule)),
            (_, Some(p)) => Some(p.fault(rule)),
            _ => None,
        }
    }

    /// Closes every client connection (on a real backend, those through the
    /// proxy); returns how many.
    pub fn kill_all(&self) -> usize {
        match (&self.server, &self.proxy) {
            (Server::Embedded(e), _) => e.fake.as_ref().map_or(0, FakeRedis::kill_all),
            (_, Some(p)) => p.kill_all(),
            _ => 0,
        }
    }

    /// Whether client sockets are counted: always on the fake, through the
    /// proxy on a real backend.
    pub fn counts_sockets(&self) -> bool {
        matches!(self.server, Server::Embedded(_)) || self.proxy.is_some()
    }

    /// Client sockets open now, where they are counted.
    pub fn open_connections(&self) -> Option<usize> {
        match (&self.server, &self.proxy) {
            (Server::Embedded(e), _) => Some(e.fake.as_ref().map_or(0, FakeRedis::open_connections)),
            (_, Some(p)) => Some(p.open_connections()),
            _ => None,
        }
    }

    /// Client connections accepted since start, where they are counted (on
    /// the fake: since it last started).
    pub fn total_connections(&self) -> Option<u64> {
        match (&self.server, &self.proxy) {
            (Server::Embedded(e), _) => Some(e.fake.as_ref().map_or(0, FakeRedis::total_connections)),
            (_, Some(p)) => Some(p.total_connections()),
            _ => None,
        }
    }

    /// Waits until exactly `n` client sockets are open. Panics if this
    /// backend does not count sockets (see [`Backend::counts_sockets`]).
    pub async fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> Result<(), LeakError> {
        match (&self.server, &self.proxy) {
            (Server::Embedded(e), _) => match &e.fake {
                Some(f) => f.wait_for_open_connections(n, timeout).await,
                // A stopped fake has no sockets open, and none can open.
                None if n == 0 => Ok(()),
                None => Err(LeakError { expected: n, open: Vec::new(), waited: Duration::ZERO, addr: e.addr }),
            },
            (_, Some(p)) => p.wait_for_open_connections(n, timeout).await,
            _ => panic!("the {} backend was started with fault_proxy(false): it does not count sockets", self.kind),
        }
    }

    /// Panics unless every counted client socket closes within `timeout`.
    pub async fn assert_no_leaks(&self, timeout: Duration) {
        if let Err(e) = self.wait_for_open_connections(0, timeout).await {
            panic!("socket leak on the {} backend: {e}", self.kind);
        }
    }

    /// The fake, on the embedded backend while it runs (for what only the
    /// fake can do: paused clock, direct keyspace access, certificate controls).
    pub fn fake(&self) -> Option<&FakeRedis> {
        match &self.server {
            Server::Embedded(e) => e.fake.as_ref(),
            _ => None,
        }
    }

    /// The `redis-server` process, on the process backend.
    pub fn process(&self) -> Option<&RedisProcess> {
        match &self.server {
            Server::Process(p) => Some(p),
            _ => None,
        }
    }

    /// The container, on the container backend.
    #[cfg(feature = "containers")]
    pub fn container(&self) -> Option<&RedisContainer> {
        match &self.server {
            Server::Container(c) => Some(c),
            _ => None,
        }
    }

    /// The fault proxy in front of a real backend.
    pub fn proxy(&self) -> Option<&FaultProxy> {
        self.proxy.as_ref()
    }

    /// Whether Redis runs: false between [`Backend::kill_server`] and
    /// [`Backend::restart_server`].
    pub fn is_server_running(&self) -> bool {
        match &self.server {
            Server::Embedded(e) => e.fake.is_some(),
            Server::Process(p) => p.is_running(),
            #[cfg(feature = "containers")]
            Server::Container(c) => c.is_running(),
        }
    }

    /// Kills Redis as a crash would: every connection drops, new ones fail
    /// until [`Backend::restart_server`]. A real Redis gets SIGKILL (the
    /// container stays); the fake stops, and its data is gone.
    pub fn kill_server(&mut self) -> Result<(), BackendError> {
        #[cfg_attr(not(feature = "containers"), allow(unused_variables))]
        let kind = self.kind;
        match &mut self.server {
            Server::Embedded(e) => {
                e.stop();
                Ok(())
            }
            Server::Process(p) => {
                p.kill();
                Ok(())
            }
            #[cfg(feature = "containers")]
            Server::Container(c) => c.kill().map_err(|e| BackendError::Failed { kind, source: Box::new(e) }),
        }
    }

    /// Starts Redis again (killing it first if it runs) and waits until it
    /// serves, with the current password ([`Backend::set_password`]).
    /// The fake and the process come back on the same port; a container may
    /// come back on another mapped port, and the fault proxy follows it, so
    /// [`Backend::addr`] stays valid. The fake comes back empty (with the
    /// same users, and with TLS the same certificates); a real Redis keeps
    /// its data only if it persists it (e.g.
    /// `real_server_args(["--appendonly", "yes"])`).
    pub fn restart_server(&mut self) -> Result<(), BackendError> {
        let kind = self.kind;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| BackendError::Failed { kind, source: e };
        match &mut self.server {
            Server::Embedded(e) => return e.restart(self.password.as_deref()).map_err(failed),
            Server::Process(p) => p.restart().map_err(|e| failed(Box::new(e)))?,
            #[cfg(feature = "containers")]
            Server::Container(c) => c.restart().map_err(|e| failed(Box::new(e)))?,
        }
        if let Some(p) = &self.proxy {
            p.set_upstream(self.server.plain_addr());
        }
        // A real Redis restarts with its start-up arguments: put a password changed since back.
        if self.password != self.start_password {
            let new = self.password.as_deref().unwrap_or("");
            password::set_requirepass(self.server.plain_addr(), self.start_password.as_deref(), new)
                .map_err(|e| failed(e.into()))?;
        }
        Ok(())
    }

    /// Changes `requirepass` (empty: no password) as `CONFIG SET
    /// requirepass` does, on any backend: on the fake directly, on a real
    /// Redis over a connection of its own that bypasses the fault proxy.
    /// Connections already authenticated keep working; new ones need the new
    /// password, which [`Backend::url`] carries from now on and
    /// [`Backend::restart_server`] keeps. On a stopped server it takes
    /// effect when it restarts.
    pub fn set_password(&mut self, password: &str) -> Result<(), BackendError> {
        let kind = self.kind;
        match &self.server {
            Server::Embedded(e) => {
                if let Some(f) = &e.fake {
                    f.set_password(password);
                }
            }
            _ if self.is_server_running() => {
                password::set_requirepass(self.server.plain_addr(), self.password.as_deref(), password)
                    .map_err(|e| BackendError::Failed { kind, source: e.into() })?
            }
            _ => {}
        }
        self.password = Some(password.to_string()).filter(|p| !p.is_empty());
        Ok(())
    }
}

/// TLS (feature `tls`), for a backend built with [`BackendBuilder::tls`] or
/// [`BackendBuilder::mtls`]; these panic otherwise (a bug in the test).
#[cfg(feature = "tls")]
impl Backend {
    /// The test PKI behind the server's certificate.
    pub fn tls_pki(&self) -> &crate::tls::TestPki {
        match &self.server {
            Server::Embedded(e) => match &e.fake {
                Some(f) => f.tls_pki(),
                None => panic!("the embedded fake is stopped (kill_server): restart_server it first"),
            },
            _ => self.pki.as_deref().expect("this backend was not built with .tls() or .mtls()"),
        }
    }

    /// A rustls client config trusting the server's CA, with no client certificate.
    pub fn tls_client_config(&self) -> std::sync::Arc<rustls::ClientConfig> {
        self.tls_pki().client_config(None).expect("building a rustls client config from the test PKI")
    }

    /// A client certificate signed by the server's CA (what mTLS requires).
    pub fn client_identity(&self, name: &str) -> crate::tls::CertKey {
        self.tls_pki().client_identity(name).expect("issuing a client certificate from the test PKI")
    }

    /// A rustls client config trusting the CA and presenting a fresh client
    /// certificate named `name` (for mTLS).
    pub fn mtls_client_config(&self, name: &str) -> std::sync::Arc<rustls::ClientConfig> {
        let id = self.client_identity(name);
        self.tls_pki().client_config(Some(&id)).expect("building a rustls mTLS client config from the test PKI")
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend").field("kind", &self.kind).field("addr", &self.addr()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in BackendKind::ALL {
            assert_eq!(k.name().parse::<BackendKind>().unwrap(), k);
        }
        assert_eq!(" Docker ".parse::<BackendKind>().unwrap(), BackendKind::Container);
        let err = "podman".parse::<BackendKind>().unwrap_err();
        assert!(err.contains("expected embedded, process or container"), "{err}");
    }

    #[test]
    fn backend_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Backend>();
        check::<BackendError>();
    }
}
