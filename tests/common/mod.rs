//! Helpers shared by the integration test binaries.
#![allow(dead_code)]

use std::io::ErrorKind;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use redis_harness::backend::{process::find_redis_server, require_real, Backend, BackendKind, RedisProcess};
use redis_protocol::resp3::types::OwnedFrame;

/// How long a test waits for one reply before failing.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A redis-rs connection config without wall-clock budgets a loaded machine
/// can miss: redis-rs 1.x gives every reply 500 ms and every connect 1 s by
/// default. No response timeout (a test that wants one sets it on the
/// connection after connecting, so the handshake is not under it) and
/// [`REPLY_TIMEOUT`] to connect.
pub fn patient() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(Some(REPLY_TIMEOUT))
}

/// A multiplexed redis-rs connection to `url` with [`patient`]'s config.
pub async fn connect_patiently(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?.get_multiplexed_async_connection_with_config(&patient()).await
}

/// Starts a real redis-server, or explains why the test is skipped. Under
/// `REDIS_HARNESS_REQUIRE_REAL=1` a missing server is a failure.
pub fn real_redis_or_skip(test: &str) -> Option<RedisProcess> {
    if find_redis_server().is_none() {
        let why = "no redis-server on PATH and REDIS_HARNESS_SERVER_BIN unset";
        if require_real() {
            panic!("{test}: REDIS_HARNESS_REQUIRE_REAL=1 but {why}");
        }
        redis_harness::backend::report_skip(test, why);
        return None;
    }
    match RedisProcess::start() {
        Ok(p) => Some(p),
        Err(e) => panic!("{test}: redis-server is installed but did not start: {e}"),
    }
}

/// The backends a test parametrised by backend runs on: all three, or only
/// the one `REDIS_HARNESS_BACKEND` names.
pub fn backend_kinds() -> Vec<BackendKind> {
    match std::env::var("REDIS_HARNESS_BACKEND") {
        Ok(v) if !v.trim().is_empty() => vec![BackendKind::from_env()],
        _ => BackendKind::ALL.to_vec(),
    }
}

/// The real Redis the differential tests compare the fake with:
/// `REDIS_HARNESS_BACKEND` if it names a real one, else the process; no
/// proxy in between. `None` (with the reason printed) when it cannot run here.
pub fn reference_redis_or_skip(test: &str) -> Option<Backend> {
    let kind = match BackendKind::from_env_or(BackendKind::Process) {
        BackendKind::Embedded => BackendKind::Process,
        real => real,
    };
    reference_on_or_skip(kind, test)
}

/// [`reference_redis_or_skip`] on a chosen real backend.
///
/// DEBUG is enabled as the fake has it (`local`; `yes` in a container, whose
/// clients connect from outside it), so DEBUG replies can be compared.
pub fn reference_on_or_skip(kind: BackendKind, test: &str) -> Option<Backend> {
    let debug = if kind == BackendKind::Container { "yes" } else { "local" };
    let builder = Backend::builder(kind).fault_proxy(false).real_server_args(["--enable-debug-command", debug]);
    Backend::start_or_skip(builder, test)
}

/// A raw connection straight to `backend`'s Redis (its unix socket where it has one).
pub fn raw_to(backend: &Backend) -> RawConn {
    match backend.unix_path() {
        Some(p) => RawConn::unix(p),
        None => RawConn::tcp(backend.server_addr()),
    }
}

/// A blocking raw RESP connection that returns each reply's exact bytes.
pub struct RawConn {
    stream: Box<dyn ReadWrite>,
    buf: Vec<u8>,
    pub label: String,
    /// Protocol spoken on this connection (decides how replies are decoded).
    pub resp: u8,
}

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

impl RawConn {
    pub fn tcp(addr: std::net::SocketAddr) -> RawConn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        RawConn { stream: Box::new(s), buf: Vec::new(), label: addr.to_string(), resp: 2 }
    }

    pub fn unix(path: &Path) -> RawConn {
        let s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connecting to {}: {e}", path.display()));
        s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        RawConn { stream: Box::new(s), buf: Vec::new(), label: path.display().to_string(), resp: 2 }
    }

    /// Sends a command as a RESP multibulk.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_raw(&multibulk(args));
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap_or_else(|e| panic!("writing to {}: {e}", self.label));
    }

    /// Reads one complete reply and returns its raw bytes, or None at EOF.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if !self.buf.is_empty() {
                match decode_len(&self.buf, self.resp) {
                    Ok(Some(n)) => return Some(self.buf.drain(..n).collect()),
                    Ok(None) => {}
                    Err(e) => {
                        panic!("{}: undecodable reply {:?}: {e:?}", self.label, String::from_utf8_lossy(&self.buf))
                    }
                }
            }
            let mut tmp = [0u8; 65536];
            match self.stream.read(&mut tmp) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("{}: no reply within {REPLY_TIMEOUT:?}: {e}", self.label),
            }
        }
    }

    /// Switches the connection to RESP3 with HELLO 3.
    pub fn hello3(&mut self) {
        self.send(&["HELLO", "3"]);
        self.resp = 3;
        self.read_reply().expect("HELLO 3 reply");
    }

    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_reply().unwrap_or_else(|| panic!("{}: connection closed before a reply", self.label))
    }
}

/// Length of the first complete reply in `buf`, decoded as RESP2 or RESP3.
/// A command as a RESP multibulk request.
pub fn multibulk<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn decode_len(buf: &[u8], resp: u8) -> Result<Option<usize>, redis_protocol::error::RedisProtocolError> {
    if resp >= 3 {
        // A server that failed to switch to RESP3 still sends RESP2 frames; decode them so the mismatch is reported.
        // redis-protocol refuses some valid RESP3 (a set of maps, as COMMAND
        // INFO sends): then the frame is measured by syntax alone.
        match redis_protocol::resp3::decode::complete::decode(buf) {
            Ok(r) => Ok(r.map(|(_, n)| n)),
            Err(e) => match decode_len(buf, 2) {
                Ok(n) => Ok(n),
                Err(_) => raw_frame_len(buf).map_err(|_| e),
            },
        }
    } else {
        // redis-protocol also refuses an error line that is not UTF-8, which
        // Redis sends when it quotes the client's bytes (unknown command).
        match redis_protocol::resp2::decode::decode(buf) {
            Ok(r) => Ok(r.map(|(_, n)| n)),
            Err(e) => raw_frame_len(buf).map_err(|_| e),
        }
    }
}

/// The length of the RESP2/RESP3 frame at the start of `buf` judged by its
/// syntax alone (type byte, lengths, CRLFs): `Ok(None)` while incomplete.
pub fn raw_frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
        match buf[at..].windows(2).position(|w| w == b"\r\n") {
            Some(p) => Ok(Some((&buf[at + 1..at + p], at + p + 2))),
            None => Ok(None),
        }
    }
    fn number(head: &[u8]) -> Result<i64, String> {
        std::str::from_utf8(head).ok().and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad length {head:?}"))
    }
    fn frame(buf: &[u8], at: usize) -> Result<Option<usize>, String> {
        let Some(&kind) = buf.get(at) else { return Ok(None) };
        let Some((head, end)) = line(buf, at)? else { return Ok(None) };
        let items = match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => return Ok(Some(end)),
            b'$' | b'!' | b'=' => {
                let n = number(head)?;
                if n < 0 {
                    return Ok(Some(end));
                }
                let stop = end + n as usize + 2;
                return Ok((buf.len() >= stop).then_some(stop));
            }
            b'*' | b'~' | b'>' => number(head)?,
            b'%' => number(head)?.saturating_mul(2),
            b'|' => number(head)?.saturating_mul(2).saturating_add(1),
            other => return Err(format!("unknown RESP type byte {other:#04x}")),
        };
        let mut pos = end;
        for _ in 0..items.max(0) {
            match frame(buf, pos)? {
                Some(next) => pos = next,
                None => return Ok(None),
            }
        }
        Ok(Some(pos))
    }
    frame(buf, 0)
}

/// Decodes one reply's raw bytes (RESP2 frames are mapped onto RESP3 ones),
/// or `None` where redis-protocol cannot represent it (a set of maps).
pub fn try_decode(raw: &[u8], resp: u8) -> Option<OwnedFrame> {
    if resp >= 3 {
        if let Ok(Some((f, _))) = redis_protocol::resp3::decode::complete::decode(raw) {
            return Some(f);
        }
    }
    let (f, _) = redis_protocol::resp2::decode::decode(raw).ok()??;
    Some(up(f))
}

fn up(f: redis_protocol::resp2::types::OwnedFrame) -> OwnedFrame {
    use redis_protocol::resp2::types::OwnedFrame as F2;
    match f {
        F2::SimpleString(data) => OwnedFrame::SimpleString { data, attributes: None },
        F2::Error(data) => OwnedFrame::SimpleError { data, attributes: None },
        F2::Integer(data) => OwnedFrame::Number { data, attributes: None },
        F2::BulkString(data) => OwnedFrame::BlobString { data, attributes: None },
        F2::Array(items) => OwnedFrame::Array { data: items.into_iter().map(up).collect(), attributes: None },
        F2::Null => OwnedFrame::Null,
    }
}

/// Decodes one reply's raw bytes (RESP2 frames are mapped onto RESP3 ones).
pub fn decode(raw: &[u8], resp: u8) -> OwnedFrame {
    if resp >= 3 {
        if let Ok(Some((f, _))) = redis_protocol::resp3::decode::complete::decode(raw) {
            return f;
        }
    }
    up(redis_protocol::resp2::decode::decode(raw).expect("valid RESP2").expect("complete").0)
}

/// A readable, canonical rendering of a reply; with `sort`, the elements of
/// the top-level aggregate (or pairs of a map) are sorted.
pub fn render(f: &OwnedFrame, sort: bool) -> String {
    fn esc(b: &[u8]) -> String {
        b.escape_ascii().to_string()
    }
    let join = |items: Vec<String>, sort: bool| {
        let mut items = items;
        if sort {
            items.sort();
        }
        items.join(", ")
    };
    match f {
        OwnedFrame::BlobString { data, .. } => format!("\"{}\"", esc(data)),
        OwnedFrame::SimpleString { data, .. } => format!("+{}", esc(data)),
        OwnedFrame::BlobError { data, .. } => format!("!-{}", esc(data)),
        OwnedFrame::SimpleError { data, .. } => format!("-{data}"),
        OwnedFrame::Boolean { data, .. } => format!("#{data}"),
        OwnedFrame::Null => "null".into(),
        OwnedFrame::Number { data, .. } => format!(":{data}"),
        OwnedFrame::Double { data, .. } => format!(",{data}"),
        OwnedFrame::BigNumber { data, .. } => format!("({}", esc(data)),
        OwnedFrame::VerbatimString { data, format, .. } => format!("={format:?}:{}", esc(data)),
        OwnedFrame::Array { data, .. } => format!("[{}]", join(data.iter().map(|x| render(x, false)).collect(), sort)),
        OwnedFrame::Set { data, .. } => format!("~[{}]", join(data.iter().map(|x| render(x, false)).collect(), sort)),
        OwnedFrame::Push { data, .. } => format!(">[{}]", join(data.iter().map(|x| render(x, false)).collect(), sort)),
        OwnedFrame::Map { data, .. } => format!(
            "{{{}}}",
            join(data.iter().map(|(k, v)| format!("{} => {}", render(k, false), render(v, false))).collect(), sort)
        ),
        other => format!("{other:?}"),
    }
}

/// A flat field/value array rendered as sorted pairs (order-insensitive comparison).
pub fn pairs_sorted(f: &OwnedFrame) -> String {
    match f {
        OwnedFrame::Array { data, .. } => {
            let mut pairs: Vec<String> =
                data.chunks(2).map(|c| c.iter().map(|x| render(x, false)).collect::<Vec<_>>().join(" => ")).collect();
            pairs.sort();
            format!("[{}]", pairs.join(", "))
        }
        other => render(other, true),
    }
}

/// Reads until EOF or error; returns the bytes and how the stream ended.
pub fn read_to_end(s: &mut TcpStream) -> (Vec<u8>, Result<(), ErrorKind>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Err(e.kind())),
        }
    }
}

/// Reads exactly `n` bytes, counting the reads it took.
pub fn read_exact_counting(s: &mut TcpStream, n: usize) -> (Vec<u8>, usize) {
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 4096];
    while got.len() < n {
        let k = s.read(&mut buf[..n - got.len()]).unwrap();
        assert!(k > 0, "EOF after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..k]);
        reads += 1;
    }
    (got, reads)
}
