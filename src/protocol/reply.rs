//! Replies and their RESP2/RESP3 encoding, byte for byte as Redis 7 writes them.

use bytes::{BufMut, Bytes, BytesMut};

/// A reply from the fake server, independent of protocol version.
///
/// Encoding picks the RESP2 or RESP3 form the way Redis does: maps become
/// flat arrays in RESP2, doubles become bulk strings, booleans integers, and
/// so on.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK` style status.
    Status(Bytes),
    /// `-ERR ...` style error; the text excludes the leading `-`.
    Error(Bytes),
    /// `:n` integer.
    Int(i64),
    /// `$n` bulk string.
    Bulk(Bytes),
    /// Null bulk (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// Null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// `*n` array.
    Array(Vec<Reply>),
    /// `%n` map in RESP3, flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `~n` set in RESP3, array in RESP2.
    Set(Vec<Reply>),
    /// `,d` double in RESP3, bulk string in RESP2 (`%.17g`).
    Double(f64),
    /// A double already formatted as text: `,text` in RESP3, a bulk string
    /// in RESP2 (Redis's `addReplyHumanLongDouble`, used for coordinates).
    DoubleText(Bytes),
    /// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    Bool(bool),
    /// `=n` verbatim string in RESP3 (format, text), bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// `(n` big number in RESP3, bulk string in RESP2 (only scripts return
    /// one, as `{big_number = "..."}`).
    BigNumber(Bytes),
    /// `>n` push in RESP3, array in RESP2.
    Push(Vec<Reply>),
    /// Several replies sent back to back for one command (SUBSCRIBE to many channels).
    Multi(Vec<Reply>),
    /// Nothing is written (the command blocked, or the connection is closing).
    None,
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Status(Bytes::from_static(b"OK"))
    }

    /// A status reply from a static string.
    pub fn status(s: &'static str) -> Reply {
        Reply::Status(Bytes::from_static(s.as_bytes()))
    }

    /// An error reply; `msg` must include the code (`ERR ...`, `WRONGTYPE ...`).
    ///
    /// Follows Redis's `addReplyErrorFormat`: CR and LF at either end are
    /// trimmed and any left inside become spaces, so an error quoting client
    /// input stays one line (`ACL CAT "x\r\n+OK"` must not forge a `+OK`).
    /// [`Reply::encode`] maps CR/LF in every error and status line as well,
    /// whichever way the reply was built.
    pub fn error(msg: impl Into<String>) -> Reply {
        let msg = msg.into();
        if memchr::memchr2(b'\r', b'\n', msg.as_bytes()).is_none() {
            return Reply::Error(Bytes::from(msg));
        }
        let mut bytes = msg.trim_matches(['\r', '\n']).as_bytes().to_vec();
        one_line(&mut bytes);
        Reply::Error(Bytes::from(bytes))
    }

    /// A bulk string.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Encodes this reply for a connection speaking `resp` (2 or 3).
    pub fn encode(&self, resp: u8, out: &mut BytesMut) {
        match self {
            Reply::Status(s) => text_line(out, b'+', s),
            Reply::Error(e) => text_line(out, b'-', e),
            Reply::Int(n) => int_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => out.put_slice(if resp >= 3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => out.put_slice(if resp >= 3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => {
                int_line(out, b'*', items.len() as i64);
                for i in items {
                    i.encode(resp, out);
                }
            }
            Reply::Map(pairs) => {
                if resp >= 3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', pairs.len() as i64 * 2);
                }
                for (k, v) in pairs {
                    k.encode(resp, out);
                    v.encode(resp, out);
                }
            }
            Reply::Set(items) => {
                int_line(out, if resp >= 3 { b'~' } else { b'*' }, items.len() as i64);
                for i in items {
                    i.encode(resp, out);
                }
            }
            Reply::Push(items) => {
                int_line(out, if resp >= 3 { b'>' } else { b'*' }, items.len() as i64);
                for i in items {
                    i.encode(resp, out);
                }
            }
            Reply::Double(d) => {
                let s = format_double(*d);
                if resp >= 3 {
                    line(out, b',', s.as_bytes());
                } else {
                    bulk(out, s.as_bytes());
                }
            }
            Reply::DoubleText(s) => {
                if resp >= 3 {
                    line(out, b',', s);
                } else {
                    bulk(out, s);
                }
            }
            Reply::Bool(b) => {
                if resp >= 3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Verbatim(fmt, text) => {
                if resp >= 3 {
                    int_line(out, b'=', text.len() as i64 + 4);
                    out.put_slice(fmt.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, text);
                }
            }
            Reply::BigNumber(digits) => {
                if resp >= 3 {
                    line(out, b'(', digits);
                } else {
                    bulk(out, digits);
                }
            }
            Reply::Multi(items) => {
                for i in items {
                    i.encode(resp, out);
                }
            }
            Reply::None => {}
        }
    }

    /// Encodes into a fresh buffer (tests and the test handle use this).
    pub fn to_bytes(&self, resp: u8) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(resp, &mut out);
        out.freeze()
    }
}

impl From<&'static str> for Reply {
    fn from(s: &'static str) -> Self {
        Reply::Bulk(Bytes::from_static(s.as_bytes()))
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Self {
        Reply::Int(n)
    }
}

impl From<Bytes> for Reply {
    fn from(b: Bytes) -> Self {
        Reply::Bulk(b)
    }
}

impl From<Option<Bytes>> for Reply {
    fn from(b: Option<Bytes>) -> Self {
        match b {
            Some(b) => Reply::Bulk(b),
            None => Reply::Nil,
        }
    }
}

fn line(out: &mut BytesMut, prefix: u8, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(prefix);
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

/// A simple string or error line: CR and LF inside `s` are written as
/// spaces (Redis's `sdsmapchars(s, "\r\n", "  ")`), so no text, however it
/// was built, can end the line early and forge the replies after it.
fn text_line(out: &mut BytesMut, prefix: u8, s: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', s).is_none() {
        return line(out, prefix, s);
    }
    let mut clean = s.to_vec();
    one_line(&mut clean);
    line(out, prefix, &clean);
}

/// Replaces each CR and LF with a space, in place.
fn one_line(s: &mut [u8]) {
    for c in s {
        if matches!(*c, b'\r' | b'\n') {
            *c = b' ';
        }
    }
}

fn int_line(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut tmp = [0u8; 20];
    let mut v = n.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.reserve(25);
    out.put_u8(prefix);
    if n < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&tmp[i..]);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 16);
    int_line(out, b'$', b.len() as i64);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis 7.0's `addReplyDouble`: `inf`/`-inf`, otherwise
/// C's `%.17g`.
pub(crate) fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g(d, 17)
}

/// C's `%.{prec}g` for finite values.
pub(crate) fn format_g(d: f64, prec: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Scientific form with prec significant digits tells us the exponent after rounding.
    let sci = format!("{:.*e}", prec - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("scientific format has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if exp < -4 || exp >= prec as i32 {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_match_printf_g17() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_double(0.0001), "0.0001");
    }

    #[test]
    fn resp2_and_resp3_forms() {
        let m = Reply::Map(vec![(Reply::from("a"), Reply::Int(1))]);
        assert_eq!(&m.to_bytes(2)[..], b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&m.to_bytes(3)[..], b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&Reply::Nil.to_bytes(2)[..], b"$-1\r\n");
        assert_eq!(&Reply::NilArray.to_bytes(3)[..], b"_\r\n");
        assert_eq!(&Reply::Double(2.5).to_bytes(3)[..], b",2.5\r\n");
        assert_eq!(&Reply::DoubleText(Bytes::from("1.5")).to_bytes(3)[..], b",1.5\r\n");
        assert_eq!(&Reply::DoubleText(Bytes::from("1.5")).to_bytes(2)[..], b"$3\r\n1.5\r\n");
        assert_eq!(&Reply::Verbatim("txt", Bytes::from("hi")).to_bytes(3)[..], b"=6\r\ntxt:hi\r\n");
        assert_eq!(&Reply::BigNumber(Bytes::from("12")).to_bytes(3)[..], b"(12\r\n");
        assert_eq!(&Reply::BigNumber(Bytes::from("12")).to_bytes(2)[..], b"$2\r\n12\r\n");
        assert_eq!(&Reply::Int(-42).to_bytes(2)[..], b":-42\r\n");
    }

    #[test]
    fn error_texts_trim_and_map_crlf_like_add_reply_error_format() {
        let e = Reply::error("ERR Unknown category 'x\r\n+OK\r\n:666'");
        assert_eq!(e, Reply::Error(Bytes::from_static(b"ERR Unknown category 'x  +OK  :666'")));
        assert_eq!(&Reply::error("ERR trailing\r\n\n").to_bytes(2)[..], b"-ERR trailing\r\n");
        assert_eq!(&Reply::error("ERR plain").to_bytes(3)[..], b"-ERR plain\r\n");
    }

    #[test]
    fn no_status_or_error_line_can_carry_a_newline() {
        // Built directly, bypassing Reply::error: the encoder still keeps each one line.
        let forged = Bytes::from_static(b"ERR a\r\n+OK\r\n:1\rb\nc");
        for resp in [2, 3] {
            assert_eq!(&Reply::Error(forged.clone()).to_bytes(resp)[..], b"-ERR a  +OK  :1 b c\r\n");
            assert_eq!(&Reply::Status(forged.clone()).to_bytes(resp)[..], b"+ERR a  +OK  :1 b c\r\n");
            let nested = Reply::Array(vec![Reply::Status(forged.clone()), Reply::Int(1)]);
            assert_eq!(&nested.to_bytes(resp)[..], b"*2\r\n+ERR a  +OK  :1 b c\r\n:1\r\n");
        }
    }

    proptest::proptest! {
        /// Whatever bytes an error or status carries, its encoding is one
        /// line: the prefix, the text with no CR or LF, then CRLF.
        #[test]
        fn error_and_status_lines_never_break(text in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            for reply in [Reply::Error(Bytes::from(text.clone())), Reply::Status(Bytes::from(text.clone()))] {
                let out = reply.to_bytes(2);
                proptest::prop_assert!(out.ends_with(b"\r\n"));
                let body = &out[1..out.len() - 2];
                proptest::prop_assert!(!body.contains(&b'\r') && !body.contains(&b'\n'), "{:?}", out);
                proptest::prop_assert_eq!(body.len(), text.len());
            }
        }
    }
}
