//! One client connection: read, parse, execute, write — and the bookkeeping
//! that makes socket accounting exact.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::blocking;
use crate::engine::command::ConnState;
use crate::engine::config::{ClientClass, ObufLimit};
use crate::engine::exec as engine;
use crate::engine::pubsub;
use crate::engine::state::{ClientInfo, NetCounters, Shared};
use crate::protocol::request::{Limits, Parsed, Parser};
use crate::protocol::Reply;
use crate::server::faults::{Before, Stop};

/// How much one read asks the kernel for (Redis reads 16 KiB at a time too).
const READ_CHUNK: usize = 16 * 1024;

/// Commands one connection runs before it lets the others (and the accept
/// loop) have the thread: Redis runs the commands of one read per client,
/// then moves on to the next client.
const TURN_COMMANDS: usize = 256;
/// Reply bytes one connection makes before it writes them and lets the others run.
const TURN_OUTPUT: usize = 256 * 1024;
/// Pushes taken from the queue per write while idle, in bytes: what the
/// client does not read stays in the queue, where it is counted and limited.
const PUSH_BATCH: usize = 64 * 1024;
/// Redis's static reply buffer (PROTO_REPLY_CHUNK_BYTES), which its output
/// buffer limits do not count.
const STATIC_REPLY_BUFFER: usize = 16 * 1024;
/// Redis's reply to a connection beyond `maxclients`, written before it is closed.
pub(crate) const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

/// A client socket the server reads requests from.
pub(crate) trait ReadSome: AsyncRead + Unpin + Send {
    /// Reads what has arrived (at least one byte; 0 at EOF) into `inbuf`.
    /// Cancel-safe: bytes are only ever read by a poll that then returns them.
    fn read_some<'a>(
        &'a mut self,
        inbuf: &'a mut BytesMut,
    ) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
        self.read_buf(inbuf)
    }
}

/// One read of what has arrived, into `inbuf`, for the sockets' `try_io`.
/// A read that returns less than it asked for has drained the socket: it
/// reports WouldBlock (after keeping the bytes, counted in `got`) so that
/// tokio forgets the readiness at once, instead of learning it from a
/// second read that would only say EAGAIN. Redis likewise reads once per
/// readiness event: one system call fewer per request, which is most of a
/// request's cost without pipelining.
fn read_chunk(sock: socket2::SockRef<'_>, inbuf: &mut BytesMut, got: &mut usize) -> std::io::Result<usize> {
    thread_local! {
        // Reads land here, then only what arrived is copied into the
        // connection's buffer: no per-read zeroing of a 16 KiB chunk.
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let n = std::io::Read::read(&mut &*sock, scratch)?;
        inbuf.extend_from_slice(&scratch[..n]);
        *got = n;
        if n > 0 && n < READ_CHUNK {
            Err(std::io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    })
}

/// [`ReadSome`] for tokio's sockets, through [`read_chunk`].
macro_rules! drained_reads {
    ($($t:ty),*) => {$(
        impl ReadSome for $t {
            fn read_some<'a>(&'a mut self, inbuf: &'a mut BytesMut) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
                async move {
                    loop {
                        self.readable().await?;
                        let mut got = 0;
                        let sock = &*self;
                        match sock.try_io(tokio::io::Interest::READABLE, || read_chunk(sock.into(), inbuf, &mut got)) {
                            Ok(n) => return Ok(n),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && got > 0 => return Ok(got),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
    )*};
}
drained_reads!(tokio::net::TcpStream, tokio::net::UnixStream);

#[cfg(feature = "tls")]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> ReadSome for tokio_rustls::server::TlsStream<S> {}

/// A registered connection (`crate::host::Registration`; what closing
/// forgets is in `super::host`). It is the last field of [`Conn`], so that
/// it drops after the socket: a socket is counted until it is really closed.
pub(crate) type Registration = crate::host::Registration<Shared>;

/// Socket first, registration last: fields drop in declaration order.
struct Conn<S> {
    stream: S,
    _registration: Registration,
}

/// Where a connection came from, for CLIENT LIST.
pub(crate) struct Peer {
    pub peer: String,
    pub local: String,
    pub unix: bool,
    pub fd: i64,
}

/// Registers a freshly accepted socket. Call this synchronously in the
/// accept loop so that the count is right the moment accept returns.
///
/// `None` when the server already has `maxclients` clients: the caller
/// then writes [`MAX_CLIENTS_REACHED`] and closes the socket, as Redis does
/// (counted in `rejected_connections`, not in `total_connections`).
pub(crate) fn register(shared: &Arc<Shared>, peer: Peer) -> Option<Registration> {
    let kill = Arc::new(tokio::sync::Notify::new());
    let now_ms = shared.clock.now_ms();
    let mut st = shared.lock();
    let now = Instant::now();
    let admitted = st.admit_client(|id| {
        let mut c = ClientInfo::new(id, peer.peer, peer.local, kill.clone(), now, now_ms);
        c.unix = peer.unix;
        c.fd = peer.fd;
        c
    });
    let id = admitted?;
    drop(st);
    Some(Registration::new(shared, id, kill))
}

/// Serves one registered connection until it closes.
pub(crate) async fn serve<S>(stream: S, registration: Registration)
where
    S: ReadSome + AsyncWrite + crate::fault::Abort,
{
    let shared = registration.host().clone();
    let id = registration.id;
    let kill = registration.kill.clone();
    let mut conn = Conn { stream, _registration: registration };
    let (authenticated, pushes, max_bulk_len, mut query_limit) = {
        let mut st = shared.lock();
        let query_limit = st.config().query_buffer_limit() as usize;
        (
            st.config().requirepass().is_none(),
            st.pubsub.attach(id, kill.clone()),
            st.config().max_bulk_len(),
            query_limit,
        )
    };
    let mut state = ConnState::new(id, authenticated);
    state.can_wait = true;
    state.pushes = Some(pushes);
    let mut shutdown = shared.sockets.shutdown_signal();
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut parser = Parser::default();
    // Parsing uses the limits as of this connection's last command; the
    // command's own lock then checks them against the current config (another
    // client may have changed proto-max-bulk-len meanwhile), so a command
    // costs one lock, not two.
    let mut limits = Limits { max_bulk_len, authenticated, ..Limits::default() };
    // Whether last_interaction was stamped since the last read or wait:
    // Redis stamps it per read, so one clock call serves a pipelined batch.
    let mut stamped = false;
    // The output buffer limit of this client's class, as of its last command,
    // and since when (unix ms, 0: not) its replies are over the soft limit.
    let mut out_limit = ObufLimit::default();
    let mut out_soft_since = 0u64;
    // Commands run since this connection last let the others run.
    let mut turn = 0usize;
    loop {
        // Execute the complete commands already buffered (up to a turn's
        // worth), then write all their replies at once: pipelining costs
        // one write per read.
        let mut close = false;
        // The turn ended with commands possibly still buffered.
        let mut more = false;
        loop {
            if turn >= TURN_COMMANDS || out.len() >= TURN_OUTPUT {
                more = true;
                break;
            }
            limits.authenticated = state.authenticated;
            match parser.parse(&mut inbuf, &limits) {
                Ok(Parsed::Command(args)) => {
                    turn += 1;
                    // Fault hook 1/2 (src/fault/server.rs): rules that delay, replace or
                    // swallow this command before it runs (HARNESS itself goes through
                    // dispatch). One relaxed atomic load when no rule is installed.
                    let hub = &shared.faults;
                    let fault = if !hub.has_rules() {
                        None
                    } else {
                        // A rule may delay the command: stamp after it.
                        stamped = false;
                        let stop = Stop { kill: &kill, shutdown: &mut shutdown };
                        match crate::server::faults::before_command(
                            &shared,
                            id,
                            &args,
                            &mut conn.stream,
                            &mut out,
                            stop,
                        )
                        .await
                        {
                            Before::Run(f) => f,
                            Before::Reply(r) => {
                                r.encode(state.resp(), &mut out);
                                continue;
                            }
                            Before::Closed => return,
                        }
                    };
                    // A script running on its own thread: wait for it, or BUSY (src/cmd/busy.rs).
                    if let Some(reply) = crate::cmd::busy::check(&shared, &args, &mut state) {
                        reply.encode(state.resp(), &mut out);
                        continue;
                    }
                    let executed = {
                        let mut st = shared.lock();
                        let max_bulk_len = st.config().max_bulk_len();
                        // Unchanged since the parse: every argument already passed it.
                        let stale = max_bulk_len != limits.max_bulk_len && {
                            limits.max_bulk_len = max_bulk_len;
                            args.iter().any(|a| a.len() as u64 > max_bulk_len)
                        };
                        if stale {
                            // Parsed under a larger limit than the one now in force.
                            None
                        } else {
                            let now = shared.clock.now_ms();
                            if !stamped {
                                stamped = true;
                                if let Some(c) = st.client_mut(id) {
                                    c.last_interaction = Instant::now();
                                    c.last_interaction_ms = now;
                                }
                            }
                            query_limit = st.config().query_buffer_limit() as usize;
                            out_limit = st.config().obuf_limit(ClientClass::Normal);
                            // Pushes queued before this command go out before its reply;
                            // those it caused itself (keyspace events, PUBLISH to itself)
                            // too, as Redis writes them while the command runs.
                            drain_pushes(&mut state, &mut out);
                            let mut outcome = engine::execute(&mut st, &mut state, &shared.clock, now, &args);
                            if !outcome.pushes.is_empty() {
                                for p in outcome.pushes.drain(..) {
                                    p.encode(state.resp(), &mut out);
                                }
                            }
                            if out_limit.is_set() && st.pubsub.counts(id) != (0, 0, 0) {
                                out_limit = st.config().obuf_limit(ClientClass::PubSub);
                            }
                            Some((outcome, now))
                        }
                    };
                    let Some((outcome, now)) = executed else {
                        Reply::error(INVALID_BULK_LENGTH).encode(state.resp(), &mut out);
                        close = true;
                        break;
                    };
                    let engine::Outcome { reply, waiter, sleep, close: close_after, .. } = outcome;
                    let reply = match waiter {
                        None => reply,
                        Some(w) => {
                            stamped = false;
                            if !write_or_stop(&mut conn.stream, &mut out, &shared.net, &kill, &mut shutdown).await {
                                return;
                            }
                            let blocked = Blocked { shared: &shared, id, kill: &kill, query_limit };
                            match wait_blocked(&mut conn.stream, &mut inbuf, &mut state, blocked, w, &mut shutdown)
                                .await
                            {
                                Some(r) => r,
                                None => return,
                            }
                        }
                    };
                    if let Some(d) = sleep {
                        stamped = false;
                        // Write what came before, then wait on this connection only,
                        // still reading it: a client that hangs up (or is killed)
                        // meanwhile is closed at once, not when the sleep ends.
                        if !write_or_stop(&mut conn.stream, &mut out, &shared.net, &kill, &mut shutdown).await {
                            return;
                        }
                        let wake = tokio::time::sleep(d);
                        tokio::pin!(wake);
                        loop {
                            tokio::select! {
                                _ = &mut wake => break,
                                r = conn.stream.read_some(&mut inbuf) => if !took_read(r, &inbuf, &shared.net, query_limit, id) {
                                    return;
                                },
                                _ = kill.notified() => return,
                                _ = shutdown.wait_for(|s| *s) => return,
                            }
                        }
                    }
                    let mark = out.len();
                    reply.encode(state.resp(), &mut out);
                    if out_limit.is_set() && over_limit(out.len(), out_limit, &mut out_soft_since, now) {
                        // Closed with nothing written, as Redis frees such a client before writing.
                        tracing::info!(
                            client = id,
                            output_bytes = out.len(),
                            "closing a client for overcoming its output buffer limits"
                        );
                        return;
                    }
                    // Fault hook 2/2: this reply (out[mark..]) goes out through the rule that fired.
                    if let Some(action) = fault {
                        let stop = Stop { kill: &kill, shutdown: &mut shutdown };
                        if !crate::server::faults::deliver(&mut conn.stream, &mut out, mark, action, stop).await {
                            return;
                        }
                    }
                    if close_after {
                        close = true;
                        break;
                    }
                }
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    // The limit may have been raised since this connection's last command.
                    let max_bulk_len = shared.lock().config().max_bulk_len();
                    if max_bulk_len != limits.max_bulk_len {
                        limits.max_bulk_len = max_bulk_len;
                        continue;
                    }
                    Reply::error(e.message()).encode(state.resp(), &mut out);
                    close = true;
                    break;
                }
            }
        }
        if !write_or_stop(&mut conn.stream, &mut out, &shared.net, &kill, &mut shutdown).await {
            return;
        }
        if close {
            let _ = conn.stream.shutdown().await;
            return;
        }
        release_if_large(&mut inbuf);
        release_if_large(&mut out);
        if more {
            // Fairness: the others (and new connections) get their turn
            // before this connection runs the rest of what it sent.
            tokio::task::yield_now().await;
            turn = 0;
            continue;
        }
        tokio::select! {
            r = conn.stream.read_some(&mut inbuf) => {
                if !took_read(r, &inbuf, &shared.net, query_limit, id) {
                    return;
                }
                stamped = false;
            }
            push = pubsub::next_push(&mut state.pushes) => {
                push.encode(state.resp(), &mut out);
                drain_pushes_upto(&mut state, &mut out, PUSH_BATCH);
            }
            _ = kill.notified() => return,
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Gives back a buffer that a large request or reply grew, once it is empty
/// (as Redis shrinks idle query buffers), so that an idle client that once
/// sent or read 100 MB does not hold 100 MB.
fn release_if_large(buf: &mut BytesMut) {
    const KEEP: usize = 1024 * 1024;
    if buf.is_empty() && buf.capacity() > KEEP {
        *buf = BytesMut::with_capacity(16 * 1024);
    }
}

/// Encodes every push already queued for this connection.
fn drain_pushes(state: &mut ConnState, out: &mut BytesMut) {
    drain_pushes_upto(state, out, usize::MAX);
}

/// Encodes the pushes queued for this connection until `out` holds `cap`
/// bytes; the rest stay queued (counted against the output buffer limit).
fn drain_pushes_upto(state: &mut ConnState, out: &mut BytesMut, cap: usize) {
    let resp = state.resp();
    if let Some(rx) = state.pushes.as_mut() {
        while out.len() < cap {
            let Some(p) = rx.try_recv() else { break };
            p.encode(resp, out);
        }
    }
}

/// Whether `len` bytes of replies break `limit` at `now_ms`: Redis's rule,
/// not counting its static 16 KiB buffer. The hard limit closes at once; the
/// soft one once replies have stayed over it for more than its seconds
/// (`soft_since` remembers since when, 0 while under it).
fn over_limit(len: usize, limit: ObufLimit, soft_since: &mut u64, now_ms: u64) -> bool {
    let used = len.saturating_sub(STATIC_REPLY_BUFFER) as u64;
    if limit.hard != 0 && used >= limit.hard {
        return true;
    }
    if limit.soft == 0 || used < limit.soft {
        *soft_since = 0;
        return false;
    }
    if *soft_since == 0 {
        *soft_since = now_ms.max(1);
        return false;
    }
    now_ms.saturating_sub(*soft_since) / 1000 > limit.soft_seconds
}

/// Logs a client closed for a query buffer over `client-query-buffer-limit`
/// (Redis closes it without a reply).
/// Accounts one socket read into `inbuf`: false when the connection must
/// close (EOF, a read error, or a query buffer past `client-query-buffer-limit`).
fn took_read(r: std::io::Result<usize>, inbuf: &BytesMut, net: &NetCounters, query_limit: usize, id: u64) -> bool {
    match r {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            net.read(n);
            if inbuf.len() > query_limit {
                tracing::info!(
                    client = id,
                    query_buffer = inbuf.len(),
                    "closing client that reached max query buffer length"
                );
                return false;
            }
            true
        }
    }
}

/// Writes `out`, unless the connection is killed or the server stops
/// first (a client that never reads must not pin its connection): false
/// if the connection must close.
async fn write_or_stop<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut BytesMut,
    net: &NetCounters,
    kill: &tokio::sync::Notify,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if out.is_empty() {
        return true;
    }
    tokio::select! {
        // The write first: when it completes at once (the usual case) the
        // other branches cost nothing.
        biased;
        r = write_out(stream, out, net) => r.is_ok(),
        _ = kill.notified() => false,
        _ = shutdown.wait_for(|s| *s) => false,
    }
}

/// What the parser would have said had the current `proto-max-bulk-len` been in force.
const INVALID_BULK_LENGTH: &str = "ERR Protocol error: invalid bulk length";

/// Who is blocked, for [`wait_blocked`].
struct Blocked<'a> {
    shared: &'a Arc<Shared>,
    id: u64,
    kill: &'a tokio::sync::Notify,
    /// `client-query-buffer-limit`: what the client sends meanwhile may not pass it.
    query_limit: usize,
}

/// Waits while the connection is blocked, until it is served or unblocked
/// (the reply to write), times out (its timeout reply), or must close
/// (`None`: EOF, kill, shutdown). The socket is still read meanwhile, as
/// Redis does: EOF ends the block, and commands sent meanwhile are buffered
/// to run once it ends.
async fn wait_blocked<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    state: &mut ConnState,
    who: Blocked<'_>,
    waiter: blocking::Waiter,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Reply> {
    let Blocked { shared, id, kill, query_limit } = who;
    let mut pending = BytesMut::new();
    let blocking::Waiter { mut rx, deadline } = waiter;
    let timeout = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timeout);
    loop {
        tokio::select! {
            r = &mut rx => return r.ok(),
            _ = &mut timeout => {
                let timed_out = blocking::timed_out(&mut shared.lock(), id);
                // None: it was served just before the timer fired; the reply is in the channel.
                return timed_out.or_else(|| rx.try_recv().ok());
            }
            r = stream.read_buf(inbuf) => if !took_read(r, inbuf, &shared.net, query_limit, id) {
                return None;
            },
            // RESP3 pushes (a blocked client may still be subscribed) are written as they come.
            push = pubsub::next_push(&mut state.pushes) => {
                push.encode(state.resp(), &mut pending);
                drain_pushes(state, &mut pending);
            }
            _ = kill.notified() => return None,
            _ = shutdown.wait_for(|s| *s) => return None,
        }
        // Written outside the select: the shutdown watch's guard type must not live across an await.
        if !write_or_stop(stream, &mut pending, &shared.net, kill, shutdown).await {
            return None;
        }
    }
}

/// Writes all of `out` (one add to the output byte count per write).
async fn write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut BytesMut,
    net: &NetCounters,
) -> std::io::Result<()> {
    if !out.is_empty() {
        stream.write_all(out).await?;
        net.wrote(out.len());
        out.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use crate::FakeRedis;

    fn connect(server: &FakeRedis) -> TcpStream {
        let s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends `req` and reads one reply line (enough for the replies used here).
    fn call(s: &mut TcpStream, req: &[u8]) -> String {
        s.write_all(req).unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if s.read(&mut b).unwrap() == 0 {
                break;
            }
            line.push(b[0]);
        }
        String::from_utf8(line).unwrap()
    }

    fn set_big(len: usize) -> Vec<u8> {
        let mut req = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${len}\r\n").into_bytes();
        req.resize(req.len() + len, b'x');
        req.extend_from_slice(b"\r\n");
        req
    }

    const CONFIG_SET: &str = "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$18\r\nproto-max-bulk-len\r\n";

    /// A connection that was idle while another lowered proto-max-bulk-len
    /// gets the lowered limit for its next command, then is closed.
    #[test]
    fn limit_lowered_by_another_connection_applies_at_once() {
        let server = FakeRedis::builder().start_blocking();
        let mut idle = connect(&server);
        let mut admin = connect(&server);
        assert_eq!(call(&mut idle, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
        assert_eq!(call(&mut admin, format!("{CONFIG_SET}$7\r\n1048576\r\n").as_bytes()), "+OK\r\n");
        assert_eq!(call(&mut idle, &set_big(1_048_577)), "-ERR Protocol error: invalid bulk length\r\n");
        let mut rest = Vec::new();
        idle.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the connection closes after the error");
    }

    /// A limit raised by another connection lets the idle one send more.
    #[test]
    fn limit_raised_by_another_connection_applies_at_once() {
        let server = FakeRedis::builder().start_blocking();
        let mut idle = connect(&server);
        let mut admin = connect(&server);
        assert_eq!(call(&mut admin, format!("{CONFIG_SET}$7\r\n1048576\r\n").as_bytes()), "+OK\r\n");
        assert_eq!(call(&mut idle, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
        assert_eq!(call(&mut admin, format!("{CONFIG_SET}$7\r\n2097152\r\n").as_bytes()), "+OK\r\n");
        assert_eq!(call(&mut idle, &set_big(1_048_577)), "+OK\r\n");
        assert_eq!(call(&mut idle, b"*2\r\n$6\r\nSTRLEN\r\n$1\r\nk\r\n"), ":1048577\r\n");
    }
}
