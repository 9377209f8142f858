//! The server a scenario runs against: the embedded fake, or a real
//! Redis (a `redis-server` process or a container, through
//! [`Backend`]) behind its [`FaultProxy`](crate::FaultProxy), which applies the
//! fault rules and counts client sockets the way the fake does.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::backend::BackendKind;
use crate::backend::{Backend, BackendError};
use crate::fault::{FaultGuard, FaultRule};
use crate::pool::{Cmd, Pool, TlsConfig};
use crate::FakeRedis;

enum Server {
    /// `None` while the restart scenario has it stopped.
    Embedded(Option<FakeRedis>),
    /// A real Redis (process or container) behind its fault proxy.
    Real(Box<Backend>),
}

/// A running server with the controls scenarios use.
pub(crate) struct Target {
    server: Server,
    /// Where clients connect.
    addr: SocketAddr,
    password: Option<String>,
    tls: bool,
    seed: u64,
}

/// Why a target could not start or do something.
pub(crate) type TargetError = String;

fn start_fake(addr: SocketAddr, seed: u64, password: Option<&str>, tls: bool) -> Result<FakeRedis, TargetError> {
    let mut b = FakeRedis::builder().bind(addr).seed(seed).record_commands(false);
    if let Some(pw) = password {
        b = b.requirepass(pw);
    }
    if tls {
        #[cfg(feature = "tls")]
        {
            b = b.tls();
        }
        #[cfg(not(feature = "tls"))]
        return Err("this scenario needs TLS: build with --features tls".into());
    }
    b.try_start().map_err(|e| e.to_string())
}

impl Target {
    pub(crate) fn start(
        kind: BackendKind,
        seed: u64,
        password: Option<&str>,
        tls: bool,
    ) -> Result<Target, TargetError> {
        match kind {
            BackendKind::Embedded => {
                let fake = start_fake(SocketAddr::from(([127, 0, 0, 1], 0)), seed, password, tls)?;
                let addr = fake.addr();
                Ok(Target {
                    server: Server::Embedded(Some(fake)),
                    addr,
                    password: password.map(String::from),
                    tls,
                    seed,
                })
            }
            BackendKind::Process | BackendKind::Container => {
                if tls {
                    return Err("TLS scenarios need the embedded backend (the fake's certificate controls)".into());
                }
                let mut b = Backend::builder(kind)
                    .seed(seed)
                    .record_commands(false)
                    // Acknowledged writes must survive the restart scenario, as a durable Redis keeps them.
                    .real_server_args(["--appendonly", "yes", "--appendfsync", "always"]);
                if let Some(pw) = password {
                    b = b.requirepass(pw);
                }
                let backend = b.start().map_err(|e| match e {
                    BackendError::Unavailable { .. } => {
                        format!("{e} (run with --backend embedded, or install what it names)")
                    }
                    e => e.to_string(),
                })?;
                let addr = backend.addr();
                Ok(Target {
                    server: Server::Real(Box::new(backend)),
                    addr,
                    password: password.map(String::from),
                    tls,
                    seed,
                })
            }
        }
    }

    /// The URL with the current password, and the TLS settings to dial it.
    pub(crate) fn url(&self, password: Option<&str>) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        match password {
            Some(pw) => format!("{scheme}://:{pw}@{}", self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// TLS settings trusting the first CA, or both CAs.
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    pub(crate) fn tls_config(&self, trust_both: bool) -> Option<TlsConfig> {
        if !self.tls {
            return None;
        }
        #[cfg(feature = "tls")]
        if let Server::Embedded(Some(f)) = &self.server {
            let mut ca = f.ca_pem();
            if trust_both {
                ca.push_str(&f.tls_pki().other_ca_pem());
            }
            return Some(TlsConfig { ca_pem: ca.into_bytes(), client_cert_pem: None, server_name: None });
        }
        None
    }

    pub(crate) fn fault(&self, rule: FaultRule) -> Option<FaultGuard> {
        match &self.server {
            Server::Embedded(Some(f)) => Some(f.fault(rule)),
            Server::Embedded(None) => None,
            Server::Real(b) => Some(b.fault(rule)),
        }
    }

    pub(crate) fn kill_all(&self) -> usize {
        match &self.server {
            Server::Embedded(Some(f)) => f.kill_all(),
            Server::Embedded(None) => 0,
            Server::Real(b) => b.kill_all(),
        }
    }

    /// Changes `requirepass`: on the fake directly, on a real Redis with CONFIG SET.
    pub(crate) async fn set_password(&mut self, pw: &str) -> Result<(), TargetError> {
        match &self.server {
            Server::Embedded(Some(f)) => f.set_password(pw),
            Server::Embedded(None) => return Err("the server is down".into()),
            Server::Real(b) => {
                // Straight to Redis: the proxy's faults must not hit the admin connection.
                let server = b.server_addr();
                let url = match &self.password {
                    Some(old) => format!("redis://:{old}@{server}"),
                    None => format!("redis://{server}"),
                };
                let admin = Pool::builder(&url).pool_size(1).max_retries(0).build().map_err(|e| e.to_string())?;
                let r = admin.query(&Cmd::from_args(["CONFIG", "SET", "requirepass", pw])).await;
                admin.close(Duration::from_secs(1)).await;
                r.map_err(|e| e.to_string())?;
            }
        }
        self.password = Some(pw.to_string()).filter(|p| !p.is_empty());
        Ok(())
    }

    /// Stops the server (every connection closes; new ones are refused).
    pub(crate) fn stop(&mut self) -> Result<(), TargetError> {
        match &mut self.server {
            Server::Embedded(f) => drop(f.take()),
            Server::Real(b) => b.kill_server().map_err(|e| e.to_string())?,
        }
        Ok(())
    }

    /// Starts the server again on the same port (a fake starts empty; the
    /// real Redis reloads its append-only file).
    pub(crate) fn start_again(&mut self) -> Result<(), TargetError> {
        let (seed, addr, pw, tls) = (self.seed, self.addr, self.password.clone(), self.tls);
        match &mut self.server {
            Server::Embedded(f) => {
                if f.is_none() {
                    *f = Some(start_fake(addr, seed, pw.as_deref(), tls)?);
                }
            }
            Server::Real(b) => {
                if !b.is_server_running() {
                    b.restart_server().map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    pub(crate) fn set_tls_cert(&self, kind: &str) -> Result<(), TargetError> {
        #[cfg(feature = "tls")]
        if let Server::Embedded(Some(f)) = &self.server {
            use crate::tls::ServerCertKind as K;
            let k = match kind {
                "valid" => K::Valid,
                "expired" => K::Expired,
                "not-yet-valid" => K::NotYetValid,
                "wrong-host" => K::WrongHost,
                _ => K::UnknownCa,
            };
            f.set_tls_server_cert(k);
            return Ok(());
        }
        Err("certificate controls need the embedded backend built with --features tls".into())
    }

    /// Client sockets the server (or the proxy) has open now.
    pub(crate) fn open_connections(&self) -> usize {
        match &self.server {
            Server::Embedded(Some(f)) => f.open_connections(),
            Server::Embedded(None) => 0,
            Server::Real(b) => b.open_connections().unwrap_or(0),
        }
    }

    /// Waits (bounded) until at most `n` client sockets are open; returns how many are.
    pub(crate) async fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> usize {
        let r = match &self.server {
            Server::Embedded(Some(f)) => f.wait_for_open_connections(n, timeout).await,
            Server::Embedded(None) => Ok(()),
            Server::Real(b) => b.wait_for_open_connections(n, timeout).await,
        };
        match r {
            Ok(()) => n.min(self.open_connections()),
            Err(_) => self.open_connections(),
        }
    }
}
