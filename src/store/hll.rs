//! HyperLogLog in Redis's own byte layout, so that a value is the same
//! string in the fake and in Redis: `GET` of an HLL key gives Redis's bytes,
//! a value copied from Redis works here, and the estimates are Redis's.
//!
//! Layout (all facts from Redis's `hyperloglog.c`, checked against
//! redis-server by `fixtures/diff/hyperloglog.redis`):
//! - a 16-byte header: `HYLL`, the encoding (0 dense, 1 sparse), three zero
//!   bytes, and the cached cardinality as 8 little-endian bytes whose top bit
//!   marks the cache invalid;
//! - 2^14 registers of 6 bits. Dense: packed least significant bit first,
//!   12288 bytes. Sparse: run-length opcodes, `00xxxxxx` a run of 1-64
//!   zeros, `01xxxxxx yyyyyyyy` a run of 1-16384 zeros, `1vvvvvxx` a run of
//!   1-4 registers holding 1-32;
//! - an element's register is the low 14 bits of its MurmurHash64A (seed
//!   0xadc83b19), its value the number of trailing zeros of the remaining
//!   bits plus one (at most 51);
//! - a sparse value is updated in place (a run split into at most three
//!   opcodes, then adjacent equal values merged) and becomes dense once a
//!   value exceeds 32 or it would grow past `hll-sparse-max-bytes`;
//! - the estimate is Ertl's improved estimator over the register histogram.

/// Registers: 2^14.
pub(crate) const REGISTERS: usize = 1 << P;
const P: u32 = 14;
/// Bits of the hash left once the register index is taken.
const Q: usize = 64 - P as usize;
const HEADER: usize = 16;
/// Length of a dense value: header + 16384 × 6 bits.
pub(crate) const DENSE_SIZE: usize = HEADER + REGISTERS * 6 / 8;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;

/// The error Redis gives for an HLL whose registers do not add up.
pub(crate) const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

/// Why a string is not a usable HLL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HllError {
    /// Not an HLL at all (WRONGTYPE Key is not a valid HyperLogLog string value.).
    NotHll,
    /// The right header, but registers that do not decode (INVALIDOBJ).
    Corrupt,
}

/// A new, empty HLL: sparse, one opcode covering every register, cached
/// cardinality 0.
pub(crate) fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + 2);
    v.extend_from_slice(b"HYLL");
    v.extend_from_slice(&[1, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    push_xzero(&mut v, REGISTERS);
    v
}

/// Whether `s` passes Redis's `isHLLObjectOrReply`: the magic, a known
/// encoding, and a dense value of exactly the dense length.
pub(crate) fn check(s: &[u8]) -> Result<(), HllError> {
    if s.len() < HEADER || &s[..4] != b"HYLL" || s[4] > 1 || (s[4] == 0 && s.len() != DENSE_SIZE) {
        return Err(HllError::NotHll);
    }
    Ok(())
}

fn is_dense(s: &[u8]) -> bool {
    s[4] == 0
}

/// Marks the cached cardinality stale.
pub(crate) fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// The cached cardinality, if valid.
pub(crate) fn cached(s: &[u8]) -> Option<u64> {
    (s[15] & 0x80 == 0).then(|| u64::from_le_bytes(s[8..16].try_into().unwrap_or([0; 8])))
}

/// Stores `card` as the cached cardinality.
pub(crate) fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// MurmurHash64A, as Redis hashes HLL elements (little-endian word reads).
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers (1..=51).
fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit % 8);
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit % 8);
    let word = u16::from(regs[byte]) | (u16::from(regs.get(byte + 1).copied().unwrap_or(0)) << 8);
    let word = (word & !(63u16 << fb)) | (u16::from(v & 63) << fb);
    regs[byte] = word as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next = (word >> 8) as u8;
    }
}

/// One sparse opcode.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    /// A run of zero registers (`00xxxxxx`, 1-64).
    Zero(usize),
    /// A long run of zero registers (`01xxxxxx yyyyyyyy`, 1-16384).
    XZero(usize),
    /// A run of 1-4 registers holding 1-32.
    Val(u8, usize),
}

impl Op {
    /// The opcode at `p[i]` and its length in bytes; a truncated XZERO
    /// reads its second byte as 0, as Redis reads past its end.
    fn read(p: &[u8], i: usize) -> (Op, usize) {
        let b = p[i];
        if b & 0x80 != 0 {
            (Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1), 1)
        } else if b & 0x40 != 0 {
            let lo = p.get(i + 1).copied().unwrap_or(0);
            (Op::XZero(((usize::from(b & 0x3f) << 8) | usize::from(lo)) + 1), 2)
        } else {
            (Op::Zero(usize::from(b & 0x3f) + 1), 1)
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
}

fn val_byte(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len as u8 - 1)
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    debug_assert!((1..=SPARSE_XZERO_MAX_LEN).contains(&len));
    let l = len - 1;
    out.push(0x40 | (l >> 8) as u8);
    out.push((l & 0xff) as u8);
}

/// A run of zeros as ZERO or XZERO, as Redis writes a split run.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Every opcode of a sparse value with the first register it covers.
fn sparse_ops(s: &[u8]) -> impl Iterator<Item = (Op, usize, usize)> + '_ {
    let mut i = HEADER;
    std::iter::from_fn(move || {
        if i >= s.len() {
            return None;
        }
        let (op, len) = Op::read(s, i);
        let at = i;
        i += len;
        Some((op, at, len))
    })
}

/// The registers of a sparse value, one byte each, or `Corrupt` if its runs
/// do not cover exactly 16384 registers.
fn sparse_registers(s: &[u8]) -> Result<Vec<u8>, HllError> {
    let mut regs = vec![0u8; REGISTERS];
    let mut idx = 0usize;
    for (op, _, _) in sparse_ops(s) {
        match op {
            Op::Zero(n) | Op::XZero(n) => idx += n,
            Op::Val(v, n) => {
                if idx + n > REGISTERS {
                    return Err(HllError::Corrupt);
                }
                regs[idx..idx + n].fill(v);
                idx += n;
            }
        }
    }
    if idx != REGISTERS {
        return Err(HllError::Corrupt);
    }
    Ok(regs)
}

/// Every register, one byte each (dense or sparse).
pub(crate) fn registers(s: &[u8]) -> Result<Vec<u8>, HllError> {
    if is_dense(s) {
        let regs = &s[HEADER..];
        Ok((0..REGISTERS).map(|i| dense_get(regs, i)).collect())
    } else {
        sparse_registers(s)
    }
}

/// Converts a sparse value to dense in place (the header, cached
/// cardinality included, is kept); a dense value is left as it is.
pub(crate) fn to_dense(s: &mut Vec<u8>) -> Result<bool, HllError> {
    if is_dense(s) {
        return Ok(false);
    }
    let regs = sparse_registers(s)?;
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HEADER].copy_from_slice(&s[..HEADER]);
    dense[4] = 0;
    for (i, &v) in regs.iter().enumerate() {
        if v != 0 {
            dense_set(&mut dense[HEADER..], i, v);
        }
    }
    *s = dense;
    Ok(true)
}

/// Raises register `index` to `count`; returns whether it changed.
/// `max_sparse` is `hll-sparse-max-bytes`.
pub(crate) fn set_register(s: &mut Vec<u8>, index: usize, count: u8, max_sparse: usize) -> Result<bool, HllError> {
    if is_dense(s) {
        let regs = &mut s[HEADER..];
        if count > dense_get(regs, index) {
            dense_set(regs, index, count);
            return Ok(true);
        }
        return Ok(false);
    }
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: the opcode covering `index`, and the one before it.
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found = None;
    for (op, at, len) in sparse_ops(s) {
        if index < first + op.span() {
            found = Some((op, at, len));
            break;
        }
        prev = Some(at);
        first += op.span();
    }
    let Some((op, at, oplen)) = found else {
        return Err(HllError::Corrupt);
    };
    // Step 2: the cases that rewrite one opcode in place.
    let in_place = match op {
        Op::Val(v, _) if v >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => true,
        _ => false,
    };
    if in_place {
        s[at] = val_byte(count, 1);
    } else {
        // Step 3: split the run into (run before) VAL (run after).
        let last = first + op.span() - 1;
        let mut seq = Vec::with_capacity(5);
        match op {
            Op::Val(v, _) => {
                if index != first {
                    seq.push(val_byte(v, index - first));
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    seq.push(val_byte(v, last - index));
                }
            }
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
        }
        if seq.len() > oplen && s.len() + seq.len() - oplen > max_sparse {
            return promote(s, index, count);
        }
        s.splice(at..at + oplen, seq);
    }
    // Step 4: merge adjacent equal values, scanning up to five opcodes from
    // the one before the change.
    let mut p = prev.unwrap_or(HEADER);
    let mut budget = 5;
    while p < s.len() && budget > 0 {
        budget -= 1;
        let (op, len) = Op::read(s, p);
        let Op::Val(v1, l1) = op else {
            p += len;
            continue;
        };
        if p + 1 < s.len() {
            if let (Op::Val(v2, l2), _) = Op::read(s, p + 1) {
                if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                    s[p + 1] = val_byte(v1, l1 + l2);
                    s.remove(p);
                    // Try the merged run against the next one too.
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(s)?;
    let regs = &mut s[HEADER..];
    if count > dense_get(regs, index) {
        dense_set(regs, index, count);
    }
    Ok(true)
}

/// Adds `element`; returns whether a register changed.
pub(crate) fn add(s: &mut Vec<u8>, element: &[u8], max_sparse: usize) -> Result<bool, HllError> {
    let (index, count) = register_of(element);
    set_register(s, index, count, max_sparse)
}

/// Raises each of `max` (one byte per register) to this value's registers.
pub(crate) fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), HllError> {
    for (m, r) in max.iter_mut().zip(registers(s)?) {
        *m = (*m).max(r);
    }
    Ok(())
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate of these registers (one byte each).
pub(crate) fn estimate(regs: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs {
        histo[usize::from(r & 63)] += 1;
    }
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    (ALPHA_INF * m * m / z).round() as u64
}

/// PFDEBUG DECODE's text for a sparse value: `z:N`, `Z:N`, `v:V,N`.
pub(crate) fn decode(s: &[u8]) -> String {
    let parts: Vec<String> = sparse_ops(s)
        .map(|(op, _, _)| match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        })
        .collect();
    parts.join(" ")
}

/// Whether the value is dense.
pub(crate) fn dense(s: &[u8]) -> bool {
    is_dense(s)
}

/// A self-test of the representation (PFSELFTEST): every register set and
/// read back in the dense layout, and sparse and dense values built from
/// the same elements holding the same registers and estimate.
pub(crate) fn self_test() -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HEADER];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut want = vec![0u8; REGISTERS];
    for (i, w) in want.iter_mut().enumerate() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        *w = (rng % 64) as u8;
        dense_set(&mut regs, i, *w);
    }
    for (i, &w) in want.iter().enumerate() {
        if dense_get(&regs, i) != w {
            return Err(format!("TESTFAILED Register error at {i}"));
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    for n in 0..2000u32 {
        let e = n.to_le_bytes();
        add(&mut sparse, &e, usize::MAX).map_err(|_| "TESTFAILED sparse add".to_string())?;
        add(&mut dense, &e, usize::MAX).map_err(|_| "TESTFAILED dense add".to_string())?;
    }
    let (a, b) = (registers(&sparse), registers(&dense));
    if a.is_err() || a != b {
        return Err("TESTFAILED sparse and dense registers differ".to_string());
    }
    let est = estimate(&b.unwrap_or_default());
    if est.abs_diff(2000) > 100 {
        return Err(format!("TESTFAILED estimate {est} for 2000 elements"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_hll_is_redis_bytes() {
        let v = new_sparse();
        assert_eq!(v, b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff");
        assert_eq!(check(&v), Ok(()));
        assert_eq!(estimate(&registers(&v).unwrap()), 0);
        assert_eq!(decode(&v), "Z:16384");
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_sparse();
        let mut d = new_sparse();
        to_dense(&mut d).unwrap();
        assert_eq!(d.len(), DENSE_SIZE);
        for n in 0..5000u32 {
            let e = format!("element:{n}");
            add(&mut s, e.as_bytes(), 3000).unwrap();
            add(&mut d, e.as_bytes(), 3000).unwrap();
        }
        assert_eq!(registers(&s).unwrap(), registers(&d).unwrap());
        let est = estimate(&registers(&d).unwrap());
        assert!(est.abs_diff(5000) < 250, "estimate {est}");
    }

    #[test]
    fn corrupt_sparse_values_are_detected() {
        let mut v = new_sparse();
        v.truncate(HEADER + 1);
        v[HEADER] = 0x00; // one ZERO of 1: 16383 registers missing
        assert_eq!(registers(&v), Err(HllError::Corrupt));
        assert_eq!(check(b"HYLL\x00"), Err(HllError::NotHll));
        let mut bad_dense = vec![0u8; DENSE_SIZE - 1];
        bad_dense[..4].copy_from_slice(b"HYLL");
        assert_eq!(check(&bad_dense), Err(HllError::NotHll));
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(), Ok(()));
    }
}
