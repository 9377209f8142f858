//! Redis 7.0's RDB object serialization, as DUMP produces and RESTORE
//! consumes it: `type byte | object | RDB version (u16 LE, 10) | CRC-64 of
//! everything before it (u64 LE)`. Pure data: no command knowledge.
//!
//! Objects are written in the encoding Redis would hold them in (strings,
//! quicklists of listpacks, intsets, listpacks, hash tables and skiplists),
//! strings longer than 20 bytes LZF-compressed as Redis does when
//! `rdbcompression` is on. Loading accepts everything Redis 7.0 writes
//! plus the older plain types (1 list, 3 zset); the ziplist, zipmap,
//! stream and module types are refused as bad data (the fake has no
//! streams or modules, and nothing since 6.2 writes ziplists).
//! Every length is checked against the bytes left, so a hostile payload
//! can neither panic the loader nor make it allocate more than a small
//! multiple of its own size.

mod crc64;
mod functions;
mod intset;
mod listpack;
mod lzf;

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use std::collections::VecDeque;

use super::{Value, ZSet};

pub(crate) use functions::{dump_functions, load_functions};

/// The RDB version DUMP writes and the newest RESTORE accepts.
pub(crate) const RDB_VERSION: u16 = 10;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;

/// Quicklist node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// The string encodings behind a length byte's `11` prefix.
const ENC_INT8: u64 = 0;
const ENC_INT16: u64 = 1;
const ENC_INT32: u64 = 2;
const ENC_LZF: u64 = 3;

/// The most an LZF stream can expand: a 3-byte match yields 264 bytes.
const LZF_MAX_RATIO: usize = 88;

/// Redis's `SIZE_ESTIMATE_OVERHEAD`: what a quicklist assumes an insert adds
/// to a node besides the element itself.
const NODE_OVERHEAD: usize = 8;
/// Redis's `SIZE_SAFETY_LIMIT`: a node's cap when the fill is a count.
const NODE_SAFETY_LIMIT: usize = 8192;

/// How DUMP writes a value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DumpOptions<'a> {
    /// The encoding OBJECT ENCODING reports for the value.
    pub encoding: &'a str,
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes.
    pub compress: bool,
    /// `list-max-listpack-size`: negative for a byte limit per quicklist
    /// node (-1 4 KiB .. -5 64 KiB), positive for an element count.
    pub list_fill: i64,
}

/// The DUMP payload of `value`.
pub(crate) fn dump(value: &Value, opts: &DumpOptions<'_>) -> Vec<u8> {
    let mut w = Writer { out: Vec::new(), compress: opts.compress };
    match value {
        // No stream serialization (RDB_TYPE_STREAM_LISTPACKS_2) yet: DUMP
        // refuses a stream before it gets here (`cmd::dump`).
        Value::Stream(_) => return Vec::new(),
        Value::Str(s) => {
            w.out.push(TYPE_STRING);
            w.string(s);
        }
        Value::List(l) => {
            w.out.push(TYPE_LIST_QUICKLIST_2);
            let nodes = split_nodes(l, opts.list_fill);
            w.len(nodes.len() as u64);
            for node in nodes {
                w.len(CONTAINER_PACKED);
                w.string(&listpack::encode(node.iter().map(|b| &b[..])));
            }
        }
        Value::Set(s) if opts.encoding == "intset" => {
            let mut ints: Vec<i64> = s.iter().filter_map(|m| crate::num::parse_i64(m)).collect();
            w.out.push(TYPE_SET_INTSET);
            w.string(&intset::encode(&mut ints));
        }
        Value::Set(s) => {
            w.out.push(TYPE_SET);
            w.len(s.len() as u64);
            for m in s {
                w.string(m);
            }
        }
        Value::Hash(h) if opts.encoding == "listpack" => {
            w.out.push(TYPE_HASH_LISTPACK);
            w.string(&listpack::encode(h.iter().flat_map(|(f, v)| [&f[..], &v[..]])));
        }
        Value::Hash(h) => {
            w.out.push(TYPE_HASH);
            w.len(h.len() as u64);
            for (f, v) in h {
                w.string(f);
                w.string(v);
            }
        }
        Value::ZSet(z) if opts.encoding == "listpack" => {
            w.out.push(TYPE_ZSET_LISTPACK);
            let scores: Vec<Vec<u8>> = z.iter().map(|(_, s)| listpack_score(s).into_bytes()).collect();
            let items = z.iter().zip(&scores).flat_map(|((m, _), s)| [&m[..], &s[..]]);
            w.string(&listpack::encode(items));
        }
        Value::ZSet(z) => {
            // Redis writes a skiplist from the greatest element down.
            w.out.push(TYPE_ZSET_2);
            w.len(z.len() as u64);
            for (m, s) in z.iter().rev() {
                w.string(m);
                w.out.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
    let mut out = w.out;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// How a zset listpack holds a score: an integer when Redis's `double2ll`
/// takes it (integral, within half the `long long` range; `-0` is `0`),
/// else `d2string`'s `%.17g` (or `inf`/`-inf`).
fn listpack_score(s: f64) -> String {
    let half = (i64::MAX / 2) as f64;
    if (-half..=half).contains(&s) && s.trunc() == s {
        (s as i64).to_string()
    } else {
        crate::protocol::reply::format_double(s)
    }
}

/// Splits a list into quicklist nodes as appending each element in turn
/// would (RPUSH): a node takes the next element while its listpack stays
/// within the fill limit.
fn split_nodes(list: &VecDeque<Bytes>, fill: i64) -> Vec<Vec<&Bytes>> {
    let size_limit = match fill {
        f if f < 0 => 4096usize << ((-f).min(5) - 1),
        _ => NODE_SAFETY_LIMIT,
    };
    let count_limit = if fill > 0 { fill as usize } else { usize::from(u16::MAX) };
    let mut nodes: Vec<Vec<&Bytes>> = Vec::new();
    let mut size = 0;
    for item in list {
        let fits =
            nodes.last().is_some_and(|n| n.len() < count_limit && size + item.len() + NODE_OVERHEAD <= size_limit);
        if !fits {
            nodes.push(Vec::new());
            size = listpack::EMPTY_SIZE;
        }
        size += listpack::entry_size(item);
        nodes.last_mut().expect("a node was just pushed").push(item);
    }
    nodes
}

/// Serializes lengths and strings as `rdbSaveLen` / `rdbSaveRawString` do.
struct Writer {
    out: Vec<u8>,
    compress: bool,
}

impl Writer {
    fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.out.push(n as u8);
        } else if n < 1 << 14 {
            self.out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else if let Ok(n) = u32::try_from(n) {
            self.out.push(0x80);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else {
            self.out.push(0x81);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A string: as a small integer if it is one (up to 11 characters and
    /// 32 bits), LZF-compressed if longer than 20 bytes and it shrinks by
    /// more than 4, else verbatim.
    fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = crate::num::parse_i64(s) {
                if let Ok(b) = i8::try_from(v) {
                    self.out.extend_from_slice(&[0xc0 | ENC_INT8 as u8, b as u8]);
                    return;
                } else if let Ok(h) = i16::try_from(v) {
                    self.out.push(0xc0 | ENC_INT16 as u8);
                    self.out.extend_from_slice(&h.to_le_bytes());
                    return;
                } else if let Ok(i) = i32::try_from(v) {
                    self.out.push(0xc0 | ENC_INT32 as u8);
                    self.out.extend_from_slice(&i.to_le_bytes());
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s, s.len() - 4) {
                self.out.push(0xc0 | ENC_LZF as u8);
                self.len(c.len() as u64);
                self.len(s.len() as u64);
                self.out.extend_from_slice(&c);
                return;
            }
        }
        self.len(s.len() as u64);
        self.out.extend_from_slice(s);
    }
}

/// Whether `payload` ends in a supported RDB version and its right CRC-64
/// (Redis's `verifyDumpPayload`).
pub(crate) fn verify(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let footer = payload.len() - 10;
    let version = u16::from_le_bytes([payload[footer], payload[footer + 1]]);
    if version > RDB_VERSION {
        return false;
    }
    let crc = crc64::crc64(0, &payload[..payload.len() - 8]);
    payload[payload.len() - 8..] == crc.to_le_bytes()
}

/// The value in a verified payload, or `None` where Redis answers `Bad
/// data format`. As Redis, reads from the payload's start and ignores
/// whatever follows the object.
pub(crate) fn load(payload: &[u8]) -> Option<Value> {
    let mut r = Reader { buf: payload, pos: 0 };
    let t = r.byte()?;
    let value = match t {
        TYPE_STRING => Value::Str(r.string()?),
        TYPE_LIST => {
            let n = r.count()?;
            let mut l = VecDeque::new();
            for _ in 0..n {
                l.push_back(r.string()?);
            }
            Value::List(l)
        }
        TYPE_LIST_QUICKLIST_2 => {
            let n = r.count()?;
            let mut l = VecDeque::new();
            for _ in 0..n {
                let container = r.len()?;
                let node = r.string()?;
                match container {
                    CONTAINER_PLAIN => l.push_back(node),
                    CONTAINER_PACKED => l.extend(listpack::decode(&node)?),
                    _ => return None,
                }
            }
            Value::List(l)
        }
        TYPE_SET => {
            let n = r.count()?;
            let mut s = IndexSet::new();
            for _ in 0..n {
                if !s.insert(r.string()?) {
                    return None;
                }
            }
            Value::Set(s)
        }
        TYPE_SET_INTSET => {
            let ints = intset::decode(&r.string()?)?;
            Value::Set(ints.into_iter().map(|v| Bytes::from(v.to_string())).collect())
        }
        TYPE_HASH => {
            let n = r.count()?;
            let mut h = IndexMap::new();
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                if h.insert(f, v).is_some() {
                    return None;
                }
            }
            Value::Hash(h)
        }
        TYPE_HASH_LISTPACK => {
            let items = listpack::decode(&r.string()?)?;
            if items.len() % 2 != 0 {
                return None;
            }
            let mut h = IndexMap::new();
            let mut it = items.into_iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                if h.insert(f, v).is_some() {
                    return None;
                }
            }
            Value::Hash(h)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count()?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == TYPE_ZSET { r.text_double()? } else { f64::from_le_bytes(r.take(8)?.try_into().ok()?) };
                if s.is_nan() || z.insert(m, s).is_some() {
                    return None;
                }
            }
            Value::ZSet(z)
        }
        TYPE_ZSET_LISTPACK => {
            let items = listpack::decode(&r.string()?)?;
            if items.len() % 2 != 0 {
                return None;
            }
            let mut z = ZSet::new();
            let mut it = items.into_iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                let s = crate::num::string2d(&s)?;
                if s.is_nan() || z.insert(m, s).is_some() {
                    return None;
                }
            }
            Value::ZSet(z)
        }
        _ => return None,
    };
    // Redis refuses empty aggregates.
    (!value.is_empty_aggregate()).then_some(value)
}

/// A cursor over a payload; every read fails cleanly past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// `rdbLoadLen`: the length and whether it is a string encoding instead.
    fn len_or_encoding(&mut self) -> Option<(u64, bool)> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => (u64::from(b & 0x3f), false),
            1 => ((u64::from(b & 0x3f) << 8) | u64::from(self.byte()?), false),
            2 if b == 0x80 => (u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)), false),
            2 if b == 0x81 => (u64::from_be_bytes(self.take(8)?.try_into().ok()?), false),
            2 => return None,
            _ => (u64::from(b & 0x3f), true),
        })
    }

    fn len(&mut self) -> Option<u64> {
        match self.len_or_encoding()? {
            (n, false) => Some(n),
            _ => None,
        }
    }

    /// An element count: each element takes at least one byte, so a count
    /// beyond the bytes left is malformed (and never pre-allocated).
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.len()?).ok()?;
        (n <= self.remaining()).then_some(n)
    }

    /// `rdbGenericLoadStringObject`.
    fn string(&mut self) -> Option<Bytes> {
        let (n, encoded) = self.len_or_encoding()?;
        if !encoded {
            let n = usize::try_from(n).ok()?;
            return Some(Bytes::copy_from_slice(self.take(n)?));
        }
        let v = match n {
            ENC_INT8 => i64::from(self.byte()? as i8),
            ENC_INT16 => i64::from(i16::from_le_bytes(self.take(2)?.try_into().ok()?)),
            ENC_INT32 => i64::from(i32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            ENC_LZF => {
                let clen = usize::try_from(self.len()?).ok()?;
                let ulen = usize::try_from(self.len()?).ok()?;
                let compressed = self.take(clen)?;
                if ulen > clen.saturating_mul(LZF_MAX_RATIO) {
                    return None;
                }
                return lzf::decompress(compressed, ulen).map(Bytes::from);
            }
            _ => return None,
        };
        Some(Bytes::from(v.to_string()))
    }

    /// `rdbLoadDoubleValue`: a length byte (253 nan, 254 inf, 255 -inf)
    /// and that many characters.
    fn text_double(&mut self) -> Option<f64> {
        match self.byte()? {
            253 => Some(f64::NAN),
            254 => Some(f64::INFINITY),
            255 => Some(f64::NEG_INFINITY),
            n => crate::num::string2d(self.take(usize::from(n))?),
        }
    }
}

#[cfg(test)]
mod tests;
