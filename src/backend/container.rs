//! A Redis in a Docker container (feature `containers`), started with
//! testcontainers, reachable on a mapped port, removed on drop.
//!
//! ## Implementation notes
//! testcontainers is async and its Docker client is cached process-wide; its
//! HTTP connections belong to the runtime that opened them. Containers are
//! therefore started and removed on one dedicated runtime thread shared by
//! every [`RedisContainer`], so tests on any runtime (or none) can use them,
//! and no pooled connection outlives the runtime that drives it. Removal is an
//! explicit `rm()` awaited there, bounded, never testcontainers' drop hook
//! (which needs an ambient runtime).

use std::fmt;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, CopyTargetOptions, GenericImage, ImageExt};

/// The image used unless [`RedisContainerBuilder::image`] or
/// `REDIS_HARNESS_IMAGE` says otherwise: the official Redis 7 image.
pub const DEFAULT_IMAGE: &str = "redis:7.4";

/// Port Redis listens on inside the container.
const PORT: u16 = 6379;
/// TLS port inside the container.
const TLS_PORT: u16 = 6380;
/// Where the TLS files are copied inside the container.
const TLS_DIR: &str = "/harness-tls";
/// Bound on start-up (image present locally) and on removal.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const REMOVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a container could not be started.
#[derive(Debug)]
pub enum ContainerError {
    /// No Docker daemon answered the ping.
    NoDocker(String),
    /// The image is not present locally and could not be pulled.
    NoImage(String),
    /// Docker answered but the container did not start or become ready.
    Start(String),
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerError::NoDocker(m) => write!(f, "no Docker daemon: {m}"),
            ContainerError::NoImage(m) | ContainerError::Start(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ContainerError {}

/// The image to run: `REDIS_HARNESS_IMAGE` (`name[:tag]`), else [`DEFAULT_IMAGE`].
pub fn image_from_env() -> String {
    match std::env::var("REDIS_HARNESS_IMAGE") {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => DEFAULT_IMAGE.to_string(),
    }
}

/// Splits `name[:tag]` (a registry port such as `host:5000/x` is not a tag).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Checks that a Docker daemon answers `GET /_ping` (on `DOCKER_HOST` if it is
/// `unix://` or `tcp://`, else `/var/run/docker.sock`), within two seconds.
pub fn docker_ping() -> Result<(), ContainerError> {
    match docker_get("/_ping")? {
        (200, _) => Ok(()),
        (status, body) => {
            Err(ContainerError::NoDocker(format!("{} answered the ping with {status}: {body}", docker_host())))
        }
    }
}

/// Whether `image` (`name[:tag]`) is present locally (no pull needed).
pub fn image_present(image: &str) -> Result<bool, ContainerError> {
    let (name, tag) = split_image(image);
    match docker_get(&format!("/images/{name}:{tag}/json"))? {
        (200, _) => Ok(true),
        (404, _) => Ok(false),
        (status, body) => Err(ContainerError::Start(format!("docker answered {status} for image {image}: {body}"))),
    }
}

/// Whether a container with this id still exists.
pub fn container_exists(id: &str) -> Result<bool, ContainerError> {
    match docker_get(&format!("/containers/{id}/json"))? {
        (200, _) => Ok(true),
        (404, _) => Ok(false),
        (status, body) => Err(ContainerError::Start(format!("docker answered {status} for container {id}: {body}"))),
    }
}

fn docker_host() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h,
        _ => "unix:///var/run/docker.sock".to_string(),
    }
}

/// One bounded HTTP/1.0 GET to the Docker API: (status, body).
fn docker_get(path: &str) -> Result<(u16, String), ContainerError> {
    docker_request("GET", path)
}

/// One bounded HTTP/1.0 request without a body to the Docker API: (status, body).
fn docker_request(method: &str, path: &str) -> Result<(u16, String), ContainerError> {
    let host = docker_host();
    let timeout = Duration::from_secs(2);
    let no_docker = |e: std::io::Error| {
        ContainerError::NoDocker(format!("{host}: {e} (is the Docker daemon running, and may this user use it?)"))
    };
    let mut stream: Box<dyn ReadWrite> = if let Some(addr) = host.strip_prefix("tcp://") {
        let sock = std::net::ToSocketAddrs::to_socket_addrs(addr)
            .map_err(no_docker)?
            .next()
            .ok_or_else(|| ContainerError::NoDocker(format!("DOCKER_HOST={host} does not resolve")))?;
        let s = std::net::TcpStream::connect_timeout(&sock, timeout).map_err(no_docker)?;
        s.set_read_timeout(Some(timeout)).map_err(no_docker)?;
        s.set_write_timeout(Some(timeout)).map_err(no_docker)?;
        Box::new(s)
    } else if let Some(p) = host.strip_prefix("unix://") {
        let s = std::os::unix::net::UnixStream::connect(p).map_err(no_docker)?;
        s.set_read_timeout(Some(timeout)).map_err(no_docker)?;
        s.set_write_timeout(Some(timeout)).map_err(no_docker)?;
        Box::new(s)
    } else {
        return Err(ContainerError::NoDocker(format!("DOCKER_HOST={host}: only unix:// and tcp:// are supported")));
    };
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n").map_err(no_docker)?;
    let mut reply = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut reply).map_err(no_docker)?;
    let text = String::from_utf8_lossy(&reply);
    let status =
        text.strip_prefix("HTTP/1.").and_then(|r| r.get(2..5)).and_then(|s| s.parse().ok()).ok_or_else(|| {
            ContainerError::NoDocker(format!("{host} does not speak HTTP: {:?}", text.lines().next()))
        })?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Waits until Redis at `addr` answers PING (`+PONG`, or `-NOAUTH` when it
/// has a password), bounded by `timeout`. Docker's port forwarder accepts
/// connections before Redis listens, so a bare connect proves nothing.
fn wait_until_serving(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + timeout;
    let step = Duration::from_millis(500);
    let mut last = String::from("never answered");
    while std::time::Instant::now() < deadline {
        let attempt = (|| -> std::io::Result<Vec<u8>> {
            let mut s = std::net::TcpStream::connect_timeout(&addr, step)?;
            s.set_read_timeout(Some(step))?;
            s.write_all(b"PING\r\n")?;
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf)?;
            Ok(buf[..n].to_vec())
        })();
        match attempt {
            Ok(r) if r.starts_with(b"+PONG") || r.starts_with(b"-NOAUTH") => return Ok(()),
            Ok(r) => last = format!("answered {:?}", String::from_utf8_lossy(&r)),
            Err(e) => last = e.to_string(),
        }
        // A refused or reset connection returns at once: pace the retries.
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("did not answer PING on {addr} within {timeout:?} (last: {last})"))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Configures a [`RedisContainer`].
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until you call start()"]
pub struct RedisContainerBuilder {
    image: Option<String>,
    password: Option<String>,
    args: Vec<String>,
    tls: Option<super::TlsFiles>,
}

impl RedisContainerBuilder {
    /// Runs this image (`name[:tag]`) instead of `REDIS_HARNESS_IMAGE` / [`DEFAULT_IMAGE`].
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Sets `requirepass`.
    pub fn requirepass(mut self, pw: impl Into<String>) -> Self {
        self.password = Some(pw.into());
        self
    }

    /// Adds raw `redis-server` arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Also serves TLS: the files are copied into the container and Redis
    /// listens with `--tls-port` ([`RedisContainer::tls_addr`]).
    pub fn tls(mut self, files: super::TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Pings Docker, then starts the container and waits for Redis's ready
    /// line (no sleeps). The image is pulled only if it is not present.
    pub fn start(self) -> Result<RedisContainer, ContainerError> {
        docker_ping()?;
        let image = self.image.clone().unwrap_or_else(image_from_env);
        let (name, tag) = split_image(&image);
        let mut cmd: Vec<String> = ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no", "--logfile", "", "--port"])
            .map(String::from)
            .collect();
        cmd.push(PORT.to_string());
        if let Some(pw) = &self.password {
            cmd.extend(["--requirepass".to_string(), pw.clone()]);
        }
        let mut request = GenericImage::new(name, tag)
            .with_exposed_port(PORT.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"));
        let mut copies: Vec<(PathBuf, String)> = Vec::new();
        if let Some(t) = &self.tls {
            request = request.with_exposed_port(TLS_PORT.tcp());
            for (src, dst) in [(&t.cert, "server.crt"), (&t.key, "server.key"), (&t.ca, "ca.crt")] {
                copies.push((src.clone(), format!("{TLS_DIR}/{dst}")));
            }
            cmd.extend([
                "--tls-port".to_string(),
                TLS_PORT.to_string(),
                "--tls-cert-file".into(),
                format!("{TLS_DIR}/server.crt"),
                "--tls-key-file".into(),
                format!("{TLS_DIR}/server.key"),
                "--tls-ca-cert-file".into(),
                format!("{TLS_DIR}/ca.crt"),
                "--tls-auth-clients".into(),
                if t.require_client_cert { "yes" } else { "no" }.into(),
            ]);
        }
        cmd.extend(self.args.iter().cloned());
        let mut request = request.with_cmd(cmd).with_startup_timeout(START_TIMEOUT);
        for (src, dst) in copies {
            // Readable by the server whichever user the image runs it as.
            request = request.with_copy_to(CopyTargetOptions::new(dst).with_mode(0o644), src.as_path());
        }
        let tls = self.tls.is_some();
        // Decides whether a failure means "this machine cannot" (skip) or "it broke" (fail).
        let present = image_present(&image)?;
        let (tx, rx) = mpsc::channel();
        service().spawn(async move {
            let started = async {
                let c = request.start().await.map_err(|e| e.to_string())?;
                let port = c.get_host_port_ipv4(PORT).await.map_err(|e| e.to_string())?;
                let tls_port =
                    if tls { Some(c.get_host_port_ipv4(TLS_PORT).await.map_err(|e| e.to_string())?) } else { None };
                Ok::<_, String>((c, port, tls_port))
            };
            let _ = tx.send(started.await);
        });
        let what = format!("starting a Redis container from image {image}");
        let (container, port, tls_port) = match rx.recv_timeout(START_TIMEOUT + Duration::from_secs(5)) {
            Ok(Ok(x)) => x,
            Ok(Err(e)) if !present => {
                return Err(ContainerError::NoImage(format!(
                    "image {image} is not present locally and could not be pulled ({e}); build one with \
                     `just redis-image` and set REDIS_HARNESS_IMAGE=redis-harness/redis:7"
                )))
            }
            Ok(Err(e)) => return Err(ContainerError::Start(format!("{what}: {e}"))),
            Err(_) => return Err(ContainerError::Start(format!("{what}: not ready within {START_TIMEOUT:?}"))),
        };
        let id = container.id().to_string();
        Ok(RedisContainer {
            container: Some(Arc::new(container)),
            running: true,
            id,
            image,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls_addr: tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            password: self.password,
        })
    }
}

/// The runtime thread that owns every container's Docker traffic.
fn service() -> &'static tokio::runtime::Handle {
    static SERVICE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("redis-harness-containers".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building the container runtime");
                let _ = tx.send(rt.handle().clone());
                // Drives spawned start/remove tasks for the life of the process.
                rt.block_on(std::future::pending::<()>());
            })
            .expect("spawning the container runtime thread");
        rx.recv().expect("the container runtime thread starts")
    })
}

/// A running Redis container; removed (forcibly, with its volumes) on drop.
pub struct RedisContainer {
    // Shared with the service runtime's tasks (kill, restart); unwrapped to remove it.
    container: Option<Arc<ContainerAsync<GenericImage>>>,
    running: bool,
    id: String,
    image: String,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    password: Option<String>,
}

impl RedisContainer {
    /// A builder.
    pub fn builder() -> RedisContainerBuilder {
        RedisContainerBuilder::default()
    }

    /// Starts a default container.
    pub fn start() -> Result<RedisContainer, ContainerError> {
        RedisContainerBuilder::default().start()
    }

    /// The mapped host address of Redis's plaintext port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The mapped host address of the TLS port, if started with TLS.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// `redis://[:password@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@{}", self.addr),
            None => format!("redis://{}", self.addr),
        }
    }

    /// The Docker container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The image it runs.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Whether Redis runs in it (it has not been [killed](RedisContainer::kill)).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Stops the container with SIGKILL, as a crash would (the container and
    /// its filesystem stay): every client connection drops and new ones are
    /// refused until [`RedisContainer::restart`].
    pub fn kill(&mut self) -> Result<(), ContainerError> {
        if !self.running {
            return Ok(());
        }
        let id = self.id.clone();
        self.on_service(REMOVE_TIMEOUT, "stopping", |c| async move { c.stop_with_timeout(Some(0)).await })
            .map_err(|e| ContainerError::Start(format!("container {id}: {e}")))?;
        self.running = false;
        Ok(())
    }

    /// Starts the container again (killing it first if it runs) and waits
    /// until Redis answers PING. Docker maps the ports anew, so
    /// [`RedisContainer::addr`] may change; a Redis started with persistence
    /// (`--appendonly yes`) reloads its data from the container's filesystem.
    pub fn restart(&mut self) -> Result<(), ContainerError> {
        self.kill()?;
        let id = self.id.clone();
        let tls = self.tls_addr.is_some();
        let (port, tls_port) = self
            .on_service(START_TIMEOUT, "restarting", move |c| async move {
                c.start().await?;
                let port = c.get_host_port_ipv4(PORT).await?;
                let tls_port = if tls { Some(c.get_host_port_ipv4(TLS_PORT).await?) } else { None };
                Ok((port, tls_port))
            })
            .map_err(|e| ContainerError::Start(format!("container {id}: {e}")))?;
        self.addr = SocketAddr::from(([127, 0, 0, 1], port));
        self.tls_addr = tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
        self.running = true;
        wait_until_serving(self.addr, START_TIMEOUT)
            .map_err(|e| ContainerError::Start(format!("container {id} restarted but Redis {e}")))
    }

    /// Runs `f` on the container on the service runtime, bounded by `timeout`.
    fn on_service<T, F, Fut>(&self, timeout: Duration, what: &str, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(Arc<ContainerAsync<GenericImage>>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = testcontainers::core::error::Result<T>> + Send + 'static,
    {
        let c = self.container.clone().ok_or_else(|| format!("{what}: the container was already removed"))?;
        let (tx, rx) = mpsc::channel();
        service().spawn(async move {
            let _ = tx.send(f(c).await.map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(timeout) {
            Ok(r) => r.map_err(|e| format!("{what}: {e}")),
            Err(_) => Err(format!("{what} did not finish within {timeout:?}")),
        }
    }
}

impl Drop for RedisContainer {
    fn drop(&mut self) {
        let Some(c) = self.container.take() else { return };
        let c = match Arc::try_unwrap(c) {
            Ok(c) => c,
            Err(_) => {
                // A kill or restart that timed out still holds it: remove by id instead.
                if let Err(e) = docker_request("DELETE", &format!("/containers/{}?force=true&v=true", self.id)) {
                    eprintln!("redis-harness: removing container {}: {e}", self.id);
                }
                return;
            }
        };
        let (tx, rx) = mpsc::channel();
        service().spawn(async move {
            let _ = tx.send(c.rm().await.map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(REMOVE_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("redis-harness: removing container {}: {e}", self.id),
            Err(_) => eprintln!("redis-harness: container {} not removed within {REMOVE_TIMEOUT:?}", self.id),
        }
    }
}

impl fmt::Debug for RedisContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisContainer")
            .field("id", &self.id)
            .field("image", &self.image)
            .field("addr", &self.addr)
            .finish()
    }
}
