//! Number parsing as Redis does it with C's library: `strtod` (scores,
//! score ranges, DEBUG SLEEP: hex floats, `inf`, leading spaces, ERANGE),
//! `string2d` and `strtoul` (SCAN cursors), integers as `string2ll` reads
//! them ([`parse_i64`]), C's `atoi`, and long doubles ([`longdouble`]).
//!
//! The bottom layer: it imports nothing from the crate.

pub(crate) mod longdouble;

/// Parses a signed 64-bit integer exactly as Redis's `string2ll`: no
/// spaces, no `+`, no leading zeros (`0` alone is fine), no overflow. Redis
/// reads request headers with it too, so `*01` is a protocol error.
pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = if b[0] == b'-' { (true, &b[1..]) } else { (false, b) };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// The argument as C sees it: up to the first NUL byte.
pub(crate) fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Redis's `string2d` (scores, increments, weights): the whole argument is a
/// number, no leading space, no overflow, no NaN.
pub(crate) fn string2d(b: &[u8]) -> Option<f64> {
    if b.is_empty() || is_c_space(b[0]) {
        return None;
    }
    let r = strtod(b);
    if r.used != b.len() || r.value.is_nan() || (r.erange && (r.value.is_infinite() || r.value == 0.0)) {
        return None;
    }
    Some(r.value)
}

/// C's `strtoul` over the whole (C string) argument, as Redis reads SCAN
/// cursors: optional sign (a negative value wraps), leading zeros, the empty
/// string as 0; no leading space, no trailing garbage, no overflow.
pub(crate) fn strtoul_cursor(b: &[u8]) -> Option<u64> {
    if b.first().is_some_and(|&c| is_c_space(c)) {
        return None;
    }
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        // No digits at all: strtoul converts nothing, which only ends the
        // string when the string was empty.
        return b.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// What C's `strtod` makes of a byte string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strtod {
    pub value: f64,
    /// Bytes consumed; 0 when no number was recognised.
    pub used: usize,
    /// `errno == ERANGE`: the value overflowed to ±inf or underflowed.
    pub erange: bool,
}

/// C's `isspace` in the "C" locale.
pub(crate) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ic(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// glibc `strtod`: leading spaces, sign, `inf`/`infinity`, `nan(...)`,
/// hexadecimal floats and decimal floats; stops at the first byte that
/// cannot continue the number.
pub(crate) fn strtod(b: &[u8]) -> Strtod {
    let none = Strtod { value: 0.0, used: 0, erange: false };
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &b[i..];
    if starts_with_ic(rest, b"inf") {
        let n = if starts_with_ic(rest, b"infinity") { 8 } else { 3 };
        return Strtod { value: sign * f64::INFINITY, used: i + n, erange: false };
    }
    if starts_with_ic(rest, b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let mut j = 4;
            while j < rest.len() && (rest[j].is_ascii_alphanumeric() || rest[j] == b'_') {
                j += 1;
            }
            if rest.get(j) == Some(&b')') {
                n = j + 1;
            }
        }
        return Strtod { value: f64::NAN, used: i + n, erange: false };
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        return match hex_float(&rest[2..]) {
            Some((v, n, erange)) => Strtod { value: sign * v, used: i + 2 + n, erange },
            // "0x" without hex digits: only the "0" is a number.
            None => Strtod { value: sign * 0.0, used: i + 1, erange: false },
        };
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let mut digits = 0usize;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        digits += 1;
        j += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            digits += 1;
            j += 1;
        }
    }
    if digits == 0 {
        return none;
    }
    // An exponent counts only with at least one digit; Rust's parser reads its value.
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero) || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
    Strtod { value: sign * v, used: i + j, erange }
}

/// The part of a hexadecimal float after "0x": (value, bytes used, ERANGE),
/// or None without a single hex digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u64);
    let (mut mant, mut exp2, mut sticky, mut any) = (0u64, 0i64, false, false);
    let mut j = 0;
    while let Some(d) = s.get(j).and_then(|&c| hex(c)) {
        if mant < 1 << 60 {
            mant = mant * 16 + d;
        } else {
            exp2 += 4;
            sticky |= d != 0;
        }
        any = true;
        j += 1;
    }
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while let Some(d) = s.get(k).and_then(|&c| hex(c)) {
            if mant < 1 << 60 {
                mant = mant * 16 + d;
                exp2 -= 4;
            } else {
                sticky |= d != 0;
            }
            any = true;
            k += 1;
        }
        if any {
            j = k;
        }
    }
    if !any {
        return None;
    }
    if s.get(j).is_some_and(|&c| c | 0x20 == b'p') {
        let mut k = j + 1;
        let mut neg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            neg = s[k] == b'-';
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + (s[k] - b'0') as i64).min(1 << 20);
                k += 1;
            }
            exp2 += if neg { -e } else { e };
            j = k;
        }
    }
    if mant == 0 {
        return Some((0.0, j, false));
    }
    if sticky {
        mant |= 1;
    }
    let mut v = mant as f64;
    let mut e = exp2;
    while e != 0 && v != 0.0 && v.is_finite() {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    Some((v, j, v.is_infinite() || v == 0.0 || v.abs() < f64::MIN_POSITIVE))
}

/// C's `atoi`: leading spaces, a sign, then digits up to the first other byte; 0 if none.
pub(crate) fn atoi(b: &[u8]) -> i64 {
    let b = &b[b.iter().take_while(|c| is_c_space(**c)).count()..];
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, d| n.wrapping_mul(10).wrapping_add(i64::from(d - b'0')));
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2d_like_glibc() {
        assert_eq!(string2d(b"0x10"), Some(16.0));
        assert_eq!(string2d(b"0x1p3"), Some(8.0));
        assert_eq!(string2d(b"1e400"), None);
        assert_eq!(string2d(b"1e-400"), None);
        assert_eq!(string2d(b"4.9e-324"), Some(4.9e-324));
        assert_eq!(string2d(b" 1"), None);
        assert_eq!(string2d(b"1 "), None);
        assert_eq!(string2d(b""), None);
        assert_eq!(string2d(b"nan"), None);
        assert_eq!(string2d(b".5"), Some(0.5));
        assert_eq!(string2d(b"5."), Some(5.0));
        assert_eq!(string2d(b"-INF"), Some(f64::NEG_INFINITY));
        assert_eq!(string2d(b"infinity"), Some(f64::INFINITY));
        assert_eq!(string2d(b"1e"), None);
        assert_eq!(string2d(b"."), None);
    }

    #[test]
    fn cursors_like_strtoul() {
        let c = |b: &[u8]| strtoul_cursor(c_str(b));
        assert_eq!(c(b""), Some(0));
        assert_eq!(c(b"+5"), Some(5));
        assert_eq!(c(b"-1"), Some(u64::MAX));
        assert_eq!(c(b"+"), None);
        assert_eq!(c(b" 1"), None);
        assert_eq!(c(b"\x0b1"), None);
        assert_eq!(c(b"1 "), None);
        assert_eq!(c(b"18446744073709551616"), None);
        assert_eq!(c(b"7\0x"), Some(7));
        assert_eq!(c(b"x"), None);
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b" 1.5xyz").value, 1.5);
        assert_eq!(strtod(b" 1.5xyz").used, 4);
        assert_eq!(strtod(b"abc").used, 0);
        assert_eq!(strtod(b"0x").used, 1);
    }

    #[test]
    fn atoi_reads_a_prefix_like_c() {
        for (text, n) in [("1", 1), (" -2x", -2), ("+3", 3), ("abc", 0), ("", 0), ("0.9", 0), ("\t7 8", 7)] {
            assert_eq!(atoi(text.as_bytes()), n, "{text:?}");
        }
    }
}
