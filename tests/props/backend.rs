//! Where the pool under test connects, behind one small trait so the same
//! suite runs against the fake server, a real `redis-server` behind a
//! `FaultProxy`, and later a container (implement [`Backend`] and a
//! [`BackendFactory`] for it; nothing else changes).

use std::time::Duration;

use redis_harness::backend::{process::find_redis_server, require_real, RedisProcess};
use redis_harness::fault::FaultGuard;
use redis_harness::fault::FaultRule;
use redis_harness::{FakeRedis, FaultProxy, RecordedCommand};

/// The password used when a case asks for authentication.
pub const PASSWORD: &str = "props-secret";

/// One server a case talks to: counts its client sockets, records the
/// commands it received, and injects faults.
pub trait Backend: Send + Sync {
    /// For messages.
    fn name(&self) -> &'static str;
    /// `redis://host:port` (credentials are set on the pool, not here).
    fn url(&self) -> String;
    /// Client sockets open now, as the server sees them.
    fn open_connections(&self) -> usize;
    /// Client connections accepted since the backend started.
    fn total_connections(&self) -> u64;
    /// Installs a fault until the guard drops.
    fn fault(&self, rule: FaultRule) -> FaultGuard;
    /// Closes every client connection from the server side.
    fn kill_all(&self) -> usize;
    /// Every command received, with the id of the client that sent it.
    fn commands(&self) -> Vec<RecordedCommand>;
}

/// Makes a fresh backend per case (cheap), possibly in front of a shared,
/// expensive server.
pub trait BackendFactory: Send + Sync {
    /// For messages.
    fn name(&self) -> &'static str;
    /// A backend for one case; `auth` asks for a server with [`PASSWORD`].
    fn start(&self, auth: bool) -> Box<dyn Backend>;
}

/// The in-process fake: faults are injected in the server itself.
pub struct Fake;

struct FakeBackend(FakeRedis);

impl BackendFactory for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn start(&self, auth: bool) -> Box<dyn Backend> {
        let mut b = FakeRedis::builder().seed(7);
        if auth {
            b = b.requirepass(PASSWORD);
        }
        Box::new(FakeBackend(b.start_blocking()))
    }
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn url(&self) -> String {
        self.0.url()
    }
    fn open_connections(&self) -> usize {
        self.0.open_connections()
    }
    fn total_connections(&self) -> u64 {
        self.0.total_connections()
    }
    fn fault(&self, rule: FaultRule) -> FaultGuard {
        self.0.fault(rule)
    }
    fn kill_all(&self) -> usize {
        self.0.kill_all()
    }
    fn commands(&self) -> Vec<RecordedCommand> {
        self.0.commands()
    }
}

/// Real `redis-server` processes (one plain, one with `requirepass`),
/// shared by every case of a test; each case gets its own `FaultProxy`,
/// where the faults are injected.
pub struct Real {
    plain: RedisProcess,
    authed: RedisProcess,
}

impl Real {
    /// Starts the servers, or explains why the test is skipped (`None`).
    /// Under `REDIS_HARNESS_REQUIRE_REAL=1` a missing server is a failure.
    pub fn start_or_skip(test: &str) -> Option<Real> {
        if find_redis_server().is_none() {
            let why = "no redis-server on PATH and REDIS_HARNESS_SERVER_BIN unset";
            assert!(!require_real(), "{test}: REDIS_HARNESS_REQUIRE_REAL=1 but {why}");
            redis_harness::backend::report_skip(test, why);
            return None;
        }
        let start = |pw: Option<&str>| {
            let mut b = RedisProcess::builder().args(["--enable-debug-command", "local"]);
            if let Some(pw) = pw {
                b = b.requirepass(pw);
            }
            b.start().unwrap_or_else(|e| panic!("{test}: redis-server is installed but did not start: {e}"))
        };
        Some(Real { plain: start(None), authed: start(Some(PASSWORD)) })
    }
}

struct ProxyBackend(FaultProxy);

impl BackendFactory for Real {
    fn name(&self) -> &'static str {
        "real redis-server behind FaultProxy"
    }
    fn start(&self, auth: bool) -> Box<dyn Backend> {
        let upstream = if auth { self.authed.addr() } else { self.plain.addr() };
        Box::new(ProxyBackend(FaultProxy::builder(upstream).seed(7).start_blocking()))
    }
}

impl Backend for ProxyBackend {
    fn name(&self) -> &'static str {
        "proxy"
    }
    fn url(&self) -> String {
        self.0.url()
    }
    fn open_connections(&self) -> usize {
        self.0.open_connections()
    }
    fn total_connections(&self) -> u64 {
        self.0.total_connections()
    }
    fn fault(&self, rule: FaultRule) -> FaultGuard {
        self.0.fault(rule)
    }
    fn kill_all(&self) -> usize {
        self.0.kill_all()
    }
    fn commands(&self) -> Vec<RecordedCommand> {
        self.0.commands()
    }
}

/// Polls `cond` until it holds or `bound` passes (a bounded wait on
/// counters, not a synchronising sleep); returns whether it held.
pub async fn wait_until(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + bound;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
