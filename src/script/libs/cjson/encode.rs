//! cjson.encode: Lua values to JSON text.

use mlua::{Function, Lua, Table, Value};

use super::Config;
use crate::protocol::reply::format_g;
use crate::script::libs::{c_int, type_name, MAX_C_STACK};

/// A table being written: an array's next index, or an object (its key so
/// far is kept in the scratch table next to it).
///
/// The tables themselves wait in a Lua scratch table, not in Rust values:
/// every mlua handle takes a slot of mlua's auxiliary stack, which a deeply
/// nested or very wide table would exhaust.
enum Frame {
    Array { len: usize, next: usize },
    Object,
}

/// Where the encoder keeps the open tables (`2d-1`) and object keys (`2d`) of depth `d`.
struct Walk {
    next: Function,
    scratch: Table,
    lua: Lua,
}

/// The JSON text for `v`, or the error message lua-cjson raises.
pub(super) fn encode(lua: &Lua, next: &Function, cfg: &Config, v: &Value) -> mlua::Result<Result<Vec<u8>, String>> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let walk = Walk { next: next.clone(), scratch: lua.create_table()?, lua: lua.clone() };
    // Lua stack slots in use, as the C encoder counts them (the argument first).
    let mut slots = 1usize;
    if let Err(e) = encode_one(&walk, cfg, v, &mut out, &mut stack, &mut slots)? {
        return Ok(Err(e));
    }
    while !stack.is_empty() {
        let depth = stack.len();
        let slot = 2 * depth - 1;
        let table: Table = walk.scratch.raw_get(slot)?;
        let value = match stack.last_mut() {
            Some(Frame::Array { len, next }) => {
                if *next > *len {
                    out.push(b']');
                    stack.pop();
                    walk.scratch.raw_set(slot, Value::Nil)?;
                    slots -= 1;
                    continue;
                }
                if *next > 1 {
                    out.push(b',');
                }
                let value: Value = table.raw_get(*next)?;
                *next += 1;
                value
            }
            _ => {
                let key: Value = walk.scratch.raw_get(slot + 1)?;
                let first = key.is_nil();
                let (key, value): (Value, Value) = walk.next.call((table, key))?;
                if key.is_nil() {
                    out.push(b'}');
                    stack.pop();
                    walk.scratch.raw_set(slot, Value::Nil)?;
                    slots -= 2;
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                match &key {
                    Value::Integer(_) | Value::Number(_) => {
                        out.push(b'"');
                        if let Err(e) = append_number(cfg, as_f64(&key), &mut out) {
                            return Ok(Err(e));
                        }
                        out.extend_from_slice(b"\":");
                    }
                    Value::String(s) => {
                        append_string(&s.as_bytes(), &mut out);
                        out.push(b':');
                    }
                    other => {
                        return Ok(Err(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            type_name(Some(other))
                        )))
                    }
                }
                walk.scratch.raw_set(slot + 1, key)?;
                value
            }
        };
        if let Err(e) = encode_one(&walk, cfg, &value, &mut out, &mut stack, &mut slots)? {
            return Ok(Err(e));
        }
    }
    Ok(Ok(out))
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        _ => 0.0,
    }
}

/// Writes a scalar, or opens a table (pushing its frame).
fn encode_one(
    walk: &Walk,
    cfg: &Config,
    v: &Value,
    out: &mut Vec<u8>,
    stack: &mut Vec<Frame>,
    slots: &mut usize,
) -> mlua::Result<Result<(), String>> {
    match v {
        Value::String(s) => append_string(&s.as_bytes(), out),
        Value::Integer(_) | Value::Number(_) => {
            if let Err(e) = append_number(cfg, as_f64(v), out) {
                return Ok(Err(e));
            }
        }
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            // A read-only library table encodes as what it holds.
            let t = &crate::script::libs::readonly::unlocked(&walk.lua, t);
            let depth = stack.len() + 1;
            if depth > cfg.encode_max_depth as usize || *slots + 3 > MAX_C_STACK {
                return Ok(Err(format!("Cannot serialise, excessive nesting ({depth})")));
            }
            let len = match array_length(cfg, t)? {
                Ok(len) => len,
                Err(e) => return Ok(Err(e)),
            };
            walk.scratch.raw_set(2 * depth - 1, t.clone())?;
            if len > 0 {
                out.push(b'[');
                stack.push(Frame::Array { len: len as usize, next: 1 });
                *slots += 1;
            } else {
                out.push(b'{');
                walk.scratch.raw_set(2 * depth, Value::Nil)?;
                stack.push(Frame::Object);
                *slots += 2;
            }
        }
        other => return Ok(Err(format!("Cannot serialise {}: type not supported", type_name(Some(other))))),
    }
    Ok(Ok(()))
}

/// `lua_array_length`: the largest index of a table whose keys are all
/// positive integers, -1 for an object; an excessively sparse array is an
/// error (or an object under `encode_sparse_array(true)`).
fn array_length(cfg: &Config, t: &Table) -> mlua::Result<Result<i64, String>> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(_) | Value::Number(_) => as_f64(&k),
            _ => return Ok(Ok(-1)),
        };
        if k == 0.0 || k.floor() != k || k < 1.0 {
            return Ok(Ok(-1));
        }
        if k > max as f64 {
            max = c_int(k);
        }
        items = items.wrapping_add(1);
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            return Ok(Err("Cannot serialise table: excessively sparse array".into()));
        }
        return Ok(Ok(-1));
    }
    Ok(Ok(max as i64))
}

/// A number as `%.<precision>g`, with the NaN/Inf policy.
fn append_number(cfg: &Config, n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    let invalid = n.is_nan() || n.is_infinite();
    match cfg.encode_invalid_numbers {
        0 if invalid => return Err("Cannot serialise number: must not be NaN or Inf".into()),
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if invalid => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    let precision = cfg.encode_number_precision.clamp(1, 14);
    if n.is_infinite() {
        out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" });
    } else if n.fract() == 0.0 && n.abs() < 10f64.powi(precision) && !(n == 0.0 && n.is_sign_negative()) {
        // An integer with at most `precision` digits prints as itself under %g;
        // this skips the exact (bignum) float formatting, the bulk of encode's time.
        use std::io::Write as _;
        let _ = write!(out, "{}", n as i64);
    } else {
        out.extend_from_slice(format_g(n, precision as usize).as_bytes());
    }
    Ok(())
}

/// A string with lua-cjson's escapes (control characters, `"`, `\`, `/`, DEL).
fn append_string(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}
