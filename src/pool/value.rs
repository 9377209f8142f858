//! Replies ([`Value`]) and commands ([`Cmd`]): no I/O here, so the
//! conversions are tested without sockets.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use redis_protocol::resp2::types::BytesFrame as Frame2;
use redis_protocol::resp3::types::{BytesFrame as Frame3, VerbatimStringFormat};

/// A decoded reply, RESP2 or RESP3.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A null (RESP2 `$-1`/`*-1`, RESP3 `_`).
    Nil,
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// A simple string (`+OK`).
    Simple(String),
    /// An error reply, nested in an array or pipeline (a top-level error
    /// reply to a single command becomes [`Error::Redis`](super::Error::Redis)).
    Error {
        /// The first word (`ERR`, `WRONGTYPE`...).
        code: String,
        /// The rest.
        msg: String,
    },
    /// An array.
    Array(Vec<Value>),
    /// A RESP3 map, in the server's order.
    Map(Vec<(Value, Value)>),
    /// A RESP3 set, in the server's order.
    Set(Vec<Value>),
    /// A RESP3 double.
    Double(f64),
    /// A RESP3 boolean.
    Bool(bool),
    /// A RESP3 big number, as its decimal text.
    BigNumber(String),
    /// A RESP3 verbatim string: its format (`txt`, `mkd`) and text.
    Verbatim(String, Bytes),
    /// A RESP3 out-of-band push (pub/sub message, client-side caching invalidation).
    Push(Vec<Value>),
}

impl Value {
    /// The value as bytes, for bulk and simple strings.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            Value::Verbatim(_, b) => Some(b),
            _ => None,
        }
    }

    /// The value as an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Whether it is `+OK`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Value::Simple(s) if s == "OK")
    }
}

fn split_error(line: &str) -> (String, String) {
    match line.split_once(' ') {
        Some((code, msg)) => (code.to_string(), msg.to_string()),
        None => (line.to_string(), String::new()),
    }
}

impl From<Frame2> for Value {
    fn from(f: Frame2) -> Value {
        match f {
            Frame2::SimpleString(b) => Value::Simple(String::from_utf8_lossy(&b).into_owned()),
            Frame2::Error(s) => {
                let (code, msg) = split_error(&s);
                Value::Error { code, msg }
            }
            Frame2::Integer(i) => Value::Int(i),
            Frame2::BulkString(b) => Value::Bulk(b),
            Frame2::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Frame2::Null => Value::Nil,
        }
    }
}

impl From<Frame3> for Value {
    fn from(f: Frame3) -> Value {
        match f {
            Frame3::BlobString { data, .. } => Value::Bulk(data),
            Frame3::SimpleString { data, .. } => Value::Simple(String::from_utf8_lossy(&data).into_owned()),
            Frame3::BlobError { data, .. } => {
                let (code, msg) = split_error(&String::from_utf8_lossy(&data));
                Value::Error { code, msg }
            }
            Frame3::SimpleError { data, .. } => {
                let (code, msg) = split_error(&data);
                Value::Error { code, msg }
            }
            Frame3::Boolean { data, .. } => Value::Bool(data),
            Frame3::Null => Value::Nil,
            Frame3::Number { data, .. } => Value::Int(data),
            Frame3::Double { data, .. } => Value::Double(data),
            Frame3::BigNumber { data, .. } => Value::BigNumber(String::from_utf8_lossy(&data).into_owned()),
            Frame3::VerbatimString { data, format, .. } => {
                let format = match format {
                    VerbatimStringFormat::Text => "txt",
                    VerbatimStringFormat::Markdown => "mkd",
                };
                Value::Verbatim(format.to_string(), data)
            }
            Frame3::Array { data, .. } => Value::Array(data.into_iter().map(Value::from).collect()),
            Frame3::Map { data, .. } => {
                Value::Map(data.into_iter().map(|(k, v)| (Value::from(k), Value::from(v))).collect())
            }
            Frame3::Set { data, .. } => Value::Set(data.into_iter().map(Value::from).collect()),
            Frame3::Push { data, .. } => Value::Push(data.into_iter().map(Value::from).collect()),
            // The client never sends HELLO as a frame type and a server never
            // replies with one; treat it as garbage rather than guess.
            Frame3::Hello { .. } | Frame3::ChunkedString(_) => {
                Value::Error { code: "PROTOCOL".into(), msg: "unexpected frame type in a reply".into() }
            }
        }
    }
}

/// A command: its arguments, and whether re-running it is harmless.
///
/// ```
/// use redis_harness::pool::Cmd;
/// let cmd = Cmd::new("SET").arg("key").arg(42).idempotent();
/// assert_eq!(cmd.args().len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a Cmd does nothing until it is sent"]
pub struct Cmd {
    args: Vec<Bytes>,
    idempotent: bool,
}

/// Converts a command argument to bytes.
pub trait ToArg {
    /// The argument's bytes.
    fn to_arg(&self) -> Bytes;
}

impl ToArg for &str {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}
impl ToArg for &[u8] {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}
impl ToArg for Vec<u8> {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}
impl ToArg for Bytes {
    fn to_arg(&self) -> Bytes {
        self.clone()
    }
}
macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Bytes {
                Bytes::from(self.to_string())
            }
        }
    )*};
}
int_arg!(i32, i64, u32, u64, usize, f64);

/// Commands whose re-execution cannot change the data: retried after a
/// timeout even when the caller did not mark them idempotent.
const READ_ONLY: &[&str] = &[
    "ping",
    "echo",
    "get",
    "mget",
    "exists",
    "ttl",
    "pttl",
    "type",
    "strlen",
    "getrange",
    "hget",
    "hmget",
    "hgetall",
    "hlen",
    "hexists",
    "lrange",
    "llen",
    "lindex",
    "smembers",
    "scard",
    "sismember",
    "zrange",
    "zscore",
    "zcard",
    "dbsize",
    "info",
    "time",
];

impl Cmd {
    /// A command with just its name.
    pub fn new(name: impl ToArg) -> Cmd {
        Cmd { args: vec![name.to_arg()], idempotent: false }
    }

    /// A command from a list of arguments (the name first).
    pub fn from_args<I, A>(args: I) -> Cmd
    where
        I: IntoIterator<Item = A>,
        A: ToArg,
    {
        Cmd { args: args.into_iter().map(|a| a.to_arg()).collect(), idempotent: false }
    }

    /// Appends an argument.
    pub fn arg(mut self, a: impl ToArg) -> Cmd {
        self.args.push(a.to_arg());
        self
    }

    /// Marks the command safe to run twice: it is then retried even after a
    /// failure that happened once it may have reached the server.
    pub fn idempotent(mut self) -> Cmd {
        self.idempotent = true;
        self
    }

    /// The arguments, name first.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }

    /// Whether a retry after the command may have run is harmless: marked by
    /// the caller, or a read-only command.
    pub fn is_retry_safe(&self) -> bool {
        self.idempotent
            || self.args.first().is_some_and(|n| READ_ONLY.iter().any(|r| n.eq_ignore_ascii_case(r.as_bytes())))
    }

    /// A blocking command's own timeout, by which the read deadline is
    /// extended. `Some(None)` means it may block forever (timeout 0).
    pub(crate) fn block_timeout(&self) -> Option<Option<Duration>> {
        let name = self.args.first()?;
        let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        let secs = |b: &Bytes| -> Option<Option<Duration>> {
            let v: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
            if !v.is_finite() || v < 0.0 {
                return None;
            }
            Some(if v == 0.0 { None } else { Some(Duration::from_secs_f64(v.min(1e9))) })
        };
        let millis = |b: &Bytes| -> Option<Option<Duration>> {
            let v: u64 = std::str::from_utf8(b).ok()?.parse().ok()?;
            Some(if v == 0 { None } else { Some(Duration::from_millis(v)) })
        };
        if is("blpop") || is("brpop") || is("brpoplpush") || is("blmove") || is("bzpopmin") || is("bzpopmax") {
            secs(self.args.last()?)
        } else if is("blmpop") || is("bzmpop") {
            secs(self.args.get(1)?)
        } else if is("wait") || is("waitaof") {
            millis(self.args.last()?)
        } else if is("xread") || is("xreadgroup") {
            // Options come before STREAMS; a key or ID after it may be named "block".
            let pos = self
                .args
                .iter()
                .take_while(|a| !a.eq_ignore_ascii_case(b"streams"))
                .position(|a| a.eq_ignore_ascii_case(b"block"))?;
            millis(self.args.get(pos + 1)?)
        } else {
            None
        }
    }

    /// Appends the command as a RESP multibulk.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_u8(b'*');
        out.put_slice(self.args.len().to_string().as_bytes());
        out.put_slice(b"\r\n");
        for a in &self.args {
            out.put_u8(b'$');
            out.put_slice(a.len().to_string().as_bytes());
            out.put_slice(b"\r\n");
            out.put_slice(a);
            out.put_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_multibulk() {
        let mut out = BytesMut::new();
        Cmd::new("SET").arg("k").arg(12).encode(&mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n");
    }

    #[test]
    fn blocking_timeouts() {
        assert_eq!(Cmd::from_args(["BLPOP", "a", "b", "1.5"]).block_timeout(), Some(Some(Duration::from_millis(1500))));
        assert_eq!(Cmd::from_args(["blpop", "a", "0"]).block_timeout(), Some(None));
        assert_eq!(
            Cmd::from_args(["BLMPOP", "2", "1", "a", "LEFT"]).block_timeout(),
            Some(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            Cmd::from_args(["XREAD", "BLOCK", "250", "STREAMS", "s", "$"]).block_timeout(),
            Some(Some(Duration::from_millis(250)))
        );
        assert_eq!(
            Cmd::from_args(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]).block_timeout(),
            Some(None)
        );
        assert_eq!(Cmd::from_args(["XREAD", "STREAMS", "block", "5"]).block_timeout(), None);
        assert_eq!(Cmd::from_args(["GET", "a"]).block_timeout(), None);
        assert_eq!(Cmd::from_args(["BLPOP", "a", "-1"]).block_timeout(), None);
    }

    #[test]
    fn retry_safety() {
        assert!(Cmd::from_args(["get", "k"]).is_retry_safe());
        assert!(!Cmd::from_args(["INCR", "k"]).is_retry_safe());
        assert!(Cmd::from_args(["INCR", "k"]).idempotent().is_retry_safe());
    }

    #[test]
    fn frames_convert() {
        let v = Value::from(Frame2::Error("WRONGTYPE Operation against a key".into()));
        assert_eq!(v, Value::Error { code: "WRONGTYPE".into(), msg: "Operation against a key".into() });
        assert_eq!(Value::from(Frame3::Boolean { data: true, attributes: None }), Value::Bool(true));
    }
}
