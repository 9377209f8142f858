//! Number parsing as C's `strtod` does it, which Redis uses for doubles
//! and timeouts (hex floats, `inf`, leading spaces, ERANGE).

// ---------------------------------------------------------------------------
// Number parsing (C's strtod as Redis uses it)
// ---------------------------------------------------------------------------

/// What C's `strtod` makes of a byte string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strtod {
    pub value: f64,
    /// Bytes consumed; 0 when no number was recognised.
    pub used: usize,
    /// `errno == ERANGE`: the value overflowed to ±inf or underflowed.
    pub erange: bool,
    /// Rough decimal exponent of the written number (for long-double range checks).
    pub magnitude: i64,
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
    let none = Strtod { value: 0.0, used: 0, erange: false, magnitude: 0 };
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
        return Strtod { value: sign * f64::INFINITY, used: i + n, erange: false, magnitude: 0 };
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
        return Strtod { value: f64::NAN, used: i + n, erange: false, magnitude: 0 };
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        return match hex_float(&rest[2..]) {
            Some((v, n, erange)) => Strtod { value: sign * v, used: i + 2 + n, erange, magnitude: 0 },
            // "0x" without hex digits: only the "0" is a number.
            None => Strtod { value: sign * 0.0, used: i + 1, erange: false, magnitude: 0 },
        };
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let mut digits = 0usize;
    let mut int_sig = 0i64; // significant digits before the point
    let mut lead_frac_zeros = 0i64; // zeros after the point before the first nonzero digit
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        if rest[j] != b'0' || nonzero {
            nonzero = true;
            int_sig += 1;
        }
        digits += 1;
        j += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            if !nonzero {
                if rest[j] == b'0' {
                    lead_frac_zeros += 1;
                } else {
                    nonzero = true;
                }
            }
            digits += 1;
            j += 1;
        }
    }
    if digits == 0 {
        return none;
    }
    let mut exp: i64 = 0;
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        let mut eneg = false;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            eneg = rest[k] == b'-';
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                exp = (exp * 10 + (rest[k] - b'0') as i64).min(1 << 40);
                k += 1;
            }
            if eneg {
                exp = -exp;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let magnitude = if !nonzero {
        0
    } else if int_sig > 0 {
        int_sig - 1 + exp
    } else {
        exp - lead_frac_zeros - 1
    };
    let erange = v.is_infinite() || (v == 0.0 && nonzero) || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
    Strtod { value: sign * v, used: i + j, erange, magnitude }
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
