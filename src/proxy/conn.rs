//! One proxied connection: two pumps in one task.
//!
//! `requests` reads the client, decides a fault per command, and forwards;
//! for every command it queues a [`Slot`] saying what to do with its reply
//! (or an injected reply in its place). `replies` reads the upstream, cuts
//! the stream into frames, and pairs each non-push frame with the next
//! slot, so replies keep their order even when some are injected, delayed
//! or swallowed. A slot is queued before its command is written upstream,
//! so a reply never arrives before its slot.
//!
//! `HARNESS` (with `--admin`) is not answered at once: the proxy does not
//! know who the client logged in as, so it asks the upstream, on the
//! client's own connection, to run [`PROBE`] (`CONFIG GET`, an `@admin
//! @dangerous` command like HARNESS) in its place. The probe's verdict is
//! HARNESS's: NOAUTH before authentication, NOPERM (naming `harness`) for a
//! user without admin rights, `+QUEUED` inside MULTI (HARNESS then runs
//! when EXEC's reply arrives, its reply taking the probe's place in EXEC's
//! array), and otherwise the proxy runs it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redis_protocol::resp3::types::FrameKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

use super::{ProxyClient, ProxyShared};
use crate::fault::{Action, ConnInfo, Next, ReplyAction};
use crate::protocol::Reply;

/// How long to wait for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sent upstream in place of a HARNESS command: `CONFIG GET` of a parameter
/// no Redis has, which needs what HARNESS needs (authentication, `@admin`).
const PROBE: &[u8] = b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$19\r\nredis-harness-probe\r\n";

/// What to do with the next reply, in command order.
#[derive(Debug)]
enum Slot {
    /// The upstream will answer; deliver its reply plainly or through the action.
    Upstream(Option<ReplyAction>, Txn),
    /// The upstream answers [`PROBE`] for this HARNESS command (args, RESP version).
    Admin(Vec<Bytes>, u8),
    /// The proxy answers itself (injected error, admin reply); nothing was forwarded.
    Injected(Bytes),
    /// Never write to the client again.
    Stall,
    /// Replies can no longer be paired with commands: forward raw from here on.
    Passthrough,
}

/// Transaction commands, whose replies the replies pump follows to place
/// queued HARNESS commands in EXEC's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Txn {
    Other,
    Multi,
    /// EXEC or DISCARD.
    End,
}

impl Txn {
    fn of(args: &[Bytes]) -> Txn {
        if is_ic(&args[0], "multi") {
            Txn::Multi
        } else if is_ic(&args[0], "exec") || is_ic(&args[0], "discard") {
            Txn::End
        } else {
            Txn::Other
        }
    }
}

/// A registered proxied connection (see `crate::host::Registration`).
pub(crate) type Registration = crate::host::Registration<ProxyShared>;

/// Registers an accepted socket synchronously, so counts are right the moment accept returns.
pub(crate) fn register(shared: &Arc<ProxyShared>, peer: SocketAddr) -> Registration {
    let kill = Arc::new(Notify::new());
    let mut st = shared.lock();
    let id = st.next_id;
    st.next_id += 1;
    st.total_connections += 1;
    let now = Instant::now();
    st.clients.insert(
        id,
        ProxyClient {
            peer: peer.to_string(),
            name: Bytes::new(),
            created: now,
            last_interaction: now,
            last_command: "NULL".into(),
            kill: kill.clone(),
        },
    );
    drop(st);
    Registration::new(shared, id, kill)
}

/// The client socket first, the registration last: fields drop in
/// declaration order, and a socket is counted until it is really closed.
struct Client {
    stream: TcpStream,
    _registration: Registration,
}

/// Serves one client until either side closes, a fault ends it, it is
/// killed, or the proxy stops.
pub(crate) async fn serve(client: TcpStream, registration: Registration) {
    let shared = registration.host().clone();
    let (id, kill) = (registration.id, registration.kill.clone());
    let mut client = Client { stream: client, _registration: registration };
    let mut shutdown = shared.sockets.shutdown_signal();
    let upstream_addr = shared.upstream();
    let mut upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream_addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!("redis-harness proxy: cannot connect to upstream {upstream_addr}: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!("redis-harness proxy: upstream {upstream_addr} did not accept within {CONNECT_TIMEOUT:?}");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let created = shared.lock().clients.get(&id).map_or_else(Instant::now, |c| c.created);
    let (cr, cw) = client.stream.split();
    let (ur, uw) = upstream.split();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::select! {
        _ = requests(&shared, id, created, cr, uw, tx) => {}
        _ = replies(&shared, id, ur, cw, rx) => {}
        _ = kill.notified() => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
}

/// A command parsed from the client stream: its arguments and raw bytes.
enum Parsed {
    Command(Vec<Bytes>, usize),
    /// Bytes that carry no command (an empty inline line): forward, expect no reply.
    Nothing(usize),
    Incomplete,
    Invalid,
}

fn parse_command(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Incomplete;
    }
    if buf[0] == b'*' {
        return match redis_protocol::resp2::decode::decode_range(buf) {
            Ok(Some((redis_protocol::resp2::types::RangeFrame::Array(items), n))) => {
                let mut args = Vec::with_capacity(items.len().min(1024));
                for item in items {
                    match item {
                        redis_protocol::resp2::types::RangeFrame::BulkString((a, b)) => {
                            args.push(Bytes::copy_from_slice(&buf[a..b]))
                        }
                        _ => return Parsed::Invalid,
                    }
                }
                if args.is_empty() {
                    Parsed::Nothing(n)
                } else {
                    Parsed::Command(args, n)
                }
            }
            Ok(Some(_)) | Err(_) => Parsed::Invalid,
            Ok(None) => Parsed::Incomplete,
        };
    }
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > crate::protocol::request::INLINE_MAX { Parsed::Invalid } else { Parsed::Incomplete };
    };
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    match crate::protocol::request::split_args(line) {
        Some(words) if words.is_empty() => Parsed::Nothing(end + 1),
        Some(words) => Parsed::Command(words.into_iter().map(Bytes::from).collect(), end + 1),
        None => Parsed::Invalid,
    }
}

fn is_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Commands after which replies no longer pair one-to-one with commands.
fn breaks_pairing(args: &[Bytes], resp3: bool) -> bool {
    let name = &args[0];
    let subscribe = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"];
    is_ic(name, "monitor")
        || (is_ic(name, "client") && args.get(1).is_some_and(|s| is_ic(s, "reply")))
        || (!resp3 && subscribe.iter().any(|s| is_ic(name, s)))
}

/// RESP3 subscription commands answer with push frames only.
fn answered_by_pushes(args: &[Bytes]) -> bool {
    let subscribe = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"];
    subscribe.iter().any(|s| is_ic(&args[0], s))
}

/// Client → upstream.
async fn requests(
    shared: &Arc<ProxyShared>,
    id: u64,
    created: Instant,
    mut client: ReadHalf<'_>,
    mut upstream: WriteHalf<'_>,
    slots: mpsc::UnboundedSender<Slot>,
) {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut forward = BytesMut::with_capacity(16 * 1024);
    let mut name = Bytes::new();
    let mut resp3 = false;
    let mut passthrough = false;
    loop {
        while !passthrough {
            let (args, len) = match parse_command(&inbuf) {
                Parsed::Incomplete => break,
                Parsed::Nothing(n) => {
                    forward.extend_from_slice(&inbuf.split_to(n));
                    continue;
                }
                Parsed::Invalid => {
                    // Let the upstream answer the garbage as it sees fit.
                    passthrough = true;
                    let _ = slots.send(Slot::Passthrough);
                    break;
                }
                Parsed::Command(args, n) => (args, n),
            };
            let raw = inbuf.split_to(len);
            track(shared, id, &args, &mut name, &mut resp3);
            let resp = if resp3 { 3 } else { 2 };
            let hub = &shared.faults;
            if hub.admin_enabled() && is_ic(&args[0], "harness") {
                // The upstream judges it (see the module docs).
                let _ = slots.send(Slot::Admin(args, resp));
                forward.extend_from_slice(PROBE);
                continue;
            }
            let action =
                if hub.has_rules() { hub.on_command(&ConnInfo { id, name: &name, created }, &args) } else { None };
            let reply_action = match action {
                None => None,
                Some(Action::Reply(r)) => Some(r),
                // A real Redis runs the script: the proxy cannot slow it down.
                Some(Action::SlowScript(_)) => None,
                Some(Action::Error(text)) => {
                    let mut out = BytesMut::new();
                    Reply::Error(text).encode(resp, &mut out);
                    let _ = slots.send(Slot::Injected(out.freeze()));
                    continue;
                }
                Some(Action::Stall) => {
                    let _ = slots.send(Slot::Stall);
                    if upstream.write_all(&forward).await.is_err() {
                        return;
                    }
                    crate::fault::stall(&mut client).await;
                    return;
                }
                Some(Action::DelayCommand(d)) => {
                    if upstream.write_all(&forward).await.is_err() {
                        return;
                    }
                    forward.clear();
                    tokio::time::sleep(d).await;
                    None
                }
            };
            if breaks_pairing(&args, resp3) {
                let _ = slots.send(Slot::Passthrough);
                passthrough = true;
            } else if !(resp3 && answered_by_pushes(&args)) {
                let _ = slots.send(Slot::Upstream(reply_action, Txn::of(&args)));
            }
            forward.extend_from_slice(&raw);
        }
        if passthrough && !inbuf.is_empty() {
            forward.extend_from_slice(&inbuf.split());
        }
        if !forward.is_empty() {
            if upstream.write_all(&forward).await.is_err() {
                return;
            }
            forward.clear();
        }
        match client.read_buf(&mut inbuf).await {
            Ok(0) | Err(_) => {
                // Half-close: let the upstream finish answering what it got.
                let _ = upstream.shutdown().await;
                std::future::pending::<()>().await;
            }
            Ok(_) => {}
        }
    }
}

/// Bookkeeping from the commands themselves: connection name, protocol, recording.
fn track(shared: &ProxyShared, id: u64, args: &[Bytes], name: &mut Bytes, resp3: &mut bool) {
    let cmd = &args[0];
    if is_ic(cmd, "hello") {
        if let Some(v) = args.get(1) {
            *resp3 = v.as_ref() == b"3";
        }
        if let Some(i) = args.iter().position(|a| is_ic(a, "setname")) {
            if let Some(n) = args.get(i + 1) {
                *name = n.clone();
            }
        }
    } else if is_ic(cmd, "client") && args.len() == 3 && is_ic(&args[1], "setname") {
        *name = args[2].clone();
    }
    let mut st = shared.lock();
    if let Some(c) = st.clients.get_mut(&id) {
        c.name = name.clone();
        c.last_interaction = Instant::now();
        c.last_command = String::from_utf8_lossy(cmd).to_ascii_lowercase();
    }
    st.recorded.record(id, args);
}

/// Length of the first complete reply frame in `buf`, and whether it is a push.
fn reply_frame(buf: &[u8]) -> Result<Option<(usize, bool)>, ()> {
    match redis_protocol::resp3::decode::complete::decode_range(buf) {
        Ok(Some((f, n))) => Ok(Some((n, f.kind() == FrameKind::Push))),
        Ok(None) => Ok(None),
        // RESP2-only forms (`$-1`, `*-1`) are not RESP3.
        Err(_) => match redis_protocol::resp2::decode::decode_range(buf) {
            Ok(Some((_, n))) => Ok(Some((n, false))),
            Ok(None) => Ok(None),
            Err(_) => Err(()),
        },
    }
}

/// Runs a HARNESS command the upstream allowed; returns its encoded reply.
fn run_admin(shared: &ProxyShared, id: u64, args: &[Bytes], resp: u8) -> Bytes {
    use crate::fault::admin::{run, Request};
    let reply = match run(&shared.faults, args) {
        Request::Reply(r) => r,
        Request::KillAll => Reply::Int(crate::host::ConnectionHost::kill_all(shared, Some(id)) as i64),
        Request::SetPassword(_) => {
            Reply::error("ERR SET-PASSWORD needs the fake server: the proxy does not own the password")
        }
    };
    let mut out = BytesMut::new();
    reply.encode(resp, &mut out);
    out.freeze()
}

/// The reply to a HARNESS command from the upstream's reply to [`PROBE`]:
/// `None` when the probe was queued (MULTI).
fn admin_verdict(shared: &ProxyShared, id: u64, args: &[Bytes], resp: u8, probe: &[u8]) -> Option<Bytes> {
    if probe == b"+QUEUED\r\n" {
        return None;
    }
    if probe.starts_with(b"-NOPERM") {
        let mut out = BytesMut::new();
        Reply::error("NOPERM this user has no permissions to run the 'harness' command").encode(resp, &mut out);
        return Some(out.freeze());
    }
    if probe.starts_with(b"-") || probe.starts_with(b"!") {
        // NOAUTH and the like: HARNESS is refused for the same reason.
        return Some(Bytes::copy_from_slice(probe));
    }
    Some(run_admin(shared, id, args, resp))
}

/// EXEC's reply with the replies of the HARNESS commands queued at
/// `admin` (positions in the transaction) in place of their probes'.
fn splice_exec(shared: &ProxyShared, id: u64, frame: &[u8], admin: &[(usize, Vec<Bytes>, u8)]) -> Option<BytesMut> {
    let end = frame.windows(2).position(|w| w == b"\r\n")?;
    if frame.first() != Some(&b'*') {
        return None;
    }
    let n: usize = std::str::from_utf8(&frame[1..end]).ok()?.parse().ok()?;
    let mut out = BytesMut::from(&frame[..end + 2]);
    let mut at = end + 2;
    for i in 0..n {
        let (len, _) = reply_frame(&frame[at..]).ok()??;
        match admin.iter().find(|(pos, _, _)| *pos == i) {
            Some((_, args, resp)) => out.extend_from_slice(&run_admin(shared, id, args, *resp)),
            None => out.extend_from_slice(&frame[at..at + len]),
        }
        at += len;
    }
    Some(out)
}

/// Upstream → client.
async fn replies(
    shared: &ProxyShared,
    id: u64,
    mut upstream: ReadHalf<'_>,
    mut client: WriteHalf<'_>,
    mut slots: mpsc::UnboundedReceiver<Slot>,
) {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut pending: VecDeque<Slot> = VecDeque::new();
    let mut passthrough = false;
    let mut slots_open = true;
    // Commands queued upstream since MULTI, and the HARNESS ones among them.
    let mut queued = 0usize;
    let mut queued_admin: Vec<(usize, Vec<Bytes>, u8)> = Vec::new();
    loop {
        while let Ok(s) = slots.try_recv() {
            pending.push_back(s);
        }
        loop {
            // Slots that need no upstream reply go out as soon as they are at the head.
            while let Some(front) = pending.front() {
                match front {
                    Slot::Injected(b) => {
                        out.extend_from_slice(b);
                        pending.pop_front();
                    }
                    Slot::Passthrough => {
                        passthrough = true;
                        pending.pop_front();
                    }
                    Slot::Stall => {
                        let _ = client.write_all(&out).await;
                        std::future::pending::<()>().await;
                    }
                    Slot::Upstream(..) | Slot::Admin(..) => break,
                }
            }
            if passthrough {
                out.extend_from_slice(&inbuf.split());
                break;
            }
            let (len, push) = match reply_frame(&inbuf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(()) => {
                    passthrough = true;
                    continue;
                }
            };
            let frame = inbuf.split_to(len);
            if push {
                out.extend_from_slice(&frame);
                continue;
            }
            // The loop above left an upstream slot (or nothing) at the head.
            let slot = match pending.front() {
                Some(Slot::Upstream(..) | Slot::Admin(..)) => pending.pop_front(),
                _ => None,
            };
            if frame.as_ref() == b"+QUEUED\r\n" {
                queued += 1;
            }
            match slot {
                Some(Slot::Admin(args, resp)) => match admin_verdict(shared, id, &args, resp, &frame) {
                    Some(reply) => out.extend_from_slice(&reply),
                    None => {
                        queued_admin.push((queued - 1, args, resp));
                        out.extend_from_slice(&frame);
                    }
                },
                Some(Slot::Upstream(None, Txn::Multi)) if frame.as_ref() == b"+OK\r\n" => {
                    queued = 0;
                    queued_admin.clear();
                    out.extend_from_slice(&frame);
                }
                Some(Slot::Upstream(None, Txn::End)) => {
                    let admin = std::mem::take(&mut queued_admin);
                    queued = 0;
                    let spliced = if admin.is_empty() { None } else { splice_exec(shared, id, &frame, &admin) };
                    match spliced {
                        Some(spliced) => out.extend_from_slice(&spliced),
                        None => out.extend_from_slice(&frame),
                    }
                }
                Some(Slot::Upstream(Some(action), _)) => {
                    if client.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                    match crate::fault::deliver(&mut client, &frame, action).await {
                        Ok(Next::Continue) => {}
                        Ok(Next::Close) | Err(_) => return,
                    }
                }
                // Plain replies, and replies with no command of their own (unsolicited).
                _ => out.extend_from_slice(&frame),
            }
            while let Ok(s) = slots.try_recv() {
                pending.push_back(s);
            }
        }
        if !out.is_empty() {
            if client.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        tokio::select! {
            s = slots.recv(), if slots_open => match s {
                Some(s) => pending.push_back(s),
                None => slots_open = false,
            },
            r = upstream.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}
