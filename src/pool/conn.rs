//! One client connection: dial (TCP, unix socket, TLS hook), handshake,
//! commands and pipelines with read/write deadlines, and the cheap idle check.
//!
//! Implementation notes:
//! - Replies are decoded with `redis-protocol`'s RESP2 decoder until `HELLO 3`
//!   succeeds, then with its RESP3 decoder.
//! - A connection becomes *dirty* when a command is written and clean again
//!   only when every reply has been read. The pool never reuses a dirty or
//!   broken connection, so a reply can never reach the wrong caller.
//! - Writes count the bytes handed to the kernel: a write that fails before
//!   the first byte proves the command never reached the server, which is
//!   what makes a retry safe.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::Instant;

use super::config::{ConnectionConfig, Protocol, ServerAddr};
use super::error::{Error, Failure, TimeoutKind};
use super::value::{Cmd, Value};

/// A reply buffer larger than this is a protocol error rather than a
/// reason to keep allocating.
const MAX_REPLY_BUFFER: usize = 1 << 30;

/// Added to a blocking command's own timeout (see `exec`).
const BLOCK_SLACK: Duration = Duration::from_secs(1);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The byte stream under a connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// The non-blocking idle check: a connection nobody is using must have
    /// nothing to read. EOF means the server closed it; bytes mean a stray
    /// reply (or a TLS alert): either way it must not be handed out.
    /// Reads from a duplicate of the descriptor so tokio's readiness cache
    /// cannot hide an event the reactor has not processed yet.
    fn idle_check(&mut self) -> Result<(), &'static str> {
        let fd = match self {
            Stream::Tcp(s) => s.as_fd().try_clone_to_owned(),
            Stream::Unix(s) => s.as_fd().try_clone_to_owned(),
            // Raw bytes on a TLS socket may be records that are not data
            // (TLS 1.3 session tickets): ask rustls, without waiting.
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let mut byte = [0u8; 1];
                let mut rb = ReadBuf::new(&mut byte);
                return match Pin::new(s.as_mut()).poll_read(&mut cx, &mut rb) {
                    Poll::Pending => Ok(()),
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => Err("closed by the server"),
                    Poll::Ready(Ok(())) => Err("unexpected bytes on an idle connection"),
                    Poll::Ready(Err(_)) => Err("socket error"),
                };
            }
        };
        let fd = fd.map_err(|_| "cannot duplicate the socket")?;
        // The duplicate shares the file status flags, so it is non-blocking
        // like the tokio socket; dropping it closes only the duplicate.
        let mut probe = std::fs::File::from(fd);
        let mut byte = [0u8; 1];
        match probe.read(&mut byte) {
            Ok(0) => Err("closed by the server"),
            Ok(_) => Err("unexpected bytes on an idle connection"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(_) => Err("socket error"),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Connects the byte stream: TCP or unix socket, then TLS when configured.
/// TLS is a separate step so the `tls` feature only adds that step.
async fn dial_stream(cfg: &ConnectionConfig, addr: &Arc<str>) -> Result<Stream, Error> {
    match &cfg.addr {
        ServerAddr::Tcp { host, port } => {
            let tcp = TcpStream::connect((host.as_str(), *port)).await.map_err(|e| Error::from_io(addr, e))?;
            // Commands are small and latency-bound: never wait for Nagle.
            let _ = tcp.set_nodelay(true);
            match &cfg.tls {
                None => Ok(Stream::Tcp(tcp)),
                Some(tls) => super::tls::wrap(tcp, tls, host, addr).await,
            }
        }
        ServerAddr::Unix(path) => {
            if cfg.tls.is_some() {
                return Err(Error::Config("TLS over a unix socket is not supported".into()));
            }
            let s = UnixStream::connect(path).await.map_err(|e| Error::from_io(addr, e))?;
            Ok(Stream::Unix(s))
        }
    }
}

/// The deadlines a connection applies; `None` means none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Connect + TLS + handshake.
    pub dial: Option<Duration>,
    /// Each reply.
    pub read: Option<Duration>,
    /// Each write.
    pub write: Option<Duration>,
}

/// A single Redis connection, ready for commands once [`Connection::connect`] returns.
///
/// Used on its own, or checked out of a [`Pool`](super::Pool) as a
/// [`PooledConnection`](super::PooledConnection).
pub struct Connection {
    stream: Stream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    resp3: bool,
    addr: Arc<str>,
    timeouts: Timeouts,
    id: u64,
    pub(crate) created: Instant,
    pub(crate) last_used: Instant,
    /// When the pool must retire it (lifetime minus jitter).
    pub(crate) expires: Option<Instant>,
    /// A command was written and not all its replies were read.
    dirty: bool,
    /// An I/O, timeout or protocol error happened: the stream state is unknown.
    broken: bool,
    /// Counts the pool's open sockets; decremented when the socket is dropped.
    pub(crate) live: Option<LiveGuard>,
}

/// Decrements a live-socket counter when the connection (and so its
/// socket) is dropped, whichever path drops it.
#[derive(Debug)]
pub(crate) struct LiveGuard(pub(crate) Arc<std::sync::atomic::AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .field("resp3", &self.resp3)
            .field("dirty", &self.dirty)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Connection {
    /// Dials and runs the handshake (HELLO / AUTH / SELECT / CLIENT SETNAME /
    /// CLIENT SETINFO), all within `timeouts.dial`.
    pub async fn connect(cfg: &ConnectionConfig, timeouts: Timeouts) -> Result<Connection, Error> {
        let addr = cfg.addr_label();
        let work = async {
            let stream = dial_stream(cfg, &addr).await?;
            let now = Instant::now();
            let mut conn = Connection {
                stream,
                rbuf: BytesMut::with_capacity(4096),
                wbuf: BytesMut::with_capacity(1024),
                resp3: false,
                addr: addr.clone(),
                timeouts,
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                created: now,
                last_used: now,
                expires: None,
                dirty: false,
                broken: false,
                live: None,
            };
            if let Err(e) = conn.handshake(cfg).await {
                tracing::warn!(addr = %addr, error = %e, "redis handshake failed");
                return Err(e);
            }
            Ok(conn)
        };
        match timeouts.dial {
            Some(d) => tokio::time::timeout(d, work).await.unwrap_or_else(|_| {
                Err(Error::Timeout { kind: TimeoutKind::Dial, addr: addr.clone(), after: Some(d) })
            }),
            None => work.await,
        }
    }

    async fn handshake(&mut self, cfg: &ConnectionConfig) -> Result<(), Error> {
        let mut authed = false;
        let mut named = false;
        if cfg.protocol == Protocol::Resp3 {
            let mut hello = Cmd::new("HELLO").arg("3");
            if let Some(pw) = &cfg.password {
                hello = hello.arg("AUTH").arg(cfg.username.as_deref().unwrap_or("default")).arg(pw.as_str());
            }
            if let Some(name) = &cfg.client_name {
                hello = hello.arg("SETNAME").arg(name.as_str());
            }
            // The server switches before it replies, so the reply is RESP3.
            self.resp3 = true;
            match self.exec(std::slice::from_ref(&hello), None).await.map_err(|f| f.err)?.pop() {
                Some(Value::Error { code, msg }) => {
                    self.resp3 = false;
                    let e = Error::from_reply(&self.addr, &code, &msg);
                    // Only a server without HELLO (Redis < 6) or RESP3 gets the
                    // RESP2 fallback; a rejected password is final.
                    if matches!(e, Error::Auth { .. }) {
                        return Err(e);
                    }
                    tracing::debug!(addr = %self.addr, %code, %msg, "HELLO 3 refused, staying on RESP2");
                }
                Some(_) => {
                    authed = true;
                    named = true;
                }
                None => return Err(self.protocol_error("no reply to HELLO")),
            }
        }
        let mut setup = Vec::new();
        if !authed {
            if let Some(pw) = &cfg.password {
                setup.push(match &cfg.username {
                    Some(u) => Cmd::new("AUTH").arg(u.as_str()).arg(pw.as_str()),
                    None => Cmd::new("AUTH").arg(pw.as_str()),
                });
            }
        }
        if cfg.db != 0 {
            setup.push(Cmd::new("SELECT").arg(cfg.db));
        }
        if !named {
            if let Some(name) = &cfg.client_name {
                setup.push(Cmd::new("CLIENT").arg("SETNAME").arg(name.as_str()));
            }
        }
        let required = setup.len();
        if cfg.set_lib_info {
            setup.push(Cmd::new("CLIENT").arg("SETINFO").arg("LIB-NAME").arg("redis-harness"));
            setup.push(Cmd::new("CLIENT").arg("SETINFO").arg("LIB-VER").arg(env!("CARGO_PKG_VERSION")));
        }
        if setup.is_empty() {
            return Ok(());
        }
        let replies = self.exec(&setup, None).await.map_err(|f| f.err)?;
        // SETINFO errors are ignored as go-redis does: older servers lack it.
        for reply in replies.into_iter().take(required) {
            if let Value::Error { code, msg } = reply {
                return Err(Error::from_reply(&self.addr, &code, &msg));
            }
        }
        Ok(())
    }

    fn protocol_error(&mut self, detail: impl Into<String>) -> Error {
        self.broken = true;
        Error::Protocol { addr: self.addr.clone(), detail: detail.into() }
    }

    /// The server address, as shown in errors.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection speaks RESP3.
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// A process-unique id, for logs.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether it can run another command: no earlier error left its state
    /// unknown and no reply is still unread.
    pub fn is_reusable(&self) -> bool {
        !self.broken && !self.dirty
    }

    /// The free checks before a pooled connection is handed out.
    pub(crate) fn idle_check(&mut self) -> Result<(), &'static str> {
        if !self.is_reusable() {
            return Err("broken or dirty");
        }
        self.stream.idle_check()
    }

    /// Runs one command; an error reply becomes [`Error::Redis`] (or [`Error::Auth`]).
    pub async fn query(&mut self, cmd: &Cmd) -> Result<Value, Error> {
        let v = self.exec(std::slice::from_ref(cmd), None).await.map_err(|f| f.err)?;
        self.single(v)
    }

    pub(crate) fn single(&self, mut v: Vec<Value>) -> Result<Value, Error> {
        match v.pop() {
            Some(Value::Error { code, msg }) => Err(Error::from_reply(&self.addr, &code, &msg)),
            Some(v) => Ok(v),
            None => Err(Error::Protocol { addr: self.addr.clone(), detail: "no reply".into() }),
        }
    }

    /// Sends the commands in one write and reads one reply each; error
    /// replies stay in the list as [`Value::Error`].
    pub async fn pipeline(&mut self, cmds: &[Cmd]) -> Result<Vec<Value>, Error> {
        self.exec(cmds, None).await.map_err(|f| f.err)
    }

    /// `GET key`.
    pub async fn get(&mut self, key: impl super::ToArg) -> Result<Option<bytes::Bytes>, Error> {
        match self.query(&Cmd::new("GET").arg(key)).await? {
            Value::Nil => Ok(None),
            Value::Bulk(b) => Ok(Some(b)),
            other => Err(self.unexpected("GET", &other)),
        }
    }

    /// `SET key value`.
    pub async fn set(&mut self, key: impl super::ToArg, value: impl super::ToArg) -> Result<(), Error> {
        match self.query(&Cmd::new("SET").arg(key).arg(value)).await? {
            v if v.is_ok() => Ok(()),
            other => Err(self.unexpected("SET", &other)),
        }
    }

    /// `DEL key`: whether it existed.
    pub async fn del(&mut self, key: impl super::ToArg) -> Result<bool, Error> {
        match self.query(&Cmd::new("DEL").arg(key)).await? {
            Value::Int(n) => Ok(n > 0),
            other => Err(self.unexpected("DEL", &other)),
        }
    }

    /// `INCR key`.
    pub async fn incr(&mut self, key: impl super::ToArg) -> Result<i64, Error> {
        match self.query(&Cmd::new("INCR").arg(key)).await? {
            Value::Int(n) => Ok(n),
            other => Err(self.unexpected("INCR", &other)),
        }
    }

    /// `PING`.
    pub async fn ping(&mut self) -> Result<(), Error> {
        match self.query(&Cmd::new("PING")).await? {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(self.unexpected("PING", &other)),
        }
    }

    fn unexpected(&self, cmd: &str, v: &Value) -> Error {
        Error::Protocol { addr: self.addr.clone(), detail: format!("unexpected reply to {cmd}: {v:?}") }
    }

    /// Writes every command, then reads one reply per command.
    /// `read_extra` extends the read deadline (blocking commands).
    pub(crate) async fn exec(
        &mut self,
        cmds: &[Cmd],
        read_extra: Option<Option<Duration>>,
    ) -> Result<Vec<Value>, Failure> {
        if self.broken || self.dirty {
            return Err(Failure::unsent(Error::Unusable { addr: self.addr.clone() }));
        }
        self.wbuf.clear();
        for c in cmds {
            c.encode(&mut self.wbuf);
        }
        self.dirty = true;
        self.write_buffer().await?;
        let read_timeout = match read_extra {
            None => self.timeouts.read,
            // Blocking forever: no read deadline at all.
            Some(None) => None,
            // Redis checks blocked clients' timeouts on its cron (100ms at
            // the default hz), so the reply may come a little after the
            // command's own timeout: allow a second of slack (go-redis: 10s).
            Some(Some(extra)) => Some(self.timeouts.read.unwrap_or_default() + extra + BLOCK_SLACK),
        };
        // Bounded by the command count the caller built, not by server input.
        let mut out = Vec::with_capacity(cmds.len());
        for _ in cmds {
            let v = self.read_reply(read_timeout).await.map_err(Failure::sent)?;
            out.push(v);
        }
        self.dirty = false;
        self.last_used = Instant::now();
        Ok(out)
    }

    async fn write_buffer(&mut self) -> Result<(), Failure> {
        let mut sent = 0usize;
        let result = {
            let fut = write_counted(&mut self.stream, &self.wbuf, &mut sent);
            match self.timeouts.write {
                Some(d) => match tokio::time::timeout(d, fut).await {
                    Ok(r) => r.map_err(|e| Error::from_io(&self.addr, e)),
                    Err(_) => Err(Error::Timeout { kind: TimeoutKind::Write, addr: self.addr.clone(), after: Some(d) }),
                },
                None => fut.await.map_err(|e| Error::from_io(&self.addr, e)),
            }
        };
        result.map_err(|err| {
            self.broken = true;
            Failure { err, maybe_sent: sent > 0 }
        })
    }

    async fn read_reply(&mut self, timeout: Option<Duration>) -> Result<Value, Error> {
        let deadline = timeout.map(|d| Instant::now() + d);
        loop {
            match self.decode() {
                Ok(Some(Value::Push(items))) => {
                    // Out-of-band (RESP3 push): not the reply we wait for.
                    tracing::trace!(addr = %self.addr, len = items.len(), "skipping a RESP3 push");
                    continue;
                }
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
            if self.rbuf.len() > MAX_REPLY_BUFFER {
                return Err(self.protocol_error("reply larger than 1 GiB"));
            }
            self.rbuf.reserve(4096);
            let read = self.stream.read_buf(&mut self.rbuf);
            let n = match deadline {
                Some(d) => match tokio::time::timeout_at(d, read).await {
                    Ok(r) => r,
                    Err(_) => {
                        self.broken = true;
                        return Err(Error::Timeout {
                            kind: TimeoutKind::Read,
                            addr: self.addr.clone(),
                            after: timeout,
                        });
                    }
                },
                None => read.await,
            };
            match n {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Reset { addr: self.addr.clone() });
                }
                Ok(_) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(Error::from_io(&self.addr, e));
                }
            }
        }
    }

    fn decode(&mut self) -> Result<Option<Value>, Error> {
        if self.rbuf.is_empty() {
            return Ok(None);
        }
        let decoded = if self.resp3 {
            redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut self.rbuf)
                .map(|o| o.map(|(f, _, _)| Value::from(f)))
        } else {
            redis_protocol::resp2::decode::decode_bytes_mut(&mut self.rbuf).map(|o| o.map(|(f, _, _)| Value::from(f)))
        };
        decoded.map_err(|e| self.protocol_error(format!("undecodable reply: {e}")))
    }

    /// Test-only sabotage support: pretends the unread reply was read.
    pub(crate) fn force_clean(&mut self) {
        self.dirty = false;
    }
}

async fn write_counted(stream: &mut Stream, buf: &[u8], sent: &mut usize) -> io::Result<()> {
    while *sent < buf.len() {
        match stream.write(&buf[*sent..]).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n,
            Err(e) => return Err(e),
        }
    }
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (Connection, UnixStream, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let mut cfg = ConnectionConfig::unix(&path);
        // No handshake commands at all: RESP2, no auth, db 0, no SETINFO.
        cfg.protocol = Protocol::Resp2;
        cfg.set_lib_info = false;
        let (conn, accepted) = tokio::join!(Connection::connect(&cfg, Timeouts::default()), listener.accept());
        (conn.unwrap(), accepted.unwrap().0, dir)
    }

    /// A write to a peer that is gone fails before its first byte: the
    /// failure must say so, because that is what makes a retry safe.
    #[tokio::test]
    async fn write_to_a_closed_peer_is_known_unsent() {
        let (mut conn, server, _dir) = pair().await;
        drop(server);
        let failure = conn.exec(&[Cmd::from_args(["SET", "k", "v"])], None).await.unwrap_err();
        assert!(!failure.maybe_sent, "{failure:?}");
        assert!(matches!(failure.err, Error::Reset { .. }), "{failure:?}");
        assert!(!conn.is_reusable());
    }

    #[tokio::test]
    async fn a_reply_cut_short_is_a_reset_after_sending() {
        let (mut conn, mut server, _dir) = pair().await;
        let cmds = [Cmd::from_args(["GET", "k"])];
        let exec = conn.exec(&cmds, None);
        let serve = async {
            let mut buf = [0u8; 64];
            let _ = server.read(&mut buf).await;
            server.write_all(b"$10\r\nabc").await.unwrap();
            drop(server);
        };
        let (failure, ()) = tokio::join!(exec, serve);
        let failure = failure.unwrap_err();
        assert!(failure.maybe_sent);
        assert!(matches!(failure.err, Error::Reset { .. }));
    }
}
