//! INCRBYFLOAT/HINCRBYFLOAT arithmetic and blocking timeouts as Redis does
//! them on x86-64 Linux: C `long double`
//! (the x87 80-bit extended format: 64-bit significand, exponent range of
//! ±16382), parsed like glibc `strtold`, added with round-to-nearest-even,
//! printed like `"%.17Lf"` and then trimmed of trailing zeros.
//!
//! Rust has no extended float type, so the values are emulated exactly with
//! a small arbitrary-precision integer: every step rounds the exact result
//! once, which is what correctly rounded hardware and glibc do.

use std::cmp::Ordering;

/// Bits of the x87 extended significand.
const PRECISION: u32 = 64;
/// Exponent of the smallest subnormal's unit: 2^-16445.
const MIN_ULP_EXP: i64 = -16445;
/// Values at or above 2^16384 overflow to infinity.
const OVERFLOW_EXP: i64 = 16384;
/// Redis refuses float texts this long or longer (`MAX_LONG_DOUBLE_CHARS`).
pub(crate) const MAX_CHARS: usize = 5 * 1024;

/// An x87 extended value: `±m * 2^e`, or an infinity. NaN is never kept:
/// Redis rejects it wherever it could appear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LongDouble {
    Finite { neg: bool, m: u64, e: i64 },
    Inf { neg: bool },
}

/// Parses a float argument the way Redis's `string2ld` does: all of the
/// text must be a `strtold` number (decimal, hexadecimal `0x…p…`, `inf`,
/// `infinity`), without leading space, not NaN, and not out of range (a
/// result that overflows or underflows to zero is refused; a subnormal is
/// accepted).
pub(crate) fn parse(text: &[u8]) -> Option<LongDouble> {
    if text.is_empty() || text.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        // strtold accepts it without ERANGE, so Redis does too.
        return Some(LongDouble::Inf { neg });
    }
    let v = if lower.starts_with(b"0x") { parse_hex(&body[2..], neg)? } else { parse_decimal(body, neg)? };
    match v {
        // Overflow (ERANGE with HUGE_VAL) is refused.
        LongDouble::Inf { .. } => None,
        LongDouble::Finite { m, .. } => {
            // Underflow to zero (ERANGE with zero) is refused; an exact zero is fine.
            if m == 0 && !is_zero_text(body) {
                None
            } else {
                Some(v)
            }
        }
    }
}

/// Whether every digit of a (syntactically valid) number is zero.
fn is_zero_text(body: &[u8]) -> bool {
    let hex = body.len() > 1 && body[0] == b'0' && (body[1] | 0x20) == b'x';
    let mantissa = if hex { &body[2..] } else { body };
    let end = mantissa
        .iter()
        .position(|&c| if hex { (c | 0x20) == b'p' } else { (c | 0x20) == b'e' })
        .unwrap_or(mantissa.len());
    mantissa[..end].iter().all(|&c| c == b'0' || c == b'.')
}

/// Splits `digits[.digits]` (at least one digit) and returns (integer
/// digits, fraction digits, rest).
fn split_mantissa(s: &[u8], is_digit: fn(u8) -> bool) -> Option<(&[u8], &[u8], &[u8])> {
    let int_end = s.iter().position(|&c| !is_digit(c)).unwrap_or(s.len());
    let (int, rest) = s.split_at(int_end);
    let (frac, rest) = match rest.first() {
        Some(b'.') => {
            let r = &rest[1..];
            let end = r.iter().position(|&c| !is_digit(c)).unwrap_or(r.len());
            r.split_at(end)
        }
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    Some((int, frac, rest))
}

/// Parses an exponent suffix (`e12`, `p-3`) that must end the text; the
/// value saturates, which is safe because huge exponents are out of range anyway.
fn parse_exponent(rest: &[u8], marker: u8) -> Option<i64> {
    if rest.is_empty() {
        return Some(0);
    }
    if (rest[0] | 0x20) != marker {
        return None;
    }
    let r = &rest[1..];
    let (neg, digits) = match r.first() {
        Some(b'-') => (true, &r[1..]),
        Some(b'+') => (false, &r[1..]),
        _ => (false, r),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = v.saturating_mul(10).saturating_add((d - b'0') as i64);
    }
    Some(if neg { -v } else { v })
}

fn parse_decimal(s: &[u8], neg: bool) -> Option<LongDouble> {
    let (int, frac, rest) = split_mantissa(s, |c| c.is_ascii_digit())?;
    let exp10 = parse_exponent(rest, b'e')?;
    let digits: Vec<u8> = int.iter().chain(frac.iter()).copied().skip_while(|&c| c == b'0').collect();
    if digits.is_empty() {
        return Some(LongDouble::Finite { neg, m: 0, e: 0 });
    }
    // value = digits * 10^exp
    let exp = exp10.saturating_sub(frac.len() as i64);
    let magnitude = (digits.len() as i64).saturating_add(exp); // value < 10^magnitude
    if magnitude > 4934 {
        return Some(LongDouble::Inf { neg });
    }
    if magnitude < -4952 {
        // Below half the smallest subnormal (about 3.6e-4951): rounds to zero.
        return Some(LongDouble::Finite { neg, m: 0, e: 0 });
    }
    let d = Big::from_decimal(&digits);
    if exp >= 0 {
        Some(round(neg, d.mul(&Big::pow10(exp as u32)), 0, false))
    } else {
        // digits / 10^-exp, with enough quotient bits to round correctly.
        let den = Big::pow10((-exp) as u32);
        let shift = (den.bit_len() as i64 - d.bit_len() as i64 + PRECISION as i64 + 3).max(0);
        let (q, r) = d.shl(shift as u64).divmod(&den);
        Some(round(neg, q, -shift, !r.is_zero()))
    }
}

fn parse_hex(s: &[u8], neg: bool) -> Option<LongDouble> {
    let (int, frac, rest) = split_mantissa(s, |c| c.is_ascii_hexdigit())?;
    let exp2 = parse_exponent(rest, b'p')?;
    let mut n = Big::zero();
    for &c in int.iter().chain(frac.iter()) {
        let d = (c as char).to_digit(16).unwrap_or(0) as u64;
        n = n.mul_small(16).add_small(d);
    }
    let e = exp2.saturating_sub(4 * frac.len() as i64);
    if n.is_zero() {
        return Some(LongDouble::Finite { neg, m: 0, e: 0 });
    }
    let top = n.bit_len() as i64 + e;
    if top > OVERFLOW_EXP + 1 {
        return Some(LongDouble::Inf { neg });
    }
    if top < MIN_ULP_EXP - 2 {
        return Some(LongDouble::Finite { neg, m: 0, e: 0 });
    }
    Some(round(neg, n, e, false))
}

/// Rounds the exact value `n * 2^e` (plus a nonzero tail below it when
/// `sticky`) to the nearest extended value, ties to even.
fn round(neg: bool, n: Big, e: i64, sticky: bool) -> LongDouble {
    if n.is_zero() {
        return LongDouble::Finite { neg, m: 0, e: 0 };
    }
    let msb = n.bit_len() as i64 - 1 + e;
    let ulp = (msb - (PRECISION as i64 - 1)).max(MIN_ULP_EXP);
    let shift = ulp - e;
    let (mut m, mut ulp) = if shift <= 0 {
        (n.shl((-shift) as u64).low_u64(), ulp)
    } else {
        let shift = shift as u64;
        let q = n.shr(shift);
        let mut m = q.low_u64();
        // Compare the dropped bits with half a unit.
        let half_bit = n.bit(shift - 1);
        let below_half = n.any_bits_below(shift - 1) || sticky;
        if half_bit && (below_half || m & 1 == 1) {
            m = m.wrapping_add(1);
            if m == 0 {
                // Carried out of 64 bits: 2^64 * 2^ulp = 2^63 * 2^(ulp+1).
                return finish(neg, 1u64 << 63, ulp + 1);
            }
        }
        (m, ulp)
    };
    if m == 0 {
        return LongDouble::Finite { neg, m: 0, e: 0 };
    }
    // Keep the representation canonical-ish (not required, but tidy).
    while m & 1 == 0 && ulp < 0 {
        m >>= 1;
        ulp += 1;
    }
    finish(neg, m, ulp)
}

fn finish(neg: bool, m: u64, e: i64) -> LongDouble {
    let top = 64 - m.leading_zeros() as i64 + e; // value < 2^top
    if top > OVERFLOW_EXP {
        LongDouble::Inf { neg }
    } else {
        LongDouble::Finite { neg, m, e }
    }
}

impl LongDouble {
    /// Positive zero.
    pub(crate) const ZERO: LongDouble = LongDouble::Finite { neg: false, m: 0, e: 0 };

    /// `self * f` rounded once, as the FPU does (`ftval *= 1000.0`).
    pub(crate) fn mul_u64(self, f: u64) -> LongDouble {
        match self {
            LongDouble::Inf { neg } => LongDouble::Inf { neg },
            LongDouble::Finite { neg, m, e } => round(neg, Big::from_u64(m).mul_small(f), e, false),
        }
    }

    /// C's `(long long) ceill(x)`: rounded up to an integer; `None` where
    /// x86 produces its "integer indefinite" (`LLONG_MIN`) for an
    /// out-of-range value.
    pub(crate) fn ceil_i64(self) -> Option<i64> {
        let LongDouble::Finite { neg, m, e } = self else { return None };
        let (int, frac) = if e >= 0 {
            if e >= 64 {
                return if m == 0 { Some(0) } else { None };
            }
            (u128::from(m) << e, false)
        } else if e <= -64 {
            (0, m != 0)
        } else {
            (u128::from(m >> (-e)), m & ((1u64 << (-e)) - 1) != 0)
        };
        // Up is toward zero for a negative value.
        let magnitude = if frac && !neg { int + 1 } else { int };
        if neg {
            0i128.checked_sub_unsigned(magnitude).and_then(|v| i64::try_from(v).ok())
        } else {
            i64::try_from(magnitude).ok()
        }
    }

    /// `self + other` rounded once, as the FPU does; `None` for NaN (∞ - ∞).
    pub(crate) fn add(self, other: LongDouble) -> Option<LongDouble> {
        use LongDouble::*;
        match (self, other) {
            (Inf { neg: a }, Inf { neg: b }) => (a == b).then_some(Inf { neg: a }),
            (Inf { neg }, _) | (_, Inf { neg }) => Some(Inf { neg }),
            (Finite { neg: na, m: ma, e: ea }, Finite { neg: nb, m: mb, e: eb }) => {
                if ma == 0 && mb == 0 {
                    return Some(Finite { neg: na && nb, m: 0, e: 0 });
                }
                if ma == 0 {
                    return Some(other);
                }
                if mb == 0 {
                    return Some(self);
                }
                let e = ea.min(eb);
                let a = Big::from_u64(ma).shl((ea - e) as u64);
                let b = Big::from_u64(mb).shl((eb - e) as u64);
                if na == nb {
                    return Some(round(na, a.add(&b), e, false));
                }
                Some(match a.cmp(&b) {
                    Ordering::Equal => Finite { neg: false, m: 0, e: 0 },
                    Ordering::Greater => round(na, a.sub(&b), e, false),
                    Ordering::Less => round(nb, b.sub(&a), e, false),
                })
            }
        }
    }

    /// The exact extended value of a double (every double is one).
    pub(crate) fn from_f64(d: f64) -> LongDouble {
        let neg = d.is_sign_negative();
        if d.is_infinite() {
            return LongDouble::Inf { neg };
        }
        let bits = d.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        if exp == 0 {
            // Zero or subnormal: frac * 2^-1074.
            return LongDouble::Finite { neg, m: frac, e: -1074 };
        }
        LongDouble::Finite { neg, m: frac | (1u64 << 52), e: exp - 1075 }
    }

    /// Whether the value is an infinity.
    pub(crate) fn is_inf(self) -> bool {
        matches!(self, LongDouble::Inf { .. })
    }

    /// Redis's "human friendly" long double text: `%.17Lf` (exact decimal
    /// expansion rounded half-to-even at 17 decimals, as glibc prints), then
    /// trailing zeros and a trailing point removed, and `-0` shown as `0`.
    pub(crate) fn to_human(self) -> String {
        let (neg, m, e) = match self {
            LongDouble::Inf { neg } => return if neg { "-inf".into() } else { "inf".into() },
            LongDouble::Finite { neg, m, e } => (neg, m, e),
        };
        // scaled = round(|value| * 10^17)
        let base = Big::from_u64(m).mul(&Big::pow10(17));
        let scaled = if e >= 0 {
            base.shl(e as u64)
        } else {
            let shift = (-e) as u64;
            let mut q = base.shr(shift);
            let half = base.bit(shift - 1);
            let more = base.any_bits_below(shift - 1);
            if half && (more || q.low_u64() & 1 == 1) {
                q = q.add_small(1);
            }
            q
        };
        let mut digits = scaled.to_decimal();
        if digits.len() < 18 {
            digits = format!("{}{}", "0".repeat(18 - digits.len()), digits);
        }
        let point = digits.len() - 17;
        let mut s = String::with_capacity(digits.len() + 2);
        if neg {
            s.push('-');
        }
        s.push_str(&digits[..point]);
        s.push('.');
        s.push_str(&digits[point..]);
        let trimmed = s.trim_end_matches('0');
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed == "-0" {
            "0".into()
        } else {
            trimmed.into()
        }
    }
}

/// A minimal unsigned big integer (little-endian 64-bit limbs, no leading
/// zero limbs), just what exact parsing, addition and printing need.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u64>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn low_u64(&self) -> u64 {
        self.0.first().copied().unwrap_or(0)
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 64 + (64 - top.leading_zeros() as u64),
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 64) as usize;
        limb < self.0.len() && (self.0[limb] >> (i % 64)) & 1 == 1
    }

    /// Whether any bit below position `i` is set.
    fn any_bits_below(&self, i: u64) -> bool {
        let limb = (i / 64) as usize;
        let within = i % 64;
        if self.0.iter().take(limb.min(self.0.len())).any(|&l| l != 0) {
            return true;
        }
        within > 0 && limb < self.0.len() && self.0[limb] & ((1u64 << within) - 1) != 0
    }

    fn from_decimal(digits: &[u8]) -> Big {
        let mut n = Big::zero();
        for chunk in digits.chunks(19) {
            let mut v: u64 = 0;
            for &d in chunk {
                v = v * 10 + (d - b'0') as u64;
            }
            n = n.mul_small(10u64.pow(chunk.len() as u32)).add_small(v);
        }
        n
    }

    fn pow10(mut k: u32) -> Big {
        let mut n = Big::from_u64(1);
        while k >= 19 {
            n = n.mul_small(10u64.pow(19));
            k -= 19;
        }
        n.mul_small(10u64.pow(k))
    }

    fn mul_small(&self, f: u64) -> Big {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut carry: u128 = 0;
        for &l in &self.0 {
            let v = l as u128 * f as u128 + carry;
            out.push(v as u64);
            carry = v >> 64;
        }
        out.push(carry as u64);
        let mut b = Big(out);
        b.trim();
        b
    }

    fn add_small(&self, v: u64) -> Big {
        self.add(&Big::from_u64(v))
    }

    fn mul(&self, o: &Big) -> Big {
        let mut out = vec![0u64; self.0.len() + o.0.len() + 1];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry: u128 = 0;
            for (j, &b) in o.0.iter().enumerate() {
                let v = a as u128 * b as u128 + out[i + j] as u128 + carry;
                out[i + j] = v as u64;
                carry = v >> 64;
            }
            let mut k = i + o.0.len();
            while carry != 0 {
                let v = out[k] as u128 + carry;
                out[k] = v as u64;
                carry = v >> 64;
                k += 1;
            }
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn add(&self, o: &Big) -> Big {
        let n = self.0.len().max(o.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = false;
        for i in 0..n {
            let a = self.0.get(i).copied().unwrap_or(0);
            let b = o.0.get(i).copied().unwrap_or(0);
            let (s1, c1) = a.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(carry as u64);
            out.push(s2);
            carry = c1 || c2;
        }
        out.push(carry as u64);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `self - o`; the caller guarantees `self >= o`.
    fn sub(&self, o: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = false;
        for i in 0..self.0.len() {
            let a = self.0[i];
            let b = o.0.get(i).copied().unwrap_or(0);
            let (d1, b1) = a.overflowing_sub(b);
            let (d2, b2) = d1.overflowing_sub(borrow as u64);
            out.push(d2);
            borrow = b1 || b2;
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let limbs = (bits / 64) as usize;
        let s = bits % 64;
        let mut out = vec![0u64; limbs];
        out.reserve(self.0.len() + 1);
        if s == 0 {
            out.extend_from_slice(&self.0);
        } else {
            let mut carry = 0u64;
            for &l in &self.0 {
                out.push((l << s) | carry);
                carry = l >> (64 - s);
            }
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, bits: u64) -> Big {
        let limbs = (bits / 64) as usize;
        if limbs >= self.0.len() {
            return Big::zero();
        }
        let s = bits % 64;
        let src = &self.0[limbs..];
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> s;
            let hi = if s == 0 { 0 } else { src.get(i + 1).map_or(0, |&h| h << (64 - s)) };
            out.push(lo | hi);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    /// Schoolbook binary long division; the quotients needed here are short
    /// (under 70 bits), so this stays cheap even for long dividends.
    fn divmod(&self, d: &Big) -> (Big, Big) {
        if self.cmp(d) == Ordering::Less {
            return (Big::zero(), self.clone());
        }
        let shift = self.bit_len() - d.bit_len();
        let mut rem = self.clone();
        let mut q = Big::zero();
        for i in (0..=shift).rev() {
            let t = d.shl(i);
            if rem.cmp(&t) != Ordering::Less {
                rem = rem.sub(&t);
                q = q.add(&Big::from_u64(1).shl(i));
            }
        }
        (q, rem)
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19
        let mut parts = Vec::new();
        let mut cur = self.0.clone();
        while !cur.is_empty() {
            let mut rem: u128 = 0;
            for l in cur.iter_mut().rev() {
                let v = (rem << 64) | *l as u128;
                *l = (v / CHUNK as u128) as u64;
                rem = v % CHUNK as u128;
            }
            while cur.last() == Some(&0) {
                cur.pop();
            }
            parts.push(rem as u64);
        }
        let mut s = parts.pop().map(|p| p.to_string()).unwrap_or_default();
        for p in parts.iter().rev() {
            s.push_str(&format!("{p:019}"));
        }
        s
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> Option<String> {
        let v = parse(a.as_bytes())?.add(parse(b.as_bytes())?)?;
        (!v.is_inf()).then(|| v.to_human())
    }

    #[test]
    fn formats_like_redis() {
        assert_eq!(incr("0", "10.5").as_deref(), Some("10.5"));
        assert_eq!(incr("10.5", "3.0e3").as_deref(), Some("3010.5"));
        assert_eq!(incr("3010.5", "5.0e-1").as_deref(), Some("3011"));
        assert_eq!(incr("3011", "-3011").as_deref(), Some("0"));
        assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(incr("0", "1.23456789012345678901234").as_deref(), Some("1.23456789012345679"));
        assert_eq!(incr("0", "-0.0000000000000000001").as_deref(), Some("0"));
        assert_eq!(incr("0", "1e30").as_deref(), Some("1000000000000000000024696061952"));
        assert_eq!(incr("0", "0x10").as_deref(), Some("16"));
        assert_eq!(incr("0", "0x1.8p1").as_deref(), Some("3"));
        assert_eq!(incr("16", "1e-4940").as_deref(), Some("16"));
        let big = incr("0", "1e400").unwrap();
        assert_eq!(big.len(), 401);
        assert!(big.starts_with("10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"));
    }

    #[test]
    fn human_text_of_doubles() {
        assert_eq!(LongDouble::from_f64(0.1).to_human(), "0.10000000000000001");
        assert_eq!(LongDouble::from_f64(-1.25).to_human(), "-1.25");
        assert_eq!(LongDouble::from_f64(85.05112878).to_human(), "85.0511287799999991");
        assert_eq!(LongDouble::from_f64(180.0).to_human(), "180");
        assert_eq!(LongDouble::from_f64(-0.0).to_human(), "0");
        assert_eq!(LongDouble::from_f64(1e-20).to_human(), "0");
        assert_eq!(LongDouble::from_f64(f64::NEG_INFINITY).to_human(), "-inf");
    }

    #[test]
    fn parse_rules() {
        for bad in ["", " 1", "1 ", ".", "1e", "1e+", "nan", "-nan", "0x", "0x1p", "1e5000", "1e-5000", "abc", "--1"] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
        for good in ["inf", "-Infinity", "+2", ".5", "5.", "0e99999999999", "1e-4940", "0x.8"] {
            assert!(parse(good.as_bytes()).is_some(), "{good}");
        }
        assert!(incr("inf", "1").is_none());
        assert!(parse(b"inf").unwrap().add(parse(b"-inf").unwrap()).is_none());
        assert_eq!(parse(b"-inf"), Some(LongDouble::Inf { neg: true }));
        assert!(parse(b"1..2").is_none());
    }

    #[test]
    fn sums_print_like_redis() {
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("5.0e3", "200").as_deref(), Some("5200"));
        assert_eq!(incr("-1.5", "1.5").as_deref(), Some("0"));
        assert_eq!(incr("-9223372036854775808", "0").as_deref(), Some("-9223372036854775808"));
        assert_eq!(incr("1e20", "0").as_deref(), Some("100000000000000000000"));
    }

    #[test]
    fn scaled_ceiling_like_x86() {
        let ms = |s: &str| parse(s.as_bytes()).unwrap().mul_u64(1000);
        assert_eq!(ms("1.5").ceil_i64(), Some(1500));
        assert_eq!(ms("0.0015").ceil_i64(), Some(2));
        assert_eq!(ms("-0.0015").ceil_i64(), Some(-1));
        assert_eq!(ms("-0.0001").ceil_i64(), Some(0));
        assert_eq!(ms("1e-400").ceil_i64(), Some(1));
        assert_eq!(ms("-0.001").ceil_i64(), Some(0), "rounds to just above -1 ms");
        assert_eq!(ms("-0.0010001").ceil_i64(), Some(-1));
        let exact = |s: &str| parse(s.as_bytes()).unwrap().mul_u64(1).ceil_i64();
        assert_eq!(exact("-0x1p63"), Some(i64::MIN));
        assert_eq!(exact("0x1p63"), None);
        assert_eq!(exact("0x1.fffffffffffffffcp62"), Some(i64::MAX));
        assert_eq!(exact("0x1.fffffffffffffffep62"), None, "2^63 - 0.5 rounds up");
        // Both sides of redis-server 7.0's boundary: 2^63 - 0.5 ms rounds up out of range.
        assert_eq!(ms("9223372036854775.807").ceil_i64(), Some(i64::MAX));
        assert_eq!(ms("9223372036854775.808").ceil_i64(), None);
        assert_eq!(ms("1e30").ceil_i64(), None);
        assert_eq!(ms("inf").ceil_i64(), None);
    }
}
