//! LZF, the compression RDB uses for strings: a decompressor for what Redis
//! writes, and a compressor that makes the same choices as the one Redis
//! 7.0 is built with (`HLOG` 16, `VERY_FAST`), so that DUMP's bytes match.
//!
//! Format: a control byte below 32 starts a run of `ctrl + 1` literal bytes;
//! otherwise its top three bits are a match length (7 means "add the next
//! byte"), its low five bits and the following byte an offset back into the
//! output, and `length + 2` bytes are copied from there.

/// Longest literal run.
const MAX_LIT: usize = 1 << 5;
/// Farthest a match may reach back.
const MAX_OFF: usize = 1 << 13;
/// Longest match.
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// log2 of the match-finder's table size.
const HLOG: u32 = 16;

/// The table slot for the three bytes whose running hash is `h`.
fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & ((1 << HLOG) - 1)) as usize
}

/// Compresses `input` into at most `out_len` bytes, or `None` if it does not
/// fit (Redis then stores the string as it is). The table starts empty:
/// Redis leaves it uninitialised, which only ever loses matches a clean
/// table would not have found either.
pub(crate) fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 || out_len == 0 {
        return None;
    }
    // Position 0 can never be a match (Redis requires `ref > in_data`),
    // so 0 doubles as "empty".
    let mut table = vec![0u32; 1 << HLOG];
    let mut out = vec![0u8; out_len + 8];
    let at = |i: usize| u32::from(input.get(i).copied().unwrap_or(0));
    let mut op = 1usize;
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut hval = (at(0) << 8) | at(1);
    while ip + 2 < n {
        hval = (hval << 8) | at(ip + 2);
        let s = slot(hval);
        let r = table[s] as usize;
        table[s] = ip as u32;
        if r > 0 && r < ip && ip - r - 1 < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
            let off = ip - r - 1;
            let maxlen = (n - ip - 2).min(MAX_REF);
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            if lit == 0 {
                op -= 1;
            }
            if op + 3 + 1 >= out_len {
                return None;
            }
            // `len` ends as the number of equal bytes. As in liblzf, a long
            // enough window first compares 16 bytes without the `maxlen`
            // bound (they are still inside the input).
            let mut len = 2;
            let mut mismatch = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        mismatch = true;
                        break;
                    }
                }
            }
            if !mismatch {
                loop {
                    len += 1;
                    if len >= maxlen || input[r + len] != input[ip + len] {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2;
            lit = 0;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            ip -= 2;
            hval = (at(ip) << 8) | at(ip + 1);
            for _ in 0..2 {
                hval = (hval << 8) | at(ip + 2);
                table[slot(hval)] = ip as u32;
                ip += 1;
            }
        } else {
            if op >= out_len {
                return None;
            }
            push_literal(&mut out, &mut op, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < n {
        push_literal(&mut out, &mut op, &mut lit, input[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        op -= 1;
    }
    out.truncate(op);
    Some(out)
}

/// Appends one literal byte, closing the run when it is full.
fn push_literal(out: &mut [u8], op: &mut usize, lit: &mut usize, b: u8) {
    *lit += 1;
    out[*op] = b;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

/// Decompresses `input`, which must expand to exactly `len` bytes; `None`
/// for anything malformed (a run or match past either end, a short result).
/// Never writes more than `len` bytes, so `len` bounds the allocation.
pub(crate) fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let bytes = input.get(ip..ip + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(bytes);
            ip += run;
        } else {
            let mut mlen = ctrl >> 5;
            if mlen == 7 {
                mlen += usize::from(*input.get(ip)?);
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(ip)?) + 1;
            ip += 1;
            let count = mlen + 2;
            if back > out.len() || out.len() + count > len {
                return None;
            }
            let start = out.len() - back;
            // Byte by byte: a match may overlap what it produces.
            for i in 0..count {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_does_not_shrink() {
        let samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello hello world world world".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
        ];
        for s in &samples {
            if let Some(c) = compress(s, s.len() - 4) {
                assert!(c.len() <= s.len() - 4);
                assert_eq!(decompress(&c, s.len()).as_deref(), Some(&s[..]));
            }
        }
        assert!(compress(&samples[0], samples[0].len() - 4).is_some());
        assert!(compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
    }

    #[test]
    fn matches_redis_bytes() {
        // A zset listpack as redis-server 7.0.15 compressed it in a DUMP.
        let lp = b"\x3a\x00\x00\x00\x0a\x00\x81c\x02\x00\x01\x81a\x02\x921.1000000000000001\x13\x81b\x02\x02\x01\x81e\x02\x833.5\x04\x81d\x02\x851e+20\x06\xff";
        let c = compress(lp, lp.len() - 4).unwrap();
        assert_eq!(c, b"\x12:\x00\x00\x00\n\x00\x81c\x02\x00\x01\x81a\x02\x921.10\xe0\x04\x00\x191\x13\x81b\x02\x02\x01\x81e\x02\x833.5\x04\x81d\x02\x851e+20\x06\xff");
        assert_eq!(decompress(&c, lp.len()).as_deref(), Some(&lp[..]));
    }

    #[test]
    fn rejects_malformed_input() {
        assert!(decompress(b"\x05ab", 6).is_none()); // run past the end
        assert!(decompress(b"\x20\x05", 3).is_none()); // match before the start
        assert!(decompress(b"\x02abc", 2).is_none()); // longer than announced
        assert!(decompress(b"\x02abc", 4).is_none()); // shorter than announced
        assert!(decompress(b"\x00a\xe0", 9).is_none()); // truncated match
    }
}
