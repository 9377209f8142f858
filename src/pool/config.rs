//! Connection settings (from a URL or a builder) and pool options, with
//! go-redis's names and defaults (see `docs/pool.md` for the table).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::Error;

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// Host name or IP, and port.
    Tcp {
        /// Host name or IP literal (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A unix socket path.
    Unix(PathBuf),
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerAddr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            ServerAddr::Tcp { host, port } => write!(f, "{host}:{port}"),
            ServerAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// TLS settings. The type always exists so configuration code compiles the
/// same way with and without the `tls` feature; dialling a TLS address
/// without the feature fails with [`Error::Tls`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM CA certificates to trust; empty means the platform's webpki roots
    /// are not bundled, so a CA must be given.
    pub ca_pem: Vec<u8>,
    /// PEM client certificate chain and private key, for mTLS.
    pub client_cert_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// The name to verify the server certificate against (default: the host).
    pub server_name: Option<String>,
}

/// The protocol to ask for in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Stay on RESP2: no HELLO is sent.
    Resp2,
    /// Send `HELLO 3`; fall back to RESP2 when the server does not know HELLO.
    #[default]
    Resp3,
}

/// How to reach and set up one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// The server.
    pub addr: ServerAddr,
    /// TLS, if any (`rediss://`).
    pub tls: Option<TlsConfig>,
    /// ACL user name (None: the default user).
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Database index selected after connecting.
    pub db: i64,
    /// `CLIENT SETNAME` value.
    pub client_name: Option<String>,
    /// RESP version.
    pub protocol: Protocol,
    /// Whether to send `CLIENT SETINFO LIB-NAME/LIB-VER` (go-redis's `DisableIdentity` inverted).
    pub set_lib_info: bool,
}

impl ConnectionConfig {
    /// A plain TCP configuration for `host:port`.
    pub fn tcp(host: impl Into<String>, port: u16) -> ConnectionConfig {
        ConnectionConfig::with_addr(ServerAddr::Tcp { host: host.into(), port })
    }

    /// A unix socket configuration.
    pub fn unix(path: impl Into<PathBuf>) -> ConnectionConfig {
        ConnectionConfig::with_addr(ServerAddr::Unix(path.into()))
    }

    fn with_addr(addr: ServerAddr) -> ConnectionConfig {
        ConnectionConfig {
            addr,
            tls: None,
            username: None,
            password: None,
            db: 0,
            client_name: None,
            protocol: Protocol::Resp3,
            set_lib_info: true,
        }
    }

    /// Parses `redis://[[user]:pass@]host[:port][/db]`, `rediss://...` (TLS)
    /// or `unix:///path[?db=N&password=..]`.
    pub fn from_url(url: &str) -> Result<ConnectionConfig, Error> {
        let bad = |why: &str| Error::Config(format!("{why} in URL {url:?}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("missing scheme"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let mut cfg = match scheme {
            "redis" | "rediss" => {
                let (auth, hostpart) = match rest.rsplit_once('@') {
                    Some((a, h)) => (Some(a), h),
                    None => (None, rest),
                };
                let (hostport, path) = match hostpart.split_once('/') {
                    Some((h, p)) => (h, p),
                    None => (hostpart, ""),
                };
                let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
                    let (h, after) = stripped.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
                    (h.to_string(), after.strip_prefix(':'))
                } else {
                    match hostport.rsplit_once(':') {
                        Some((h, p)) => (h.to_string(), Some(p)),
                        None => (hostport.to_string(), None),
                    }
                };
                let port = match port {
                    Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                    None => 6379,
                };
                let host = if host.is_empty() { "localhost".to_string() } else { host };
                let mut cfg = ConnectionConfig::tcp(host, port);
                if scheme == "rediss" {
                    cfg.tls = Some(TlsConfig::default());
                }
                if let Some(auth) = auth {
                    let (user, pass) = match auth.split_once(':') {
                        Some((u, p)) => (u, Some(p)),
                        None => (auth, None),
                    };
                    // `redis://secret@host` is go-redis's password-only form.
                    match pass {
                        Some(p) => {
                            if !user.is_empty() {
                                cfg.username = Some(percent_decode(user).map_err(bad)?);
                            }
                            cfg.password = Some(percent_decode(p).map_err(bad)?);
                        }
                        None if !user.is_empty() => cfg.password = Some(percent_decode(user).map_err(bad)?),
                        None => {}
                    }
                }
                let path = path.trim_end_matches('/');
                if !path.is_empty() {
                    cfg.db = path.parse().map_err(|_| bad("bad database number"))?;
                }
                cfg
            }
            "unix" => {
                if rest.is_empty() {
                    return Err(bad("missing socket path"));
                }
                ConnectionConfig::unix(rest)
            }
            _ => return Err(bad("unknown scheme (use redis://, rediss:// or unix://)")),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).map_err(bad)?;
            match k {
                "db" => cfg.db = v.parse().map_err(|_| bad("bad db"))?,
                "password" => cfg.password = Some(v),
                "username" | "user" => cfg.username = Some(v),
                "client_name" => cfg.client_name = Some(v),
                "protocol" => {
                    cfg.protocol = match v.as_str() {
                        "2" => Protocol::Resp2,
                        "3" => Protocol::Resp3,
                        _ => return Err(bad("protocol must be 2 or 3")),
                    }
                }
                _ => return Err(bad(&format!("unknown option {k:?}"))),
            }
        }
        if cfg.db < 0 {
            return Err(bad("negative database number"));
        }
        Ok(cfg)
    }

    /// The address as shown in errors.
    pub(crate) fn addr_label(&self) -> Arc<str> {
        Arc::from(self.addr.to_string())
    }
}

fn percent_decode(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "bad %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad %-escape")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "%-escapes are not UTF-8")
}

/// Deliberately broken behaviours, for testing the tests.
///
/// **Internal, for redis-harness's own tests.** The property suites and
/// tests/pool set one of these (through `PoolBuilder::sabotage`) to check
/// that they notice the bug. Outside the crate's own test builds it is not
/// reachable: it is public only with the internal cargo feature
/// `__sabotage`, which the crate's dev-dependency on itself turns on (see
/// Cargo.toml); every other pool runs [`Sabotage::None`].
#[cfg_attr(not(feature = "__sabotage"), allow(unreachable_pub, dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sabotage {
    /// Correct behaviour.
    #[default]
    None,
    /// A connection returned after close is put back in the idle list.
    PoolAfterClose,
    /// A connection whose command was cancelled is reused, reply still unread.
    ReuseCancelled,
    /// Waiters for a connection are not woken by close (they wait out pool_timeout).
    NoWakeOnClose,
    /// A `get()` cancelled after taking its permit never gives it back.
    LeakPermitOnCancel,
    /// Connections still checked out at the close deadline keep their sockets.
    KeepSocketAfterDeadline,
}

/// Pool options. Field names follow go-redis's `Options`; `None` for a
/// timeout means "no timeout".
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Maximum connections checked out (and dialling) at once. go-redis: `PoolSize`, 10 × CPUs.
    pub pool_size: usize,
    /// Idle connections the background filler keeps ready. go-redis: `MinIdleConns`, 0.
    pub min_idle: usize,
    /// Idle connections kept at most; more are closed when returned. go-redis: `MaxIdleConns`, 0 = unlimited.
    pub max_idle: Option<usize>,
    /// Hand out the oldest idle connection first (FIFO) instead of the most
    /// recently used (LIFO). go-redis: `PoolFIFO`, false.
    pub fifo: bool,
    /// How long `get()` waits for a free connection. go-redis: `PoolTimeout`, ReadTimeout + 1s.
    pub pool_timeout: Option<Duration>,
    /// Bound on connect + TLS + handshake. go-redis: `DialTimeout`, 5s.
    pub dial_timeout: Option<Duration>,
    /// Bound on waiting for each reply. go-redis: `ReadTimeout`, 3s.
    pub read_timeout: Option<Duration>,
    /// Bound on writing a command. go-redis: `WriteTimeout`, = ReadTimeout.
    pub write_timeout: Option<Duration>,
    /// Idle connections older than this (since last use) are closed. go-redis: `ConnMaxIdleTime`, 30 min.
    pub conn_max_idle_time: Option<Duration>,
    /// Connections older than this are closed when next seen. go-redis: `ConnMaxLifetime`, none.
    pub conn_max_lifetime: Option<Duration>,
    /// Up to this fraction (0..=1) of `conn_max_lifetime` is subtracted at
    /// random per connection, so a pool dialled at once does not expire at once.
    pub conn_max_lifetime_jitter: f64,
    /// Retries after the first attempt (0 = none). go-redis: `MaxRetries`, 3.
    pub max_retries: u32,
    /// Smallest retry backoff. go-redis: `MinRetryBackoff`, 8ms.
    pub min_retry_backoff: Duration,
    /// Largest retry backoff. go-redis: `MaxRetryBackoff`, 512ms.
    pub max_retry_backoff: Duration,
    /// A connection idle at least this long is PINGed before it is handed
    /// out; younger ones get only the free non-blocking socket check.
    pub ping_after_idle: Option<Duration>,
    /// Consecutive dial failures that open the circuit breaker (0 = never).
    pub breaker_threshold: u32,
    /// How long the open breaker fails dials fast before letting one probe through.
    pub breaker_cooldown: Duration,
    /// How often the reaper closes idle connections past their idle time or
    /// lifetime (checkout checks them too, so this only frees sockets sooner).
    pub reaper_interval: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> PoolOptions {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let read = Duration::from_secs(3);
        PoolOptions {
            pool_size: 10 * cpus,
            min_idle: 0,
            max_idle: None,
            fifo: false,
            pool_timeout: Some(read + Duration::from_secs(1)),
            dial_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(read),
            write_timeout: Some(read),
            conn_max_idle_time: Some(Duration::from_secs(30 * 60)),
            conn_max_lifetime: None,
            conn_max_lifetime_jitter: 0.0,
            max_retries: 3,
            min_retry_backoff: Duration::from_millis(8),
            max_retry_backoff: Duration::from_millis(512),
            ping_after_idle: Some(Duration::from_secs(60)),
            breaker_threshold: 10 * cpus as u32,
            breaker_cooldown: Duration::from_secs(1),
            reaper_interval: Some(Duration::from_secs(60)),
        }
    }
}

impl PoolOptions {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.pool_size == 0 {
            return Err(Error::Config("pool_size must be at least 1".into()));
        }
        if self.min_idle > self.pool_size {
            return Err(Error::Config(format!(
                "min_idle ({}) is larger than pool_size ({})",
                self.min_idle, self.pool_size
            )));
        }
        if !(0.0..=1.0).contains(&self.conn_max_lifetime_jitter) {
            return Err(Error::Config("conn_max_lifetime_jitter must be between 0 and 1".into()));
        }
        if self.min_retry_backoff > self.max_retry_backoff {
            return Err(Error::Config("min_retry_backoff is larger than max_retry_backoff".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let c = ConnectionConfig::from_url("redis://alice:s%40cret@example.com:6380/3").unwrap();
        assert_eq!(c.addr, ServerAddr::Tcp { host: "example.com".into(), port: 6380 });
        assert_eq!((c.username.as_deref(), c.password.as_deref(), c.db), (Some("alice"), Some("s@cret"), 3));
        let c = ConnectionConfig::from_url("redis://:pw@127.0.0.1").unwrap();
        assert_eq!((c.username, c.password.as_deref()), (None, Some("pw")));
        let c = ConnectionConfig::from_url("rediss://[::1]:7000").unwrap();
        assert_eq!(c.addr, ServerAddr::Tcp { host: "::1".into(), port: 7000 });
        assert!(c.tls.is_some());
        let c = ConnectionConfig::from_url("unix:///tmp/r.sock?db=2&protocol=2").unwrap();
        assert_eq!((c.addr, c.db, c.protocol), (ServerAddr::Unix("/tmp/r.sock".into()), 2, Protocol::Resp2));
        assert!(ConnectionConfig::from_url("http://x").is_err());
        assert!(ConnectionConfig::from_url("redis://h:notaport").is_err());
        assert!(ConnectionConfig::from_url("redis://h/-1").is_err());
    }
}
