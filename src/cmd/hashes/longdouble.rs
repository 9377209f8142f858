//! Just enough x87 80-bit `long double` to reproduce Redis's HINCRBYFLOAT on
//! x86-64: `strtold` parsing (correctly rounded), one addition (round to
//! nearest, ties to even) and `%.17Lf` printing with Redis's trailing-zero
//! trimming.
//!
//! Doing this in `f64` would be visibly wrong: `0.1 + 0.2` is `0.3` in Redis
//! (64-bit mantissa, printed with 17 decimals) but `0.30000000000000004` in
//! double precision.

use std::cmp::Ordering;

/// Exponent of the last mantissa bit of the smallest denormal.
const MIN_EXP: i64 = -16445;
/// Exponent of the last mantissa bit of the largest finite values.
const MAX_EXP: i64 = 16320;

/// A finite extended-precision value: `(-1)^neg * mant * 2^exp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ld {
    neg: bool,
    mant: u64,
    exp: i64,
}

impl Ld {
    /// The exact value of an integer (a 64-bit mantissa holds every i64).
    pub(crate) fn from_i64(v: i64) -> Ld {
        Ld { neg: v < 0, mant: v.unsigned_abs(), exp: 0 }
    }

    /// Whether the value is zero (of either sign).
    fn is_zero(&self) -> bool {
        self.mant == 0
    }

    /// Rounds `(m + sticky) * 2^e` to a 64-bit mantissa, `sticky` meaning a
    /// nonzero fraction below the last bit of `m`; `None` on overflow.
    fn round(neg: bool, m: u128, e: i64, sticky: bool) -> Option<Ld> {
        if m == 0 {
            // Callers keep enough bits that a nonzero value never arrives as 0 + sticky.
            return Some(Ld { neg, mant: 0, exp: 0 });
        }
        let bits = 128 - i64::from(m.leading_zeros());
        let shift = (bits - 64).max(MIN_EXP - e);
        let (mant, exp) = if shift <= 0 {
            ((m << (-shift)) as u64, e + shift)
        } else {
            let (q, half, rest) = if shift > 128 {
                (0u128, false, true)
            } else if shift == 128 {
                (0u128, m >> 127 == 1, (m << 1) != 0 || sticky)
            } else {
                let dropped = m & ((1u128 << shift) - 1);
                let half_bit = 1u128 << (shift - 1);
                (m >> shift, dropped & half_bit != 0, (dropped & (half_bit - 1)) != 0 || sticky)
            };
            let q = q + u128::from(half && (rest || q & 1 == 1));
            if q >> 64 != 0 {
                ((q >> 1) as u64, e + shift + 1)
            } else {
                (q as u64, e + shift)
            }
        };
        if exp > MAX_EXP {
            return None;
        }
        if mant == 0 {
            return Some(Ld { neg, mant: 0, exp: 0 });
        }
        Some(Ld { neg, mant, exp })
    }

    /// `self + other` rounded to nearest; `None` if the sum overflows.
    pub(crate) fn add(self, other: Ld) -> Option<Ld> {
        if other.is_zero() {
            // -0 + -0 is -0; x + 0 is x.
            return Some(if self.is_zero() && self.neg != other.neg { Ld { neg: false, ..self } } else { self });
        }
        if self.is_zero() {
            return Some(other);
        }
        let (a, b) = if self.exp >= other.exp { (self, other) } else { (other, self) };
        let d = a.exp - b.exp;
        let big_a = u128::from(a.mant) << 63;
        let (big_b, sticky) = if d <= 63 {
            (u128::from(b.mant) << (63 - d), false)
        } else if d - 63 >= 64 {
            (0, true)
        } else {
            let s = d - 63;
            (u128::from(b.mant >> s), b.mant & ((1u64 << s) - 1) != 0)
        };
        let e = a.exp - 63;
        if a.neg == b.neg {
            return Ld::round(a.neg, big_a + big_b, e, sticky);
        }
        match big_a.cmp(&big_b) {
            Ordering::Greater => {
                // The true b is a little above big_b when sticky: borrow one unit.
                let diff = big_a - big_b - u128::from(sticky);
                Ld::round(a.neg, diff, e, sticky)
            }
            Ordering::Less => Ld::round(b.neg, big_b - big_a, e, false),
            Ordering::Equal if !sticky => Some(Ld { neg: false, mant: 0, exp: 0 }),
            Ordering::Equal => Ld::round(a.neg, 0, e, true),
        }
    }

    /// Parses like glibc's `strtold` under Redis's `string2ld` rules: the whole
    /// input must be consumed, no leading space, no NaN, no infinity from
    /// overflow and no nonzero value that underflows to zero. An explicit
    /// `inf`/`infinity` is returned as `Err(true)` (negative) or `Err(false)`.
    pub(crate) fn parse(s: &[u8]) -> Result<Option<Ld>, bool> {
        parse_inner(s)
    }

    /// `%.17Lf` with trailing zeros (and a bare `.`) removed and `-0` shown
    /// as `0`, as Redis's `ld2string` in human mode prints.
    pub(crate) fn to_human(self) -> String {
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17
        if self.exp >= 0 {
            let mut n = Big::from_u64(self.mant);
            n.shl(self.exp as usize);
            out.push_str(&n.to_decimal());
        } else {
            let s = (-self.exp) as u32;
            let n = u128::from(self.mant) * SCALE;
            let (q, up) = if s >= 128 {
                // n < 2^121 <= 2^(s-1): always rounds down to zero.
                (0, false)
            } else {
                let q = n >> s;
                let r = n & ((1u128 << s) - 1);
                let half = 1u128 << (s - 1);
                (q, r > half || (r == half && q & 1 == 1))
            };
            let q = q + u128::from(up);
            let int = q / SCALE;
            let frac = q % SCALE;
            out.push_str(&int.to_string());
            let frac = format!("{frac:017}");
            let frac = frac.trim_end_matches('0');
            if !frac.is_empty() {
                out.push('.');
                out.push_str(frac);
            }
        }
        if out == "-0" {
            out = "0".into();
        }
        out
    }
}

/// `Err(neg)` for an explicit infinity; `Ok(None)` for anything invalid.
fn parse_inner(s: &[u8]) -> Result<Option<Ld>, bool> {
    // Redis copies into a 5 KiB buffer first and refuses longer input.
    if s.is_empty() || s.len() >= 5 * 1024 {
        return Ok(None);
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Err(neg);
    }
    let parsed = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        parse_hex(neg, &body[2..])
    } else {
        parse_dec(neg, body)
    };
    Ok(parsed)
}

/// Splits `digits[.digits]` (at least one digit in all) from the rest.
fn split_mantissa(b: &[u8], radix: u32) -> Option<(Vec<u8>, usize, &[u8])> {
    let mut digits = Vec::new();
    let mut frac = 0usize;
    let mut seen_dot = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = (c as char).to_digit(radix) {
            digits.push(d as u8);
            if seen_dot {
                frac += 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    Some((digits, frac, &b[i..]))
}

/// Parses `[eE|pP][+-]digits` (the marker already matched by the caller);
/// saturates far beyond any representable exponent.
fn parse_exp(b: &[u8]) -> Option<i64> {
    let (neg, d) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        v = (v * 10 + i64::from(c - b'0')).min(1_000_000_000);
    }
    Some(if neg { -v } else { v })
}

fn parse_dec(neg: bool, b: &[u8]) -> Option<Ld> {
    let (digits, frac, rest) = split_mantissa(b, 10)?;
    let exp10 = match rest.first() {
        None => 0,
        Some(b'e' | b'E') => parse_exp(&rest[1..])?,
        Some(_) => return None,
    };
    let first = digits.iter().position(|&d| d != 0);
    let Some(first) = first else {
        return Some(Ld { neg, mant: 0, exp: 0 });
    };
    let digits = &digits[first..];
    let e = exp10 - frac as i64;
    // Order of magnitude check, so huge exponents never build huge numbers.
    let magnitude = digits.len() as i64 + e;
    if magnitude > 4940 {
        return None;
    }
    if magnitude < -4960 {
        return None;
    }
    let mut d = Big::zero();
    for &x in digits {
        d.mul_small(10);
        d.add_small(u32::from(x));
    }
    let v = if e >= 0 {
        for _ in 0..e {
            d.mul_small(10);
        }
        round_big(neg, d, 0)
    } else {
        let mut p = Big::from_u64(1);
        for _ in 0..(-e) {
            p.mul_small(10);
        }
        // Enough quotient bits that rounding to 64 bits is exact.
        // Scale so the quotient has about 70 bits: shift the dividend up or
        // the divisor up (the value is then q * 2^-k with k negative).
        let k = p.bitlen() as i64 - d.bitlen() as i64 + 70;
        if k >= 0 {
            d.shl(k as usize);
        } else {
            p.shl((-k) as usize);
        }
        let (q, rem_nonzero) = d.div_small_quotient(&p);
        Ld::round(neg, q, -k, rem_nonzero)
    };
    match v {
        Some(v) if v.is_zero() => None, // nonzero input underflowed
        other => other,
    }
}

fn parse_hex(neg: bool, b: &[u8]) -> Option<Ld> {
    let (digits, frac, rest) = split_mantissa(b, 16)?;
    let exp2 = match rest.first() {
        None => 0,
        Some(b'p' | b'P') => parse_exp(&rest[1..])?,
        Some(_) => return None,
    };
    let first = digits.iter().position(|&d| d != 0);
    let Some(first) = first else {
        return Some(Ld { neg, mant: 0, exp: 0 });
    };
    let digits = &digits[first..];
    let e = exp2 - 4 * frac as i64;
    let magnitude = 4 * digits.len() as i64 + e;
    if !(-16600..=16500).contains(&magnitude) {
        return None;
    }
    let mut d = Big::zero();
    for &x in digits {
        d.mul_small(16);
        d.add_small(u32::from(x));
    }
    match round_big(neg, d, e) {
        Some(v) if v.is_zero() => None,
        other => other,
    }
}

/// Rounds the integer `n * 2^e` (n nonzero).
fn round_big(neg: bool, mut n: Big, e: i64) -> Option<Ld> {
    let len = n.bitlen();
    if len <= 128 {
        return Ld::round(neg, n.low_u128(), e, false);
    }
    let drop = len - 128;
    let sticky = n.shr_sticky(drop);
    Ld::round(neg, n.low_u128(), e + drop as i64, sticky)
}

/// A small unsigned big integer (little-endian 32-bit limbs), only the
/// operations the conversions need.
#[derive(Debug, Clone)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bitlen(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            if carry == 0 {
                return;
            }
            let v = u64::from(*limb) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&mut self, n: usize) {
        if self.0.is_empty() {
            return;
        }
        let (limbs, bits) = (n / 32, n % 32);
        if bits != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = v;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs != 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    /// Shifts right by `n` bits; returns whether any 1 bit was dropped.
    fn shr_sticky(&mut self, n: usize) -> bool {
        let (limbs, bits) = (n / 32, n % 32);
        let limbs = limbs.min(self.0.len());
        let mut sticky = self.0[..limbs].iter().any(|&l| l != 0);
        self.0.drain(..limbs);
        if bits != 0 && !self.0.is_empty() {
            sticky |= self.0[0] & ((1u32 << bits) - 1) != 0;
            for i in 0..self.0.len() {
                let hi = self.0.get(i + 1).copied().unwrap_or(0);
                self.0[i] = (self.0[i] >> bits) | (hi << (32 - bits));
            }
        }
        self.trim();
        sticky
    }

    fn low_u128(&self) -> u128 {
        self.0.iter().take(4).enumerate().fold(0u128, |acc, (i, &l)| acc | (u128::from(l) << (32 * i)))
    }

    fn cmp_big(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`, with `self >= other`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let o = i64::from(other.0.get(i).copied().unwrap_or(0));
            let mut v = i64::from(self.0[i]) - o - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            self.0[i] = v as u32;
        }
        self.trim();
    }

    /// `self / p` when the quotient fits in 128 bits, and whether a remainder is left.
    fn div_small_quotient(mut self, p: &Big) -> (u128, bool) {
        let mut q = 0u128;
        let top = self.bitlen().saturating_sub(p.bitlen());
        for i in (0..=top.min(127)).rev() {
            let mut shifted = p.clone();
            shifted.shl(i);
            if self.cmp_big(&shifted) != Ordering::Less {
                self.sub_assign(&shifted);
                q |= 1u128 << i;
            }
        }
        (q, !self.0.is_empty())
    }

    /// Decimal digits (repeated division by 10^9).
    fn to_decimal(&self) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem as u32);
        }
        let mut out = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ld {
        Ld::parse(s.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn sums_print_like_redis() {
        assert_eq!(p("0.1").add(p("0.2")).unwrap().to_human(), "0.3");
        assert_eq!(p("10.5").add(p("0.1")).unwrap().to_human(), "10.6");
        assert_eq!(p("5.0e3").add(p("200")).unwrap().to_human(), "5200");
        assert_eq!(p("-1.5").add(p("1.5")).unwrap().to_human(), "0");
        assert_eq!(p("0x10").to_human(), "16");
        assert_eq!(Ld::from_i64(i64::MIN).to_human(), "-9223372036854775808");
        assert_eq!(p("1e20").to_human(), "100000000000000000000");
    }

    #[test]
    fn rejects_what_strtold_and_redis_reject() {
        for bad in ["", " 1", "1 ", "nan", "1e", "0x", ".", "1e5000", "1e-5000", "abc", "1..2", "--1"] {
            assert!(matches!(Ld::parse(bad.as_bytes()), Ok(None)), "{bad}");
        }
        assert_eq!(Ld::parse(b"-inf"), Err(true));
        assert_eq!(Ld::parse(b"Infinity"), Err(false));
        assert!(Ld::parse(b"1e-4940").unwrap().is_some());
    }
}
