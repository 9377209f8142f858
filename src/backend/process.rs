//! A real `redis-server` process in a temporary directory, on a free port,
//! without persistence; killed and reaped on drop.

use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long to wait for `redis-server` to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `redis-server` child process.
pub struct RedisProcess {
    /// `None` between [`RedisProcess::kill`] and [`RedisProcess::restart`].
    child: Option<Child>,
    /// What it was started with, for [`RedisProcess::restart`].
    bin: PathBuf,
    args: Vec<OsString>,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    unix_path: PathBuf,
    password: Option<String>,
    // Dropped after the child is killed (field order does not matter: Drop kills first).
    dir: tempfile::TempDir,
    // Certificates written for `tls_pki`; they must outlive the server reading them.
    _pki_dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

/// Configures a [`RedisProcess`].
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until you call start()"]
pub struct RedisProcessBuilder {
    binary: Option<PathBuf>,
    password: Option<String>,
    extra_args: Vec<String>,
    users: Vec<Vec<String>>,
    tls: Option<TlsFiles>,
    pki_dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

/// PEM files for a TLS listener (certs-gen writes them).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// CA that signs client certificates (and that clients trust).
    pub ca: PathBuf,
    /// Require clients to present a certificate signed by `ca` (mTLS).
    pub require_client_cert: bool,
}

impl TlsFiles {
    /// The files certs-gen writes into `dir`: `server.crt`, `server.key`, `ca.crt`.
    pub fn from_certs_gen_dir(dir: &Path, require_client_cert: bool) -> TlsFiles {
        TlsFiles {
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
            ca: dir.join("ca.crt"),
            require_client_cert,
        }
    }
}

/// Why a `redis-server` could not be started.
#[derive(Debug)]
pub enum ProcessError {
    /// No `redis-server` binary was found.
    NotFound(String),
    /// It started but never said it was ready, or exited.
    NotReady(String),
    /// An I/O error while preparing or spawning it.
    Io(String, std::io::Error),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::NotFound(m) | ProcessError::NotReady(m) => f.write_str(m),
            ProcessError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Finds `redis-server`: `REDIS_HARNESS_SERVER_BIN`, else on `PATH`.
pub fn find_redis_server() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("REDIS_HARNESS_SERVER_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("redis-server")).find(|p| p.is_file())
}

impl RedisProcessBuilder {
    /// Uses this `redis-server` binary.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Sets `requirepass`.
    pub fn requirepass(mut self, pw: impl Into<String>) -> Self {
        self.password = Some(pw.into());
        self
    }

    /// Also listens for TLS on another free port ([`RedisProcess::tls_addr`]).
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Adds an ACL user at start-up, as a `user` line of redis.conf:
    /// `acl_user("alice", ["on", ">secret", "~*", "+@all"])`.
    pub fn acl_user<I: IntoIterator<Item = S>, S: Into<String>>(mut self, name: &str, rules: I) -> Self {
        let mut line = vec![name.to_string()];
        line.extend(rules.into_iter().map(Into::into));
        self.users.push(line);
        self
    }

    /// Serves TLS with certificates from `pki`: writes certs-gen's files
    /// ([`crate::tls::TestPki::write_to`]) into a temporary directory that
    /// lives as long as the server; with `require_client_cert`, clients need
    /// a certificate from [`crate::tls::TestPki::client_identity`] (mTLS).
    #[cfg(feature = "tls")]
    pub fn tls_pki(mut self, pki: &crate::tls::TestPki, require_client_cert: bool) -> Result<Self, ProcessError> {
        let dir = tempfile::Builder::new()
            .prefix("redis-harness-pki-")
            .tempdir()
            .map_err(|e| ProcessError::Io("creating a temp dir for the TLS files".into(), e))?;
        pki.write_to(dir.path())
            .map_err(|e| ProcessError::Io(format!("writing the TLS files to {}", dir.path().display()), e))?;
        self.tls = Some(TlsFiles::from_certs_gen_dir(dir.path(), require_client_cert));
        self.pki_dir = Some(std::sync::Arc::new(dir));
        Ok(self)
    }

    /// Adds raw `redis-server` arguments (e.g. `["--maxclients", "10"]`).
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts the server and waits (without sleeping) until it logs that it is ready.
    pub fn start(self) -> Result<RedisProcess, ProcessError> {
        let bin = match self.binary.clone().or_else(find_redis_server) {
            Some(b) => b,
            None => {
                return Err(ProcessError::NotFound(
                    "no redis-server found: install it (Debian: apt-get install redis-server) or set REDIS_HARNESS_SERVER_BIN".into(),
                ))
            }
        };
        let mut last = None;
        // A free port can be taken between our probe and the server's bind; retry a few times.
        for _ in 0..5 {
            match self.try_start(&bin) {
                Ok(p) => return Ok(p),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn try_start(&self, bin: &Path) -> Result<RedisProcess, ProcessError> {
        let dir = tempfile::Builder::new()
            .prefix("redis-harness-real-")
            .tempdir()
            .map_err(|e| ProcessError::Io("creating a temp dir for redis-server".into(), e))?;
        let port = free_port().map_err(|e| ProcessError::Io("finding a free port".into(), e))?;
        let unix_path = dir.path().join("redis.sock");
        let mut args: Vec<OsString> = Vec::new();
        let mut arg = |a: &dyn AsRef<std::ffi::OsStr>| args.push(a.as_ref().to_os_string());
        arg(&"--port");
        arg(&port.to_string());
        for a in ["--bind", "127.0.0.1", "--unixsocket"] {
            arg(&a);
        }
        arg(&unix_path);
        arg(&"--unixsocketperm");
        arg(&"700");
        arg(&"--dir");
        arg(&dir.path());
        for a in ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""] {
            arg(&a);
        }
        for a in ["--protected-mode", "no", "--loglevel", "notice"] {
            arg(&a);
        }
        if let Some(pw) = &self.password {
            arg(&"--requirepass");
            arg(pw);
        }
        let tls_port = match &self.tls {
            Some(t) => {
                let p = free_port().map_err(|e| ProcessError::Io("finding a free TLS port".into(), e))?;
                arg(&"--tls-port");
                arg(&p.to_string());
                arg(&"--tls-cert-file");
                arg(&t.cert);
                arg(&"--tls-key-file");
                arg(&t.key);
                arg(&"--tls-ca-cert-file");
                arg(&t.ca);
                arg(&"--tls-auth-clients");
                arg(&if t.require_client_cert { "yes" } else { "no" });
                Some(p)
            }
            None => None,
        };
        for user in &self.users {
            // `--user NAME RULE...`: redis-server joins the words into one `user` config line.
            arg(&"--user");
            for w in user {
                arg(w);
            }
        }
        for a in &self.extra_args {
            arg(a);
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = spawn_ready(bin, &args, addr)?;
        Ok(RedisProcess {
            child: Some(child),
            bin: bin.to_path_buf(),
            args,
            addr,
            tls_addr: tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            unix_path,
            password: self.password.clone(),
            dir,
            _pki_dir: self.pki_dir.clone(),
        })
    }
}

/// Spawns `bin args` and waits (no sleeps: it reads the log) until it says
/// it is ready; a child that exits or stays silent is killed and reported
/// with its log.
fn spawn_ready(bin: &Path, args: &[OsString], addr: SocketAddr) -> Result<Child, ProcessError> {
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| ProcessError::Io(format!("spawning {}", bin.display()), e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    // Reads the log until the ready line, then keeps draining it so the
    // server never blocks on a full pipe; ends when the process exits.
    std::thread::spawn(move || {
        let mut log = Vec::new();
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(Ok(()));
                    sent = true;
                } else {
                    log.push(line);
                }
            }
        }
        if !sent {
            let _ = tx.send(Err(log.join("\n")));
        }
    });
    let failed = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(())) => return Ok(child),
        Ok(Err(log)) => {
            format!("redis-server {} exited before it was ready on {addr}; its log:\n{log}", bin.display())
        }
        Err(_) => format!("redis-server {} did not report ready on {addr} within {READY_TIMEOUT:?}", bin.display()),
    };
    let _ = child.kill();
    let _ = child.wait();
    Err(ProcessError::NotReady(failed))
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl RedisProcess {
    /// A builder.
    pub fn builder() -> RedisProcessBuilder {
        RedisProcessBuilder::default()
    }

    /// Starts a default `redis-server`.
    pub fn start() -> Result<RedisProcess, ProcessError> {
        RedisProcessBuilder::default().start()
    }

    /// Its TCP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its TLS address, if started with [`RedisProcessBuilder::tls`].
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Its unix socket path.
    pub fn unix_path(&self) -> &Path {
        &self.unix_path
    }

    /// `redis://[:password@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@{}", self.addr),
            None => format!("redis://{}", self.addr),
        }
    }

    /// Its working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it runs (it has not been [killed](RedisProcess::kill)).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills it with SIGKILL, as a crash would, and reaps it: every client
    /// connection drops and new ones are refused until
    /// [`RedisProcess::restart`]. What it had not persisted is lost.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again (killing it first if it runs) with the same
    /// arguments: the same port and directory, so a server started with
    /// persistence (`--appendonly yes`) reloads its data.
    pub fn restart(&mut self) -> Result<(), ProcessError> {
        self.kill();
        self.child = Some(spawn_ready(&self.bin, &self.args, self.addr)?);
        Ok(())
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl fmt::Debug for RedisProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProcess").field("addr", &self.addr).field("pid", &self.pid()).finish()
    }
}
