//! `struct`: pack, unpack and size with struct 1.4's format language, sized
//! as on x86-64 Linux (where redis-server runs): `b/B` 1, `h/H` 2, `l/L` and
//! `T` 8, `i/I` 4 (or `iN`, up to 32), `f` 4, `d` 8, native order little
//! endian, `!` alone aligns to 8. Integers travel through a C `long` (64
//! bits): wider fields get zero high bytes, and reading keeps 64 bits.

use mlua::{Lua, MultiValue, Table, Value};

use super::{arg_error, c_long, check_bytes, check_number, error, num, opt_integer, to_number};

/// Largest `iN`.
const MAX_INT_SIZE: i64 = 32;
/// `!` without a number (the alignment of a double).
const MAX_ALIGN: i64 = 8;

/// Byte order and alignment, changed by `<`, `>` and `!` as the format goes.
struct Header {
    little: bool,
    align: usize,
}

/// A format string and the position in it (the C code stops at a NUL).
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    /// `getnum`: the digits that follow, or `default`; a number past
    /// `INT_MAX` is an error (Redis's fix for CVE-2020-14147).
    fn number(&mut self, lua: &Lua, default: i64) -> mlua::Result<i64> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i64 = 0;
        while let Some(d) = self.fmt.get(self.pos).filter(|c| c.is_ascii_digit()) {
            let d = (d - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                return Err(error(lua, "integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a)
    }
}

/// `optsize`: the size of option `opt` (0 for the control options and `s`).
fn option_size(lua: &Lua, opt: u8, f: &mut Format<'_>) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => f.number(lua, 1)? as usize,
        b'i' | b'I' => {
            let sz = f.number(lua, 4)?;
            if sz > MAX_INT_SIZE {
                return Err(error(lua, format!("integral size {sz} is larger than limit of {MAX_INT_SIZE}")));
            }
            sz as usize
        }
        _ => 0,
    })
}

/// `gettoalign`: padding before an item of `size` at offset `len`.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// `controloptions`: `' '`, `<`, `>`, `!n`; anything else is an invalid option.
fn control(lua: &Lua, opt: u8, f: &mut Format<'_>, h: &mut Header) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = f.number(lua, MAX_ALIGN)?;
            if a <= 0 || (a & (a - 1)) != 0 {
                return Err(error(lua, format!("alignment {a} is not a power of 2")));
            }
            h.align = a as usize;
        }
        _ => return Err(arg_error(lua, 1, format!("invalid format option '{}'", opt as char))),
    }
    Ok(())
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, mut args: MultiValue) -> mlua::Result<Value> {
    let fmt = check_bytes(lua, &args, 1)?;
    // The C code pushes a nil after the arguments: a missing one is "got nil".
    args.push_back(Value::Nil);
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header { little: true, align: 1 };
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = f.next() {
        let mut size = option_size(lua, opt, &mut f)?;
        let pad = padding(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg)?;
                arg += 1;
                // C: negative through `long`, the rest straight to `unsigned long`.
                let mut value: u64 = if n < 0.0 { c_long(n) as u64 } else { c_ulong(n) };
                let mut bytes = vec![0u8; size];
                for b in bytes.iter_mut() {
                    *b = (value & 0xff) as u8;
                    value >>= 8;
                }
                if !h.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = check_number(lua, &args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            b'd' => {
                let v = check_number(lua, &args, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            b'c' | b's' => {
                let s = check_bytes(lua, &args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code checks after moving to the next argument.
                    return Err(arg_error(lua, arg as i64, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(lua, opt, &mut f, &mut h)?,
        }
    }
    Ok(Value::String(lua.create_string(&out)?))
}

/// C's `(unsigned long)d` for `d >= 0` as gcc compiles it on x86-64 (0 past 2^64).
fn c_ulong(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() {
        return 1 << 63;
    }
    if d < TWO63 {
        d as u64
    } else if d < 2.0 * TWO63 {
        (d - TWO63) as u64 ^ (1 << 63)
    } else {
        0
    }
}

/// Reads an integer of `size` bytes as struct 1.4 does (64-bit accumulator).
fn read_integer(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    if little {
        for &b in data[..size].iter().rev() {
            l = (l << 8) | b as u64;
        }
    } else {
        for &b in &data[..size] {
            l = (l << 8) | b as u64;
        }
    }
    if !signed {
        return l as f64;
    }
    // `~0 << (size*8 - 1)`: x86 takes the shift count modulo 64.
    let shift = ((size as i64) * 8 - 1) as u32;
    let mask = u64::MAX.wrapping_shl(shift);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.unpack(fmt, data [, init])`.
fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let fmt = check_bytes(lua, &args, 1)?;
    let data = check_bytes(lua, &args, 2)?;
    let ld = data.len();
    let init = opt_integer(lua, &args, 3, 1)?;
    if init == 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    let mut pos = (init as u64).wrapping_sub(1) as usize;
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header { little: true, align: 1 };
    let mut out: Vec<Value> = Vec::new();
    let too_short = |lua: &Lua| arg_error(lua, 2, "data string too short");
    while let Some(opt) = f.next() {
        let mut size = option_size(lua, opt, &mut f)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short(lua));
        }
        // luaL_checkstack(L, 2): the arguments and the results so far are on the stack.
        if args.len() + out.len() + 2 > super::MAX_C_STACK {
            return Err(error(lua, "stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                out.push(num(read_integer(&data[pos..], h.little, signed, size)));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes checked");
                let v = if h.little { f32::from_le_bytes(b) } else { f32::from_be_bytes(b) };
                out.push(num(v as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes checked");
                out.push(num(if h.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) }));
            }
            b'c' => {
                if size == 0 {
                    // The length is the value read last.
                    let Some(n) = out.last().and_then(|prev| to_number(lua, Some(prev))) else {
                        return Err(error(lua, "format 'c0' needs a previous size"));
                    };
                    size = c_ulong_any(n);
                    out.pop();
                    if size > ld || pos > ld - size {
                        return Err(too_short(lua));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(nul) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(error(lua, "unfinished string in data"));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + nul])?));
                size = nul + 1;
            }
            _ => control(lua, opt, &mut f, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(num((pos as u64).wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_iter(out))
}

/// C's `(size_t)d` for any double (negative values wrap through `long`).
fn c_ulong_any(d: f64) -> usize {
    if d < 0.0 {
        c_long(d) as u64 as usize
    } else {
        c_ulong(d) as usize
    }
}

/// `struct.size(fmt)`.
fn size(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let fmt = check_bytes(lua, &args, 1)?;
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header { little: true, align: 1 };
    let mut pos: usize = 0;
    while let Some(opt) = f.next() {
        let size = option_size(lua, opt, &mut f)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        // Letters and digits that are no option count as nothing here.
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &mut f, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(num(pos as i64 as f64))
}

/// The `struct` table.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}
