//! FUNCTION DUMP / FUNCTION RESTORE payloads: each library's code after an
//! `RDB_OPCODE_FUNCTION2` byte (the code holds its own `#!lua name=...`
//! header, so nothing else is saved), then the RDB version and the CRC-64,
//! as Redis 7.0's `functionDumpCommand` writes them.

use bytes::Bytes;

use super::{crc64, Reader, Writer, RDB_VERSION};

/// `RDB_OPCODE_FUNCTION2`: a library saved by Redis 7.0 GA and later.
const OPCODE_FUNCTION2: u8 = 245;
/// `RDB_OPCODE_FUNCTION_PRE_GA`: the 7.0 release candidates' format.
const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// The FUNCTION DUMP payload of these libraries' code (compressed as
/// `rdbcompression` says, like every RDB string).
pub(crate) fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>, compress: bool) -> Vec<u8> {
    let mut w = Writer { out: Vec::new(), compress };
    for code in codes {
        w.out.push(OPCODE_FUNCTION2);
        w.string(code);
    }
    let mut out = w.out;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code in a payload that passed `verify`, or Redis's
/// error text (without the `ERR ` code) for a malformed one. As Redis,
/// reads records until only the 10-byte trailer is left.
pub(crate) fn load_functions(payload: &[u8]) -> Result<Vec<Bytes>, &'static str> {
    let body = payload.len().saturating_sub(10);
    let mut r = Reader { buf: &payload[..body], pos: 0 };
    let mut out = Vec::new();
    while r.pos < body {
        match r.byte() {
            Some(OPCODE_FUNCTION2) => {}
            Some(OPCODE_FUNCTION_PRE_GA) => return Err("Pre-GA function format not supported"),
            Some(_) => return Err("given type is not a function"),
            None => return Err("can not read data type"),
        }
        match r.string() {
            Some(code) => out.push(code),
            None => return Err("Failed loading library payload"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_from_redis_loads_and_dumps_back_byte_for_byte() {
        // FUNCTION DUMP from redis-server 7.0.15 after loading one library
        // (its code LZF-compressed, as rdbcompression defaults to yes).
        let real: &[u8] = b"\xf5\xc3@\x8e@\xa4\x1f#!lua name=x\nredis.register_func\x04tion{\xc0\x08\x00_`'\r'a', callback=\xc0\x1b\x0f() end, flags={' \x1f\x1aow-cross-slot-keys','no-clu@_ \x0c\x80$\x04stale\xe0\x00\r\x02oom \x0b &\x08writes'}}\n\x00\xe3\x9dZ2\xca\xe8\xf2\x99";
        assert!(super::super::verify(real));
        let codes = load_functions(real).unwrap();
        assert_eq!(codes.len(), 1);
        assert_eq!(
            &codes[0][..],
            &b"#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags={'allow-cross-slot-keys','no-cluster','allow-stale','allow-oom','no-writes'}}"[..]
        );
        assert_eq!(dump_functions(codes.iter().map(|c| &c[..]), true), real);
    }

    #[test]
    fn an_empty_dump_is_the_trailer_alone() {
        let empty = dump_functions(std::iter::empty(), true);
        assert_eq!(empty.len(), 10);
        assert!(super::super::verify(&empty));
        assert_eq!(load_functions(&empty).unwrap(), Vec::<Bytes>::new());
    }

    #[test]
    fn malformed_records_answer_redis_texts() {
        let with = |body: &[u8]| {
            let mut p = body.to_vec();
            p.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64::crc64(0, &p);
            p.extend_from_slice(&crc.to_le_bytes());
            load_functions(&p)
        };
        assert_eq!(with(b"\x00\x01a"), Err("given type is not a function"));
        assert_eq!(with(b"\xf6\x01a"), Err("Pre-GA function format not supported"));
        assert_eq!(with(b"\xf5\x05ab"), Err("Failed loading library payload"));
        assert_eq!(with(b"\xf5\x01a\xf5\x01b").unwrap(), vec![Bytes::from("a"), Bytes::from("b")]);
    }
}
