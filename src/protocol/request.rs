//! Request parsing: RESP multibulk and inline commands, with Redis's limits
//! and Redis's error texts.

use bytes::{Buf, Bytes, BytesMut};

/// Longest header line or inline request Redis accepts (PROTO_INLINE_MAX_SIZE).
pub(crate) const INLINE_MAX: usize = 64 * 1024;

/// Limits applied while parsing, mirroring Redis's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `proto-max-bulk-len`: largest bulk string accepted.
    pub max_bulk_len: u64,
    /// Largest multibulk element count accepted (Redis: 1024*1024*1024).
    pub max_multibulk_len: u64,
    /// Whether the client has authenticated; unauthenticated clients get the
    /// tighter limits Redis applies to them.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, max_multibulk_len: 1024 * 1024 * 1024, authenticated: true }
    }
}

/// A protocol error: the text Redis sends before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub String);

impl ProtocolError {
    /// The full error line as Redis sends it (without CRLF).
    pub(crate) fn message(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// Incremental parser state for one connection.
///
/// A multibulk stays in the buffer until all of it has arrived; the parser
/// remembers where each argument lies and how far it has scanned, so a large
/// request is not rescanned on every read. The complete command is then split
/// off the buffer once and its arguments are slices of that one piece: one
/// reference count per argument, rather than a split and three advances of
/// the shared buffer each (which cost a third of a pipelined MSET's time).
#[derive(Debug, Default)]
pub(crate) struct Parser {
    /// Elements still expected for the multibulk being parsed (0 = none).
    pending: usize,
    /// Where each argument parsed so far lies, from the start of the buffer.
    ranges: Vec<(usize, usize)>,
    /// How far the multibulk being parsed has been scanned.
    pos: usize,
    /// Length of the bulk whose header was read (ending at `pos`) but whose
    /// payload has not fully arrived.
    bulk_len: Option<usize>,
}

/// Outcome of one parse step.
#[derive(Debug, PartialEq)]
pub(crate) enum Parsed {
    /// A complete command (never empty).
    Command(Vec<Bytes>),
    /// More bytes are needed.
    Incomplete,
}

/// Where a header line ends: at its `\r`, as Redis's `strchr(.., '\r')`,
/// once the byte after it (taken to be `\n`, and skipped unread as Redis
/// skips it) has arrived too.
///
/// `strchr` also stops at a NUL byte: a header with a NUL before its `\r`
/// never ends (the request waits for more, until the size limit refuses it).
fn find_crlf(buf: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\r', 0, buf).filter(|&i| buf[i] == b'\r' && i + 1 < buf.len())
}

pub(crate) use crate::num::parse_i64 as string2ll;

impl Parser {
    /// Tries to take one command out of `buf`.
    ///
    /// Empty inline lines and multibulks of length `<= 0` are skipped, as
    /// Redis does. On error the connection must reply with
    /// [`ProtocolError::message`] and close.
    pub(crate) fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Parsed, ProtocolError> {
        loop {
            if self.pending == 0 {
                if buf.is_empty() {
                    return Ok(Parsed::Incomplete);
                }
                if buf[0] != b'*' {
                    match self.parse_inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Parsed::Command(args)),
                        None => return Ok(Parsed::Incomplete),
                    }
                }
                let Some(end) = find_crlf(buf) else {
                    if buf.len() > INLINE_MAX {
                        return Err(ProtocolError("too big mbulk count string".into()));
                    }
                    return Ok(Parsed::Incomplete);
                };
                if end > INLINE_MAX {
                    return Err(ProtocolError("too big mbulk count string".into()));
                }
                let n = string2ll(&buf[1..end]);
                let n = match n {
                    Some(n) if n <= i32::MAX as i64 => n,
                    _ => return Err(ProtocolError("invalid multibulk length".into())),
                };
                if !limits.authenticated && n > 10 {
                    return Err(ProtocolError("unauthenticated multibulk length".into()));
                }
                if n > 0 && n as u64 > limits.max_multibulk_len {
                    return Err(ProtocolError("invalid multibulk length".into()));
                }
                if n <= 0 {
                    buf.advance(end + 2);
                    continue;
                }
                self.pending = n as usize;
                self.pos = end + 2;
                // Never trust the declared count for allocation.
                self.ranges.clear();
                self.ranges.reserve(self.pending.min(1024));
            }
            while self.pending > 0 {
                let rest = &buf[self.pos..];
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        let Some(end) = find_crlf(rest) else {
                            if rest.len() > INLINE_MAX {
                                return Err(ProtocolError("too big bulk count string".into()));
                            }
                            return Ok(Parsed::Incomplete);
                        };
                        if end > INLINE_MAX {
                            return Err(ProtocolError("too big bulk count string".into()));
                        }
                        if rest[0] != b'$' {
                            let got = rest[0];
                            return Err(ProtocolError(format!("expected '$', got '{}'", got as char)));
                        }
                        let len = match string2ll(&rest[1..end]) {
                            Some(l) if l >= 0 && (l as u64) <= limits.max_bulk_len => l,
                            _ => return Err(ProtocolError("invalid bulk length".into())),
                        };
                        if !limits.authenticated && len > 16384 {
                            return Err(ProtocolError("unauthenticated bulk length".into()));
                        }
                        self.pos += end + 2;
                        self.bulk_len = Some(len as usize);
                        len as usize
                    }
                };
                if buf.len() - self.pos < len + 2 {
                    return Ok(Parsed::Incomplete);
                }
                self.ranges.push((self.pos, self.pos + len));
                self.pos += len + 2;
                self.bulk_len = None;
                self.pending -= 1;
            }
            let whole = buf.split_to(self.pos).freeze();
            self.pos = 0;
            let args = self.ranges.drain(..).map(|(a, b)| whole.slice(a..b)).collect();
            return Ok(Parsed::Command(args));
        }
    }

    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        // Redis looks for the newline with strchr, which stops at a NUL:
        // an inline request with a NUL before its newline never ends.
        let nl = memchr::memchr2(b'\n', 0, buf).filter(|&i| buf[i] == b'\n');
        let Some(nl) = nl else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError("too big inline request".into()));
            }
            return Ok(None);
        };
        if nl > INLINE_MAX {
            return Err(ProtocolError("too big inline request".into()));
        }
        let line = buf.split_to(nl + 1);
        let mut line = &line[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        match split_args(line) {
            Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
            None => Err(ProtocolError("unbalanced quotes in request".into())),
        }
    }
}

/// Splits an inline request like Redis's `sdssplitargs`: whitespace
/// separated, with "double quoted" strings (C escapes, `\xHH`) and
/// 'single quoted' strings. Returns `None` on unbalanced quotes (or a closing
/// quote not followed by a space).
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3]) {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(input);
        let mut cmds = Vec::new();
        loop {
            match p.parse(&mut buf, &Limits::default()) {
                Ok(Parsed::Command(c)) => cmds.push(c),
                Ok(Parsed::Incomplete) => return (cmds, None),
                Err(e) => return (cmds, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_and_inline_pipelined() {
        let (cmds, err) = parse_all(b"*1\r\n$4\r\nPING\r\nPING\r\n\r\necho \"a b\"\r\n*-1\r\n*0\r\n");
        assert_eq!(err, None);
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[2], vec![Bytes::from("echo"), Bytes::from("a b")]);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_commands() {
        let input = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nSET a 'b c'\n";
        let mut p = Parser::default();
        let mut buf = BytesMut::new();
        let mut cmds = Vec::new();
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            while let Ok(Parsed::Command(c)) = p.parse(&mut buf, &Limits::default()) {
                cmds.push(c);
            }
        }
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[1][2], Bytes::from("b c"));
    }

    #[test]
    fn over_limit_lengths_fail_before_data_arrives() {
        assert_eq!(parse_all(b"*1\r\n$99999999999\r\n").1, Some(ProtocolError("invalid bulk length".into())));
        assert_eq!(parse_all(b"*99999999999\r\n").1, Some(ProtocolError("invalid multibulk length".into())));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n").1, Some(ProtocolError("invalid bulk length".into())));
        assert_eq!(parse_all(b"*x\r\n").1, Some(ProtocolError("invalid multibulk length".into())));
        assert_eq!(parse_all(b"*1\r\n:1\r\n").1, Some(ProtocolError("expected '$', got ':'".into())));
        assert_eq!(parse_all(b"SET \"a\r\n").1, Some(ProtocolError("unbalanced quotes in request".into())));
    }

    #[test]
    fn oversized_headers_are_refused_without_a_newline() {
        let big = vec![b'a'; INLINE_MAX + 2];
        assert_eq!(parse_all(&big).1, Some(ProtocolError("too big inline request".into())));
        let mut mb = b"*".to_vec();
        mb.extend(vec![b'1'; INLINE_MAX + 2]);
        assert_eq!(parse_all(&mb).1, Some(ProtocolError("too big mbulk count string".into())));
    }

    #[test]
    fn headers_follow_string2ll_and_stop_at_nul() {
        for bad in [&b"*01\r\n"[..], b"*+1\r\n", b"*-0\r\n", b"* 1\r\n", b"*1 \r\n"] {
            assert_eq!(parse_all(bad).1, Some(ProtocolError("invalid multibulk length".into())), "{bad:?}");
        }
        assert_eq!(parse_all(b"*1\r\n$04\r\nPING\r\n").1, Some(ProtocolError("invalid bulk length".into())));
        // strchr stops at a NUL: the header (or inline line) never ends.
        assert_eq!(parse_all(b"*1\x00\r\n$4\r\nPING\r\n"), (vec![], None));
        assert_eq!(parse_all(b"ECHO a\x00b\r\nPING\r\n"), (vec![], None));
        let mut big = b"PING\x00".to_vec();
        big.extend(vec![b'\n'; INLINE_MAX]);
        assert_eq!(parse_all(&big).1, Some(ProtocolError("too big inline request".into())));
    }

    proptest::proptest! {
        /// Any pipeline of multibulk commands (binary arguments, CRLF inside
        /// them included), delivered in any chunks, parses back to exactly
        /// the commands sent: the in-place scan keeps its place across reads.
        #[test]
        fn chunked_pipelines_parse_back_to_the_commands_sent(
            cmds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..6),
                1..12,
            ),
            cuts in proptest::collection::vec(1usize..64, 1..40),
        ) {
            let mut wire = Vec::new();
            for c in &cmds {
                wire.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
                for a in c {
                    wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    wire.extend_from_slice(a);
                    wire.extend_from_slice(b"\r\n");
                }
            }
            let mut p = Parser::default();
            let mut buf = BytesMut::new();
            let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
            let (mut at, mut cut) = (0, cuts.iter().cycle());
            while at < wire.len() {
                let n = (*cut.next().unwrap()).min(wire.len() - at);
                buf.extend_from_slice(&wire[at..at + n]);
                at += n;
                while let Parsed::Command(c) = p.parse(&mut buf, &Limits::default()).unwrap() {
                    got.push(c.iter().map(|a| a.to_vec()).collect());
                }
            }
            proptest::prop_assert_eq!(got, cmds);
            proptest::prop_assert!(buf.is_empty());
        }
    }

    /// Pieces a fuzzed request stream is made of: valid and broken headers,
    /// limits and their neighbours, inline text with quotes and escapes,
    /// lone CR, LF and NUL.
    const FRAGMENTS: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\r",
        b"\n",
        b"\0",
        b"0",
        b"1",
        b"2",
        b"3",
        b"-1",
        b"-",
        b"+",
        b" ",
        b"\"",
        b"'",
        b"\\",
        b"\\x4",
        b"\\x41",
        b"PING",
        b"SET",
        b"a",
        b"*1\r\n$4\r\nPING\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"$0\r\n\r\n",
        b"$536870912\r\n",
        b"$536870913\r\n",
        b"*2147483647\r\n",
        b"*2147483648\r\n",
        b"*9223372036854775807\r\n",
        b"*9223372036854775808\r\n",
        b"$-2\r\n",
        b"*01\r\n",
        b"ECHO \"a\\nb\"\r\n",
        b"set 'x\\'y' z\n",
        b"\"unbalanced\r\n",
        b"\xff",
        b"\x80",
    ];

    fn fragment_stream() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::strategy::Strategy;
        proptest::collection::vec(
            proptest::prop_oneof![
                4 => proptest::sample::select(FRAGMENTS).prop_map(|f| f.to_vec()),
                1 => proptest::collection::vec(proptest::num::u8::ANY, 0..8),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    /// Everything `input` parses to when it arrives in the pieces `cuts` gives
    /// (cycled): the commands, then the error or `None` if it only ran out.
    fn parse_chunked(input: &[u8], cuts: &[usize], limits: &Limits) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut p = Parser::default();
        let mut buf = BytesMut::new();
        let mut cmds = Vec::new();
        let (mut at, mut cut) = (0, cuts.iter().cycle());
        loop {
            loop {
                match p.parse(&mut buf, limits) {
                    Ok(Parsed::Command(c)) => {
                        assert!(!c.is_empty(), "a command is never empty");
                        cmds.push(c);
                    }
                    Ok(Parsed::Incomplete) => break,
                    Err(e) => return (cmds, Some(e)),
                }
            }
            if at == input.len() {
                return (cmds, None);
            }
            let n = (*cut.next().unwrap()).min(input.len() - at);
            buf.extend_from_slice(&input[at..at + n]);
            at += n;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
            ..proptest::test_runner::Config::default()
        })]
        /// Request-parser fuzzing: any byte stream, however it is cut into
        /// reads, parses without panicking to the same commands and the same
        /// protocol error as when it arrives whole, authenticated or not.
        /// Every protocol error's reply line is one line.
        #[test]
        fn any_stream_parses_the_same_in_any_chunks(
            input in fragment_stream(),
            cuts in proptest::collection::vec(1usize..16, 1..8),
            authenticated in proptest::bool::ANY,
        ) {
            let limits = Limits { authenticated, ..Limits::default() };
            let whole = parse_chunked(&input, &[usize::MAX], &limits);
            let chunked = parse_chunked(&input, &cuts, &limits);
            proptest::prop_assert_eq!(&chunked, &whole);
            if let Some(e) = whole.1 {
                let line = super::super::Reply::error(e.message()).to_bytes(2);
                proptest::prop_assert!(!line[..line.len() - 2].iter().any(|&c| c == b'\r' || c == b'\n'), "{:?}", line);
            }
        }
    }

    #[test]
    fn inline_escapes() {
        let args = split_args(b"set \"\\x41\\n\" 'it\\'s'").unwrap();
        assert_eq!(args, vec![b"set".to_vec(), b"A\n".to_vec(), b"it's".to_vec()]);
        assert!(split_args(b"\"a\"b").is_none());
    }
}
