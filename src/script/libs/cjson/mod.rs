//! `cjson`: lua-cjson 2.1.0 with the settings Redis 7.0 ships (sparse arrays
//! refused past ratio 2 / safe 10, nesting limits 1000, numbers as `%.14g`,
//! NaN/Inf refused when encoding and accepted when decoding, `cjson.null`).
//!
//! Encoding and decoding walk explicit stacks, not the Rust call stack, so a
//! script that raises the depth limits cannot overflow the server thread; the
//! deepest nesting is still bounded the way the C library's
//! `lua_checkstack` bounds it (8000 stack slots).

use std::sync::{Arc, Mutex};

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{arg_error, check_bytes, check_integer, error};

mod decode;
mod encode;

use decode::Parser;
use encode::encode;

/// One cjson instance's settings (`cjson.new()` makes another).
#[derive(Debug, Clone)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse, 1 encode as `nan`/`inf`, 2 encode as `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn settings(cfg: &Shared) -> std::sync::MutexGuard<'_, Config> {
    cfg.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh `cjson` table with its own settings.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    // The base library's `next`, to walk objects one key at a time.
    let next: Function = lua.globals().raw_get("next")?;
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let conf = settings(&c).clone();
            match encode(lua, &next, &conf, &args[0])? {
                Ok(out) => lua.create_string(&out),
                Err(msg) => Err(error(lua, msg)),
            }
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let text = check_bytes(lua, &args, 1)?;
            if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
                return Err(error(lua, "JSON parser does not support UTF-16 or UTF-32"));
            }
            let conf = settings(&c).clone();
            let mut parser = Parser::new(lua, &text, &conf);
            match parser.decode() {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(msg)) => Err(error(lua, msg)),
                Err(e) => Err(e),
            }
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let args = arg_init(lua, args, 3)?;
            let mut s = settings(&c);
            let convert = enum_option(lua, &args, 1, &mut s.sparse_convert, &["off", "on"], 1)?;
            let ratio = integer_option(lua, &args, 2, &mut s.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, &args, 3, &mut s.sparse_safe, 0, i32::MAX)?;
            Ok((convert, ratio, safe))
        })?,
    )?;
    type Pick = fn(&mut Config) -> &mut i32;
    let integers: [(&str, Pick, i32, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1, i32::MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1, i32::MAX),
        ("encode_number_precision", |c| &mut c.encode_number_precision, 1, 14),
    ];
    for (name, pick, min, max) in integers {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let args = arg_init(lua, args, 1)?;
                let mut s = settings(&c);
                integer_option(lua, &args, 1, pick(&mut s), min, max)
            })?,
        )?;
    }
    let enums: [(&str, Pick, &'static [&'static str]); 3] = [
        ("encode_keep_buffer", |c| &mut c.encode_keep_buffer, &["off", "on"]),
        ("encode_invalid_numbers", |c| &mut c.encode_invalid_numbers, &["off", "on", "null"]),
        ("decode_invalid_numbers", |c| &mut c.decode_invalid_numbers, &["off", "on"]),
    ];
    for (name, pick, options) in enums {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let args = arg_init(lua, args, 1)?;
                let mut s = settings(&c);
                enum_option(lua, &args, 1, pick(&mut s), options, 1)
            })?,
        )?;
    }
    t.raw_set("new", lua.create_function(|lua, _: MultiValue| module(lua))?)?;
    t.raw_set("null", Value::NULL)?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `json_arg_init`: at most `n` arguments, the missing ones nil.
fn arg_init(lua: &Lua, args: MultiValue, n: usize) -> mlua::Result<Vec<Value>> {
    if args.len() > n {
        return Err(arg_error(lua, n as i64 + 1, "found too many arguments"));
    }
    let mut v: Vec<Value> = args.into_iter().collect();
    v.resize(n, Value::Nil);
    Ok(v)
}

/// `json_integer_option` (its range error always names argument 1, as the C code does).
fn integer_option(lua: &Lua, args: &[Value], idx: usize, setting: &mut i32, min: i32, max: i32) -> mlua::Result<i32> {
    if !args[idx - 1].is_nil() {
        let all = MultiValue::from_iter(args.iter().cloned());
        let value = check_integer(lua, &all, idx)? as i32;
        if !(min..=max).contains(&value) {
            return Err(arg_error(lua, 1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(*setting)
}

/// `json_enum_option`: a boolean or one of `options`; answers a boolean for
/// off/on and the option's name otherwise.
fn enum_option(
    lua: &Lua,
    args: &[Value],
    idx: usize,
    setting: &mut i32,
    options: &[&str],
    bool_true: i32,
) -> mlua::Result<Value> {
    let v = &args[idx - 1];
    if !v.is_nil() {
        if let Value::Boolean(b) = v {
            *setting = *b as i32 * bool_true;
        } else {
            let all = MultiValue::from_iter(args.iter().cloned());
            let name = check_bytes(lua, &all, idx)?;
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(i) => *setting = i as i32,
                None => {
                    let shown = String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap_or(&[])).into_owned();
                    return Err(arg_error(lua, idx as i64, format!("invalid option '{shown}'")));
                }
            }
        }
    }
    if *setting == 0 || *setting == bool_true {
        Ok(Value::Boolean(*setting != 0))
    } else {
        Ok(Value::String(lua.create_string(options[*setting as usize])?))
    }
}
