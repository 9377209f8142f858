//! `bit`: LuaBitOp 1.0.2's 32-bit operations. Every argument is normalised
//! the way the C library does it on doubles (add 2^52+2^51 and keep the low
//! 32 bits of the representation: round to nearest, then modulo 2^32), and
//! every result is a signed 32-bit number.

use mlua::{Lua, MultiValue, Table, Value};

use super::{num, to_number, type_error};

/// The normalised 32 bits of argument `n` (1-based); a value that is not a
/// number (nor a numeric string) is a `number expected` error.
fn barg(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<u32> {
    match to_number(lua, args.get(n - 1)) {
        Some(d) => Ok((d + 6_755_399_441_055_744.0).to_bits() as u32),
        None => Err(type_error(lua, args, n, "number")),
    }
}

/// A result as the library returns it.
fn bret(b: u32) -> Value {
    num(b as i32 as f64)
}

/// The `bit` table.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|lua, a: MultiValue| Ok(bret(barg(lua, &a, 1)?)))?)?;
    t.raw_set("bnot", lua.create_function(|lua, a: MultiValue| Ok(bret(!barg(lua, &a, 1)?)))?)?;
    type Op = fn(u32, u32) -> u32;
    let ops: [(&str, Op); 3] = [("band", |x, y| x & y), ("bor", |x, y| x | y), ("bxor", |x, y| x ^ y)];
    for (name, op) in ops {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let mut b = barg(lua, &a, 1)?;
                // The C loop reads the arguments from the last one down.
                for i in (2..=a.len()).rev() {
                    b = op(b, barg(lua, &a, i)?);
                }
                Ok(bret(b))
            })?,
        )?;
    }
    let shifts: [(&str, Op); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, op) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let b = barg(lua, &a, 1)?;
                let n = barg(lua, &a, 2)? & 31;
                Ok(bret(op(b, n)))
            })?,
        )?;
    }
    t.raw_set("bswap", lua.create_function(|lua, a: MultiValue| Ok(bret(barg(lua, &a, 1)?.swap_bytes())))?)?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let mut b = barg(lua, &a, 1)?;
            let mut n = if a.len() < 2 { 8 } else { barg(lua, &a, 2)? as i32 };
            let digits: &[u8; 16] = if n < 0 {
                n = n.wrapping_neg();
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            // -2^31 stays negative after negation: the C loop then writes nothing.
            let n = n.clamp(0, 8) as usize;
            let mut buf = vec![0u8; n];
            for slot in buf.iter_mut().rev() {
                *slot = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&buf)
        })?,
    )?;
    Ok(t)
}
