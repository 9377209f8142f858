//! `cjson`: lua-cjson 2.1.0 with the settings Redis 7.0 ships (sparse arrays
//! refused past ratio 2 / safe 10, nesting limits 1000, numbers as `%.14g`,
//! NaN/Inf refused when encoding and accepted when decoding, `cjson.null`).
//!
//! Encoding and decoding walk explicit stacks, not the Rust call stack, so a
//! script that raises the depth limits cannot overflow the server thread; the
//! deepest nesting is still bounded the way the C library's
//! `lua_checkstack` bounds it (8000 stack slots).

use std::sync::{Arc, Mutex};

use mlua::{Function, Lua, LuaString, MultiValue, Table, Value};

use super::{arg_error, c_int, check_bytes, check_integer, error, type_name, MAX_C_STACK};
use crate::protocol::reply::format_g;

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
            let mut parser = Parser { lua, data: &text, pos: 0, cfg: &conf };
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

// ===== encoding =====

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
}

/// The JSON text for `v`, or the error message lua-cjson raises.
fn encode(lua: &Lua, next: &Function, cfg: &Config, v: &Value) -> mlua::Result<Result<Vec<u8>, String>> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let walk = Walk { next: next.clone(), scratch: lua.create_table()? };
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
    if n.is_infinite() {
        out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" });
    } else {
        out.extend_from_slice(format_g(n, cfg.encode_number_precision.clamp(1, 14) as usize).as_bytes());
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

// ===== decoding =====

/// A token of the JSON text.
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A lexical error, with lua-cjson's description.
    Error(&'static str),
}

impl Tok {
    /// What an error message says was found.
    fn found(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

/// A token and where it starts (0-based).
struct Token {
    tok: Tok,
    index: usize,
}

/// A container being filled while decoding: an array's next index, or an
/// object. The tables (at `2d-1` for depth `d`) and the object keys (at `2d`)
/// wait in a Lua scratch table, as in the encoder.
enum Open {
    Array { next: i64 },
    Object,
}

/// The decoder over one JSON text (read like a C string: a NUL ends it).
struct Parser<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    cfg: &'a Config,
}

/// A parse error message (the outer `Result` carries Lua errors such as memory).
type Parsed<T> = mlua::Result<Result<T, String>>;

fn parse_error(expected: &str, t: &Token) -> String {
    format!("Expected {expected} but found {} at character {}", t.tok.found(), t.index + 1)
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// Whether the text at the cursor starts with `word` (C `strncmp`).
    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter().enumerate().all(|(i, &c)| self.at(self.pos + i) == c)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return Token { tok, index };
        }
        if ch == 0 {
            return Token { tok: Tok::End, index };
        }
        let known = matches!(ch, b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9');
        if !known {
            return Token { tok: Tok::Error("invalid token"), index };
        }
        if ch == b'"' {
            return self.string_token();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return Token { tok: Tok::Error("invalid number"), index };
            }
            return self.number_token();
        }
        if self.starts_with(b"true") {
            self.pos += 4;
            return Token { tok: Tok::Bool(true), index };
        }
        if self.starts_with(b"false") {
            self.pos += 5;
            return Token { tok: Tok::Bool(false), index };
        }
        if self.starts_with(b"null") {
            self.pos += 4;
            return Token { tok: Tok::Null, index };
        }
        if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            return self.number_token();
        }
        Token { tok: Tok::Error("invalid token"), index }
    }

    /// `json_is_invalid_number`: `+`, hex, leading zeros, inf and nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| w.iter().enumerate().all(|(i, &x)| self.at(p + i).to_ascii_lowercase() == x);
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.pos;
        match strtod(self.data, self.pos) {
            Some((n, end)) => {
                self.pos = end;
                Token { tok: Tok::Num(n), index }
            }
            None => Token { tok: Tok::Error("invalid number"), index },
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return Token { tok: Tok::Error("unexpected end of string"), index: self.pos };
            }
            if ch == b'\\' {
                let esc = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut s) {
                            continue;
                        }
                        return Token { tok: Tok::Error("invalid unicode escape code"), index: self.pos };
                    }
                    _ => return Token { tok: Tok::Error("invalid escape code"), index: self.pos },
                };
                s.push(esc);
                self.pos += 2;
                continue;
            }
            s.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Token { tok: Tok::Str(s), index: start }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let c = self.at(at + i);
            let d = match c {
                b'0'..=b'9' => c - b'0',
                _ => match c | 0x20 {
                    l @ b'a'..=b'f' => 10 + l - b'a',
                    _ => return None,
                },
            };
            v = (v << 4) | d as u32;
        }
        Some(v)
    }

    /// `\uXXXX` (and a surrogate pair) at the cursor, appended as UTF-8.
    fn unicode_escape(&mut self, s: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else { return false };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        // Every code point here is valid (surrogates were paired above).
        match char::from_u32(cp) {
            Some(c) => s.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
            None => return false,
        }
        self.pos += len;
        true
    }

    /// `json_decode_descend`: one level deeper, within the depth and stack limits.
    fn descend(&self, depth: &mut usize, slots: usize, need: usize) -> Result<(), String> {
        *depth += 1;
        if *depth <= self.cfg.decode_max_depth as usize && slots + need <= MAX_C_STACK {
            return Ok(());
        }
        Err(format!("Found too many nested data structures ({depth}) at character {}", self.pos))
    }

    /// Reads `"key" :` after an object's `{` or `,` (`t` is the key's token).
    fn object_key(&mut self, t: Token) -> Parsed<LuaString> {
        let Tok::Str(k) = &t.tok else { return Ok(Err(parse_error("object key string", &t))) };
        let key = self.lua.create_string(k)?;
        let colon = self.next_token();
        if !matches!(colon.tok, Tok::Colon) {
            return Ok(Err(parse_error("colon", &colon)));
        }
        Ok(Ok(key))
    }

    fn decode(&mut self) -> Parsed<Value> {
        let lua = self.lua;
        let scratch = lua.create_table()?;
        let mut stack: Vec<Open> = Vec::new();
        let mut depth = 0usize;
        // Lua stack slots in use, as the C decoder counts them (the argument first).
        let mut slots = 1usize;
        let mut pending: Option<Token> = None;
        loop {
            let t = match pending.take() {
                Some(t) => t,
                None => self.next_token(),
            };
            let mut value = match t.tok {
                Tok::Str(s) => Value::String(lua.create_string(&s)?),
                Tok::Num(n) => Value::Number(n),
                Tok::Bool(b) => Value::Boolean(b),
                Tok::Null => Value::NULL,
                Tok::ObjBegin | Tok::ArrBegin => {
                    let object = matches!(t.tok, Tok::ObjBegin);
                    if let Err(e) = self.descend(&mut depth, slots, if object { 3 } else { 2 }) {
                        return Ok(Err(e));
                    }
                    let table = lua.create_table()?;
                    let first = self.next_token();
                    if matches!((&first.tok, object), (Tok::ObjEnd, true) | (Tok::ArrEnd, false)) {
                        depth -= 1;
                        Value::Table(table)
                    } else if object {
                        let key = match self.object_key(first)? {
                            Ok(k) => k,
                            Err(e) => return Ok(Err(e)),
                        };
                        let d = stack.len() + 1;
                        scratch.raw_set(2 * d - 1, table)?;
                        scratch.raw_set(2 * d, key)?;
                        slots += 2;
                        stack.push(Open::Object);
                        continue;
                    } else {
                        let d = stack.len() + 1;
                        scratch.raw_set(2 * d - 1, table)?;
                        slots += 1;
                        stack.push(Open::Array { next: 1 });
                        pending = Some(first);
                        continue;
                    }
                }
                _ => return Ok(Err(parse_error("value", &t))),
            };
            // Store the finished value in its container; close containers that end here.
            loop {
                let d = stack.len();
                let Some(open) = stack.last_mut() else {
                    let end = self.next_token();
                    if !matches!(end.tok, Tok::End) {
                        return Ok(Err(parse_error("the end", &end)));
                    }
                    return Ok(Ok(value));
                };
                let table: Table = scratch.raw_get(2 * d - 1)?;
                match open {
                    Open::Array { next } => {
                        table.raw_set(*next, value)?;
                        *next += 1;
                        let t = self.next_token();
                        match t.tok {
                            Tok::ArrEnd => {}
                            Tok::Comma => break,
                            _ => return Ok(Err(parse_error("comma or array end", &t))),
                        }
                        slots -= 1;
                    }
                    Open::Object => {
                        let key: Value = scratch.raw_get(2 * d)?;
                        table.raw_set(key, value)?;
                        let t = self.next_token();
                        match t.tok {
                            Tok::ObjEnd => {}
                            Tok::Comma => {
                                let kt = self.next_token();
                                match self.object_key(kt)? {
                                    Ok(k) => scratch.raw_set(2 * d, k)?,
                                    Err(e) => return Ok(Err(e)),
                                }
                                break;
                            }
                            _ => return Ok(Err(parse_error("comma or object end", &t))),
                        }
                        scratch.raw_set(2 * d, Value::Nil)?;
                        slots -= 2;
                    }
                }
                stack.pop();
                scratch.raw_set(2 * d - 1, Value::Nil)?;
                depth -= 1;
                value = Value::Table(table);
            }
        }
    }
}

/// glibc `strtod` at `start`: the longest number it reads there (decimal,
/// hexadecimal, `inf`/`infinity`, `nan`/`nan(...)`) and where it stops.
fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = start;
    let neg = match at(p) {
        b'-' => {
            p += 1;
            true
        }
        b'+' => {
            p += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let word = |p: usize, w: &[u8]| w.iter().enumerate().all(|(i, &x)| at(p + i).to_ascii_lowercase() == x);
    if word(p, b"inf") {
        let end = if word(p, b"infinity") { p + 8 } else { p + 3 };
        return Some((sign * f64::INFINITY, end));
    }
    if word(p, b"nan") {
        let mut end = p + 3;
        if at(end) == b'(' {
            let mut q = end + 1;
            while at(q).is_ascii_alphanumeric() || at(q) == b'_' {
                q += 1;
            }
            if at(q) == b')' {
                end = q + 1;
            }
        }
        let nan = if neg { -f64::NAN } else { f64::NAN };
        return Some((nan, end));
    }
    if at(p) == b'0' && (at(p + 1) | 0x20) == b'x' {
        let q = p + 2;
        let hex_digit = |c: u8| c.is_ascii_hexdigit();
        if hex_digit(at(q)) || (at(q) == b'.' && hex_digit(at(q + 1))) {
            return Some(hex_float(s, q, sign));
        }
        // "0x" without digits: strtod reads the 0.
        return Some((sign * 0.0, p + 1));
    }
    let mut q = p;
    let int_start = q;
    while at(q).is_ascii_digit() {
        q += 1;
    }
    let int_digits = &s[int_start..q.min(s.len())];
    let mut frac_digits: &[u8] = &[];
    if at(q) == b'.' {
        let f = q + 1;
        let mut e = f;
        while at(e).is_ascii_digit() {
            e += 1;
        }
        if int_digits.is_empty() && e == f {
            return None;
        }
        frac_digits = &s[f..e.min(s.len())];
        q = e;
    } else if int_digits.is_empty() {
        return None;
    }
    let mut text = String::with_capacity(q - start + 8);
    if neg {
        text.push('-');
    }
    text.push_str(if int_digits.is_empty() { "0" } else { std::str::from_utf8(int_digits).unwrap_or("0") });
    if !frac_digits.is_empty() {
        text.push('.');
        text.push_str(std::str::from_utf8(frac_digits).unwrap_or("0"));
    }
    if at(q) | 0x20 == b'e' {
        let mut e = q + 1;
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        let digits = e;
        while at(e).is_ascii_digit() {
            e += 1;
        }
        if e > digits {
            text.push('e');
            text.push_str(std::str::from_utf8(&s[q + 1..e]).unwrap_or("0"));
            q = e;
        }
    }
    text.parse::<f64>().ok().map(|v| (v, q))
}

/// The hexadecimal float after `0x` at `q` (digits, an optional fraction, `p` exponent).
fn hex_float(s: &[u8], mut q: usize, sign: f64) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut seen_point = false;
    loop {
        let c = at(q);
        if c == b'.' && !seen_point {
            seen_point = true;
            q += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else { break };
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | d as u64;
            if seen_point {
                exp -= 4;
            }
        } else if !seen_point {
            // Digits past 64 bits only scale the value.
            exp += 4;
        }
        q += 1;
    }
    if at(q) | 0x20 == b'p' {
        let mut e = q + 1;
        let neg = at(e) == b'-';
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        let digits = e;
        let mut v: i64 = 0;
        while at(e).is_ascii_digit() {
            v = (v * 10 + (at(e) - b'0') as i64).min(1 << 20);
            e += 1;
        }
        if e > digits {
            exp += if neg { -v } else { v };
            q = e;
        }
    }
    let value = mantissa as f64 * 2f64.powi(exp.clamp(-1100, 1100) as i32);
    (sign * value, q)
}
