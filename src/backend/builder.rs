//! [`BackendBuilder`]: the options that mean the same on all three
//! backends, and starting each kind with them.

#[cfg(feature = "containers")]
use super::container::{self, RedisContainer};
#[cfg(feature = "tls")]
use super::TlsFiles;
#[cfg(not(feature = "containers"))]
use super::NO_CONTAINERS_FEATURE;
use super::{process, Backend, BackendError, BackendKind, Embedded, RedisProcess, Server, TlsMode, NO_REDIS_SERVER};
use crate::{FakeRedis, FaultProxy};

/// Configures a [`Backend`]; the same options mean the same on all three.
#[derive(Debug, Clone)]
#[must_use = "a BackendBuilder does nothing until you call start()"]
pub struct BackendBuilder {
    pub(super) kind: BackendKind,
    password: Option<String>,
    users: Vec<(String, Vec<String>)>,
    tls: Option<TlsMode>,
    fault_proxy: bool,
    real_args: Vec<String>,
    image: Option<String>,
    seed: Option<u64>,
    record_commands: bool,
}

impl BackendBuilder {
    pub(super) fn new(kind: BackendKind) -> BackendBuilder {
        BackendBuilder {
            kind,
            password: None,
            users: Vec::new(),
            tls: None,
            fault_proxy: true,
            real_args: Vec::new(),
            image: None,
            seed: None,
            record_commands: true,
        }
    }

    /// Seeds the fault randomness (the fake's, or the proxy's in front of a
    /// real Redis), as [`crate::Builder::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether the fake (or the proxy) records every command (default on;
    /// turn it off for long load runs).
    pub fn record_commands(mut self, on: bool) -> Self {
        self.record_commands = on;
        self
    }

    /// Sets `requirepass` (the default user's password).
    pub fn requirepass(mut self, pw: impl Into<String>) -> Self {
        self.password = Some(pw.into());
        self
    }

    /// Adds an ACL user with ACL SETUSER rules: `user("app", ["on", ">pw", "~*", "+@all"])`.
    pub fn user<I: IntoIterator<Item = S>, S: Into<String>>(mut self, name: &str, rules: I) -> Self {
        self.users.push((name.to_string(), rules.into_iter().map(Into::into).collect()));
        self
    }

    /// Serves TLS ([`Backend::addr`] becomes the TLS listener, [`Backend::url`] `rediss://`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self) -> Self {
        self.tls = Some(TlsMode::Tls);
        self
    }

    /// Serves TLS and requires a client certificate ([`Backend::client_identity`]).
    #[cfg(feature = "tls")]
    pub fn mtls(mut self) -> Self {
        self.tls = Some(TlsMode::Mtls);
        self
    }

    /// Whether a real backend gets a [`FaultProxy`] in front (default on).
    /// Without it, clients reach Redis directly and there are no faults or
    /// socket counts. The fake ignores this: it injects faults itself.
    pub fn fault_proxy(mut self, on: bool) -> Self {
        self.fault_proxy = on;
        self
    }

    /// Raw `redis-server` arguments for the real backends (e.g.
    /// `["--enable-debug-command", "local"]`); the fake ignores them.
    pub fn real_server_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.real_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The container image (`name[:tag]`), instead of `REDIS_HARNESS_IMAGE`
    /// or the default official Redis 7 image.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Checks, without starting anything, that this machine can run the
    /// backend: `redis-server` found; the `containers` feature on, Docker
    /// answering and the image present locally (a pull may still work when
    /// it is not, but no registry may be reachable).
    pub fn check_available(&self) -> Result<(), BackendError> {
        let kind = self.kind;
        let unavailable = |reason: String| Err(BackendError::Unavailable { kind, reason });
        match kind {
            BackendKind::Embedded => Ok(()),
            BackendKind::Process => match process::find_redis_server() {
                Some(_) => Ok(()),
                None => unavailable(NO_REDIS_SERVER.into()),
            },
            #[cfg(not(feature = "containers"))]
            BackendKind::Container => unavailable(NO_CONTAINERS_FEATURE.into()),
            #[cfg(feature = "containers")]
            BackendKind::Container => {
                let image = self.image.clone().unwrap_or_else(container::image_from_env);
                match container::docker_ping().and_then(|()| container::image_present(&image)) {
                    Ok(true) => Ok(()),
                    Ok(false) => unavailable(format!(
                        "image {image} is not present locally; build one with `just redis-image` and set \
                         REDIS_HARNESS_IMAGE=redis-harness/redis:7 (or pull {image})"
                    )),
                    Err(e) => unavailable(e.to_string()),
                }
            }
        }
    }

    /// Starts the backend.
    pub fn start(self) -> Result<Backend, BackendError> {
        let kind = self.kind;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| BackendError::Failed { kind, source: e };
        #[cfg(feature = "tls")]
        let pki = match (self.tls, kind) {
            (Some(_), BackendKind::Process | BackendKind::Container) => {
                Some(std::sync::Arc::new(crate::tls::TestPki::generate().map_err(|e| failed(Box::new(e)))?))
            }
            _ => None,
        };
        // Only the container with TLS fills it.
        #[cfg_attr(not(all(feature = "tls", feature = "containers")), allow(unused_mut))]
        let mut pki_dir = None;
        let server = match kind {
            BackendKind::Embedded => {
                let mut b = FakeRedis::builder().record_commands(self.record_commands);
                if let Some(seed) = self.seed {
                    b = b.seed(seed);
                }
                if let Some(pw) = &self.password {
                    b = b.requirepass(pw.clone());
                }
                #[cfg(feature = "tls")]
                match self.tls {
                    Some(TlsMode::Tls) => b = b.tls(),
                    Some(TlsMode::Mtls) => b = b.mtls(),
                    None => {}
                }
                Server::Embedded(Embedded::start(b, self.users.clone()).map_err(failed)?)
            }
            BackendKind::Process => {
                let Some(bin) = process::find_redis_server() else {
                    return Err(BackendError::Unavailable { kind, reason: NO_REDIS_SERVER.into() });
                };
                let mut b = RedisProcess::builder().binary(bin).args(self.real_args.iter().cloned());
                if let Some(pw) = &self.password {
                    b = b.requirepass(pw.clone());
                }
                for (name, rules) in &self.users {
                    b = b.acl_user(name, rules.iter().cloned());
                }
                #[cfg(feature = "tls")]
                if let (Some(mode), Some(pki)) = (self.tls, &pki) {
                    b = b.tls_pki(pki, mode == TlsMode::Mtls).map_err(|e| failed(Box::new(e)))?;
                }
                Server::Process(b.start().map_err(|e| failed(Box::new(e)))?)
            }
            BackendKind::Container => {
                #[cfg(not(feature = "containers"))]
                {
                    return Err(BackendError::Unavailable { kind, reason: NO_CONTAINERS_FEATURE.into() });
                }
                #[cfg(feature = "containers")]
                {
                    if let Err(e) = container::docker_ping() {
                        return Err(BackendError::Unavailable { kind, reason: e.to_string() });
                    }
                    let mut b = RedisContainer::builder().args(self.real_args.iter().cloned());
                    if let Some(image) = &self.image {
                        b = b.image(image.clone());
                    }
                    if let Some(pw) = &self.password {
                        b = b.requirepass(pw.clone());
                    }
                    for (name, rules) in &self.users {
                        b = b.args(std::iter::once("--user".to_string()).chain(std::iter::once(name.clone())));
                        b = b.args(rules.iter().cloned());
                    }
                    #[cfg(feature = "tls")]
                    if let (Some(mode), Some(pki)) = (self.tls, &pki) {
                        let dir = tempfile::Builder::new()
                            .prefix("redis-harness-pki-")
                            .tempdir()
                            .map_err(|e| failed(Box::new(e)))?;
                        pki.write_to(dir.path()).map_err(|e| failed(Box::new(e)))?;
                        b = b.tls(TlsFiles::from_certs_gen_dir(dir.path(), mode == TlsMode::Mtls));
                        pki_dir = Some(dir);
                    }
                    match b.start() {
                        Ok(c) => Server::Container(Box::new(c)),
                        Err(e @ (container::ContainerError::NoDocker(_) | container::ContainerError::NoImage(_))) => {
                            return Err(BackendError::Unavailable { kind, reason: e.to_string() })
                        }
                        Err(e) => return Err(failed(Box::new(e))),
                    }
                }
            }
        };
        let proxy = if kind.is_real() && self.fault_proxy {
            let upstream = server.plain_addr();
            let mut b = FaultProxy::builder(upstream).record_commands(self.record_commands);
            if let Some(seed) = self.seed {
                b = b.seed(seed);
            }
            Some(b.try_start().map_err(|e| failed(Box::new(e)))?)
        } else {
            None
        };
        Ok(Backend {
            kind,
            proxy,
            server,
            start_password: self.password.clone(),
            password: self.password,
            tls: self.tls,
            #[cfg(feature = "tls")]
            pki,
            _pki_dir: pki_dir,
        })
    }
}
