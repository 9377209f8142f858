//! A strict RESP2/RESP3 frame checker: stricter than a decoder, it refuses
//! what Redis never writes (a CR or LF inside a simple line, a length or
//! integer that is not canonical, a RESP3 type in a RESP2 stream).

/// Which frame types a stream may carry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Proto {
    /// RESP2 only: `+ - : $ *`.
    Resp2,
    /// RESP3: RESP2's types (a RESP2 `$-1`/`*-1` excepted) and RESP3's.
    Resp3,
    /// Either (a socket stream where HELLO may switch protocols mid-pipeline).
    Any,
}

/// Aggregates nested deeper than this are refused (no reply nests so deep).
const MAX_DEPTH: usize = 64;

/// The length of the well-formed frame at the start of `buf`: `Ok(None)`
/// while it is incomplete, `Err` with the reason when it is malformed.
pub fn frame_len(buf: &[u8], proto: Proto) -> Result<Option<usize>, String> {
    frame(buf, 0, proto, 0)
}

/// Splits `buf` into whole frames: `Err` if it is malformed or has a partial frame at the end.
pub fn frames(buf: &[u8], proto: Proto) -> Result<usize, String> {
    let (mut at, mut n) = (0, 0);
    while at < buf.len() {
        match frame(buf, at, proto, 0)? {
            Some(end) => at = end,
            None => return Err(format!("incomplete frame at byte {at}")),
        }
        n += 1;
    }
    Ok(n)
}

/// The header line at `at` (after the type byte): its content and where the next byte is.
fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
    let body = &buf[at + 1..];
    match memchr::memchr2(b'\r', b'\n', body) {
        None => Ok(None),
        Some(i) if body[i] == b'\n' => Err(format!("a LF without CR inside a line at byte {}", at + 1 + i)),
        Some(i) if i + 1 == body.len() => Ok(None),
        Some(i) if body[i + 1] == b'\n' => Ok(Some((&body[..i], at + 1 + i + 2))),
        Some(i) => Err(format!("a CR without LF inside a line at byte {}", at + 1 + i)),
    }
}

/// A canonical decimal integer (as Redis's ll2string writes it).
fn integer(s: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(s).map_err(|_| format!("integer {s:?} is not ASCII"))?;
    let n: i64 = text.parse().map_err(|_| format!("bad integer {text:?}"))?;
    if n.to_string() != text {
        return Err(format!("non-canonical integer {text:?}"));
    }
    Ok(n)
}

fn frame(buf: &[u8], at: usize, proto: Proto, depth: usize) -> Result<Option<usize>, String> {
    if depth > MAX_DEPTH {
        return Err("aggregates nested too deep".into());
    }
    let Some(&kind) = buf.get(at) else { return Ok(None) };
    let resp3 = matches!(kind, b'_' | b',' | b'#' | b'(' | b'!' | b'=' | b'%' | b'~' | b'>' | b'|');
    if resp3 && proto == Proto::Resp2 {
        return Err(format!("RESP3 type {:?} in a RESP2 stream at byte {at}", kind as char));
    }
    if !resp3 && !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(format!("unknown type byte {kind:#04x} at byte {at}"));
    }
    let Some((head, end)) = line(buf, at)? else { return Ok(None) };
    let blob = |n: i64| -> Result<Option<usize>, String> {
        let stop = end + n as usize;
        if buf.len() < stop + 2 {
            return Ok(None);
        }
        if &buf[stop..stop + 2] != b"\r\n" {
            return Err(format!("blob at byte {at} not followed by CRLF"));
        }
        Ok(Some(stop + 2))
    };
    let count = |head: &[u8]| -> Result<i64, String> {
        let n = integer(head)?;
        if n < -1 || (n == -1 && (proto == Proto::Resp3 || kind != b'*')) {
            return Err(format!("bad count {n} at byte {at}"));
        }
        Ok(n)
    };
    let items = match kind {
        b'+' => return Ok(Some(end)),
        b'-' => {
            if head.is_empty() {
                return Err(format!("empty error at byte {at}"));
            }
            return Ok(Some(end));
        }
        b':' => {
            integer(head)?;
            return Ok(Some(end));
        }
        b'$' => {
            let n = integer(head)?;
            if n == -1 && proto != Proto::Resp3 {
                return Ok(Some(end));
            }
            if n < 0 {
                return Err(format!("bad bulk length {n} at byte {at}"));
            }
            return blob(n);
        }
        b'!' | b'=' => {
            let n = integer(head)?;
            if n < 0 || (kind == b'=' && n < 4) {
                return Err(format!("bad blob length {n} at byte {at}"));
            }
            if kind == b'=' && buf.len() >= end + 4 && buf[end + 3] != b':' {
                return Err(format!("verbatim string without a format at byte {at}"));
            }
            return blob(n);
        }
        b'_' => {
            if !head.is_empty() {
                return Err(format!("null with content at byte {at}"));
            }
            return Ok(Some(end));
        }
        b'#' => {
            if head != b"t" && head != b"f" {
                return Err(format!("bad boolean {head:?} at byte {at}"));
            }
            return Ok(Some(end));
        }
        b',' => {
            let text = std::str::from_utf8(head).map_err(|_| format!("double {head:?} is not ASCII"))?;
            let named = matches!(text, "inf" | "-inf" | "nan");
            if !named && (text.parse::<f64>().is_err() || !text.bytes().any(|c| c.is_ascii_digit())) {
                return Err(format!("bad double {text:?} at byte {at}"));
            }
            return Ok(Some(end));
        }
        b'(' => {
            let digits = head.strip_prefix(b"-").unwrap_or(head);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(format!("bad big number {head:?} at byte {at}"));
            }
            return Ok(Some(end));
        }
        b'*' | b'~' | b'>' => count(head)?,
        b'%' => count(head)?.saturating_mul(2),
        // An attribute: its pairs, then the frame it describes.
        _ => count(head)?.saturating_mul(2).saturating_add(1),
    };
    let mut pos = end;
    for _ in 0..items.max(0) {
        match frame(buf, pos, proto, depth + 1)? {
            Some(next) => pos = next,
            None => return Ok(None),
        }
    }
    Ok(Some(pos))
}

#[test]
fn the_checker_refuses_what_redis_never_writes() {
    assert_eq!(frames(b"+OK\r\n:1\r\n$2\r\na\n\r\n*-1\r\n", Proto::Resp2), Ok(4));
    assert_eq!(frames(b"%1\r\n+a\r\n,1.5\r\n_\r\n#t\r\n=5\r\ntxt:a\r\n", Proto::Resp3), Ok(4));
    for (bad, proto) in [
        (&b"-ERR a\nb\r\n"[..], Proto::Any),
        (b"+a\rb\r\n", Proto::Any),
        (b":01\r\n", Proto::Any),
        (b":666'\r\n", Proto::Any),
        (b"$3\r\nab\r\n", Proto::Any),
        (b"_\r\n", Proto::Resp2),
        (b"$-1\r\n", Proto::Resp3),
        (b",x\r\n", Proto::Any),
        (b"-\r\n", Proto::Any),
        (b"?\r\n", Proto::Any),
    ] {
        assert!(frames(bad, proto).is_err(), "{bad:?} accepted");
    }
    assert_eq!(frame_len(b"*2\r\n:1\r\n", Proto::Any), Ok(None));
    // The forgery of issue 17 finding 6: an error that ends early, a forged +OK, a broken integer.
    assert!(frames(b"-ERR Unknown category 'x\r\n+OK\r\n:666'\r\n", Proto::Any).is_err());
}
