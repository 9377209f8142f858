//! Redis's listpack: `total bytes (u32 LE) | element count (u16 LE, 65535
//! if unknown) | entries | 0xFF`, each entry its encoding, its data and a
//! "backlen" (the entry's length, readable right to left). Strings that
//! Redis's `string2ll` accepts are stored as integers.

use bytes::Bytes;

/// Header size: total bytes and element count.
const HEADER: usize = 6;
/// The end-of-listpack byte.
const END: u8 = 0xff;
/// The count field's "too many to count" value.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// The bytes an entry's backlen takes for an entry of `len` bytes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Appends the backlen of an entry of `len` bytes (Redis's `lpEncodeBacklen`:
/// 7 bits per byte, most significant first, every byte but the first
/// flagged with the top bit).
fn put_backlen(out: &mut Vec<u8>, len: usize) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let group = ((len >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Appends one element, as an integer when it reads as one.
fn put_entry(out: &mut Vec<u8>, s: &[u8]) {
    let start = out.len();
    match crate::num::parse_i64(s) {
        Some(v) => put_int(out, v),
        None => put_str(out, s),
    }
    let len = out.len() - start;
    put_backlen(out, len);
}

fn put_int(out: &mut Vec<u8>, v: i64) {
    match v {
        0..=127 => out.push(v as u8),
        -4096..=4095 => {
            let u = (v as u16) & 0x1fff;
            out.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        }
        -32768..=32767 => {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        -8_388_608..=8_388_607 => {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        _ if i32::try_from(v).is_ok() => {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        _ => {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// The listpack holding `items` in order.
pub(crate) fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; HEADER];
    let mut count = 0usize;
    for item in items {
        put_entry(&mut out, item);
        count += 1;
    }
    out.push(END);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let count = u16::try_from(count).unwrap_or(COUNT_UNKNOWN);
    out[4..6].copy_from_slice(&count.to_le_bytes());
    out
}

/// The size `encode` would give a listpack that grows by `s` (the entry
/// with its backlen), for callers that split lists into nodes.
pub(crate) fn entry_size(s: &[u8]) -> usize {
    let mut buf = Vec::new();
    put_entry(&mut buf, s);
    buf.len()
}

/// An empty listpack's size: header and end byte.
pub(crate) const EMPTY_SIZE: usize = HEADER + 1;

/// Reads a little-endian integer of `n` bytes at `p`, sign-extended.
fn le_int(lp: &[u8], p: usize, n: usize) -> Option<i64> {
    let bytes = lp.get(p..p + n)?;
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        v |= u64::from(b) << (8 * i);
    }
    let shift = 64 - 8 * n as u32;
    Some(((v << shift) as i64) >> shift)
}

/// Every element of the listpack `lp`, integers as their decimal strings,
/// after checking the whole structure (header, each entry and backlen, the
/// end byte); `None` if anything is off.
pub(crate) fn decode(lp: &[u8]) -> Option<Vec<Bytes>> {
    if lp.len() < EMPTY_SIZE || lp.len() > u32::MAX as usize {
        return None;
    }
    let total = u32::from_le_bytes(lp[..4].try_into().ok()?) as usize;
    let count = u16::from_le_bytes(lp[4..6].try_into().ok()?);
    if total != lp.len() || lp[total - 1] != END {
        return None;
    }
    let mut items = Vec::new();
    let mut p = HEADER;
    loop {
        let b = *lp.get(p)?;
        if b == END {
            break;
        }
        let (item, len): (Bytes, usize) = if b & 0x80 == 0 {
            (Bytes::from(i64::from(b).to_string()), 1)
        } else if b & 0xc0 == 0x80 {
            let n = usize::from(b & 0x3f);
            (Bytes::copy_from_slice(lp.get(p + 1..p + 1 + n)?), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let u = (u16::from(b & 0x1f) << 8) | u16::from(*lp.get(p + 1)?);
            let v = i64::from(((u << 3) as i16) >> 3);
            (Bytes::from(v.to_string()), 2)
        } else if b & 0xf0 == 0xe0 {
            let n = (usize::from(b & 0x0f) << 8) | usize::from(*lp.get(p + 1)?);
            (Bytes::copy_from_slice(lp.get(p + 2..p + 2 + n)?), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = u32::from_le_bytes(lp.get(p + 1..p + 5)?.try_into().ok()?) as usize;
                    let end = p.checked_add(5)?.checked_add(n)?;
                    (Bytes::copy_from_slice(lp.get(p + 5..end)?), 5 + n)
                }
                0xf1..=0xf4 => {
                    let n = [2, 3, 4, 8][usize::from(b - 0xf1)];
                    (Bytes::from(le_int(lp, p + 1, n)?.to_string()), 1 + n)
                }
                _ => return None,
            }
        };
        p += len;
        let mut expect = Vec::with_capacity(5);
        put_backlen(&mut expect, len);
        if lp.get(p..p + expect.len())? != expect {
            return None;
        }
        p += expect.len();
        items.push(item);
    }
    if p != total - 1 || (count != COUNT_UNKNOWN && usize::from(count) != items.len()) {
        return None;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_redis() {
        // HSET h f v f2 123 f3 -5000 in redis-server 7.0.15.
        let lp = encode([&b"f"[..], b"v", b"f2", b"123", b"f3", b"-5000"]);
        assert_eq!(lp, b"\x1b\x00\x00\x00\x06\x00\x81f\x02\x81v\x02\x82f2\x03{\x01\x82f3\x03\xf1x\xec\x03\xff");
        // RPUSH l a b 1 2 -100000.
        let lp = encode([&b"a"[..], b"b", b"1", b"2", b"-100000"]);
        assert_eq!(lp, b"\x16\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xf2`y\xfe\x04\xff");
    }

    #[test]
    fn round_trips_every_entry_kind() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "-8388608",
            "8388607",
            "8388608",
            "2147483647",
            "-2147483649",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "01",
            "abc",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([long, mid])
        .collect();
        let lp = encode(items.iter().map(|v| &v[..]));
        let back = decode(&lp).unwrap();
        assert_eq!(back.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), items);
        assert_eq!(lp.len(), EMPTY_SIZE + items.iter().map(|i| entry_size(i)).sum::<usize>());
    }

    #[test]
    fn rejects_damage() {
        let lp = encode([&b"hello"[..], b"12"]);
        assert!(decode(&lp).is_some());
        for cut in 0..lp.len() {
            assert!(decode(&lp[..cut]).is_none());
        }
        for i in 0..lp.len() {
            let mut bad = lp.clone();
            bad[i] ^= 0x5a;
            // Any single-byte change breaks a length, a backlen or the end byte,
            // except inside the string's bytes or the 7-bit integer.
            if !(7..12).contains(&i) && i != 13 {
                assert!(decode(&bad).is_none(), "byte {i}");
            }
        }
    }
}
