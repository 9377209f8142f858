//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis 7.0 vendors it.
//!
//! Packing: a number equal to its 64-bit integer conversion is an integer
//! (the smallest of fixint/u8../u64 or i8../i64), any other number a float32
//! when that is exact, a float64 otherwise; a table whose keys are exactly
//! 1..n (the empty table too) is an array, any other a map; tables nested 16
//! deep and values of other types pack as nil. Unpacking reads nil, booleans,
//! ints, floats, str8/16/32 and arrays/maps; bin, ext and 0xc1 are a bad
//! format. Unpacking walks an explicit stack, bounded like the C code's
//! `luaL_checkstack` (8000 slots).

use mlua::{Lua, MultiValue, Table, Value};

use super::{arg_error, check_bytes, check_integer, error, num, opt_integer, MAX_C_STACK};

/// Tables nested this deep pack as nil.
const MAX_NESTING: usize = 16;

/// The `cmsgpack` table.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(|lua, a: MultiValue| unpack_full(lua, &a, 0, 0))?)?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, a: MultiValue| {
            let offset = opt_integer(lua, &a, 2, 0)?;
            unpack_full(lua, &a, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, a: MultiValue| {
            let limit = check_integer(lua, &a, 2)?;
            let offset = opt_integer(lua, &a, 3, 0)?;
            unpack_full(lua, &a, limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ===== packing =====

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    if args.is_empty() {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        encode(lua, v, 0, &mut out)?;
    }
    Ok(Value::String(lua.create_string(&out)?))
}

fn encode(lua: &Lua, v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(*i as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => encode_table(lua, &super::readonly::unlocked(lua, t), level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // `(int64_t)n == n` on x86-64 (out-of-range conversions give i64::MIN).
    let i = super::c_long(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(i, out);
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `table_is_an_array`: every key a positive number equal to its `int`
/// conversion, and as many keys as the largest one.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i32, 0i32);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n.is_infinite() || super::c_int(n) as f64 != n {
            return Ok(false);
        }
        let n = n as i32;
        max = max.max(n);
        count = count.wrapping_add(1);
    }
    Ok(max == count)
}

fn encode_table(lua: &Lua, t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    if is_array(t)? {
        let len = t.raw_len();
        encode_header(len as u64, 0x90, 0xdc, out);
        for j in 1..=len {
            let v: Value = t.get(j)?;
            encode(lua, &v, level + 1, out)?;
        }
    } else {
        // Counted first, then walked again (mlua handles are few: no collected copy).
        let mut n = 0u64;
        for pair in t.pairs::<Value, Value>() {
            pair?;
            n += 1;
        }
        encode_header(n, 0x80, 0xde, out);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            encode(lua, &k, level + 1, out)?;
            encode(lua, &v, level + 1, out)?;
        }
    }
    Ok(())
}

/// An array (`fix` 0x90, `x16` 0xdc) or map (0x80, 0xde) header; the 32-bit form is `x16 + 1`.
fn encode_header(n: u64, fix: u8, x16: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(x16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(x16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

// ===== unpacking =====

/// Why decoding stopped.
enum Stop {
    /// `MP_CUR_ERROR_EOF`.
    Eof,
    /// `MP_CUR_ERROR_BADFMT`.
    BadFormat,
    /// `luaL_checkstack` failed with this message.
    Stack(&'static str),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Stop {
        Stop::Lua(e)
    }
}

/// A container being filled. Its table (at `2d-1` for depth `d`) and a
/// map's pending key (at `2d`) wait in a Lua scratch table: every mlua handle
/// takes a slot of mlua's auxiliary stack, which deep nesting would exhaust.
struct Open {
    left: usize,
    map: bool,
    next_index: i64,
    has_key: bool,
}

/// A cursor over the input.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<&[u8], Stop> {
        if self.left() < n {
            return Err(Stop::Eof);
        }
        Ok(&self.data[self.pos..self.pos + n])
    }

    fn be(&self, at: usize, n: usize) -> Result<u64, Stop> {
        let b = self.need(at + n)?;
        Ok(b[at..].iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    }
}

/// One scalar, or the header of a container (returned as its element count).
enum Item {
    Value(Value),
    Open { len: usize, map: bool },
}

fn read_item(lua: &Lua, c: &mut Cursor<'_>) -> Result<Item, Stop> {
    let b0 = c.need(1)?[0];
    let string = |c: &mut Cursor<'_>, hdr: usize, len: usize| -> Result<Item, Stop> {
        let b = c.need(hdr + len)?;
        let s = lua.create_string(&b[hdr..])?;
        c.pos += hdr + len;
        Ok(Item::Value(Value::String(s)))
    };
    let (value, used) = match b0 {
        0xcc => (c.be(1, 1)? as f64, 2),
        0xd0 => (c.be(1, 1)? as u8 as i8 as f64, 2),
        0xcd => (c.be(1, 2)? as f64, 3),
        0xd1 => (c.be(1, 2)? as u16 as i16 as f64, 3),
        0xce => (c.be(1, 4)? as f64, 5),
        0xd2 => (c.be(1, 4)? as u32 as i32 as f64, 5),
        // Pushed through lua_Integer: values past 2^63 wrap negative.
        0xcf | 0xd3 => (c.be(1, 8)? as i64 as f64, 9),
        0xc0 => {
            c.pos += 1;
            return Ok(Item::Value(Value::Nil));
        }
        0xc3 | 0xc2 => {
            c.pos += 1;
            return Ok(Item::Value(Value::Boolean(b0 == 0xc3)));
        }
        0xca => (f32::from_bits(c.be(1, 4)? as u32) as f64, 5),
        0xcb => (f64::from_bits(c.be(1, 8)?), 9),
        0xd9 => {
            let l = c.be(1, 1)? as usize;
            return string(c, 2, l);
        }
        0xda => {
            let l = c.be(1, 2)? as usize;
            return string(c, 3, l);
        }
        0xdb => {
            let l = c.be(1, 4)? as usize;
            c.pos += 5;
            return string(c, 0, l);
        }
        0xdc | 0xde => {
            let l = c.be(1, 2)? as usize;
            c.pos += 3;
            return Ok(Item::Open { len: l, map: b0 == 0xde });
        }
        0xdd | 0xdf => {
            let l = c.be(1, 4)? as usize;
            c.pos += 5;
            return Ok(Item::Open { len: l, map: b0 == 0xdf });
        }
        _ if b0 & 0x80 == 0 => (b0 as f64, 1),
        _ if b0 & 0xe0 == 0xe0 => (b0 as i8 as f64, 1),
        _ if b0 & 0xe0 == 0xa0 => return string(c, 1, (b0 & 0x1f) as usize),
        _ if b0 & 0xf0 == 0x90 || b0 & 0xf0 == 0x80 => {
            c.pos += 1;
            return Ok(Item::Open { len: (b0 & 0xf) as usize, map: b0 & 0xf0 == 0x80 });
        }
        _ => return Err(Stop::BadFormat),
    };
    c.pos += used;
    Ok(Item::Value(num(value)))
}

/// Decodes one top-level value; `top` counts the Lua stack slots in use.
fn decode_one(lua: &Lua, scratch: &Table, c: &mut Cursor<'_>, top: usize) -> Result<Value, Stop> {
    const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";
    let mut stack: Vec<Open> = Vec::new();
    let mut slots = top;
    loop {
        if slots + 1 > MAX_C_STACK {
            return Err(Stop::Stack(TOO_MANY));
        }
        let mut value = match read_item(lua, c)? {
            Item::Value(v) => v,
            Item::Open { len, map } => {
                let table = lua.create_table()?;
                if !map && slots + 2 > MAX_C_STACK {
                    return Err(Stop::Stack("in function mp_decode_to_lua_array"));
                }
                if len == 0 {
                    Value::Table(table)
                } else {
                    // The table and the pending index (array) or key (map) stay on the stack.
                    slots += 2;
                    scratch.raw_set(2 * stack.len() + 1, table)?;
                    stack.push(Open { left: len, map, next_index: 1, has_key: false });
                    continue;
                }
            }
        };
        loop {
            let d = stack.len();
            let Some(open) = stack.last_mut() else { return Ok(value) };
            if open.map && !open.has_key {
                scratch.raw_set(2 * d, value)?;
                open.has_key = true;
                break;
            }
            let table: Table = scratch.raw_get(2 * d - 1)?;
            if open.map {
                let k: Value = scratch.raw_get(2 * d)?;
                scratch.raw_set(2 * d, Value::Nil)?;
                open.has_key = false;
                // lua_settable refuses these keys with Lua's own messages (no position: raised in C).
                let refused = match &k {
                    Value::Nil => Some("table index is nil"),
                    Value::Number(n) if n.is_nan() => Some("table index is NaN"),
                    _ => None,
                };
                if let Some(msg) = refused {
                    return Err(Stop::Lua(mlua::Error::external(super::LibError(msg.into()))));
                }
                table.raw_set(k, value)?;
            } else {
                table.raw_set(open.next_index, value)?;
                open.next_index += 1;
            }
            open.left -= 1;
            if open.left > 0 {
                break;
            }
            stack.pop();
            scratch.raw_set(2 * d - 1, Value::Nil)?;
            slots -= 2;
            value = Value::Table(table);
        }
    }
}

/// `mp_unpack_full`: decode up to `limit` values from `offset` (both 0: all
/// of them, without the next offset in front).
fn unpack_full(lua: &Lua, args: &MultiValue, limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let data = check_bytes(lua, args, 1)?;
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(error(
            lua,
            format!("Invalid request to unpack with offset of {} and limit of {}.", offset as i32, len as i32),
        ));
    } else if offset as u64 > len as u64 {
        return Err(error(lua, format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor { data: &data, pos: offset as usize };
    let mut out: Vec<Value> = Vec::new();
    let mut count = 0i64;
    let scratch = lua.create_table()?;
    while c.left() > 0 && count < limit {
        // The argument and the values decoded so far are on the Lua stack.
        match decode_one(lua, &scratch, &mut c, 1 + out.len()) {
            Ok(v) => out.push(v),
            Err(Stop::Eof) => return Err(error(lua, "Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(error(lua, "Bad data format in input.")),
            Err(Stop::Stack(msg)) => return Err(error(lua, format!("stack overflow ({msg})"))),
            Err(Stop::Lua(e)) => return Err(e),
        }
        count += 1;
    }
    if !decode_all {
        let next = if c.left() == 0 { -1.0 } else { c.pos as f64 };
        out.insert(0, num(next));
    }
    Ok(MultiValue::from_iter(out))
}
